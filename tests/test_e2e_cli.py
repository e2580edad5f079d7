"""The real ``maid-smart-monitor`` process against the smartctl look-alike.

A mixed fleet (SATA HDDs and SSDs, SAS, NVMe, megaraid members, a USB bridge, one FAILED
drive, sleeping disks) behind the same boundaries production uses: the smartctl
executable given by ``--smartctl``, and procfs/sysfs roots. Then the database, the
``--summary`` lines and the ``--export`` CSV are checked against what the fleet is.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest

from maid_smart_monitor.sim.fleet import Fleet, FleetSpec

SPEC = FleetSpec(disks=16, seed=3, nvme=2, megaraid=2, usb=1, suspended=1, md_pairs=1,
                 busy_fraction=0.2, ssd_fraction=0.1, sas_fraction=0.15, unmounted_fraction=0.0)


def run_cli(*args: str, env_extra: dict[str, str] | None = None, timeout: float = 120):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "maid_smart_monitor", *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def fleet_run(tmp_path_factory):
    """Two one-shot cycles an hour apart (simulated) over a fresh fleet."""
    tmp = tmp_path_factory.mktemp("e2e")
    fleet = Fleet.create(tmp / "fleet", SPEC)
    hdds = [d for d in fleet.disks() if d.kind == "hdd" and d.mounted and not d.suspended]
    failing = hdds[0]
    fleet.set_knobs(failing.idx, failed=1)
    fleet.advance(3 * 3600)  # long enough for idle disks to spin down (20 min timers)
    cfg = tmp / "config.ini"
    # piggyback off: every rotational disk is asked every cycle (with -n standby), so
    # every protocol is exercised, and sleeping disks answer standby.
    cfg.write_text("[monitoring]\nmounted_only = false\npiggyback = false\ninterval = 1\n")
    db = str(tmp / "maid_smart_data.db")
    common = ["--db", db, "--smartctl", fleet.smartctl, "--procfs", fleet.procfs,
              "--sysfs", fleet.sysfs]
    first = run_cli("--config", str(cfg), *common)
    fleet.advance(60)
    time.sleep(1.2)  # the CLI's clock is real time: let the 1 s interval pass
    second = run_cli("--config", str(cfg), *common)
    conn = sqlite3.connect(db)
    alerted_after_two = {r[0] for r in conn.execute("SELECT device FROM health_alerts")}
    conn.close()
    before_wakes = (fleet.totals(), alerted_after_two)
    # A third run with max_staleness: the way to read megaraid members (no counters of
    # their own, controller ignores -n) is a deliberate, counted wake.
    stale = tmp / "stale.ini"
    stale.write_text(cfg.read_text() + "max_staleness = 1s\n")
    third = run_cli("--config", str(stale), *common)
    summary = run_cli("--db", db, "--summary")
    export = run_cli("--db", db, "--export", "-")
    yield fleet, db, failing, (first, second, third), summary, export, before_wakes
    fleet.close()


def test_cycles_exit_0_with_one_line(fleet_run):
    for proc in fleet_run[3]:
        assert proc.returncode == 0, proc.stderr
        out = proc.stdout.strip().splitlines()
        assert len(out) == 1
        assert out[0].startswith("devices read: ") and ", failed: " in out[0]
        assert "[MAID-SMART] " in proc.stderr and " - INFO - Cycle done" in proc.stderr


def test_every_protocol_is_stored_with_its_identity(fleet_run):
    fleet, db, *_ = fleet_run
    conn = sqlite3.connect(db)
    stored = {r[0]: r for r in conn.execute("SELECT serial, protocol, dev_type FROM disks")}
    by_kind = {}
    for d in fleet.disks():
        by_kind.setdefault(d.kind, []).append(d)
    for kind in ("hdd", "ssd", "sas", "nvme", "raid", "usb"):
        assert any(d.serial in stored for d in by_kind[kind]), f"no {kind} disk stored"
    protocols = {r[1] for r in stored.values()}
    assert {"ATA", "NVMe", "SCSI"} <= protocols
    types = {r[2] for r in stored.values()}
    assert {"sat", "nvme", "scsi", "usbjmicron"} <= types
    assert any(t.startswith("megaraid,") for t in types)


def test_sata_disks_read_as_sat_with_their_attribute_table(fleet_run):
    """Every reading of a SATA disk stores the whole attribute table of its recording."""
    fleet, db, *_ = fleet_run
    from maid_smart_monitor.sim.fleet import RECORDINGS

    conn = sqlite3.connect(db)
    per_reading = conn.execute(
        "SELECT d.serial, r.id, (SELECT count(*) FROM smart_data s WHERE s.reading_id = r.id)"
        " FROM disks d JOIN readings r USING (disk_id) WHERE d.dev_type = 'sat'").fetchall()
    assert per_reading
    by_serial = {d.serial: d for d in fleet.disks()}
    for serial, _reading, n in per_reading:
        doc = json.loads((RECORDINGS / by_serial[serial].recording).read_text())
        assert n == len(doc["ata_smart_attributes"]["table"]), serial


def test_failed_drive_raises_a_critical_alert(fleet_run):
    _, db, failing, *_ = fleet_run
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT a.alert_type, a.severity, a.device FROM health_alerts a JOIN disks d"
        " USING (disk_id) WHERE d.serial = ? AND a.resolved = 0", (failing.serial,)).fetchall()
    assert ("smart_failed", "critical", failing.path) in rows


def test_sleeping_disks_are_standby_never_failed_and_not_woken(fleet_run):
    fleet, db, *_, (before_wakes, alerted) = fleet_run
    conn = sqlite3.connect(db)
    # cycles 1 and 2 (without max_staleness): sleeping disks answered standby both times
    only_asleep = [r[0] for r in conn.execute(
        "SELECT device FROM checks WHERE cycle_id <= 2 GROUP BY device"
        " HAVING min(result) = 'skipped-standby' AND max(result) = 'skipped-standby'")]
    assert only_asleep, "the fleet had sleeping disks: some must have answered standby"
    assert before_wakes.spinups_monitor == 0
    assert before_wakes.opened_suspended == 0
    # asked once; the second cycle knows they sleep and saw no host I/O: not asked again
    assert before_wakes.standby_answers == len(only_asleep)
    # a standby answer is no reading: nothing judged, no alert from it
    assert not alerted & set(only_asleep)


def test_megaraid_members_are_read_only_by_a_counted_wake(fleet_run):
    fleet, db, *_ = fleet_run
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT cycle_id, result FROM checks WHERE device_key LIKE"
                        " '/dev/bus/0:megaraid,%' ORDER BY cycle_id").fetchall()
    assert {r for c, r in rows if c <= 2} == {"skipped-idle"}
    assert {r for c, r in rows if c == 3} == {"woken"}
    wakes = dict(conn.execute("SELECT key, deliberate_wakes FROM disk_memory"
                              " WHERE key LIKE '/dev/bus/0:megaraid,%'"))
    assert wakes and set(wakes.values()) == {1}


def test_summary_starts_with_the_seed_format(fleet_run):
    fleet, db, failing, _, summary, _, _ = fleet_run
    assert summary.returncode == 0, summary.stderr
    lines = summary.stdout.splitlines()
    conn = sqlite3.connect(db)
    total = conn.execute("SELECT count(*) FROM disks").fetchone()[0]
    alerts = conn.execute("SELECT device, count(*) FROM health_alerts WHERE resolved = 0"
                          " GROUP BY device ORDER BY device").fetchall()
    assert lines[0] == "MAID SMART Health Summary:"
    assert lines[1] == f"Total devices: {total}"
    assert lines[2] == f"Devices with alerts: {len(alerts)}"
    assert lines[3:3 + len(alerts)] == [f"  {dev}: {n} alerts" for dev, n in alerts]
    assert f"  {failing.path}: " in summary.stdout


def test_export_csv_has_the_seed_columns_and_every_stored_value(fleet_run):
    _, db, _, _, _, export, _ = fleet_run
    assert export.returncode == 0, export.stderr
    rows = list(csv.DictReader(io.StringIO(export.stdout)))
    assert set(rows[0]) >= {"timestamp", "device", "attribute_id", "attribute_name",
                            "raw_value"}
    conn = sqlite3.connect(db)
    n_attr = conn.execute("SELECT count(*) FROM smart_data").fetchone()[0]
    assert sum(1 for r in rows if r["attribute_id"]) == n_attr
    assert any(r["attribute_name"].startswith("nvme.") for r in rows)
    assert [r["timestamp"] for r in rows] == sorted(r["timestamp"] for r in rows)


def test_demo_runs_anywhere(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "maid_smart_monitor", "--demo"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    assert proc.returncode == 0, proc.stderr
    assert "MAID SMART Health Summary:" in proc.stdout
    assert "0 spin-ups caused by the monitor" in proc.stdout
    assert (tmp_path / "maid_demo.db").exists()
