"""What every store offers, the errors it raises, and the shapes it returns.

The daemon, CLI, web and metrics code talk to this Protocol only, so SQLite (the
embedded default) and a fleet database can be swapped without touching them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from maid_smart_monitor.model import (
    Alert,
    CheckOutcome,
    DiskMemory,
    Finding,
    Severity,
    SmartRecord,
)

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def utc_text(when: datetime | float | None = None) -> str:
    """UTC as the seed's ``YYYY-MM-DD HH:MM:SS`` text (what ``datetime('now')`` compares with)."""
    if when is None:
        when = datetime.now(timezone.utc)
    elif isinstance(when, (int, float)):
        when = datetime.fromtimestamp(when, timezone.utc)
    elif when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    return when.strftime(TIME_FORMAT)


def parse_utc(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=timezone.utc)


class StoreError(Exception):
    """Base class: something is wrong with the database, not with a disk."""


class DatabaseLocked(StoreError):
    """Another process held the database longer than the busy timeout."""


class DatabaseFull(StoreError):
    """The file system holding the database is full."""


class CorruptDatabase(StoreError):
    """The file is not a database we can use; it was moved aside (see ``moved_to``)."""

    def __init__(self, message: str, moved_to: str | None = None) -> None:
        super().__init__(message)
        self.moved_to = moved_to


class SchemaTooNew(StoreError):
    """The database was written by a newer version of the monitor."""


@dataclass(frozen=True)
class DiskStatus:
    """One disk as the fleet views (summary, web, metrics) see it: latest facts only."""

    disk_id: str
    device: str
    dev_type: str | None
    model: str | None
    serial: str | None
    wwn: str | None
    firmware: str | None
    protocol: str | None
    capacity_bytes: int | None
    rotation_rate: int | None
    first_seen: str
    last_seen: str
    last_read: str | None = None  # timestamp of the last good reading
    smart_passed: bool | None = None
    temperature: int | None = None
    power_on_hours: int | None = None
    power_cycle_count: int | None = None
    last_check: str | None = None  # CheckResult value of the latest cycle
    last_check_at: str | None = None
    last_check_reason: str | None = None
    open_warning: int = 0
    open_critical: int = 0
    deliberate_wakes: int = 0

    @property
    def open_alerts(self) -> int:
        return self.open_warning + self.open_critical


@dataclass
class Summary:
    """The seed's summary (total devices, devices with alerts) plus what MAID adds."""

    total_devices: int
    alerts_by_device: list[tuple[str, int]]
    last_checks: dict[str, int] = field(default_factory=dict)
    stale_devices: list[tuple[str, float]] = field(default_factory=list)  # (device, age s)
    last_cycle: str | None = None

    @property
    def devices_with_alerts(self) -> int:
        return len(self.alerts_by_device)


class AlertStore(Protocol):
    """The part of the store the alert lifecycle needs (``alerts.apply`` writes through it)."""

    def open_alerts(self, disk_id: str | None = None) -> list[Alert]: ...

    def insert_alert(self, disk_id: str, device: str, finding: Finding, now: str) -> int: ...

    def update_alert(
        self,
        alert_id: int,
        *,
        severity: Severity | None = None,
        message: str | None = None,
        value: float | None = None,
        last_seen: str | None = None,
        notify_count: int | None = None,
        last_notified: str | None = None,
    ) -> None: ...

    def resolve_alert(self, alert_id: int, now: str) -> None: ...

    def acknowledge_alert(self, alert_id: int, note: str, now: str) -> bool: ...

    def record_notification(
        self,
        alert_id: int | None,
        event: str,
        channel: str,
        ok: bool,
        error: str | None,
        attempts: int,
        now: str,
    ) -> None: ...

class Store(AlertStore, Protocol):
    """The storage contract. Timestamps in and out are UTC ``YYYY-MM-DD HH:MM:SS`` text."""

    def save_reading(self, record: SmartRecord, device: str, now: str) -> int | None: ...

    def last_record(self, disk_id: str) -> SmartRecord | None: ...

    def record_cycle(
        self, outcomes: Sequence[CheckOutcome], started: str, finished: str, duration: float
    ) -> int: ...

    def load_memory(self) -> dict[str, DiskMemory]: ...

    def save_memory(self, memories: Iterable[DiskMemory]) -> None: ...

    def list_alerts(
        self, *, state: str = "open", limit: int = 100, offset: int = 0,
        disk_id: str | None = None,
    ) -> list[Alert]: ...

    def latest(self) -> list[DiskStatus]: ...

    def summary(self, now: str | None = None, stale_after: float | None = None) -> Summary: ...

    def iter_export(self, since: str) -> Iterator[tuple]: ...

    def history(
        self, disk_id: str, metric: str, since: str, until: str | None = None
    ) -> list[tuple[str, float | None]]: ...

    def close(self) -> None: ...
