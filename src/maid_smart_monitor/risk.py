"""A per-disk risk score: annualised failure rate (AFR) estimated from raw SMART values.

Pure. The tables are the Backblaze-derived figures Scrutiny publishes (see
GUIDE.md "Failure-rate facts"), one per attribute, combined by *maximum* (as
SnapRAID and Scrutiny do: the attributes are strongly correlated, so adding them
would double-count the same failing surface).

The published buckets have gaps (187 lists 1, 3-6 and 20-35). A value that falls
in a gap takes the bucket below it (the last one whose lower bound it reaches), so
the estimate never jumps up on a value nobody measured, and values above the last
bucket take the last bucket. An AFR above 100% means "expect more than one failure
per drive-year": the drive is failing.

NVMe and SCSI have no published table. The mapping used instead is documented in
``_mapped``: SCSI grown defects are remapped sectors (read with attribute 5's table),
SCSI uncorrected errors and NVMe media errors are uncorrectable reads (187's table).
NVMe ``critical_warning`` or spare below threshold are failures in their own right and
are left to the health verdict; a disk with nothing to map gets ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass

from maid_smart_monitor.health import counter_value
from maid_smart_monitor.model import SmartRecord

# attribute id -> (name, ((lower bound of bucket, AFR %), ...)) in increasing lower bound.
AFR_TABLES: dict[int, tuple[str, tuple[tuple[int, float], ...]]] = {
    5: (
        "Reallocated_Sector_Ct",
        ((0, 2.5), (1, 2.7), (4, 7.5), (16, 23.6), (70, 36.2), (260, 56.8)),
    ),
    10: ("Spin_Retry_Count", ((0, 5.5), (1, 55.6))),
    187: ("Reported_Uncorrect", ((0, 2.8), (1, 33.9), (3, 50.1), (20, 84.3))),
    197: (
        "Current_Pending_Sector",
        ((0, 2.6), (1, 34.2), (2, 68.2), (16, 95.7), (100, 251.0)),
    ),
    198: ("Offline_Uncorrectable", ((0, 2.9), (1, 81.4), (2, 112.0))),
}

SOURCE = "Backblaze failure data by raw value, as published with Scrutiny"


@dataclass(frozen=True)
class Risk:
    """An AFR estimate and the attribute that set it (the maximum)."""

    afr_percent: float
    basis: str  # human: which attribute, which value, which table
    attribute_id: int | None = None
    raw_value: int | None = None

    def as_dict(self) -> dict:
        return {
            "afr_percent": self.afr_percent,
            "basis": self.basis,
            "attribute_id": self.attribute_id,
            "raw_value": self.raw_value,
        }


def afr_for(attr_id: int, raw: int) -> float:
    """AFR % for one attribute's raw value, by the bucket whose lower bound ``raw`` reaches."""
    _, buckets = AFR_TABLES[attr_id]
    afr = buckets[0][1]
    for lower, value in buckets:
        if raw >= lower:
            afr = value
    return afr


def _best(candidates: list[tuple[float, int, int, str]]) -> Risk | None:
    if not candidates:
        return None
    afr, attr_id, raw, basis = max(candidates, key=lambda c: c[0])
    return Risk(afr_percent=afr, basis=basis, attribute_id=attr_id, raw_value=raw)


def _mapped(record: SmartRecord) -> list[tuple[float, int, int, str]]:
    out: list[tuple[float, int, int, str]] = []
    sc, nv = record.scsi, record.nvme
    if sc is not None and sc.grown_defects is not None:
        out.append(
            (
                afr_for(5, sc.grown_defects),
                5,
                sc.grown_defects,
                f"SCSI grown defects={sc.grown_defects}, read with attribute 5's table "
                f"(approximation; {SOURCE})",
            )
        )
    if sc is not None:
        parts = (sc.read_uncorrected, sc.write_uncorrected, sc.verify_uncorrected)
        known = [v for v in parts if v is not None]
        if known:
            total = sum(known)
            out.append(
                (
                    afr_for(187, total),
                    187,
                    total,
                    f"SCSI uncorrected errors={total}, read with attribute 187's table "
                    f"(approximation; {SOURCE})",
                )
            )
    if nv is not None and nv.media_errors is not None:
        out.append(
            (
                afr_for(187, nv.media_errors),
                187,
                nv.media_errors,
                f"NVMe media errors={nv.media_errors}, read with attribute 187's table "
                f"(approximation; {SOURCE})",
            )
        )
    return out


def estimate(record: SmartRecord) -> Risk | None:
    """AFR estimate for one good reading; ``None`` when nothing maps onto a table
    (standby or unreadable disk, an SSD reporting none of the attributes)."""
    if not record.ok:
        return None
    candidates: list[tuple[float, int, int, str]] = []
    for attr_id, (name, _) in AFR_TABLES.items():
        a = record.attribute(attr_id)
        if a is None:
            continue
        raw = counter_value(a, record.identity)
        afr = afr_for(attr_id, raw)
        candidates.append(
            (afr, attr_id, raw, f"{name} ({attr_id}) raw {raw} -> {afr:g}% AFR ({SOURCE})")
        )
    if not candidates:
        candidates = _mapped(record)
    return _best(candidates)
