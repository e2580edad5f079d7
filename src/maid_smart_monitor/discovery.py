"""Which disks exist, and the smartctl ``-d`` type to address each one with.

Discovery never opens a device: ``smartctl --scan`` (not ``--scan-open``) plus sysfs.
Type autodetection can spin a disk up, so every disk leaves here with an explicit
type; the scan's ``scsi`` for libata SATA disks is corrected to ``sat`` from sysfs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from maid_smart_monitor.model import DiskRef
from maid_smart_monitor.power import PowerReader
from maid_smart_monitor.smartctl.command import scan_argv, version_argv
from maid_smart_monitor.smartctl.parse import ParseError, parse_version
from maid_smart_monitor.smartctl.runner import Runner
from maid_smart_monitor.smartctl.scan import block_name, correct_type, parse_scan

log = logging.getLogger(__name__)

MIN_SMARTCTL = (7, 0)


class DiscoveryError(RuntimeError):
    """smartctl --scan could not list the disks (missing binary, bad output)."""


def complete(dev: DiskRef, power: PowerReader) -> DiskRef:
    """Fill in block name, rotational flag and, when missing, the type, from sysfs only.

    A ``/dev/disk/by-id/...`` (or by-path) link is resolved to its kernel node for the
    sysfs lookups; ``DiskRef.path`` stays the operator's stable name.
    """
    real = os.path.realpath(dev.path)  # reads the link only: never opens the device
    block = dev.block or block_name(real, dev.dev_type)
    dev_type = dev.dev_type
    if not dev_type:
        if real.startswith("/dev/nvme"):
            dev_type = "nvme"
        else:
            vendor = power.sysfs_vendor(block) if block else None
            dev_type = "sat" if (vendor or "").strip() == "ATA" else "scsi"
    rotational = dev.rotational
    if rotational is None and block:
        rotational = power.rotational(block)
    return DiskRef(dev.path, dev_type, block, rotational)


def _too_old(smartctl: str, runner: Runner, timeout: float) -> str | None:
    """Why unreadable scan output happened, when it is an old smartctl: JSON output
    (``-j``) arrived in smartctl 7.0. ``--version`` touches no device."""
    result = runner.run(version_argv(smartctl), timeout=timeout)
    try:
        version = parse_version(result.stdout)
    except ParseError:
        return None
    if version >= MIN_SMARTCTL:
        return None
    have = ".".join(str(p) for p in version)
    return (f"smartctl {have} is too old: maid-smart-monitor reads smartctl's JSON output, "
            f"which needs smartctl 7.0 or newer ({smartctl})")


def discover(
    smartctl: str,
    runner: Runner,
    power: PowerReader,
    explicit: Sequence[DiskRef] | None = None,
    timeout: float = 30.0,
) -> list[DiskRef]:
    if explicit:
        return [complete(d, power) for d in explicit]
    result = runner.run(scan_argv(smartctl), timeout=timeout)
    if result.not_found:
        raise DiscoveryError(f"smartctl not found: {smartctl!r} (install smartmontools)")
    if result.timed_out:
        raise DiscoveryError(f"'{smartctl} --scan' did not finish within {timeout:.0f} s")
    try:
        found = parse_scan(result.stdout)
    except ParseError as exc:
        too_old = _too_old(smartctl, runner, timeout)
        if too_old:
            raise DiscoveryError(too_old) from None
        raise DiscoveryError(f"cannot read '{smartctl} --scan' output: {exc}") from None
    out = []
    for dev in found:
        block = dev.block or block_name(os.path.realpath(dev.path), dev.dev_type)
        vendor = power.sysfs_vendor(block) if block else None
        fixed = correct_type(dev, sysfs_vendor=vendor)
        out.append(complete(fixed, power))
    return out
