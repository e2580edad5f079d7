"""``smartctl --scan --json`` output into ``DiskRef``s, and the one type fix it needs.

``--scan`` does not open devices, so it cannot tell a libata SATA disk from a SCSI one and
calls both ``scsi``. Read with ``-d scsi``, a SATA disk gives no ATA attribute table; read
with ``-d sat``, a real SCSI disk answers "Device is in SLEEP mode" for ever (its failed ATA
power check counts as sleep). So the type is corrected per disk from sysfs, which costs the
disk nothing: the kernel puts ``ATA`` in ``/sys/block/<dev>/device/vendor`` for libata disks.
Pure: the sysfs value is read elsewhere and passed in.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..model import DiskRef
from .command import RAID_PASSTHROUGH_TYPES
from .parse import ParseError, check_format, load_json
from .values import as_dict, as_str

_SD = re.compile(r"/dev/(sd[a-z]+)")
_NVME_CTRL = re.compile(r"/dev/(nvme\d+)")
_NVME_NS = re.compile(r"/dev/(nvme\d+n\d+)")


def parse_scan(stdout: str) -> list[DiskRef]:
    """The devices smartctl listed, in its order, without duplicates.

    Raises ParseError when the output is not smartctl JSON. A valid document without
    ``devices`` means no devices (smartctl omits the key when it finds none).
    """
    doc = load_json(stdout)
    check_format(doc)
    if "devices" not in doc:
        if not isinstance(doc.get("smartctl"), dict):
            raise ParseError("not smartctl --scan output: no devices and no smartctl key")
        return []
    devices = doc["devices"]
    if not isinstance(devices, list):
        raise ParseError(f"smartctl --scan: devices is a {type(devices).__name__}, not a list")
    out: list[DiskRef] = []
    seen: set[tuple[str, str]] = set()
    for item in devices:
        entry = as_dict(item)
        path, dev_type = as_str(entry.get("name")), as_str(entry.get("type"))
        if not path or not dev_type or (path, dev_type) in seen:
            continue  # without a type we would have to autodetect, which can wake the disk
        seen.add((path, dev_type))
        out.append(DiskRef(path=path, dev_type=dev_type, block=block_name(path, dev_type)))
    return out


def block_name(path: str, dev_type: str = "") -> str | None:
    """The kernel block name for ``path`` (``sda``, ``nvme0n1``), or None when it has none.

    ``/dev/nvme0`` is the controller; its first namespace ``nvme0n1`` carries the I/O.
    Disks behind a RAID controller (``/dev/bus/0`` or ``/dev/sda`` with ``megaraid,N``)
    have no block device of their own.
    """
    kinds = {part.split(",", 1)[0].lower() for part in dev_type.split("+")}
    if any(kind.startswith(RAID_PASSTHROUGH_TYPES) for kind in kinds):
        return None
    match = _SD.fullmatch(path)
    if match:
        return match.group(1)
    match = _NVME_NS.fullmatch(path)
    if match:
        return match.group(1)
    match = _NVME_CTRL.fullmatch(path)
    if match:
        return match.group(1) + "n1"
    return None


def correct_type(dev: DiskRef, *, sysfs_vendor: str | None) -> DiskRef:
    """``scsi`` -> ``sat`` for a libata disk (sysfs vendor ``ATA``); fills ``block`` if unset.

    Only the bare ``scsi`` type is changed: an explicit type (``sat``, ``megaraid,3``,
    ``usbjmicron``) was chosen by smartctl or the operator and is kept.
    """
    dev_type = dev.dev_type
    if dev_type.strip().lower() == "scsi" and (sysfs_vendor or "").strip() == "ATA":
        dev_type = "sat"
    block = dev.block if dev.block is not None else block_name(dev.path, dev_type)
    if dev_type == dev.dev_type and block == dev.block:
        return dev
    return replace(dev, dev_type=dev_type, block=block)
