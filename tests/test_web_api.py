"""The REST API over real HTTP: waitress on 127.0.0.1 serving a fleet written from real
smartctl recordings. Expected values come from the fleet spec and from SQL on the file."""

from __future__ import annotations

import gzip
import sqlite3
import threading
from datetime import datetime, timezone

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec

from conftest import record_from
from maid_smart_monitor.storage.base import utc_text
from maid_smart_monitor.storage.sqlite import SQLiteStore
from webfleet import (
    BY_NAME,
    FLEET,
    NOW,
    TOKEN,
    copy_of,
    make_template,
    open_alert_counts,
    request,
    running_server,
    spec_record,
)


@pytest.fixture(scope="module")
def fleet_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    return make_template(tmp_path_factory)


@pytest.fixture
def fleet_db(fleet_template: str, tmp_path) -> str:
    return copy_of(fleet_template, tmp_path)


@pytest.fixture(scope="module")
def served(fleet_template: str, tmp_path_factory: pytest.TempPathFactory):
    """Read-only tests share one server over their own copy of the fleet."""
    path = copy_of(fleet_template, tmp_path_factory.mktemp("api"))
    with running_server(path, token=TOKEN) as server:
        yield server.url, path


@pytest.fixture(scope="module")
def openapi(served):
    doc = request(served[0], "/api/openapi.json").json()
    validate_spec(doc)
    return doc


def conforms(openapi: dict, schema_name: str, instance: object) -> None:
    """Validate a live answer against the document's own schema."""
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": openapi["components"]}
    OAS31Validator(schema).validate(instance)


# ---------------------------------------------------------------------- reads


def test_openapi_document_validates_and_lists_every_route(served, openapi):
    assert openapi["openapi"].startswith("3.1")
    assert set(openapi["paths"]) == {
        "/api/health", "/api/disks", "/api/disks/{disk_id}", "/api/disks/{disk_id}/history",
        "/api/alerts", "/api/alerts/{alert_id}", "/api/alerts/{alert_id}/ack",
        "/api/openapi.json",
    }


def test_health_is_the_fleet_summary(served, openapi):
    url, path = served
    reply = request(url, "/api/health")
    assert reply.status == 200 and reply.header("Content-Type") == "application/json"
    doc = reply.json()
    conforms(openapi, "Health", doc)
    expected_states = {s: 0 for s in doc["states"]}
    for spec in FLEET:
        expected_states[spec.state] += 1
    assert doc["states"] == expected_states
    assert doc["total_devices"] == len(FLEET)
    alerts = open_alert_counts(path)
    assert doc["devices_with_alerts"] == len(alerts)
    by_device = {a["device"]: a["alerts"] for a in doc["alerts_by_device"]}
    assert by_device == {
        s.path: sum(alerts[s.disk_id].values()) for s in FLEET if s.disk_id in alerts
    }
    assert doc["open_alerts"] == {
        sev: sum(a.get(sev, 0) for a in alerts.values()) for sev in ("warning", "critical")
    }
    assert doc["status"] == "critical"
    assert doc["unidentified_devices"] == 1
    assert doc["deliberate_wakes"] == 2
    assert doc["last_cycle"]["duration_seconds"] == 12.5
    expected_checks = {"error": 1}  # the unidentified device
    for spec in FLEET:
        result = spec.last_check.value
        expected_checks[result] = expected_checks.get(result, 0) + 1
    assert doc["last_cycle"]["checks"] == expected_checks


def test_disks_have_the_expected_state_power_and_age(served, openapi):
    doc = request(served[0], "/api/disks?limit=100").json()
    conforms(openapi, "DiskPage", doc)
    assert doc["total"] == len(FLEET)
    by_id = {d["disk_id"]: d for d in doc["items"]}
    for spec in FLEET:
        d = by_id[spec.disk_id]
        assert (d["device"], d["state"], d["power_state"]) == (spec.path, spec.state,
                                                               spec.power), spec.name
        assert d["reading_age_seconds"] == spec.last_read_ago
        assert d["last_check"]["result"] == spec.last_check.value
        assert d["serial"] == f"SN-{spec.name}"
    assert by_id[BY_NAME["forgotten"].disk_id]["deliberate_wakes"] == 2


