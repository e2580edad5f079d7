"""The dashboard: server-rendered HTML pages with inline SVG charts.

Pages work without JavaScript (filters and ranges are links and query parameters);
``static/app.js`` adds live filtering, sorting and the acknowledge button. Charts are
drawn here from the same downsampled series the API serves, so a year of history is a
few hundred points whatever the reading rate. Everything put into HTML is escaped.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from maid_smart_monitor import health
from maid_smart_monitor.attributes import BY_ID
from maid_smart_monitor.risk import estimate
from maid_smart_monitor.web import api, fleet
from maid_smart_monitor.web.app import HTTPError, Request, Response

if TYPE_CHECKING:
    from maid_smart_monitor.web.app import App

RANGES: dict[str, tuple[str, float]] = {
    "24h": ("24 hours", 86400.0),
    "7d": ("7 days", 7 * 86400.0),
    "30d": ("30 days", 30 * 86400.0),
    "90d": ("90 days", 90 * 86400.0),
    "1y": ("1 year", 365 * 86400.0),
}
DEFAULT_RANGE = "30d"
CHART_POINTS = 360


def h(value: Any) -> str:
    return "" if value is None else escape(str(value), quote=True)


def disk_url(disk_id: str, **query: str) -> str:
    url = "/disks/" + quote(disk_id, safe="")
    return url + ("?" + urlencode(query) if query else "")


def layout(app: App, title: str, body: str, active: str = "") -> str:
    def nav(href: str, label: str, key: str) -> str:
        cls = ' class="active"' if key == active else ""
        return f'<a href="{href}"{cls}>{label}</a>'

    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{h(title)} · MAID SMART</title>"
        '<link rel="icon" href="data:,">'
        f'<link rel="stylesheet" href="{app.static.url("app.css")}">'
        f'<script src="{app.static.url("app.js")}" defer></script>'
        "</head><body>"
        '<header class="top"><span class="brand">MAID SMART monitor</span><nav>'
        + nav("/", "Fleet", "fleet")
        + nav("/alerts", "Alerts", "alerts")
        + nav("/api/openapi.json", "API", "api")
        + nav("/metrics", "Metrics", "metrics")
        + f"</nav></header><main>{body}</main></body></html>"
    )


def error_page(app: App, status: int, message: str) -> str:
    return layout(app, f"Error {status}",
                  f'<h1>Error {status}</h1><p class="error">{h(message)}</p>'
                  '<p><a href="/">Back to the fleet</a></p>')


def when(text: str | None) -> str:
    """Store time text for people: ``2026-01-15 11:45 UTC``."""
    return "" if not text else f'<span class="when">{h(text[:16])} UTC</span>'


def badge(state: str) -> str:
    return f'<span class="badge st-{h(state)}">{h(state)}</span>'


def _num_attr(value: float | int | None) -> str:
    return "" if value is None else str(value)


# ---------------------------------------------------------------------- fleet page


def fleet_page(app: App, req: Request) -> str:
    states = api.set_param(req, "state", fleet.STATES)
    q = (req.arg("q") or "").strip()
    everything = api.fleet_views(app)
    counts = fleet.count_states(everything)
    powers = fleet.count_power(everything)
    items = api.sort_views(api.filter_views(everything, states, None, q), "state", False)
    cycle = app.store().last_cycle()

    summary = "".join(
        f'<a class="count st-{s}" data-state="{s}" href="/?state={s}" '
        f'title="{h(fleet.STATE_DOC[s])}"><b>{counts[s]}</b> {s}</a>'
        for s in fleet.STATES
    )
    power_line = ", ".join(f"{n} {p}" for p, n in powers.items() if n)
    cycle_line = (
        f"last cycle {when(cycle['finished'])}, {cycle['duration']:.1f} s"
        if cycle else "no cycle recorded yet"
    )
    cells = []
    rows = []
    for v in sorted(items, key=lambda v: (v.status.device, v.disk_id)):
        st = v.status
        tip = (f"{st.device} · {st.model or '?'} · {v.state} · power {v.power_state} · "
               f"read {fleet.human_age(v.reading_age)} ago")
        search = " ".join(x for x in (st.device, st.model, st.serial, st.disk_id, st.wwn) if x)
        cells.append(
            f'<a class="cell st-{v.state}" href="{h(disk_url(st.disk_id))}" '
            f'data-state="{v.state}" data-search="{h(search.lower())}" title="{h(tip)}"></a>'
        )
    for v in items:
        st = v.status
        search = " ".join(x for x in (st.device, st.model, st.serial, st.disk_id, st.wwn) if x)
        alerts = st.open_critical * 1000 + st.open_warning
        rows.append(
            f'<tr data-state="{v.state}" data-search="{h(search.lower())}" '
            f'data-disk-id="{h(st.disk_id)}">'
            f'<td data-v="{h(st.device)}"><a href="{h(disk_url(st.disk_id))}">'
            f"{h(st.device)}</a></td>"
            f'<td data-v="{fleet.STATE_RANK[v.state]}">{badge(v.state)}</td>'
            f'<td data-v="{h(v.power_state)}">{h(v.power_state)}</td>'
            f'<td data-v="{h(st.model)}">{h(st.model)}</td>'
            f'<td data-v="{h(st.serial)}" class="mono">{h(st.serial)}</td>'
            f'<td data-v="{_num_attr(st.temperature)}" class="num">'
            f"{'' if st.temperature is None else f'{st.temperature} °C'}</td>"
            f'<td data-v="{_num_attr(None if v.reading_age is None else int(v.reading_age))}" '
            f'class="num" title="{h(fleet.iso(st.last_read))}">'
            f"{h(fleet.human_age(v.reading_age))}</td>"
            f'<td data-v="{h(st.last_check)}" title="{h(st.last_check_reason)}">'
            f"{h(st.last_check or '')}</td>"
            f'<td data-v="{alerts}" class="num">'
            f"{_alert_counts(st.open_critical, st.open_warning)}</td>"
            f'<td data-v="{st.deliberate_wakes}" class="num">{st.deliberate_wakes or ""}</td>'
            "</tr>"
        )
    options = "".join(
        f'<option value="{s}"{" selected" if states == {s} else ""}>{s}</option>'
        for s in fleet.STATES
    )
    filtered = f" (filtered: {len(items)} shown)" if len(items) != len(everything) else ""
    body = f"""
