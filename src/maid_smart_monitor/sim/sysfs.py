"""Fake procfs/sysfs trees: the kernel's view of a simulated fleet, as files.

The monitor reads ``/proc/diskstats``, ``/proc/self/mount*`` and ``/sys/block/...`` through
injectable roots; pointing those roots at a tree written here is how the simulator
exposes disk activity and power state through the same boundary as production. Only
the files the monitor reads are written, in the kernel's formats. Every file is
replaced atomically (write + rename), so a reader never sees half a file while the
fleet changes under it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Partition:
    name: str  # "sda1"
    majmin: str  # "8:1"


@dataclass(frozen=True)
class BlockSpec:
    """One disk in /sys/block."""

    name: str
    majmin: str
    rotational: bool | None = True
    vendor: str | None = "ATA"  # None: no device/vendor file (NVMe)
    runtime_status: str | None = "active"  # None: no runtime PM file
    partitions: tuple[Partition, ...] = ()


@dataclass(frozen=True)
class HolderSpec:
    """A device stacked on disks or partitions: dm (LVM, crypt) or md (RAID)."""

    name: str  # "dm-0", "md0"
    majmin: str
    slaves: tuple[str, ...]  # block or partition names it sits on
    dm_name: str | None = None  # /sys/block/dm-N/dm/name -> /dev/mapper/<dm_name>


@dataclass(frozen=True)
class MountSpec:
    source: str  # "/dev/sda1", "/dev/mapper/vg-lv", "/dev/root", "proc"
    target: str
    fstype: str = "xfs"
    majmin: str = "0:0"  # mountinfo's st_dev of the filesystem


@dataclass
class Tree:
    """Where a fake tree lives: pass ``procfs`` and ``sysfs`` to PowerReader."""

    root: Path
    blocks: list[BlockSpec] = field(default_factory=list)
    holders: list[HolderSpec] = field(default_factory=list)
    mounts: list[MountSpec] = field(default_factory=list)

    @property
    def procfs(self) -> str:
        return str(self.root / "proc")

    @property
    def sysfs(self) -> str:
        return str(self.root / "sys")


def atomic_write(path: str | os.PathLike[str], text: str) -> None:
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _write(path: Path, text: str) -> None:
    """Plain write for building a fresh tree (nobody reads it yet)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def diskstats_line(majmin: str, name: str, reads: int, writes: int) -> str:
    """One /proc/diskstats line (kernel >= 5.5: 17 counters after the name)."""
    major, minor = majmin.split(":")
    ticks = (reads + writes) // 10
    return (f"{major:>4} {minor:>7} {name} {reads} 0 {reads * 8} {reads // 10} {writes} 0 "
            f"{writes * 8} {writes // 10} 0 {ticks} {ticks} 0 0 0 0 0 0")


def write_diskstats(
    procfs: str | os.PathLike[str], rows: Iterable[tuple[str, str, int, int]]
) -> None:
    """rows: (majmin, name, reads, writes). Atomic: readers never see half a file."""
    text = "\n".join(diskstats_line(*r) for r in rows)
    Path(procfs).mkdir(parents=True, exist_ok=True)
    atomic_write(Path(procfs) / "diskstats", text + "\n")


def write_runtime_status(sysfs: str | os.PathLike[str], block: str, status: str) -> None:
    path = Path(sysfs) / "block" / block / "device" / "power" / "runtime_status"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, status + "\n")


def _escape(s: str) -> str:
    return s.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011")


def write_mounts(procfs: str | os.PathLike[str], mounts: Sequence[MountSpec]) -> None:
    """self/mounts and self/mountinfo (both, as the kernel offers both)."""
    base = Path(procfs) / "self"
    mounts_text = "".join(
        f"{_escape(m.source)} {_escape(m.target)} {m.fstype} rw,relatime 0 0\n" for m in mounts
    )
    info_text = "".join(
        f"{20 + i} 1 {m.majmin} / {_escape(m.target)} rw,relatime shared:{i + 1} - "
        f"{m.fstype} {_escape(m.source)} rw\n"
        for i, m in enumerate(mounts)
    )
    _write(base / "mounts", mounts_text)
    _write(base / "mountinfo", info_text)


def write_tree(tree: Tree, io: dict[str, tuple[int, int]] | None = None) -> Tree:
    """Write the whole tree from scratch (removing any previous one)."""
    for sub in ("proc", "sys"):
        shutil.rmtree(tree.root / sub, ignore_errors=True)
    sys_block = Path(tree.sysfs) / "block"
    sys_block.mkdir(parents=True, exist_ok=True)
    for b in tree.blocks:
        d = sys_block / b.name
        _write(d / "dev", b.majmin + "\n")
        if b.rotational is not None:
            _write(d / "queue" / "rotational", ("1" if b.rotational else "0") + "\n")
        if b.vendor is not None:
            _write(d / "device" / "vendor", f"{b.vendor:<8}\n")
        if b.runtime_status is not None:
            _write(d / "device" / "power" / "runtime_status", b.runtime_status + "\n")
        (d / "holders").mkdir(parents=True, exist_ok=True)
        for p in b.partitions:
            _write(d / p.name / "dev", p.majmin + "\n")
            _write(d / p.name / "partition", p.name[len(b.name):].lstrip("p") + "\n")
            (d / p.name / "holders").mkdir(parents=True, exist_ok=True)
    part_dir = {p.name: sys_block / b.name / p.name for b in tree.blocks for p in b.partitions}
    for h in tree.holders:
        d = sys_block / h.name
        _write(d / "dev", h.majmin + "\n")
        _write(d / "queue" / "rotational", "1\n")
        (d / "holders").mkdir(parents=True, exist_ok=True)
        if h.dm_name:
            _write(d / "dm" / "name", h.dm_name + "\n")
        for s in h.slaves:
            slave_dir = part_dir.get(s, sys_block / s)
            link = slave_dir / "holders" / h.name
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                os.symlink(os.path.relpath(d, link.parent), link)
    write_mounts(tree.procfs, tree.mounts)
    io = io or {}
    write_diskstats(tree.procfs, diskstats_rows(tree, io))
    return tree


def diskstats_rows(
    tree: Tree, io: dict[str, tuple[int, int]]
) -> list[tuple[str, str, int, int]]:
    """Rows for every disk, partition and holder; partitions carry their disk's I/O and
    holders the sum of their slaves', which is what a host sees for a one-partition disk."""
    rows: list[tuple[str, str, int, int]] = []
    owner: dict[str, str] = {}
    for b in tree.blocks:
        r, w = io.get(b.name, (0, 0))
        rows.append((b.majmin, b.name, r, w))
        for p in b.partitions:
            owner[p.name] = b.name
            rows.append((p.majmin, p.name, r, w))
    for h in tree.holders:
        r = w = 0
        for s in h.slaves:
            sr, sw = io.get(owner.get(s, s), (0, 0))
            r, w = r + sr, w + sw
        rows.append((h.majmin, h.name, r, w))
    return rows
