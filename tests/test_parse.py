"""The smartctl parser against every recorded real output, plus table-driven edge cases.

Each recording is checked against values read straight from its JSON here in the test,
with plain key access (the recordings are well formed), so the test does not share the
parser's forgiving readers.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from maid_smart_monitor.attributes import FIRST_INTEGER_OF_STRING
from maid_smart_monitor.model import DiskRef, NvmeHealth, Protocol, ReadState, SmartRecord
from maid_smart_monitor.smartctl.command import STANDBY_EXIT, read_argv, version_argv
from maid_smart_monitor.smartctl.parse import (
    ParseError,
    parse_output,
    parse_result,
    parse_version,
)
from maid_smart_monitor.smartctl.runner import RunResult, SubprocessRunner

FIXTURES = Path(__file__).parent / "fixtures" / "smartctl"
RECORDINGS = sorted(p for p in FIXTURES.glob("*/*.json") if p.parent.name != "scan")


def rel(path: Path) -> str:
    return str(path.relative_to(FIXTURES))


# Recordings whose reading is not OK, and why. Everything else must parse as OK.
NOT_OK = {
    "error/plasma-disks__invalid-cmdline-bad-usb-bridge.json": ReadState.BAD_COMMAND_LINE,
    "error/smartctl_exporter-pr327__nonexistent-device.json": ReadState.BAD_COMMAND_LINE,
    "error/scrutiny__smart-fail.json": ReadState.PERMISSION_DENIED,  # Windows "Error=5"
    "ata/plasma-disks__invalid-vbox.json": ReadState.COMMAND_FAILED,  # exit 4, no SMART data
    "raid/scrutiny__smart-raid.json": ReadState.COMMAND_FAILED,  # RAID volume, exit 4
    "scsi/scrutiny__smart-scsi2.json": ReadState.BAD_OUTPUT,  # json_format_version 0.1 (6.7)
    "standby/smartctl_exporter-pr327__standby-sdc.json": ReadState.STANDBY,
}


def load(path: Path) -> tuple[str, dict[str, Any]]:
    text = path.read_text()
    return text, json.loads(text)


def disk_for(doc: dict[str, Any]) -> DiskRef:
    dev = doc.get("device", {})
    return DiskRef(dev.get("name", "/dev/sdx"), dev.get("type", "sat"))


def parse_recording(path: Path) -> tuple[SmartRecord, dict[str, Any]]:
    text, doc = load(path)
    code = doc.get("smartctl", {}).get("exit_status")
    return parse_output(text, code, disk_for(doc)), doc


# ---------------------------------------------------------------------------
# Expected values, read directly


def expected_model(doc):
    if "model_name" in doc:
        return doc["model_name"]
    if "scsi_model_name" in doc:
        return doc["scsi_model_name"]
    for v, p in (("scsi_vendor", "scsi_product"), ("vendor", "product")):
        if v in doc:
            return f"{doc[v]} {doc[p]}"
    return None


def expected_wwn(doc):
    if "wwn" in doc:
        w = doc["wwn"]
        return "0x" + format(w["naa"], "x") + format(w["oui"], "06x") + format(w["id"], "09x")
    if "logical_unit_id" in doc:
        return doc["logical_unit_id"].lower()
    return None


def leading_number(raw_string: str) -> int:
    """'35 (Min/Max 21/44)' -> 35, '47060h+35m+00.858s' -> 47060, by splitting."""
    return int(raw_string.split()[0].split("h")[0])


def test_recordings_present():
    assert len(RECORDINGS) >= 200
    assert {p.parent.name for p in RECORDINGS} >= {
        "ata",
        "nvme",
        "scsi",
        "raid",
        "sat-usb",
        "standby",
        "error",
    }


def test_every_not_ok_recording_exists():
    names = {rel(p) for p in RECORDINGS}
    assert set(NOT_OK) <= names


@pytest.mark.parametrize("path", RECORDINGS, ids=rel)
def test_recording(path: Path):
    record, doc = parse_recording(path)
    meta = doc.get("smartctl", {})
    expected_state = NOT_OK.get(rel(path), ReadState.OK)
    assert record.state is expected_state, record.error

    # Never "failed" unless smartctl said so in a reading we could use.
    if record.state is not ReadState.OK:
        assert record.smart_passed is None
        assert record.attributes == () and record.nvme is None and record.scsi is None
        if record.state is not ReadState.STANDBY:
            assert record.error and "\n" not in record.error
        return
    assert record.error is None

    assert record.exit_status.code == meta.get("exit_status", 0)
    assert record.messages == tuple(m["string"] for m in meta.get("messages", []))
    if "version" in meta:
        assert record.smartctl_version == ".".join(map(str, meta["version"]))
    power_check_ignored = any("CHECK POWER MODE not implemented" in m for m in record.messages)
    assert record.power_check_supported is (False if power_check_ignored else None)

    support = doc.get("smart_support")
    if support is None:
        assert record.smart_enabled is None
    else:
        assert record.smart_enabled is (support["available"] and support["enabled"])

    # identity (None when smartctl said nothing that identifies the disk)
    firmware = doc.get("firmware_version") or doc.get("scsi_revision") or doc.get("revision")
    capacity = doc.get("user_capacity", {}).get("bytes", doc.get("nvme_total_capacity"))
    identifying = (
        expected_model(doc),
        doc.get("serial_number"),
        expected_wwn(doc),
        firmware,
        capacity,
    )
    ident = record.identity
    if identifying == (None,) * 5:
        assert ident is None
    else:
        assert ident is not None
        assert (ident.model, ident.serial, ident.wwn, ident.firmware, ident.capacity_bytes) == (
            identifying
        )
        assert ident.rotation_rate == doc.get("rotation_rate")
        assert ident.form_factor == doc.get("form_factor", {}).get("name")
        assert ident.protocol is Protocol(doc["device"]["protocol"])

    # health summary
    assert record.smart_passed == doc.get("smart_status", {}).get("passed")
    nvme_log = doc.get("nvme_smart_health_information_log")
    temperature = doc.get("temperature", {}).get("current")
    if temperature is None and nvme_log:
        temperature = nvme_log["temperature"]
    assert record.temperature == temperature
    hours = doc.get("power_on_time", {}).get("hours")
    if hours is None and nvme_log:
        hours = nvme_log["power_on_hours"]
    assert record.power_on_hours == hours
    cycles = doc.get("power_cycle_count")
    if cycles is None and nvme_log:
        cycles = nvme_log["power_cycles"]
    if cycles is None:
        cycles = doc.get("scsi_start_stop_cycle_counter", {}).get("accumulated_start_stop_cycles")
    assert record.power_cycle_count == cycles

    # ATA: the whole table
    table = doc.get("ata_smart_attributes", {}).get("table", [])
    assert len(record.attributes) == len(table)
    for attr, row in zip(record.attributes, table, strict=True):
        assert attr.id == row["id"]
        assert attr.name == row["name"]
        assert (attr.value, attr.worst, attr.thresh) == (row["value"], row["worst"], row["thresh"])
        assert attr.raw_packed == row["raw"]["value"]
        assert attr.raw_string == row["raw"]["string"]
        assert attr.when_failed == row["when_failed"]
        assert attr.prefailure is row["flags"]["prefailure"]
        assert attr.flags == row["flags"]["string"]
        if row["id"] in FIRST_INTEGER_OF_STRING:
            assert attr.raw_value == leading_number(row["raw"]["string"])
        else:
            assert attr.raw_value == row["raw"]["value"]

    # NVMe: every field of the log that the model knows; and the model knows all counters
    if nvme_log is None:
        assert record.nvme is None
    else:
        assert record.nvme is not None
        names = {f.name for f in fields(NvmeHealth)}
        assert set(nvme_log) - names <= {"temperature_sensors", "nsid"}
        for name in names:
            default = 0 if name == "critical_warning" else None
            assert getattr(record.nvme, name) == nvme_log.get(name, default), name

    # SCSI counters
    if record.scsi is not None or "scsi_error_counter_log" in doc:
        assert record.scsi is not None
        ecl = doc.get("scsi_error_counter_log", {})
        ss = doc.get("scsi_start_stop_cycle_counter", {})
        assert record.scsi.grown_defects == doc.get("scsi_grown_defect_list")
        for op in ("read", "write", "verify"):
            log = ecl.get(op, {})
            assert getattr(record.scsi, f"{op}_uncorrected") == log.get("total_uncorrected_errors")
            assert getattr(record.scsi, f"{op}_corrected") == log.get("total_errors_corrected")
        assert record.scsi.start_stop_cycles == ss.get("accumulated_start_stop_cycles")
        assert record.scsi.start_stop_cycles_specified == ss.get(
            "specified_cycle_count_over_device_lifetime"
        )
        assert record.scsi.load_unload_cycles == ss.get("accumulated_load_unload_cycles")
        assert record.scsi.load_unload_cycles_specified == ss.get(
            "specified_load_unload_count_over_device_lifetime"
        )


# ---------------------------------------------------------------------------
# Spot checks against numbers a person read off the recordings


def fixture(name: str) -> Path:
    return FIXTURES / name


def test_packed_temperature_and_wwn():
    record, _ = parse_recording(fixture("ata/plasma-disks__failing-sectors-passing-status.json"))
    assert record.identity is not None
    assert record.identity.wwn == "0x5000c5007bd700c6"
    assert record.disk_id == "wwn-0x5000c5007bd700c6"
    t190, t194 = record.attribute(190), record.attribute(194)
    assert t190 is not None and t194 is not None
    assert (t190.raw_value, t190.raw_packed) == (37, 622657573)
    assert (t194.raw_value, t194.raw_packed) == (37, 81604378661)
    assert record.temperature == 37


def test_power_on_hours_from_hms_string():
    name = (
        "ata/smartctl_exporter__sat-Seagate_Enterprise_Capacity_3.5_HDD-"
        "ST1000NM0008-2F2100-sda.json"
    )
    record, _ = parse_recording(fixture(name))
    hours = record.attribute(9)
    assert hours is not None
    assert hours.raw_string == "47060h+35m+00.858s"
    assert (hours.raw_value, hours.raw_packed) == (47060, 9023116403587028)
    assert record.power_on_hours == 47060


def test_failing_usb_disk_reports_failure_with_state_ok():
    record, _ = parse_recording(fixture("sat-usb/plasma-disks__broken.json"))
    assert record.state is ReadState.OK
    assert record.smart_passed is False
    assert record.exit_status.code == 216
    assert record.exit_status.smart_failing and not record.exit_status.read_problem
    realloc = record.attribute(5)
    assert realloc is not None and realloc.when_failed == "now"


def test_scsi_old_and_new_keys():
    old, _ = parse_recording(fixture("scsi/scrutiny__smart-scsi.json"))  # no smartctl key
    assert old.state is ReadState.OK
    assert old.identity is not None and old.identity.model == "SEAGATE ST4000NM0043"
    assert old.scsi is not None and old.scsi.grown_defects == 56
    new, _ = parse_recording(fixture("scsi/smartctl_exporter__SEAGATE_ST373453LC_26.json"))
    assert new.identity is not None and new.identity.model == "SEAGATE ST373453LC"
    assert new.scsi is not None
    assert (new.scsi.grown_defects, new.scsi.read_uncorrected, new.scsi.write_uncorrected) == (
        260,
        1,
        535,
    )
    sas, _ = parse_recording(fixture("scsi/beszel__scsi.json"))
    assert sas.identity is not None and sas.identity.wwn == "0x5000cca29063dc00"
    assert sas.power_cycle_count == 2  # accumulated start-stop cycles
    assert sas.scsi is not None and sas.scsi.load_unload_cycles == 418


def test_megaraid_ignores_power_check():
    record, _ = parse_recording(
        fixture("raid/smartctl_exporter-pr339__sat_megaraid_1-null-HFS1T9G3H2X069N-0.json")
    )
    assert record.state is ReadState.OK
    assert record.power_check_supported is False
    assert record.exit_status.command_failed  # bit 2 with data: still a reading
    assert record.attributes


def test_recorded_standby_is_not_a_failure():
    record, _ = parse_recording(fixture("standby/smartctl_exporter-pr327__standby-sdc.json"))
    assert record.state is ReadState.STANDBY
    assert record.power_mode == "STANDBY"
    assert record.power_check_supported is True
    assert record.smart_passed is None and record.error is None
    assert record.messages == ("Device is in STANDBY mode, exit(2)",)


def test_old_json_format_is_refused_with_a_clear_error():
    record, _ = parse_recording(fixture("scsi/scrutiny__smart-scsi2.json"))
    assert record.state is ReadState.BAD_OUTPUT
    assert record.error is not None and "json_format_version 0.1" in record.error


# ---------------------------------------------------------------------------
# Exit mask and power-mode decoding, on an edited real recording

BASE = fixture("ata/smartctl_exporter__WDC_WD20EFRX-68EUZN0_17.json")
SDA = DiskRef("/dev/sda", "sat", block="sda")


def variant(exit_code: int | None, *, messages=(), power_mode=None, strip=(), **extra) -> str:
    doc = json.loads(BASE.read_text())
    doc["smartctl"]["messages"] = [
        {"string": text, "severity": severity} for text, severity in messages
    ]
    if exit_code is not None:
        doc["smartctl"]["exit_status"] = exit_code
    if power_mode is not None:
        doc["power_mode"] = {"ata_value": 0, "name": power_mode}
    for key in strip:
        doc.pop(key, None)
    doc.update(extra)
    return json.dumps(doc)


STANDBY_ONLY = ("smart_status", "ata_smart_attributes", "temperature", "power_on_time")


@pytest.mark.parametrize(
    ("exit_code", "kwargs", "state", "power_mode", "power_check"),
    [
        # our own -n standby,3
        (3, {"power_mode": "STANDBY", "strip": STANDBY_ONLY}, ReadState.STANDBY, "STANDBY", True),
        (
            3,
            {
                "messages": [("Device is in SLEEP mode, exit(3)", "information")],
                "strip": STANDBY_ONLY,
            },
            ReadState.STANDBY,
            "SLEEP",
            True,
        ),
        (
            3,
            {"messages": [("/dev/sda: Device is in STANDBY (OS) mode, exit(3)", "information")]},
            ReadState.STANDBY,
            "STANDBY (OS)",
            True,
        ),
        (
            3,
            {"messages": [("Device is in IDLE_B mode, exit(3)", "information")]},
            ReadState.STANDBY,
            "IDLE_B",
            True,
        ),
        # a plain -n standby (exit 2) from someone else's run
        (2, {"power_mode": "STANDBY", "strip": STANDBY_ONLY}, ReadState.STANDBY, "STANDBY", True),
        # awake disk read normally
        (0, {"power_mode": "ACTIVE or IDLE"}, ReadState.OK, "ACTIVE or IDLE", True),
        (0, {"power_mode": "IDLE"}, ReadState.OK, "IDLE", True),  # -n standby reads IDLE disks
        (
            0,
            {"messages": [("CHECK POWER MODE not implemented, ignoring -n option", "information")]},
            ReadState.OK,
            None,
            False,
        ),
        (0, {}, ReadState.OK, None, None),
        # exit 3 without any sign of low power is a genuine bad command line + open failure
        (3, {"strip": STANDBY_ONLY}, ReadState.BAD_COMMAND_LINE, None, None),
        # "ACTIVE or IDLE" is not low power, even with bit 1
        (
            2,
            {
                "power_mode": "ACTIVE or IDLE",
                "messages": [("open failed: No such device", "error")],
            },
            ReadState.OPEN_FAILED,
            "ACTIVE or IDLE",
            True,
        ),
    ],
    ids=[
        "exit3-power-mode",
        "exit3-sleep-message",
        "exit3-standby-os",
        "exit3-scsi-idle-b",
        "exit2-recorded-style",
        "active",
        "idle-read",
        "power-check-unsupported",
        "no-power-check",
        "exit3-no-evidence",
        "active-but-open-failed",
    ],
)
def test_power_mode_decoding(exit_code, kwargs, state, power_mode, power_check):
    record = parse_output(variant(exit_code, **kwargs), exit_code, SDA)
    assert record.state is state, record.error
    assert record.power_mode == power_mode
    assert record.power_check_supported is power_check
    if state is ReadState.STANDBY:
        assert record.smart_passed is None and record.error is None
        assert record.exit_status.code == exit_code


@pytest.mark.parametrize(
    ("exit_code", "message", "state"),
    [
        (1, "=======> UNRECOGNIZED OPTION: badopt", ReadState.BAD_COMMAND_LINE),
        (1, "/dev/sda: Unknown USB bridge [0x0781:0x5591 (0x100)]", ReadState.BAD_COMMAND_LINE),
        (2, "Smartctl open device: /dev/sda [SAT] failed: No such device", ReadState.OPEN_FAILED),
        (
            2,
            "Smartctl open device: /dev/sda failed: Permission denied",
            ReadState.PERMISSION_DENIED,
        ),
        (
            2,
            "Smartctl open device: /dev/sda failed: Operation not permitted",
            ReadState.PERMISSION_DENIED,
        ),
        (
            2,
            "Smartctl open device: /dev/sda failed: \\\\.\\PhysicalDrive0: Open failed, Error=5",
            ReadState.PERMISSION_DENIED,
        ),
        (2, "Smartctl open device: /dev/sda failed: Error=50", ReadState.OPEN_FAILED),
        (4, "Read SMART Data failed: scsi error aborted command", ReadState.COMMAND_FAILED),
    ],
    ids=[
        "unrecognized-option",
        "unknown-usb-bridge",
        "no-such-device",
        "permission-denied",
        "operation-not-permitted",
        "windows-access-denied",
        "windows-other-error",
        "command-failed-no-data",
    ],
)
def test_error_states(exit_code, message, state):
    text = variant(exit_code, messages=[(message, "error")], strip=STANDBY_ONLY)
    record = parse_output(text, exit_code, SDA)
    assert record.state is state
    assert record.error == " ".join(message.split())
    assert record.messages == (message,)
    assert record.smart_passed is None and record.attributes == ()


def test_error_without_messages_still_explains():
    record = parse_output(variant(2, strip=STANDBY_ONLY), 2, SDA)
    assert record.state is ReadState.OPEN_FAILED
    assert record.error == "smartctl could not open /dev/sda (exit 2)"


@pytest.mark.parametrize("bits", [1 << 3, 1 << 4, 1 << 5, 1 << 6, 1 << 7, 0b11111000, 4 | 64])
def test_health_bits_come_with_a_good_reading(bits):
    record = parse_output(variant(bits), bits, SDA)
    assert record.state is ReadState.OK
    assert record.attributes and record.smart_passed is True
    assert record.exit_status.code == bits
    assert len(record.exit_status.health_signals()) == bin(bits & 0b11111000).count("1")


def test_process_exit_code_wins_over_the_recorded_one():
    text = variant(0)
    assert parse_output(text, 64, SDA).exit_status.code == 64
    assert parse_output(text, None, SDA).exit_status.code == 0
    assert parse_output(variant(64), None, SDA).exit_status.code == 64


@pytest.mark.parametrize(
    ("stdout", "code", "fragment"),
    [
        ("", 0, "printed nothing"),
        ("  \n", 0, "printed nothing"),
        ("smartctl 7.3 2022-02-28 r5338 [x86_64-linux] (local build)", 1, "not valid JSON"),
        (BASE.read_text()[:700], 0, "truncated"),
        ("[1, 2, 3]", 0, "not an object"),
        ('"text"', 0, "not an object"),
        ("{}", 0, "not smartctl JSON"),
        ('{"json_format_version": [2, 0], "smartctl": {}}', 0, "json_format_version 2.0"),
        ('{"json_format_version": "1.0", "smartctl": {}}', 0, "not [major, minor]"),
        ('{"json_format_version": [], "smartctl": {}}', 0, "not [major, minor]"),
        ("[" * 100_000 + "]" * 100_000, 0, "JSON"),
        ('{"a": ' + "1" * 5000 + "}", 0, "JSON"),
        (BASE.read_text(), -9, "killed by signal 9"),
        (BASE.read_text(), 256, "status 256"),
    ],
    ids=[
        "empty",
        "blank",
        "text",
        "truncated",
        "list",
        "string",
        "empty-object",
        "format-v2",
        "format-string",
        "format-empty",
        "deep-nesting",
        "huge-int",
        "signal",
        "out-of-range",
    ],
)
def test_bad_output(stdout, code, fragment):
    record = parse_output(stdout, code, SDA)
    assert record.state is ReadState.BAD_OUTPUT
    assert record.error is not None and fragment in record.error
    assert "\n" not in record.error and len(record.error) <= 300
    assert record.smart_passed is None


def test_bytes_and_none_do_not_crash():
    assert parse_output(BASE.read_bytes(), 0, SDA).state is ReadState.OK  # type: ignore[arg-type]
    assert parse_output(None, 0, SDA).state is ReadState.BAD_OUTPUT  # type: ignore[arg-type]


def test_key_order_does_not_matter():
    doc = json.loads(BASE.read_text())

    def reverse(value):
        if isinstance(value, dict):
            return {k: reverse(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reverse(v) for v in value]
        return value

    assert parse_output(json.dumps(reverse(doc)), 0, SDA) == parse_output(BASE.read_text(), 0, SDA)


def test_wrong_types_are_tolerated():
    doc = json.loads(BASE.read_text())
    doc["temperature"] = {"current": "35"}
    doc["power_on_time"] = {"hours": 1234.0}
    doc["power_cycle_count"] = True  # a bool is not a count
    doc["serial_number"] = 123456
    doc["model_name"] = None
    doc["smart_status"] = {"passed": "yes"}
    doc["wwn"] = {"naa": "5", "oui": None, "id": 1}
    doc["user_capacity"] = []
    doc["form_factor"] = "3.5 inches"
    table = doc["ata_smart_attributes"]["table"]
    table[0]["raw"]["value"] = "17"
    table[1]["value"] = None
    table[2] = "not a row"
    table[3]["id"] = "x"
    table[4]["raw"] = {"string": "12 (Min/Max 1/2)"}  # value missing: first integer used
    table.append({"id": 194, "raw": {"value": 188979937315, "string": "35 (Min/Max 21/44)"}})
    table.append({"id": 9, "raw": {"string": "no digits"}})  # nothing usable: dropped
    record = parse_output(json.dumps(doc), 0, SDA)
    assert record.state is ReadState.OK
    assert record.temperature == 35
    assert record.power_on_hours == 1234
    assert record.power_cycle_count is None
    assert record.smart_passed is None
    ident = record.identity
    assert ident is not None
    assert (ident.serial, ident.model, ident.wwn, ident.capacity_bytes, ident.form_factor) == (
        "123456",
        None,
        None,
        None,
        None,
    )
    assert record.attributes[0].raw_packed == 17
    assert record.attributes[1].value is None
    assert len(record.attributes) == len(table) - 3
    last = record.attributes[-1]
    assert (last.id, last.raw_value, last.raw_packed, last.name) == (
        194,
        35,
        188979937315,
        "Unknown_Attribute",
    )
    shifted = record.attributes[2]  # row 4, whose raw.value was missing
    assert shifted.raw_packed == 12


@pytest.mark.parametrize(
    "mutation",
    [
        {"smartctl": None},
        {"smartctl": {"messages": "oops", "exit_status": "x", "version": ["7", None]}},
        {"smartctl": {"messages": [None, 5, {"string": None}, {"string": ["x"]}]}},
        {"device": "sda"},
        {"ata_smart_attributes": {"table": {"id": 5}}},
        {"ata_smart_attributes": []},
        {"nvme_smart_health_information_log": {"temperature": "hot", "media_errors": [1]}},
        {"nvme_smart_health_information_log": []},
        {"scsi_error_counter_log": {"read": 5, "write": None}},
        {"scsi_start_stop_cycle_counter": "82"},
        {"power_mode": "STANDBY"},
        {"temperature": None, "power_on_time": 5, "rotation_rate": "7200"},
    ],
)
def test_odd_shapes_never_crash(mutation):
    doc = json.loads(BASE.read_text())
    doc.update(mutation)
    record = parse_output(json.dumps(doc), 0, SDA)
    assert record.state is ReadState.OK
    assert record.error is None


def test_nvme_temperature_falls_back_to_health_log():
    doc = json.loads(fixture("nvme/telegraf-nvme.json").read_text())
    log = doc["nvme_smart_health_information_log"]
    del doc["temperature"], doc["power_on_time"], doc["power_cycle_count"]
    record = parse_output(json.dumps(doc), 0, DiskRef("/dev/nvme0", "nvme"))
    assert record.temperature == log["temperature"]
    assert record.power_on_hours == log["power_on_hours"]
    assert record.power_cycle_count == log["power_cycles"]
    assert record.identity is not None
    assert record.identity.wwn is None and record.identity.is_rotational is False


def test_protocol_guessed_when_device_missing():
    doc = json.loads(BASE.read_text())
    del doc["device"]
    assert parse_output(json.dumps(doc), 0, SDA).identity.protocol is Protocol.ATA  # type: ignore[union-attr]
    nvme = parse_output(json.dumps(doc), 0, DiskRef("/dev/nvme0", "nvme"))
    assert nvme.identity is not None and nvme.identity.protocol is Protocol.NVME


# ---------------------------------------------------------------------------
# parse_result over real processes (the Runner seam, no mocks)

PRINT_AND_EXIT = (
    "import sys; sys.stdout.write(open(sys.argv[1]).read()); sys.exit(int(sys.argv[2]))"
)


@pytest.mark.parametrize(
    "name",
    [
        "ata/smartctl_exporter__WDC_WD20EFRX-68EUZN0_17.json",
        "standby/smartctl_exporter-pr327__standby-sdc.json",
        "error/scrutiny__smart-fail.json",
        "sat-usb/plasma-disks__broken.json",
    ],
)
def test_parse_result_from_a_real_process(name):
    path = fixture(name)
    record_direct, doc = parse_recording(path)
    code = doc["smartctl"]["exit_status"]
    result = SubprocessRunner().run([sys.executable, "-c", PRINT_AND_EXIT, str(path), str(code)])
    assert result.returncode == code
    assert parse_result(result, disk_for(doc)) == record_direct


def test_parse_result_timeout():
    result = SubprocessRunner().run(
        [sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5
    )
    record = parse_result(result, SDA)
    assert record.state is ReadState.TIMEOUT
    assert record.error is not None and "did not finish" in record.error


def test_parse_result_missing_binary(tmp_path):
    result = SubprocessRunner().run([str(tmp_path / "smartctl"), "-a", "/dev/sda"])
    record = parse_result(result, SDA)
    assert record.state is ReadState.NO_SMARTCTL
    assert record.error is not None and "not found" in record.error


def test_parse_result_not_executable(tmp_path):
    exe = tmp_path / "smartctl"
    exe.write_text("#!/bin/sh\necho hi\n")
    exe.chmod(0o644)
    record = parse_result(SubprocessRunner().run([str(exe)]), SDA)
    assert record.state is ReadState.PERMISSION_DENIED


def test_parse_result_bad_output_mentions_stderr():
    script = "import sys; print('garbage'); print('smartctl: out of memory', file=sys.stderr)"
    record = parse_result(SubprocessRunner().run([sys.executable, "-c", script]), SDA)
    assert record.state is ReadState.BAD_OUTPUT
    assert record.error is not None and "stderr: smartctl: out of memory" in record.error


def test_parse_result_without_returncode_uses_recorded_exit():
    text = variant(64)
    result = RunResult(("smartctl",), None, text, "", 0.1)
    assert parse_result(result, SDA).exit_status.code == 64


# ---------------------------------------------------------------------------
# The installed smartctl, for real (no disks needed)


def _smartctl() -> str | None:
    import os
    import shutil

    return shutil.which("smartctl", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


needs_smartctl = pytest.mark.skipif(_smartctl() is None, reason="smartmontools is not installed")


@needs_smartctl
def test_real_smartctl_missing_disk_is_open_failed():
    smartctl = _smartctl()
    assert smartctl
    disk = DiskRef("/dev/maid-test-no-such-disk", "sat")
    record = parse_result(SubprocessRunner().run(read_argv(smartctl, disk)), disk)
    assert record.state is ReadState.OPEN_FAILED
    assert record.error is not None and "/dev/maid-test-no-such-disk" in record.error
    assert record.smartctl_version is not None


@needs_smartctl
def test_real_smartctl_unknown_type_is_bad_command_line():
    smartctl = _smartctl()
    assert smartctl
    disk = DiskRef("/dev/sda", "nosuchtype")
    record = parse_result(SubprocessRunner().run(read_argv(smartctl, disk)), disk)
    assert record.state is ReadState.BAD_COMMAND_LINE
    assert record.error is not None and "nosuchtype" in record.error


@needs_smartctl
def test_real_smartctl_version():
    smartctl = _smartctl()
    assert smartctl
    result = SubprocessRunner().run(version_argv(smartctl))
    assert parse_version(result.stdout) >= (7, 0)


@pytest.mark.parametrize(
    ("stdout", "version"),
    [
        ('{"json_format_version":[1,0],"smartctl":{"version":[7,3],"exit_status":0}}', (7, 3)),
        ("smartctl 6.6 2016-05-31 r4324 [x86_64-linux-4.9.0] (local build)\n", (6, 6)),
    ],
)
def test_parse_version(stdout, version):
    assert parse_version(stdout) == version


@pytest.mark.parametrize("stdout", ["", "garbage", '{"smartctl": {"version": "7.3"}}'])
def test_parse_version_garbage(stdout):
    with pytest.raises(ParseError):
        parse_version(stdout)


def test_standby_exit_constant_matches_parser():
    text = variant(STANDBY_EXIT, power_mode="STANDBY", strip=STANDBY_ONLY)
    assert parse_output(text, STANDBY_EXIT, SDA).state is ReadState.STANDBY


@pytest.mark.parametrize(
    ("support", "expected"),
    [
        ({"available": True, "enabled": True}, True),
        ({"available": True, "enabled": False}, False),
        ({"available": False}, False),
        ({"available": False, "enabled": False}, False),
        ({"available": True}, None),
        ({"available": "yes", "enabled": 1}, None),
        (None, None),
        ("Enabled", None),
    ],
)
def test_smart_enabled_from_info_output(support, expected):
    """check_smart_support reads ``-i`` output: SMART must be both available and enabled."""
    doc = json.loads(fixture("nvme/scrutiny__smartctl_info_nvme.json").read_text())
    if support is not None:
        doc["smart_support"] = support
    record = parse_output(json.dumps(doc), 0, DiskRef("/dev/nvme4", "nvme"))
    assert record.state is ReadState.OK
    assert record.identity is not None and record.identity.model == "KCD61LUL3T84"
    assert record.smart_enabled is expected
