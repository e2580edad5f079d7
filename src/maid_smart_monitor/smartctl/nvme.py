"""NVMe: the SMART / health information log (``nvme_smart_health_information_log``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from ..model import NvmeHealth
from .values import as_int

_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(NvmeHealth))


def parse_nvme(doc: Mapping[str, Any]) -> NvmeHealth | None:
    """The health log with every field smartctl gave; None when the log is absent or empty.

    The JSON keys are the field names of ``NvmeHealth`` (smartctl's own names).
    """
    log = doc.get("nvme_smart_health_information_log")
    if not isinstance(log, dict):
        return None
    values = {name: as_int(log.get(name)) for name in _FIELDS}
    if all(v is None for v in values.values()):
        return None
    if values["critical_warning"] is None:
        values["critical_warning"] = 0
    return NvmeHealth(**values)
