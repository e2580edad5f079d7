"""The fleet simulator: its disks, its kernel trees, and a smartctl look-alike that does to
a simulated disk what the real command does to a real one, and accounts for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from maid_smart_monitor.model import DiskRef, ReadState
from maid_smart_monitor.power import PowerReader
from maid_smart_monitor.sim.fake_smartctl import family, parse_args
from maid_smart_monitor.sim.fleet import Fleet, FleetSpec, _sd_name
from maid_smart_monitor.sim.runner import SimRunner
from maid_smart_monitor.smartctl.command import read_argv, scan_argv, version_argv
from maid_smart_monitor.smartctl.parse import parse_result, parse_version
from maid_smart_monitor.smartctl.runner import SubprocessRunner
from maid_smart_monitor.smartctl.scan import correct_type, parse_scan

SMALL = FleetSpec(disks=60, seed=7, nvme=2, megaraid=4, usb=1, suspended=2, md_pairs=1,
                  ssd_fraction=0.05, sas_fraction=0.1, unmounted_fraction=0.05,
                  lvm_fraction=0.1)


@pytest.fixture(scope="module")
def base_fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return Fleet.create(tmp_path_factory.mktemp("fleet"), SMALL)


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    """A fresh small fleet per test (state is mutated by every command)."""
    f = Fleet.create(tmp_path / "fleet", SMALL)
    yield f
    f.close()


@pytest.fixture
def runner(fleet: Fleet) -> SimRunner:
    return SimRunner(fleet.state_path, real_time=False)


def _pick(fleet: Fleet, kind: str, state: str | None = None, **where: object) -> DiskRef:
    t = fleet.now()
    for d in fleet.disks():
        if d.kind != kind or (state and d.power_state(t) != state):
            continue
        if all(getattr(d, k) == v for k, v in where.items()):
            return d.ref()
    raise LookupError(f"no {kind} disk in state {state} with {where}")


def _read(runner: SimRunner, ref: DiskRef, power_check: bool = True, **kw: object):
    result = runner.run(read_argv("smartctl", ref, power_check=power_check), **kw)
    return result, parse_result(result, ref)


# ---------------------------------------------------------------------------- the fleet


def test_sd_names_follow_the_kernel() -> None:
    assert [_sd_name(i) for i in (0, 25, 26, 51, 701, 702)] == [
        "sda", "sdz", "sdaa", "sdaz", "sdzz", "sdaaa"]


def test_fleet_composition(base_fleet: Fleet) -> None:
    disks = base_fleet.disks()
    kinds = Counter(d.kind for d in disks)
    assert len(disks) == SMALL.disks
    assert (kinds["nvme"], kinds["raid"], kinds["usb"]) == (2, 4, 1)
    assert kinds["ssd"] == 3 and kinds["sas"] == 6 and kinds["hdd"] == 44
    assert len({d.serial for d in disks}) == len(disks)
    assert len({d.wwn_id for d in disks}) == len(disks)
    assert len({d.key for d in disks}) == len(disks)
    raid = [d for d in disks if d.kind == "raid"]
    assert {d.path for d in raid} == {"/dev/bus/0"}
    assert sorted(d.member for d in raid) == [0, 1, 2, 3]
    assert all(d.block is None and d.rotational for d in raid)
    sata = [d for d in disks if d.kind == "hdd"]
    assert all(d.scan_type == "scsi" and d.true_type == "sat" and d.vendor == "ATA"
               for d in sata)
    assert sum(d.suspended for d in disks) == 2
    assert Counter(d.mount_via for d in disks)["md"] == 2
    # every recording a disk is built from exists
    root = Path(base_fleet._meta["recordings"])
    assert all((root / d.recording).is_file() for d in disks)


def test_fleet_is_reproducible(tmp_path: Path, base_fleet: Fleet) -> None:
    again = Fleet.create(tmp_path / "again", SMALL)
    strip = ("t_sim",)
    a = [{k: v for k, v in vars(d).items() if k not in strip} for d in base_fleet.disks()]
    b = [{k: v for k, v in vars(d).items() if k not in strip} for d in again.disks()]
    assert a == b


def test_kernel_view_matches_the_fleet(base_fleet: Fleet) -> None:
    reader = PowerReader(base_fleet.procfs, base_fleet.sysfs)
    disks = base_fleet.disks()
    snaps = reader.snapshot([d.ref() for d in disks])
    for d in disks:
        s = snaps[d.key]
        if d.block is None:
            assert (s.io, s.mounted) == (None, False)
            continue
        assert s.mounted == bool(d.mounted), d
        assert s.rotational == bool(d.rotational)
        assert s.suspended == bool(d.suspended)
        assert s.is_ata == (None if d.vendor is None else d.vendor == "ATA")
        assert s.io is not None and s.io.reads == int(d.io_reads)


def test_activity_pattern(tmp_path: Path) -> None:
    """About busy_fraction of the disks do host I/O at any time; idle ones spin down
    after the standby timer; counters move only with host I/O."""
    f = Fleet.create(tmp_path / "f", FleetSpec(disks=400, seed=3))
    busy_shares, standby_shares = [], []
    for _ in range(24):
        before = {d.idx: d.io_reads for d in f.disks()}
        f.advance(3600)
        t = f.now()
        disks = f.disks()
        rot = [d for d in disks if d.rotational and d.mounted and not d.suspended]
        busy_shares.append(sum(d.sess_start <= t < d.sess_end for d in rot) / len(rot))
        standby_shares.append(sum(d.power_state(t) == "standby" for d in rot) / len(rot))
        for d in disks:
            if d.io_reads != before[d.idx]:
                assert d.last_host > t - 3600  # moved => the host did I/O in this hour
    mean_busy = sum(busy_shares) / len(busy_shares)
    assert 0.06 < mean_busy < 0.14
    assert sum(standby_shares) / len(standby_shares) > 0.7
    tot = f.totals()
    assert tot.spinups_host > 0 and tot.commands == 0 and tot.spinups_monitor == 0


def test_clock_only_moves_forward(fleet: Fleet) -> None:
    fleet.advance(10)
    with pytest.raises(ValueError):
        fleet.advance_to(fleet.now() - 1)


# ---------------------------------------------------------------------------- power semantics


def test_power_check_on_a_sleeping_disk_does_not_wake_it(fleet: Fleet,
                                                         runner: SimRunner) -> None:
    ref = _pick(fleet, "hdd", "standby", mounted=1)
    result, rec = _read(runner, ref)
    assert result.returncode == 3 and rec.state is ReadState.STANDBY
    assert rec.smart_passed is None and rec.power_mode == "STANDBY"
    d = fleet.disk(ref.key)
    assert (d.power_checks, d.standby_answers, d.reads_served, d.spinups_monitor) == (
        1, 1, 0, 0)
    assert d.power_state(fleet.now()) == "standby"


def test_read_without_power_check_spins_it_up(fleet: Fleet, runner: SimRunner) -> None:
    ref = _pick(fleet, "hdd", "standby", mounted=1)
    _, rec = _read(runner, ref, power_check=False)
    assert rec.ok and rec.attributes
    d = fleet.disk(ref.key)
    assert (d.spinups_monitor, d.reads_unchecked, d.reads_served) == (1, 1, 1)
    fleet.advance(600)
    assert fleet.disk(ref.key).power_state(fleet.now()) in ("idle", "active")
    assert fleet.totals().extra_awake == pytest.approx(600, abs=1)
    fleet.advance(SMALL.standby_timer)
    d = fleet.disk(ref.key)
    assert d.power_state(fleet.now()) == "standby"
    assert d.extra_awake(fleet.now()) == pytest.approx(SMALL.standby_timer, abs=1)


def _spinning_after_host_io(fleet: Fleet) -> tuple[DiskRef, float]:
    """A SATA HDD whose host session just ended, still spinning; returns (ref, end)."""
    for _ in range(200):
        t = fleet.now()
        for d in fleet.disks():
            if d.kind == "hdd" and d.mounted and not d.suspended and \
                    d.last_host > t - 60 and d.sess_start > t and d.spinning(t):
                return d.ref(), d.last_host
        fleet.advance(30)
    raise LookupError("no disk finished a session")


def test_reading_an_idle_spinning_disk_resets_its_timer(fleet: Fleet,
                                                        runner: SimRunner) -> None:
    ref, _ = _spinning_after_host_io(fleet)
    fleet.advance(600)  # idle for ~10 min, still spinning (timer 20 min)
    d0 = fleet.disk(ref.key)
    assert d0.spinning(fleet.now()) and d0.sess_start > fleet.now()
    _, rec = _read(runner, ref)
    assert rec.ok
    d = fleet.disk(ref.key)
    assert (d.resets_monitor, d.spinups_monitor) == (1, 0)
    assert d.extension_total == pytest.approx(fleet.now() - d0.last_touch, abs=1)


def test_reading_right_after_host_io_costs_nothing(fleet: Fleet, runner: SimRunner) -> None:
    ref, _ = _spinning_after_host_io(fleet)
    _, rec = _read(runner, ref)
    assert rec.ok
    d = fleet.disk(ref.key)
    assert (d.resets_monitor, d.spinups_monitor) == (0, 0)
    assert d.extension_total < SMALL.reset_grace


def test_megaraid_ignores_the_power_check_and_wakes(fleet: Fleet, runner: SimRunner) -> None:
    ref = _pick(fleet, "raid", "standby")
    _, rec = _read(runner, ref)
    assert rec.ok and rec.power_check_supported is False
    assert any("CHECK POWER MODE not implemented" in m for m in rec.messages)
    d = fleet.disk(ref.key)
    assert (d.spinups_monitor, d.reads_unchecked, d.power_checks) == (1, 1, 0)


def test_sat_on_a_scsi_disk_sleeps_for_ever(fleet: Fleet, runner: SimRunner) -> None:
    sas = _pick(fleet, "sas", mounted=1)
    wrong = DiskRef(sas.path, "sat", sas.block, True)
    for _ in range(3):
        _, rec = _read(runner, wrong)
        assert rec.state is ReadState.STANDBY and rec.power_mode.startswith("SLEEP")
        fleet.advance(3600)
    _, rec = _read(runner, wrong, power_check=False)
    assert not rec.ok
    d = fleet.disk(sas.key)
    assert d.wrong_type == 4 and d.reads_served == 0
    _, right = _read(runner, sas, power_check=False)
    assert right.ok and right.scsi is not None


def test_scsi_on_a_sata_disk_reads_no_ata_attributes(fleet: Fleet, runner: SimRunner) -> None:
    sata = _pick(fleet, "hdd", mounted=1)
    _, as_scsi = _read(runner, DiskRef(sata.path, "scsi", sata.block, True),
                       power_check=False)
    _, as_sat = _read(runner, sata, power_check=False)
    assert as_scsi.ok and as_scsi.attributes == ()
    assert as_sat.ok and len(as_sat.attributes) > 5
    assert fleet.disk(sata.key).wrong_type == 1


def test_scan_types_need_the_sysfs_correction(fleet: Fleet, runner: SimRunner) -> None:
    result = runner.run(scan_argv("smartctl"))
    found = parse_scan(result.stdout)
    assert len(found) == SMALL.disks
    types = Counter(d.dev_type for d in found)
    assert types["scsi"] == 44 + 3 + 6  # SATA HDD + SATA SSD + SAS: all "scsi"
    assert types["usbjmicron"] == 1 and types["nvme"] == 2
    assert {d.dev_type for d in found if d.path == "/dev/bus/0"} == {
        f"megaraid,{i}" for i in range(4)}
    reader = PowerReader(fleet.procfs, fleet.sysfs)
    fixed = {correct_type(d, sysfs_vendor=reader.sysfs_vendor(d.block) if d.block else None)
             .key for d in found}
    assert fixed == {d.key for d in fleet.disks()}  # the true types, every one
    assert fleet.totals().commands == 0  # scanning opened nothing


def test_scan_open_opens_and_wakes(fleet: Fleet, runner: SimRunner) -> None:
    sleeping = sum(d.power_state(fleet.now()) in ("standby", "suspended")
                   for d in fleet.disks() if d.rotational)
    runner.run(["smartctl", "--scan-open", "--json=c"])
    tot = fleet.totals()
    assert tot.spinups_monitor == sleeping and tot.opened_suspended == SMALL.suspended


def test_suspended_disk_opened_is_resumed(fleet: Fleet, runner: SimRunner) -> None:
    ref = _pick(fleet, "hdd", suspended=1)
    status = Path(fleet.sysfs) / "block" / ref.block / "device" / "power" / "runtime_status"
    assert status.read_text().strip() == "suspended"
    _, rec = _read(runner, ref)
    assert rec.ok  # the resume spun it up, so the power check saw it active
    d = fleet.disk(ref.key)
    assert (d.opened_suspended, d.spinups_monitor) == (1, 1)
    assert status.read_text().strip() == "active"
    fleet.advance(SMALL.standby_timer + 1)  # autosuspend after a timer period idle
    assert status.read_text().strip() == "suspended"


def test_ssd_and_nvme_never_spin(fleet: Fleet, runner: SimRunner) -> None:
    for kind in ("ssd", "nvme"):
        ref = _pick(fleet, kind)
        _, rec = _read(runner, ref)
        assert rec.ok
        _, rec = _read(runner, ref, power_check=False)
        assert rec.ok
    tot = fleet.totals()
    assert (tot.spinups_monitor, tot.resets_monitor, tot.extra_awake) == (0, 0, 0.0)


# ---------------------------------------------------------------------------- knobs


@pytest.mark.parametrize(("knob", "state"), [
    ("garbage", ReadState.BAD_OUTPUT),
    ("truncated", ReadState.BAD_OUTPUT),
    ("denied", ReadState.PERMISSION_DENIED),
    ("missing", ReadState.OPEN_FAILED),
])
def test_failure_knobs(fleet: Fleet, runner: SimRunner, knob: str, state: ReadState) -> None:
    ref = _pick(fleet, "ssd")
    fleet.set_knobs(ref.key, **{knob: 1})
    _, rec = _read(runner, ref)
    assert rec.state is state, rec
    assert rec.smart_passed is None


def test_failed_health_knob(fleet: Fleet, runner: SimRunner) -> None:
    ref = _pick(fleet, "ssd")
    fleet.set_knobs(ref.key, failed=1)
    result, rec = _read(runner, ref)
    assert rec.ok and rec.smart_passed is False
    assert result.returncode & 0b1000


def test_usb_bridge_is_failing_and_can_lack_the_power_check(fleet: Fleet,
                                                            runner: SimRunner) -> None:
    ref = _pick(fleet, "usb")
    fleet.set_knobs(ref.key, check_unsupported=1)
    fleet.advance(7200)
    result = runner.run(["smartctl", "--json=c", "-a", "-d", ref.dev_type, "-n",
                         "standby,3,5", ref.path])
    assert result.returncode == 5  # STATUS2: unsupported check, exits before reading
    d = fleet.disk(ref.key)
    assert d.reads_served == 0 and d.spinups_monitor == 0
    _, rec = _read(runner, ref)  # without STATUS2 smartctl ignores -n and reads
    assert rec.ok and rec.smart_passed is False and rec.power_check_supported is False


def test_hang_knob_is_a_timeout(fleet: Fleet) -> None:
    ref = _pick(fleet, "ssd")
    fleet.set_knobs(ref.key, hang=1)
    result, rec = _read(SimRunner(fleet.state_path, real_time=True), ref, timeout=0.2)
    assert result.timed_out and rec.state is ReadState.TIMEOUT
    assert result.duration >= 0.2


def test_own_reads_can_move_diskstats(fleet: Fleet, runner: SimRunner) -> None:
    ref = _pick(fleet, "ssd")
    reader = PowerReader(fleet.procfs, fleet.sysfs)
    before = reader.io_counters([ref.block])[ref.block]
    _read(runner, ref)
    assert reader.io_counters([ref.block])[ref.block] == before
    fleet.set_knobs(ref.key, moves_counters=1)
    _read(runner, ref)
    assert reader.io_counters([ref.block])[ref.block].reads == before.reads + 2


def test_unknown_knob_is_refused(fleet: Fleet) -> None:
    with pytest.raises(ValueError):
        fleet.set_knobs(0, explode=1)


# ---------------------------------------------------------------------------- command line


@pytest.mark.parametrize(("argv", "error"), [
    (["--json=c", "-a", "-d", "sat", "/dev/sda"], None),
    (["-a", "-dsat", "--nocheck=standby,3", "/dev/sda"], None),
    (["--json", "--device=megaraid,3", "-x", "/dev/bus/0"], None),
    (["-a", "-d", "bogus", "/dev/sda"], "INVALID ARGUMENT TO -d"),
    (["-a", "-n", "deep", "/dev/sda"], "INVALID ARGUMENT TO -n"),
    (["-a", "-n", "standby,999", "/dev/sda"], "INVALID ARGUMENT TO -n"),
    (["--frobnicate", "/dev/sda"], "UNRECOGNIZED OPTION"),
    (["-a", "-d"], "requires an argument"),
    (["-a", "/dev/sda", "/dev/sdb"], "more than one device"),
])
def test_parse_args(argv: list[str], error: str | None) -> None:
    args = parse_args(argv)
    if error is None:
        assert args.error is None and args.path
    else:
        assert args.error and error in args.error


@pytest.mark.parametrize(("dev_type", "fam"), [
    ("sat", "ata"), ("sat,12", "ata"), ("usbjmicron", "ata"), ("scsi", "scsi"),
    ("nvme", "nvme"), ("megaraid,3", "megaraid"), ("sat+megaraid,0", "megaraid"),
    ("auto", "auto"), ("nope", None),
])
def test_family(dev_type: str, fam: str | None) -> None:
    assert family(dev_type) == fam


def test_bad_command_line_exit_1(runner: SimRunner) -> None:
    result = runner.run(["smartctl", "--json=c", "-a", "-d", "bogus", "/dev/sda"])
    assert result.returncode == 1
    assert json.loads(result.stdout)["smartctl"]["exit_status"] == 1


def test_version(runner: SimRunner) -> None:
    assert parse_version(runner.run(version_argv("smartctl")).stdout) == (7, 3)
    assert "smartctl 7.3" in runner.run(["smartctl", "--version"]).stdout


# ---------------------------------------------------------------------------- real processes


def test_real_process_boundary_matches_in_process(fleet: Fleet, runner: SimRunner) -> None:
    """The wrapper script is a real executable running the same code as SimRunner."""
    proc = SubprocessRunner()
    sleeping = _pick(fleet, "hdd", "standby", mounted=1)
    argv = read_argv(fleet.smartctl, sleeping)
    a, b = proc.run(argv, timeout=30), runner.run(argv)
    assert a.returncode == b.returncode == 3
    assert a.stdout == b.stdout  # byte for byte: same code, same simulated clock
    ssd = _pick(fleet, "ssd")
    a = proc.run(read_argv(fleet.smartctl, ssd), timeout=30)
    b = runner.run(read_argv(fleet.smartctl, ssd))
    ra, rb = parse_result(a, ssd), parse_result(b, ssd)
    assert ra.ok and rb.ok and ra.disk_id == rb.disk_id and ra.attributes == rb.attributes
    assert fleet.disk(sleeping.key).standby_answers == 2
    assert fleet.disk(ssd.key).reads_served == 2


def test_python_dash_m(fleet: Fleet) -> None:
    env = dict(os.environ, MAID_SIM_STATE=fleet.state_path)
    out = subprocess.run([sys.executable, "-m", "maid_smart_monitor.sim.fake_smartctl",
                          "--scan", "--json=c"], capture_output=True, text=True, env=env,
                         timeout=30, check=True)
    assert len(json.loads(out.stdout)["devices"]) == SMALL.disks
    missing = subprocess.run([sys.executable, "-m", "maid_smart_monitor.sim.fake_smartctl",
                              "--scan"], capture_output=True, text=True, timeout=30,
                             env={k: v for k, v in os.environ.items()
                                  if k != "MAID_SIM_STATE"})
    assert missing.returncode == 1 and "MAID_SIM_STATE" in missing.stderr


def test_hung_process_is_killed_at_its_timeout(fleet: Fleet) -> None:
    ref = _pick(fleet, "ssd")
    fleet.set_knobs(ref.key, hang=1)
    result = SubprocessRunner().run(read_argv(fleet.smartctl, ref), timeout=1.5)
    assert result.timed_out and result.returncode is None
    assert fleet.disk(ref.key).commands == 1


def test_concurrent_processes_account_every_command(fleet: Fleet) -> None:
    proc = SubprocessRunner()
    refs = [d.ref() for d in fleet.disks() if d.block][:12]
    argvs = [read_argv(fleet.smartctl, r) for r in refs] * 2
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda a: proc.run(a, timeout=60), argvs))
    assert all(r.returncode is not None and not r.timed_out for r in results)
    tot = fleet.totals()
    assert tot.commands == len(argvs)
    assert tot.standby_answers + tot.reads_served + tot.opened_suspended >= len(argvs) - 1
