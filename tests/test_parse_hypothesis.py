"""Fuzzing the parser: whatever smartctl (or a broken pipe) prints, the daemon gets a record.

``parse_output`` must never raise, and must return either BAD_OUTPUT with an error line or a
record whose fields have the promised types. Below it, ``build_record`` may raise only
``ParseError``: anything else would mean a reader that does not tolerate a wrong type.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maid_smart_monitor.model import (
    Attribute,
    DiskRef,
    ExitStatus,
    Identity,
    NvmeHealth,
    Protocol,
    ReadState,
    ScsiHealth,
    SmartRecord,
)
from maid_smart_monitor.smartctl.parse import ParseError, build_record, parse_output

FIXTURES = Path(__file__).parent / "fixtures" / "smartctl"
RECORDINGS = {
    str(p.relative_to(FIXTURES)): p.read_text()
    for p in sorted(FIXTURES.glob("*/*.json"))
    if p.parent.name != "scan"
}
NAMES = sorted(RECORDINGS)
DOCS = {name: json.loads(text) for name, text in RECORDINGS.items()}
OK_NAMES = [
    n
    for n in NAMES
    if DOCS[n].get("smartctl", {}).get("exit_status", 0) & 0b111 == 0
    and DOCS[n].get("json_format_version", [1])[0] == 1
]
DISK = DiskRef("/dev/sda", "sat", block="sda")

# MAID_FUZZ_EXAMPLES=5000 for a long local run; the default keeps the suite fast.
FUZZ = settings(
    max_examples=int(os.environ.get("MAID_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
exit_codes = st.none() | st.integers(min_value=-300, max_value=300)


def _optional_int(value: object) -> bool:
    return value is None or type(value) is int


def assert_valid(record: SmartRecord) -> None:
    """The record is what the rest of the program is promised, whatever went in."""
    assert isinstance(record, SmartRecord)
    assert isinstance(record.state, ReadState)
    assert isinstance(record.exit_status, ExitStatus)
    assert 0 <= record.exit_status.code <= 255
    assert all(isinstance(m, str) for m in record.messages)
    assert record.error is None or (isinstance(record.error, str) and "\n" not in record.error)
    if record.state is ReadState.BAD_OUTPUT:
        assert record.error
        assert not record.error.startswith("internal parser error"), record.error
    if record.state is not ReadState.OK:
        assert record.smart_passed is None  # an unusable reading never says "failed"
        assert record.attributes == () and record.nvme is None and record.scsi is None
    if record.state not in (ReadState.OK, ReadState.STANDBY):
        assert record.error
    assert record.smart_passed in (None, True, False)
    assert record.power_check_supported in (None, True, False)
    assert record.smart_enabled in (None, True, False)
    for value in (record.temperature, record.power_on_hours, record.power_cycle_count):
        assert _optional_int(value)
    assert record.power_mode is None or isinstance(record.power_mode, str)
    if record.identity is not None:
        ident = record.identity
        assert isinstance(ident, Identity) and isinstance(ident.protocol, Protocol)
        for text in (ident.model, ident.serial, ident.wwn, ident.firmware, ident.form_factor):
            assert text is None or (isinstance(text, str) and text == text.strip() and text)
        assert _optional_int(ident.capacity_bytes) and _optional_int(ident.rotation_rate)
        if ident.wwn is not None:
            assert ident.wwn.startswith("0x") and int(ident.wwn, 16) >= 0
        assert ident.disk_id is None or isinstance(ident.disk_id, str)
    for attr in record.attributes:
        assert isinstance(attr, Attribute)
        assert type(attr.id) is int and 1 <= attr.id <= 255
        assert type(attr.raw_value) is int and type(attr.raw_packed) is int
        assert isinstance(attr.name, str) and attr.name
        assert isinstance(attr.raw_string, str) and isinstance(attr.flags, str)
        assert isinstance(attr.when_failed, str) and isinstance(attr.prefailure, bool)
        for v in (attr.value, attr.worst, attr.thresh):
            assert _optional_int(v)
    if record.nvme is not None:
        assert isinstance(record.nvme, NvmeHealth)
        assert type(record.nvme.critical_warning) is int
        assert all(_optional_int(v) for v in vars(record.nvme).values())
    if record.scsi is not None:
        assert isinstance(record.scsi, ScsiHealth)
        assert all(_optional_int(v) for v in vars(record.scsi).values())


def build_only_parse_error(doc: Any, code: int | None) -> None:
    with contextlib.suppress(ParseError):
        build_record(doc, code, DISK)


# ---------------------------------------------------------------------------


@FUZZ
@given(text=st.text(max_size=400), code=exit_codes)
def test_random_text(text: str, code: int | None):
    record = parse_output(text, code, DISK)
    assert_valid(record)
    stripped = text.strip()
    if not stripped.startswith("{"):
        assert record.state is ReadState.BAD_OUTPUT


@FUZZ
@given(value=json_values, code=exit_codes)
def test_random_json(value: Any, code: int | None):
    record = parse_output(json.dumps(value), code, DISK)
    assert_valid(record)
    if not isinstance(value, dict):
        assert record.state is ReadState.BAD_OUTPUT
    else:
        build_only_parse_error(value, code)


SMARTCTL_KEYS = [
    "smartctl",
    "device",
    "model_name",
    "serial_number",
    "wwn",
    "firmware_version",
    "user_capacity",
    "rotation_rate",
    "form_factor",
    "smart_status",
    "temperature",
    "power_on_time",
    "power_cycle_count",
    "power_mode",
    "ata_smart_attributes",
    "nvme_smart_health_information_log",
    "nvme_total_capacity",
    "scsi_grown_defect_list",
    "scsi_error_counter_log",
    "scsi_start_stop_cycle_counter",
    "scsi_model_name",
    "scsi_vendor",
    "scsi_product",
    "scsi_revision",
    "vendor",
    "product",
    "revision",
    "logical_unit_id",
    "smart_support",
]
attribute_rows = st.fixed_dictionaries(
    {},
    optional={
        "id": json_scalars,
        "name": json_scalars,
        "value": json_scalars,
        "worst": json_scalars,
        "thresh": json_scalars,
        "when_failed": json_scalars,
        "flags": st.fixed_dictionaries(
            {}, optional={"prefailure": json_scalars, "string": json_scalars}
        ),
        "raw": st.fixed_dictionaries({}, optional={"value": json_scalars, "string": json_scalars}),
    },
)
smartctl_like = st.fixed_dictionaries(
    {"json_format_version": st.just([1, 0]) | json_values},
    optional={
        **{key: json_values for key in SMARTCTL_KEYS},
        "ata_smart_attributes": st.fixed_dictionaries(
            {"table": st.lists(attribute_rows, max_size=6)}
        ),
        "smartctl": st.fixed_dictionaries(
            {},
            optional={
                "exit_status": json_scalars,
                "version": json_values,
                "messages": st.lists(
                    st.fixed_dictionaries(
                        {"string": st.text(max_size=40) | json_scalars},
                        optional={"severity": json_scalars},
                    ),
                    max_size=3,
                ),
            },
        ),
        "power_mode": st.fixed_dictionaries({"name": json_scalars}),
        "wwn": st.fixed_dictionaries(
            {"naa": json_scalars, "oui": json_scalars, "id": json_scalars}
        ),
    },
)


@FUZZ
@given(doc=smartctl_like, code=exit_codes)
def test_smartctl_shaped_documents_with_random_values(doc: dict[str, Any], code: int | None):
    record = parse_output(json.dumps(doc), code, DISK)
    assert_valid(record)
    build_only_parse_error(doc, code)


def _mutate(data: st.DataObject, value: Any, depth: int = 0) -> Any:
    """Replace, delete or descend into one randomly chosen place of a JSON value."""
    action = data.draw(st.sampled_from(["replace", "descend", "delete"] if depth else ["descend"]))
    if action == "replace" or not isinstance(value, (dict, list)) or not value:
        return data.draw(json_values)
    if isinstance(value, dict):
        key = data.draw(st.sampled_from(sorted(value)))
        if action == "delete":
            return {k: v for k, v in value.items() if k != key}
        return {**value, key: _mutate(data, value[key], depth + 1)}
    index = data.draw(st.integers(0, len(value) - 1))
    if action == "delete":
        return value[:index] + value[index + 1 :]
    return value[:index] + [_mutate(data, value[index], depth + 1)] + value[index + 1 :]


@FUZZ
@given(name=st.sampled_from(NAMES), data=st.data(), code=exit_codes)
def test_mutated_recordings(name: str, data: st.DataObject, code: int | None):
    doc = DOCS[name]
    for _ in range(data.draw(st.integers(1, 4))):
        doc = _mutate(data, doc)
    record = parse_output(json.dumps(doc), code, DISK)
    assert_valid(record)
    build_only_parse_error(doc, code)


@FUZZ
@given(name=st.sampled_from(NAMES), data=st.data())
def test_truncated_recordings(name: str, data: st.DataObject):
    text = RECORDINGS[name]
    cut = data.draw(st.integers(0, len(text)))
    record = parse_output(text[:cut], 0, DISK)
    assert_valid(record)
    if text[:cut].strip() != text.strip():
        assert record.state is ReadState.BAD_OUTPUT
        assert record.error and ("truncated" in record.error or "nothing" in record.error)


@FUZZ
@given(name=st.sampled_from(OK_NAMES), health_bits=st.integers(0, 31))
def test_health_bits_never_turn_a_reading_into_an_error(name: str, health_bits: int):
    """Bits 3-7 describe the disk, not the read: the reading stays OK with the same data."""
    text = RECORDINGS[name]
    base_code = DOCS[name].get("smartctl", {}).get("exit_status", 0)
    plain = parse_output(text, base_code & 0b111, DISK)
    flagged = parse_output(text, (base_code & 0b111) | health_bits << 3, DISK)
    assert plain.state is flagged.state
    assert_valid(flagged)
    assert (flagged.attributes, flagged.nvme, flagged.scsi, flagged.smart_passed) == (
        plain.attributes,
        plain.nvme,
        plain.scsi,
        plain.smart_passed,
    )


@FUZZ
@given(name=st.sampled_from(NAMES), code=exit_codes)
def test_any_exit_code_on_real_recordings(name: str, code: int | None):
    record = parse_output(RECORDINGS[name], code, DISK)
    assert_valid(record)
    if code is not None and (code < 0 or code > 255):
        assert record.state is ReadState.BAD_OUTPUT


@FUZZ
@given(
    temperature=st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    hours=json_scalars,
)
def test_numbers_in_strange_clothes(temperature: Any, hours: Any):
    doc = json.loads(RECORDINGS[OK_NAMES[0]])
    doc["temperature"] = {"current": temperature}
    doc["power_on_time"] = {"hours": hours}
    record = parse_output(json.dumps(doc), 0, DISK)
    assert_valid(record)
    if isinstance(temperature, float) and math.isfinite(temperature):
        assert record.temperature == in_int64(int(temperature))
    if isinstance(temperature, str):
        stripped = temperature.strip()
        digits = stripped[1:] if stripped[:1] in "+-" else stripped
        if digits.isdigit() and digits.isascii() and len(digits) <= 40:
            assert record.temperature == in_int64(int(stripped))


def in_int64(value: int) -> int | None:
    """What the parser keeps of an integer: beyond 64 bits no disk counts, nothing stores."""
    return value if -(2**63) <= value < 2**63 else None


def test_fuzz_corpus_is_real():
    assert len(NAMES) >= 200 and len(OK_NAMES) >= 190