def test_disks_pagination_filters_and_sorting(served):
    url = served[0]
    everything = [d["device"] for d in request(url, "/api/disks").json()["items"]]
    assert everything == sorted(everything)
    page = request(url, "/api/disks?limit=3&offset=3").json()
    assert (page["total"], page["count"], page["limit"], page["offset"]) == (8, 3, 3, 3)
    assert [d["device"] for d in page["items"]] == everything[3:6]
    tail = request(url, "/api/disks?limit=5&offset=6").json()
    assert tail["count"] == 2 and tail["total"] == 8
    bad = request(url, "/api/disks?state=critical,warning").json()
    assert {d["device"] for d in bad["items"]} == {"/dev/sdb", "/dev/sdc"}
    asleep = request(url, "/api/disks?power=standby").json()
    assert {d["device"] for d in asleep["items"]} == {"/dev/sdd", "/dev/sde"}
    nvme = request(url, "/api/disks?q=NVME").json()
    assert {d["device"] for d in nvme["items"]} == {"/dev/nvme0", "/dev/nvme1"}
    hot = request(url, "/api/disks?sort=temperature&order=desc&limit=1").json()
    stored = sqlite3.connect(served[1]).execute(
        "SELECT disk_id, temperature FROM readings r WHERE timestamp = "
        "(SELECT max(timestamp) FROM readings WHERE disk_id = r.disk_id)"
        " ORDER BY temperature DESC LIMIT 1").fetchone()
    assert (hot["items"][0]["disk_id"], hot["items"][0]["temperature"]) == stored
    worst = request(url, "/api/disks?sort=state&limit=1").json()["items"][0]
    assert worst["state"] == "critical"


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/disks?limit=0", "limit"),
        ("/api/disks?limit=abc", "limit"),
        ("/api/disks?limit=5001", "limit"),
        ("/api/disks?offset=-1", "offset"),
        ("/api/disks?state=purple", "state"),
        ("/api/disks?power=spinning", "power"),
        ("/api/disks?sort=size", "sort"),
        ("/api/disks?order=up", "order"),
        ("/api/disks?limit=1&limit=2", "limit"),
        ("/api/alerts?state=closed", "state"),
        ("/api/alerts?limit=1001", "limit"),
        ("/api/disks/wwn-0x5000cca000000002/history?metric=attr:abc", "metric"),
        ("/api/disks/wwn-0x5000cca000000002/history?metric=nvme.bogus", "metric"),
        ("/api/disks/wwn-0x5000cca000000002/history?metric=temperature;drop", "metric"),
        ("/api/disks/wwn-0x5000cca000000002/history?since=yesterday", "since"),
        ("/api/disks/wwn-0x5000cca000000002/history?until=2026-13-45", "until"),
        ("/api/disks/wwn-0x5000cca000000002/history?since=1d&until=2d", "since"),
        ("/api/disks/wwn-0x5000cca000000002/history?points=0", "points"),
        ("/api/alerts/abc", "alert_id"),
    ],
)
def test_bad_parameters_get_a_400_naming_them(served, openapi, path, parameter):
    reply = request(served[0], path)
    assert reply.status == 400, reply.text
    doc = reply.json()
    conforms(openapi, "Error", doc)
    assert doc["parameter"] == parameter
    assert doc["status"] == 400 and doc["error"]


