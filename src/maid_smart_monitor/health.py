"""Health judgement: one SMART reading (plus the one before it) in, findings out.

Pure: no I/O, imports only ``model`` and ``attributes``. Every rule is a small
function with an id, so an alert can be keyed by (disk, rule) and a rule can be
tested on its own. Vendor thresholds alone say "PASSED" on drives with 1,640
pending sectors, so the critical counters are judged by their raw values and,
like smartd's ``-C 197+``, by their *increase* since the previous reading.

Only readings with state OK are judged: a disk in standby, or one smartctl could
not read, yields no findings (it is never reported as failing for being asleep).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Literal

from maid_smart_monitor.model import (
    Attribute,
    Finding,
    Identity,
    Protocol,
    ReadState,
    Severity,
    SmartRecord,
)

W, C = Severity.WARNING, Severity.CRITICAL

DeviceClass = Literal["hdd", "ssd", "nvme"]
Verdict = Literal["healthy", "warning", "critical"]


@dataclass(frozen=True)
class HealthConfig:
    """Every threshold a rule uses. Defaults follow smartd, Backblaze and vendor specs.

    Temperatures are per device class because an NVMe at 65 °C is normal and an HDD
    at 65 °C is cooking. A counter limit of ``None`` turns that rule off.
    """

    temp_warn_hdd: int = 50
    temp_crit_hdd: int = 60
    temp_warn_ssd: int = 70
    temp_crit_ssd: int = 80
    temp_warn_nvme: int = 70
    temp_crit_nvme: int = 80
    # An open temperature alert resolves only at warning limit minus this (no flapping).
    temp_hysteresis: int = 2
    # Critical counters (5, 10, 187, 196, 197, 198): a raw value above ``*_warn_above``
    # is a warning; an increase since the previous reading is critical (smartd -C 197+).
    counter_warn_above: int = 0
    counter_increase_critical: bool = True
    # Optional: a raw count above this is critical even when it is not growing
    # (off by default: the contract is "> 0 warning, growth critical").
    counter_crit_above: int | None = None
    # 199 UDMA CRC errors: an increase means a cable/backplane problem, not the platters.
    crc_increase_warning: bool = True
    # 188 command timeouts (decoded low 16 bits): warn when it grows by at least this much.
    command_timeout_increase: int | None = 1
    # NVMe
    nvme_wear_warn: int = 90  # percentage_used
    nvme_wear_crit: int = 100
    nvme_media_errors_warn_above: int = 0
    # SCSI / SAS
    scsi_defects_warn_above: int = 0
    scsi_uncorrected_warn_above: int = 0
    # Exit status bit 7: the self-test log records a failed test.
    selftest_errors_warning: bool = True

    @classmethod
    def from_strings(cls, values: Mapping[str, str]) -> HealthConfig:
        """Build from config-file text (``[health]`` section); errors name the key.

        Booleans accept yes/no/true/false/on/off/1/0; optional limits accept
        ``none``/``off`` to switch the rule off.
        """
        kinds = {f.name: f.type for f in fields(cls)}
        out: dict[str, object] = {}
        for key, raw in values.items():
            if key not in kinds:
                raise ValueError(f"unknown [health] setting {key!r}")
            text = str(raw).strip().lower()
            kind = str(kinds[key])
            try:
                if kind == "bool":
                    if text not in _BOOLS:
                        raise ValueError("expected yes/no")
                    out[key] = _BOOLS[text]
                elif "None" in kind and text in ("none", "off", ""):
                    out[key] = None
                else:
                    out[key] = int(text)
            except ValueError as exc:
                raise ValueError(f"[health] {key} = {raw!r}: {exc}") from None
        return cls(**out)  # type: ignore[arg-type]

    def temperature_limits(self, device_class: DeviceClass) -> tuple[int, int]:
        if device_class == "nvme":
            return self.temp_warn_nvme, self.temp_crit_nvme
        if device_class == "ssd":
            return self.temp_warn_ssd, self.temp_crit_ssd
        return self.temp_warn_hdd, self.temp_crit_hdd

    def __post_init__(self) -> None:
        for cls in ("hdd", "ssd", "nvme"):
            warn, crit = self.temperature_limits(cls)  # type: ignore[arg-type]
            if warn > crit:
                raise ValueError(f"temp_warn_{cls} ({warn}) is above temp_crit_{cls} ({crit})")
        if self.temp_hysteresis < 0:
            raise ValueError(f"temp_hysteresis must be >= 0: {self.temp_hysteresis}")
        if self.nvme_wear_warn > self.nvme_wear_crit:
            raise ValueError(
                f"nvme_wear_warn ({self.nvme_wear_warn}) is above "
                f"nvme_wear_crit ({self.nvme_wear_crit})"
            )


_BOOLS = {
    "1": True,
    "yes": True,
    "true": True,
    "on": True,
    "0": False,
    "no": False,
    "false": False,
    "off": False,
}

DEFAULT_CONFIG = HealthConfig()


# ---------------------------------------------------------------------------
# Decoding raw values


def is_seagate(identity: Identity | None) -> bool:
    """Seagate drives pack several counters into one 48-bit raw value."""
    if identity is None or not identity.model:
        return False
    model = identity.model.strip().upper()
    return model.startswith("ST") or model.startswith("SEAGATE")


_FIRST_INT = re.compile(r"^\s*(\d+)(?=\s|\(|$)")


def counter_value(attr: Attribute, identity: Identity | None = None) -> int:
    """The number a counter really holds, with vendor packing removed.

    - 188 Command_Timeout: smartctl shows it as "0 0 5" (three 16-bit words); the count is
      the low word, as SnapRAID reads it. Seagate's raw 17180131332 is "4 4 4" -> 4.
    - Seagate 1, 7, 195 (error *rates*): the error count is in bits 32-47, the low 32 bits
      count operations; without decoding, every healthy Seagate shows millions.
    - Seagate 187: low 16 bits (SnapRAID).
    - Otherwise the first integer of smartctl's raw string ("2111 (12437 0)" -> 2111), which
      is what smartctl itself prints for a known attribute, else the parsed raw value.
    """
    packed = attr.raw_packed
    if attr.id == 188:
        return packed & 0xFFFF
    if is_seagate(identity):
        if attr.id in (1, 7, 195):
            return (packed >> 32) & 0xFFFF
        if attr.id == 187:
            return packed & 0xFFFF
    m = _FIRST_INT.match(attr.raw_string or "")
    if m and attr.raw_string.strip() != m.group(1):
        return int(m.group(1))
    return attr.raw_value


def device_class(record: SmartRecord) -> DeviceClass:
    """hdd/ssd/nvme, for per-class temperature limits. Unknown rotation counts as HDD
    (the stricter limits), because guessing "ssd" would hide a hot HDD."""
    ident = record.identity
    if record.nvme is not None or (ident is not None and ident.protocol is Protocol.NVME):
        return "nvme"
    if ident is not None and ident.rotation_rate == 0:
        return "ssd"
    return "hdd"


def temperature_of(record: SmartRecord) -> int | None:
    """Current temperature in °C: smartctl's own figure, else NVMe log, else 194/190."""
    if record.temperature is not None and record.temperature > 0:
        return record.temperature
    if record.nvme is not None and record.nvme.temperature:
        return record.nvme.temperature
    for attr_id in (194, 190):
        a = record.attribute(attr_id)
        if a is not None:
            m = _FIRST_INT.match(a.raw_string or "")
            t = int(m.group(1)) if m else a.raw_value & 0xFF
            if 0 < t < 150:
                return t
    return None


