"""The REST API (JSON), documented by ``openapi.py`` and served under ``/api``.

Handlers parse and check their parameters first (a bad one is a 400 naming it), then
ask the store's read-only views. Timestamps go out as ISO 8601 UTC (``...Z``).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from maid_smart_monitor import alerts as alerts_mod
from maid_smart_monitor.attributes import BY_ID, CRITICAL_IDS
from maid_smart_monitor.model import Alert, SmartRecord
from maid_smart_monitor.risk import estimate
from maid_smart_monitor.storage.base import utc_text
from maid_smart_monitor.web import fleet
from maid_smart_monitor.web.app import HTTPError, Request, Response

if TYPE_CHECKING:
    from maid_smart_monitor.web.app import App

ALERT_STATES = ("open", "resolved", "all")
DISK_SORTS = ("device", "state", "temperature", "reading_age", "alerts", "model")
DEFAULT_RANGE = 30 * 86400.0
MAX_POINTS = 5000
_DURATION = re.compile(r"^-?(\d+(?:\.\d+)?)([smhdwy])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 365 * 86400}


# ---------------------------------------------------------------------- parameters


def int_param(req: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not lo <= value <= hi:
        raise HTTPError(400, f"{name} must be an integer from {lo} to {hi}, not {raw!r}",
                        param=name)
    return value


def choice_param(req: Request, name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = req.arg(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise HTTPError(400, f"{name} must be one of {', '.join(choices)}, not {raw!r}",
                        param=name)
    return raw


def set_param(req: Request, name: str, choices: tuple[str, ...]) -> set[str] | None:
    """A comma-separated subset of ``choices`` (``state=critical,warning``)."""
    raw = req.arg(name)
    if raw is None or raw.strip() == "":
        return None
    picked = {p.strip() for p in raw.split(",") if p.strip()}
    bad = sorted(picked - set(choices))
    if bad:
        raise HTTPError(400, f"{name}: unknown value(s) {', '.join(bad)} "
                        f"(known: {', '.join(choices)})", param=name)
    return picked


def parse_time(text: str, now: float) -> float:
    """Epoch seconds from ISO 8601 (``2025-01-31``, ``2025-01-31T12:00:00Z``, with an
    offset or without one meaning UTC), epoch seconds, or a duration ago (``7d``,
    ``-12h``, ``90m``, ``1y``)."""
    t = text.strip()
    m = _DURATION.match(t)
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    if re.fullmatch(r"\d{9,11}(\.\d+)?", t):
        return float(t)
    iso = t[:-1] + "+00:00" if t.endswith(("Z", "z")) else t
    dt = datetime.fromisoformat(iso)  # ValueError on garbage
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def time_param(req: Request, name: str, default: float, now: float) -> float:
    raw = req.arg(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = parse_time(raw, now)
    except (ValueError, OverflowError):
        raise HTTPError(
            400,
            f"{name} must be an ISO 8601 time (2025-01-31T12:00:00Z), epoch seconds or a "
            f"duration ago (7d, 12h), not {raw!r}",
            param=name,
        ) from None
    if not 0 <= value < 253402300800:  # year 10000
        raise HTTPError(400, f"{name} is out of range: {raw!r}", param=name)
    return value


# ---------------------------------------------------------------------- shapes


def alert_dict(a: Alert) -> dict[str, Any]:
    return {
        "id": a.id,
        "disk_id": a.disk_id,
        "device": a.device,
        "rule_id": a.rule_id,
        "severity": a.severity.value,
        "message": a.message,
        "value": a.value,
        "first_seen": fleet.iso(a.first_seen),
        "last_seen": fleet.iso(a.last_seen),
        "resolved": a.resolved,
        "resolved_at": fleet.iso(a.resolved_at),
        "acknowledged": a.acknowledged,
        "ack_note": a.ack_note,
        "notify_count": a.notify_count,
        "last_notified": fleet.iso(a.last_notified),
    }


def attribute_dicts(record: SmartRecord) -> list[dict[str, Any]]:
    out = []
    for a in record.attributes:
        tracked = BY_ID.get(a.id)
        out.append({
            "id": a.id,
            "name": a.name,
            "value": a.value,
            "worst": a.worst,
            "thresh": a.thresh,
            "raw_value": a.raw_value,
            "raw_string": a.raw_string,
            "when_failed": a.when_failed or None,
            "criticality": tracked.criticality.value if tracked else None,
        })
    return out


def available_metrics(record: SmartRecord | None) -> list[str]:
    """History metric names that have data in the disk's newest reading."""
    names = ["temperature", "power_on_hours", "power_cycle_count"]
    if record is None:
        return names
    names += [f"attr:{a.id}" for a in record.attributes]
    for group, data in (("nvme", record.nvme), ("scsi", record.scsi)):
        if data is not None:
            names += [f"{group}.{k}" for k, v in asdict(data).items() if v is not None]
    return names


