"""The real ``maid-smart-monitor`` process on a real kernel with real smartctl.

What the guest did is in tests/realdev/guest_monitor.py (five one-shot cycles with ``dd``
in between, then --summary and --export); conftest.py boots once for all of it. Disks are
told apart by the serials given to QEMU and the /dev names the guest found in sysfs.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from .guest_monitor import split_sql
from .qemu import NVME, SATA, SCSI

pytestmark = pytest.mark.realdev

SERIAL = {"sata": SATA.serial, "scsi": SCSI.serial, "nvme": NVME.serial}
TYPE = {"sata": "sat", "scsi": "scsi", "nvme": "nvme"}
PROTOCOL = {"sata": "ATA", "scsi": "SCSI", "nvme": "NVMe"}
SEED_SQL = Path(__file__).resolve().parents[3] / "shared" / "seed" / "queries.sql"


@pytest.fixture(scope="module")
def mon(guest) -> dict:
    mon = guest["monitor"]
    assert mon is not None, "maid-smart-monitor is not installed in the venv running pytest"
    assert "cycles" in mon, f"the guest scenario did not start:\n{mon.get('log', '')[-6000:]}"
    assert "error" not in mon, f"the guest scenario stopped:\n{mon['error']}\n{mon['log'][-3000:]}"
    return mon


def _cycle(mon: dict, label: str) -> dict:
    return next(c for c in mon["cycles"] if c["label"].startswith(label))


def _checks(cycle: dict) -> dict[str, dict]:
    """This cycle's per-device check records, keyed by device path."""
    return {c["device"]: c for c in cycle["checks"]}


def _device_calls(cycle: dict, path: str) -> list[dict]:
    return [c for c in cycle["calls"] if c["argv"] and c["argv"][-1] == path]


def _dtype(call: dict) -> str | None:
    argv = call["argv"]
    return argv[argv.index("-d") + 1] if "-d" in argv else None


def test_every_cycle_ran_and_printed_its_line(mon):
    assert [c["label"] for c in mon["cycles"]] == [
        "c1-fresh",
        "c2-idle",
        "c3-after-dd-sata",
        "c4-idle",
        "c5-after-dd-scsi",
    ]
    for cyc in mon["cycles"]:
        assert cyc["rc"] == 0, (cyc["label"], cyc["stderr"][-3000:])
        assert cyc["line"] is not None, (cyc["label"], cyc["stdout"])
        results = [c["result"] for c in cyc["checks"]]
        assert len(results) == 3, cyc["checks"]
        assert cyc["line"]["read"] == results.count("read"), (cyc["line"], results)
        assert cyc["line"]["skipped"] == sum(r.startswith("skipped-") for r in results)
        assert cyc["line"]["failed"] == results.count("error"), (cyc["line"], results)


def test_no_healthy_emulated_disk_counts_as_failed(mon):
    """Every disk here is healthy and answers smartctl; none may end a cycle as an error
    (QEMU's scsi-hd answers identity but has no SMART support: smart_support.available
    false, exit 4)."""
    errors = [
        (cyc["label"], c["device"], c["reason"])
        for cyc in mon["cycles"]
        for c in cyc["checks"]
        if c["result"] == "error"
    ]
    assert errors == []


def test_discovery_finds_three_disks_with_identity_protocol_rotation(mon):
    first = mon["cycles"][0]
    scans = [c for c in first["calls"] if "--scan" in c["argv"]]
    assert len(scans) == 1, [c["argv"] for c in first["calls"]]
    assert not any("--scan-open" in c["argv"] for cyc in mon["cycles"] for c in cyc["calls"])
    assert set(_checks(first)) == set(mon["names"].values())
    disks = {row["serial"]: row for row in mon["disks"]}
    assert set(disks) == set(SERIAL.values()), mon["disks"]
    for kind, serial in SERIAL.items():
        row = disks[serial]
        assert row["device"] == mon["names"][kind], row
        assert row["dev_type"] == TYPE[kind], row
        assert row["protocol"] == PROTOCOL[kind], row
    assert disks[SATA.serial]["model"] == SATA.model
    assert disks[SATA.serial]["rotation_rate"] == SATA.rotation_rate
    assert disks[SCSI.serial]["rotation_rate"] == SCSI.rotation_rate
    assert not disks[NVME.serial]["rotation_rate"]  # no spindle: 0 or unknown


def test_each_disk_is_addressed_with_its_own_type(mon):
    """--scan says scsi for the SATA disk; the monitor must use sat (from sysfs, without
    opening the disk) and scsi for the SCSI disk, always with a power check."""
    seen: dict[str, set[str | None]] = {k: set() for k in TYPE}
    for cyc in mon["cycles"]:
        for kind, path in mon["names"].items():
            for call in _device_calls(cyc, path):
                seen[kind].add(_dtype(call))
                assert "-n" in call["argv"], call["argv"]  # never a read that may wake
    assert seen == {k: {TYPE[k]} for k in TYPE}, seen


