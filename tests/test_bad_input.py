"""Bad input gets a clear error and loses nothing; the other disks are still read.

Each case runs the real ``maid-smart-monitor`` process against the smartctl look-alike,
with one disk misbehaving the way real smartctl runs do.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from conftest import locked_by_another_process
from maid_smart_monitor.sim.fleet import Fleet, FleetSpec

SPEC = FleetSpec(disks=6, seed=11, nvme=1, megaraid=0, usb=0, suspended=0, md_pairs=0,
                 ssd_fraction=0.0, sas_fraction=0.0, unmounted_fraction=0.0,
                 busy_fraction=0.5, lvm_fraction=0.0)
CONFIG = "[monitoring]\nmounted_only = false\npiggyback = false\nsmartctl_timeout = 3\n"


def cli(fleet: Fleet, db: str, cfg: str, *extra: str, timeout: float = 120):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    return subprocess.run(
        [sys.executable, "-m", "maid_smart_monitor", "--config", cfg, "--db", db,
         "--smartctl", fleet.smartctl, "--procfs", fleet.procfs, "--sysfs", fleet.sysfs,
         *extra],
        capture_output=True, text=True, timeout=timeout, env=env,
    )


@pytest.fixture
def setup(tmp_path):
    fleet = Fleet.create(tmp_path / "fleet", SPEC)
    cfg = tmp_path / "config.ini"
    cfg.write_text(CONFIG)
    yield fleet, str(tmp_path / "maid.db"), str(cfg)
    fleet.close()


def spinning_hdds(fleet: Fleet):
    return [d for d in fleet.disks() if d.kind == "hdd"]


def stored_serials(db: str) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {r[0] for r in conn.execute("SELECT serial FROM disks")}
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("knob", "message"),
    [
        ("truncated", "not valid JSON"),
        ("garbage", "not valid JSON"),
        ("hang", "did not finish within 3 s"),
        ("denied", "ermission denied"),
        ("missing", "No such device"),
    ],
)
def test_one_bad_disk_is_a_clear_error_and_the_others_are_read(setup, knob, message):
    fleet, db, cfg = setup
    now = fleet.now()
    awake = [d for d in spinning_hdds(fleet) if d.power_state(now) != "standby"]
    assert awake, "the seeded fleet has spinning disks at the start"
    bad = awake[0]
    good = [d for d in fleet.disks() if d.idx != bad.idx]
    fleet.set_knobs(bad.idx, **{knob: 1})
    # explicit devices: a missing disk drops out of --scan, as it does for real smartctl
    devices = ",".join(f"{d.path}:{d.true_type}" for d in fleet.disks())
    proc = cli(fleet, db, cfg, "--devices", devices)
    assert proc.returncode == 0, proc.stderr
    assert "failed: 1" in proc.stdout
    error_lines = [line for line in proc.stderr.splitlines() if " - ERROR - " in line]
    assert any(bad.path in line and message in line for line in error_lines), proc.stderr
    serials = stored_serials(db)
    assert bad.serial not in serials
    conn = sqlite3.connect(db)
    read = {r[0] for r in conn.execute("SELECT device FROM checks WHERE result = 'read'")}
    good_read = [d for d in good if d.path in read]
    assert good_read, "the other spinning disks must have been read"
    assert {d.serial for d in good_read} <= serials
    result, reason = conn.execute(
        "SELECT result, reason FROM checks WHERE device = ?", (bad.path,)).fetchone()
    assert result == "error" and message in reason


def test_missing_smartctl_binary(setup, tmp_path):
    fleet, db, cfg = setup
    env = {"PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "maid_smart_monitor", "--config", cfg, "--db", db,
         "--smartctl", str(tmp_path / "no-such-smartctl")],
        capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"maid-smart-monitor: error: smartctl not found: '{tmp_path / 'no-such-smartctl'}' "
        "(install smartmontools)")


def test_missing_smartctl_with_explicit_devices_is_an_error_per_disk(setup, tmp_path):
    fleet, db, cfg = setup
    hdd = spinning_hdds(fleet)[0]
    env = {"PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "maid_smart_monitor", "--config", cfg, "--db", db,
         "--smartctl", str(tmp_path / "gone"), "--procfs", fleet.procfs,
         "--sysfs", fleet.sysfs, "--devices", f"{hdd.path}:sat"],
        capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0
    assert "failed: 1" in proc.stdout
    assert "not found" in proc.stderr


def test_deleted_database_is_recreated_by_the_next_run(setup):
    fleet, db, cfg = setup
    assert cli(fleet, db, cfg).returncode == 0
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    proc = cli(fleet, db, cfg)
    assert proc.returncode == 0, proc.stderr
    assert stored_serials(db), "the re-created database holds this run's readings"


def test_corrupt_database_is_moved_aside_with_a_message(setup):
    fleet, db, cfg = setup
    junk = b"SQLite format 3\x00" + os.urandom(4096)
    with open(db, "wb") as fh:
        fh.write(junk)
    proc = cli(fleet, db, cfg)
    assert proc.returncode == 0, proc.stderr
    moved = [f for f in os.listdir(os.path.dirname(db)) if ".corrupt-" in f]
    assert len(moved) == 1
    with open(os.path.join(os.path.dirname(db), moved[0]), "rb") as fh:
        assert fh.read() == junk  # never overwritten
    assert "moved it aside to" in proc.stderr and moved[0] in proc.stderr
    assert stored_serials(db), "the new database holds this run's readings"


def test_locked_database_keeps_the_readings_for_the_next_cycle(setup, tmp_path):
    """A daemon whose database is locked by another process for a while stores the
    readings of that cycle once the lock is gone: nothing is lost."""
    fleet, db, cfg = setup
    from maid_smart_monitor import config
    from maid_smart_monitor.monitor import MAIDSmartMonitor

    settings = config.load(environ={}, config_file=cfg).replace(
        db_path=db, smartctl=fleet.smartctl, procfs=fleet.procfs, sysfs=fleet.sysfs,
        busy_timeout=0.3)
    monitor = MAIDSmartMonitor(settings=settings, clock=fleet.now)
    with locked_by_another_process(db):
        report = monitor.run_monitoring_cycle()
        read_first = {o.record.disk_id for o in report.outcomes
                      if o.record is not None and o.record.ok}
        assert read_first
    assert stored_serials(db) == set()
    fleet.advance(600)
    monitor.run_monitoring_cycle()
    monitor.close()
    conn = sqlite3.connect(db)
    first_time = conn.execute("SELECT min(timestamp) FROM readings").fetchone()[0]
    kept = {r[0] for r in conn.execute(
        "SELECT disk_id FROM readings WHERE timestamp = ?", (first_time,))}
    assert kept == read_first
    # the kept readings carry the time they were taken, not the time they were stored
    times = [r[0] for r in conn.execute("SELECT DISTINCT timestamp FROM readings")]
    assert len(times) == 2


def test_unstored_readings_are_bounded(setup, monkeypatch, caplog):
    """A database unusable for days must not exhaust memory: the newest are kept."""
    fleet, db, cfg = setup
    from maid_smart_monitor import config
    from maid_smart_monitor import monitor as monitor_mod

    monkeypatch.setattr(monitor_mod, "MAX_PENDING", 3)
    settings = config.load(environ={}, config_file=cfg).replace(
        db_path=db, smartctl=fleet.smartctl, procfs=fleet.procfs, sysfs=fleet.sysfs,
        busy_timeout=0.2)
    m = monitor_mod.MAIDSmartMonitor(settings=settings, clock=fleet.now)
    with locked_by_another_process(db):
        report = m.run_monitoring_cycle()
        good = [o for o in report.outcomes if o.record is not None and o.record.ok]
        assert len(good) > 3
    assert len(m._pending) == 3
    assert f"dropped the {len(good) - 3} oldest unstored reading(s)" in caplog.text
    m.close()


@pytest.mark.parametrize("mode", [["--summary"], ["--report"], ["--export", "-"], ["--alerts"]])
def test_read_only_commands_never_create_or_move_a_database(tmp_path, mode):
    env = {"PATH": "/usr/bin:/bin"}
    missing = tmp_path / "no" / "such" / "maid.db"
    proc = subprocess.run([sys.executable, "-m", "maid_smart_monitor", "--db", str(missing),
                           *mode], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 1
    assert "does not exist" in proc.stderr
    assert not (tmp_path / "no").exists()
    junk = tmp_path / "report.csv"
    junk.write_text("a,b\n1,2\n")
    proc = subprocess.run([sys.executable, "-m", "maid_smart_monitor", "--db", str(junk),
                           *mode], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 1
    assert "corrupt" in proc.stderr or "not a database" in proc.stderr
    assert junk.read_text() == "a,b\n1,2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.csv"]


def test_demo_never_writes_into_the_configured_database(tmp_path):
    prod = tmp_path / "prod.db"
    env = {"PATH": "/usr/bin:/bin", "MAID_DB_PATH": str(prod)}
    proc = subprocess.run([sys.executable, "-m", "maid_smart_monitor", "--demo",
                           "--demo-disks", "12"], capture_output=True, text=True,
                          timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not prod.exists()
    assert (tmp_path / "maid_demo.db").exists()


def test_smartctl_too_old_for_json_is_named(tmp_path):
    """smartctl 6.x prints text, not JSON: say so, instead of 'cannot parse'."""
    old = tmp_path / "smartctl"
    old.write_text(
        "#!/bin/sh\n"
        "echo 'smartctl 6.6 2016-05-31 r4324 [x86_64-linux-4.19.0] (local build)'\n"
        "echo 'Copyright (C) 2002-16, Bruce Allen, Christian Franke, www.smartmontools.org'\n"
        "case \"$*\" in *--version*) exit 0;; esac\n"
        "echo\necho '=======> UNRECOGNIZED OPTION: json'\nexit 1\n")
    old.chmod(0o755)
    proc = subprocess.run(
        [sys.executable, "-m", "maid_smart_monitor", "--db", str(tmp_path / "x.db"),
         "--smartctl", str(old)],
        capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1
    assert "smartctl 6.6 is too old" in proc.stderr and "7.0 or newer" in proc.stderr
