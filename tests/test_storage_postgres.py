"""The PostgreSQL store on a real throwaway server, held to the SQLite store's behaviour.

Three layers: behaviour checks parametrized over both backends (each on a fresh SQLite
file or a fresh PostgreSQL database); equivalence (the same operations on both stores
return equal values, types included); PostgreSQL's own promises (migrations under
concurrent start, timestamptz, named lock errors, reconnect, several nodes on one
database). The PostgreSQL cases skip only when no server is installed and CI is unset.
"""

from __future__ import annotations

import dataclasses
import inspect
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import pg_server
from conftest import record_from
from maid_smart_monitor import alerts
from maid_smart_monitor.alerts import AlertStore, handle_reading
from maid_smart_monitor.health import evaluate
from maid_smart_monitor.model import (
    CheckOutcome,
    CheckResult,
    DiskMemory,
    DiskRef,
    IoCounters,
    ReadState,
    SmartRecord,
)
from maid_smart_monitor.risk import estimate
from maid_smart_monitor.storage import schema
from maid_smart_monitor.storage.base import DatabaseLocked, SchemaTooNew, StoreError, utc_text
from maid_smart_monitor.storage.factory import is_postgres, open_store
from maid_smart_monitor.storage.sqlite import SQLiteStore

ATA = "ata/smartctl_exporter__WDC_WD20EFRX-68EUZN0_17.json"
ATA2 = "ata/smartctl_exporter__ST3500418AS_11.json"
BAD = "ata/plasma-disks__failing-sectors-passing-status.json"
NVME = "nvme/beszel__nvme0.json"
SCSI = "scsi/telegraf-scsi_extended.json"


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def pg() -> Iterator[pg_server.PostgresServer]:
    yield from pg_server.serve()


@pytest.fixture
def pg_dsn(pg: pg_server.PostgresServer) -> str:
    return pg.create_database()


def _psycopg() -> Any:
    import psycopg

    return psycopg


class Backend:
    """A fresh database on one backend: opens stores on it and runs raw SQL on it the
    way a user's script would (sqlite3 / psycopg, ``?`` placeholders either way)."""

    def __init__(self, name: str, db: str) -> None:
        self.name = name
        self.db = db
        self.opened: list[Any] = []

    def open(self, **kw: Any) -> Any:
        kw.setdefault("busy_timeout", 5.0)
        store = open_store(self.db, **kw)
        self.opened.append(store)
        return store

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        if self.name == "sqlite":
            conn = sqlite3.connect(self.db)
            try:
                return conn.execute(query, params).fetchall()
            finally:
                conn.close()
        with _psycopg().connect(self.db, autocommit=True) as conn:
            return conn.execute(query.replace("?", "%s"), params).fetchall()

    def close(self) -> None:
        for s in self.opened:
            s.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path) -> Iterator[Backend]:
    if request.param == "sqlite":
        b = Backend("sqlite", str(tmp_path / "maid_smart_data.db"))
    else:
        b = Backend("postgres", request.getfixturevalue("pg_dsn"))
    yield b
    b.close()


# ------------------------------------------------------- behaviour, on both backends


def test_reading_roundtrip_keeps_every_attribute(backend: Backend):
    rec = record_from(ATA, "/dev/sda", "sat")
    store = backend.open()
    rid = store.save_reading(rec, "/dev/sda", "2026-12-01 10:00:00")
    assert isinstance(rid, int) and rid > 0
    back = store.last_record(rec.disk_id)
    assert back.identity == rec.identity
    assert [(a.id, a.name, a.raw_value, a.value, a.worst, a.thresh, a.raw_string)
            for a in back.attributes] == sorted(
        (a.id, a.name, a.raw_value, a.value, a.worst, a.thresh, a.raw_string)
        for a in rec.attributes)
    assert (back.temperature, back.power_on_hours, back.power_cycle_count) == (
        rec.temperature, rec.power_on_hours, rec.power_cycle_count)
    assert back.smart_passed is rec.smart_passed
    assert back.exit_status == rec.exit_status
    assert store.last_read_time(rec.disk_id) == "2026-12-01 10:00:00"


def test_human_raw_values_are_stored(backend: Backend):
    rec = record_from(ATA, "/dev/sda", "sat")
    backend.open().save_reading(rec, "/dev/sda", "2026-12-01 10:00:00")
    rows = dict(backend.sql("SELECT attribute_id, raw_value FROM smart_data"))
    assert rows[194] == int(rec.attribute(194).raw_string.split()[0])
    assert rows[9] == rec.attribute(9).raw_value


def test_nvme_and_scsi_details_roundtrip(backend: Backend):
    store = backend.open()
    for rel in (NVME, SCSI):
        rec = record_from(rel)
        store.save_reading(rec, rec.device.label, "2026-12-01 10:00:00")
        back = store.last_record(rec.disk_id)
        assert back.nvme == rec.nvme
        assert back.scsi == rec.scsi
        assert back.messages == rec.messages


