"""The MAID promise, on a simulated fleet, through the real monitor.

``MAIDSmartMonitor`` runs unmodified, driven as its daemon runs it (full cycles every
interval, piggy-back ticks in between; ``sim.drive``), against the fleet's smartctl
look-alike and procfs/sysfs trees. The fleet accounts every command it receives:
spin-ups it caused, idle-timer resets it caused (a read that extended a spinning
disk's awake time by more than a minute), extra awake time.

Time budget: a simulated week of 1,000 disks runs with a 6-hour interval and host
sessions on a 15-minute grid (one tick per grid point then sees what 5-second ticks would
see; 15 minutes is the default activity_window, the longest look gap the policy accepts);
the default 5-minute interval runs on smaller fleets for half a day; the real process
boundary on a small fleet for half a day.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import pytest

from maid_smart_monitor import config
from maid_smart_monitor.model import CheckResult
from maid_smart_monitor.monitor import MAIDSmartMonitor
from maid_smart_monitor.policy import in_window
from maid_smart_monitor.sim.drive import DriveResult, drive
from maid_smart_monitor.sim.fleet import Fleet, FleetSpec
from maid_smart_monitor.sim.runner import SimRunner
from maid_smart_monitor.smartctl.runner import SubprocessRunner

DAY = 86400.0
WEEK_INTERVAL = 6 * 3600.0
WEEK_SPEC = FleetSpec(disks=1000, seed=11, quantum=900.0, mean_session=3 * 3600.0,
                      min_session=900.0, standby_timer=1200.0)


def _monitor(fleet: Fleet, db: Path, *, runner: object | None = None,
             **settings: object) -> MAIDSmartMonitor:
    s = config.load(environ={}).replace(
        db_path=str(db), smartctl=fleet.smartctl, procfs=fleet.procfs, sysfs=fleet.sysfs,
        **settings)
    return MAIDSmartMonitor(
        settings=s, runner=runner or SimRunner(fleet.state_path, real_time=False),
        clock=fleet.now)


def _assert_no_harm(result: DriveResult) -> None:
    tot = result.totals
    assert tot is not None
    harmed = {k: v for k, v in tot.per_disk.items()
              if v["spinups_monitor"] or v["resets_monitor"] or v["opened_suspended"]}
    assert harmed == {}, f"{len(harmed)} disks harmed, e.g. {list(harmed.items())[:3]}"
    assert (tot.spinups_monitor, tot.resets_monitor, tot.reads_unchecked) == (0, 0, 0)
    assert tot.wrong_type == 0 and tot.scan_opens == 0


def _assert_fresh(result: DriveResult) -> None:
    assert result.active_samples > 0
    assert result.fresh_samples == result.active_samples, (
        f"{result.active_samples - result.fresh_samples} stale samples of "
        f"{result.active_samples}, e.g. {result.stale_examples}")


# ---------------------------------------------------------------------------- a week

# One module-scoped run serves all week tests: serial, so that parallel workers do not
# each simulate the week again.


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Fleet, DriveResult]:
    root = tmp_path_factory.mktemp("week")
    fleet = Fleet.create(root / "fleet", WEEK_SPEC)
    monitor = _monitor(fleet, root / "maid.db", interval=WEEK_INTERVAL)
    try:
        result = drive(fleet, monitor, days=7, interval=WEEK_INTERVAL)
    finally:
        monitor.close()
    return fleet, result


@pytest.mark.serial
def test_week_the_monitor_did_its_job(week: tuple[Fleet, DriveResult]) -> None:
    fleet, result = week
    tot = result.totals
    assert result.cycles == 28 and result.ticks == 7 * 96 - 28
    assert result.results["read"] == tot.reads_served > 2000
    assert result.results.get("error", 0) == 0
    # every disk that served host I/O and can be seen doing it was read at least once
    busy = {d.key for d in fleet.disks() if d.spinups_host and d.block and d.mounted}
    assert busy and busy <= set(result.read_keys)


@pytest.mark.serial
def test_week_no_monitor_caused_spinups_or_idle_timer_resets(
        week: tuple[Fleet, DriveResult]) -> None:
    _, result = week
    _assert_no_harm(result)
    tot = result.totals
    # the reads rode on host I/O: at most the sampling offset of extra awake time each
    assert tot.extra_awake <= 5.0 * tot.reads_served
    assert tot.spinups_host > 1000  # the host did spin disks up: the fleet was not idle


@pytest.mark.serial
def test_week_busy_disks_have_a_reading_fresher_than_one_interval(
        week: tuple[Fleet, DriveResult]) -> None:
    _assert_fresh(week[1])


@pytest.mark.serial
def test_week_megaraid_that_ignores_n_is_never_touched(week: tuple[Fleet, DriveResult]) -> None:
    fleet, result = week
    raid = [d for d in fleet.disks() if d.kind == "raid"]
    assert len(raid) == WEEK_SPEC.megaraid
    assert sum(d.spinups_host for d in raid) > 0  # they did spin down and up
    assert [(d.key, d.commands) for d in raid if d.commands] == []
    assert all(result.read_keys[d.key] == 0 for d in raid)


@pytest.mark.serial
def test_week_suspended_disks_are_never_opened(week: tuple[Fleet, DriveResult]) -> None:
    fleet, result = week
    suspended = [d for d in fleet.disks() if d.autosuspend]
    assert len(suspended) == WEEK_SPEC.suspended
    assert all(d.suspended and d.commands == 0 and d.opened_suspended == 0 for d in suspended)
    assert result.results["skipped-suspended"] == WEEK_SPEC.suspended * result.cycles


@pytest.mark.serial
def test_week_unmounted_disks_are_left_alone(week: tuple[Fleet, DriveResult]) -> None:
    fleet, result = week
    spares = [d for d in fleet.disks() if d.mount_via == "none"]
    assert spares and all(d.commands == 0 for d in spares)
    # megaraid members have no block device: "mounted" is unknowable for them, so they
    # are not counted as unmounted (they are skipped as idle: no counters to ride on)
    assert result.results["skipped-unmounted"] == len(spares) * result.cycles


# ---------------------------------------------------------------------------- the defaults


@pytest.mark.parametrize("ticks", [True, False], ids=["daemon", "one-shot-per-cycle"])
def test_default_interval_daemon_and_cron(tmp_path: Path, ticks: bool) -> None:
    """Interval 300 s (the default): the daemon, and cron-style runs where every cycle is
    a new monitor whose only memory of the previous one is the database."""
    spec = FleetSpec(disks=40, seed=5, nvme=2, megaraid=2, suspended=2, md_pairs=1,
                     quantum=100.0 if ticks else 300.0, mean_session=1800.0,
                     min_session=300.0)
    fleet = Fleet.create(tmp_path / "fleet", spec)
    db = tmp_path / "maid.db"
    if ticks:
        monitor = _monitor(fleet, db)
        result = drive(fleet, monitor, days=0.5, interval=300.0)
        monitor.close()
        assert result.ticks == 2 * result.cycles
    else:
        class OneShot:
            """Each cycle a fresh process-like monitor over the same database."""

            def run_monitoring_cycle(self):  # noqa: ANN202
                m = _monitor(fleet, db)
                try:
                    return m.run_monitoring_cycle()
                finally:
                    m.close()

        result = drive(fleet, OneShot(), days=0.25, interval=300.0, ticks=False)
    _assert_no_harm(result)
    _assert_fresh(result)
    assert result.results["read"] > 50


def test_own_reads_moving_diskstats_do_not_keep_disks_awake(tmp_path: Path) -> None:
    """Newer kernels count SMART commands in /proc/diskstats; the monitor must not take
    its own read for host I/O and read again, keeping the disk awake by itself."""
    spec = FleetSpec(disks=30, seed=9, nvme=1, megaraid=1, suspended=1, md_pairs=1,
                     quantum=300.0, mean_session=1800.0, min_session=300.0)
    fleet = Fleet.create(tmp_path / "fleet", spec)
    for d in fleet.disks():
        fleet.set_knobs(d.idx, moves_counters=1)
    monitor = _monitor(fleet, tmp_path / "maid.db")
    result = drive(fleet, monitor, days=0.25, interval=300.0)
    monitor.close()
    _assert_no_harm(result)
    _assert_fresh(result)
    assert result.results["read"] > 20


# ---------------------------------------------------------------------------- max_staleness


def test_max_staleness_wakes_exactly_the_stale_disks(tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    spec = FleetSpec(disks=50, seed=21, nvme=1, megaraid=2, suspended=2, md_pairs=1,
                     busy_fraction=0.02, quantum=900.0, mean_session=3600.0,
                     min_session=900.0)
    fleet = Fleet.create(tmp_path / "fleet", spec)
    window = (60, 300)  # 01:00-05:00 local time
    staleness = 1 * DAY
    monitor = _monitor(fleet, tmp_path / "maid.db", interval=3600.0, max_staleness=staleness,
                       maintenance_window=window)
    with caplog.at_level(logging.INFO):
        result = drive(fleet, monitor, days=4, interval=3600.0, keep_events=True)
    monitor.close()
    tot = result.totals
    assert result.woken, "nothing was woken in four days of a mostly idle fleet"

    # every wake: inside the window, of a disk not read (nor first seen) for max_staleness
    reads: dict[str, list[float]] = defaultdict(list)
    first_seen: dict[str, float] = {}
    for t, key, res in result.events or []:
        first_seen.setdefault(key, t)
        if res == CheckResult.WOKEN.value:
            before = [r for r in reads[key] if r < t]
            since = before[-1] if before else first_seen[key]
            assert t - since >= staleness, (key, t - since)
            assert in_window(t, window), key
        if res in (CheckResult.READ.value, CheckResult.WOKEN.value):
            reads[key].append(t)

    # ... and every eligible disk got read: no disk left staler than staleness + a day
    eligible = {d.key for d in fleet.disks()
                if d.mounted and not d.autosuspend and d.block}
    end = result.end
    too_stale = [k for k in eligible if not reads[k] or end - reads[k][-1] > staleness + DAY]
    assert too_stale == []

    # the fleet saw exactly those wakes: one unchecked read per deliberate wake, and a
    # spin-up only for those that were asleep
    assert tot.reads_unchecked == len(result.woken)
    assert 0 < tot.spinups_monitor <= len(result.woken)
    assert tot.resets_monitor <= len(result.woken)  # a wake may land on a spinning disk
    woken_keys = {k for _, k, _ in result.woken}
    for d in fleet.disks():
        if d.key not in woken_keys:
            assert d.spinups_monitor == d.reads_unchecked == 0, d.key
        if d.autosuspend:
            assert d.commands == 0, d.key  # never: not even opened
        if d.kind == "raid":  # no counters, -n ignored: read only as a counted wake
            assert d.reads_unchecked == len([k for _, k, _ in result.woken if k == d.key])
            assert d.key in woken_keys, d.key
    # the store counts them per disk
    stored = {m.key: m.deliberate_wakes for m in _monitor(
        fleet, tmp_path / "maid.db").store.load_memory().values()}
    per_disk: dict[str, int] = defaultdict(int)
    for _, k, _ in result.woken:
        per_disk[k] += 1
    assert {k: v for k, v in stored.items() if v} == dict(per_disk)


def test_deliberate_wakes_are_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spec = FleetSpec(disks=20, seed=4, nvme=1, megaraid=1, suspended=1, md_pairs=0,
                     busy_fraction=0.01, quantum=900.0, mean_session=3600.0,
                     min_session=900.0)
    fleet = Fleet.create(tmp_path / "fleet", spec)
    monitor = _monitor(fleet, tmp_path / "maid.db", interval=3600.0, max_staleness=DAY)
    with caplog.at_level(logging.INFO):
        result = drive(fleet, monitor, days=1.5, interval=3600.0)
    monitor.close()
    assert result.woken
    logged = [r.getMessage() for r in caplog.records if "deliberate" in r.getMessage().lower()]
    for _, key, _ in result.woken:
        device = key.split(":")[0]
        assert any(device in line for line in logged), (key, logged[:5])


# ---------------------------------------------------------------------------- real processes


def test_real_process_boundary(tmp_path: Path) -> None:
    """The same promise with a smartctl look-alike process per command."""
    spec = FleetSpec(disks=24, seed=2, nvme=1, megaraid=2, suspended=1, md_pairs=1,
                     busy_fraction=0.25, quantum=900.0, mean_session=3600.0,
                     min_session=900.0)
    fleet = Fleet.create(tmp_path / "fleet", spec)
    monitor = _monitor(fleet, tmp_path / "maid.db", runner=SubprocessRunner(),
                       interval=3600.0)
    result = drive(fleet, monitor, days=0.25, interval=3600.0)
    monitor.close()
    _assert_no_harm(result)
    _assert_fresh(result)
    assert result.totals.commands == result.results["read"] > 5
    assert result.totals.scans == result.cycles
