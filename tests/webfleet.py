"""A known fleet for the web, API, metrics and browser tests, written like the daemon does.

Every disk is a recorded real smartctl output (tests/fixtures/smartctl) parsed with
``parse_output`` and stored with ``SQLiteStore.save_reading``; health findings come from
``health.evaluate`` and move alerts through ``alerts.handle_reading``; the monitor's
checks are stored with ``record_cycle``. Only the identities are made unique (several
recordings were redacted to the same WWN) and temperatures vary over time so that
charts have a shape. The expected state of each disk is part of the spec.
"""

from __future__ import annotations

import json
import math
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from conftest import record_from
from maid_smart_monitor import alerts, health
from maid_smart_monitor.model import CheckOutcome, CheckResult, DiskMemory, DiskRef, SmartRecord
from maid_smart_monitor.storage.base import utc_text
from maid_smart_monitor.storage.sqlite import SQLiteStore
from maid_smart_monitor.web import BackgroundServer
from maid_smart_monitor.web.app import App

NOW = datetime(2026, 1, 15, 12, 0, 0, tzinfo=timezone.utc).timestamp()
HOUR, DAY = 3600.0, 86400.0


@dataclass(frozen=True)
class Spec:
    name: str
    fixture: str
    path: str
    dev_type: str
    wwn: str
    state: str  # expected dashboard state
    power: str  # expected power state
    last_check: CheckResult
    last_read_ago: float  # seconds before NOW
    days: int  # days of history (one reading every 6 h) ending at the last read
    base_temp: int
    hot_spell: bool = False  # a few readings at 55 °C ten days ago: opens, then resolves

    @property
    def disk_id(self) -> str:
        return "wwn-" + self.wwn


FLEET: tuple[Spec, ...] = (
    Spec("healthy-ata", "ata/smartctl_exporter__WDC_WD20EFRX-68EUZN0_17.json", "/dev/sda",
         "sat", "0x50014ee000000001", "healthy", "active", CheckResult.READ, 600, 30, 34,
         hot_spell=True),
    Spec("failing", "sat-usb/plasma-disks__broken.json", "/dev/sdb", "sat",
         "0x5000cca000000002", "critical", "active", CheckResult.READ, 900, 7, 25),
    Spec("sectors", "ata/plasma-disks__failing-sectors-passing-status.json", "/dev/sdc", "sat",
         "0x5000c50000000003", "warning", "idle", CheckResult.IDLE, 3 * HOUR, 14, 37),
    Spec("sleeper", "ata/smartctl_exporter__HGST_HUS724020ALE640_28.json", "/dev/sdd", "sat",
         "0x5000cca000000004", "standby", "standby", CheckResult.STANDBY, 2 * DAY, 20, 26),
    Spec("forgotten", "ata/smartctl_exporter__Hitachi_HUA722020ALA330_29.json", "/dev/sde",
         "sat", "0x5000cca000000005", "stale", "standby", CheckResult.STANDBY, 30 * DAY, 10, 28),
    Spec("broken-path", "nvme/smartctl_exporter__INTEL_SSDPE2KX080T8_1.json", "/dev/nvme0",
         "nvme", "0x5cd2e40000000006", "error", "unknown", CheckResult.ERROR, HOUR, 5, 29),
    Spec("nvme-ok", "nvme/smartctl_exporter__SAMSUNG_MZQLB1T9HAJR-00007_19.json", "/dev/nvme1",
         "nvme", "0x002538b000000007", "healthy", "active", CheckResult.READ, 300, 5, 40),
    Spec("sas-ok", "scsi/smartctl_exporter__HITACHI_H109060SESUN600G_10.json", "/dev/sdf",
         "scsi", "0x5000cca000000008", "healthy", "active", CheckResult.READ, 1200, 5, 26),
)
BY_NAME = {s.name: s for s in FLEET}
UNIDENTIFIED = DiskRef("/dev/sdz", "sat")  # checked, never read with a serial: an error
WAKES = {"forgotten": 2}


def spec_record(spec: Spec) -> SmartRecord:
    record = record_from(spec.fixture, spec.path, spec.dev_type)
    assert record.ok and record.identity is not None, spec.fixture
    ident = replace(record.identity, wwn=spec.wwn, serial=f"SN-{spec.name}")
    return replace(record, identity=ident)