def test_history_follows_the_disk_not_the_dev_name(backend: Backend):
    """A reboot moves the disk from /dev/sdc to /dev/sdf: its history moves with it."""
    rec = record_from(ATA, "/dev/sdc", "sat")
    other = record_from(ATA2, "/dev/sdf", "sat")
    store = backend.open()
    store.save_reading(other, "/dev/sdf", "2026-12-01 10:00:00")
    store.save_reading(rec, "/dev/sdc", "2026-12-01 10:00:00")
    store.save_reading(dataclasses.replace(rec, device=DiskRef("/dev/sdf", "sat")),
                       "/dev/sdf", "2026-12-02 10:00:00")
    hist = store.history(rec.disk_id, "attr:194", "2026-01-01 00:00:00")
    assert [t for t, _ in hist] == ["2026-12-01 10:00:00", "2026-12-02 10:00:00"]
    assert {s.disk_id: s.device for s in store.latest()}[rec.disk_id] == "/dev/sdf"
    assert store.find_disks("/dev/sdf")[0] == rec.disk_id  # newest holder of the name first
    devices = {r[0] for r in backend.sql(
        "SELECT DISTINCT s.device FROM smart_data s JOIN readings r ON r.id = s.reading_id"
        " WHERE r.disk_id = ?", (rec.disk_id,))}
    assert devices == {"/dev/sdf"}


@pytest.mark.parametrize("metric", ["attr:" + "9" * 20, "attr:99999", "attr:", "bogus",
                                    "nvme.nope", "temperature; DROP TABLE readings"])
def test_history_rejects_unknown_metrics_with_value_error(backend: Backend, metric: str):
    """history() and history_buckets() take the same metric names and refuse the same
    way: a 20-digit attribute id is a ValueError, not an OverflowError from the driver."""
    rec = record_from(ATA, "/dev/sda", "sat")
    store = backend.open()
    store.save_reading(rec, "/dev/sda", "2026-12-01 10:00:00")
    with pytest.raises(ValueError, match="unknown metric"):
        store.history(rec.disk_id, metric, "2026-01-01 00:00:00")
    with pytest.raises(ValueError, match="unknown metric"):
        store.history_buckets(rec.disk_id, metric, "2026-01-01 00:00:00",
                              "2027-01-01 00:00:00", 3600)


def test_history_values_match_the_stored_rows(backend: Backend):
    rec = record_from(ATA, "/dev/sda", "sat")
    store = backend.open()
    store.save_reading(rec, "/dev/sda", "2026-12-01 10:00:00")
    store.save_reading(rec, "/dev/sda", "2026-12-02 10:00:00")
    raw = rec.attribute(9).raw_value
    assert store.history(rec.disk_id, "attr:9", "2026-01-01 00:00:00") == [
        ("2026-12-01 10:00:00", raw), ("2026-12-02 10:00:00", raw)]
    assert store.history(rec.disk_id, "temperature", "2026-12-02 00:00:00") == [
        ("2026-12-02 10:00:00", rec.temperature)]


def test_reading_without_identity_is_not_stored(backend: Backend):
    rec = record_from(ATA, "/dev/sda", "sat")
    anonymous = dataclasses.replace(rec, identity=dataclasses.replace(
        rec.identity, serial=None, wwn=None))
    store = backend.open()
    assert store.save_reading(anonymous, "/dev/sda", "2026-12-01 10:00:00") is None
    assert store.stats()["readings"] == 0


def test_cycle_and_memory_roundtrip(backend: Backend):
    dev = DiskRef("/dev/sda", "sat", "sda", True)
    mem = DiskMemory(dev.key, "wwn-0x1", 100.0, 100.0, IoCounters(5, 6), 90.0, False, 3,
                     CheckResult.IDLE, 1, 95.5, 10.25)
    store = backend.open()
    store.save_memory([mem])
    assert store.load_memory() == {dev.key: mem}
    changed = dataclasses.replace(mem, consecutive_skips=4, io_baseline=None,
                                  power_check_supported=None, last_result=None)
    store.save_memory([changed])  # replaces, never duplicates
    assert store.load_memory() == {dev.key: changed}
    for i in range(3):
        cid = store.record_cycle(
            [CheckOutcome(dev, CheckResult.IDLE, f"no host I/O {i}", None, "wwn-0x1", 50.0)],
            f"2026-12-01 10:0{i}:00", f"2026-12-01 10:0{i}:01", 1.0)
        assert isinstance(cid, int)
    last = store.last_checks()[dev.key]
    assert (last["result"], last["reason"], last["finished"]) == (
        "skipped-idle", "no host I/O 2", "2026-12-01 10:02:01")
    assert store.latest_checks()[dev.key]["reason"] == "no host I/O 2"
    assert store.summary().last_checks == {"skipped-idle": 1}
    assert store.summary().last_cycle == "2026-12-01 10:02:01"
    assert store.prune_checks(1) == 2
    assert store.stats()["checks"] == 1 and store.stats()["cycles"] == 3
    assert store.check_totals(0) == (cid, {"skipped-idle": 3})
    assert store.last_cycle()["counts"] == {"skipped-idle": 1}


def test_a_moved_disk_shows_its_newest_check_and_all_its_wakes(backend: Backend):
    """The disk moved from /dev/sdf to /dev/sdc: both keys have a latest check and a
    policy memory. latest() and fleet_status() show the newest check (not the one of
    the key that sorts last) and the deliberate wakes of both keys."""
    rec = record_from(ATA, "/dev/sdc", "sat")
    old, new = DiskRef("/dev/sdf", "sat"), DiskRef("/dev/sdc", "sat")
    store = backend.open()
    store.save_reading(rec, "/dev/sdc", "2026-12-02 10:00:00")
    store.record_cycle([CheckOutcome(old, CheckResult.WOKEN, "too stale", None, rec.disk_id)],
                       "2026-12-01 10:00:00", "2026-12-01 10:00:01", 1.0)
    store.record_cycle([CheckOutcome(new, CheckResult.IDLE, "no host I/O", None, rec.disk_id)],
                       "2026-12-02 10:00:00", "2026-12-02 10:00:01", 1.0)
    store.save_memory([DiskMemory(old.key, rec.disk_id, deliberate_wakes=2),
                       DiskMemory(new.key, rec.disk_id, deliberate_wakes=1)])
    for status in (store.latest(), store.fleet_status(), store.fleet_status(rec.disk_id)):
        (st,) = status
        assert (st.device, st.last_check, st.last_check_at, st.deliberate_wakes) == (
            "/dev/sdc", "skipped-idle", "2026-12-02 10:00:01", 3)