<h1>Fleet <small>{len(everything)} disks{h(filtered)}</small></h1>
<section class="summary">{summary}</section>
<p class="meta">Power: {h(power_line) or "unknown"} · {cycle_line} ·
stale after {h(fleet.human_age(app.stale_after))}</p>
<section class="grid" id="grid" aria-label="disks by state">{"".join(cells)}</section>
<form class="controls" method="get" action="/">
<input id="q" name="q" type="search" placeholder="filter: device, model, serial, WWN"
 value="{h(q)}" autocomplete="off">
<select id="state" name="state"><option value="">all states</option>{options}</select>
<button type="submit">Filter</button> <span id="shown"></span>
</form>
<table id="disks" class="sortable">
<thead><tr><th data-sort="text">Device</th><th data-sort="num">State</th>
<th data-sort="text">Power</th><th data-sort="text">Model</th><th data-sort="text">Serial</th>
<th data-sort="num">Temp</th><th data-sort="num">Reading age</th>
<th data-sort="text">Last check</th><th data-sort="num">Alerts</th>
<th data-sort="num">Wakes</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
"""
    return layout(app, "Fleet", body, "fleet")


def _alert_counts(critical: int, warning: int) -> str:
    parts = []
    if critical:
        parts.append(f'<span class="sev-critical">{critical} crit</span>')
    if warning:
        parts.append(f'<span class="sev-warning">{warning} warn</span>')
    return " ".join(parts)


# ---------------------------------------------------------------------- disk page


def disk_page(app: App, req: Request) -> str:
    disk_id = req.params["disk_id"]
    rng = req.arg("range") or DEFAULT_RANGE
    if rng not in RANGES:
        raise HTTPError(400, f"range must be one of {', '.join(RANGES)}, not {rng!r}")
    v = api.disk_view(app, disk_id)
    st = v.status
    store = app.store()
    record = store.last_record(disk_id)
    risk = estimate(record) if record is not None else None
    now = app.clock()
    span = RANGES[rng][1]
    since, until = now - span, now

    facts = [
        ("State", badge(v.state) + f' <span class="hint">{h(fleet.STATE_DOC[v.state])}</span>'),
        ("Power", h(v.power_state)),
        ("Last reading", f"{when(st.last_read)} ({h(fleet.human_age(v.reading_age))} ago)"),
        ("Last check", f"{h(st.last_check or 'none')} {when(st.last_check_at)}"
                       f' <span class="hint">{h(st.last_check_reason or "")}</span>'),
        ("Model", h(st.model)), ("Serial", f'<span class="mono">{h(st.serial)}</span>'),
        ("WWN", h(st.wwn)), ("Firmware", h(st.firmware)),
        ("Protocol", f"{h(st.protocol)} ({h(st.dev_type)})"),
        ("Capacity", h(_bytes(st.capacity_bytes))),
        ("Rotation", h("SSD" if st.rotation_rate == 0 else f"{st.rotation_rate} rpm"
                       if st.rotation_rate else "unknown")),
        ("SMART status", h({True: "PASSED", False: "FAILED", None: "not reported"}[
            st.smart_passed])),
        ("Temperature", h(f"{st.temperature} °C" if st.temperature is not None else "")),
        ("Power-on hours", h(st.power_on_hours)),
        ("Risk (AFR)", h(f"{risk.afr_percent:g}% · {risk.basis}" if risk else "no basis")),
        ("Deliberate wakes", h(st.deliberate_wakes)),
        ("Disk id", f'<span class="mono">{h(st.disk_id)}</span>'),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{val}</dd>" for k, val in facts)
    ranges = " ".join(
        f'<a href="{h(disk_url(disk_id, range=key))}"'
        f'{" class=active" if key == rng else ""}>{label}</a>'
        for key, (label, _) in RANGES.items()
    )
    limits: list[tuple[float, str, str]] = []
    if record is not None:
        warn, crit = app.health_config.temperature_limits(health.device_class(record))
        limits = [(warn, "warn", f"warning {warn} °C"), (crit, "crit", f"critical {crit} °C")]
    charts = [chart_figure(app, disk_id, "temperature", since, until, limits)]
    charts += [chart_image(disk_id, m, rng) for m in api.chart_metrics(record)]
    alerts = store.open_alerts(disk_id)
    attrs = _attribute_table(record) if record is not None else "<p>No reading stored.</p>"
    logs = ""
    if record is not None:
        for title, data in (("NVMe health log", record.nvme), ("SCSI health", record.scsi)):
            if data is not None:
                items = "".join(
                    f"<tr><td>{h(k)}</td><td class=num>{h(val)}</td></tr>"
                    for k, val in vars(data).items() if val is not None
                )
                logs += f"<h2>{title}</h2><table class=attrs><tbody>{items}</tbody></table>"
    body = f"""