def test_unknown_things_are_404_and_wrong_methods_405(served):
    url = served[0]
    for path in ("/api/disks/wwn-0xnothing", "/api/disks/wwn-0xnothing/history",
                 "/api/alerts/999999", "/api/nothing"):
        reply = request(url, path)
        assert reply.status == 404, path
        assert "error" in reply.json()
    reply = request(url, "/api/disks", method="POST", body={})
    assert reply.status == 405 and "GET" in reply.header("Allow")
    reply = request(url, "/api/alerts/1/ack")
    assert reply.status == 405 and reply.header("Allow") == "POST"
    page = request(url, "/no/such/page")
    assert page.status == 404 and page.header("Content-Type").startswith("text/html")


def test_disk_detail_has_the_newest_attributes_of_the_recording(served, openapi):
    spec = BY_NAME["failing"]
    doc = request(served[0], f"/api/disks/{spec.disk_id}").json()
    conforms(openapi, "DiskDetail", doc)
    recording = record_from(spec.fixture, spec.path, spec.dev_type)
    got = {a["id"]: a for a in doc["attributes"]}
    assert set(got) == {a.id for a in recording.attributes}
    for a in recording.attributes:
        assert (got[a.id]["name"], got[a.id]["value"], got[a.id]["thresh"],
                got[a.id]["raw_value"]) == (a.name, a.value, a.thresh, a.raw_value)
    assert got[5]["criticality"] == "critical"
    assert doc["smart_passed"] is False and doc["state"] == "critical"
    assert doc["risk"]["afr_percent"] > 2.5
    assert {a["rule_id"] for a in doc["alerts"]} >= {"smart_failed", "reallocated"}
    assert "attr:197" in doc["metrics"] and "temperature" in doc["metrics"]

    nvme = BY_NAME["nvme-ok"]
    nd = request(served[0], f"/api/disks/{nvme.disk_id}").json()
    conforms(openapi, "DiskDetail", nd)
    assert nd["attributes"] == [] and nd["nvme"] == {
        k: v for k, v in vars(spec_record(nvme).nvme).items()
    }
    assert "nvme.media_errors" in nd["metrics"]


def test_history_matches_the_stored_readings(served, openapi):
    url, path = served
    spec = BY_NAME["healthy-ata"]
    since, until = "2025-12-01T00:00:00Z", "2026-01-15T12:00:00Z"
    raw = request(url, f"/api/disks/{spec.disk_id}/history?metric=temperature"
                       f"&since={since}&until={until}&points=5000").json()
    conforms(openapi, "History", raw)
    store = SQLiteStore(path, readonly=True)
    try:
        truth = store.history(spec.disk_id, "temperature", "2025-12-01 00:00:00",
                              "2026-01-15 12:00:00")
    finally:
        store.close()
    assert not raw["downsampled"]
    assert [(p["t"], p["v"]) for p in raw["points"]] == [
        (t.replace(" ", "T") + "Z", v) for t, v in truth]
    assert max(p["v"] for p in raw["points"]) == 55  # the hot spell
    small = request(url, f"/api/disks/{spec.disk_id}/history?metric=temperature"
                         f"&since={since}&until={until}&points=20").json()
    assert small["downsampled"] and len(small["points"]) <= 21
    assert sum(p["n"] for p in small["points"]) == len(truth) == small["count"]
    assert max(p["max"] for p in small["points"]) == 55
    assert min(p["min"] for p in small["points"]) == min(v for _, v in truth)
    for p in small["points"]:
        assert p["min"] <= p["v"] <= p["max"]
    relative = request(url, f"/api/disks/{spec.disk_id}/history?since=7d").json()
    assert relative["since"] == "2026-01-08T12:00:00Z" and relative["until"] == until

    sectors = BY_NAME["sectors"]
    pending = request(url, f"/api/disks/{sectors.disk_id}/history?metric=attr:197").json()
    recording = record_from(sectors.fixture)
    assert {p["v"] for p in pending["points"]} == {recording.attribute(197).raw_value}
    nvme = BY_NAME["nvme-ok"]
    spare = request(url, f"/api/disks/{nvme.disk_id}/history?metric=nvme.available_spare"
                         "&since=30d").json()
    assert spare["count"] == nvme.days * 4
    assert {p["v"] for p in spare["points"]} == {spec_record(nvme).nvme.available_spare}


