"""Health rules over every recorded real smartctl output (first reading: no history).

The expectations are a complete list: every recording not named in FLAGGED must raise
nothing, and every recording in FLAGGED must raise exactly the rules listed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FIXTURES, record_from
from maid_smart_monitor.health import evaluate, verdict
from maid_smart_monitor.model import ReadState, Severity

W, C = Severity.WARNING, Severity.CRITICAL

RECORDINGS = sorted(
    str(p.relative_to(FIXTURES)) for p in FIXTURES.glob("*/*.json") if p.parent.name != "scan"
)

FLAGGED: dict[str, dict[str, Severity]] = {
    # The cases: FAILED by the drive itself ...
    "sat-usb/plasma-disks__broken.json": {
        "smart_failed": C, "attr_below_threshold": C, "reallocated": W,
        "reallocation_events": W, "pending": W, "selftest_errors": W,
    },
    "sat-usb/scrutiny__smart-fail2.json": {
        "smart_failed": C, "attr_below_threshold": C, "reallocated": W,
        "reallocation_events": W, "pending": W, "selftest_errors": W,
    },
    "nvme/smartctl_exporter__nvme-null-SAMSUNG_MZWLL3T2HAJQ-00005-nvme0.json": {
        "smart_failed": C, "nvme_critical_warning": C,
    },
    # ... and "PASSED" with 1,640 pending sectors, which vendor thresholds miss.
    "ata/plasma-disks__failing-sectors-passing-status.json": {
        "reallocated": W, "reported_uncorrectable": W, "pending": W,
        "offline_uncorrectable": W, "selftest_errors": W,
    },
    # Real drives with a few bad sectors or errors on record: early warnings.
    "ata/scrutiny__smart-sat.json": {"reallocation_events": W},  # raw "2111 (12437 0)"
    "ata/smartctl_exporter__MB0500EBNCR_13.json": {"reported_uncorrectable": W},
    "ata/smartctl_exporter__MB0500EBNCR_14.json": {"reported_uncorrectable": W},
    "ata/smartctl_exporter__ST3500418AS_11.json": {"reallocated": W},
    "ata/smartctl_exporter__ST3500418AS_12.json": {"reallocated": W},
    "ata/smartctl_exporter__sat-Intel_S3520_Series_SSDs-INTEL_SSDSC2BB016T7-sdc.json": {
        "reallocated": W,
    },
    "ata/smartctl_exporter__sat-Intel_S4510_S4610_S4500_S4600_Series_SSDs-INTEL_SSDSC2KB240G7"
    "-sdd.json": {"reallocated": W},
    "ata/smartctl_exporter__sat-Phison_Driven_SSDs-KINGSTON_SKC400S371T-sda.json": {
        "reallocated": W, "reallocation_events": W,
    },
    "ata/smartctl_exporter__sat-Seagate_Constellation_ES.3-ST3000NM0033-9ZM178-sdc.json": {
        "reallocated": W,  # and a packed 188 of 17180131332 ("4 4 4"): not an alarm
    },
    "nvme/scrutiny__smart-nvme-failed.json": {"nvme_media_errors": W},
    "raid/scrutiny__smart-megaraid1.json": {"reallocated": W, "reallocation_events": W},
    "scsi/scrutiny__smart-scsi.json": {"scsi_grown_defects": W},
    "scsi/smartctl_exporter__SEAGATE_ST373453LC_26.json": {
        "scsi_grown_defects": W, "scsi_uncorrected": W,
    },
}

CRITICAL = {
    "sat-usb/plasma-disks__broken.json",
    "sat-usb/scrutiny__smart-fail2.json",
    "nvme/smartctl_exporter__nvme-null-SAMSUNG_MZWLL3T2HAJQ-00005-nvme0.json",
}


def test_expectations_name_real_files():
    assert len(RECORDINGS) > 200
    missing = [name for name in FLAGGED if not (FIXTURES / name).is_file()]
    assert missing == []


@pytest.mark.parametrize("name", RECORDINGS)
def test_recording(name: str):
    record = record_from(name)
    findings = evaluate(record, None)
    got = {f.rule_id: f.severity for f in findings}
    assert got == FLAGGED.get(name, {})
    expected_verdict = (
        "critical" if name in CRITICAL else "warning" if name in FLAGGED else "healthy"
    )
    assert verdict(findings) == expected_verdict
    if record.state is not ReadState.OK:
        assert findings == []


def test_pending_sectors_message_carries_the_count():
    findings = evaluate(record_from("ata/plasma-disks__failing-sectors-passing-status.json"))
    pending = next(f for f in findings if f.rule_id == "pending")
    assert pending.value == 1640 and "1640" in pending.message
    assert record_from("ata/plasma-disks__failing-sectors-passing-status.json").smart_passed


def test_standby_recording_is_never_failing():
    record = record_from("standby/smartctl_exporter-pr327__standby-sdc.json")
    assert record.state is ReadState.STANDBY
    assert evaluate(record, record_from("sat-usb/plasma-disks__broken.json")) == []


def test_same_reading_twice_is_stable():
    """A second identical reading raises the same rules at the same severities (no growth)."""
    for name in FLAGGED:
        r = record_from(name)
        again = {f.rule_id: f.severity for f in evaluate(r, r)}
        assert again == FLAGGED[name], name


def test_healthy_recordings_list():
    """The recordings judged healthy, by directory: most real drives are fine."""
    healthy = [n for n in RECORDINGS if verdict(evaluate(record_from(n))) == "healthy"]
    assert not set(healthy) & set(FLAGGED)
    by_dir: dict[str, int] = {}
    for n in healthy:
        by_dir[Path(n).parent.name] = by_dir.get(Path(n).parent.name, 0) + 1
    assert by_dir == {"ata": 112, "error": 3, "nvme": 61, "raid": 14, "scsi": 9, "standby": 1}
