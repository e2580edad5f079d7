"""Risk score: Backblaze-derived AFR by raw value, combined by maximum."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conftest import record_from
from maid_smart_monitor.model import (
    Attribute,
    DiskRef,
    Identity,
    NvmeHealth,
    Protocol,
    ReadState,
    ScsiHealth,
    SmartRecord,
)
from maid_smart_monitor.risk import AFR_TABLES, afr_for, estimate

DEV = DiskRef("/dev/sda", "sat")


def ata(**raws: int) -> SmartRecord:
    attrs = tuple(
        Attribute(id=int(k[1:]), name=k, value=100, worst=100, thresh=0, raw_value=v,
                  raw_packed=v, raw_string=str(v))
        for k, v in raws.items()
    )
    ident = Identity(model="WDC WD40EFRX", serial="1", protocol=Protocol.ATA)
    return SmartRecord(DEV, ReadState.OK, identity=ident, attributes=attrs)


@pytest.mark.parametrize(
    ("attr_id", "raw", "afr"),
    [
        # GUIDE.md table, bucket by bucket
        (5, 0, 2.5), (5, 1, 2.7), (5, 3, 2.7), (5, 4, 7.5), (5, 15, 7.5), (5, 16, 23.6),
        (5, 70, 36.2), (5, 259, 36.2), (5, 260, 56.8), (5, 5000, 56.8),
        (187, 0, 2.8), (187, 1, 33.9), (187, 2, 33.9), (187, 3, 50.1), (187, 19, 50.1),
        (187, 20, 84.3), (187, 400, 84.3),
        (197, 0, 2.6), (197, 1, 34.2), (197, 2, 68.2), (197, 16, 95.7), (197, 100, 251.0),
        (197, 1640, 251.0),
        (198, 0, 2.9), (198, 1, 81.4), (198, 2, 112.0), (198, 50, 112.0),
        (10, 0, 5.5), (10, 1, 55.6),
    ],
)
def test_afr_buckets(attr_id, raw, afr):
    assert afr_for(attr_id, raw) == afr


def test_tables_are_ordered():
    for _, buckets in AFR_TABLES.values():
        bounds = [b for b, _ in buckets]
        assert bounds == sorted(bounds) and bounds[0] == 0


def test_combined_by_maximum_with_the_contributing_attribute():
    r = estimate(ata(a5=8, a187=0, a197=1, a198=0))
    assert r is not None
    assert (r.afr_percent, r.attribute_id, r.raw_value) == (34.2, 197, 1)
    assert "Current_Pending_Sector" in r.basis and "Backblaze" in r.basis


def test_recordings():
    failing = estimate(record_from("ata/plasma-disks__failing-sectors-passing-status.json"))
    assert failing is not None and (failing.afr_percent, failing.attribute_id) == (251.0, 197)
    broken = estimate(record_from("sat-usb/plasma-disks__broken.json"))
    assert broken is not None and (broken.afr_percent, broken.attribute_id) == (68.2, 197)
    healthy = estimate(record_from("ata/smartctl_exporter__WDC_WD20EFRX-68EUZN0_17.json"))
    assert healthy is not None and healthy.afr_percent <= 5.5
    # Seagate 187 is read from its low 16 bits; the packed 188 plays no part
    seagate = record_from(
        "ata/smartctl_exporter__sat-Seagate_Constellation_ES.3-ST3000NM0033-9ZM178-sdc.json")
    s = estimate(seagate)
    assert s is not None and s.afr_percent == 5.5  # Spin_Retry_Count 0 dominates 5 = 1


def test_nvme_and_scsi_mapping():
    nv = SmartRecord(DEV, ReadState.OK, identity=Identity(protocol=Protocol.NVME),
                     nvme=NvmeHealth(media_errors=7))
    r = estimate(nv)
    assert r is not None and r.afr_percent == 50.1 and "NVMe media errors" in r.basis
    sc = SmartRecord(DEV, ReadState.OK, identity=Identity(protocol=Protocol.SCSI),
                     scsi=ScsiHealth(grown_defects=260, read_uncorrected=0,
                                     write_uncorrected=0))
    r = estimate(sc)
    assert r is not None and (r.afr_percent, r.attribute_id) == (56.8, 5)
    assert estimate(replace(nv, nvme=NvmeHealth())) is None  # nothing to map
    assert estimate(record_from("scsi/smartctl_exporter__SEAGATE_ST373453LC_26.json")) \
        .afr_percent == 84.3  # 536 uncorrected errors, read with 187's table


def test_no_risk_without_a_good_reading():
    assert estimate(record_from("standby/smartctl_exporter-pr327__standby-sdc.json")) is None
    assert estimate(replace(ata(a5=100), state=ReadState.TIMEOUT)) is None