def chart_metrics(record: SmartRecord | None) -> list[str]:
    """The critical series the disk page charts next to temperature."""
    if record is None:
        return []
    present = {a.id for a in record.attributes}
    out = [f"attr:{i}" for i in sorted(CRITICAL_IDS) if i in present]
    if record.nvme is not None:
        nv = asdict(record.nvme)
        out += [f"nvme.{k}" for k in ("media_errors", "percentage_used", "available_spare",
                                      "critical_warning") if nv.get(k) is not None]
    if record.scsi is not None:
        sc = asdict(record.scsi)
        out += [f"scsi.{k}" for k in ("grown_defects", "read_uncorrected",
                                      "write_uncorrected", "verify_uncorrected")
                if sc.get(k) is not None]
    return out


def metric_label(metric: str) -> str:
    if metric == "temperature":
        return "Temperature (°C)"
    if metric.startswith("attr:"):
        attr_id = int(metric[5:])
        tracked = BY_ID.get(attr_id)
        return f"{tracked.name if tracked else 'Attribute'} ({attr_id})"
    return metric.replace("_", " ")


# ---------------------------------------------------------------------- queries


def fleet_views(app: App) -> list[fleet.DiskView]:
    return fleet.views(app.store().fleet_status(), app.clock(), app.stale_after)


def disk_view(app: App, disk_id: str) -> fleet.DiskView:
    found = app.store().fleet_status(disk_id)
    if not found:
        raise HTTPError(404, f"no disk with id {disk_id!r}")
    return fleet.view(found[0], app.clock(), app.stale_after)


def filter_views(
    items: list[fleet.DiskView],
    states: set[str] | None = None,
    powers: set[str] | None = None,
    q: str | None = None,
) -> list[fleet.DiskView]:
    out = items
    if states:
        out = [v for v in out if v.state in states]
    if powers:
        out = [v for v in out if v.power_state in powers]
    if q:
        needle = q.lower()
        out = [
            v for v in out
            if any(needle in (x or "").lower() for x in
                   (v.status.device, v.status.model, v.status.serial, v.status.disk_id,
                    v.status.wwn))
        ]
    return out


def sort_views(items: list[fleet.DiskView], key: str, descending: bool) -> list[fleet.DiskView]:
    def k(v: fleet.DiskView) -> tuple:
        st = v.status
        if key == "state":
            return (fleet.STATE_RANK[v.state], st.device)
        if key == "temperature":
            return (st.temperature is None, st.temperature or 0, st.device)
        if key == "reading_age":
            return (v.reading_age is None, v.reading_age or 0.0, st.device)
        if key == "alerts":
            return (-st.open_critical, -st.open_warning, st.device)
        if key == "model":
            return (st.model or "", st.device)
        return (st.device, st.disk_id)

    return sorted(items, key=k, reverse=descending)


