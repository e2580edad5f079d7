"""Health rules, one table row per situation, on literal records."""

from __future__ import annotations

from dataclasses import replace

import pytest

from maid_smart_monitor.attributes import BY_ID
from maid_smart_monitor.health import (
    RULES,
    HealthConfig,
    counter_value,
    device_class,
    evaluate,
    rule,
    temperature_of,
    verdict,
)
from maid_smart_monitor.model import (
    Attribute,
    DiskRef,
    ExitStatus,
    Identity,
    NvmeHealth,
    Protocol,
    ReadState,
    ScsiHealth,
    Severity,
    SmartRecord,
)

W, C = Severity.WARNING, Severity.CRITICAL
DEV = DiskRef("/dev/sda", "sat")
HDD = Identity(model="WDC WD40EFRX", serial="X1", rotation_rate=5400, protocol=Protocol.ATA)
SEAGATE = Identity(model="ST3000DM001-1ER166", serial="Z1", rotation_rate=7200,
                   protocol=Protocol.ATA)


def attr(
    id: int, raw: int, *, value: int = 100, worst: int = 100, thresh: int = 0,
    raw_string: str | None = None, when_failed: str = "", packed: int | None = None,
) -> Attribute:
    name = BY_ID[id].name if id in BY_ID else f"Attr_{id}"
    return Attribute(
        id=id, name=name, value=value, worst=worst, thresh=thresh, raw_value=raw,
        raw_packed=raw if packed is None else packed,
        raw_string=str(raw) if raw_string is None else raw_string, when_failed=when_failed,
    )


def ata(*attrs: Attribute, identity: Identity = HDD, **kw) -> SmartRecord:
    kw.setdefault("smart_passed", True)
    return SmartRecord(DEV, ReadState.OK, identity=identity, attributes=attrs, **kw)


def rules(findings) -> dict[str, Severity]:
    return {f.rule_id: f.severity for f in findings}


# ---------------------------------------------------------------------------
# Critical counters: > 0 warning, growth critical


@pytest.mark.parametrize(
    ("attr_id", "rule_id"),
    [(5, "reallocated"), (10, "spin_retry"), (187, "reported_uncorrectable"),
     (196, "reallocation_events"), (197, "pending"), (198, "offline_uncorrectable")],
)
@pytest.mark.parametrize(
    ("before", "now", "expected"),
    [
        (None, 0, None),  # first reading, clean
        (None, 3, W),  # first reading, already bad
        (0, 0, None),
        (0, 2, C),  # started
        (2, 5, C),  # growing
        (5, 5, W),  # stopped growing: still there
        (5, 4, W),  # a pending sector was remapped (197 can shrink)
    ],
)
def test_critical_counter(attr_id, rule_id, before, now, expected):
    prev = None if before is None else ata(attr(attr_id, before))
    found = rules(evaluate(ata(attr(attr_id, now)), prev))
    assert found.get(rule_id) is expected
    assert set(found) <= {rule_id}


def test_counter_message_names_values():
    [f] = evaluate(ata(attr(197, 16)), ata(attr(197, 8)))
    assert (f.rule_id, f.severity, f.value, f.attribute_id) == ("pending", C, 16.0, 197)
    assert "from 8 to 16" in f.message


def test_counter_limits_are_configurable():
    cfg = HealthConfig(counter_warn_above=10, counter_increase_critical=False)
    assert evaluate(ata(attr(5, 10)), None, cfg) == []
    assert rules(evaluate(ata(attr(5, 12)), ata(attr(5, 10)), cfg)) == {"reallocated": W}
    strict = HealthConfig(counter_crit_above=100)
    assert rules(evaluate(ata(attr(197, 1640)), ata(attr(197, 1640)), strict)) == {"pending": C}


@pytest.mark.parametrize(
    ("before", "now", "expected"),
    [(None, 131, None), (131, 131, None), (131, 140, W), (0, 1, W)],
)
def test_crc_only_growth_matters(before, now, expected):
    prev = None if before is None else ata(attr(199, before))
    assert rules(evaluate(ata(attr(199, now)), prev)).get("crc_increase") is expected


