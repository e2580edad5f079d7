"""Plain data shared by every module: no I/O, no third-party imports.

Everything here is a frozen dataclass or an Enum so that the pure modules
(parse, policy, health, notify decisions) can be tested with literals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum


class Protocol(str, Enum):
    """The command set smartctl speaks to the disk with (``device.protocol``)."""

    ATA = "ATA"
    NVME = "NVMe"
    SCSI = "SCSI"
    UNKNOWN = "unknown"


class ReadState(str, Enum):
    """What one smartctl invocation produced, decoded from its exit mask and output.

    Only ``OK`` carries SMART data. ``STANDBY`` is the low-power skip asked for with
    ``-n standby,N``: the disk was not touched and is *not* failing.
    """

    OK = "ok"
    STANDBY = "standby"
    OPEN_FAILED = "open_failed"
    COMMAND_FAILED = "command_failed"
    BAD_COMMAND_LINE = "bad_command_line"
    BAD_OUTPUT = "bad_output"
    TIMEOUT = "timeout"
    NO_SMARTCTL = "no_smartctl"
    PERMISSION_DENIED = "permission_denied"


class PowerState(str, Enum):
    """A disk's power state as far as we can know it without touching the platters."""

    ACTIVE = "active"  # spinning, or an SSD/NVMe that is always ready
    STANDBY = "standby"  # spun down (smartctl -n answered STANDBY/SLEEP)
    SUSPENDED = "suspended"  # Linux runtime PM suspended: do not even open it
    UNKNOWN = "unknown"


class CheckResult(str, Enum):
    """What the monitor did with one disk in one cycle (recorded per device per cycle)."""

    READ = "read"
    WOKEN = "woken"  # deliberately woken by max_staleness: a read that cost a spin-up
    STANDBY = "skipped-standby"
    IDLE = "skipped-idle"
    UNMOUNTED = "skipped-unmounted"
    SUSPENDED = "skipped-suspended"
    ERROR = "error"

    @property
    def is_skip(self) -> bool:
        return self.value.startswith("skipped-")


# ---------------------------------------------------------------------------
# smartctl exit status


@dataclass(frozen=True)
class ExitStatus:
    """smartctl's exit status, a bit mask (smartctl(8) "RETURN VALUES").

    Bits 0-2 say the reading is unusable; bits 3-7 are health signals that come
    *with* a good reading and must never be mistaken for a read failure.
    """

    code: int

    def bit(self, n: int) -> bool:
        return bool(self.code >> n & 1)

    @property
    def bad_command_line(self) -> bool:
        return self.bit(0)

    @property
    def open_failed(self) -> bool:
        """Bit 1: open failed, *or* the device is in a low-power mode (without ``-n ...,N``)."""
        return self.bit(1)

    @property
    def command_failed(self) -> bool:
        return self.bit(2)

    @property
    def smart_failing(self) -> bool:
        return self.bit(3)

    @property
    def prefail_below_threshold(self) -> bool:
        return self.bit(4)

    @property
    def past_below_threshold(self) -> bool:
        return self.bit(5)

    @property
    def error_log_has_entries(self) -> bool:
        return self.bit(6)

    @property
    def selftest_log_has_errors(self) -> bool:
        return self.bit(7)

    @property
    def read_problem(self) -> bool:
        return bool(self.code & 0b111)

    def health_signals(self) -> tuple[str, ...]:
        names = (
            (3, "smart_failing"),
            (4, "prefail_below_threshold"),
            (5, "past_below_threshold"),
            (6, "error_log_has_entries"),
            (7, "selftest_log_has_errors"),
        )
        return tuple(name for bit, name in names if self.bit(bit))


# ---------------------------------------------------------------------------
# Devices and identity


@dataclass(frozen=True)
class DiskRef:
    """How to address one disk: a path plus the smartctl ``-d`` type.

    RAID-attached disks share a path (``/dev/bus/0``) and differ by type
    (``megaraid,3``), so ``key`` combines both. ``block`` is the kernel name
    (``sda``, ``nvme0n1``) used for /proc/diskstats and /sys/block, when known.
    """

    path: str
    dev_type: str
    block: str | None = None
    rotational: bool | None = None

    @property
    def key(self) -> str:
        return f"{self.path}:{self.dev_type}" if self.dev_type else self.path

    @property
    def label(self) -> str:
        """The name people see (the seed's ``device`` column): the path, unless the path
        is shared by several disks behind a RAID controller (``megaraid,3``)."""
        return self.key if "," in self.dev_type else self.path

    def __str__(self) -> str:
        return self.key


