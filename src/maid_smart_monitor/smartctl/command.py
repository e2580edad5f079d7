"""smartctl argument vectors, built in one place so no caller can forget ``-d`` or ``-n``.

Pure: returns lists, runs nothing. Two rules protect sleeping disks:

* always ``-d TYPE``: smartctl's type autodetection opens and probes the device, which can
  spin it up (smartctl(8));
* ``-n standby,3`` unless the caller means to wake the disk: smartctl then answers a
  disk in STANDBY/SLEEP without touching it and exits with our own code 3.
  Plain ``-n standby`` exits 2, which is also "open failed"; 3 cannot arise naturally
  because smartctl exits 1 at once on a bad command line, before it sets bit 1.
"""

from __future__ import annotations

import re

from ..model import DiskRef

STANDBY_EXIT = 3
JSON_FLAG = "--json=c"  # compact JSON: one line, cheapest to produce and to parse

# smartctl(8) ``-d`` names (7.3, plus later sssraid, usbasm1352r, jmb39x-q2; a ``/sat``
# suffix, as in ``sntjmicron/sat``, belongs to the name). ``auto`` and ``test``
# are names too, but they autodetect (``test`` then prints the guess), which can spin the
# disk up: recognised so they are refused by name, never passed to smartctl.
AUTODETECT_TYPES = ("auto", "test")
DEVICE_TYPES = frozenset({
    "ata", "scsi", "nvme", "sat", "usbcypress", "usbjmicron", "usbprolific", "usbsunplus",
    "usbasm1352r", "sntasmedia", "sntjmicron", "sntrealtek", "intelliprop", "jmb39x",
    "jmb39x-q", "jmb39x-q2", "jms56x", "marvell", "areca", "3ware", "hpt", "megaraid",
    "aacraid", "cciss", "sssraid", *AUTODETECT_TYPES,
})
# -d types that reach a disk behind a RAID controller or bridge: the path names the
# controller or its virtual drive, so the disk has no block device (no I/O counters) of
# its own. The one list for discovery (scan.block_name) and the read policy.
RAID_PASSTHROUGH_TYPES = (
    "megaraid", "cciss", "areca", "3ware", "aacraid", "hpt", "sssraid",
    "jmb39x", "jms56x", "intelliprop",
)
# Of those, the ones that forward ATA CHECK POWER MODE, so ``-n standby`` works: intelliprop
# passes every ATA command to the routed disk. The others ignore ``-n`` ("CHECK POWER MODE
# not implemented"); jmb39x/jms56x tunnel no NO-DATA command at all (smartmontools source).
POWER_CHECK_PASSED_THROUGH = ("intelliprop",)
_TYPE_ARG = re.compile(r"^[A-Za-z0-9_/-]+$")


def type_names(dev_type: str) -> list[str]:
    """The ``-d`` names in ``dev_type``: ``sat+megaraid,3`` -> ``['sat', 'megaraid']``."""
    return [part.split(",", 1)[0].split("/", 1)[0] for part in dev_type.strip().split("+")]


def is_device_type(text: str) -> bool:
    """Whether ``text`` is a smartctl ``-d`` value: known names, each with ``,ARG`` parts
    (``megaraid,3``, ``areca,2/1``, ``hpt,1/1/1``, ``jmb39x-q,0``, ``sat+megaraid,0``)."""
    for part in text.split("+"):
        head, *args = part.split(",")
        name, _, suffix = head.partition("/")
        if name not in DEVICE_TYPES or suffix not in ("", "sat"):
            return False
        if not all(_TYPE_ARG.match(arg) for arg in args):
            return False
    return True


def refuse_autodetect(path: str, dev_type: str) -> None:
    """Raise ValueError for ``auto``/``test``: autodetection can spin the disk up."""
    if any(name in AUTODETECT_TYPES for name in type_names(dev_type)):
        raise ValueError(
            f"{path or '<no path>'}: smartctl device type {dev_type!r} autodetects the device, "
            "which can spin the disk up; give its real type (sat, scsi, nvme, megaraid,N...)"
        )


def _device_args(dev: DiskRef) -> list[str]:
    dev_type = (dev.dev_type or "").strip()
    if not dev_type:
        raise ValueError(
            f"{dev.path or '<no path>'}: no smartctl device type; refusing to let smartctl "
            "autodetect it (autodetection can spin the disk up)"
        )
    if dev_type.startswith("-") or any(c.isspace() for c in dev_type):
        raise ValueError(f"{dev.path}: invalid smartctl device type {dev.dev_type!r}")
    refuse_autodetect(dev.path, dev_type)
    path = dev.path or ""
    if not path or path.startswith("-"):
        raise ValueError(f"invalid device path {dev.path!r}")
    return ["-d", dev_type]


def _argv(smartctl: str, action: str, dev: DiskRef, power_check: bool) -> list[str]:
    argv = [smartctl, JSON_FLAG, action, *_device_args(dev)]
    if power_check:
        argv += ["-n", f"standby,{STANDBY_EXIT}"]
    argv.append(dev.path)
    return argv


def read_argv(smartctl: str, dev: DiskRef, *, power_check: bool = True) -> list[str]:
    """Full SMART read (``-a``). ``power_check=False`` only for a deliberate wake."""
    return _argv(smartctl, "-a", dev, power_check)


def info_argv(smartctl: str, dev: DiskRef, *, power_check: bool = True) -> list[str]:
    """Identity only (``-i``): used to check that a device speaks SMART at all."""
    return _argv(smartctl, "-i", dev, power_check)


def scan_argv(smartctl: str) -> list[str]:
    """Device discovery. Never ``--scan-open``: that opens (and may wake) every device."""
    return [smartctl, "--scan", JSON_FLAG]


def version_argv(smartctl: str) -> list[str]:
    """``smartctl --version`` as JSON; parse it with ``parse.parse_version``."""
    return [smartctl, JSON_FLAG, "--version"]