def test_export_streams_in_time_order(backend: Backend):
    store = backend.open()
    for i, rel in enumerate((ATA, NVME, SCSI)):
        rec = record_from(rel)
        store.save_reading(rec, rec.device.label, f"2026-12-0{i + 1} 10:00:00")
    rows = list(store.iter_export("2026-01-01 00:00:00"))
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    names = {r[3] for r in rows}
    assert "Temperature_Celsius" in names
    assert "nvme.media_errors" in names and "scsi.grown_defects" in names
    assert list(store.iter_export("2026-12-02 00:00:00")) == [
        r for r in rows if r[0] >= "2026-12-02 00:00:00"]


def test_alert_lifecycle_through_the_store(backend: Backend):
    """The alert history of test_alerts (pending sectors appear, grow, get remapped; a
    rename; acknowledge) on this backend; the seed's columns keep the story."""
    import test_alerts as ta

    store = backend.open()
    base = record_from(ta.BASE, "/dev/sdb", "sat")
    steps = [(0, 0, 0, 34, "/dev/sdb"), (1, 0, 2, 35, "/dev/sdb"), (2, 0, 6, 35, "/dev/sdb"),
             (4, 4, 2, 36, "/dev/sdb"), (5, 6, 0, 36, "/dev/sdb"), (7, 6, 0, 55, "/dev/sdb"),
             (9, 6, 0, 63, "/dev/sdb"), (10, 6, 0, 40, "/dev/sdb"), (52, 6, 0, 34, "/dev/sdq"),
             (53, 6, 0, 34, "/dev/sdq")]
    events = []
    previous: SmartRecord | None = None
    for hours, realloc, pending, temp, dev in steps:
        rec = ta.reading(base, realloc=realloc, pending=pending, temp=temp, device=dev)
        store.save_reading(rec, dev, ta.text(ta.at(hours)))
        active = {a.rule_id for a in store.open_alerts(rec.disk_id)}
        found = evaluate(rec, previous, active=active)
        events += [(hours, e.event, e.rule_id, e.severity.value) for e in handle_reading(
            store, rec, found, device=dev, now=ta.at(hours), repeat="diminishing",
            risk=estimate(rec))]
        previous = rec
    assert sorted(events) == [
        (1, "open", "pending", "critical"), (2, "escalate", "pending", "critical"),
        (4, "open", "reallocated", "critical"), (5, "escalate", "reallocated", "critical"),
        (5, "resolve", "pending", "warning"), (7, "open", "temperature", "warning"),
        (9, "escalate", "temperature", "critical"), (10, "resolve", "temperature", "critical"),
        (53, "repeat", "reallocated", "warning"),
    ]
    [open_alert] = store.open_alerts(base.disk_id)
    assert alerts.acknowledge(store, open_alert.id, "RMA opened", now=ta.at(60))
    assert not alerts.acknowledge(store, 999999, "who?", now=ta.at(60))
    got = store.get_alert(open_alert.id)
    assert (got.acknowledged, got.ack_note, got.device) == (True, "RMA opened", "/dev/sdq")
    assert store.count_alerts(state="all") == 3 and store.count_alerts_where(
        state="resolved", disk_id=base.disk_id) == 2
    assert [a.rule_id for a in store.list_alerts(state="all", limit=2, offset=1)] == [
        "reallocated", "pending"]
    store.record_notification(open_alert.id, "repeat", "mailto", False, "refused", 3,
                              ta.text(ta.at(53)))
    rows = backend.sql("SELECT device, alert_type, severity, resolved, resolved_at"
                       " FROM health_alerts ORDER BY id")
    assert [r[:4] for r in rows] == [
        ("/dev/sdq", "pending", "warning", 1), ("/dev/sdq", "reallocated", "warning", 0),
        ("/dev/sdq", "temperature", "critical", 1)]
    assert [str(r[4])[:19] for r in rows] == [ta.text(ta.at(5)), "None", ta.text(ta.at(10))]
    assert backend.sql("SELECT device, COUNT(*) FROM health_alerts WHERE resolved = 0"
                       " GROUP BY device") == [("/dev/sdq", 1)]
    assert backend.sql("SELECT event, channel, ok, error, attempts FROM notifications") == [
        ("repeat", "mailto", 0, "refused", 3)]


def test_seed_critical_attribute_query_runs_unchanged(backend: Backend):
    """queries.sql's critical-attribute analysis, verbatim, on either database."""
    import test_storage

    rec = record_from(ATA, "/dev/sda", "sat")
    bad = record_from(BAD, "/dev/sdb", "sat")
    store = backend.open()
    now = time.time()
    store.save_reading(rec, "/dev/sda", utc_text(now - 3600))
    store.save_reading(bad, "/dev/sdb", utc_text(now - 60))
    _q1, q2, *maintenance = test_storage.seed_statements()
    expected = sorted(
        (("/dev/sdb", a.name, a.raw_value, 1) for a in bad.attributes
         if a.id in (5, 187, 196, 197, 198) and a.raw_value > 0),
        key=lambda r: -r[2],
    )
    assert backend.sql(q2) == expected
    # The seed's maintenance statements too (CREATE INDEX IF NOT EXISTS, VACUUM, ANALYZE).
    for stmt in maintenance:
        store.execute_script(stmt)
    assert store.stats()["readings"] == 2