def test_alert_lists_match_the_database(served, openapi):
    url, path = served
    conn = sqlite3.connect(path)
    for state, where in (("open", "resolved = 0"), ("resolved", "resolved = 1"),
                         ("all", "1 = 1")):
        doc = request(url, f"/api/alerts?state={state}&limit=1000").json()
        conforms(openapi, "AlertPage", doc)
        ids = [r[0] for r in conn.execute(
            f"SELECT id FROM health_alerts WHERE {where} ORDER BY id DESC")]
        assert [a["id"] for a in doc["items"]] == ids and doc["total"] == len(ids)
    resolved = request(url, "/api/alerts?state=resolved").json()["items"]
    assert [(a["rule_id"], a["device"]) for a in resolved] == [("temperature", "/dev/sda")]
    failing = BY_NAME["failing"]
    mine = request(url, f"/api/alerts?disk_id={failing.disk_id}&limit=2&offset=1").json()
    n = conn.execute("SELECT count(*) FROM health_alerts WHERE resolved = 0 AND disk_id = ?",
                     (failing.disk_id,)).fetchone()[0]
    assert mine["total"] == n and mine["count"] == 2
    one = request(url, f"/api/alerts/{mine['items'][0]['id']}").json()
    conforms(openapi, "Alert", one)
    assert one == mine["items"][0]


def test_chart_images_are_svg_files_of_the_series(served):
    import xml.etree.ElementTree as ET

    url = served[0]
    spec = BY_NAME["failing"]
    reply = request(url, f"/disks/{spec.disk_id}/chart.svg?metric=attr:5&range=30d")
    assert reply.status == 200 and reply.header("Content-Type") == "image/svg+xml"
    root = ET.fromstring(reply.body)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("width") == "720" and root.find(f"{ns}style") is not None
    assert f"{spec.days * 4} readings" in root.find(f"{ns}title").text
    assert len(root.find(f"{ns}polyline").get("points").split()) == spec.days * 4
    assert request(url, f"/disks/{spec.disk_id}/chart.svg?range=2w").status == 400
    assert request(url, f"/disks/{spec.disk_id}/chart.svg?metric=attr:x").status == 400
    assert request(url, "/disks/wwn-0xnothing/chart.svg").status == 404


def test_head_and_gzip(served):
    url = served[0]
    head = request(url, "/api/disks", method="HEAD")
    assert head.status == 200 and head.body == b""
    zipped = request(url, "/api/disks", headers={"Accept-Encoding": "gzip"})
    assert zipped.header("Content-Encoding") == "gzip"
    plain = request(url, "/api/disks")
    assert gzip.decompress(zipped.body) == plain.body


def test_reads_go_on_while_the_daemon_writes(served):
    """WAL: the server's read-only connections answer while another connection writes."""
    url, path = served
    spec = BY_NAME["nvme-ok"]
    record = spec_record(spec)
    writer = SQLiteStore(path)
    stop = threading.Event()
    written = []

    def write() -> None:
        t = NOW + 1
        while not stop.is_set() and len(written) < 400:
            writer.save_reading(record, spec.path, utc_text(t))
            written.append(t)
            t += 1

    thread = threading.Thread(target=write)
    thread.start()
    try:
        statuses = [request(url, "/api/disks").status for _ in range(20)]
        statuses += [request(url, f"/api/disks/{spec.disk_id}").status for _ in range(10)]
    finally:
        stop.set()
        thread.join()
        writer.close()
    assert statuses == [200] * 30
    assert written


# ---------------------------------------------------------------------- acknowledge


def _open_alert(path: str, rule: str = "smart_failed") -> int:
    return sqlite3.connect(path).execute(
        "SELECT id FROM health_alerts WHERE resolved = 0 AND alert_type = ?", (rule,)
    ).fetchone()[0]