def test_sata_disk_read_with_the_full_ata_table(mon):
    rows = [r for r in mon["smart_data"] if r["device"] == mon["names"]["sata"]]
    assert rows, "no ATA attributes stored for the SATA disk"
    by_reading: dict[int, set[int]] = {}
    for r in rows:
        by_reading.setdefault(r["reading_id"], set()).add(r["attribute_id"])
    for ids in by_reading.values():
        # QEMU's AHCI disk has 7 attributes (1 3 4 5 9 12 190), all of them tracked.
        assert {1, 3, 4, 5, 9, 12} <= ids, ids
    readings = [r for r in mon["readings"] if r["device"] == mon["names"]["sata"]]
    assert readings and all(r["smart_passed"] == 1 for r in readings), readings
    # Nothing ATA-shaped is stored for the SCSI or NVMe disk.
    assert not [r for r in mon["smart_data"] if r["device"] != mon["names"]["sata"]]


def test_scsi_disk_never_taken_for_sleeping(mon):
    """An ATA power check on this disk would answer "SLEEP mode" for ever (see the probe);
    with -d scsi the disk answers, and is never recorded as being in standby."""
    scsi = mon["names"]["scsi"]
    answered = []
    for cyc in mon["cycles"]:
        assert _checks(cyc)[scsi]["result"] != "skipped-standby", (cyc["label"], cyc["checks"])
        for call in _device_calls(cyc, scsi):
            assert call["rc"] is not None and call["rc"] != 3, call  # 3 = "in standby"
            doc = json.loads(call["stdout"])
            assert "power_mode" not in doc, doc
            answered.append(doc["serial_number"])
    assert answered == [SCSI.serial], answered  # read once: in c5, after host I/O


def test_piggyback_reads_rotational_disks_only_after_host_io(mon):
    sata, scsi, nvme = (mon["names"][k] for k in ("sata", "scsi", "nvme"))
    expect_read = {
        "c2": set(),
        "c3": {sata},
        "c4": set(),
        "c5": {scsi},
    }
    for label, rotating_read in expect_read.items():
        cyc = _cycle(mon, label)
        checks = _checks(cyc)
        for path in (sata, scsi):
            if path in rotating_read:
                # Decided to read (how the answer is judged is another test's business).
                assert not checks[path]["result"].startswith("skipped-"), (label, checks[path])
                assert len(_device_calls(cyc, path)) == 1, (label, path)
            else:
                assert checks[path]["result"] == "skipped-idle", (label, checks[path])
                assert _device_calls(cyc, path) == [], (label, path)  # not even -n
    for cyc in mon["cycles"]:
        assert _checks(cyc)[nvme]["result"] == "read", (cyc["label"], _checks(cyc)[nvme])
        assert len(_device_calls(cyc, nvme)) == 1, cyc["label"]


def test_monitor_smart_commands_leave_io_counters_still(mon):
    """On this kernel SMART passthrough is not block I/O: neither a single smartctl call nor
    a whole monitor process moves any of the 17 /proc/diskstats fields, so a disk just read
    does not look busy to the next cycle (c4 above skips the SATA disk read in c3)."""
    calls = [c for cyc in mon["cycles"] for c in cyc["calls"]]
    assert len(calls) >= 10
    for call in calls:
        for block, d in call["delta"].items():
            assert not any(d), (call["argv"], block, d)
    for cyc in mon["cycles"]:
        for block, d in cyc["diskstats_delta"].items():
            assert not any(d), (cyc["label"], block, d)
    # The measurement is live: host reads with dd do move the same counters.
    for act in mon["actions"]:
        assert act["rc"] == 0, act
        block = mon["names"][act["kind"]].rsplit("/", 1)[1]
        assert act["diskstats_delta"][block][0] >= 1, act


def test_summary_and_export_on_the_guest_database(mon):
    summary = mon["summary"]
    assert summary["rc"] == 0, summary["stderr"]
    assert "MAID SMART Health Summary:" in summary["stdout"]
    assert f"Total devices: {len(mon['disks'])}" in summary["stdout"], summary["stdout"]
    export = mon["export"]
    assert export["rc"] == 0, export["stderr"]
    rows = export["rows"]
    ata = sorted(
        (r["device"], int(r["attribute_id"]), r["raw_value"]) for r in rows if r["attribute_id"]
    )
    stored = sorted(
        (r["device"], r["attribute_id"], str(r["raw_value"])) for r in mon["smart_data"]
    )
    assert ata == stored and ata, (ata, stored)
    # NVMe health-log fields have no attribute id; exported as nvme.<field>, per reading.
    nvme = [r for r in rows if r["attribute_name"].startswith("nvme.")]
    assert {r["device"] for r in nvme} == {mon["names"]["nvme"]}
    nvme_readings = {r["timestamp"] for r in mon["readings"] if r["device"] == mon["names"]["nvme"]}
    assert {r["timestamp"] for r in nvme} == nvme_readings
    assert any(r["attribute_name"] == "nvme.critical_warning" for r in nvme)
    assert {"timestamp", "device", "attribute_id", "attribute_name", "raw_value"} <= set(rows[0])
    # Reports read the database only: no smartctl call at all.
    assert mon["calls_after_cycles"] == []