# ------------------------------------------------- the same answers from both stores


def _same_operations(store: Any) -> None:
    """A small fleet's week: three protocols, a rename, alerts, cycles, memory."""
    import test_alerts as ta

    base = record_from(ta.BASE, "/dev/sdb", "sat")
    prev = None
    for h, pending, temp in ((0, 0, 34), (24, 2, 35), (48, 6, 56), (72, 6, 40)):
        rec = ta.reading(base, realloc=0, pending=pending, temp=temp,
                         device="/dev/sdb" if h < 48 else "/dev/sdc")
        store.save_reading(rec, rec.device.label, ta.text(ta.at(h)))
        handle_reading(store, rec, evaluate(rec, prev), device=rec.device.label,
                       now=ta.at(h), repeat="daily")
        prev = rec
    for i, rel in enumerate((NVME, SCSI, ATA2, BAD)):
        rec = record_from(rel)
        for h in (1, 25, 49):
            store.save_reading(rec, rec.device.label, ta.text(ta.at(h + i * 0.25)))
    dev = DiskRef("/dev/sdb", "sat", "sdb", True)
    store.save_memory([DiskMemory(dev.key, base.disk_id, 1.0, 2.0, IoCounters(7, 8), 3.0,
                                  True, 0, CheckResult.READ, 2, 4.0, 0.5)])
    for c in range(3):
        store.record_cycle(
            [CheckOutcome(dev, CheckResult.READ, "host I/O", None, base.disk_id, 0.0),
             CheckOutcome(DiskRef("/dev/sdx", "sat"), CheckResult.ERROR, "no answer", None,
                          None, None)],
            ta.text(ta.at(c)), ta.text(ta.at(c + 0.01)), 36.0)


def _views(store: Any, disk_id: str) -> dict[str, Any]:
    since, until = "2025-01-01 00:00:00", "2026-01-01 00:00:00"
    return {
        "export": list(store.iter_export(since)),
        "latest": store.latest(),
        "fleet": store.fleet_status(),
        "one": store.fleet_status(disk_id),
        "summary": store.summary("2025-03-10 00:00:00", stale_after=86400.0),
        "history": [store.history(disk_id, m, since) for m in ("temperature", "attr:197")],
        "buckets": [store.history_buckets(d.disk_id, m, since, until, 86400)
                    for d in store.latest()
                    for m in ("temperature", "attr:194", "nvme.data_units_written",
                              "scsi.grown_defects")],
        "nvme": [store.history(d.disk_id, "nvme.media_errors", since) for d in store.latest()],
        "snapshots": store.latest_snapshots(),
        "alerts": store.list_alerts(state="all"),
        "open": store.open_alerts(),
        "totals": store.check_totals(0),
        "memory": store.load_memory(),
        "last_record": store.last_record(disk_id),
        "find": store.find_disks("/dev/sdc"),
        "stats": {k: v for k, v in store.stats().items() if k != "bytes"},
    }


def test_both_stores_give_the_same_answers(tmp_path, pg_dsn: str):
    """Same operations, same return values and types (timestamps as UTC text, ints as
    ints), from every view the monitor, CLI, web and metrics read."""
    lite = SQLiteStore(str(tmp_path / "lite.db"))
    post = open_store(pg_dsn, busy_timeout=5.0)
    try:
        for s in (lite, post):
            _same_operations(s)
        disk_id = lite.latest()[0].disk_id
        a, b = _views(lite, disk_id), _views(post, disk_id)
        for key in a:
            assert b[key] == a[key], key
            assert repr(b[key]) == repr(a[key]), f"{key}: same values, different types"
        la, lb = lite.last_cycle(), post.last_cycle()
        assert {k: v for k, v in la.items() if k != "id"} == {
            k: v for k, v in lb.items() if k != "id"}
        checks_a = {k: {f: r[f] for f in ("result", "reason", "disk_id", "finished")}
                    for k, r in lite.latest_checks().items()}
        checks_b = {k: {f: r[f] for f in ("result", "reason", "disk_id", "finished")}
                    for k, r in post.latest_checks().items()}
        assert checks_a == checks_b and len(checks_a) == 2
    finally:
        lite.close()
        post.close()


def test_postgres_store_keeps_the_sqlite_store_signatures():
    """Every public method callers use exists with the same parameters (AlertStore's
    included); only the constructor differs (a DSN, a node name)."""
    from maid_smart_monitor.storage.postgres import PostgresStore

    public = [n for n, v in vars(SQLiteStore).items()
              if not n.startswith("_") and callable(v)]
    assert "save_reading" in public and "history_buckets" in public
    for name in public + ["__enter__", "__exit__"]:
        assert hasattr(PostgresStore, name), name
        want = inspect.signature(getattr(SQLiteStore, name))
        got = inspect.signature(getattr(PostgresStore, name))
        assert [(p.name, p.kind, p.default) for p in got.parameters.values()] == [
            (p.name, p.kind, p.default) for p in want.parameters.values()], name
    for name in [n for n in vars(AlertStore) if not n.startswith("_")]:
        want = inspect.signature(getattr(AlertStore, name))
        got = inspect.signature(getattr(PostgresStore, name))
        assert [(p.name, p.kind, p.default) for p in got.parameters.values()] == [
            (p.name, p.kind, p.default) for p in want.parameters.values()], name