_ID_CLEAN = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Identity:
    """What a disk *is*, independent of the /dev name it got at this boot."""

    model: str | None = None
    serial: str | None = None
    wwn: str | None = None
    firmware: str | None = None
    capacity_bytes: int | None = None
    rotation_rate: int | None = None  # rpm; 0 = solid state; None = not reported
    protocol: Protocol = Protocol.UNKNOWN
    form_factor: str | None = None

    @property
    def disk_id(self) -> str | None:
        """Stable key: ``wwn-0x...`` when a WWN exists, else ``model_serial``."""
        if self.wwn:
            return "wwn-" + self.wwn.lower()
        if self.serial:
            model = _ID_CLEAN.sub("_", (self.model or "unknown").strip())
            return f"{model}_{_ID_CLEAN.sub('_', self.serial.strip())}"
        return None

    @property
    def is_rotational(self) -> bool | None:
        if self.protocol is Protocol.NVME:
            return False
        if self.rotation_rate is None:
            return None
        return self.rotation_rate > 0


# ---------------------------------------------------------------------------
# One reading


@dataclass(frozen=True)
class Attribute:
    """One row of the ATA SMART attribute table.

    ``raw_value`` is the number a person reads (temperature for 190/194, hours for 9,
    the decoded low part of Seagate's packed counters is *not* applied here: that is
    health's job); ``raw_packed`` is smartctl's 48-bit ``raw.value`` as reported.
    """

    id: int
    name: str
    value: int | None
    worst: int | None
    thresh: int | None
    raw_value: int
    raw_packed: int
    raw_string: str
    when_failed: str = ""  # "", "now", "past"
    prefailure: bool = False
    flags: str = ""


@dataclass(frozen=True)
class NvmeHealth:
    """The NVMe SMART / health information log (log page 02h)."""

    critical_warning: int = 0
    temperature: int | None = None
    available_spare: int | None = None
    available_spare_threshold: int | None = None
    percentage_used: int | None = None
    data_units_read: int | None = None
    data_units_written: int | None = None
    host_reads: int | None = None
    host_writes: int | None = None
    controller_busy_time: int | None = None
    power_cycles: int | None = None
    power_on_hours: int | None = None
    unsafe_shutdowns: int | None = None
    media_errors: int | None = None
    num_err_log_entries: int | None = None
    warning_temp_time: int | None = None
    critical_comp_time: int | None = None


@dataclass(frozen=True)
class ScsiHealth:
    """SCSI/SAS health: grown defects, error counter log, start-stop counters."""

    grown_defects: int | None = None
    read_uncorrected: int | None = None
    write_uncorrected: int | None = None
    verify_uncorrected: int | None = None
    read_corrected: int | None = None
    write_corrected: int | None = None
    verify_corrected: int | None = None
    start_stop_cycles: int | None = None
    start_stop_cycles_specified: int | None = None
    load_unload_cycles: int | None = None
    load_unload_cycles_specified: int | None = None


@dataclass(frozen=True)
class SmartRecord:
    """Everything one smartctl run told us about one disk.

    ``smart_passed`` is None when smartctl did not say (standby output, ``-A``-only
    output, RAID volumes): absent is not failed.
    """

    device: DiskRef
    state: ReadState
    exit_status: ExitStatus = ExitStatus(0)
    messages: tuple[str, ...] = ()
    identity: Identity | None = None
    smart_passed: bool | None = None
    temperature: int | None = None
    power_on_hours: int | None = None
    power_cycle_count: int | None = None
    attributes: tuple[Attribute, ...] = ()
    nvme: NvmeHealth | None = None
    scsi: ScsiHealth | None = None
    power_mode: str | None = None  # smartctl's power_mode.name, e.g. "STANDBY"
    smartctl_version: str | None = None
    error: str | None = None  # one human line when state is not OK
    # Whether ``-n standby`` works on this path: False when smartctl said "CHECK POWER MODE
    # not implemented" (megaraid, some USB bridges), True when it told standby/active apart.
    power_check_supported: bool | None = None
    # smartctl's ``smart_support``: True when SMART is available and enabled, False when it
    # said unavailable or disabled, None when not reported (NVMe, standby, older smartctl).
    smart_enabled: bool | None = None

    @property
    def ok(self) -> bool:
        return self.state is ReadState.OK

    @property
    def disk_id(self) -> str | None:
        return self.identity.disk_id if self.identity else None

    def attribute(self, attr_id: int) -> Attribute | None:
        for a in self.attributes:
            if a.id == attr_id:
                return a
        return None


# ---------------------------------------------------------------------------
# Power and policy


