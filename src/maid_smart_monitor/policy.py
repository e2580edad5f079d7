"""The read policy: which disks to read in this cycle, and why. Pure (model + stdlib).

In a MAID array most disks are spun down. A spin-up costs ~10 s, ~100 J and one of the
disk's ~50,000 rated start/stop cycles; reading an idle *spinning* disk restarts its
standby timer, so a monitor that polls more often than the timer keeps the array awake
for ever. The rules, in the order they are applied:

1. **Runtime-suspended** (sysfs ``runtime_status``): skipped-suspended. Not even opened:
   opening the device node resumes it, which spins it up.
2. **mounted_only** (default on, the seed's rule): a disk backing no mounted filesystem
   (directly, through a partition, or under dm/md) is skipped-unmounted. Trade-off: a
   spare or ZFS member disk is never read; turn it off for those arrays.
3. **Solid state** (``rotational`` 0: SSD, NVMe): read every ``min_read_interval``. Nothing
   spins, so a read costs nothing but a process start.
4. **Rotational or unknown, piggy-back** (default on): read only when the I/O counters
   moved since the monitor last looked (the host used the disk, so it is spinning and the
   read rides on the host's activity) and that look was at most ``activity_window`` ago
   (so the I/O is recent and the disk very likely still spins), and the disk was not
   read within ``min_read_interval``. No movement: skipped-idle, or skipped-standby when
   its last power check said standby (not asked again until its counters move).
   I/O seen while a read is not yet due is *not* read later: by then the I/O is over,
   and a late read would only extend the disk's awake time; that I/O happened within one
   interval of the previous reading anyway, so the disk's health is still fresh
   relative to its activity. Trade-offs: in daemon mode (counters sampled every few
   seconds) a read lands within seconds of host I/O and adds almost no awake time; in
   one-shot mode (cron) the I/O may be up to one run interval old, so the read can extend
   the awake time by up to that much; ``activity_window`` caps it. A disk with no host
   I/O is never read (see max_staleness). The first look at a disk only records its
   counters.
5. **Power check**: every read of a rotational disk passes ``-n standby`` (skip if it is
   spun down, recorded as standby, never as an error). A disk whose power check is not
   implemented (megaraid, some USB bridges: smartctl ignores ``-n`` and reads, spinning
   it up) is read only under the piggy-back rule, i.e. only when its own counters show
   host I/O; RAID members behind a controller have no counters of their own, so under
   the default policy they are never read: waking a disk to read it is worse than a
   stale reading, and the controller's own patrol reads watch them.
6. **max_staleness** (default off): a rotational disk not read for that long (counted from
   when it was first seen, for a never-read disk), and with no read attempt within that
   time either, is woken once on purpose: a read without ``-n``, result ``woken``,
   counted in ``deliberate_wakes``; only inside ``maintenance_window`` when one is set.
   Never for a suspended disk. It is also the only way a disk behind a RAID controller
   is read (megaraid, cciss, ...): such a disk has no I/O counters of its own to
   piggy-back on and its controller ignores ``-n``, so without max_staleness it is never
   touched; with it, it is read once per max_staleness as a counted, logged wake (it may
   have been spinning already; it is counted all the same). ``mounted_only`` does not
   apply to such disks: whether they back a mounted filesystem cannot be known.
7. **piggyback off**: rotational disks are read every ``min_read_interval`` with the power
   check: never a spin-up, but an idle spinning disk has its standby timer restarted
   every interval (smartd ``-n standby`` behaviour). **power_check off** additionally
   reads without ``-n``: sleeping disks are spun up (the seed's behaviour). Both are
   available for comparison in ``benchmarks/bench_maid.py``, not recommended.

The policy only needs what the previous cycle left in ``DiskMemory`` (kept in the
database), so a one-shot run from cron follows the same rules as the daemon.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from maid_smart_monitor.model import (
    CheckResult,
    DiskMemory,
    DiskRef,
    IoCounters,
    PowerSnapshot,
    ReadDecision,
    ReadState,
    SmartRecord,
)
from maid_smart_monitor.smartctl.command import POWER_CHECK_PASSED_THROUGH, RAID_PASSTHROUGH_TYPES

NOT_IMPLEMENTED_MESSAGE = "CHECK POWER MODE not implemented"

# Cycles are scheduled by timers that jitter; a read "due in 0.2 s" must not wait a whole
# extra interval. Tolerance: 5 % of the interval, at most 15 s.
_SLACK_FRACTION = 0.05
_SLACK_MAX = 15.0


@dataclass(frozen=True)
class PolicyConfig:
    """The ``[monitoring]`` knobs of the read policy (see the module docstring)."""

    mounted_only: bool = True
    piggyback: bool = True
    activity_window: float = 900.0  # seconds: how old host I/O may be for a read to ride on it
    max_staleness: float | None = None  # seconds; None: never wake a disk on purpose
    maintenance_window: tuple[int, int] | None = None  # minutes of local day [start, end)
    min_read_interval: float = 300.0  # never read a disk twice within this (the --interval)
    power_check: bool = True  # pass -n standby to rotational disks (off: the seed's way)

    def __post_init__(self) -> None:
        if self.activity_window < 0 or self.min_read_interval < 0:
            raise ValueError("activity_window and min_read_interval must be >= 0")
        if self.max_staleness is not None and self.max_staleness <= 0:
            raise ValueError("max_staleness must be > 0 (or None to disable)")
        if self.maintenance_window is not None:
            start, end = self.maintenance_window
            if not (0 <= start < 1440 and 0 <= end <= 1440):
                raise ValueError("maintenance_window minutes must be within 0..1440")


# ---------------------------------------------------------------------------- helpers


def power_check_known_unsupported(dev: DiskRef) -> bool:
    """True for RAID pass-through types whose controller ignores ``-n``
    ("CHECK POWER MODE not implemented, ignoring -n option")."""
    t = (dev.dev_type or "").lower()
    return any(
        part.startswith(RAID_PASSTHROUGH_TYPES) and not part.startswith(POWER_CHECK_PASSED_THROUGH)
        for part in t.split("+")
    )


def power_check_supported(dev: DiskRef, mem: DiskMemory | None) -> bool | None:
    """What we know about ``-n standby`` on this disk: learnt from smartctl's own answer
    when we have one, else from the device type; None when nothing is known yet."""
    if mem is not None and mem.power_check_supported is not None:
        return mem.power_check_supported
    if power_check_known_unsupported(dev):
        return False
    return None


def in_window(now: float, window: tuple[int, int] | None) -> bool:
    """Is ``now`` (epoch seconds) inside the local-time window [start, end) minutes of day?
    A window with start > end wraps midnight; None means always."""
    if window is None:
        return True
    start, end = window
    t = time.localtime(now)
    minute = t.tm_hour * 60 + t.tm_min
    if start == end:
        return True
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def _slack(cfg: PolicyConfig) -> float:
    return min(_SLACK_MAX, _SLACK_FRACTION * cfg.min_read_interval)


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _skip(result: CheckResult, reason: str) -> ReadDecision:
    return ReadDecision(read=False, result=result, reason=reason, power_check=True)


def result_of(decision: ReadDecision, record: SmartRecord | None) -> CheckResult:
    """The outcome to record: the decision's skip, or what the read actually produced."""
    if not decision.read:
        return decision.result
    if record is None:
        return CheckResult.ERROR
    if record.state is ReadState.STANDBY:
        return CheckResult.ERROR if wrong_type_sleep(decision, record) else CheckResult.STANDBY
    if record.ok:
        return decision.result
    return CheckResult.ERROR


