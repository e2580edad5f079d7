"""How the fleet views (dashboard, REST API, /metrics) classify a disk. Pure.

One disk has one *state* for people (the colour of its cell on the dashboard) and one
*power state* (what the monitor last knew without waking it). Both come from what the
store already holds: open alerts, the last check of the monitor, and the age of the
last good reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from maid_smart_monitor.storage.base import DiskStatus, parse_utc

# Worst first: the order the dashboard sorts by and the precedence of the state.
STATES: tuple[str, ...] = ("critical", "warning", "error", "stale", "standby", "healthy")
STATE_RANK = {s: i for i, s in enumerate(STATES)}

STATE_DOC = {
    "critical": "at least one open critical alert",
    "warning": "at least one open warning alert",
    "error": "the monitor's last check of this disk failed (smartctl error, no identity)",
    "stale": "the last good reading is older than the staleness limit",
    "standby": "spun down at the last check, so it was not read (and not woken)",
    "healthy": "no open alert, last check fine, reading fresh",
}

POWER_STATES: tuple[str, ...] = ("active", "idle", "standby", "suspended", "unknown")

# CheckResult values (model.CheckResult) -> what they tell about the disk's power.
_POWER_BY_CHECK = {
    "read": "active",  # it answered a SMART read
    "woken": "active",  # woken on purpose (max_staleness): spinning now
    "skipped-standby": "standby",  # smartctl -n standby said so
    "skipped-idle": "idle",  # no host I/O; not asked, so possibly spun down since
    "skipped-suspended": "suspended",  # Linux runtime PM
}


def power_state(last_check: str | None) -> str:
    """active / idle / standby / suspended / unknown, from the last check's result.

    ``idle`` means "not used by the host since the last look, and not asked": asking
    would restart its standby timer, so the monitor does not know whether it spun down.
    """
    return _POWER_BY_CHECK.get(last_check or "", "unknown")


def disk_state(status: DiskStatus, reading_age: float | None, stale_after: float) -> str:
    """The one state a person sees, by precedence: a health problem beats a monitoring
    problem (error, stale), which beats a fact about power (standby)."""
    if status.open_critical:
        return "critical"
    if status.open_warning:
        return "warning"
    if status.last_check == "error":
        return "error"
    if reading_age is None or reading_age > stale_after:
        return "stale"
    if status.last_check == "skipped-standby":
        return "standby"
    return "healthy"


def stale_limit(max_staleness: float | None, interval: float) -> float:
    """Seconds after which a reading counts as stale: ``max_staleness`` when set, else
    a week or three intervals, whichever is longer (as ``--summary`` does)."""
    return max_staleness or max(7 * 86400.0, 3 * interval)


def age_seconds(when: str | None, now: float) -> float | None:
    if not when:
        return None
    return max(0.0, now - parse_utc(when).timestamp())


def iso(when: str | None) -> str | None:
    """Store text ``YYYY-MM-DD HH:MM:SS`` (UTC) as ISO 8601 ``YYYY-MM-DDTHH:MM:SSZ``."""
    return None if when is None else when.replace(" ", "T") + "Z"


def human_age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    s = int(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h"
    return f"{s // 86400} d"


@dataclass(frozen=True)
class DiskView:
    """A disk as every fleet view shows it: the stored status plus derived facts."""

    status: DiskStatus
    state: str
    power_state: str
    reading_age: float | None

    @property
    def disk_id(self) -> str:
        return self.status.disk_id

    def as_dict(self) -> dict[str, Any]:
        st = self.status
        return {
            "disk_id": st.disk_id,
            "device": st.device,
            "dev_type": st.dev_type,
            "model": st.model,
            "serial": st.serial,
            "wwn": st.wwn,
            "firmware": st.firmware,
            "protocol": st.protocol,
            "capacity_bytes": st.capacity_bytes,
            "rotation_rate": st.rotation_rate,
            "state": self.state,
            "power_state": self.power_state,
            "smart_passed": st.smart_passed,
            "temperature": st.temperature,
            "power_on_hours": st.power_on_hours,
            "power_cycle_count": st.power_cycle_count,
            "first_seen": iso(st.first_seen),
            "last_read": iso(st.last_read),
            "reading_age_seconds": (
                None if self.reading_age is None else round(self.reading_age, 1)
            ),
            "last_check": (
                None
                if st.last_check is None
                else {
                    "result": st.last_check,
                    "at": iso(st.last_check_at),
                    "reason": st.last_check_reason,
                }
            ),
            "open_alerts": {"warning": st.open_warning, "critical": st.open_critical},
            "deliberate_wakes": st.deliberate_wakes,
        }


def view(status: DiskStatus, now: float, stale_after: float) -> DiskView:
    age = age_seconds(status.last_read, now)
    return DiskView(status, disk_state(status, age, stale_after), power_state(status.last_check),
                    age)


def views(statuses: list[DiskStatus], now: float, stale_after: float) -> list[DiskView]:
    return [view(s, now, stale_after) for s in statuses]


def count_states(items: list[DiskView]) -> dict[str, int]:
    out = dict.fromkeys(STATES, 0)
    for v in items:
        out[v.state] += 1
    return out


def count_power(items: list[DiskView]) -> dict[str, int]:
    out = dict.fromkeys(POWER_STATES, 0)
    for v in items:
        out[v.power_state] += 1
    return out


def utc_now_text(now: float) -> str:
    return datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
