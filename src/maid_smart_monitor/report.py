"""The seed's "health report": critical issues per disk, for the terminal and as JSON.

Rendering is pure (entries in, text out). ``entries_from_store`` gathers the entries
from a store: the *open alerts* are the findings (they carry what a single reading
cannot, such as "grew since last time"), the last good reading gives the risk.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from maid_smart_monitor.health import Verdict, verdict
from maid_smart_monitor.model import Alert, Finding, SmartRecord
from maid_smart_monitor.risk import Risk, estimate


@dataclass(frozen=True)
class DiskReport:
    """One disk's line in the report."""

    device: str
    disk_id: str
    model: str | None
    serial: str | None
    findings: tuple[Finding, ...] = ()
    risk: Risk | None = None
    last_reading: str | None = None  # UTC text of the last good reading, None if never read

    @property
    def verdict(self) -> Verdict:
        return verdict(self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "disk_id": self.disk_id,
            "model": self.model,
            "serial": self.serial,
            "verdict": self.verdict,
            "last_reading": self.last_reading,
            "risk": self.risk.as_dict() if self.risk else None,
            "findings": [
                {
                    "rule_id": f.rule_id,
                    "severity": f.severity.value,
                    "message": f.message,
                    "value": f.value,
                    "attribute_id": f.attribute_id,
                }
                for f in self.findings
            ],
        }


_ORDER = {"critical": 0, "warning": 1, "healthy": 2}


def sort_entries(entries: Iterable[DiskReport]) -> list[DiskReport]:
    """Worst first: verdict, then estimated risk, then device name."""
    return sorted(
        entries,
        key=lambda e: (_ORDER[e.verdict], -(e.risk.afr_percent if e.risk else 0.0), e.device),
    )


def counts(entries: Sequence[DiskReport]) -> dict[str, int]:
    out = {"total": len(entries), "critical": 0, "warning": 0, "healthy": 0}
    for e in entries:
        out[e.verdict] += 1
    return out


def _fmt_value(v: float | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def render_text(entries: Sequence[DiskReport], *, show_healthy: bool = False) -> str:
    """The terminal report: a count line, then each disk with issues and its findings."""
    ordered = sort_entries(entries)
    c = counts(ordered)
    lines = [
        "MAID SMART Health Report",
        f"Total devices: {c['total']} (critical: {c['critical']}, warning: {c['warning']}, "
        f"healthy: {c['healthy']})",
    ]
    troubled = [e for e in ordered if e.verdict != "healthy"]
    if not troubled:
        lines.append("No issues found.")
    else:
        lines.append("")
        lines.append("Critical Issues Found:" if c["critical"] else "Issues Found:")
    for e in troubled if not show_healthy else ordered:
        who = " ".join(p for p in (e.model, f"s/n {e.serial}" if e.serial else None) if p)
        risk = f", risk {e.risk.afr_percent:g}% AFR" if e.risk else ""
        seen = f", last read {e.last_reading} UTC" if e.last_reading else ", never read"
        lines.append(f"  {e.device} [{e.verdict.upper()}] {who}{risk}{seen}".rstrip())
        for f in e.findings:
            val = _fmt_value(f.value)
            lines.append(
                f"    - {f.severity.value:<8} {f.rule_id}: {f.message}"
                + (f" (value {val})" if val and val not in f.message else "")
            )
        if e.risk and e.findings:
            lines.append(f"      risk basis: {e.risk.basis}")
    return "\n".join(lines)


def render_json(entries: Sequence[DiskReport], *, generated_at: str | None = None) -> str:
    ordered = sort_entries(entries)
    doc = {
        "generated_at": generated_at,
        "summary": counts(ordered),
        "disks": [e.as_dict() for e in ordered],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


# ---------------------------------------------------------------------------
# Gathering from a store


class ReportStore(Protocol):
    def latest(self) -> list[Any]: ...  # DiskStatus rows

    def open_alerts(self, disk_id: str | None = None) -> list[Alert]: ...

    def last_record(self, disk_id: str) -> SmartRecord | None: ...


def alert_finding(a: Alert) -> Finding:
    return Finding(a.rule_id, a.severity, a.message, a.value)


def entries_from_store(store: ReportStore) -> list[DiskReport]:
    """One entry per known disk: open alerts as findings, risk from the last good reading."""
    by_disk: dict[str, list[Alert]] = {}
    for a in store.open_alerts():
        by_disk.setdefault(a.disk_id, []).append(a)
    out: list[DiskReport] = []
    for st in store.latest():
        record = store.last_record(st.disk_id)
        alerts = sorted(by_disk.get(st.disk_id, []), key=lambda a: (-a.severity.rank, a.rule_id))
        out.append(
            DiskReport(
                device=st.device,
                disk_id=st.disk_id,
                model=st.model,
                serial=st.serial,
                findings=tuple(alert_finding(a) for a in alerts),
                risk=estimate(record) if record is not None else None,
                last_reading=st.last_read,
            )
        )
    return out


def health_report(source: Any, *, as_json: bool = False, generated_at: str | None = None) -> str:
    """The ``--report [--json]`` text for a store, or for anything with a ``.store``."""
    store = getattr(source, "store", source)
    entries = entries_from_store(store)
    return render_json(entries, generated_at=generated_at) if as_json else render_text(entries)
