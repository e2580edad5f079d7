"""The health report: pure rendering, and gathered from a real SQLite store."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from conftest import record_from
from maid_smart_monitor.alerts import handle_reading
from maid_smart_monitor.health import evaluate
from maid_smart_monitor.model import Finding, Severity
from maid_smart_monitor.report import (
    DiskReport,
    entries_from_store,
    health_report,
    render_json,
    render_text,
    sort_entries,
)
from maid_smart_monitor.risk import Risk, estimate
from maid_smart_monitor.storage.sqlite import SQLiteStore

W, C = Severity.WARNING, Severity.CRITICAL
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def entry(device, *findings, afr=None, **kw) -> DiskReport:
    risk = Risk(afr, f"basis {afr}", 5, 1) if afr is not None else None
    base = dict(device=device, disk_id=f"id-{device}", model="M", serial=f"S{device[-1]}",
                findings=tuple(findings), risk=risk, last_reading="2025-03-01 11:00:00")
    base.update(kw)
    return DiskReport(**base)


def test_sorting_worst_first():
    a = entry("/dev/sda", afr=2.5)
    b = entry("/dev/sdb", Finding("pending", W, "3 pending", 3.0), afr=34.2)
    c = entry("/dev/sdc", Finding("smart_failed", C, "FAILED", 1.0), afr=2.6)
    d = entry("/dev/sdd", Finding("reallocated", W, "1 reallocated", 1.0), afr=2.7)
    assert [e.device for e in sort_entries([a, b, c, d])] == [
        "/dev/sdc", "/dev/sdb", "/dev/sdd", "/dev/sda"]


def test_text_report():
    text = render_text([
        entry("/dev/sda", afr=2.5),
        entry("/dev/sdc", Finding("smart_failed", C, "SMART overall-health: FAILED", 1.0),
              Finding("pending", W, "8 pending (unstable) sectors (attribute 197)", 8.0),
              afr=68.2),
        entry("/dev/sdd", last_reading=None),
    ])
    lines = text.splitlines()
    assert lines[0] == "MAID SMART Health Report"
    assert lines[1] == "Total devices: 3 (critical: 1, warning: 0, healthy: 2)"
    assert "Critical Issues Found:" in lines
    assert "  /dev/sdc [CRITICAL] M s/n Sc, risk 68.2% AFR, last read 2025-03-01 11:00:00 UTC" \
        in lines
    assert "    - critical smart_failed: SMART overall-health: FAILED (value 1)" in lines
    assert "    - warning  pending: 8 pending (unstable) sectors (attribute 197)" in lines
    assert "/dev/sda" not in text  # healthy disks are counted, not listed
    assert "No issues found." in render_text([entry("/dev/sda")])


def test_json_report():
    doc = json.loads(render_json(
        [entry("/dev/sda", afr=2.5),
         entry("/dev/sdb", Finding("temperature", W, "temperature 55 °C", 55.0, None))],
        generated_at="2025-03-01 12:00:00",
    ))
    assert doc["generated_at"] == "2025-03-01 12:00:00"
    assert doc["summary"] == {"total": 2, "critical": 0, "warning": 1, "healthy": 1}
    first = doc["disks"][0]
    assert first["device"] == "/dev/sdb" and first["verdict"] == "warning"
    assert first["findings"] == [{"rule_id": "temperature", "severity": "warning",
                                  "message": "temperature 55 °C", "value": 55.0,
                                  "attribute_id": None}]
    assert doc["disks"][1]["risk"] == {"afr_percent": 2.5, "basis": "basis 2.5",
                                       "attribute_id": 5, "raw_value": 1}


@pytest.fixture
def fleet(db_path):
    """A real store holding three real disks' readings and their alerts."""
    store = SQLiteStore(db_path)
    disks = [
        ("/dev/sda", "ata/smartctl_exporter__WDC_WD20EFRX-68EUZN0_17.json"),
        ("/dev/sdb", "ata/plasma-disks__failing-sectors-passing-status.json"),
        ("/dev/sdc", "sat-usb/plasma-disks__broken.json"),
    ]
    now_text = NOW.strftime("%Y-%m-%d %H:%M:%S")
    for dev, name in disks:
        rec = record_from(name, dev, "sat")
        store.save_reading(rec, dev, now_text)
        handle_reading(store, rec, evaluate(rec), device=dev, now=NOW, risk=estimate(rec))
    yield store
    store.close()


def test_report_from_store(fleet):
    entries = {e.device: e for e in entries_from_store(fleet)}
    assert {d: e.verdict for d, e in entries.items()} == {
        "/dev/sda": "healthy", "/dev/sdb": "warning", "/dev/sdc": "critical"}
    sdb = entries["/dev/sdb"]
    assert sdb.model == "ST3000DM001-1ER166" and sdb.risk is not None
    assert sdb.risk.afr_percent == 251.0
    assert {f.rule_id for f in sdb.findings} == {
        "reallocated", "reported_uncorrectable", "pending", "offline_uncorrectable",
        "selftest_errors"}
    assert entries["/dev/sdc"].findings[0].severity is C  # most severe first
    assert sdb.last_reading == "2025-03-01 12:00:00"

    text = health_report(fleet)
    assert "Total devices: 3 (critical: 1, warning: 1, healthy: 1)" in text
    assert text.index("/dev/sdc") < text.index("/dev/sdb")
    doc = json.loads(health_report(fleet, as_json=True))
    assert [d["device"] for d in doc["disks"]] == ["/dev/sdc", "/dev/sdb", "/dev/sda"]
    assert doc["disks"][1]["risk"]["afr_percent"] == 251.0


def test_report_accepts_an_object_with_a_store(fleet):
    class Monitor:
        store = fleet

    assert health_report(Monitor()) == health_report(fleet)
