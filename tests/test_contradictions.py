"""Answers that must not be taken at their word: SLEEP right after host I/O, and a disk
that has no SMART at all (not a failed read)."""

from __future__ import annotations

import json

import pytest

from maid_smart_monitor import policy
from maid_smart_monitor.model import (
    CheckResult,
    DiskMemory,
    DiskRef,
    IoCounters,
    PowerSnapshot,
    ReadState,
)
from maid_smart_monitor.smartctl.command import STANDBY_EXIT
from maid_smart_monitor.smartctl.parse import parse_output

SCSI = DiskRef("/dev/sdb", "sat", "sdb", True)


def sleep_answer(mode: str) -> str:
    return json.dumps({
        "json_format_version": [1, 0],
        "smartctl": {"version": [7, 3], "exit_status": STANDBY_EXIT,
                     "messages": [{"string": f"Device is in {mode} mode, exit({STANDBY_EXIT})",
                                   "severity": "information"}]},
        "device": {"name": "/dev/sdb", "type": "sat", "protocol": "ATA"},
        "power_mode": {"ata_value": 0, "name": mode},
    })


def test_sleep_right_after_host_io_is_an_error_not_standby():
    mem = DiskMemory(SCSI.key, io_baseline=IoCounters(10, 0), last_look=1000.0)
    snap = PowerSnapshot(SCSI, IoCounters(26, 0), mounted=True, rotational=True)
    decision = policy.decide(snap, mem, 1005.0, policy.PolicyConfig(mounted_only=False))
    assert decision.read and decision.host_io
    record = parse_output(sleep_answer("SLEEP"), STANDBY_EXIT, SCSI)
    assert record.state is ReadState.STANDBY
    assert policy.result_of(decision, record) is CheckResult.ERROR
    after = policy.remember(mem, snap, decision, record, 1006.0, IoCounters(26, 0))
    assert after.last_result is CheckResult.ERROR  # not "standby, never asked again"


@pytest.mark.parametrize("mode", ["STANDBY", "STANDBY_Y"])
def test_standby_after_host_io_is_still_standby(mode):
    """A disk may spin down between host I/O and the read (its timer ran out): believable."""
    decision = policy.ReadDecision(True, CheckResult.READ, "host I/O", host_io=True)
    record = parse_output(sleep_answer(mode), STANDBY_EXIT, SCSI)
    assert policy.result_of(decision, record) is CheckResult.STANDBY


def test_sleep_without_host_io_evidence_is_standby():
    decision = policy.ReadDecision(True, CheckResult.WOKEN, "deliberate", power_check=True)
    record = parse_output(sleep_answer("SLEEP"), STANDBY_EXIT, SCSI)
    assert policy.result_of(decision, record) is CheckResult.STANDBY


def test_disk_without_smart_is_a_reading_with_identity_not_a_failure():
    """QEMU's scsi-hd (and some virtual/RAID volumes): identity, no SMART, exit 4."""
    doc = {
        "json_format_version": [1, 0],
        "smartctl": {"version": [7, 3], "exit_status": 4, "messages": [
            {"string": "SMART support is: Unavailable - device lacks SMART capability.",
             "severity": "information"}]},
        "device": {"name": "/dev/sdb", "type": "scsi", "protocol": "SCSI"},
        "scsi_vendor": "QEMU", "scsi_product": "QEMU HARDDISK",
        "scsi_model_name": "QEMU QEMU HARDDISK",
        "serial_number": "MAIDSCSI0002", "rotation_rate": 10000,
        "user_capacity": {"blocks": 2097152, "bytes": 1073741824},
        "smart_support": {"available": False},
    }
    rec = parse_output(json.dumps(doc), 4, DiskRef("/dev/sdb", "scsi"))
    assert rec.state is ReadState.OK
    assert rec.smart_enabled is False
    assert rec.identity.serial == "MAIDSCSI0002"
    assert rec.smart_passed is None and rec.attributes == ()
