"""The SQLite store on real files: schema contract, identity, failures that lose nothing."""

from __future__ import annotations

import dataclasses
import os
import sqlite3

import pytest

from conftest import SEED_QUERIES, locked_by_another_process, record_from
from maid_smart_monitor.model import CheckOutcome, CheckResult, DiskMemory, DiskRef, IoCounters
from maid_smart_monitor.storage.base import DatabaseLocked, SchemaTooNew
from maid_smart_monitor.storage.schema import SCHEMA_VERSION
from maid_smart_monitor.storage.sqlite import SQLiteStore

ATA = "ata/smartctl_exporter__WDC_WD20EFRX-68EUZN0_17.json"
ATA2 = "ata/smartctl_exporter__ST3500418AS_11.json"
NVME = "nvme/beszel__nvme0.json"
SCSI = "scsi/telegraf-scsi_extended.json"


def seed_statements() -> list[str]:
    text = "\n".join(
        line for line in SEED_QUERIES.read_text().splitlines() if not line.startswith("--")
    )
    return [s.strip() for s in text.split(";") if s.strip()]


def test_schema_is_versioned_and_in_wal_mode(db_path):
    SQLiteStore(db_path).close()
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    cols = {r[1] for r in conn.execute("PRAGMA table_info(smart_data)")}
    assert {"device", "timestamp", "attribute_id", "attribute_name", "raw_value",
            "raw_string", "value", "worst", "thresh"} <= cols
    cols = {r[1] for r in conn.execute("PRAGMA table_info(health_alerts)")}
    assert {"device", "resolved"} <= cols


def test_reopening_does_not_migrate_twice(db_path):
    SQLiteStore(db_path).close()
    SQLiteStore(db_path).close()
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_newer_schema_is_refused(db_path):
    SQLiteStore(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew, match="upgrade"):
        SQLiteStore(db_path)


def test_reading_roundtrip_keeps_every_attribute(db_path):
    rec = record_from(ATA, "/dev/sda", "sat")
    with SQLiteStore(db_path) as store:
        rid = store.save_reading(rec, "/dev/sda", "2026-12-01 10:00:00")
        assert rid
        back = store.last_record(rec.disk_id)
    assert back.identity.serial == rec.identity.serial
    assert [(a.id, a.raw_value, a.value, a.worst, a.thresh) for a in back.attributes] == sorted(
        (a.id, a.raw_value, a.value, a.worst, a.thresh) for a in rec.attributes
    )
    assert back.temperature == rec.temperature
    assert back.smart_passed == rec.smart_passed


def test_human_raw_values_are_stored(db_path):
    rec = record_from(ATA, "/dev/sda", "sat")
    with SQLiteStore(db_path) as store:
        store.save_reading(rec, "/dev/sda", "2026-12-01 10:00:00")
    conn = sqlite3.connect(db_path)
    rows = dict(conn.execute("SELECT attribute_id, raw_value FROM smart_data"))
    temp = rec.attribute(194)
    assert rows[194] == int(temp.raw_string.split()[0])
    assert rows[9] == rec.attribute(9).raw_value


def test_nvme_and_scsi_details_roundtrip(db_path):
    with SQLiteStore(db_path) as store:
        for rel in (NVME, SCSI):
            rec = record_from(rel)
            store.save_reading(rec, rec.device.label, "2026-12-01 10:00:00")
            back = store.last_record(rec.disk_id)
            assert back.nvme == rec.nvme
            assert back.scsi == rec.scsi


def test_history_follows_the_disk_not_the_dev_name(db_path):
    """A reboot moves the disk from /dev/sdc to /dev/sdf: its history moves with it."""
    rec = record_from(ATA, "/dev/sdc", "sat")
    other = record_from(ATA2, "/dev/sdf", "sat")
    with SQLiteStore(db_path) as store:
        store.save_reading(other, "/dev/sdf", "2026-12-01 10:00:00")
        store.save_reading(rec, "/dev/sdc", "2026-12-01 10:00:00")
        # next boot: the disks swapped names
        store.save_reading(dataclasses.replace(rec, device=DiskRef("/dev/sdf", "sat")),
                           "/dev/sdf", "2026-12-02 10:00:00")
        hist = store.history(rec.disk_id, "attr:194", "2026-01-01 00:00:00")
        assert [t for t, _ in hist] == ["2026-12-01 10:00:00", "2026-12-02 10:00:00"]
        status = {s.disk_id: s.device for s in store.latest()}
        assert status[rec.disk_id] == "/dev/sdf"
    conn = sqlite3.connect(db_path)
    devices = {r[0] for r in conn.execute(
        "SELECT DISTINCT s.device FROM smart_data s JOIN readings r ON r.id = s.reading_id"
        " WHERE r.disk_id = ?", (rec.disk_id,))}
    assert devices == {"/dev/sdf"}


def test_reading_without_identity_is_not_stored(db_path):
    rec = record_from(ATA, "/dev/sda", "sat")
    anonymous = dataclasses.replace(rec, identity=dataclasses.replace(
        rec.identity, serial=None, wwn=None))
    with SQLiteStore(db_path) as store:
        assert store.save_reading(anonymous, "/dev/sda", "2026-12-01 10:00:00") is None
        assert store.stats()["readings"] == 0