def test_migrations_are_named_as_sqlites():
    """A migration added to one backend without the other fails here."""
    from maid_smart_monitor.storage import postgres

    assert [n for n, _ in postgres.MIGRATIONS] == [n for n, _ in schema.MIGRATIONS]
    assert postgres.SCHEMA_VERSION == schema.SCHEMA_VERSION


# ----------------------------------------------------------------- factory and extra


@pytest.mark.parametrize("db, pg", [
    ("postgresql://u@h/db", True), ("postgres://u@h:5433/db", True),
    (" POSTGRESQL://h/db", True), ("maid_smart_data.db", False),
    ("/var/lib/smart/postgres.db", False), ("postgresql.db", False), (":memory:", False),
])
def test_factory_tells_dsn_from_path(db: str, pg: bool):
    assert is_postgres(db) is pg


def test_factory_opens_sqlite_for_a_path(tmp_path):
    store = open_store(str(tmp_path / "x.db"), busy_timeout=1.0, node="ignored")
    try:
        assert isinstance(store, SQLiteStore) and store.busy_timeout == 1.0
    finally:
        store.close()


def test_missing_psycopg_is_a_clear_error_naming_the_extra(tmp_path):
    """Without psycopg, a DSN fails with the pip line to fix it; SQLite still works."""
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from maid_smart_monitor.storage.factory import open_store\n"
        "from maid_smart_monitor.storage.base import StoreError\n"
        f"open_store({str(tmp_path / 'ok.db')!r}, busy_timeout=1).close()\n"
        "try:\n"
        "    open_store('postgresql://u@127.0.0.1:1/db', busy_timeout=1)\n"
        "except StoreError as exc:\n"
        "    print('StoreError:', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert "StoreError:" in out.stdout
    assert "pip install 'maid-smart-monitor[postgres]'" in out.stdout


# ------------------------------------------------------------ PostgreSQL's own promises


def test_factory_opens_postgres_for_both_uri_schemes(pg_dsn: str):
    import socket

    from maid_smart_monitor.storage.postgres import PostgresStore

    for dsn in (pg_dsn, pg_dsn.replace("postgresql://", "postgres://", 1)):
        store = open_store(dsn, busy_timeout=1.5)
        try:
            assert isinstance(store, PostgresStore)
            assert store.node == socket.gethostname()
            assert store.path.startswith("postgresql://postgres@127.0.0.1:")
            assert store._scalar("SHOW lock_timeout") == "1500ms"
        finally:
            store.close()