# ---------------------------------------------------------------------------
# Rules


@dataclass(frozen=True)
class Context:
    record: SmartRecord
    previous: SmartRecord | None
    cfg: HealthConfig
    active: frozenset[str] = frozenset()  # rule ids with an open alert on this disk

    def counter(self, record: SmartRecord | None, attr_id: int) -> int | None:
        if record is None or not record.ok:
            return None
        a = record.attribute(attr_id)
        return None if a is None else counter_value(a, record.identity)


Rule = Callable[[Context], Iterable[Finding]]

RULES: dict[str, Rule] = {}


def rule(rule_id: str) -> Callable[[Rule], Rule]:
    """Register a rule; a duplicate id raises (it would silently replace the first rule)."""

    def register(fn: Rule) -> Rule:
        if rule_id in RULES:
            raise ValueError(f"health rule {rule_id!r} is registered twice")
        RULES[rule_id] = fn
        return fn

    return register


@rule("smart_failed")
def _smart_failed(ctx: Context) -> Iterable[Finding]:
    r = ctx.record
    if r.smart_passed is False or r.exit_status.smart_failing:
        yield Finding("smart_failed", C, "SMART overall-health self-assessment: FAILED", value=1.0)


def _attr_label(a: Attribute) -> str:
    return f"{a.name} ({a.id})"


