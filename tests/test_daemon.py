"""The daemon loop: cycles on time, ticks between, never overlapping, surviving errors,
and the real process answering SIGHUP (reload) and SIGTERM (stop)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from maid_smart_monitor.daemon import Daemon
from maid_smart_monitor.model import CycleReport
from maid_smart_monitor.sim.fleet import Fleet, FleetSpec


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class ScriptedMonitor:
    """Records calls; each call advances the fake clock by its own duration."""

    def __init__(self, clock: FakeClock, cycle_cost: float = 1.0, fail_on: int = -1) -> None:
        self.clock, self.cost, self.fail_on = clock, cycle_cost, fail_on
        self.calls: list[tuple[str, float, float]] = []

    def run_monitoring_cycle(self) -> CycleReport:
        start = self.clock.t
        self.clock.t += self.cost
        self.calls.append(("cycle", start, self.clock.t))
        if len(self.calls) == self.fail_on:
            raise RuntimeError("boom")
        return CycleReport()

    def piggyback_tick(self) -> CycleReport:
        self.calls.append(("tick", self.clock.t, self.clock.t))
        return CycleReport()


def run_daemon(monitor, clock, cycles, interval=10.0, sample=2.0):
    d = Daemon(monitor, interval=interval, sample_interval=sample, monotonic=clock,
               max_cycles=cycles)
    # The queue wait is real time; make waiting advance the fake clock instead.
    import queue

    class Q(queue.Queue):
        def get(self, block=True, timeout=None):  # noqa: ARG002 - signature of Queue.get
            clock.t += timeout or 0.0
            raise queue.Empty

    d.events = Q()
    assert d.run() == 0
    return d


def test_cycles_every_interval_with_ticks_between():
    clock = FakeClock()
    mon = ScriptedMonitor(clock, cycle_cost=1.0)
    run_daemon(mon, clock, cycles=3)
    starts = [s for kind, s, _ in mon.calls if kind == "cycle"]
    assert starts == [0.0, 10.0, 20.0]
    ticks = [s for kind, s, _ in mon.calls if kind == "tick"]
    # every sample_interval (2 s) after each 1 s cycle, until the next cycle is due
    assert ticks == [3.0, 5.0, 7.0, 9.0, 13.0, 15.0, 17.0, 19.0]


def test_a_slow_cycle_delays_the_next_one_never_overlaps(caplog):
    clock = FakeClock()
    mon = ScriptedMonitor(clock, cycle_cost=25.0)
    run_daemon(mon, clock, cycles=3)
    starts = [s for kind, s, _ in mon.calls if kind == "cycle"]
    assert starts == [0.0, 25.0, 50.0]  # each right after the last: late, never overlapping
    assert "longer than the 10 s interval" in caplog.text


def test_reload_adopts_the_new_interval():
    clock = FakeClock()
    mon = ScriptedMonitor(clock)

    class Reloaded(ScriptedMonitor):
        settings = type("S", (), {"interval": 4.0, "sample_interval": 1.0})()

    new = Reloaded(clock)
    d = Daemon(mon, interval=10.0, sample_interval=2.0, monotonic=clock, max_cycles=4,
               reload=lambda: new)
    import queue

    events = iter(["reload"])

    class Q(queue.Queue):
        def get(self, block=True, timeout=None):  # noqa: ARG002 - signature of Queue.get
            if clock.t >= 1.0:
                event = next(events, None)
                if event:
                    return event
            clock.t += timeout or 0.0
            raise queue.Empty

    d.events = Q()
    d.run()
    assert [s for kind, s, _ in mon.calls if kind == "cycle"] == [0.0]
    assert [s for kind, s, _ in new.calls if kind == "cycle"] == [4.0, 8.0, 12.0]
    assert d.interval == 4.0 and d.sample_interval == 1.0


def test_an_exception_in_a_cycle_does_not_stop_the_daemon(caplog):
    clock = FakeClock()
    mon = ScriptedMonitor(clock, fail_on=1)
    run_daemon(mon, clock, cycles=3)
    assert sum(1 for kind, *_ in mon.calls if kind == "cycle") == 3
    assert "Monitoring cycle failed; continuing" in caplog.text


def start_daemon(fleet: Fleet, cfg, db) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "maid_smart_monitor", "--daemon", "--config", str(cfg),
         "--db", str(db), "--smartctl", fleet.smartctl, "--procfs", fleet.procfs,
         "--sysfs", fleet.sysfs],
        stderr=subprocess.PIPE, text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )


def count(db, table: str) -> int:
    """Rows in a table of the daemon's database (0 while it is being created)."""
    try:
        conn = sqlite3.connect(db)
        try:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def wait_for(db, table: str, n: int, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and count(db, table) < n:
        time.sleep(0.2)
    return count(db, table)


@pytest.mark.serial
def test_real_daemon_reloads_on_hup_and_stops_on_term(tmp_path):
    fleet = Fleet.create(tmp_path / "fleet", FleetSpec(disks=6, seed=5, nvme=2, megaraid=0,
                                                       usb=0, suspended=0, md_pairs=0))
    cfg = tmp_path / "maid.ini"
    cfg.write_text("[monitoring]\ninterval = 3600\nsample_interval = 1\n")
    db = tmp_path / "maid.db"
    proc = start_daemon(fleet, cfg, db)
    try:
        assert wait_for(db, "cycles", 1, 60) == 1  # the first cycle; the next in an hour
        time.sleep(2)
        assert count(db, "cycles") == 1
        cfg.write_text("[monitoring]\ninterval = 1\nsample_interval = 1\n")
        proc.send_signal(signal.SIGHUP)
        assert wait_for(db, "cycles", 3, 30) >= 3, "the reloaded 1 s interval must be in force"
        stopped = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - stopped
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        fleet.close()
    assert "Configuration reloaded: full cycle every 1 s" in err
    assert "Daemon stopping after" in err
    assert took < 10, f"SIGTERM took {took:.1f} s: the daemon must not wait for its interval"


@pytest.mark.serial
def test_a_bad_reload_keeps_the_running_configuration(tmp_path):
    fleet = Fleet.create(tmp_path / "fleet", FleetSpec(disks=6, seed=6, nvme=2, megaraid=0,
                                                       usb=0, suspended=0, md_pairs=0))
    cfg = tmp_path / "maid.ini"
    cfg.write_text("[monitoring]\ninterval = 1\nsample_interval = 1\n")
    db = tmp_path / "maid.db"
    proc = start_daemon(fleet, cfg, db)
    try:
        wait_for(db, "readings", 2, 60)
        cfg.write_text("[monitoring]\ninterval = 0\n")  # invalid
        proc.send_signal(signal.SIGHUP)
        time.sleep(1)
        seen = count(db, "readings")
        assert wait_for(db, "readings", seen + 1, 30) > seen, (
            "the running configuration must keep storing readings")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        fleet.close()
    assert "Reload failed, keeping the running configuration" in err
    assert "interval = '0'" in err
    assert proc.returncode == 0
