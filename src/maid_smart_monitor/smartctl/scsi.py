"""SCSI/SAS: grown defects, error counter log, start-stop counters, and SCSI identity keys.

smartctl 7.3 renamed ``vendor``/``product``/``revision`` to ``scsi_vendor``/``scsi_product``/
``scsi_revision`` and added ``scsi_model_name``; both spellings are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model import ScsiHealth
from .values import as_dict, as_int, as_str

_NOTHING = ScsiHealth()


def parse_scsi(doc: Mapping[str, Any]) -> ScsiHealth | None:
    """The SCSI health counters present in ``doc``; None when there are none."""
    errors = as_dict(doc.get("scsi_error_counter_log"))
    read = as_dict(errors.get("read"))
    write = as_dict(errors.get("write"))
    verify = as_dict(errors.get("verify"))
    cycles = as_dict(doc.get("scsi_start_stop_cycle_counter"))
    health = ScsiHealth(
        grown_defects=as_int(doc.get("scsi_grown_defect_list")),
        read_uncorrected=as_int(read.get("total_uncorrected_errors")),
        write_uncorrected=as_int(write.get("total_uncorrected_errors")),
        verify_uncorrected=as_int(verify.get("total_uncorrected_errors")),
        read_corrected=as_int(read.get("total_errors_corrected")),
        write_corrected=as_int(write.get("total_errors_corrected")),
        verify_corrected=as_int(verify.get("total_errors_corrected")),
        start_stop_cycles=as_int(cycles.get("accumulated_start_stop_cycles")),
        start_stop_cycles_specified=as_int(
            cycles.get("specified_cycle_count_over_device_lifetime")
        ),
        load_unload_cycles=as_int(cycles.get("accumulated_load_unload_cycles")),
        load_unload_cycles_specified=as_int(
            cycles.get("specified_load_unload_count_over_device_lifetime")
        ),
    )
    return None if health == _NOTHING else health


def scsi_model(doc: Mapping[str, Any]) -> str | None:
    """``scsi_model_name`` (7.3+), else vendor and product joined as smartctl does."""
    name = as_str(doc.get("scsi_model_name"))
    if name:
        return name
    for vendor_key, product_key in (("scsi_vendor", "scsi_product"), ("vendor", "product")):
        parts = [p for p in (as_str(doc.get(vendor_key)), as_str(doc.get(product_key))) if p]
        if parts:
            return " ".join(parts)
    return None


def scsi_firmware(doc: Mapping[str, Any]) -> str | None:
    return as_str(doc.get("scsi_revision")) or as_str(doc.get("revision"))


def scsi_wwn(doc: Mapping[str, Any]) -> str | None:
    """The NAA logical unit id, the same number udev puts in ``/dev/disk/by-id/wwn-0x...``."""
    lu = as_str(doc.get("logical_unit_id"))
    if lu is None:
        return None
    lu = lu.lower()
    digits = lu[2:] if lu.startswith("0x") else lu
    if not digits or len(digits) > 32 or any(c not in "0123456789abcdef" for c in digits):
        return None
    return "0x" + digits
