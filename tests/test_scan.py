"""smartctl --scan parsing over the recorded scans, and the scsi -> sat type correction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maid_smart_monitor.model import DiskRef
from maid_smart_monitor.smartctl.parse import ParseError
from maid_smart_monitor.smartctl.scan import block_name, correct_type, parse_scan

FIXTURES = Path(__file__).parent / "fixtures" / "smartctl"
SCANS = sorted((FIXTURES / "scan").glob("*.json"))


def test_scan_fixtures_present():
    assert len(SCANS) >= 8


@pytest.mark.parametrize("path", SCANS, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_parse_scan_recordings(path: Path):
    text = path.read_text()
    listed = json.loads(text)["devices"]
    disks = parse_scan(text)
    expected = []
    for d in listed:
        if (d["name"], d["type"]) not in expected:
            expected.append((d["name"], d["type"]))
    assert [(d.path, d.dev_type) for d in disks] == expected
    for disk in disks:
        if disk.path.startswith("/dev/sd") and "megaraid" not in disk.dev_type:
            assert disk.block == disk.path.removeprefix("/dev/")
        elif disk.path.startswith("/dev/nvme"):
            assert disk.block == disk.path.removeprefix("/dev/") + "n1"
        else:
            assert disk.block is None  # /dev/bus/N behind megaraid


def test_megaraid_scan_keeps_each_disk_behind_one_path():
    disks = parse_scan((FIXTURES / "scan" / "telegraf-scan-megaraid.json").read_text())
    behind = [d for d in disks if d.path == "/dev/bus/6"]
    assert len(behind) >= 5
    assert len({d.key for d in behind}) == len(behind)
    assert all(d.dev_type.startswith("megaraid,") and d.block is None for d in behind)


def test_scan_with_no_devices_is_empty():
    # Real smartctl 7.3 output on a machine without disks: no "devices" key at all.
    text = (
        '{"json_format_version":[1,0],"smartctl":{"version":[7,3],"argv":["smartctl",'
        '"--scan","--json=c"],"exit_status":0}}'
    )
    assert parse_scan(text) == []


def test_scan_skips_entries_without_type_and_duplicates():
    text = json.dumps(
        {
            "json_format_version": [1, 0],
            "smartctl": {"exit_status": 0},
            "devices": [
                {"name": "/dev/sda", "type": "sat"},
                {"name": "/dev/sda", "type": "sat"},
                {"name": "/dev/sdb"},
                {"type": "scsi"},
                "garbage",
                {"name": "/dev/sdc", "type": "scsi"},
            ],
        }
    )
    assert parse_scan(text) == [
        DiskRef("/dev/sda", "sat", block="sda"),
        DiskRef("/dev/sdc", "scsi", block="sdc"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n",
        "/dev/sda -d sat # /dev/sda [SAT], ATA device",  # text output, not --json
        "[1, 2]",
        '{"devices": [',
        "{}",
        '{"json_format_version": [2, 0], "smartctl": {}, "devices": []}',
        '{"json_format_version": [1, 0], "smartctl": {}, "devices": {"name": "/dev/sda"}}',
    ],
    ids=[
        "empty",
        "blank",
        "text-output",
        "list",
        "truncated",
        "empty-object",
        "json-v2",
        "devices-dict",
    ],
)
def test_parse_scan_rejects_garbage(text: str):
    with pytest.raises(ParseError):
        parse_scan(text)


@pytest.mark.parametrize(
    ("dev", "vendor", "expected"),
    [
        # libata SATA disk reported as scsi by --scan: read it as SAT
        (DiskRef("/dev/sda", "scsi"), "ATA     ", DiskRef("/dev/sda", "sat", block="sda")),
        (DiskRef("/dev/sda", "scsi"), "ATA", DiskRef("/dev/sda", "sat", block="sda")),
        # a real SCSI/SAS disk stays scsi: -d sat would make it look asleep for ever
        (DiskRef("/dev/sdb", "scsi"), "SEAGATE ", DiskRef("/dev/sdb", "scsi", block="sdb")),
        (DiskRef("/dev/sdb", "scsi"), "QEMU    ", DiskRef("/dev/sdb", "scsi", block="sdb")),
        # vendor unknown (sysfs unreadable): keep what smartctl said
        (DiskRef("/dev/sdc", "scsi"), None, DiskRef("/dev/sdc", "scsi", block="sdc")),
        (DiskRef("/dev/sdc", "scsi"), "", DiskRef("/dev/sdc", "scsi", block="sdc")),
        # "ata" in another case or inside a longer name is not the libata marker
        (DiskRef("/dev/sdd", "scsi"), "ata", DiskRef("/dev/sdd", "scsi", block="sdd")),
        (DiskRef("/dev/sdd", "scsi"), "ATAPI", DiskRef("/dev/sdd", "scsi", block="sdd")),
        # an explicit type is never changed
        (DiskRef("/dev/sde", "sat"), "ATA", DiskRef("/dev/sde", "sat", block="sde")),
        (DiskRef("/dev/sdf", "usbjmicron"), "ATA", DiskRef("/dev/sdf", "usbjmicron", block="sdf")),
        (DiskRef("/dev/bus/0", "megaraid,3"), "ATA", DiskRef("/dev/bus/0", "megaraid,3")),
        (DiskRef("/dev/sda", "sat+megaraid,0"), "ATA", DiskRef("/dev/sda", "sat+megaraid,0")),
        # NVMe: the controller path reads the first namespace's counters
        (DiskRef("/dev/nvme0", "nvme"), None, DiskRef("/dev/nvme0", "nvme", block="nvme0n1")),
        (DiskRef("/dev/nvme3n1", "nvme"), None, DiskRef("/dev/nvme3n1", "nvme", block="nvme3n1")),
        # a block name already known is kept
        (DiskRef("/dev/sdg", "scsi", block="sdg"), "ATA", DiskRef("/dev/sdg", "sat", block="sdg")),
        (
            DiskRef("/dev/disk/by-id/ata-X", "scsi", rotational=True),
            "ATA",
            DiskRef("/dev/disk/by-id/ata-X", "sat", rotational=True),
        ),
    ],
)
def test_correct_type(dev: DiskRef, vendor: str | None, expected: DiskRef):
    assert correct_type(dev, sysfs_vendor=vendor) == expected


def test_correct_type_changes_the_key_for_sata():
    fixed = correct_type(DiskRef("/dev/sda", "scsi"), sysfs_vendor="ATA")
    assert fixed.key == "/dev/sda:sat"


@pytest.mark.parametrize(
    ("path", "dev_type", "block"),
    [
        ("/dev/sda", "sat", "sda"),
        ("/dev/sdaa", "scsi", "sdaa"),
        ("/dev/sda1", "sat", None),  # a partition is not a disk
        ("/dev/nvme0", "nvme", "nvme0n1"),
        ("/dev/nvme12", "nvme", "nvme12n1"),
        ("/dev/nvme1n2", "nvme", "nvme1n2"),
        ("/dev/bus/0", "megaraid,0", None),
        ("/dev/sda", "megaraid,0", None),
        ("/dev/sdb", "cciss,1", None),
        ("/dev/twa0", "3ware,2", None),
        ("/dev/sg1", "areca,3/1", None),
        ("/dev/hda", "ata", None),
        ("/dev/sdb", "sssraid,0,1", None),
        ("/dev/sdc", "jmb39x-q,1", None),
        ("/dev/sdd", "intelliprop,2+sat", None),
    ],
)
def test_block_name(path: str, dev_type: str, block: str | None):
    assert block_name(path, dev_type) == block


def _sysfs_disk(sysfs: Path, block: str, vendor: str, rotational: str) -> None:
    (sysfs / "block" / block / "device").mkdir(parents=True)
    (sysfs / "block" / block / "queue").mkdir(parents=True)
    (sysfs / "block" / block / "device" / "vendor").write_text(vendor + "\n")
    (sysfs / "block" / block / "queue" / "rotational").write_text(rotational + "\n")


def test_by_id_symlink_gets_its_block_name_and_sat_type(tmp_path: Path):
    """``--devices /dev/disk/by-id/ata-...``: the link is resolved (never opened) for sysfs."""
    from maid_smart_monitor.discovery import discover
    from maid_smart_monitor.power import PowerReader
    from maid_smart_monitor.smartctl.runner import SubprocessRunner

    sysfs = tmp_path / "sys"
    _sysfs_disk(sysfs, "sdc", "ATA", "1")
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    link = by_id / "ata-WDC_WD80EFZX-68UW8N0_VK0ABCDE"
    link.symlink_to("/dev/sdc")
    power = PowerReader(str(tmp_path / "proc"), str(sysfs))
    [ref] = discover("smartctl", SubprocessRunner(), power, explicit=[DiskRef(str(link), "")])
    assert ref == DiskRef(str(link), "sat", "sdc", True)


def test_by_id_symlink_to_nvme_namespace(tmp_path: Path):
    from maid_smart_monitor.discovery import discover
    from maid_smart_monitor.power import PowerReader
    from maid_smart_monitor.smartctl.runner import SubprocessRunner

    sysfs = tmp_path / "sys"
    _sysfs_disk(sysfs, "nvme0n1", "", "0")
    link = tmp_path / "nvme-Samsung_SSD_980_S64DNX0R123456"
    link.symlink_to("/dev/nvme0n1")
    power = PowerReader(str(tmp_path / "proc"), str(sysfs))
    [ref] = discover("smartctl", SubprocessRunner(), power, explicit=[DiskRef(str(link), "")])
    assert ref == DiskRef(str(link), "nvme", "nvme0n1", False)
