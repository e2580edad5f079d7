"""Row <-> model conversions shared by the SQLite and PostgreSQL stores. Pure.

Both stores keep the same tables and columns, so turning a stored row back into a
model (and a model into the values of an INSERT) is the same code for both; only the
SQL dialect, the placeholders and the transaction handling differ, and stay in each
store. A row here is anything indexable by column name (``sqlite3.Row`` or the
``dict`` psycopg returns).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, fields
from typing import Any

from maid_smart_monitor.model import (
    Alert,
    Attribute,
    CheckOutcome,
    CheckResult,
    DiskMemory,
    DiskRef,
    ExitStatus,
    Identity,
    IoCounters,
    NvmeHealth,
    Protocol,
    ReadState,
    ScsiHealth,
    Severity,
    SmartRecord,
)
from maid_smart_monitor.storage.base import DiskStatus

Row = Mapping[str, Any]

# ``state`` of list_alerts / count_alerts as a WHERE clause (no parameters).
ALERT_WHERE = {"open": "resolved = 0", "resolved": "resolved = 1", "all": "1 = 1"}


# ---------------------------------------------------------------------- small helpers


def enum_or(cls: Any, value: Any, default: Any) -> Any:
    """``cls(value)``, or ``default`` for a value this version does not know."""
    try:
        return cls(value)
    except ValueError:
        return default


def from_dict(cls: Any, data: dict[str, Any] | None) -> Any:
    """A dataclass from stored JSON, ignoring keys it no longer has."""
    if not data:
        return None
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def flag(value: bool | None) -> int | None:
    """A tri-state boolean as the 0/1/NULL integer both schemas store."""
    return None if value is None else int(value)


def unflag(value: int | None) -> bool | None:
    return None if value is None else bool(value)


# ---------------------------------------------------------------------- readings


def details_json(record: SmartRecord) -> str | None:
    """The ``readings.details`` JSON: NVMe/SCSI health logs and smartctl's messages."""
    details: dict[str, Any] = {}
    if record.nvme is not None:
        details["nvme"] = asdict(record.nvme)
    if record.scsi is not None:
        details["scsi"] = asdict(record.scsi)
    if record.messages:
        details["messages"] = list(record.messages)
    return json.dumps(details, separators=(",", ":")) if details else None


def identity_values(record: SmartRecord) -> tuple[Any, ...]:
    """The ``disks`` columns dev_type .. form_factor of a reading (identity known)."""
    ident = record.identity
    assert ident is not None
    return (
        record.device.dev_type, ident.model, ident.serial, ident.wwn, ident.firmware,
        ident.protocol.value, ident.capacity_bytes, ident.rotation_rate, ident.form_factor,
    )


def reading_values(
    record: SmartRecord, disk_id: str, device: str, now: str, details: str | None
) -> tuple[Any, ...]:
    """The ``readings`` columns disk_id .. details, in the schema's order."""
    return (
        disk_id, device, now, record.exit_status.code, flag(record.smart_passed),
        record.temperature, record.power_on_hours, record.power_cycle_count, details,
    )


def attribute_values(
    record: SmartRecord, device: str, now: str, reading_id: int | None
) -> list[tuple[Any, ...]]:
    """The ``smart_data`` rows (device .. reading_id) of a reading's ATA attributes."""
    return [
        (
            device, now, a.id, a.name, a.raw_value, a.value, a.worst, a.thresh,
            a.raw_string, a.when_failed or None, reading_id,
        )
        for a in record.attributes
    ]


def smart_record(r: Row, attrs: Iterable[Row], details: dict[str, Any]) -> SmartRecord:
    """A stored reading rebuilt: ``r`` is a ``readings`` row joined with its disk's
    identity columns, ``attrs`` its ``smart_data`` rows, ``details`` its parsed JSON."""
    return SmartRecord(
        device=DiskRef(r["device"], r["dev_type"] or ""),
        state=ReadState.OK,
        exit_status=ExitStatus(r["exit_status"]),
        messages=tuple(details.get("messages", ())),
        identity=Identity(
            model=r["model"], serial=r["serial"], wwn=r["wwn"], firmware=r["firmware"],
            capacity_bytes=r["capacity_bytes"], rotation_rate=r["rotation_rate"],
            protocol=enum_or(Protocol, r["protocol"], Protocol.UNKNOWN),
            form_factor=r["form_factor"],
        ),
        smart_passed=unflag(r["smart_passed"]),
        temperature=r["temperature"],
        power_on_hours=r["power_on_hours"],
        power_cycle_count=r["power_cycle_count"],
        attributes=tuple(
            Attribute(
                id=a["attribute_id"], name=a["attribute_name"], value=a["value"],
                worst=a["worst"], thresh=a["thresh"], raw_value=a["raw_value"],
                raw_packed=a["raw_value"], raw_string=a["raw_string"] or "",
                when_failed=a["when_failed"] or "",
            )
            for a in attrs
        ),
        nvme=from_dict(NvmeHealth, details.get("nvme")),
        scsi=from_dict(ScsiHealth, details.get("scsi")),
    )


# ---------------------------------------------------------------------- cycles


def outcome_counts(outcomes: Sequence[CheckOutcome]) -> dict[str, int]:
    """Checks per result of one cycle (the ``cycles.counts`` JSON)."""
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.result.value] = counts.get(o.result.value, 0) + 1
    return counts


