"""ATA: the SMART attribute table (``ata_smart_attributes.table``).

Every row is kept, not only the tracked ones: the store keeps them all and health picks.
Seagate's packed raw values are left packed here; decoding them is health's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..attributes import FIRST_INTEGER_OF_STRING
from ..model import Attribute
from .values import as_dict, as_int, as_list, as_str, as_text, first_int


def parse_attributes(doc: Mapping[str, Any]) -> tuple[Attribute, ...]:
    """All well-formed rows of the attribute table, in smartctl's order."""
    table = as_list(as_dict(doc.get("ata_smart_attributes")).get("table"))
    out: list[Attribute] = []
    for row in table:
        attr = parse_attribute(row)
        if attr is not None:
            out.append(attr)
    return tuple(out)


def parse_attribute(row: object) -> Attribute | None:
    """One table row, or None when it has no usable id or raw number.

    ``raw_value`` is the number a person reads: for 9/190/194 the first integer of
    ``raw.string`` (``raw.value`` packs min/max temperatures or minutes into high bytes),
    otherwise ``raw.value``. ``raw_packed`` is always ``raw.value`` as reported.
    """
    if not isinstance(row, dict):
        return None
    attr_id = as_int(row.get("id"))
    if attr_id is None or not 0 < attr_id < 256:
        return None
    raw = as_dict(row.get("raw"))
    raw_string = as_text(raw.get("string"))
    packed = as_int(raw.get("value"))
    human_from_string = attr_id in FIRST_INTEGER_OF_STRING
    leading = first_int(raw_string) if (human_from_string or packed is None) else None
    if packed is None:
        packed = leading
        if packed is None:
            return None
    human = leading if human_from_string and leading is not None else packed
    flags = as_dict(row.get("flags"))
    return Attribute(
        id=attr_id,
        name=as_str(row.get("name")) or "Unknown_Attribute",
        value=as_int(row.get("value")),
        worst=as_int(row.get("worst")),
        thresh=as_int(row.get("thresh")),
        raw_value=human,
        raw_packed=packed,
        raw_string=raw_string,
        when_failed=as_text(row.get("when_failed")),
        prefailure=flags.get("prefailure") is True,
        flags=as_text(flags.get("string")),
    )


def ata_wwn(doc: Mapping[str, Any]) -> str | None:
    """``wwn`` {naa, oui, id} as the 16 hex digits smartctl and udev print: 0x5000c500a1b2c3d4."""
    wwn = as_dict(doc.get("wwn"))
    naa, oui, ident = as_int(wwn.get("naa")), as_int(wwn.get("oui")), as_int(wwn.get("id"))
    if naa is None or oui is None or ident is None:
        return None
    if not (0 <= naa < 1 << 4 and 0 <= oui < 1 << 24 and 0 <= ident < 1 << 36):
        return None
    return f"0x{naa:x}{oui:06x}{ident:09x}"