def test_schema_is_versioned_with_seed_columns_and_timestamptz(pg_dsn: str):
    open_store(pg_dsn, busy_timeout=1.0).close()
    open_store(pg_dsn, busy_timeout=1.0).close()  # reopening does not migrate twice
    pg = _psycopg()
    with pg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT version, name FROM schema_migrations ORDER BY version"
                            ).fetchall() == [(i, n) for i, (n, _) in
                                             enumerate(schema.MIGRATIONS, start=1)]
        cols = dict(conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_name = 'smart_data'").fetchall())
        assert {"device", "timestamp", "attribute_id", "attribute_name", "raw_value",
                "raw_string", "value", "worst", "thresh"} <= set(cols)
        assert cols["timestamp"] == "timestamp with time zone"
        cols = dict(conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_name = 'health_alerts'").fetchall())
        assert {"device", "resolved", "alert_type", "severity", "message"} <= set(cols)
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes")}
        assert {"idx_smart_device_time", "idx_smart_attribute", "idx_alerts_device",
                "idx_alerts_one_open"} <= indexes


def test_timestamps_are_instants_not_local_text(pg_dsn: str):
    """Stored as timestamptz: a session in another time zone sees the same instant,
    and the store returns UTC text whatever the server's zone."""
    store = open_store(pg_dsn, busy_timeout=1.0)
    rec = record_from(ATA, "/dev/sda", "sat")
    store.save_reading(rec, "/dev/sda", "2026-12-01 10:00:00")
    store.close()
    pg = _psycopg()
    with pg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("ALTER DATABASE " + pg_dsn.rsplit("/", 1)[1] + " SET TimeZone = 'Asia/Tokyo'")
        conn.execute("SET TimeZone = 'America/New_York'")
        assert conn.execute("SELECT timestamp::text FROM readings").fetchone()[0] == (
            "2026-12-01 05:00:00-05")
        assert conn.execute("SELECT extract(epoch FROM timestamp)::bigint FROM readings"
                            ).fetchone()[0] == 1796119200
    store = open_store(pg_dsn, busy_timeout=1.0)  # sessions default to Tokyo now
    try:
        assert store.last_read_time(rec.disk_id) == "2026-12-01 10:00:00"
        assert store.history(rec.disk_id, "temperature", "2026-12-01 10:00:00") == [
            ("2026-12-01 10:00:00", rec.temperature)]
        assert store.history(rec.disk_id, "temperature", "2026-12-01 10:00:01") == []
    finally:
        store.close()


def test_seed_temperature_query_in_postgres_dialect(pg_dsn: str):
    """The seed's temperature-trend SELECT with PostgreSQL's date arithmetic."""
    rec = record_from(ATA, "/dev/sda", "sat")
    now = time.time()
    store = open_store(pg_dsn, busy_timeout=1.0)
    for age in (40 * 86400, 3600, 60):
        store.save_reading(rec, "/dev/sda", utc_text(now - age))
    store.close()
    with _psycopg().connect(pg_dsn) as conn:
        rows = conn.execute(
            "SELECT timestamp, raw_value FROM smart_data WHERE device = %s"
            " AND attribute_id = 194 AND timestamp >= now() - interval '30 days'"
            " ORDER BY timestamp", ("/dev/sda",)).fetchall()
    temp = rec.attribute(194).raw_value
    assert [r[1] for r in rows] == [temp, temp] and rows[0][0] < rows[1][0]


def test_newer_schema_is_refused(pg_dsn: str):
    open_store(pg_dsn, busy_timeout=1.0).close()
    with _psycopg().connect(pg_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, 'future')",
                     (schema.SCHEMA_VERSION + 1,))
    with pytest.raises(SchemaTooNew, match="upgrade"):
        open_store(pg_dsn, busy_timeout=1.0)
    with pytest.raises(SchemaTooNew):
        open_store(pg_dsn, busy_timeout=1.0, readonly=True)


def test_nodes_starting_together_migrate_once(pg_dsn: str):
    """Six monitors open a fresh database at the same moment: one creates the schema,
    the others wait for it and find it done."""
    stores: list[Any] = []
    errors: list[BaseException] = []
    gate = threading.Barrier(6)

    def start() -> None:
        try:
            gate.wait()
            stores.append(open_store(pg_dsn, busy_timeout=10.0))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in stores:
        s.close()
    assert errors == [] and len(stores) == 6
    with _psycopg().connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == (
            schema.SCHEMA_VERSION)


def test_readonly_store_reads_and_refuses_writes(pg_dsn: str):
    with pytest.raises(StoreError, match="no monitor schema"):
        open_store(pg_dsn, busy_timeout=1.0, readonly=True)
    rec = record_from(ATA, "/dev/sda", "sat")
    rw = open_store(pg_dsn, busy_timeout=1.0)
    rw.save_reading(rec, "/dev/sda", "2026-12-01 10:00:00")
    rw.close()
    ro = open_store(pg_dsn, busy_timeout=1.0, readonly=True)
    try:
        assert [s.disk_id for s in ro.latest()] == [rec.disk_id]
        with pytest.raises(StoreError, match="cannot be written"):
            ro.save_reading(rec, "/dev/sda", "2026-12-01 11:00:00")
        assert ro.stats()["readings"] == 1
    finally:
        ro.close()


def test_locked_database_is_a_named_error_and_loses_nothing(pg_dsn: str):
    """Another session holds the table (a DBA's LOCK, a long migration): the write waits
    for the busy timeout, fails with DatabaseLocked, and succeeds once released."""
    store = open_store(pg_dsn, busy_timeout=0.3)
    rec = record_from(ATA, "/dev/sda", "sat")
    holder = _psycopg().connect(pg_dsn)
    try:
        holder.execute("LOCK TABLE readings IN ACCESS EXCLUSIVE MODE")
        t0 = time.monotonic()
        with pytest.raises(DatabaseLocked, match="locked by another process"):
            store.save_reading(rec, "/dev/sda", "2026-12-01 10:00:00")
        assert 0.25 <= time.monotonic() - t0 < 5
    finally:
        holder.rollback()
        holder.close()
    assert store.stats()["disks"] == 0  # the failed transaction left nothing behind
    assert store.save_reading(rec, "/dev/sda", "2026-12-01 10:00:00")
    assert store.stats()["readings"] == 1
    store.close()


def test_dropped_connection_is_reopened(pg: pg_server.PostgresServer, pg_dsn: str):
    """The server kills the monitor's session (idle timeout, failover, restart): the
    next call reconnects and succeeds, reads and writes alike."""
    store = open_store(pg_dsn, busy_timeout=1.0)
    rec = record_from(ATA, "/dev/sda", "sat")
    store.save_reading(rec, "/dev/sda", "2026-12-01 10:00:00")
    dbname = pg_dsn.rsplit("/", 1)[1]

    def kill() -> int:
        with _psycopg().connect(pg.dsn(), autocommit=True) as admin:
            return admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND application_name = 'maid-smart-monitor'",
                (dbname,)).fetchone()[0]

    assert kill() == 1
    assert store.save_reading(rec, "/dev/sda", "2026-12-01 11:00:00")
    assert kill() == 1
    assert store.last_read_time(rec.disk_id) == "2026-12-01 11:00:00"
    assert kill() == 1
    assert list(store.iter_export("2026-01-01 00:00:00"))  # export after a drop too
    assert kill() == 1
    time.sleep(0.05)
    assert store.reopen_if_replaced() is True or store.stats()["readings"] == 2
    assert store.stats()["readings"] == 2
    store.close()


def test_server_outage_is_a_store_error_then_heals(pg: pg_server.PostgresServer,
                                                   pg_dsn: str):
    """The server goes down between cycles: calls fail with StoreError (the monitor
    keeps the reading and retries), and work again once the server is back."""
    store = open_store(pg_dsn, busy_timeout=1.0)
    rec = record_from(ATA, "/dev/sda", "sat")
    store.save_reading(rec, "/dev/sda", "2026-12-01 10:00:00")
    pg.halt()
    try:
        t0 = time.monotonic()
        with pytest.raises(StoreError, match="unreachable"):
            store.save_reading(rec, "/dev/sda", "2026-12-01 11:00:00")
        with pytest.raises(StoreError, match="unreachable"):
            store.summary()
        with pytest.raises(StoreError):
            store.reopen_if_replaced()
        assert time.monotonic() - t0 < 10  # refused at once, no hang
    finally:
        pg.resume()
    assert store.reopen_if_replaced() is True
    assert store.save_reading(rec, "/dev/sda", "2026-12-01 11:00:00")
    assert store.stats()["readings"] == 2
    store.close()