def wrong_type_sleep(decision: ReadDecision, record: SmartRecord) -> bool:
    """A "SLEEP" answer right after host I/O is a contradiction, not a sleeping disk.

    A disk in ATA SLEEP serves no I/O until it is reset, so it cannot have just moved its
    counters. What does answer SLEEP for ever is a SCSI disk addressed as ``-d sat``: the
    failed ATA CHECK POWER MODE counts as sleep. Taking it at its word would leave the
    disk "in standby" and unread for good; it is an error to fix (the ``-d`` type).
    """
    mode = (record.power_mode or "").upper()
    return decision.host_io and "SLEEP" in mode


# ---------------------------------------------------------------------------- decide


def decide(
    snap: PowerSnapshot, mem: DiskMemory | None, now: float, cfg: PolicyConfig
) -> ReadDecision:
    """The verdict for one disk in one cycle, with the reason in words."""
    dev = snap.device
    if snap.suspended:
        return _skip(CheckResult.SUSPENDED,
                     f"runtime-suspended ({snap.runtime_status}): not opened, opening would "
                     "resume it")
    if cfg.mounted_only and not snap.mounted and dev.block is not None:
        # A disk behind a RAID controller has no block device of its own: whether it backs
        # a mounted filesystem cannot be known, so mounted_only does not judge it.
        return _skip(CheckResult.UNMOUNTED, "backs no mounted filesystem (mounted_only)")

    since_attempt = None if mem is None or mem.last_attempt is None else now - mem.last_attempt
    due = since_attempt is None or since_attempt >= cfg.min_read_interval - _slack(cfg)
    rotational = snap.rotational if snap.rotational is not None else dev.rotational

    if rotational is False:
        if due:
            return ReadDecision(True, CheckResult.READ, "solid state: read every interval",
                                power_check=cfg.power_check)
        return _skip(CheckResult.IDLE,
                     f"solid state, read {_ago(since_attempt or 0.0)} ago (interval "
                     f"{_ago(cfg.min_read_interval)})")

    moved, gap = _host_io(snap, mem, now)
    recent = bool(moved) and (gap is None or gap <= cfg.activity_window)
    was_standby = mem is not None and mem.last_result is CheckResult.STANDBY
    standby_no_io = was_standby and moved is False  # known: nothing woke it since
    check_supported = power_check_supported(dev, mem)

    if recent and due:
        when = "" if gap is None else f" (within the last {_ago(gap)})"
        return ReadDecision(True, CheckResult.READ,
                            f"host I/O since the last look{when}: the read rides on it",
                            power_check=cfg.power_check, host_io=True)

    if not cfg.piggyback and due and not standby_no_io:
        if not cfg.power_check:
            return ReadDecision(True, CheckResult.READ, "due (piggyback and power check off)",
                                power_check=False)
        if check_supported is not False:
            return ReadDecision(True, CheckResult.READ,
                                "due (piggyback off): read with the power check")

    wake = _staleness_wake(snap, mem, now, cfg, check_supported)
    if wake is not None:
        return wake

    if was_standby and not moved:
        return _skip(CheckResult.STANDBY,
                     "in standby at the last power check and no host I/O since: not asked again")
    if moved is None:
        if snap.io is None:
            why = ("no I/O counters for this disk (RAID member?): host activity cannot be seen"
                   if dev.block is None else "no I/O counters in diskstats")
            if check_supported is False:
                why += ("; its power check is not implemented, so it is never read cold "
                        "(set max_staleness to read it on a schedule, as a counted wake)")
            return _skip(CheckResult.IDLE, why)
        return _skip(CheckResult.IDLE, "first look: I/O counters recorded, no read")
    if moved and not due:
        return _skip(CheckResult.IDLE,
                     f"host I/O, but read {_ago(since_attempt or 0.0)} ago (interval "
                     f"{_ago(cfg.min_read_interval)})")
    if moved:
        return _skip(CheckResult.IDLE,
                     f"counters moved, but the last look was {_ago(gap or 0.0)} ago (> activity "
                     "window): the I/O may be old and a read could keep the disk awake")
    if not cfg.piggyback and not due:
        return _skip(CheckResult.IDLE, f"read {_ago(since_attempt or 0.0)} ago")
    if not cfg.piggyback and check_supported is False:
        return _skip(CheckResult.IDLE,
                     "power check not implemented: read only right after host I/O")
    return _skip(CheckResult.IDLE, "no host I/O since the last look: left alone")


