"""Drive a monitor over a simulated fleet in simulated time, as its daemon would run.

The daemon runs a full cycle every ``interval`` and, between cycles, a cheap tick every
``sample_interval`` seconds that reads disks whose I/O counters just moved. Sampling a
1,000-disk fleet every 5 s for a simulated week is 120,000 ticks: too slow for a test.
With a fleet whose host sessions start and end on a grid (``FleetSpec.quantum``), a
tick taken ``offset`` seconds after each grid point sees exactly what a 5-second tick
would see that can change a decision: between two grid points every disk is either busy
throughout or idle throughout. So the driver steps the clock grid point by grid point
and calls the monitor's own methods (``run_monitoring_cycle``, ``piggyback_tick``).
"""

from __future__ import annotations

import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from maid_smart_monitor.model import CheckOutcome, CheckResult, CycleReport
from maid_smart_monitor.sim.fleet import Fleet, Totals


@dataclass
class DriveResult:
    """What happened over the run: the fleet's accounting and the monitor's own reports."""

    start: float
    end: float
    disks: int
    cycles: int = 0
    ticks: int = 0
    results: Counter[str] = field(default_factory=Counter)  # CheckResult value -> count
    woken: list[tuple[float, str, str]] = field(default_factory=list)  # (t, key, reason)
    read_keys: Counter[str] = field(default_factory=Counter)
    active_samples: int = 0
    fresh_samples: int = 0
    stale_examples: list[str] = field(default_factory=list)
    events: list[tuple[float, str, str]] | None = None  # (t, key, result), if kept
    wall: float = 0.0
    cpu: float = 0.0
    totals: Totals | None = None

    @property
    def disk_days(self) -> float:
        return self.disks * (self.end - self.start) / 86400.0

    @property
    def fresh_share(self) -> float:
        return self.fresh_samples / self.active_samples if self.active_samples else 1.0

    def per_1000_disk_days(self, n: float) -> float:
        return 1000.0 * n / self.disk_days if self.disk_days else 0.0


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def drive(
    fleet: Fleet,
    monitor: Any,
    *,
    days: float,
    interval: float,
    offset: float = 5.0,
    ticks: bool = True,
    warmup: float | None = None,
    keep_events: bool = False,
    on_report: Callable[[float, CycleReport, bool], None] | None = None,
) -> DriveResult:
    """Run ``monitor`` over ``fleet`` for ``days`` simulated days.

    Full cycles every ``interval``; daemon ticks at every grid point in between (or none
    with ``ticks=False``: one-shot runs from cron). Freshness is sampled after every step
    once ``warmup`` (default: one interval) has passed.
    """
    q = fleet.spec.quantum
    if q <= 0:
        raise ValueError("drive() needs a fleet with FleetSpec.quantum > 0")
    if interval % q:
        raise ValueError("interval must be a multiple of the fleet's quantum")
    t0 = fleet.now()
    end = t0 + days * 86400.0
    warm_until = t0 + (interval if warmup is None else warmup)
    res = DriveResult(start=t0, end=end, disks=len(fleet.disks()),
                      events=[] if keep_events else None)
    wall0, cpu0 = time.perf_counter(), _cpu()
    next_full = t0
    g = t0
    while g < end:
        fleet.advance_to(g + offset)
        full = g >= next_full
        if full:
            report = monitor.run_monitoring_cycle()
            res.cycles += 1
            next_full += interval
        elif ticks:
            report = monitor.piggyback_tick()
            res.ticks += 1
        else:
            report = None
        if report is not None:
            _collect(res, report, fleet.now())
            if on_report is not None:
                on_report(fleet.now(), report, full)
        if fleet.now() >= warm_until:
            active, fresh = fleet.freshness(interval)
            res.active_samples += active
            res.fresh_samples += fresh
            if fresh < active and len(res.stale_examples) < 5:
                res.stale_examples += [f"{fleet.now() - t0:.0f}s {d.key}"
                                       for d in fleet.stale_active(interval)[:2]]
        g += q
    fleet.advance_to(end)
    res.wall = time.perf_counter() - wall0
    res.cpu = _cpu() - cpu0
    res.totals = fleet.totals()
    return res


def _collect(res: DriveResult, report: CycleReport, t: float) -> None:
    o: CheckOutcome
    for o in report.outcomes:
        res.results[o.result.value] += 1
        if o.result in (CheckResult.READ, CheckResult.WOKEN):
            res.read_keys[o.device.key] += 1
        if o.result is CheckResult.WOKEN:
            res.woken.append((t, o.device.key, o.reason))
        if res.events is not None:
            res.events.append((t, o.device.key, o.result.value))