<p class="crumbs"><a href="/">Fleet</a> › {h(st.device)}</p>
<h1>{h(st.device)} {badge(v.state)} <small>{h(st.model)}</small></h1>
<dl class="facts">{dl}</dl>
<h2>History</h2>
<nav class="ranges">{ranges}</nav>
<section class="charts">{"".join(charts)}</section>
<h2>Open alerts</h2>
{_alerts_table(alerts, with_device=False)}
<h2>Attributes <small>newest reading</small></h2>
{attrs}
{logs}
"""
    return layout(app, st.device, body)


def chart_data(
    app: App, disk_id: str, metric: str, since: float, until: float
) -> tuple[list[tuple[float, float, float, float, int]], str]:
    """Chart points (epoch, mean, min, max, n) and a note on what they stand for."""
    data = api.history(app, disk_id, metric, since, until, CHART_POINTS)
    pts = [(_epoch(p["t"]), p["v"], p["min"], p["max"], p["n"]) for p in data["points"]]
    note = f"{data['count']} readings"
    if data["downsampled"]:
        note += f", shown as {len(pts)} buckets of {fleet.human_age(data['bucket_seconds'])}"
    return pts, note


def chart_figure(
    app: App, disk_id: str, metric: str, since: float, until: float,
    limits: list[tuple[float, str, str]],
) -> str:
    """A chart drawn into the page (the temperature chart: it is always wanted)."""
    pts, note = chart_data(app, disk_id, metric, since, until)
    return (
        f'<figure class="chart" data-metric="{h(metric)}" data-points="{len(pts)}">'
        f"<figcaption>{h(api.metric_label(metric))} <small>{h(note)}</small></figcaption>"
        f"{svg_chart(pts, since, until, limits=limits)}</figure>"
    )


def chart_image(disk_id: str, metric: str, rng: str) -> str:
    """A chart the browser loads as an image, in parallel with the others: a year of
    10-minute readings costs about 0.1 s per attribute to aggregate, so six of them
    inline would hold the page back."""
    src = disk_url(disk_id) + "/chart.svg?" + urlencode({"metric": metric, "range": rng})
    label = api.metric_label(metric)
    return (
        f'<figure class="chart" data-metric="{h(metric)}">'
        f"<figcaption>{h(label)}</figcaption>"
        f'<img class="plot" src="{h(src)}" width="720" height="180" alt="{h(label)} chart">'
        "</figure>"
    )


def chart_svg(app: App, req: Request) -> Response:
    disk_id = req.params["disk_id"]
    metric = req.arg("metric") or "temperature"
    rng = req.arg("range") or DEFAULT_RANGE
    if rng not in RANGES:
        raise HTTPError(400, f"range must be one of {', '.join(RANGES)}, not {rng!r}")
    api.disk_view(app, disk_id)  # 404 for an unknown disk
    now = app.clock()
    since = now - RANGES[rng][1]
    pts, note = chart_data(app, disk_id, metric, since, now)
    svg = svg_chart(pts, since, now, standalone=f"{api.metric_label(metric)}: {note}")
    return Response(svg.encode("utf-8"), 200, "image/svg+xml",
                    [("Cache-Control", "max-age=60"), ("X-Content-Type-Options", "nosniff")])


def _epoch(iso_text: str) -> float:
    return datetime.strptime(iso_text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc).timestamp()


# The chart rules of app.css, for charts served as image files (which see no page CSS).
SVG_STYLE = (
    ".frame{fill:#fff;stroke:#bdbdbd}.grid{stroke:#eee}"
    ".tick{font:10px sans-serif;fill:#757575}"
    ".line{fill:none;stroke:#1565c0;stroke-width:1.6}.band{fill:#1565c0;fill-opacity:.15}"
    ".dot{fill:#1565c0}.limit{stroke-dasharray:5 4;stroke-width:1.2}"
    ".limit.warn{stroke:#ef8f00}.limit.crit{stroke:#c62828}"
    ".empty{fill:#9e9e9e;font:13px sans-serif}"
)


def nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """Round tick values (1, 2, 5 x 10^k steps) covering [lo, hi]."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    out = []
    t = first
    while t <= hi + step * 1e-9:
        out.append(round(t, 10))
        t += step
    return out