def test_gate_skips_only_outside_ci(monkeypatch: pytest.MonkeyPatch):
    """No server installed: a developer's run skips, a CI run fails."""
    monkeypatch.setattr(pg_server, "bindir", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install postgresql"):
        pg_server.require()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        pg_server.require()


def test_unreachable_server_is_a_store_error_without_the_password():
    pg_server.require()
    with pytest.raises(StoreError, match="unreachable") as info:
        open_store("postgresql://maid:s3cret@127.0.0.1:1/maid", busy_timeout=1.0)
    assert "s3cret" not in str(info.value)
    assert "postgresql://maid@127.0.0.1:1/maid" in str(info.value)


def test_dsn_parameters_win_over_defaults(pg_dsn: str):
    store = open_store(pg_dsn + "?application_name=node7-monitor", busy_timeout=1.0)
    try:
        assert store._scalar("SHOW application_name") == "node7-monitor"
    finally:
        store.close()


def test_password_never_shown(pg: pg_server.PostgresServer, pg_dsn: str):
    dsn = pg_dsn.replace("postgres@", "postgres:hunter2@", 1)  # trust auth ignores it
    store = open_store(dsn, busy_timeout=1.0)
    try:
        assert "hunter2" not in store.path and store.path.endswith(pg_dsn.rsplit("/", 1)[1])
    finally:
        store.close()


# ------------------------------------------------------------------------ many nodes

DRIVE_DAYS, DRIVE_INTERVAL = 0.5, 3600.0


def _fleet_monitor(root, seed: int, store: Any) -> tuple[Any, Any]:
    from maid_smart_monitor import config
    from maid_smart_monitor.monitor import MAIDSmartMonitor
    from maid_smart_monitor.sim.fleet import Fleet, FleetSpec
    from maid_smart_monitor.sim.runner import SimRunner

    spec = FleetSpec(disks=14, seed=seed, nvme=2, megaraid=2, usb=1, quantum=1800.0,
                     mean_session=3600.0, min_session=1800.0, busy_fraction=0.3)
    fleet = Fleet.create(root / f"fleet{seed}", spec)
    settings = config.load(environ={}).replace(
        db_path=str(root / f"unused{seed}.db"), smartctl=fleet.smartctl,
        procfs=fleet.procfs, sysfs=fleet.sysfs, interval=DRIVE_INTERVAL)
    monitor = MAIDSmartMonitor(settings=settings, store=store, clock=fleet.now,
                               runner=SimRunner(fleet.state_path, real_time=False))
    return fleet, monitor


def _drive(root, seed: int, store: Any) -> tuple[Counter[str], Counter[str]]:
    """Half a simulated day; returns results per check and good reads per disk id."""
    from maid_smart_monitor.sim.drive import drive

    fleet, monitor = _fleet_monitor(root, seed, store)
    reads: Counter[str] = Counter()

    def on_report(_t: float, report: Any, _full: bool) -> None:
        for o in report.outcomes:
            if o.record is not None and o.record.state is ReadState.OK and o.disk_id:
                reads[o.disk_id] += 1

    try:
        result = drive(fleet, monitor, days=DRIVE_DAYS, interval=DRIVE_INTERVAL,
                       on_report=on_report)
    finally:
        monitor.close()
    return Counter(result.results), reads


def test_two_nodes_write_one_database_concurrently(tmp_path, pg_dsn: str):
    """Two monitors on two hosts (two simulated fleets, both with a /dev/sda) run their
    cycles at the same time into one database. Each behaves exactly as it does alone
    on its own SQLite file; the database holds both fleets, each reading once."""
    from maid_smart_monitor.storage.postgres import PostgresStore

    seeds = {"node-a": 31, "node-b": 32}
    alone = {node: _drive(tmp_path / f"alone-{node}", seed,
                          SQLiteStore(str(tmp_path / f"{node}.db")))
             for node, seed in seeds.items()}

    results: dict[str, tuple[Counter[str], Counter[str]]] = {}
    errors: list[BaseException] = []
    gate = threading.Barrier(2)

    def node_main(node: str) -> None:
        try:
            gate.wait()
            store = open_store(pg_dsn, busy_timeout=10.0, node=node)
            assert isinstance(store, PostgresStore) and store.node == node
            results[node] = _drive(tmp_path / f"shared-{node}", seeds[node], store)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=node_main, args=(n,)) for n in seeds]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    for node in seeds:
        assert results[node] == alone[node], node
        assert sum(results[node][1].values()) > 10  # the fleets were really read

    with PostgresStore(pg_dsn, busy_timeout=5.0, node="node-a") as a, \
            PostgresStore(pg_dsn, busy_timeout=5.0, node="node-b") as b:
        per_disk = Counter({r["disk_id"]: r["n"] for r in a._query(
            "SELECT disk_id, count(*) AS n FROM readings GROUP BY disk_id")})
        assert per_disk == results["node-a"][1] + results["node-b"][1]
        assert {s.disk_id for s in a.latest()} == set(per_disk)
        mem_a, mem_b = a.load_memory(), b.load_memory()
        assert "/dev/sda:sat" in mem_a and "/dev/sda:sat" in mem_b
        shared = [k for k in set(mem_a) & set(mem_b)
                  if mem_a[k].disk_id and mem_b[k].disk_id]
        assert len(set(mem_a) & set(mem_b)) >= 10  # both hosts have /dev/sda, /dev/sdb...
        assert len(shared) >= 2  # ...and where both were read, they are different disks
        assert all(mem_a[k].disk_id != mem_b[k].disk_id for k in shared)
        assert {m.disk_id for m in mem_a.values() if m.disk_id} <= set(results["node-a"][1])
        checks = a.latest_checks()
        assert "/dev/sda:sat" in checks and "node-b//dev/sda:sat" in checks
        assert set(b.latest_checks()) == {
            k.replace("node-b/", "", 1) if k.startswith("node-b/") else f"node-a/{k}"
            for k in checks}
        cycles = a._query("SELECT node, count(*) AS n FROM cycles GROUP BY node ORDER BY node")
        full = int(DRIVE_DAYS * 86400 / DRIVE_INTERVAL)  # full cycles each node ran
        assert [(r["node"], r["n"]) for r in cycles] == [("node-a", full), ("node-b", full)]
        summary = a.summary()
        assert summary.total_devices == len(per_disk)
        assert sum(summary.last_checks.values()) == len(checks)