def check_values(o: CheckOutcome) -> tuple[Any, ...]:
    """The ``checks`` columns device_key .. last_read_age of one outcome."""
    return (o.device.key, o.device.label, o.disk_id, o.result.value, o.reason, o.last_read_age)


# ---------------------------------------------------------------------- policy memory


def disk_memory(r: Row) -> DiskMemory:
    io = None
    if r["io_reads"] is not None:
        io = IoCounters(r["io_reads"], r["io_writes"] or 0)
    return DiskMemory(
        key=r["key"],
        disk_id=r["disk_id"],
        last_read=r["last_read"],
        last_attempt=r["last_attempt"],
        io_baseline=io,
        last_io_seen=r["last_io_seen"],
        power_check_supported=unflag(r["power_check_supported"]),
        consecutive_skips=r["consecutive_skips"],
        last_result=enum_or(CheckResult, r["last_result"], None),
        deliberate_wakes=r["deliberate_wakes"],
        last_look=r["last_look"],
        first_seen=r["first_seen"],
    )


def memory_values(m: DiskMemory) -> tuple[Any, ...]:
    """The ``disk_memory`` columns key .. first_seen, in the schema's order."""
    return (
        m.key, m.disk_id, m.last_read, m.last_attempt,
        m.io_baseline.reads if m.io_baseline else None,
        m.io_baseline.writes if m.io_baseline else None,
        m.last_io_seen, flag(m.power_check_supported),
        m.consecutive_skips, m.last_result.value if m.last_result else None,
        m.deliberate_wakes, m.last_look, m.first_seen,
    )


# ---------------------------------------------------------------------- alerts


def alert(r: Row) -> Alert:
    return Alert(
        id=r["id"],
        disk_id=r["disk_id"],
        device=r["device"],
        rule_id=r["alert_type"],
        severity=enum_or(Severity, r["severity"], Severity.WARNING),
        message=r["message"],
        value=r["value"],
        first_seen=r["timestamp"],
        last_seen=r["last_seen"],
        resolved=bool(r["resolved"]),
        resolved_at=r["resolved_at"],
        acknowledged=bool(r["acknowledged"]),
        ack_note=r["ack_note"],
        notify_count=r["notify_count"],
        last_notified=r["last_notified"],
    )


def alert_changes(
    *,
    severity: Severity | None,
    message: str | None,
    value: float | None,
    last_seen: str | None,
    notify_count: int | None,
    last_notified: str | None,
) -> dict[str, Any]:
    """``update_alert``'s arguments as {column: value}, the unset (None) ones left out.

    The column names come from this fixed dict, never from callers, so the stores may
    put them into their UPDATE statement as text.
    """
    changes: dict[str, Any] = {
        "severity": severity.value if severity else None,
        "message": message,
        "value": value,
        "last_seen": last_seen,
        "notify_count": notify_count,
        "last_notified": last_notified,
    }
    return {k: v for k, v in changes.items() if v is not None}


# ---------------------------------------------------------------------- fleet views


def open_alert_counts(rows: Iterable[Row]) -> dict[str, dict[str, int]]:
    """{disk_id: {severity: n}} from (disk_id, severity, n) rows."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r["disk_id"], {})[r["severity"]] = r["n"]
    return out


def newest_check_per_disk(check_rows: Iterable[Row]) -> dict[str, Row]:
    """The newest check of each disk among the latest check of each device key.

    A disk seen under two device keys (it moved from /dev/sdc to /dev/sdf, or two
    nodes see it) has a latest check under each; the one of the newest cycle is what
    the monitor last did with the disk.
    """
    out: dict[str, Row] = {}
    for r in check_rows:
        if r["disk_id"] is None:
            continue
        old = out.get(r["disk_id"])
        if old is None or r["cycle_id"] > old["cycle_id"]:
            out[r["disk_id"]] = r
    return out


def disk_statuses(
    disks: Iterable[Row],
    checks: Mapping[str, Row],
    alerts: Mapping[str, Mapping[str, int]],
    wakes: Mapping[str, int | None],
) -> list[DiskStatus]:
    """DiskStatus rows: ``disks`` rows (a disk's columns and its newest reading's
    last_read, smart_passed, temperature, power_on_hours, power_cycle_count), with each
    disk's newest check, open alerts by severity and deliberate wakes."""
    out = []
    for d in disks:
        c = checks.get(d["disk_id"])
        a = alerts.get(d["disk_id"], {})
        out.append(
            DiskStatus(
                disk_id=d["disk_id"], device=d["device"], dev_type=d["dev_type"],
                model=d["model"], serial=d["serial"], wwn=d["wwn"], firmware=d["firmware"],
                protocol=d["protocol"], capacity_bytes=d["capacity_bytes"],
                rotation_rate=d["rotation_rate"], first_seen=d["first_seen"],
                last_seen=d["last_seen"], last_read=d["last_read"],
                smart_passed=unflag(d["smart_passed"]),
                temperature=d["temperature"], power_on_hours=d["power_on_hours"],
                power_cycle_count=d["power_cycle_count"],
                last_check=c["result"] if c else None,
                last_check_at=c["finished"] if c else None,
                last_check_reason=c["reason"] if c else None,
                open_warning=a.get("warning", 0), open_critical=a.get("critical", 0),
                deliberate_wakes=int(wakes.get(d["disk_id"], 0) or 0),
            )
        )
    return out