def test_seed_queries_run_unchanged_and_return_the_right_rows(db_path):
    """Every statement of the seed's queries.sql, verbatim, against a monitor database."""
    from maid_smart_monitor.storage.base import utc_text

    rec = record_from(ATA, "/dev/sda", "sat")
    bad = record_from("ata/plasma-disks__failing-sectors-passing-status.json", "/dev/sdb", "sat")
    now = __import__("time").time()
    with SQLiteStore(db_path) as store:
        store.save_reading(rec, "/dev/sda", utc_text(now - 40 * 86400))  # too old for query 1
        store.save_reading(rec, "/dev/sda", utc_text(now - 3600))
        store.save_reading(rec, "/dev/sda", utc_text(now - 60))
        store.save_reading(bad, "/dev/sdb", utc_text(now - 60))
    q1, q2, *maintenance = seed_statements()
    conn = sqlite3.connect(db_path)
    rows = conn.execute(q1, ("/dev/sda",)).fetchall()
    temp = rec.attribute(194).raw_value
    assert [r[1] for r in rows] == [temp, temp]
    assert rows[0][0] < rows[1][0]
    crit = conn.execute(q2).fetchall()
    expected = sorted(
        ((("/dev/sdb", a.name, a.raw_value, 1)) for a in bad.attributes
         if a.id in (5, 187, 196, 197, 198) and a.raw_value > 0),
        key=lambda r: -r[2],
    )
    assert crit == expected
    assert any(r[1] == "Current_Pending_Sector" and r[2] == 1640 for r in crit)
    conn.close()
    for stmt in maintenance:
        c = sqlite3.connect(db_path)
        c.execute(stmt)
        c.close()
    with SQLiteStore(db_path) as store:  # still a good monitor database afterwards
        assert store.stats()["readings"] == 4


def test_cycle_and_memory_roundtrip(db_path):
    dev = DiskRef("/dev/sda", "sat", "sda", True)
    mem = DiskMemory(dev.key, "wwn-0x1", 100.0, 100.0, IoCounters(5, 6), 90.0, False, 3,
                     CheckResult.IDLE, 1)
    with SQLiteStore(db_path) as store:
        store.save_memory([mem])
        assert store.load_memory() == {dev.key: mem}
        store.record_cycle([CheckOutcome(dev, CheckResult.IDLE, "no host I/O", None, "wwn-0x1",
                                         50.0)], "2026-12-01 10:00:00", "2026-12-01 10:00:01",
                           1.0)
        last = store.last_checks()[dev.key]
        assert (last["result"], last["reason"]) == ("skipped-idle", "no host I/O")
        assert store.summary().last_checks == {"skipped-idle": 1}


def test_export_streams_in_time_order(db_path):
    with SQLiteStore(db_path) as store:
        for i, rel in enumerate((ATA, NVME, SCSI)):
            rec = record_from(rel)
            store.save_reading(rec, rec.device.label, f"2026-12-0{i + 1} 10:00:00")
        rows = list(store.iter_export("2026-01-01 00:00:00"))
    times = [r[0] for r in rows]
    assert times == sorted(times)
    names = {r[3] for r in rows}
    assert "Temperature_Celsius" in names
    assert "nvme.media_errors" in names and "scsi.grown_defects" in names


def test_corrupt_file_is_moved_aside_never_overwritten(tmp_path):
    path = tmp_path / "maid.db"
    garbage = b"this is not a database, but somebody's data\n" * 100
    path.write_bytes(garbage)
    store = SQLiteStore(str(path))
    assert store.moved_aside and os.path.exists(store.moved_aside)
    with open(store.moved_aside, "rb") as fh:
        assert fh.read() == garbage
    assert store.stats()["readings"] == 0
    store.close()


def test_deleted_database_is_recreated(db_path):
    store = SQLiteStore(db_path)
    rec = record_from(ATA, "/dev/sda", "sat")
    store.save_reading(rec, "/dev/sda", "2026-12-01 10:00:00")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db_path + suffix):
            os.remove(db_path + suffix)
    assert store.reopen_if_replaced() is True
    store.save_reading(rec, "/dev/sda", "2026-12-01 11:00:00")
    store.close()
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM readings").fetchone()[0] == 1


def test_locked_database_is_a_named_error(db_path):
    SQLiteStore(db_path).close()
    with locked_by_another_process(db_path):
        store = SQLiteStore(db_path, busy_timeout=0.2)
        rec = record_from(ATA, "/dev/sda", "sat")
        with pytest.raises(DatabaseLocked, match="locked by another process"):
            store.save_reading(rec, "/dev/sda", "2026-12-01 10:00:00")
    store.save_reading(rec, "/dev/sda", "2026-12-01 10:00:00")  # works once released
    store.close()


def test_export_names_a_moved_disk_by_its_current_device(db_path):
    """After a rename every exported row of the disk, ATA or NVMe, carries its new name."""
    with SQLiteStore(db_path) as store:
        for rel, old, new in ((ATA, "/dev/sdc", "/dev/sdf"), (NVME, "/dev/nvme0", "/dev/nvme1")):
            rec = record_from(rel, old)
            store.save_reading(rec, old, "2026-12-01 10:00:00")
            store.save_reading(dataclasses.replace(rec, device=DiskRef(new, rec.device.dev_type)),
                               new, "2026-12-02 10:00:00")
        rows = list(store.iter_export("2026-01-01 00:00:00"))
    assert {r[1] for r in rows} == {"/dev/sdf", "/dev/nvme1"}