def test_acknowledge_needs_the_token(fleet_db, openapi):
    alert_id = _open_alert(fleet_db)
    with running_server(fleet_db, token=TOKEN) as server:
        ack = f"/api/alerts/{alert_id}/ack"
        missing = request(server.url, ack, method="POST", body={"note": "x"})
        assert missing.status == 401 and missing.header("WWW-Authenticate").startswith("Bearer")
        assert "Authorization: Bearer" in missing.json()["error"]
        wrong = request(server.url, ack, method="POST", body={"note": "x"},
                        headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401 and "invalid" in wrong.json()["error"]
        basic = request(server.url, ack, method="POST", body={"note": "x"},
                        headers={"Authorization": f"Basic {TOKEN}"})
        assert basic.status == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for body, status in (({}, 400), ({"note": "  "}, 400), ({"note": 5}, 400),
                             ([1, 2], 400), ({"note": "x" * 1001}, 400)):
            reply = request(server.url, ack, method="POST", body=body, headers=auth)
            assert reply.status == status, body
        not_json = request(server.url, ack, method="POST", raw=b"note=x",
                           headers={**auth, "Content-Type": "application/x-www-form-urlencoded"})
        assert not_json.status == 415
        broken = request(server.url, ack, method="POST", raw=b"{",
                         headers={**auth, "Content-Type": "application/json"})
        assert broken.status == 400
        huge = request(server.url, ack, method="POST", raw=b"x" * 70000,
                       headers={**auth, "Content-Type": "application/json"})
        assert huge.status == 413
        assert request(server.url, "/api/alerts/999999/ack", method="POST",
                       body={"note": "x"}, headers=auth).status == 404
        resolved = sqlite3.connect(fleet_db).execute(
            "SELECT id FROM health_alerts WHERE resolved = 1").fetchone()[0]
        assert request(server.url, f"/api/alerts/{resolved}/ack", method="POST",
                       body={"note": "x"}, headers=auth).status == 409
        # Nothing above changed the alert.
        assert sqlite3.connect(fleet_db).execute(
            "SELECT acknowledged FROM health_alerts WHERE id = ?", (alert_id,)).fetchone() == (0,)
        ok = request(server.url, ack, method="POST", body={"note": "ops: disk ordered"},
                     headers=auth)
        assert ok.status == 200, ok.text
        conforms(openapi, "Alert", ok.json())
        assert ok.json()["acknowledged"] is True
    row = sqlite3.connect(fleet_db).execute(
        "SELECT acknowledged, ack_note, ack_at FROM health_alerts WHERE id = ?", (alert_id,)
    ).fetchone()
    assert row == (1, "ops: disk ordered",
                   datetime.fromtimestamp(NOW, timezone.utc).strftime("%Y-%m-%d %H:%M:%S"))


def test_without_a_configured_token_writes_are_refused(fleet_db):
    alert_id = _open_alert(fleet_db)
    with running_server(fleet_db, token=None) as server:
        reply = request(server.url, f"/api/alerts/{alert_id}/ack", method="POST",
                        body={"note": "x"}, headers={"Authorization": "Bearer anything"})
        assert reply.status == 403
        assert "no web token is configured" in reply.json()["error"]
        assert request(server.url, "/api/health").status == 200  # reads still work
    assert sqlite3.connect(fleet_db).execute(
        "SELECT acknowledged FROM health_alerts WHERE id = ?", (alert_id,)).fetchone() == (0,)


def test_a_missing_database_answers_503_not_a_crash(tmp_path):
    path = str(tmp_path / "gone.db")
    SQLiteStore(path).close()
    with running_server(path) as server:
        assert request(server.url, "/api/health").json()["total_devices"] == 0
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"gone.db{suffix}").unlink(missing_ok=True)
        reply = request(server.url, "/api/disks")
        assert reply.status == 503 and "database" in reply.json()["error"]