# ---------------------------------------------------------------------------
# Decoding packed raw values


@pytest.mark.parametrize(
    ("a", "identity", "expected"),
    [
        # 188 as smartctl prints it for Seagate: three 16-bit words, count in the low word
        (attr(188, 5, raw_string="0 0 5", packed=5), SEAGATE, 5),
        (attr(188, 8590065666, raw_string="2 2 2"), SEAGATE, 2),
        (attr(188, 17180131332), SEAGATE, 4),  # "4 4 4" shown as one number
        (attr(188, 29), HDD, 29),  # Micron: a plain count
        # Seagate 1/7/195: error count in bits 32-47, operations below
        (attr(7, 387418648463), SEAGATE, 90),
        (attr(1, 220698288), SEAGATE, 0),
        (attr(195, 55687139), SEAGATE, 0),
        (attr(1, 786446), HDD, 786446),  # not Seagate: left alone
        # "2111 (12437 0)": smartctl's own human number is the first integer
        (attr(196, 53416508262463, raw_string="2111 (12437 0)"), None, 2111),
        (attr(5, 8), SEAGATE, 8),
        # hex raw formats are not mistaken for "first integer" 0
        (attr(5, 3, raw_string="0x000000000003"), HDD, 3),
    ],
)
def test_counter_value_decodes_packing(a, identity, expected):
    assert counter_value(a, identity) == expected


def test_seagate_packed_188_never_false_alarms():
    # The upper words change (another counter), the count in the low word does not.
    before = ata(attr(188, 5, raw_string="0 0 5", packed=5), identity=SEAGATE)
    now = ata(attr(188, (1 << 32) + (3 << 16) + 5, raw_string="1 3 5"), identity=SEAGATE)
    assert evaluate(now, before) == []
    grown = ata(attr(188, (1 << 32) + 7, raw_string="1 0 7"), identity=SEAGATE)
    assert rules(evaluate(grown, before)) == {"command_timeout": W}
    off = HealthConfig(command_timeout_increase=None)
    assert evaluate(grown, before, off) == []


def test_seagate_rate_attributes_never_judged_by_raw():
    rec = ata(attr(1, 220698288, value=119, thresh=6), attr(7, 387418648463, value=70, thresh=30),
              attr(195, 234151754, value=35, thresh=0), identity=SEAGATE)
    assert evaluate(rec, None) == []


# ---------------------------------------------------------------------------
# Vendor thresholds and overall status


def test_smart_failed_by_status_or_exit_bit():
    assert rules(evaluate(ata(smart_passed=False))) == {"smart_failed": C}
    failing_bit = ata(smart_passed=None, exit_status=ExitStatus(8))
    assert rules(evaluate(failing_bit)) == {"smart_failed": C}
    assert evaluate(ata(smart_passed=None)) == []  # absent is not failed


def test_attribute_at_threshold_now_and_in_the_past():
    now = ata(attr(5, 1975, value=1, worst=1, thresh=5, when_failed="now"))
    found = evaluate(now)
    assert rules(found) == {"attr_below_threshold": C, "reallocated": W}
    assert "value 1 <= threshold 5" in found[0].message
    past = ata(attr(3, 0, value=80, worst=20, thresh=21, when_failed="past"))
    assert rules(evaluate(past)) == {"attr_failed_past": W}
    # threshold 0 means "never fails"; a value of 0 with threshold 0 is fine
    assert evaluate(ata(attr(3, 0, value=0, thresh=0))) == []


def test_threshold_from_exit_bits_when_no_table():
    rec = ata(exit_status=ExitStatus(0b110000))
    assert rules(evaluate(rec)) == {"attr_below_threshold": C, "attr_failed_past": W}


def test_selftest_errors_from_exit_bit_7():
    assert rules(evaluate(ata(exit_status=ExitStatus(128)))) == {"selftest_errors": W}
    assert evaluate(ata(exit_status=ExitStatus(64))) == []  # error log entries: history