@rule("attr_below_threshold")
def _attr_below_threshold(ctx: Context) -> Iterable[Finding]:
    """A normalised value at or below its vendor threshold now. Threshold 0 means
    "never fails" in ATA, so it is skipped."""
    failing = [
        a
        for a in ctx.record.attributes
        if a.when_failed == "now" or (a.thresh and a.value is not None and 0 < a.value <= a.thresh)
    ]
    if failing:
        parts = "; ".join(
            f"{_attr_label(a)} value {a.value} <= threshold {a.thresh}" for a in failing
        )
        yield Finding(
            "attr_below_threshold",
            C,
            f"attribute at or below its vendor threshold: {parts}",
            value=float(failing[0].value) if failing[0].value is not None else None,
            attribute_id=failing[0].id,
        )
    elif ctx.record.exit_status.prefail_below_threshold:
        yield Finding(
            "attr_below_threshold",
            C,
            "smartctl reports a prefailure attribute at or below its threshold (exit bit 4)",
        )


@rule("attr_failed_past")
def _attr_failed_past(ctx: Context) -> Iterable[Finding]:
    past = [a for a in ctx.record.attributes if a.when_failed == "past"]
    if past:
        parts = "; ".join(f"{_attr_label(a)} (worst {a.worst}, threshold {a.thresh})" for a in past)
        yield Finding(
            "attr_failed_past",
            W,
            f"attribute was at or below its threshold in the past: {parts}",
            value=float(past[0].worst) if past[0].worst is not None else None,
            attribute_id=past[0].id,
        )
    elif ctx.record.exit_status.past_below_threshold:
        yield Finding(
            "attr_failed_past",
            W,
            "smartctl reports an attribute below its threshold in the past (exit bit 5)",
        )


# The critical counters: (attribute id, rule id, what a person calls it).
CRITICAL_COUNTERS: tuple[tuple[int, str, str], ...] = (
    (5, "reallocated", "reallocated sectors"),
    (10, "spin_retry", "spin-up retries"),
    (187, "reported_uncorrectable", "reported uncorrectable errors"),
    (196, "reallocation_events", "reallocation events"),
    (197, "pending", "pending (unstable) sectors"),
    (198, "offline_uncorrectable", "offline uncorrectable sectors"),
)


def _counter_rule(attr_id: int, rule_id: str, what: str) -> Rule:
    def check(ctx: Context) -> Iterable[Finding]:
        now = ctx.counter(ctx.record, attr_id)
        if now is None:
            return
        before = ctx.counter(ctx.previous, attr_id)
        grew = before is not None and now > before
        if grew and ctx.cfg.counter_increase_critical:
            yield Finding(
                rule_id,
                C,
                f"{what} increased from {before} to {now} (attribute {attr_id})",
                value=float(now),
                attribute_id=attr_id,
            )
        elif ctx.cfg.counter_crit_above is not None and now > ctx.cfg.counter_crit_above:
            yield Finding(
                rule_id,
                C,
                f"{now} {what} (attribute {attr_id}), above the critical limit "
                f"{ctx.cfg.counter_crit_above}",
                value=float(now),
                attribute_id=attr_id,
            )
        elif now > ctx.cfg.counter_warn_above:
            yield Finding(
                rule_id,
                W,
                f"{now} {what} (attribute {attr_id})",
                value=float(now),
                attribute_id=attr_id,
            )

    check.__name__ = f"_{rule_id}"
    check.__doc__ = f"Attribute {attr_id}: above limit = warning, increase = critical."
    return check


for _id, _rule_id, _what in CRITICAL_COUNTERS:
    rule(_rule_id)(_counter_rule(_id, _rule_id, _what))


