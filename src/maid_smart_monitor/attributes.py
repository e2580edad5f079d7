"""The ATA attributes the seed tracks, with the criticality from its table.

The seed says "23 critical SMART attributes" but lists 22; 10 Spin_Retry_Count,
a strong failure predictor (Backblaze: 55.6% AFR when above 0), is the missing one.
Every attribute a disk reports is parsed and stored; this table only says which
ones the summary and health rules care about and how much.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Criticality(str, Enum):
    CRITICAL = "critical"  # the seed's red mark
    WARNING = "warning"  # the seed's warning mark
    INFO = "info"  # the seed's information mark


@dataclass(frozen=True)
class TrackedAttribute:
    id: int
    name: str
    criticality: Criticality
    description: str


_C, _W, _I = Criticality.CRITICAL, Criticality.WARNING, Criticality.INFO

TRACKED: tuple[TrackedAttribute, ...] = (
    TrackedAttribute(1, "Raw_Read_Error_Rate", _W, "Rate of hardware read errors"),
    TrackedAttribute(3, "Spin_Up_Time", _I, "Time to spin up from standby"),
    TrackedAttribute(4, "Start_Stop_Count", _I, "Count of spindle start/stop cycles"),
    TrackedAttribute(5, "Reallocated_Sector_Ct", _C, "Count of reallocated sectors"),
    TrackedAttribute(7, "Seek_Error_Rate", _W, "Rate of seek errors"),
    TrackedAttribute(9, "Power_On_Hours", _I, "Total powered-on time"),
    TrackedAttribute(10, "Spin_Retry_Count", _C, "Spin-up retries (missing from the seed's list)"),
    TrackedAttribute(12, "Power_Cycle_Count", _I, "Count of power-on events"),
    TrackedAttribute(187, "Reported_Uncorrectable_Errors", _C, "Uncorrectable errors"),
    TrackedAttribute(188, "Command_Timeout", _W, "Command timeout count"),
    TrackedAttribute(190, "Airflow_Temperature_Cel", _W, "Drive temperature (airflow)"),
    TrackedAttribute(191, "G_Sense_Error_Rate", _W, "Mechanical shock errors"),
    TrackedAttribute(192, "Power_Off_Retract_Count", _I, "Emergency head retracts"),
    TrackedAttribute(193, "Load_Cycle_Count", _I, "Head load/unload cycles"),
    TrackedAttribute(194, "Temperature_Celsius", _W, "Drive temperature"),
    TrackedAttribute(196, "Reallocation_Event_Count", _C, "Reallocation events"),
    TrackedAttribute(197, "Current_Pending_Sector", _C, "Sectors awaiting reallocation"),
    TrackedAttribute(198, "Offline_Uncorrectable", _C, "Offline uncorrectable sectors"),
    TrackedAttribute(199, "UDMA_CRC_Error_Count", _W, "Interface CRC errors"),
    TrackedAttribute(222, "Loaded_Hours", _I, "Time with heads loaded"),
    TrackedAttribute(240, "Head_Flying_Hours", _I, "Head positioning time"),
    TrackedAttribute(241, "Total_LBAs_Written", _I, "Lifetime data written"),
    TrackedAttribute(242, "Total_LBAs_Read", _I, "Lifetime data read"),
)

BY_ID: dict[int, TrackedAttribute] = {a.id: a for a in TRACKED}
CRITICAL_IDS: frozenset[int] = frozenset(a.id for a in TRACKED if a.criticality is _C)
TEMPERATURE_IDS: frozenset[int] = frozenset({190, 194})
# Attributes whose human number is the first integer of raw.string, not raw.value.
FIRST_INTEGER_OF_STRING: frozenset[int] = frozenset({9, 190, 194})