# ---------------------------------------------------------------------------
# Temperature per device class


@pytest.mark.parametrize(
    ("identity", "nvme", "temp", "expected_class", "expected"),
    [
        (HDD, None, 49, "hdd", None),
        (HDD, None, 50, "hdd", W),
        (HDD, None, 60, "hdd", C),
        (replace(HDD, rotation_rate=0), None, 65, "ssd", None),
        (replace(HDD, rotation_rate=0), None, 72, "ssd", W),
        (replace(HDD, rotation_rate=None), None, 55, "hdd", W),  # unknown: strict limits
        (Identity(model="N", serial="1", protocol=Protocol.NVME), NvmeHealth(), 61, "nvme", None),
        (Identity(model="N", serial="1", protocol=Protocol.NVME), NvmeHealth(), 81, "nvme", C),
    ],
)
def test_temperature(identity, nvme, temp, expected_class, expected):
    rec = SmartRecord(DEV, ReadState.OK, identity=identity, temperature=temp, nvme=nvme)
    assert device_class(rec) == expected_class
    assert rules(evaluate(rec)).get("temperature") is expected


def test_temperature_from_attribute_string_and_config():
    rec = ata(attr(194, 188979937315, raw_string="35 (Min/Max 21/44)"))
    assert temperature_of(rec) == 35
    cfg = HealthConfig(temp_warn_hdd=30, temp_crit_hdd=34)
    [f] = evaluate(rec, None, cfg)
    assert (f.rule_id, f.severity, f.value) == ("temperature", C, 35.0)
    assert "35 °C" in f.message and "34 °C" in f.message


@pytest.mark.parametrize(
    ("temp", "active", "expected"),
    [(49, False, None), (49, True, W), (48, True, None), (50, False, W), (61, True, C)],
)
def test_temperature_hysteresis_holds_an_open_alert(temp, active, expected):
    rec = ata(attr(194, temp, raw_string=str(temp)))
    found = evaluate(rec, None, active={"temperature"} if active else ())
    assert rules(found).get("temperature") is expected
    if expected and temp < 50:
        assert "clears at 48 °C" in found[0].message
    assert evaluate(rec, None, HealthConfig(temp_hysteresis=0), active={"temperature"}) == (
        [] if temp < 50 else evaluate(rec, None))


def test_config_rejects_inverted_limits_and_parses_text():
    with pytest.raises(ValueError, match="temp_warn_ssd"):
        HealthConfig(temp_warn_ssd=90, temp_crit_ssd=80)
    cfg = HealthConfig.from_strings(
        {"temp_warn_hdd": "45", "counter_crit_above": "none", "crc_increase_warning": "no"}
    )
    got = (cfg.temp_warn_hdd, cfg.counter_crit_above, cfg.crc_increase_warning)
    assert got == (45, None, False)
    with pytest.raises(ValueError, match="temp_crit_hdd"):
        HealthConfig.from_strings({"temp_crit_hdd": "hot"})
    with pytest.raises(ValueError, match="bogus"):
        HealthConfig.from_strings({"bogus": "1"})


# ---------------------------------------------------------------------------
# NVMe and SCSI


def nvme(prev: NvmeHealth | None = None, **kw) -> tuple[SmartRecord, SmartRecord | None]:
    ident = Identity(model="Samsung SSD 970", serial="S1", protocol=Protocol.NVME)
    rec = SmartRecord(DEV, ReadState.OK, identity=ident, smart_passed=True, nvme=NvmeHealth(**kw))
    before = None if prev is None else replace(rec, nvme=prev)
    return rec, before


