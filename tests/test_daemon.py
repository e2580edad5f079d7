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
    assert ticks and all(t % 10 > 0 for t in ticks)


def test_a_slow_cycle_delays_the_next_one_never_overlaps():
    clock = FakeClock()
    mon = ScriptedMonitor(clock, cycle_cost=25.0)
    run_daemon(mon, clock, cycles=3)
    cycles = [(s, e) for kind, s, e in mon.calls if kind == "cycle"]
    for (_, end), (start, _) in zip(cycles, cycles[1:], strict=False):
        assert start >= end


def test_an_exception_in_a_cycle_does_not_stop_the_daemon(caplog):
    clock = FakeClock()
    mon = ScriptedMonitor(clock, fail_on=1)
    run_daemon(mon, clock, cycles=3)
    assert sum(1 for kind, *_ in mon.calls if kind == "cycle") == 3
    assert "Monitoring cycle failed; continuing" in caplog.text


@pytest.mark.serial
def test_real_daemon_reloads_on_hup_and_stops_on_term(tmp_path):
    fleet = Fleet.create(tmp_path / "fleet", FleetSpec(disks=6, seed=5, nvme=2, megaraid=0,
                                                       usb=0, suspended=0, md_pairs=0))
    cfg = tmp_path / "maid.ini"
    cfg.write_text("[monitoring]\ninterval = 2\nsample_interval = 1\n")
    db = tmp_path / "maid.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "maid_smart_monitor", "--daemon", "--config", str(cfg),
         "--db", str(db), "--smartctl", fleet.smartctl, "--procfs", fleet.procfs,
         "--sysfs", fleet.sysfs],
        stderr=subprocess.PIPE, text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    try:
        deadline = time.monotonic() + 60
        cycles = 0
        while time.monotonic() < deadline and cycles < 2:
            time.sleep(0.2)
            if db.exists():
                try:
                    conn = sqlite3.connect(db)
                    cycles = conn.execute("SELECT count(*) FROM cycles").fetchone()[0]
                    conn.close()
                except sqlite3.Error:
                    pass
        assert cycles >= 2, "two cycles within a minute at interval 2"
        cfg.write_text("[monitoring]\ninterval = 2\nsample_interval = 1\n"
                       "[logging]\nlevel = DEBUG\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(3)
        stopped = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0
        assert time.monotonic() - stopped < 30
    finally:
        if proc.poll() is None:
            proc.kill()
        fleet.close()
    assert "Configuration reloaded" in err
    assert "Daemon stopping after" in err