@rule("crc_increase")
def _crc_increase(ctx: Context) -> Iterable[Finding]:
    """199 counts link-level CRC errors: a cable or backplane fault, not a dying disk.
    Old errors are history; only growth is worth a message."""
    if not ctx.cfg.crc_increase_warning:
        return
    now, before = ctx.counter(ctx.record, 199), ctx.counter(ctx.previous, 199)
    if now is not None and before is not None and now > before:
        yield Finding(
            "crc_increase",
            W,
            f"interface CRC errors increased from {before} to {now} (attribute 199): "
            "check the cable or backplane",
            value=float(now),
            attribute_id=199,
        )


@rule("command_timeout")
def _command_timeout(ctx: Context) -> Iterable[Finding]:
    step = ctx.cfg.command_timeout_increase
    if step is None:
        return
    now, before = ctx.counter(ctx.record, 188), ctx.counter(ctx.previous, 188)
    if now is not None and before is not None and now - before >= step:
        yield Finding(
            "command_timeout",
            W,
            f"command timeouts increased from {before} to {now} (attribute 188)",
            value=float(now),
            attribute_id=188,
        )


@rule("temperature")
def _temperature(ctx: Context) -> Iterable[Finding]:
    t = temperature_of(ctx.record)
    if t is None:
        return
    cls = device_class(ctx.record)
    warn, crit = ctx.cfg.temperature_limits(cls)
    if t >= crit:
        yield Finding(
            "temperature", C, f"temperature {t} °C >= critical limit {crit} °C ({cls})", float(t)
        )
    elif t >= warn:
        yield Finding(
            "temperature", W, f"temperature {t} °C >= warning limit {warn} °C ({cls})", float(t)
        )
    elif "temperature" in ctx.active and t > warn - ctx.cfg.temp_hysteresis:
        # Hysteresis: an open temperature alert clears only once the disk is clearly
        # cooler, so a disk hovering at the limit does not open and resolve every cycle.
        yield Finding(
            "temperature",
            W,
            f"temperature {t} °C, within {ctx.cfg.temp_hysteresis} °C of the warning limit "
            f"{warn} °C ({cls}); clears at {warn - ctx.cfg.temp_hysteresis} °C",
            float(t),
        )


NVME_CRITICAL_WARNING_BITS: tuple[tuple[int, str], ...] = (
    (0, "available spare below threshold"),
    (1, "temperature outside limits"),
    (2, "NVM subsystem reliability degraded"),
    (3, "media placed in read-only mode"),
    (4, "volatile memory backup device failed"),
    (5, "persistent memory region read-only"),
)


@rule("nvme_critical_warning")
def _nvme_critical_warning(ctx: Context) -> Iterable[Finding]:
    nv = ctx.record.nvme
    if nv is None or not nv.critical_warning:
        return
    bits = [text for bit, text in NVME_CRITICAL_WARNING_BITS if nv.critical_warning >> bit & 1]
    known = sum(1 << bit for bit, _ in NVME_CRITICAL_WARNING_BITS)
    if nv.critical_warning & ~known:
        bits.append(f"unknown bits 0x{nv.critical_warning & ~known:02x}")
    yield Finding(
        "nvme_critical_warning",
        C,
        f"NVMe critical_warning 0x{nv.critical_warning:02x}: " + ", ".join(bits),
        value=float(nv.critical_warning),
    )


@rule("nvme_media_errors")
def _nvme_media_errors(ctx: Context) -> Iterable[Finding]:
    nv = ctx.record.nvme
    if nv is None or nv.media_errors is None:
        return
    prev = ctx.previous.nvme if ctx.previous is not None and ctx.previous.ok else None
    before = prev.media_errors if prev is not None else None
    now = nv.media_errors
    if before is not None and now > before and ctx.cfg.counter_increase_critical:
        yield Finding(
            "nvme_media_errors",
            C,
            f"NVMe media and data integrity errors increased from {before} to {now}",
            float(now),
        )
    elif now > ctx.cfg.nvme_media_errors_warn_above:
        yield Finding(
            "nvme_media_errors", W, f"{now} NVMe media and data integrity errors", float(now)
        )


