"""MAID benchmark: what each read policy costs a simulated 1,000-disk fleet, and what the
monitor itself costs.

Run: ``.venv/bin/python benchmarks/bench_maid.py`` (a few minutes on 2 cores; see --help).

1. Policies side by side, same fleet, same seeded host activity, the real monitor driven
   in simulated time (``sim.drive``):
   (a) this policy (defaults: mounted_only, piggy-back, ``-n standby``), as the daemon runs;
   (b) the seed's policy: mounted disks, every interval, no power check;
   (c) a naive poller: every disk, every cycle, no power check (smartd without ``-n``,
       Scrutiny). (b) and (c) also ignore runtime PM, as those tools do.
   Figures: spin-ups caused per 1,000 disk-days, idle-timer resets (a read that extended
   a spinning disk's awake time by more than a minute) per 1,000 disk-days, share of
   disks with host I/O in the last interval whose reading is fresher than one interval,
   extra awake-hours caused per 1,000 disk-days.
2. One full cycle over 1,000 disks through real smartctl look-alike processes, against
   the bare cost of the same smartctl calls at the same concurrency (target <= 1.25x),
   and CPU per read.
3. The daemon's peak RSS (VmHWM) over a 1,000-disk fleet (target < 60 MB).
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from maid_smart_monitor import config
from maid_smart_monitor.model import PowerSnapshot
from maid_smart_monitor.monitor import MAIDSmartMonitor
from maid_smart_monitor.policy import PolicyConfig
from maid_smart_monitor.power import PowerReader
from maid_smart_monitor.sim.drive import DriveResult, drive
from maid_smart_monitor.sim.fleet import Fleet, FleetSpec
from maid_smart_monitor.sim.runner import SimRunner
from maid_smart_monitor.smartctl.runner import RunResult, SubprocessRunner


class KernelBlindPowerReader(PowerReader):
    """What the seed and naive pollers know: mounts, not runtime PM."""

    def __init__(self, *args: Any, everything_mounted: bool = False, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.everything_mounted = everything_mounted

    def snapshot(self, devices: Any) -> dict[str, PowerSnapshot]:
        snaps = super().snapshot(devices)
        return {k: replace(s, runtime_status=None,
                           mounted=s.mounted or self.everything_mounted)
                for k, s in snaps.items()}


def _monitor(fleet: Fleet, db: Path, runner: Any, interval: float, **kw: Any) -> MAIDSmartMonitor:
    settings = config.load(environ={}).replace(
        db_path=str(db), smartctl=fleet.smartctl, procfs=fleet.procfs, sysfs=fleet.sysfs,
        interval=interval, **kw)
    return MAIDSmartMonitor(settings=settings, runner=runner, clock=fleet.now)


# ---------------------------------------------------------------------------- 1. policies


def compare_policies(root: Path, disks: int, days: float, interval: float) -> None:
    spec = FleetSpec(disks=disks, seed=42, quantum=900.0, mean_session=3 * 3600.0,
                     min_session=900.0)
    variants = [
        ("(a) this policy", None, True, False),
        ("(b) seed: mounted, no -n", PolicyConfig(piggyback=False, power_check=False,
                                                   min_read_interval=interval), False, False),
        ("(c) naive: all, no -n", PolicyConfig(mounted_only=False, piggyback=False,
                                                power_check=False, min_read_interval=0.0),
         False, True),
    ]
    rows: list[tuple[str, DriveResult]] = []
    for name, policy, ticks, everything in variants:
        d = root / name.split()[0].strip("()")
        fleet = Fleet.create(d / "fleet", spec)
        monitor = _monitor(fleet, d / "maid.db", SimRunner(fleet.state_path, real_time=False),
                           interval)
        if policy is not None:
            monitor.policy = policy
            monitor.power = KernelBlindPowerReader(fleet.procfs, fleet.sysfs,
                                                   everything_mounted=everything)
        result = drive(fleet, monitor, days=days, interval=interval, ticks=ticks)
        monitor.close()
        fleet.close()
        rows.append((name, result))
        print(f"  ran {name}: {result.wall:.0f} s", file=sys.stderr)

    print(f"\n1. Read policies: {disks} disks, {days:g} simulated days, interval "
          f"{interval / 60:.0f} min, {spec.busy_fraction:.0%} of disks busy at a time, "
          f"standby timer {spec.standby_timer / 60:.0f} min")
    header = (f"{'policy':<26} {'spin-ups':>9} {'resets':>9} {'fresh':>7} "
              f"{'extra awake h':>14} {'reads':>8} {'power checks':>13}")
    print(f"{'':<26} {'per 1,000 disk-days':^19}  {'share':>7} {'/1,000 disk-d':>14}")
    print(header)
    for name, r in rows:
        t = r.totals
        assert t is not None
        print(f"{name:<26} {r.per_1000_disk_days(t.spinups_monitor):>9.1f} "
              f"{r.per_1000_disk_days(t.resets_monitor):>9.1f} {r.fresh_share:>7.1%} "
              f"{r.per_1000_disk_days(t.extra_awake / 3600):>14.1f} {t.reads_served:>8} "
              f"{t.power_checks:>13}")
    a, b, c = (r for _, r in rows)
    host = a.per_1000_disk_days(a.totals.spinups_host) if a.totals else 0
    print(f"(host-caused spin-ups, the same in all three runs: {host:.0f} per 1,000 "
          f"disk-days; (a) sampled disk activity {a.ticks} times between "
          f"{a.cycles} cycles)")


# ---------------------------------------------------------------------------- 2. cycle cost


class RecordingRunner:
    """Records the argv of every call, to replay them bare."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.argvs: list[tuple[str, ...]] = []
        self.lock = threading.Lock()

    def run(self, argv: Any, timeout: float = 60.0) -> RunResult:
        with self.lock:
            self.argvs.append(tuple(argv))
        return self.inner.run(argv, timeout=timeout)


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cycle_cost(root: Path, disks: int, concurrency: int) -> None:
    spec = FleetSpec(disks=disks, seed=43)
    fleet = Fleet.create(root / "cycle" / "fleet", spec)
    fleet.advance(600)
    runner = RecordingRunner(SubprocessRunner())
    monitor = _monitor(fleet, root / "cycle" / "maid.db", runner, 300.0,
                       concurrency=concurrency)
    # every disk gets its smartctl call: piggy-back off, power check on, spares included
    monitor.policy = PolicyConfig(mounted_only=False, piggyback=False)
    cpu0, kids0, t0 = _self_cpu(), _children_cpu(), time.perf_counter()
    report = monitor.run_monitoring_cycle()
    cycle_wall = time.perf_counter() - t0
    cycle_cpu, kids_cpu = _self_cpu() - cpu0, _children_cpu() - kids0
    monitor.close()
    argvs = list(runner.argvs)
    scans = [a for a in argvs if "--scan" in a]
    reads = [a for a in argvs if "--scan" not in a]

    bare = SubprocessRunner()
    t0 = time.perf_counter()
    for a in scans:
        bare.run(a, timeout=120)
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(lambda a: bare.run(a, timeout=120), reads))
    bare_wall = time.perf_counter() - t0
    ratio = cycle_wall / bare_wall if bare_wall else float("nan")
    n = len(reads)
    print(f"\n2. One cycle over {disks} disks through real smartctl look-alike processes, "
          f"concurrency {concurrency}")
    print(f"   {report.line()}")
    print(f"   cycle {cycle_wall:.1f} s; the same {len(argvs)} smartctl calls bare "
          f"{bare_wall:.1f} s: ratio {ratio:.2f}x (target <= 1.25x) "
          f"{'OK' if ratio <= 1.25 else 'OVER'}")
    print(f"   monitor CPU per read {1000 * cycle_cpu / max(n, 1):.2f} ms "
          f"(parse, policy, store, health); look-alike processes "
          f"{1000 * kids_cpu / max(n, 1):.1f} ms CPU each")
    fleet.close()


