"""The read policy, table-driven: every rule with the situation that triggers it."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maid_smart_monitor.model import (
    CheckResult,
    DiskMemory,
    DiskRef,
    Identity,
    IoCounters,
    PowerSnapshot,
    ReadDecision,
    ReadState,
    SmartRecord,
)
from maid_smart_monitor.policy import (
    PolicyConfig,
    decide,
    in_window,
    observe,
    power_check_known_unsupported,
    remember,
    result_of,
)

T = 1_000_000_000.0  # "now"
DAY = 86400.0
HDD = DiskRef("/dev/sda", "sat", "sda", True)
SSD = DiskRef("/dev/nvme0", "nvme", "nvme0n1", False)
RAID = DiskRef("/dev/bus/0", "megaraid,2")
USB = DiskRef("/dev/sdz", "usbjmicron", "sdz", True)

IO = IoCounters(1000, 500)
MOVED = IoCounters(1010, 500)


def snap(dev: DiskRef = HDD, io: IoCounters | None = MOVED, mounted: bool = True,
         rotational: bool | None = None, runtime: str | None = "active") -> PowerSnapshot:
    rot = dev.rotational if rotational is None else rotational
    if dev.block is None:
        io, rot, runtime = None, None, None
    return PowerSnapshot(dev, io, mounted, rot, runtime, True)


def mem(dev: DiskRef = HDD, *, read_ago: float | None = None, attempt_ago: float | None = None,
        look_ago: float | None = 5.0, baseline: IoCounters | None = IO,
        last: CheckResult | None = None, supported: bool | None = None,
        seen_ago: float | None = 30 * DAY) -> DiskMemory:
    if attempt_ago is None:
        attempt_ago = read_ago
    return DiskMemory(
        key=dev.key,
        last_read=None if read_ago is None else T - read_ago,
        last_attempt=None if attempt_ago is None else T - attempt_ago,
        io_baseline=baseline,
        last_look=None if look_ago is None else T - look_ago,
        last_result=last,
        power_check_supported=supported,
        first_seen=None if seen_ago is None else T - seen_ago,
    )


DEFAULT = PolicyConfig()
NO_PIGGY = PolicyConfig(piggyback=False)
SEED = PolicyConfig(piggyback=False, power_check=False)
NAIVE = PolicyConfig(mounted_only=False, piggyback=False, power_check=False,
                     min_read_interval=0.0)
STALE = PolicyConfig(max_staleness=7 * DAY)

R, W = CheckResult.READ, CheckResult.WOKEN
IDLE, SB = CheckResult.IDLE, CheckResult.STANDBY
UNM, SUS = CheckResult.UNMOUNTED, CheckResult.SUSPENDED

# id, snapshot, memory, config, (read, result, power_check)
CASES = [
    # --- never touch: suspended, unmounted
    ("suspended", snap(runtime="suspended"), mem(read_ago=9 * DAY), STALE, (False, SUS, True)),
    ("suspended-naive", snap(runtime="suspended"), None, NAIVE, (False, SUS, True)),
    ("unmounted", snap(mounted=False), mem(), DEFAULT, (False, UNM, True)),
    ("unmounted-ssd-allowed", snap(SSD, mounted=False), None,
     replace(DEFAULT, mounted_only=False), (True, R, True)),
    # --- solid state: every interval
    ("ssd-first", snap(SSD), None, DEFAULT, (True, R, True)),
    ("ssd-recent", snap(SSD), mem(SSD, read_ago=100), DEFAULT, (False, IDLE, True)),
    ("ssd-due-with-jitter", snap(SSD), mem(SSD, read_ago=299), DEFAULT, (True, R, True)),
    ("ssd-not-quite-due", snap(SSD), mem(SSD, read_ago=280), DEFAULT, (False, IDLE, True)),
    ("ssd-failed-attempt-not-hammered", snap(SSD), mem(SSD, read_ago=DAY, attempt_ago=60),
     DEFAULT, (False, IDLE, True)),
    # --- rotational, piggy-back
    ("hdd-first-look", snap(), None, DEFAULT, (False, IDLE, True)),
    ("hdd-no-baseline", snap(), mem(baseline=None), DEFAULT, (False, IDLE, True)),
    ("hdd-no-counters", snap(io=None), mem(), DEFAULT, (False, IDLE, True)),
    ("hdd-host-io", snap(), mem(read_ago=DAY), DEFAULT, (True, R, True)),
    ("hdd-host-io-never-read", snap(), mem(), DEFAULT, (True, R, True)),
    ("hdd-host-io-unknown-look-gap", snap(), mem(read_ago=DAY, look_ago=None), DEFAULT,
     (True, R, True)),
    ("hdd-host-io-read-recently", snap(), mem(read_ago=100), DEFAULT, (False, IDLE, True)),
    ("hdd-host-io-old-look", snap(), mem(read_ago=DAY, look_ago=1000), DEFAULT,
     (False, IDLE, True)),
    ("hdd-host-io-look-at-window", snap(), mem(read_ago=DAY, look_ago=900), DEFAULT,
     (True, R, True)),
    ("hdd-idle", snap(io=IO), mem(read_ago=DAY), DEFAULT, (False, IDLE, True)),
    ("hdd-idle-never-read", snap(io=IO), mem(), DEFAULT, (False, IDLE, True)),
    ("hdd-standby-no-io", snap(io=IO), mem(read_ago=DAY, attempt_ago=600, last=SB), DEFAULT,
     (False, SB, True)),
    ("hdd-standby-then-io", snap(), mem(read_ago=DAY, attempt_ago=600, last=SB), DEFAULT,
     (True, R, True)),
    ("sysfs-says-solid-state", snap(rotational=False, io=IO),
     mem(read_ago=DAY), DEFAULT, (True, R, True)),
    ("hdd-unknown-rotation-idle", snap(DiskRef("/dev/sdq", "sat", "sdq"), io=IO),
     mem(read_ago=DAY), DEFAULT, (False, IDLE, True)),
    # --- piggy-back off: every interval with -n (smartd -n standby)
    ("nopiggy-idle-due", snap(io=IO), mem(read_ago=DAY), NO_PIGGY, (True, R, True)),
    ("nopiggy-not-due", snap(io=IO), mem(read_ago=100), NO_PIGGY, (False, IDLE, True)),
    ("nopiggy-standby-no-io", snap(io=IO), mem(read_ago=DAY, attempt_ago=600, last=SB),
     NO_PIGGY, (False, SB, True)),
    ("nopiggy-standby-no-counters-asks-again", snap(io=None),
     mem(read_ago=DAY, attempt_ago=600, last=SB), NO_PIGGY, (True, R, True)),
    # --- the seed (mounted, no -n) and a naive poller (everything, always, no -n)
    ("seed-idle", snap(io=IO), mem(read_ago=DAY), SEED, (True, R, False)),
    ("seed-unmounted", snap(io=IO, mounted=False), mem(read_ago=DAY), SEED, (False, UNM, True)),
    ("naive-unmounted-just-read", snap(io=IO, mounted=False), mem(read_ago=10), NAIVE,
     (True, R, False)),
    # --- power check not implemented (megaraid behind a controller, some USB bridges)
    ("raid-default", snap(RAID), None, DEFAULT, (False, IDLE, True)),
    ("raid-remembered", snap(RAID), mem(RAID, read_ago=DAY, baseline=None), DEFAULT,
     (False, IDLE, True)),
    ("raid-unmounted-ok-nopiggy", snap(RAID), mem(RAID, read_ago=DAY, baseline=None),
     replace(NO_PIGGY, mounted_only=False), (False, IDLE, True)),
    ("raid-stale-woken-on-schedule", snap(RAID), mem(RAID, read_ago=30 * DAY, baseline=None),
     STALE, (True, W, False)),
    ("raid-not-stale-not-woken", snap(RAID), mem(RAID, read_ago=DAY / 2, baseline=None),
     STALE, (False, IDLE, True)),
    ("raid-naive-reads-cold", snap(RAID), None, NAIVE, (True, R, False)),
    ("usb-unsupported-host-io", snap(USB), mem(USB, read_ago=DAY, supported=False), DEFAULT,
     (True, R, True)),
    ("usb-unsupported-nopiggy-idle", snap(USB, io=IO), mem(USB, read_ago=DAY, supported=False),
     NO_PIGGY, (False, IDLE, True)),
    ("usb-unsupported-stale", snap(USB, io=IO), mem(USB, read_ago=30 * DAY, supported=False),
     STALE, (True, W, False)),
    # --- max_staleness: deliberate wakes
    ("stale-woken", snap(io=IO), mem(read_ago=8 * DAY), STALE, (True, W, False)),
    ("stale-recent-attempt", snap(io=IO), mem(read_ago=8 * DAY, attempt_ago=DAY), STALE,
     (False, IDLE, True)),
    ("stale-never-read-seen-long-ago", snap(io=IO), mem(seen_ago=8 * DAY), STALE,
     (True, W, False)),
    ("stale-never-read-seen-recently", snap(io=IO), mem(seen_ago=DAY), STALE,
     (False, IDLE, True)),
    ("stale-first-look", snap(io=IO), None, STALE, (False, IDLE, True)),
    ("stale-but-host-io-rides", snap(), mem(read_ago=8 * DAY), STALE, (True, R, True)),
    ("stale-standby-woken", snap(io=IO), mem(read_ago=8 * DAY, attempt_ago=8 * DAY, last=SB),
     STALE, (True, W, False)),
    ("fresh-not-woken", snap(io=IO), mem(read_ago=6 * DAY), STALE, (False, IDLE, True)),
    ("stale-ssd-is-just-read", snap(SSD), mem(SSD, read_ago=8 * DAY), STALE, (True, R, True)),
]


@pytest.mark.parametrize(("snapshot", "memory", "cfg", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decide(snapshot: PowerSnapshot, memory: DiskMemory | None, cfg: PolicyConfig,
                expected: tuple[bool, CheckResult, bool]) -> None:
    d = decide(snapshot, memory, T, cfg)
    assert (d.read, d.result, d.power_check) == expected, d.reason
    assert d.reason  # every verdict says why


def _window_around_now(offset_min: int, length: int) -> tuple[int, int]:
    t = time.localtime(T)
    m = t.tm_hour * 60 + t.tm_min
    return ((m + offset_min) % 1440, (m + offset_min + length) % 1440)


@pytest.mark.parametrize(("window", "woken"), [
    (_window_around_now(-10, 60), True),  # inside
    (_window_around_now(10, 60), False),  # starts later today
    (_window_around_now(-120, 60), False),  # ended an hour ago
])
def test_maintenance_window_gates_wakes(window: tuple[int, int], woken: bool) -> None:
    cfg = replace(STALE, maintenance_window=window)
    d = decide(snap(io=IO), mem(read_ago=8 * DAY), T, cfg)
    assert d.read is woken
    assert d.result is (W if woken else IDLE)


@pytest.mark.parametrize(("minute", "window", "inside"), [
    (60, (0, 120), True), (120, (0, 120), False), (0, (0, 120), True),
    (23 * 60 + 30, (22 * 60, 2 * 60), True),  # wraps midnight
    (60, (22 * 60, 2 * 60), True), (3 * 60, (22 * 60, 2 * 60), False),
    (12 * 60, (22 * 60, 2 * 60), False), (500, (300, 300), True), (5, None, True),
])
def test_in_window(minute: int, window: tuple[int, int] | None, inside: bool) -> None:
    t = time.localtime(T)
    midnight = T - (t.tm_hour * 3600 + t.tm_min * 60 + t.tm_sec)
    assert in_window(midnight + minute * 60 + 1, window) is inside


@pytest.mark.parametrize(("dev_type", "unsupported"), [
    ("megaraid,3", True), ("sat+megaraid,0", True), ("cciss,1", True), ("areca,2/1", True),
    ("sat", False), ("scsi", False), ("nvme", False), ("usbjmicron", False), ("", False),
    ("jmb39x,0", True), ("jmb39x-q,2", True), ("jms56x,1+sat", True), ("sssraid,0,1", True),
    ("hpt,1/1/1", True), ("3ware,2", True), ("aacraid,0,0,1", True),
    ("intelliprop,1", False),  # forwards every ATA command, CHECK POWER MODE included
])
def test_raid_types_have_no_power_check(dev_type: str, unsupported: bool) -> None:
    assert power_check_known_unsupported(DiskRef("/dev/x", dev_type)) is unsupported


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        PolicyConfig(max_staleness=0)
    with pytest.raises(ValueError):
        PolicyConfig(min_read_interval=-1)
    with pytest.raises(ValueError):
        PolicyConfig(maintenance_window=(0, 2000))


# ---------------------------------------------------------------------------- remember

OK_RECORD = SmartRecord(HDD, ReadState.OK, identity=Identity(model="M", serial="S1"),
                        power_check_supported=True)
STANDBY_RECORD = SmartRecord(HDD, ReadState.STANDBY, power_mode="STANDBY",
                             power_check_supported=True)
READ = ReadDecision(True, R, "host I/O")
WAKE = ReadDecision(True, W, "stale", power_check=False)
SKIP = ReadDecision(False, IDLE, "idle")


@pytest.mark.parametrize(("decision", "record", "result"), [
    (SKIP, None, IDLE), (READ, None, CheckResult.ERROR), (READ, OK_RECORD, R),
    (WAKE, OK_RECORD, W), (READ, STANDBY_RECORD, SB),
    (READ, SmartRecord(HDD, ReadState.TIMEOUT), CheckResult.ERROR),
])
def test_result_of(decision: ReadDecision, record: SmartRecord | None,
                   result: CheckResult) -> None:
    assert result_of(decision, record) is result


def test_own_read_moving_counters_is_not_host_io() -> None:
    """Newer kernels count SMART pass-through in diskstats: the baseline is taken after
    our read, so the next look does not see our own read and read again for ever."""
    m0 = mem(read_ago=DAY)
    s0 = snap(io=MOVED)
    d0 = decide(s0, m0, T, DEFAULT)
    assert d0.read
    after = IoCounters(MOVED.reads + 2, MOVED.writes)  # our read moved them
    m1 = remember(m0, s0, d0, OK_RECORD, T + 1, after)
    assert m1.io_baseline == after and m1.last_read == T + 1
    later = T + 3600
    d1 = decide(snap(io=after), m1, later, DEFAULT)
    assert (d1.read, d1.result) == (False, IDLE)
    # ... whereas keeping the pre-read counters would have been fooled
    fooled = replace(m1, io_baseline=MOVED, last_look=later - 5)
    assert decide(snap(io=after), fooled, later, DEFAULT).read


def test_read_without_after_counters_drops_the_baseline() -> None:
    m = remember(mem(read_ago=DAY), snap(), READ, OK_RECORD, T, None)
    assert m.io_baseline is None
    assert decide(snap(io=IoCounters(5000, 5000)), m, T + 3600, DEFAULT).read is False


def test_remember_skip() -> None:
    m0 = mem(read_ago=DAY, look_ago=100)
    m = remember(m0, snap(io=MOVED), SKIP, None, T, None)
    assert m.io_baseline == MOVED
    assert m.last_io_seen == T  # counters moved since the last look
    assert (m.last_look, m.first_seen) == (T, m0.first_seen)
    assert m.last_read == m0.last_read and m.last_attempt == m0.last_attempt
    assert (m.consecutive_skips, m.last_result) == (1, IDLE)
    m2 = remember(m, snap(io=MOVED), SKIP, None, T + 10, None)
    assert (m2.last_io_seen, m2.consecutive_skips) == (T, 2)  # not moved this time


def test_remember_first_sight() -> None:
    m = remember(None, snap(io=IO), SKIP, None, T, None)
    assert (m.key, m.first_seen, m.last_look, m.io_baseline, m.last_io_seen) == (
        HDD.key, T, T, IO, None)


def test_remember_counters_missing_keeps_baseline() -> None:
    m = remember(mem(), snap(io=None), SKIP, None, T, None)
    assert m.io_baseline == IO


def test_remember_reads() -> None:
    m0 = replace(mem(read_ago=DAY), consecutive_skips=7)
    ok = remember(m0, snap(), READ, OK_RECORD, T, MOVED)
    assert (ok.last_read, ok.last_attempt, ok.consecutive_skips, ok.last_result) == (T, T, 0, R)
    assert ok.disk_id == OK_RECORD.disk_id and ok.power_check_supported is True
    sb = remember(m0, snap(), READ, STANDBY_RECORD, T, MOVED)
    assert (sb.last_read, sb.last_attempt, sb.last_result) == (m0.last_read, T, SB)
    assert sb.consecutive_skips == 8  # a standby answer is a skip
    err = remember(m0, snap(), READ, SmartRecord(HDD, ReadState.TIMEOUT), T, MOVED)
    assert (err.last_read, err.last_attempt, err.last_result, err.consecutive_skips) == (
        m0.last_read, T, CheckResult.ERROR, 0)


def test_remember_deliberate_wake() -> None:
    m = remember(mem(read_ago=8 * DAY), snap(io=IO), WAKE, OK_RECORD, T, IO)
    assert (m.deliberate_wakes, m.last_result, m.last_read) == (1, W, T)
    # the wake was without -n: it says nothing about the power check
    assert m.power_check_supported is None
    failed = remember(mem(read_ago=8 * DAY), snap(io=IO), WAKE, None, T, IO)
    assert (failed.deliberate_wakes, failed.last_attempt) == (1, T)
    assert decide(snap(io=IO), failed, T + 600, STALE).read is False  # not retried at once


@pytest.mark.parametrize(("record", "supported"), [
    (SmartRecord(RAID, ReadState.OK, power_check_supported=False), False),
    (SmartRecord(RAID, ReadState.OK,
                 messages=("CHECK POWER MODE not implemented, ignoring -n option",)), False),
    (SmartRecord(HDD, ReadState.STANDBY, power_check_supported=True), True),
    (SmartRecord(HDD, ReadState.OK), None),
])
def test_power_check_support_is_learnt(record: SmartRecord, supported: bool | None) -> None:
    m = remember(mem(), snap(), READ, record, T, MOVED)
    assert m.power_check_supported is supported
    if supported is False:
        assert decide(snap(io=MOVED), m, T + DAY, replace(STALE, piggyback=False)).read is False


def test_observe_keeps_the_look_fresh_between_full_cycles() -> None:
    """A daemon tick that found a disk's counters unchanged records the look; when the
    counters then move, the I/O is known to be seconds old and the read rides on it."""
    m = mem(read_ago=DAY, look_ago=3600)  # last full cycle an hour ago
    assert decide(snap(io=MOVED), m, T, DEFAULT).read is False  # I/O of unknown age
    looked = observe(m, IO, T - 5)  # the tick 5 s ago: unchanged
    assert (looked.last_look, looked.io_baseline, looked.last_io_seen) == (
        T - 5, IO, m.last_io_seen)
    assert looked.last_result == m.last_result and looked.consecutive_skips == 0
    assert decide(snap(io=MOVED), looked, T, DEFAULT).read is True
    moved = observe(looked, MOVED, T)
    assert (moved.io_baseline, moved.last_io_seen) == (MOVED, T)
    assert observe(m, None, T).io_baseline == IO


# ---------------------------------------------------------------------------- properties


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.sampled_from(["ok", "standby", "error"]),
                          st.floats(1, 4000)), min_size=1, max_size=40))
def test_piggyback_never_reads_without_host_io(steps: list[tuple[bool, str, float]]) -> None:
    """Whatever happened before, a rotational disk whose counters did not move since the
    last look is never read by the default policy (no max_staleness)."""
    now, io, m = T, IO, None
    for host_io, outcome, dt in steps:
        now += dt
        if host_io:
            io = IoCounters(io.reads + 1, io.writes)
        s = snap(io=io)
        d = decide(s, m, now, DEFAULT)
        moved = m is not None and m.io_baseline is not None and io.moved_since(m.io_baseline)
        if d.read:
            assert moved and d.power_check
        record = None
        if d.read:
            record = {"ok": OK_RECORD, "standby": STANDBY_RECORD,
                      "error": SmartRecord(HDD, ReadState.TIMEOUT)}[outcome]
        m = remember(m, s, d, record, now, io if d.read else None)
        if d.read:
            assert m.io_baseline == io
