"""PowerReader over fake procfs/sysfs trees: what the kernel says, without touching a disk."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from maid_smart_monitor.model import DiskRef, IoCounters, PowerState
from maid_smart_monitor.power import PowerReader, parse_diskstats
from maid_smart_monitor.sim.sysfs import (
    BlockSpec,
    HolderSpec,
    MountSpec,
    Partition,
    Tree,
    write_runtime_status,
    write_tree,
)


def _tree(tmp_path: Path) -> Tree:
    """A small host: root on NVMe (/dev/root), a plain partition, LVM on a partition,
    an md mirror of two whole disks with LVM on top, an unmounted spare, a suspended
    disk, a SAS disk, and a mount point with a space in its name."""
    blocks = [
        BlockSpec("nvme0n1", "259:0", rotational=False, vendor=None,
                  partitions=(Partition("nvme0n1p1", "259:1"),)),
        BlockSpec("sda", "8:0", partitions=(Partition("sda1", "8:1"),)),
        BlockSpec("sdb", "8:16", partitions=(Partition("sdb1", "8:17"),)),
        BlockSpec("sdc", "8:32"),
        BlockSpec("sdd", "8:48"),
        BlockSpec("sde", "8:64", partitions=(Partition("sde1", "8:65"),)),
        BlockSpec("sdf", "8:80", runtime_status="suspended",
                  partitions=(Partition("sdf1", "8:81"),)),
        BlockSpec("sdg", "8:96", vendor="SEAGATE", runtime_status=None,
                  partitions=(Partition("sdg1", "8:97"),)),
    ]
    holders = [
        HolderSpec("dm-0", "253:0", ("sdb1",), dm_name="vg0-data"),
        HolderSpec("md0", "9:0", ("sdc", "sdd")),
        HolderSpec("dm-1", "253:1", ("md0",), dm_name="vg1-archive"),
    ]
    mounts = [
        MountSpec("proc", "/proc", "proc", "0:21"),
        MountSpec("/dev/root", "/", "ext4", "259:1"),
        MountSpec("/dev/sda1", "/srv/a", "xfs", "8:1"),
        MountSpec("/dev/mapper/vg0-data", "/srv/b", "xfs", "253:0"),
        MountSpec("/dev/mapper/vg1-archive", "/srv/md archive", "xfs", "253:1"),
        MountSpec("/dev/sdf1", "/srv/f", "xfs", "8:81"),
        MountSpec("/dev/sdg1", "/srv/g", "xfs", "8:97"),
        MountSpec("tmpfs", "/run", "tmpfs", "0:25"),
    ]
    tree = Tree(tmp_path, blocks, holders, mounts)
    io = {"sda": (100, 50), "sdb": (7, 3), "nvme0n1": (9000, 800)}
    return write_tree(tree, io)


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return _tree(tmp_path)


@pytest.fixture
def reader(tree: Tree) -> PowerReader:
    return PowerReader(tree.procfs, tree.sysfs)


def test_parse_diskstats_fields_and_garbage() -> None:
    text = (
        "   8       0 sda 1234 5 9999 77 567 1 888 99 0 300 300 0 0 0 0 0 0\n"
        "garbage line\n"
        "   8       1 sda1 notanumber 0 0 0 1 0 0 0 0 0 0\n"
        "   8      16 sdb 1 0 0 0 2 0 0 0 0 0 0\n"
    )
    assert parse_diskstats(text) == {"sda": IoCounters(1234, 567), "sdb": IoCounters(1, 2)}


def test_io_counters_reads_only_requested_blocks(reader: PowerReader) -> None:
    assert reader.io_counters(["sda", "sdb", "nope"]) == {
        "sda": IoCounters(100, 50), "sdb": IoCounters(7, 3)
    }


@pytest.mark.parametrize(
    ("block", "mounted"),
    [
        ("nvme0n1", True),  # /dev/root: only mountinfo's major:minor says which disk
        ("sda", True),  # its partition is mounted
        ("sdb", True),  # LVM on its partition, mounted by /dev/mapper name
        ("sdc", True),  # md member, LVM on the md, mounted with a space in the path
        ("sdd", True),
        ("sde", False),  # a spare: partitioned, nothing mounted
        ("sdf", True),
        ("sdg", True),
        ("sdz", False),  # not in sysfs at all
    ],
)
def test_mounted_through_partitions_and_holders(
    reader: PowerReader, block: str, mounted: bool
) -> None:
    assert reader.is_mounted(block) is mounted


def test_mapper_name_alone_is_enough_without_mountinfo(tree: Tree) -> None:
    os.remove(Path(tree.procfs) / "self" / "mountinfo")
    reader = PowerReader(tree.procfs, tree.sysfs)
    assert reader.is_mounted("sdb")  # by /dev/mapper/vg0-data -> dm-0 -> sdb1 -> sdb
    assert reader.is_mounted("sdc")  # by dm name through md0
    # /dev/root cannot be resolved without mountinfo's major:minor: honest "not mounted"
    assert not reader.is_mounted("nvme0n1")


def test_majmin_alone_is_enough_for_unusual_source_names(tree: Tree) -> None:
    # mount by a by-uuid path: the name matches nothing, the major:minor does
    info = Path(tree.procfs) / "self" / "mountinfo"
    info.write_text("30 1 8:65 / /srv/e rw - xfs /dev/disk/by-uuid/1234-abcd rw\n")
    mounts = Path(tree.procfs) / "self" / "mounts"
    mounts.write_text("/dev/disk/by-uuid/1234-abcd /srv/e xfs rw 0 0\n")
    reader = PowerReader(tree.procfs, tree.sysfs)
    assert reader.is_mounted("sde")
    assert not reader.is_mounted("sda")


def test_sysfs_attributes(reader: PowerReader) -> None:
    assert reader.rotational("sda") is True
    assert reader.rotational("nvme0n1") is False
    assert reader.rotational("sdz") is None
    assert reader.sysfs_vendor("sda") == "ATA"
    assert reader.sysfs_vendor("sdg") == "SEAGATE"
    assert reader.sysfs_vendor("nvme0n1") is None
    assert reader.runtime_status("sdf") == "suspended"
    assert reader.runtime_status("sdg") is None
    assert reader.power_state("sdf") is PowerState.SUSPENDED
    assert reader.power_state("sda") is PowerState.UNKNOWN


@pytest.mark.parametrize("name", ["../../etc", "..", "sda/../../x", ""])
def test_block_names_cannot_escape_sysfs(reader: PowerReader, name: str) -> None:
    assert reader.rotational(name) is None
    assert reader.sysfs_vendor(name) is None


def test_snapshot(reader: PowerReader, tree: Tree) -> None:
    devs = [
        DiskRef("/dev/sda", "sat", "sda"),
        DiskRef("/dev/sdf", "sat", "sdf"),
        DiskRef("/dev/sdg", "scsi", "sdg"),
        DiskRef("/dev/nvme0", "nvme", "nvme0n1"),
        DiskRef("/dev/bus/0", "megaraid,3"),
    ]
    snaps = reader.snapshot(devs)
    assert list(snaps) == [d.key for d in devs]
    sda = snaps["/dev/sda:sat"]
    assert (sda.io, sda.mounted, sda.rotational, sda.is_ata, sda.suspended) == (
        IoCounters(100, 50), True, True, True, False)
    assert snaps["/dev/sdf:sat"].suspended
    assert snaps["/dev/sdg:scsi"].is_ata is False
    nvme = snaps["/dev/nvme0:nvme"]
    assert (nvme.rotational, nvme.mounted, nvme.is_ata) == (False, True, None)
    raid = snaps["/dev/bus/0:megaraid,3"]
    assert (raid.io, raid.mounted, raid.rotational, raid.runtime_status) == (
        None, False, None, None)
    # state changes are seen on the next snapshot (the tree is re-read, not cached)
    write_runtime_status(tree.sysfs, "sda", "suspended")
    assert reader.snapshot(devs[:1])["/dev/sda:sat"].suspended


def test_missing_roots_give_unknown_not_exceptions(tmp_path: Path) -> None:
    reader = PowerReader(str(tmp_path / "noproc"), str(tmp_path / "nosys"))
    snap = reader.snapshot([DiskRef("/dev/sda", "sat", "sda")])["/dev/sda:sat"]
    assert (snap.io, snap.mounted, snap.rotational, snap.runtime_status, snap.is_ata) == (
        None, False, None, None, None)
    assert reader.io_counters(["sda"]) == {}


def test_container_root_prefers_pid1_mounts(tree: Tree) -> None:
    # under /host/proc, "self" is the container; pid 1 is the host's mount namespace
    pid1 = Path(tree.procfs) / "1"
    pid1.mkdir()
    (pid1 / "mountinfo").write_text("30 1 8:65 / /srv/e rw - xfs /dev/sde1 rw\n")
    reader = PowerReader(tree.procfs, tree.sysfs)
    assert reader.is_mounted("sde")
    assert not reader.is_mounted("sda")  # only in self/mount*, i.e. the container's view


def test_never_opens_anything_outside_the_roots(reader: PowerReader, tree: Tree) -> None:
    """The promise behind "never touch the disk": no device node, no real /proc or /sys."""
    opened: list[str] = []
    active = [True]

    def hook(event: str, args: tuple) -> None:
        if not active[0]:
            return
        if event in ("open", "os.listdir") and args and isinstance(args[0], str):
            opened.append(args[0])

    devs = [DiskRef(f"/dev/{b.name}", "sat", b.name) for b in tree.blocks]
    devs.append(DiskRef("/dev/bus/0", "megaraid,0"))
    sys.addaudithook(hook)  # cannot be removed; it only appends to a list
    try:
        snaps = reader.snapshot(devs)
        reader.io_counters(["sda"])
    finally:
        active[0] = False
        seen = list(opened)
    assert len(snaps) == len(devs)
    assert seen, "the audit hook saw no file access at all"
    root = str(tree.root)
    outside = [p for p in seen if not os.path.abspath(p).startswith(root)]
    assert outside == []


def test_static_facts_cached_for_ttl_runtime_status_never(tree: Tree) -> None:
    now = [0.0]
    reader = PowerReader(tree.procfs, tree.sysfs, static_ttl=60.0, clock=lambda: now[0])
    dev = [DiskRef("/dev/sde", "sat", "sde")]
    assert not reader.snapshot(dev)["/dev/sde:sat"].mounted
    # sde1 gets mounted and the disk is suspended: the mount table and runtime PM are
    # read on every snapshot; the partition names of sde come from the cache
    mounts = Path(tree.procfs) / "self" / "mounts"
    mounts.write_text(mounts.read_text() + "/dev/sde1 /srv/e xfs rw 0 0\n")
    write_runtime_status(tree.sysfs, "sde", "suspended")
    snap = reader.snapshot(dev)["/dev/sde:sat"]
    assert snap.mounted and snap.suspended
    # vendor is static: a change shows only once the cache expires
    (Path(tree.sysfs) / "block" / "sde" / "device" / "vendor").write_text("WDC\n")
    assert reader.snapshot(dev)["/dev/sde:sat"].is_ata is True
    now[0] = 61.0
    assert reader.snapshot(dev)["/dev/sde:sat"].is_ata is False