def _temperature(spec: Spec, i: int, t: float) -> int:
    if spec.hot_spell and NOW - 10.5 * DAY <= t <= NOW - 10 * DAY:
        return 55
    return spec.base_temp + round(3 * math.sin(i / 4))


def build_fleet(db_path: str) -> dict[str, int]:
    """Write the fleet; returns counts of what was written (readings, alerts, ...)."""
    store = SQLiteStore(db_path)
    readings = 0
    try:
        for spec in FLEET:
            base = spec_record(spec)
            last = NOW - spec.last_read_ago
            times = [last - k * 6 * HOUR for k in range(spec.days * 4)][::-1]
            previous: SmartRecord | None = None
            for i, t in enumerate(times):
                record = replace(base, temperature=_temperature(spec, i, t))
                findings = health.evaluate(record, previous)
                store.save_reading(record, spec.path, utc_text(t))
                alerts.handle_reading(store, record, findings, device=spec.path,
                                      now=datetime.fromtimestamp(t, timezone.utc))
                previous = record
                readings += 1
        # Two cycles: everything read ten minutes ago, then the checks the spec names.
        first = [CheckOutcome(DiskRef(s.path, s.dev_type), CheckResult.READ, "piggy-back",
                              disk_id=s.disk_id) for s in FLEET]
        store.record_cycle(first, utc_text(NOW - 660), utc_text(NOW - 600), 60.0)
        second = [
            CheckOutcome(DiskRef(s.path, s.dev_type), s.last_check, f"spec: {s.last_check.value}",
                         disk_id=s.disk_id, last_read_age=s.last_read_ago)
            for s in FLEET
        ]
        second.append(CheckOutcome(UNIDENTIFIED, CheckResult.ERROR, "no serial or WWN"))
        store.record_cycle(second, utc_text(NOW - 72), utc_text(NOW - 60), 12.5)
        store.save_memory([
            DiskMemory(DiskRef(s.path, s.dev_type).key, disk_id=s.disk_id,
                       deliberate_wakes=WAKES.get(s.name, 0))
            for s in FLEET
        ])
        stats = store.stats()
    finally:
        store.close()
    return {"readings": readings, "alerts": stats["health_alerts"], "disks": stats["disks"]}


def open_alert_counts(db_path: str) -> dict[str, dict[str, int]]:
    """Open alerts per disk id and severity, straight from SQL (the tests' oracle)."""
    import sqlite3

    out: dict[str, dict[str, int]] = {}
    with sqlite3.connect(db_path) as conn:
        for disk_id, severity, n in conn.execute(
            "SELECT disk_id, severity, count(*) FROM health_alerts WHERE resolved = 0"
            " GROUP BY disk_id, severity"
        ):
            out.setdefault(disk_id, {})[severity] = n
    return out


# ---------------------------------------------------------------------- test plumbing

TOKEN = "test-token-4f1c"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """A response header, case-insensitively (waitress title-cases names)."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def request(
    base: str, path: str, *, method: str = "GET", body: Any = None,
    headers: dict[str, str] | None = None, raw: bytes | None = None,
) -> Reply:
    """One real HTTP request; 4xx/5xx come back as replies, not exceptions."""
    data = raw
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(base + path, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return Reply(resp.status, dict(resp.headers.items()), resp.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, dict(exc.headers.items()), exc.read())


@contextmanager
def running_server(db_path: str, **app_kw: Any) -> Iterator[BackgroundServer]:
    """The real waitress server on 127.0.0.1, port 0, over ``db_path``; clock at NOW."""
    app_kw.setdefault("clock", lambda: NOW)
    server = BackgroundServer(App(db_path, **app_kw), "127.0.0.1", 0)
    try:
        yield server
    finally:
        server.close()


def make_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Build the fleet once (tests copy it: some acknowledge alerts)."""
    path = str(tmp_path_factory.mktemp("fleet") / "fleet.db")
    build_fleet(path)
    return path


def copy_of(template: str, directory: Path) -> str:
    path = str(directory / "maid_smart_data.db")
    shutil.copyfile(template, path)
    return path