def health_summary(app: App) -> dict[str, Any]:
    """The seed's ``/api/health``: total devices and devices with alerts, plus the
    fleet's states, power states and the last cycle."""
    store = app.store()
    items = fleet_views(app)
    states = fleet.count_states(items)
    with_alerts = sorted(
        ((v.status.device, v.status.open_alerts) for v in items if v.status.open_alerts),
        key=lambda x: x[0],
    )
    cycle = store.last_cycle()
    unidentified = sum(1 for r in store.latest_checks().values() if r["disk_id"] is None)
    status = "critical" if states["critical"] else "warning" if states["warning"] else "ok"
    return {
        "status": status,
        "generated_at": fleet.iso(fleet.utc_now_text(app.clock())),
        "total_devices": len(items),
        "devices_with_alerts": len(with_alerts),
        "alerts_by_device": [{"device": d, "alerts": n} for d, n in with_alerts],
        "states": states,
        "power_states": fleet.count_power(items),
        "open_alerts": {
            "warning": sum(v.status.open_warning for v in items),
            "critical": sum(v.status.open_critical for v in items),
        },
        "deliberate_wakes": sum(v.status.deliberate_wakes for v in items),
        "unidentified_devices": unidentified,
        "stale_after_seconds": app.stale_after,
        "last_cycle": None if cycle is None else {
            "id": cycle["id"],
            "started": fleet.iso(cycle["started"]),
            "finished": fleet.iso(cycle["finished"]),
            "duration_seconds": round(cycle["duration"], 3),
            "checks": cycle["counts"],
        },
    }


def history(
    app: App, disk_id: str, metric: str, since: float, until: float, points: int
) -> dict[str, Any]:
    """A downsampled series: at most ``points`` buckets (each min/mean/max/count)."""
    span = max(1.0, until - since)
    bucket = max(1, math.ceil(span / points))
    since_text, until_text = utc_text(since), utc_text(until)
    try:
        rows = app.store().history_buckets(disk_id, metric, since_text, until_text, bucket)
    except ValueError:
        raise HTTPError(
            400,
            f"unknown metric {metric!r}: use temperature, power_on_hours, power_cycle_count, "
            "attr:<id>, nvme.<field> or scsi.<field>",
            param="metric",
        ) from None
    return {
        "disk_id": disk_id,
        "metric": metric,
        "since": fleet.iso(since_text),
        "until": fleet.iso(until_text),
        "bucket_seconds": bucket,
        "downsampled": any(r[4] > 1 for r in rows),
        "count": sum(r[4] for r in rows),
        "points": [
            {"t": fleet.iso(t), "v": _num(avg), "min": _num(lo), "max": _num(hi), "n": n}
            for t, avg, lo, hi, n in rows
        ],
    }


def _num(x: Any) -> float | int | None:
    if x is None:
        return None
    if isinstance(x, float):
        return int(x) if x.is_integer() else round(x, 3)
    return x


# ---------------------------------------------------------------------- handlers