def _host_io(
    snap: PowerSnapshot, mem: DiskMemory | None, now: float
) -> tuple[bool | None, float | None]:
    """(counters moved since the last look, seconds since that look); None = unknowable."""
    if snap.io is None or mem is None or mem.io_baseline is None:
        return None, None
    gap = None if mem.last_look is None else max(0.0, now - mem.last_look)
    return snap.io.moved_since(mem.io_baseline), gap


def _staleness_wake(
    snap: PowerSnapshot,
    mem: DiskMemory | None,
    now: float,
    cfg: PolicyConfig,
    check_supported: bool | None,
) -> ReadDecision | None:
    if cfg.max_staleness is None or mem is None:
        return None
    since = mem.last_read if mem.last_read is not None else mem.first_seen
    if since is None or now - since < cfg.max_staleness:
        return None
    if mem.last_attempt is not None and now - mem.last_attempt < cfg.max_staleness:
        return None  # one try per max_staleness: a failed wake is not retried every cycle
    if not in_window(now, cfg.maintenance_window):
        return None
    what = "never read" if mem.last_read is None else f"last read {_ago(now - since)} ago"
    unknown = ("; its power state cannot be checked (the controller ignores -n)"
               if check_supported is False else "")
    return ReadDecision(True, CheckResult.WOKEN,
                        f"deliberate wake: {what} (max_staleness {_ago(cfg.max_staleness)})"
                        f"{unknown}", power_check=False)