# ---------------------------------------------------------------------------- 3. daemon RSS


def _vm(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
    except OSError:
        pass
    return 0


def daemon_rss(root: Path, disks: int, seconds: float) -> None:
    # real time on both sides: the fleet's clock is the wall clock, like the daemon's
    spec = FleetSpec(disks=disks, seed=44, start=float(int(time.time())))
    fleet = Fleet.create(root / "daemon" / "fleet", spec, clock="real")
    cfg = root / "daemon" / "config.ini"
    cfg.write_text("[monitoring]\nsample_interval = 2\nconcurrency = 8\n")
    argv = [sys.executable, "-m", "maid_smart_monitor", "--daemon", "--interval", "20",
            "--config", str(cfg), "--db", str(root / "daemon" / "maid.db"),
            "--smartctl", fleet.smartctl, "--procfs", fleet.procfs, "--sysfs", fleet.sysfs,
            "--log-level", "WARNING"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(os.environ, **fleet.env()))
    peak = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            fleet.advance_to(time.time())  # host activity up to now
            peak = max(peak, _vm(proc.pid, "VmHWM"))
            time.sleep(1.0)
        peak = max(peak, _vm(proc.pid, "VmHWM"))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    tot = fleet.totals()
    print(f"\n3. Daemon over {disks} disks for {seconds:.0f} s (interval 20 s, disk activity "
          f"sampled every 2 s): peak RSS {peak / 1024:.1f} MB (target < 60 MB) "
          f"{'OK' if 0 < peak < 60 * 1024 else 'OVER'}; {tot.reads_served} reads, "
          f"{tot.spinups_monitor} spin-ups, {tot.resets_monitor} idle-timer resets caused")
    if proc.returncode not in (0, -signal.SIGTERM) and err:
        print("   daemon stderr:", err.decode(errors="replace")[-500:])
    fleet.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--disks", type=int, default=1000)
    ap.add_argument("--days", type=float, default=1.0, help="simulated days per policy")
    ap.add_argument("--interval", type=float, default=3600.0,
                    help="cycle interval in the policy comparison (multiple of 900 s)")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--daemon-seconds", type=float, default=60.0)
    ap.add_argument("--only", choices=["policies", "cycle", "daemon"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_maid_") as tmp:
        root = Path(tmp)
        if args.only in (None, "policies"):
            compare_policies(root, args.disks, args.days, args.interval)
        if args.only in (None, "cycle"):
            cycle_cost(root, args.disks, args.concurrency)
        if args.only in (None, "daemon"):
            daemon_rss(root, args.disks, args.daemon_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
