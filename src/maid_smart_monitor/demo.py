"""``--demo``: monitor a simulated fleet built from recordings of real drives.

The monitor runs unchanged; only what is on the other side of its boundaries is
simulated: the ``smartctl`` it runs is the package's look-alike (a real executable), and
its procfs/sysfs roots are trees the simulator keeps up to date. Simulated time moves
ten minutes between full cycles, with the daemon's cheap ticks in between, so the
piggy-back policy has host I/O to ride on.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from typing import Any

from maid_smart_monitor import config as config_mod
from maid_smart_monitor.monitor import MAIDSmartMonitor
from maid_smart_monitor.sim.drive import drive
from maid_smart_monitor.sim.fleet import Fleet, FleetSpec

DEMO_DB = "maid_demo.db"
CYCLES = 4
STEP = 600.0  # simulated seconds between cycles


def demo_spec(disks: int) -> FleetSpec:
    """A small mixed fleet: SATA HDDs and SSDs, SAS, NVMe, megaraid, a USB bridge."""
    disks = max(disks, 12)
    return FleetSpec(
        disks=disks, seed=7, nvme=2, megaraid=2, usb=1, suspended=1, md_pairs=1,
        busy_fraction=0.3, mean_session=900.0, quantum=10.0,
    )


def run_demo(settings: config_mod.Settings, *, disks: int = 24,
             args: argparse.Namespace | None = None) -> int:
    db_path = settings.db_path
    if not settings.sources.get("db_path", "").startswith("command line"):
        # Only an explicit --db may receive simulated disks: MAID_DB_PATH or a config
        # file name the production database.
        db_path = DEMO_DB
    workdir = tempfile.mkdtemp(prefix="maid-demo-")
    try:
        fleet = Fleet.create(workdir, demo_spec(disks))
        failing = _first(fleet, "hdd")
        if failing is not None:
            fleet.set_knobs(failing, failed=1)
        settings = settings.replace(
            db_path=db_path, smartctl=fleet.smartctl, procfs=fleet.procfs,
            sysfs=fleet.sysfs, interval=STEP, devices=None,
        )
        monitor = MAIDSmartMonitor(settings=settings, clock=fleet.now)
        try:
            print(f"Simulated fleet: {len(fleet.disks())} disks "
                  f"(smartctl look-alike: {fleet.smartctl})")
            cycles = 0

            def show(_t: float, report: Any, full: bool) -> None:
                nonlocal cycles
                if full:
                    cycles += 1
                    print(f"cycle {cycles}: {report.line()}")
                elif report.outcomes:
                    print(f"  daemon tick: piggy-back read of {report.read} disk(s) "
                          "right after their host I/O")

            # As the daemon runs: full cycles every STEP, cheap ticks in between.
            drive(fleet, monitor, days=CYCLES * STEP / 86400, interval=STEP,
                  on_report=show)
            totals = fleet.totals()
            print(monitor.print_summary())
            print(
                f"Simulator accounting: {totals.commands} smartctl commands, "
                f"{totals.standby_answers} standby answers, "
                f"{totals.spinups_monitor} spin-ups caused by the monitor, "
                f"{totals.resets_monitor} idle-timer resets caused by the monitor"
            )
            print(f"Database: {os.path.abspath(db_path)}")
        finally:
            monitor.close()
            fleet.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _first(fleet: Fleet, kind: str) -> Any:
    for d in fleet.disks():
        if d.kind == kind and d.mounted and not d.suspended:
            return d.idx
    return None