@dataclass(frozen=True)
class IoCounters:
    """Completed reads and writes from /proc/diskstats (fields 1 and 5)."""

    reads: int
    writes: int

    def moved_since(self, other: IoCounters | None) -> bool:
        return other is None or (self.reads, self.writes) != (other.reads, other.writes)


@dataclass(frozen=True)
class PowerSnapshot:
    """What the kernel says about a disk, read without sending it a command."""

    device: DiskRef
    io: IoCounters | None = None
    mounted: bool = False
    rotational: bool | None = None
    runtime_status: str | None = None  # "active", "suspended", ... or None
    is_ata: bool | None = None  # sysfs device/vendor == "ATA"

    @property
    def suspended(self) -> bool:
        return self.runtime_status in ("suspended", "suspending")


@dataclass(frozen=True)
class ReadDecision:
    """The policy's verdict for one disk in one cycle, with the reason in words."""

    read: bool
    result: CheckResult  # READ/WOKEN when read is True, else the skip kind
    reason: str
    power_check: bool = True  # pass -n standby,N (False only for deliberate wakes)
    host_io: bool = False  # the read rides on host I/O just seen: the disk is not asleep


# ---------------------------------------------------------------------------
# Health


class Severity(str, Enum):
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return {"warning": 1, "critical": 2}[self.value]


@dataclass(frozen=True)
class Finding:
    """One rule that fires for one disk now."""

    rule_id: str
    severity: Severity
    message: str
    value: float | None = None
    attribute_id: int | None = None


@dataclass(frozen=True)
class Alert:
    """A stored alert: one open alert per (disk, rule)."""

    id: int
    disk_id: str
    device: str
    rule_id: str
    severity: Severity
    message: str
    value: float | None
    first_seen: str
    last_seen: str
    resolved: bool = False
    resolved_at: str | None = None
    acknowledged: bool = False
    ack_note: str | None = None
    notify_count: int = 0
    last_notified: str | None = None


# ---------------------------------------------------------------------------
# One cycle


@dataclass(frozen=True)
class CheckOutcome:
    """What happened to one disk in one cycle."""

    device: DiskRef
    result: CheckResult
    reason: str
    record: SmartRecord | None = None
    disk_id: str | None = None
    last_read_age: float | None = None  # seconds since the last good reading, if any
    findings: tuple[Finding, ...] = ()


@dataclass
class CycleReport:
    """Counts for the one line a cycle prints."""

    outcomes: list[CheckOutcome] = field(default_factory=list)
    started: float = 0.0  # the monitor's clock (simulated in --demo and tests)
    finished: float = 0.0
    elapsed: float = 0.0  # wall-clock seconds the cycle took

    def count(self, result: CheckResult) -> int:
        return sum(1 for o in self.outcomes if o.result is result)

    @property
    def read(self) -> int:
        return self.count(CheckResult.READ) + self.count(CheckResult.WOKEN)

    @property
    def failed(self) -> int:
        return self.count(CheckResult.ERROR)

    def skipped(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.outcomes:
            if o.result.is_skip:
                kind = o.result.value.removeprefix("skipped-")
                out[kind] = out.get(kind, 0) + 1
        return out

    def line(self) -> str:
        skipped = self.skipped()
        why = ", ".join(f"{k} {v}" for k, v in sorted(skipped.items()))
        total = sum(skipped.values())
        return (
            f"devices read: {self.read}, skipped: {total}"
            + (f" ({why})" if why else "")
            + f", failed: {self.failed}"
        )


@dataclass(frozen=True)
class DiskMemory:
    """What the policy remembers about a disk between cycles (persisted in the store).

    Kept in the database, not in the process, so that one-shot runs from cron or a
    systemd timer follow the same policy as the daemon.
    """

    key: str  # DiskRef.key
    disk_id: str | None = None
    last_read: float | None = None  # epoch seconds of the last good reading
    last_attempt: float | None = None
    io_baseline: IoCounters | None = None  # counters when we last looked (after our own read)
    last_io_seen: float | None = None  # when the counters were last seen moving (host I/O)
    power_check_supported: bool | None = None  # False: -n is ignored (megaraid, USB bridges)
    consecutive_skips: int = 0
    last_result: CheckResult | None = None
    deliberate_wakes: int = 0
    # When the monitor last looked at the counters (every cycle or daemon tick, read or
    # not): bounds how old "counters moved since the last look" host I/O can be.
    last_look: float | None = None
    # When the monitor first saw the disk: a never-read disk's staleness counts from here,
    # so enabling max_staleness on a new database does not wake the whole array at once.
    first_seen: float | None = None