def svg_chart(
    points: list[tuple[float, float, float, float, int]],
    since: float,
    until: float,
    *,
    limits: list[tuple[float, str, str]] | None = None,
    width: int = 720,
    height: int = 180,
    standalone: str | None = None,
) -> str:
    """A line chart as inline SVG: mean line, min-max band where buckets hold several
    readings, dots when few, dashed limit lines. ``points``: (epoch, mean, min, max, n)."""
    left, right, top, bottom = 48, 8, 8, 22
    pw, ph = width - left - right, height - top - bottom
    head = (f'<svg class="plot" viewBox="0 0 {width} {height}" role="img" '
            f'preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">')
    if standalone is not None:  # an image file: its own size, styles and description
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
                f'width="{width}" height="{height}" role="img">'
                f"<title>{h(standalone)}</title><style>{SVG_STYLE}</style>")
    frame = (f'<rect class="frame" x="{left}" y="{top}" width="{pw}" height="{ph}"/>')
    if not points:
        return (head + frame + f'<text class="empty" x="{left + pw / 2}" y="{top + ph / 2}" '
                'text-anchor="middle">no readings in this range</text></svg>')
    lows = [p[2] for p in points]
    highs = [p[3] for p in points]
    lo, hi = min(lows), max(highs)
    for value, _, _ in limits or []:
        if lo - (hi - lo + 10) <= value <= hi + (hi - lo + 10):
            lo, hi = min(lo, value), max(hi, value)
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    pad = (hi - lo) * 0.08
    lo, hi = lo - pad, hi + pad
    span = max(1.0, until - since)

    def x(t: float) -> float:
        return round(left + (t - since) / span * pw, 1)

    def y(val: float) -> float:
        return round(top + (hi - val) / (hi - lo) * ph, 1)

    parts = [head, frame]
    for tick in nice_ticks(lo, hi):
        yy = y(tick)
        parts.append(f'<line class="grid" x1="{left}" x2="{left + pw}" y1="{yy}" y2="{yy}"/>'
                     f'<text class="tick" x="{left - 4}" y="{yy + 4}" text-anchor="end">'
                     f"{_fmt(tick)}</text>")
    fmt = "%H:%M" if span <= 2 * 86400 else "%m-%d" if span <= 120 * 86400 else "%Y-%m"
    for i in range(5):
        t = since + span * i / 4
        label = datetime.fromtimestamp(t, timezone.utc).strftime(fmt)
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        parts.append(f'<text class="tick" x="{x(t)}" y="{height - 6}" '
                     f'text-anchor="{anchor}">{label}</text>')
    for value, cls, label in limits or []:
        if lo <= value <= hi:
            yy = y(value)
            parts.append(f'<line class="limit {cls}" x1="{left}" x2="{left + pw}" y1="{yy}" '
                         f'y2="{yy}"><title>{h(label)}</title></line>')
    if any(p[4] > 1 for p in points):
        upper = " ".join(f"{x(p[0])},{y(p[3])}" for p in points)
        lower = " ".join(f"{x(p[0])},{y(p[2])}" for p in reversed(points))
        parts.append(f'<polygon class="band" points="{upper} {lower}"/>')
    line = " ".join(f"{x(p[0])},{y(p[1])}" for p in points)
    parts.append(f'<polyline class="line" points="{line}"/>')
    if len(points) <= 60:
        for p in points:
            when = datetime.fromtimestamp(p[0], timezone.utc).strftime("%Y-%m-%d %H:%M")
            parts.append(f'<circle class="dot" cx="{x(p[0])}" cy="{y(p[1])}" r="3">'
                         f"<title>{when} UTC: {_fmt(p[1])}</title></circle>")
    parts.append("</svg>")
    return "".join(parts)