def test_seed_sql_runs_unchanged_on_the_guest_database(guest, mon):
    in_guest = mon["seed_sql_in_guest"]
    assert in_guest and all(s["ok"] for s in in_guest), in_guest
    db = Path(guest["result"].share) / "monitor.db"
    con = sqlite3.connect(str(db))
    try:
        results = []
        for stmt in split_sql(SEED_SQL.read_text()):
            params = (mon["names"]["sata"],) if "?" in stmt else ()
            results.append(con.execute(stmt, params).fetchall())
        # Statement 1 (temperature trend) and 2 (critical attributes), recomputed here.
        temps = con.execute(
            "SELECT timestamp, raw_value FROM smart_data WHERE device = ? AND "
            "attribute_id = 194 ORDER BY timestamp",
            (mon["names"]["sata"],),
        ).fetchall()
        crit: dict[tuple[str, str], list[int]] = {}
        for dev, name, raw in con.execute(
            "SELECT device, attribute_name, raw_value FROM smart_data "
            "WHERE attribute_id IN (5, 187, 196, 197, 198)"
        ):
            if raw is not None and raw > 0:
                crit.setdefault((dev, name), []).append(raw)
        indexes = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    finally:
        con.close()
    assert results[0] == temps
    assert sorted(results[1]) == sorted((d, n, max(v), len(v)) for (d, n), v in crit.items())
    assert {"idx_smart_device_time", "idx_smart_attribute", "idx_alerts_device"} <= indexes


def test_daemon_reads_an_idle_disk_right_after_host_io_and_only_then(mon):
    """--daemon with interval 1 h and diskstats sampled every second: the rotational disks
    are left alone until dd reads one; that one is read within seconds, once."""
    d = mon["daemon"]
    assert d["ready"], d["stderr"][-3000:]
    sata, scsi, nvme = (mon["names"][k] for k in ("sata", "scsi", "nvme"))
    before = [c["argv"][-1] for c in d["calls_before_io"] if "--scan" not in c["argv"]]
    assert before == [nvme], before  # the start-up full cycle: only the solid-state disk
    calls = d["calls"]
    per_dev = {p: [c for c in calls if c["argv"][-1:] == [p]] for p in (sata, scsi, nvme)}
    assert len(per_dev[sata]) == 1, [c["argv"] for c in calls]
    assert _dtype(per_dev[sata][0]) == "sat" and "-n" in per_dev[sata][0]["argv"]
    assert per_dev[scsi] == [] and len(per_dev[nvme]) == 1, [c["argv"] for c in calls]
    assert d["read_latency"] is not None and 0 <= d["read_latency"] < 10, d["read_latency"]
    for call in calls:
        for block, delta in call["delta"].items():
            assert not any(delta), (call["argv"], block, delta)
    # Recorded: the start-up cycle (all three disks), then the tick that read the SATA disk.
    results = [(c["device"], c["result"]) for c in d["checks"]]
    start_up = sorted([(sata, "skipped-idle"), (scsi, "skipped-idle"), (nvme, "read")])
    assert sorted(results[:3]) == start_up, results
    assert results[3:] == [(sata, "read")], results
    assert d["rc"] == 0 and d["stop_seconds"] < 15, (d["rc"], d["stop_seconds"], d["stderr"])


def test_wrong_type_sleep_answer_is_not_taken_for_a_sleeping_disk(mon):
    """With an operator-given wrong type (``--devices /dev/sdX:sat`` on the SCSI disk),
    smartctl's ATA power check answers "SLEEP mode" even a second after the disk served
    host I/O. A disk whose I/O counters just moved is not asleep: the monitor must not
    record that answer as standby (it may correct the type from sysfs, or report the
    contradiction as an error naming the type)."""
    w = mon["wrong_type"]
    assert [r["rc"] for r in w["runs"]] == [0, 0], [r["stderr"][-2000:] for r in w["runs"]]
    after_io = [c for c in w["checks"] if c["result"] != "skipped-idle"]
    assert after_io, w["checks"]  # the second run, after dd, did look at the disk
    for check in after_io:
        assert check["result"] != "skipped-standby", check