@pytest.mark.parametrize(
    ("kw", "prev", "expected"),
    [
        ({"critical_warning": 16}, None, {"nvme_critical_warning": C}),
        ({"critical_warning": 0x04}, None, {"nvme_critical_warning": C}),
        ({"media_errors": 7}, None, {"nvme_media_errors": W}),
        ({"media_errors": 9}, NvmeHealth(media_errors=7), {"nvme_media_errors": C}),
        ({"available_spare": 9, "available_spare_threshold": 10}, None, {"nvme_spare": C}),
        ({"available_spare": 0, "available_spare_threshold": 0}, None, {}),  # QEMU: strict
        ({"percentage_used": 89}, None, {}),
        ({"percentage_used": 90}, None, {"nvme_wear": W}),
        ({"percentage_used": 104}, None, {"nvme_wear": C}),
    ],
)
def test_nvme_rules(kw, prev, expected):
    rec, before = nvme(prev, **kw)
    assert rules(evaluate(rec, before)) == expected


def test_nvme_critical_warning_message_names_bits():
    rec, _ = nvme(critical_warning=0x11)
    [f] = evaluate(rec)
    assert "available spare below threshold" in f.message
    assert "volatile memory backup device failed" in f.message


@pytest.mark.parametrize(
    ("now", "prev", "expected"),
    [
        (ScsiHealth(grown_defects=0, read_uncorrected=0, write_uncorrected=0), None, {}),
        (ScsiHealth(grown_defects=56), None, {"scsi_grown_defects": W}),
        (ScsiHealth(grown_defects=60), ScsiHealth(grown_defects=56), {"scsi_grown_defects": C}),
        (ScsiHealth(read_uncorrected=1, write_uncorrected=535), None, {"scsi_uncorrected": W}),
        (ScsiHealth(read_uncorrected=2), ScsiHealth(read_uncorrected=1), {"scsi_uncorrected": C}),
    ],
)
def test_scsi_rules(now, prev, expected):
    ident = Identity(model="ST4000NM0043", serial="Z", protocol=Protocol.SCSI)
    rec = SmartRecord(DEV, ReadState.OK, identity=ident, smart_passed=True, scsi=now)
    before = None if prev is None else replace(rec, scsi=prev)
    assert rules(evaluate(rec, before)) == expected


# ---------------------------------------------------------------------------
# What is not judged


@pytest.mark.parametrize("state", [s for s in ReadState if s is not ReadState.OK])
def test_only_ok_readings_are_judged(state):
    bad = SmartRecord(DEV, state, identity=HDD, smart_passed=False,
                      exit_status=ExitStatus(2), attributes=(attr(5, 100),))
    assert evaluate(bad, None) == []


def test_a_standby_previous_reading_is_not_a_baseline():
    standby = SmartRecord(DEV, ReadState.STANDBY, power_mode="STANDBY")
    # With no usable baseline, 8 reallocated sectors is a warning, not "grew from nothing".
    assert rules(evaluate(ata(attr(5, 8)), standby)) == {"reallocated": W}


def test_one_finding_per_rule_most_severe_first_and_verdict():
    rec = ata(attr(5, 9), attr(197, 3), attr(194, 61, raw_string="61"), smart_passed=False)
    found = evaluate(rec, ata(attr(5, 9), attr(197, 1)))
    ids = [f.rule_id for f in found]
    assert len(ids) == len(set(ids))
    assert [f.severity for f in found] == sorted((f.severity for f in found),
                                                 key=lambda s: -s.rank)
    assert rules(found) == {"smart_failed": C, "pending": C, "temperature": C, "reallocated": W}
    assert verdict(found) == "critical"
    assert verdict([f for f in found if f.severity is W]) == "warning"
    assert verdict([]) == "healthy"


def test_every_rule_id_is_registered_once():
    assert set(RULES) == {
        "smart_failed", "attr_below_threshold", "attr_failed_past", "reallocated",
        "spin_retry", "reported_uncorrectable", "reallocation_events", "pending",
        "offline_uncorrectable", "crc_increase", "command_timeout", "temperature",
        "nvme_critical_warning", "nvme_media_errors", "nvme_spare", "nvme_wear",
        "scsi_grown_defects", "scsi_uncorrected", "selftest_errors",
    }
    before = dict(RULES)
    with pytest.raises(ValueError, match="'pending' is registered twice"):
        rule("pending")(lambda ctx: ())
    assert before == RULES  # the first registration is kept, not silently replaced
