"""The pure parts of the web package, and the store's read-only views against the
store's own methods (same answers, cheaper queries)."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest
from openapi_spec_validator import validate as validate_spec

from maid_smart_monitor.model import CheckOutcome, CheckResult, DiskRef
from maid_smart_monitor.storage.base import DiskStatus, utc_text
from maid_smart_monitor.storage.sqlite import SQLiteStore
from maid_smart_monitor.web import WebError, parse_listen
from maid_smart_monitor.web.api import parse_time
from maid_smart_monitor.web.fleet import disk_state, power_state, stale_limit
from maid_smart_monitor.web.openapi import document
from maid_smart_monitor.web.pages import nice_ticks, svg_chart
from webfleet import BY_NAME, FLEET, WAKES, _temperature, build_fleet, open_alert_counts

BASE = DiskStatus(
    disk_id="wwn-0x1", device="/dev/sda", dev_type="sat", model="M", serial="S", wwn="0x1",
    firmware="F", protocol="ATA", capacity_bytes=1, rotation_rate=7200,
    first_seen="2026-01-01 00:00:00", last_seen="2026-01-01 00:00:00",
    last_read="2026-01-01 00:00:00", last_check="read",
)
WEEK = 7 * 86400.0


@pytest.mark.parametrize(
    ("changes", "age", "state"),
    [
        ({}, 60, "healthy"),
        ({"open_critical": 1, "open_warning": 3, "last_check": "error"}, 10 * WEEK, "critical"),
        ({"open_warning": 1, "last_check": "error"}, 60, "warning"),
        ({"open_warning": 1, "last_check": "skipped-standby"}, 10 * WEEK, "warning"),
        ({"last_check": "error"}, 10 * WEEK, "error"),
        ({"last_check": "skipped-standby"}, 10 * WEEK, "stale"),
        ({"last_check": "skipped-standby"}, 60, "standby"),
        ({"last_check": "skipped-idle"}, 60, "healthy"),
        ({"last_check": None}, 60, "healthy"),
        ({"last_read": None}, None, "stale"),
        ({}, WEEK + 1, "stale"),
        ({}, WEEK, "healthy"),
    ],
)
def test_disk_state_precedence(changes, age, state):
    assert disk_state(replace(BASE, **changes), age, WEEK) == state


@pytest.mark.parametrize(
    ("check", "power"),
    [("read", "active"), ("woken", "active"), ("skipped-standby", "standby"),
     ("skipped-idle", "idle"), ("skipped-suspended", "suspended"),
     ("skipped-unmounted", "unknown"), ("error", "unknown"), (None, "unknown")],
)
def test_power_state_from_the_last_check(check, power):
    assert power_state(check) == power


def test_stale_limit_follows_max_staleness_else_a_week_or_three_intervals():
    assert stale_limit(3600.0, 300.0) == 3600.0
    assert stale_limit(None, 300.0) == WEEK
    assert stale_limit(None, 4 * 86400.0) == 12 * 86400.0


NOW = 1768478400.0  # 2026-01-15T12:00:00Z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-15T12:00:00Z", NOW),
        ("2026-01-15T12:00:00", NOW),
        ("2026-01-15 12:00:00", NOW),
        ("2026-01-15T13:00:00+01:00", NOW),
        ("2026-01-15", NOW - 12 * 3600),
        ("1768478400", NOW),
        ("7d", NOW - WEEK),
        ("-12h", NOW - 12 * 3600),
        ("90m", NOW - 5400),
        ("1y", NOW - 365 * 86400),
        ("30s", NOW - 30),
    ],
)
def test_parse_time(text, expected):
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "7x", "2026-13-01", "", "12:00"])
def test_parse_time_rejects(text):
    with pytest.raises(ValueError):
        parse_time(text, NOW)


def test_nice_ticks():
    assert nice_ticks(0, 100) == [0, 50, 100]
    assert nice_ticks(21.3, 38.9) == [25, 30, 35]
    assert nice_ticks(0, 1) == [0, 0.5, 1]
    assert nice_ticks(5, 5) == [5]
    for lo, hi in ((0.1, 0.7), (-3, 12), (1000, 250000)):
        ts = nice_ticks(lo, hi)
        assert ts and all(lo <= t <= hi for t in ts)
        steps = {round(b - a, 9) for a, b in zip(ts, ts[1:], strict=False)}
        assert len(steps) <= 1


def _svg(text: str) -> ET.Element:
    return ET.fromstring(text)


def test_svg_chart_is_valid_svg_with_line_band_and_limits():
    ns = "{http://www.w3.org/2000/svg}"
    pts = [(NOW - 3600 * (10 - i), 30.0 + i, 29.0 + i, 32.0 + i, 3) for i in range(10)]
    root = _svg(svg_chart(pts, NOW - 36000, NOW, limits=[(50, "warn", "warning 50 °C")]))
    line = root.find(f"{ns}polyline")
    assert line is not None and len(line.get("points").split()) == 10
    assert root.find(f"{ns}polygon") is not None  # min-max band: buckets hold 3 readings
    limit = [e for e in root.iter(f"{ns}line") if "limit" in (e.get("class") or "")]
    assert len(limit) == 1
    xs = [float(p.split(",")[0]) for p in line.get("points").split()]
    assert xs == sorted(xs) and xs[0] >= 48 and xs[-1] <= 712
    single = _svg(svg_chart([(NOW, 40.0, 40.0, 40.0, 1)], NOW - 60, NOW))
    assert single.find(f"{ns}polygon") is None
    assert len(single.findall(f"{ns}circle")) == 1
    empty = _svg(svg_chart([], NOW - 60, NOW))
    assert "no readings" in "".join(empty.itertext())


def test_parse_listen():
    assert parse_listen("127.0.0.1:9540") == ("127.0.0.1", 9540)
    assert parse_listen("[::1]:0") == ("::1", 0)
    assert parse_listen(":8080") == ("127.0.0.1", 8080)
    for bad in ("localhost", "host:port", "1.2.3.4:70000"):
        with pytest.raises(WebError):
            parse_listen(bad)


def test_openapi_document_validates_offline():
    doc = document()
    validate_spec(doc)
    doc["paths"].clear()  # a fresh copy each time
    assert document()["paths"]


# ---------------------------------------------------------------------- store views


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("views") / "fleet.db")
    build_fleet(path)
    s = SQLiteStore(path, readonly=True)
    yield s
    s.close()


def test_latest_checks_is_the_newest_check_per_device_key(tmp_path):
    """Against a plain GROUP BY written here, with a third cycle that checked one disk only
    (so the newest cycle is not the same for every key)."""
    path = str(tmp_path / "fleet.db")
    build_fleet(path)
    spec = BY_NAME["failing"]
    dev = DiskRef(spec.path, spec.dev_type)
    store = SQLiteStore(path)
    try:
        store.record_cycle([CheckOutcome(dev, CheckResult.IDLE, "third", disk_id=spec.disk_id)],
                           utc_text(NOW - 30), utc_text(NOW - 20), 10.0)
        fast = {k: dict(v) for k, v in store.latest_checks().items()}
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        truth = {r["device_key"]: dict(r) for r in conn.execute(
            "SELECT c.*, cy.finished FROM checks c"
            " JOIN (SELECT device_key, max(cycle_id) AS newest FROM checks GROUP BY device_key) n"
            "  ON n.device_key = c.device_key AND n.newest = c.cycle_id"
            " JOIN cycles cy ON cy.id = c.cycle_id")}
    assert fast == truth and len(fast) == len(FLEET) + 1
    assert fast[dev.key]["result"] == CheckResult.IDLE.value and fast[dev.key]["reason"] == "third"
    assert {r["cycle_id"] for k, r in fast.items() if k != dev.key} == {2}


def test_fleet_status_is_the_fleet_spec(store):
    """Each disk's latest facts, against what webfleet wrote (its spec, not a store query)."""
    alerts = open_alert_counts(store.path)
    status = {s.disk_id: s for s in store.fleet_status()}
    assert set(status) == {spec.disk_id for spec in FLEET}
    for spec in FLEET:
        s = status[spec.disk_id]
        last = NOW - spec.last_read_ago
        index = spec.days * 4 - 1
        assert (s.device, s.dev_type, s.wwn) == (spec.path, spec.dev_type, spec.wwn)
        assert s.last_read == utc_text(last) and s.temperature == _temperature(spec, index, last)
        assert (s.last_check, s.last_check_reason) == (
            spec.last_check.value, f"spec: {spec.last_check.value}")
        assert s.deliberate_wakes == WAKES.get(spec.name, 0)
        counts = alerts.get(spec.disk_id, {})
        assert (s.open_warning, s.open_critical) == (
            counts.get("warning", 0), counts.get("critical", 0))
    assert status[BY_NAME["failing"].disk_id].open_critical > 0
    assert store.latest() == list(status.values())
    spec = BY_NAME["failing"]
    assert store.fleet_status(spec.disk_id) == [status[spec.disk_id]]
    assert store.fleet_status("wwn-0xnone") == []