# ---------------------------------------------------------------------------- remember


def remember(
    mem: DiskMemory | None,
    snap: PowerSnapshot,
    decision: ReadDecision,
    record: SmartRecord | None,
    now: float,
    io_after: IoCounters | None,
) -> DiskMemory:
    """The memory after one look (read or not). Pure.

    ``io_after`` are the disk's counters read *after* our own smartctl run: on newer
    kernels SMART pass-through commands move diskstats, and taking the pre-read counters
    as the baseline would make the next look see our own read as host I/O and read again,
    keeping the disk awake by itself. If a read happened and ``io_after`` is unknown the
    baseline is dropped (the next look only re-records it) for the same reason.
    """
    base = mem if mem is not None else DiskMemory(snap.device.key)
    io = snap.io
    moved = io is not None and base.io_baseline is not None and io.moved_since(base.io_baseline)
    read = decision.read
    result = result_of(decision, record)

    baseline = io_after if read else (io if io is not None else base.io_baseline)

    supported = base.power_check_supported
    if record is not None and decision.power_check:
        if record.power_check_supported is not None:
            supported = record.power_check_supported
        elif any(NOT_IMPLEMENTED_MESSAGE in m for m in record.messages):
            supported = False

    return replace(
        base,
        disk_id=(record.disk_id if record is not None else None) or base.disk_id,
        last_read=now if read and record is not None and record.ok else base.last_read,
        last_attempt=now if read else base.last_attempt,
        io_baseline=baseline,
        last_io_seen=now if moved else base.last_io_seen,
        power_check_supported=supported,
        consecutive_skips=base.consecutive_skips + 1 if result.is_skip else 0,
        last_result=result,
        deliberate_wakes=base.deliberate_wakes
        + (1 if read and decision.result is CheckResult.WOKEN else 0),
        last_look=now,
        first_seen=base.first_seen if base.first_seen is not None else now,
    )


def observe(mem: DiskMemory, io: IoCounters | None, now: float) -> DiskMemory:
    """A look at a disk's counters that led to no decision (a daemon tick found them
    unchanged). Pure.

    Recording it keeps ``last_look`` current, so that when the counters do move the
    policy knows the host I/O happened since this look, seconds ago, and not at any time
    since the last full cycle (which could be longer ago than ``activity_window``).
    """
    if io is None:
        return replace(mem, last_look=now)
    moved = mem.io_baseline is not None and io.moved_since(mem.io_baseline)
    return replace(
        mem,
        io_baseline=io,
        last_look=now,
        last_io_seen=now if moved else mem.last_io_seen,
        first_seen=mem.first_seen if mem.first_seen is not None else now,
    )
