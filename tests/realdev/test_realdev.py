"""The real kernel and the real smartctl on QEMU-emulated SATA, SCSI and NVMe disks.

Phase 1 (this file's probe tests) pins what the platform does; the monitor tests
(test_monitor_realdev.py) run the real ``maid-smart-monitor`` against it. Run alone with
``pytest -m realdev tests/realdev``; one boot serves every test (see conftest.py).
"""

from __future__ import annotations

import json

import pytest

from .qemu import NVME, SATA, SCSI

pytestmark = pytest.mark.realdev


def _by_serial(probe: dict) -> dict[str, dict]:
    """Probe entries keyed by the serial smartctl read back (device names are not stable:
    AHCI and virtio-scsi probe concurrently, so either disk may be /dev/sda)."""
    out = {}
    for info in probe["devices"].values():
        full = json.loads(info["smart_read"]["stdout"])
        out[full["serial_number"]] = dict(info, full=full)
    return out


def test_scan_lists_three_disks_and_calls_sata_scsi(guest):
    probe = guest["probe"]
    scan = probe["scan"]["json"]
    assert probe["scan"]["rc"] == 0
    types = sorted(d["type"] for d in scan["devices"])
    assert types == ["nvme", "scsi", "scsi"], scan["devices"]
    disks = _by_serial(probe)
    assert set(disks) == {SATA.serial, SCSI.serial, NVME.serial}
    # --scan (which opens nothing) says scsi for the SATA disk; sysfs tells them apart.
    assert disks[SATA.serial]["scan"]["type"] == "scsi"
    assert disks[SATA.serial]["sysfs"]["vendor"] == "ATA"
    assert disks[SCSI.serial]["scan"]["type"] == "scsi"
    assert disks[SCSI.serial]["sysfs"]["vendor"] != "ATA"
    assert disks[NVME.serial]["scan"]["type"] == "nvme"


def test_each_disk_reads_with_its_type(guest):
    disks = _by_serial(guest["probe"])
    sata = disks[SATA.serial]
    assert sata["type"] == "sat"
    assert sata["full"]["device"]["protocol"] == "ATA"
    assert sata["full"]["model_name"] == SATA.model
    assert sata["full"]["rotation_rate"] == SATA.rotation_rate
    assert sata["full"]["smart_status"]["passed"] is True
    ids = {row["id"] for row in sata["full"]["ata_smart_attributes"]["table"]}
    assert {1, 5, 9, 12} <= ids and len(ids) >= 5, ids  # QEMU emulates 7: 1 3 4 5 9 12 190

    scsi = disks[SCSI.serial]
    assert scsi["type"] == "scsi"
    assert scsi["full"]["device"]["protocol"] == "SCSI"
    assert scsi["full"]["rotation_rate"] == SCSI.rotation_rate
    assert "ata_smart_attributes" not in scsi["full"]

    nvme = disks[NVME.serial]
    assert nvme["full"]["device"]["protocol"] == "NVMe"
    assert nvme["full"]["smart_status"]["passed"] is True
    log = nvme["full"]["nvme_smart_health_information_log"]
    assert log["critical_warning"] == 0
    # QEMU's NVMe reports spare 0 with threshold 0: a "below threshold" rule must be strict.
    assert log["available_spare"] <= log["available_spare_threshold"]


def test_rotational_flag_in_sysfs(guest):
    disks = _by_serial(guest["probe"])
    assert disks[SATA.serial]["sysfs"]["rotational"] == "1"
    assert disks[SCSI.serial]["sysfs"]["rotational"] == "1"
    assert disks[NVME.serial]["sysfs"]["rotational"] == "0"


def test_wrong_type_traps(guest):
    """Why the type must be right per disk: scsi on SATA loses the ATA table, and an ATA
    power check on a SCSI disk answers "SLEEP mode" for ever (exit 3 from -n standby,3)."""
    disks = _by_serial(guest["probe"])
    as_scsi = disks[SATA.serial]["as_scsi"]["json"]
    assert as_scsi["device"]["protocol"] == "SCSI"
    assert "ata_smart_attributes" not in as_scsi
    trap = disks[SCSI.serial]["as_sat_power"]
    assert trap["rc"] == 3
    messages = " ".join(m["string"] for m in trap["json"]["smartctl"].get("messages", []))
    assert "SLEEP" in messages
    # The right-type power check on the same disk does not claim low power.
    right = disks[SCSI.serial]["power_check"]
    assert right["rc"] & 2 == 0 and right["rc"] != 3, right


def test_smart_passthrough_leaves_diskstats_still_and_dd_moves_them(guest):
    for serial, info in _by_serial(guest["probe"]).items():
        for step in ("smart_read", "power_check"):
            delta = info[step]["delta"]
            assert delta and not any(delta), (serial, step, delta)  # all 17 fields
        dd = info["dd_read"]
        assert dd["rc"] == 0
        reads, _merged, sectors = dd["delta"][:3]
        assert reads >= 1 and sectors >= 16 * 8, (serial, dd["delta"])