@pytest.mark.parametrize("metric", ["temperature", "attr:197", "nvme.available_spare",
                                    "scsi.grown_defects", "power_on_hours"])
def test_history_buckets_of_one_second_are_the_history(store, metric):
    for spec in FLEET:
        truth = [(t, v) for t, v in store.history(spec.disk_id, metric, "2025-01-01 00:00:00")
                 if v is not None]
        got = store.history_buckets(spec.disk_id, metric, "2025-01-01 00:00:00",
                                    "9999-12-31 23:59:59", 1)
        assert [(t, v) for t, v, _, _, _ in got] == truth
        assert all(n == 1 and lo == v == hi for _, v, lo, hi, n in got)


def test_history_buckets_rejects_unknown_metrics(store):
    for metric in ("attr:", "nvme.nothing", "temperature; DROP TABLE disks", "attr:12345678"):
        with pytest.raises(ValueError):
            store.history_buckets("x", metric, "2025-01-01 00:00:00", "2026-01-01 00:00:00", 60)


def test_find_disks_by_device_or_id(store):
    spec = BY_NAME["sleeper"]
    assert store.find_disks(spec.path) == [spec.disk_id]
    assert store.find_disks(spec.disk_id) == [spec.disk_id]
    assert store.find_disks("/dev/nothing") == []
