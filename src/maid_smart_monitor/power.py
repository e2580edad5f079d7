"""What the kernel knows about a disk's activity and power, read without touching the disk.

Every read goes through the injected ``procfs`` and ``sysfs`` roots (``/proc`` and
``/sys`` by default; ``/host/proc`` and ``/host/sys`` in a container, like
node_exporter) and only ever opens files under them: never a device node, because
opening ``/dev/sdX`` can resume a runtime-suspended disk and spin it up.

Sources, all free for the disk:

* ``{procfs}/diskstats``: completed reads/writes per block device (the piggy-back
  signal). Parsed directly rather than through psutil, whose ``PROCFS_PATH`` is a
  process-wide global and therefore cannot serve two roots or threads safely.
* ``{procfs}/self/mountinfo`` (``major:minor`` of each mounted block device, which also
  resolves ``/dev/root`` and ``/dev/mapper`` names) and ``{procfs}/self/mounts``.
  Under a non-default procfs root, ``{procfs}/1/mount*`` is preferred: ``self`` there is
  the container's own mount namespace, pid 1 is the host's.
* ``{sysfs}/block/<d>/queue/rotational``, ``.../device/vendor`` (``ATA`` for libata
  disks), ``.../device/power/runtime_status``, ``.../dev`` and the ``holders/``
  directories that stack device-mapper and md devices on disks and partitions.

A missing or unreadable file gives ``None`` ("unknown"), never an exception: the
monitor must keep going when a disk vanishes between two reads.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from maid_smart_monitor.model import DiskRef, IoCounters, PowerSnapshot, PowerState

# Holder chains deeper than this are a loop or a broken tree, not a real stack.
_MAX_HOLDER_DEPTH = 8


@dataclass(frozen=True)
class _Mounted:
    """Mounted block sources, by kernel name and by ``major:minor``."""

    names: frozenset[str]  # "sda1", "dm-0", "md0", "mapper/vg-lv", "md/name"
    majmin: frozenset[str]  # "8:1"


def _intersects(ids: frozenset[str] | set[str], mounted: _Mounted) -> bool:
    return not (ids.isdisjoint(mounted.names) and ids.isdisjoint(mounted.majmin))


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except (OSError, ValueError):
        return None


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _unescape_mount(field: str) -> str:
    """/proc/*/mounts escapes space, tab, newline and backslash as octal (``\\040``)."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        c = field[i]
        code = field[i + 1 : i + 4]
        if c == "\\" and len(code) == 3 and all(ch in "01234567" for ch in code):
            out.append(chr(int(code, 8)))
            i += 4
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _dev_name(source: str) -> str | None:
    """``/dev/sda1`` -> ``sda1``; ``/dev/mapper/vg-lv`` -> ``mapper/vg-lv``; else None."""
    if not source.startswith("/dev/"):
        return None
    name = os.path.normpath(source)[len("/dev/") :]
    return name or None


def parse_diskstats(
    text: str, wanted: frozenset[str] | set[str] | None = None
) -> dict[str, IoCounters]:
    """``/proc/diskstats`` -> {name: IoCounters(reads completed, writes completed)}.

    Fields: major minor name reads reads_merged sectors_read ms_reading writes ...;
    short or garbled lines are skipped. ``wanted`` limits the result to those names
    (a daemon samples this file every few seconds; partitions are not wanted).
    """
    out: dict[str, IoCounters] = {}
    for line in text.splitlines():
        parts = line.split(None, 8)
        if len(parts) < 8 or (wanted is not None and parts[2] not in wanted):
            continue
        try:
            out[parts[2]] = IoCounters(int(parts[3]), int(parts[7]))
        except ValueError:
            continue
    return out


class PowerReader:
    """Reads activity and power facts for disks from procfs/sysfs only.

    ``snapshot`` reads diskstats, the mount table and each disk's runtime PM status on
    every call; what only changes when hardware or the storage stack changes (vendor,
    rotational flag, the partition/holder names a disk can be mounted under) is cached
    for ``static_ttl`` seconds, so a daemon can snapshot 1,000 disks every few seconds.
    """

    def __init__(
        self,
        procfs: str = "/proc",
        sysfs: str = "/sys",
        *,
        static_ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.procfs = procfs
        self.sysfs = sysfs
        self.static_ttl = static_ttl
        self._clock = clock
        self._static: dict[str, tuple[float, str | None, bool | None, frozenset[str]]] = {}
        self._mounts_cache: tuple[tuple[str | None, str | None], _Mounted] | None = None

    # ------------------------------------------------------------------ cheap, frequent

    def diskstats(self, wanted: Iterable[str] | None = None) -> dict[str, IoCounters]:
        """Block devices' counters (only ``wanted`` ones if given); empty when diskstats
        is unreadable."""
        text = _read_text(os.path.join(self.procfs, "diskstats"))
        if not text:
            return {}
        return parse_diskstats(text, None if wanted is None else frozenset(wanted))

    def io_counters(self, blocks: Iterable[str]) -> dict[str, IoCounters]:
        """Counters for the given block names (missing ones left out). One file read:
        cheap enough for the daemon to call every few seconds."""
        return self.diskstats(blocks)

    # ------------------------------------------------------------------ per-disk sysfs

    def _block_file(self, block: str, *parts: str) -> str | None:
        if not block or "/" in block or block in (".", ".."):
            return None  # never let a name escape the sysfs root
        text = _read_text(os.path.join(self.sysfs, "block", block, *parts))
        return None if text is None else text.strip()

    def rotational(self, block: str) -> bool | None:
        value = self._block_file(block, "queue", "rotational")
        if value == "1":
            return True
        if value == "0":
            return False
        return None

    def runtime_status(self, block: str) -> str | None:
        """``active``, ``suspended``, ``suspending``, ``resuming``, ``unsupported`` or None."""
        value = self._block_file(block, "device", "power", "runtime_status")
        return value or None

    def sysfs_vendor(self, block: str) -> str | None:
        """SCSI INQUIRY vendor as the kernel saw it at probe time; ``ATA`` for libata."""
        value = self._block_file(block, "device", "vendor")
        return value or None

    def power_state(self, block: str | None) -> PowerState:
        """Only what sysfs can tell: SUSPENDED, or UNKNOWN (spinning or standby needs
        ``smartctl -n``, which the policy decides about)."""
        if block and self.runtime_status(block) in ("suspended", "suspending"):
            return PowerState.SUSPENDED
        return PowerState.UNKNOWN

    # ------------------------------------------------------------------ mounts

    def _mount_tables(self) -> tuple[str | None, str | None]:
        """(mountinfo text, mounts text) of one mount namespace: under a non-default root
        pid 1's (the host's), else our own; ``{procfs}/mounts`` as a last resort."""
        pids = ["self"] if os.path.normpath(self.procfs) == "/proc" else ["1", "self"]
        for pid in pids:
            info = _read_text(os.path.join(self.procfs, pid, "mountinfo"))
            mounts = _read_text(os.path.join(self.procfs, pid, "mounts"))
            if info is not None or mounts is not None:
                return info, mounts
        return None, _read_text(os.path.join(self.procfs, "mounts"))

    def mounted_sources(self) -> _Mounted:
        """Block sources of mounted filesystems, by name and (from mountinfo, which also
        resolves ``/dev/root``) by major:minor."""
        info, mounts = self._mount_tables()
        if self._mounts_cache is not None and self._mounts_cache[0] == (info, mounts):
            return self._mounts_cache[1]
        names: set[str] = set()
        majmin: set[str] = set()
        for line in (info or "").splitlines():
            left, sep, right = line.partition(" - ")
            fields = left.split()
            if len(fields) >= 3 and fields[2].count(":") == 1:
                majmin.add(fields[2])
            rfields = right.split()
            if sep and len(rfields) >= 2:
                name = _dev_name(_unescape_mount(rfields[1]))
                if name:
                    names.add(name)
        for line in (mounts or "").splitlines():
            fields = line.split()
            if fields:
                name = _dev_name(_unescape_mount(fields[0]))
                if name:
                    names.add(name)
        result = _Mounted(frozenset(names), frozenset(majmin))
        self._mounts_cache = ((info, mounts), result)  # the table rarely changes
        return result

    def _identities(self, block: str, depth: int = 0) -> set[str]:
        """Every name and major:minor under which ``block`` (a disk, a partition or a
        holder) or anything stacked on it could appear in the mount table."""
        ids: set[str] = {block}
        base = os.path.join(self.sysfs, "block", block)
        if not os.path.isdir(base):
            # partitions live under their disk in /sys/block; /sys/class/block has all
            base = os.path.join(self.sysfs, "class", "block", block)
        dev = _read_text(os.path.join(base, "dev"))
        if dev:
            ids.add(dev.strip())
        dm_name = _read_text(os.path.join(base, "dm", "name"))
        if dm_name and dm_name.strip():
            ids.add("mapper/" + dm_name.strip())
        md_name = _read_text(os.path.join(base, "md", "array_name"))
        if md_name and md_name.strip():
            ids.add("md/" + md_name.strip())
        if depth >= _MAX_HOLDER_DEPTH:
            return ids
        children = [c for c in _listdir(base) if c.startswith(block)
                    and os.path.exists(os.path.join(base, c, "partition"))]
        for part in children:
            pdir = os.path.join(base, part)
            ids.add(part)
            pdev = _read_text(os.path.join(pdir, "dev"))
            if pdev:
                ids.add(pdev.strip())
            for holder in _listdir(os.path.join(pdir, "holders")):
                ids |= self._identities(holder, depth + 1)
        for holder in _listdir(os.path.join(base, "holders")):
            ids |= self._identities(holder, depth + 1)
        return ids

    def is_mounted(self, block: str | None, mounted: _Mounted | None = None) -> bool:
        """Does ``block``, a partition of it or a device stacked on it (dm, md, recursively)
        back a mounted filesystem?"""
        if not block:
            return False
        mounted = mounted if mounted is not None else self.mounted_sources()
        return _intersects(self._identities(block), mounted)

    def _static_info(self, block: str) -> tuple[str | None, bool | None, frozenset[str]]:
        now = self._clock()
        hit = self._static.get(block)
        if hit is not None and hit[0] > now:
            return hit[1], hit[2], hit[3]
        info = (self.sysfs_vendor(block), self.rotational(block),
                frozenset(self._identities(block)))
        if self.static_ttl > 0:
            self._static[block] = (now + self.static_ttl, *info)
        return info

    # ------------------------------------------------------------------ all at once

    def snapshot(self, devices: Sequence[DiskRef]) -> dict[str, PowerSnapshot]:
        """One PowerSnapshot per device, keyed by ``DiskRef.key``; one diskstats read
        and one mount-table read for the whole set."""
        stats = self.diskstats({d.block for d in devices if d.block})
        mounted = self.mounted_sources()
        out: dict[str, PowerSnapshot] = {}
        for dev in devices:
            block = dev.block
            if not block:
                out[dev.key] = PowerSnapshot(device=dev, rotational=dev.rotational)
                continue
            vendor, rotational, ids = self._static_info(block)
            out[dev.key] = PowerSnapshot(
                device=dev,
                io=stats.get(block),
                mounted=_intersects(ids, mounted),
                rotational=rotational if rotational is not None else dev.rotational,
                runtime_status=self.runtime_status(block),
                is_ata=None if vendor is None else vendor == "ATA",
            )
        return out