def _fmt(v: float) -> str:
    if abs(v) >= 1e6:
        return f"{v:.3g}"
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def _bytes(n: int | None) -> str:
    if not n:
        return "unknown"
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


def _attribute_table(record: Any) -> str:
    if not record.attributes:
        return "<p>No ATA attribute table (NVMe and SCSI disks report health logs).</p>"
    rows = []
    for a in record.attributes:
        tracked = BY_ID.get(a.id)
        crit = tracked.criticality.value if tracked else ""
        failing = a.when_failed in ("now", "past")
        cls = f' class="crit-{crit}{" failing" if failing else ""}"' if crit or failing else ""
        rows.append(
            f"<tr{cls}><td class=num>{a.id}</td><td>{h(a.name)}</td><td>{h(crit)}</td>"
            f"<td class=num>{h(a.value)}</td><td class=num>{h(a.worst)}</td>"
            f"<td class=num>{h(a.thresh)}</td><td class=num>{h(a.raw_value)}</td>"
            f"<td class=mono>{h(a.raw_string)}</td><td>{h(a.when_failed)}</td></tr>"
        )
    return (
        '<table class="attrs"><thead><tr><th>ID</th><th>Name</th><th>Tracked</th>'
        "<th>Value</th><th>Worst</th><th>Thresh</th><th>Raw</th><th>Raw string</th>"
        f"<th>Failed</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


# ---------------------------------------------------------------------- alerts


def _token_box() -> str:
    return (
        '<div class="token"><label>Token for acknowledging '
        '<input id="token" type="password" autocomplete="off" '
        'placeholder="[web] token"></label> <span class="hint">kept in this tab only'
        "</span></div>"
    )


def _alerts_table(alerts: list[Any], *, with_device: bool = True) -> str:
    if not alerts:
        return '<p class="none">No alerts.</p>'
    rows = []
    for a in alerts:
        state = "resolved" if a.resolved else "acknowledged" if a.acknowledged else "open"
        if a.resolved:
            action = f"resolved {when(a.resolved_at)}"
        elif a.acknowledged:
            action = f'<span class="acked">acknowledged: {h(a.ack_note)}</span>'
        else:
            action = (
                f'<form class="ack" data-alert-id="{a.id}">'
                f'<input name="note" required maxlength="1000" placeholder="note: who, why">'
                '<button type="submit">Acknowledge</button>'
                '<span class="result" role="status"></span></form>'
            )
        device = (f'<td><a href="{h(disk_url(a.disk_id))}">{h(a.device)}</a></td>'
                  if with_device else "")
        rows.append(
            f'<tr data-alert-id="{a.id}" data-state="{state}">'
            f"<td class=num>{a.id}</td>"
            f'<td><span class="sev-{h(a.severity.value)}">{h(a.severity.value)}</span></td>'
            f"{device}<td>{h(a.rule_id)}</td><td>{h(a.message)}</td>"
            f"<td>{when(a.first_seen)}</td><td>{when(a.last_seen)}</td>"
            f'<td class="action">{action}</td></tr>'
        )
    head_device = "<th>Device</th>" if with_device else ""
    return (
        _token_box()
        + '<table class="alerts"><thead><tr><th>ID</th><th>Severity</th>'
        f"{head_device}<th>Rule</th><th>Message</th><th>First seen</th><th>Last seen</th>"
        f"<th>State / action</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def alerts_page(app: App, req: Request) -> str:
    state = api.choice_param(req, "state", "open", api.ALERT_STATES)
    store = app.store()
    total = store.count_alerts_where(state=state)
    alerts = store.list_alerts(state=state, limit=1000)
    tabs = " ".join(
        f'<a href="/alerts?state={s}"{" class=active" if s == state else ""}>{s}</a>'
        for s in api.ALERT_STATES
    )
    more = (f'<p class="hint">Showing the newest 1000 of {total}; use /api/alerts to page.</p>'
            if total > len(alerts) else "")
    write = "" if app.token else (
        '<p class="hint">Acknowledging is disabled: no [web] token is configured.</p>')
    body = (f"<h1>Alerts <small>{total} {h(state)}</small></h1>"
            f'<nav class="ranges">{tabs}</nav>{write}{_alerts_table(alerts)}{more}')
    return layout(app, "Alerts", body, "alerts")


def register(app: App) -> None:
    app.add("GET", "/", lambda req: Response.html(fleet_page(app, req)))
    app.add("GET", "/dashboard", lambda req: Response.html(fleet_page(app, req)))
    app.add("GET", "/disks/{disk_id}", lambda req: Response.html(disk_page(app, req)))
    app.add("GET", "/disks/{disk_id}/chart.svg", lambda req: chart_svg(app, req))
    app.add("GET", "/alerts", lambda req: Response.html(alerts_page(app, req)))