def register(app: App) -> None:
    def health(req: Request) -> Response:
        return Response.json(health_summary(app))

    def disks(req: Request) -> Response:
        states = set_param(req, "state", fleet.STATES)
        powers = set_param(req, "power", fleet.POWER_STATES)
        limit = int_param(req, "limit", 100, 1, 5000)
        offset = int_param(req, "offset", 0, 0, 10**9)
        sort = choice_param(req, "sort", "device", DISK_SORTS)
        order = choice_param(req, "order", "asc", ("asc", "desc"))
        q = req.arg("q")
        items = sort_views(filter_views(fleet_views(app), states, powers, q), sort,
                           order == "desc")
        page = items[offset:offset + limit]
        return Response.json({
            "total": len(items),
            "count": len(page),
            "limit": limit,
            "offset": offset,
            "items": [v.as_dict() for v in page],
        })

    def disk(req: Request) -> Response:
        v = disk_view(app, req.params["disk_id"])
        store = app.store()
        record = store.last_record(v.disk_id)
        doc = v.as_dict()
        risk = estimate(record) if record is not None else None
        doc.update({
            "attributes": attribute_dicts(record) if record is not None else [],
            "nvme": asdict(record.nvme) if record is not None and record.nvme else None,
            "scsi": asdict(record.scsi) if record is not None and record.scsi else None,
            "risk": risk.as_dict() if risk else None,
            "alerts": [alert_dict(a) for a in store.open_alerts(v.disk_id)],
            "metrics": available_metrics(record),
        })
        return Response.json(doc)

    def disk_history(req: Request) -> Response:
        disk_id = req.params["disk_id"]
        now = app.clock()
        metric = req.arg("metric") or "temperature"
        until = time_param(req, "until", now, now)
        since = time_param(req, "since", until - DEFAULT_RANGE, now)
        if since > until:
            raise HTTPError(400, "since is later than until", param="since")
        points = int_param(req, "points", 500, 1, MAX_POINTS)
        if not app.store().fleet_status(disk_id):
            raise HTTPError(404, f"no disk with id {disk_id!r}")
        return Response.json(history(app, disk_id, metric, since, until, points))

    def list_alerts(req: Request) -> Response:
        state = choice_param(req, "state", "open", ALERT_STATES)
        limit = int_param(req, "limit", 100, 1, 1000)
        offset = int_param(req, "offset", 0, 0, 10**9)
        disk_id = req.arg("disk_id") or None
        store = app.store()
        items = store.list_alerts(state=state, limit=limit, offset=offset, disk_id=disk_id)
        return Response.json({
            "total": store.count_alerts_where(state=state, disk_id=disk_id),
            "count": len(items),
            "limit": limit,
            "offset": offset,
            "state": state,
            "items": [alert_dict(a) for a in items],
        })

    def get_alert(req: Request) -> Response:
        alert_id = _alert_id(req)
        a = app.store().get_alert(alert_id)
        if a is None:
            raise HTTPError(404, f"no alert with id {alert_id}")
        return Response.json(alert_dict(a))

    def ack(req: Request) -> Response:
        app.check_token(req)
        alert_id = _alert_id(req)
        body = req.json()
        if not isinstance(body, dict):
            raise HTTPError(400, 'send a JSON object: {"note": "who acknowledges, and why"}')
        note = body.get("note")
        if not isinstance(note, str) or not note.strip():
            raise HTTPError(400, "note must be a non-empty string (who acknowledges, and why)",
                            param="note")
        if len(note) > 1000:
            raise HTTPError(400, "note is longer than 1000 characters", param="note")
        writer = app.writer()
        a = writer.get_alert(alert_id)
        if a is None:
            raise HTTPError(404, f"no alert with id {alert_id}")
        if a.resolved:
            raise HTTPError(409, f"alert {alert_id} is resolved; only open alerts can be "
                            "acknowledged")
        now = datetime.fromtimestamp(app.clock(), timezone.utc)
        if not alerts_mod.acknowledge(writer, alert_id, note, now=now):
            raise HTTPError(409, f"alert {alert_id} was resolved meanwhile")
        done = writer.get_alert(alert_id)
        assert done is not None
        return Response.json(alert_dict(done))

    def openapi(req: Request) -> Response:
        from maid_smart_monitor.web.openapi import document

        return Response.json(document())

    app.add("GET", "/api/health", health)
    app.add("GET", "/api/disks", disks)
    app.add("GET", "/api/disks/{disk_id}", disk)
    app.add("GET", "/api/disks/{disk_id}/history", disk_history)
    app.add("GET", "/api/alerts", list_alerts)
    app.add("GET", "/api/alerts/{alert_id}", get_alert)
    app.add("POST", "/api/alerts/{alert_id}/ack", ack)
    app.add("GET", "/api/openapi.json", openapi)


def _alert_id(req: Request) -> int:
    raw = req.params["alert_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise HTTPError(400, f"alert id must be a positive integer, not {raw!r}",
                        param="alert_id")
    return int(raw)