@rule("nvme_spare")
def _nvme_spare(ctx: Context) -> Iterable[Finding]:
    """Strictly below the threshold: QEMU reports spare 0 with threshold 0."""
    nv = ctx.record.nvme
    if nv is None or nv.available_spare is None or nv.available_spare_threshold is None:
        return
    if nv.available_spare < nv.available_spare_threshold:
        yield Finding(
            "nvme_spare",
            C,
            f"NVMe available spare {nv.available_spare}% below its threshold "
            f"{nv.available_spare_threshold}%",
            float(nv.available_spare),
        )


@rule("nvme_wear")
def _nvme_wear(ctx: Context) -> Iterable[Finding]:
    nv = ctx.record.nvme
    if nv is None or nv.percentage_used is None:
        return
    used = nv.percentage_used
    if used >= ctx.cfg.nvme_wear_crit:
        yield Finding(
            "nvme_wear", C, f"NVMe endurance used {used}% >= {ctx.cfg.nvme_wear_crit}%", float(used)
        )
    elif used >= ctx.cfg.nvme_wear_warn:
        yield Finding(
            "nvme_wear", W, f"NVMe endurance used {used}% >= {ctx.cfg.nvme_wear_warn}%", float(used)
        )


def _scsi_counter_rule(rule_id: str, what: str, get: Callable, warn_attr: str) -> Rule:
    def check(ctx: Context) -> Iterable[Finding]:
        sc = ctx.record.scsi
        now = get(sc) if sc is not None else None
        if now is None:
            return
        prev = ctx.previous.scsi if ctx.previous is not None and ctx.previous.ok else None
        before = get(prev) if prev is not None else None
        if before is not None and now > before and ctx.cfg.counter_increase_critical:
            yield Finding(rule_id, C, f"{what} increased from {before} to {now}", float(now))
        elif now > getattr(ctx.cfg, warn_attr):
            yield Finding(rule_id, W, f"{now} {what}", float(now))

    return check


def _scsi_uncorrected(sc) -> int | None:
    parts = [sc.read_uncorrected, sc.write_uncorrected, sc.verify_uncorrected]
    known = [p for p in parts if p is not None]
    return sum(known) if known else None


rule("scsi_grown_defects")(
    _scsi_counter_rule(
        "scsi_grown_defects",
        "SCSI grown defects",
        lambda sc: sc.grown_defects,
        "scsi_defects_warn_above",
    )
)
rule("scsi_uncorrected")(
    _scsi_counter_rule(
        "scsi_uncorrected",
        "SCSI uncorrected read/write/verify errors",
        _scsi_uncorrected,
        "scsi_uncorrected_warn_above",
    )
)


@rule("selftest_errors")
def _selftest_errors(ctx: Context) -> Iterable[Finding]:
    if ctx.cfg.selftest_errors_warning and ctx.record.exit_status.selftest_log_has_errors:
        yield Finding("selftest_errors", W, "the self-test log records a failed self-test")


# ---------------------------------------------------------------------------
# Entry points


def evaluate(
    record: SmartRecord,
    previous: SmartRecord | None = None,
    cfg: HealthConfig = DEFAULT_CONFIG,
    *,
    active: Iterable[str] = (),
) -> list[Finding]:
    """All findings for one reading, at most one per rule id, most severe first.

    ``previous`` is the last *good* reading of the same disk (by disk id); readings that
    are not OK are ignored on both sides, so a standby cycle neither fires nor clears.
    ``active`` names the rules with an open alert on this disk; rules with hysteresis
    (temperature) use it to hold an alert until the condition has clearly cleared.
    """
    if record.state is not ReadState.OK:
        return []
    if previous is not None and previous.state is not ReadState.OK:
        previous = None
    ctx = Context(record, previous, cfg, frozenset(active))
    found: dict[str, Finding] = {}
    for rule_id, fn in RULES.items():
        for f in fn(ctx):
            old = found.get(rule_id)
            if old is None or f.severity.rank > old.severity.rank:
                found[rule_id] = f
    return sorted(found.values(), key=lambda f: -f.severity.rank)


def verdict(findings: Sequence[Finding]) -> Verdict:
    if any(f.severity is C for f in findings):
        return "critical"
    if findings:
        return "warning"
    return "healthy"