# ------------------------------------------------------- the web app on either store


def _wsgi_get(app: Any, path: str) -> tuple[int, bytes]:
    from wsgiref.util import setup_testing_defaults

    route, _, query = path.partition("?")
    environ: dict[str, Any] = {"PATH_INFO": route, "QUERY_STRING": query,
                               "REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    status: list[str] = []
    body = b"".join(app(environ, lambda s, _h, *_: status.append(s)))
    return int(status[0].split()[0]), body


def test_web_api_and_metrics_answer_the_same_from_postgres(
    tmp_path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
):
    """The web tests' fleet (real recordings, alerts, cycles) written through each store;
    the REST API, pages and /metrics served from PostgreSQL equal those from SQLite."""
    pytest.importorskip("prometheus_client")  # the [web] extra
    import webfleet
    from maid_smart_monitor.storage.postgres import PostgresStore
    from maid_smart_monitor.web.app import App

    lite_path = str(tmp_path / "web.db")
    counts = webfleet.build_fleet(lite_path)
    pg_store = PostgresStore(pg_dsn, busy_timeout=5.0)
    monkeypatch.setattr(webfleet, "SQLiteStore", lambda _path: PostgresStore(pg_dsn))
    assert webfleet.build_fleet("unused") == counts

    lite = App(lite_path, clock=lambda: webfleet.NOW)
    post = App(lite_path, clock=lambda: webfleet.NOW)
    post.store = lambda: pg_store  # type: ignore[method-assign]  # what open_store will do
    disk = webfleet.FLEET[0].disk_id
    paths = ["/api/health", "/api/disks", f"/api/disks/{disk}",
             f"/api/disks/{disk}/history?metric=temperature&since=2025-12-01T00:00:00Z",
             f"/api/disks/{disk}/history?metric=attr:194&since=2025-12-01T00:00:00Z",
             "/api/alerts?state=all", "/api/alerts?state=open&limit=2&offset=1",
             "/api/alerts/1", "/", f"/disks/{disk}", "/alerts"]
    try:
        for path in paths:
            a, b = _wsgi_get(lite, path), _wsgi_get(post, path)
            assert a[0] == 200, (path, a)
            assert b == a, path
        metrics_a = _wsgi_get(lite, "/metrics")[1].decode()
        metrics_b = _wsgi_get(post, "/metrics")[1].decode()

        def stable(text: str) -> list[str]:  # drop the scrape's own timing
            return [ln for ln in text.splitlines() if "scrape_duration" not in ln]

        assert "smartctl_device_temperature" in metrics_a
        assert stable(metrics_b) == stable(metrics_a)
    finally:
        pg_store.close()


# ---------------------------------------------------------------------------- the CLI


def test_cli_monitors_into_postgres_and_summarises(pg_dsn: str, tmp_path):
    """The real process with ``--db postgresql://...``: a cycle, then --summary."""
    import os
    import subprocess
    import sys

    from maid_smart_monitor.sim.fleet import Fleet, FleetSpec

    fleet = Fleet.create(tmp_path / "fleet", FleetSpec(disks=6, seed=9, nvme=2, megaraid=0,
                                                       usb=0, suspended=0, md_pairs=0))
    cfg = tmp_path / "c.ini"
    cfg.write_text("[monitoring]\nmounted_only = false\npiggyback = false\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    base = [sys.executable, "-m", "maid_smart_monitor", "--db", pg_dsn]
    try:
        run = subprocess.run(
            [*base, "--config", str(cfg), "--smartctl", fleet.smartctl,
             "--procfs", fleet.procfs, "--sysfs", fleet.sysfs],
            capture_output=True, text=True, timeout=120, env=env)
        assert run.returncode == 0, run.stderr
        read = int(run.stdout.split("devices read: ")[1].split(",")[0])
        assert read >= 2  # at least the two NVMe
        summary = subprocess.run([*base, "--summary"], capture_output=True, text=True,
                                 timeout=60, env=env)
        assert summary.returncode == 0, summary.stderr
        lines = summary.stdout.splitlines()
        assert lines[0] == "MAID SMART Health Summary:"
        assert lines[1] == f"Total devices: {read}"
    finally:
        fleet.close()
