"""/metrics from the real server, parsed with prometheus-client's own parser; expected
series and values come from the fleet spec, the recordings and SQL on the file."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from maid_smart_monitor.metrics import StoreCollector, render_text
from maid_smart_monitor.model import CheckOutcome, CheckResult, DiskRef
from maid_smart_monitor.storage.base import utc_text
from maid_smart_monitor.storage.sqlite import SQLiteStore
from webfleet import (
    BY_NAME,
    FLEET,
    NOW,
    WAKES,
    copy_of,
    make_template,
    open_alert_counts,
    request,
    running_server,
    spec_record,
)


def _scraper(db: str):
    """A server over ``db``; ``get()`` scrapes it and returns {name: [(labels, value)]}."""
    with running_server(db) as server:

        def get() -> dict[str, list[tuple[dict[str, str], float]]]:
            reply = request(server.url, "/metrics")
            assert reply.status == 200
            assert reply.header("Content-Type").startswith("text/plain; version=0.0.4")
            out: dict[str, list[tuple[dict[str, str], float]]] = {}
            for family in text_string_to_metric_families(reply.text):
                for s in family.samples:
                    out.setdefault(s.name, []).append((s.labels, s.value))
            return out

        yield get, db, server


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory)


@pytest.fixture(scope="module")
def scrape(template, tmp_path_factory):
    """Read-only tests share one server."""
    yield from _scraper(copy_of(template, tmp_path_factory.mktemp("metrics")))


@pytest.fixture
def fresh(template, tmp_path):
    """Tests that change the database get their own copy and server."""
    yield from _scraper(copy_of(template, tmp_path))


def one(samples, **labels) -> float:
    found = [v for lab, v in samples if all(lab.get(k) == want for k, want in labels.items())]
    assert len(found) == 1, (labels, found)
    return found[0]


def test_fleet_level_series(scrape):
    get, db, _ = scrape
    m = get()
    for state in ("critical", "warning", "error", "stale", "standby", "healthy"):
        assert one(m["maid_smart_devices"], state=state) == sum(
            1 for s in FLEET if s.state == state)
    for power in ("active", "idle", "standby", "unknown", "suspended"):
        assert one(m["maid_smart_devices_by_power_state"], state=power) == sum(
            1 for s in FLEET if s.power == power)
    alerts = open_alert_counts(db)
    for sev in ("warning", "critical"):
        assert one(m["maid_smart_open_alerts"], severity=sev) == sum(
            a.get(sev, 0) for a in alerts.values())
    # Two cycles: every disk read, then the spec's checks plus one unidentified error.
    expected = {"read": len(FLEET), "error": 1}
    for spec in FLEET:
        expected[spec.last_check.value] = expected.get(spec.last_check.value, 0) + 1
    assert {lab["result"]: v for lab, v in m["maid_smart_checks_total"]} == expected
    assert one(m["maid_smart_last_cycle_duration_seconds"]) == 12.5
    assert one(m["maid_smart_last_cycle_timestamp_seconds"]) == NOW - 60
    assert one(m["maid_smart_scrape_duration_seconds"]) > 0


def test_per_disk_series_carry_identity_and_the_right_values(scrape):
    get, db, _ = scrape
    m = get()
    conn = sqlite3.connect(db)
    for spec in FLEET:
        ids = {"device": spec.path, "disk_id": spec.disk_id, "serial": f"SN-{spec.name}"}
        record = spec_record(spec)
        temp = conn.execute(
            "SELECT temperature FROM readings WHERE disk_id = ? ORDER BY timestamp DESC LIMIT 1",
            (spec.disk_id,)).fetchone()[0]
        assert one(m["smartctl_device_temperature"], temperature_type="current", **ids) == temp
        assert one(m["smart_temperature_celsius"], **ids) == temp
        assert one(m["smartctl_device_power_on_seconds"], **ids) == record.power_on_hours * 3600
        assert one(m["smart_power_on_hours"], **ids) == record.power_on_hours
        assert one(m["smartctl_device_smart_status"], **ids) == (1 if record.smart_passed else 0)
        assert one(m["maid_smart_reading_age_seconds"], **ids) == spec.last_read_ago
        assert one(m["maid_smart_device_power_state"], state=spec.power, **ids) == 1
        assert sum(v for lab, v in m["maid_smart_device_power_state"]
                   if lab["disk_id"] == spec.disk_id) == 1
        assert one(m["maid_smart_device_state"], state=spec.state, **ids) == 1
        assert one(m["maid_smart_spinups_caused_total"], **ids) == WAKES.get(spec.name, 0)
        info = one(m["smartctl_device"], device=spec.path, disk_id=spec.disk_id,
                   model_name=record.identity.model, serial_number=f"SN-{spec.name}",
                   wwn=spec.wwn)
        assert info == 1
        assert all(lab["model"] == (record.identity.model or "")
                   for lab, _ in m["maid_smart_reading_age_seconds"]
                   if lab["disk_id"] == spec.disk_id)


def test_ata_attributes_use_smartctl_exporter_labels(scrape):
    get, _, _ = scrape
    m = get()
    spec = BY_NAME["failing"]
    record = spec_record(spec)
    attrs = [(lab, v) for lab, v in m["smartctl_device_attribute"]
             if lab["disk_id"] == spec.disk_id]
    assert len(attrs) == 4 * len(record.attributes)
    for a in record.attributes:
        for kind, want in (("value", a.value), ("worst", a.worst), ("thresh", a.thresh),
                           ("raw", a.raw_value)):
            assert one(attrs, attribute_id=str(a.id), attribute_name=a.name,
                       attribute_value_type=kind) == want
    assert one(m["smartctl_device_smart_status"], disk_id=spec.disk_id) == 0


def test_nvme_and_scsi_health_logs(scrape):
    get, _, _ = scrape
    m = get()
    nvme = BY_NAME["nvme-ok"]
    log = spec_record(nvme).nvme
    for field, name in (("percentage_used", "smartctl_device_percentage_used"),
                        ("available_spare", "smartctl_device_available_spare"),
                        ("available_spare_threshold",
                         "smartctl_device_available_spare_threshold"),
                        ("critical_warning", "smartctl_device_critical_warning"),
                        ("media_errors", "smartctl_device_media_errors"),
                        ("num_err_log_entries", "smartctl_device_num_err_log_entries")):
        assert one(m[name], disk_id=nvme.disk_id) == getattr(log, field)
    assert not [lab for lab, _ in m["smartctl_device_attribute"]
                if lab["disk_id"] == nvme.disk_id]
    sas = BY_NAME["sas-ok"]
    scsi = spec_record(sas).scsi
    assert one(m["smartctl_scsi_grown_defect_list"], disk_id=sas.disk_id) == scsi.grown_defects
    assert one(m["smartctl_read_total_uncorrected_errors"],
               disk_id=sas.disk_id) == scsi.read_uncorrected


def test_checks_total_only_grows_as_cycles_are_added(fresh):
    get, db, _ = fresh
    before = {lab["result"]: v for lab, v in get()["maid_smart_checks_total"]}
    store = SQLiteStore(db)
    try:
        outcomes = [CheckOutcome(DiskRef(s.path, s.dev_type), CheckResult.STANDBY, "asleep",
                                 disk_id=s.disk_id) for s in FLEET]
        store.record_cycle(outcomes, utc_text(NOW - 30), utc_text(NOW - 29), 1.0)
        store.prune_checks(1)  # per-device rows go; the counters must not
    finally:
        store.close()
    after = {lab["result"]: v for lab, v in get()["maid_smart_checks_total"]}
    assert after["skipped-standby"] == before["skipped-standby"] + len(FLEET)
    assert {k: v for k, v in after.items() if k != "skipped-standby"} == {
        k: v for k, v in before.items() if k != "skipped-standby"}
    again = {lab["result"]: v for lab, v in get()["maid_smart_checks_total"]}
    assert again == after
    assert one(get()["maid_smart_last_cycle_duration_seconds"]) == 1.0


def test_openmetrics_when_asked(scrape):
    _, _, server = scrape
    reply = request(server.url, "/metrics",
                    headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert reply.header("Content-Type").startswith("application/openmetrics-text")
    names = {f.name for f in openmetrics_families(reply.text)}
    assert {"maid_smart_checks", "smartctl_device_temperature",
            "maid_smart_device_power_state"} <= names


def test_a_disk_that_left_leaves_no_series(fresh):
    get, db, _ = fresh
    gone = BY_NAME["forgotten"]
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM disks WHERE disk_id = ?", (gone.disk_id,))
    m = get()
    assert not [lab for samples in m.values() for lab, _ in samples
                if lab.get("disk_id") == gone.disk_id]
    assert sum(v for _, v in m["maid_smart_devices"]) == len(FLEET) - 1


GRAFANA = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "maid-smart-monitor.json"


def test_grafana_dashboard_queries_only_series_we_export(scrape):
    get, _, _ = scrape
    exported = set(get())
    dashboard = json.loads(GRAFANA.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    assert len(exprs) > 10
    used = {m for e in exprs for m in re.findall(r"\b((?:maid_smart|smartctl|smart)_\w+)", e)}
    assert used and used <= exported, used - exported
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert all({"x", "y", "w", "h"} <= set(p["gridPos"]) for p in dashboard["panels"])


def test_fast_text_format_is_byte_identical_to_prometheus_client(template):
    store = SQLiteStore(template, readonly=True)
    try:
        # One collection, written by both encoders (a second one would differ in
        # maid_smart_scrape_duration_seconds).
        fleet = list(StoreCollector(lambda: store, clock=lambda: NOW).collect())

        class Odd:
            def collect(self):
                yield from fleet
                g = GaugeMetricFamily("odd_gauge", 'doc with \\ and\nnewline', labels=["a", "b"])
                g.add_metric(['quote " back \\ nl \n', "ünïcode"], 1.5)
                g.add_metric(["", "x"], float("inf"))
                yield g
                c = CounterMetricFamily("odd_events", "events", labels=["z"])
                c.add_metric(["1"], 3)
                yield c
                e = GaugeMetricFamily("odd_plain", "no labels")
                e.add_metric([], -0.25)
                yield e

            def describe(self):
                return []

        registry = CollectorRegistry(auto_describe=False)
        registry.register(Odd())
        assert len(generate_latest(registry)) > 100000
        assert render_text(registry.collect()) == generate_latest(registry)
    finally:
        store.close()
