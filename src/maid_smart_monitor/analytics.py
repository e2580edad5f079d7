"""The seed's analytics: a temperature trend plot as PNG (``--plot-temperature``).

matplotlib is an extra (``[analytics]``), imported only when a plot is drawn, with the
non-interactive Agg backend (no display needed, safe in a daemon or over SSH). The
data is the same series the dashboard charts: the disk's readings' temperature
(smartctl's own figure, which covers NVMe and SCSI), else ATA attribute 194.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from typing import Any

from maid_smart_monitor.storage.base import parse_utc, utc_text
from maid_smart_monitor.storage.factory import is_postgres, open_store


class AnalyticsError(Exception):
    """The plot cannot be drawn: unknown device, no data, or matplotlib missing."""


def default_output(device: str) -> str:
    """The seed's file name: ``temp_trend_<device with / as _>.png``."""
    return f"temp_trend_{device.replace('/', '_')}.png"


def temperature_series(
    store: Any, device: str, days: float, now: float | None = None
) -> tuple[str, list[tuple[datetime, float]]]:
    """(disk id, [(time, °C)]) of the last ``days`` for a device name or disk id."""
    ids = store.find_disks(device)
    if not ids:
        raise AnalyticsError(f"no disk known as {device!r} in {store.path}")
    disk_id = ids[0]
    now = time.time() if now is None else now
    since = utc_text(now - days * 86400)
    rows = [(t, v) for t, v in store.history(disk_id, "temperature", since) if v]
    if not rows:
        rows = [(t, v) for t, v in store.history(disk_id, "attr:194", since) if v]
    return disk_id, [(parse_utc(t), float(v)) for t, v in rows]


def plot_temperature(
    db_path: str,
    device: str,
    days: float = 30,
    output: str | None = None,
    *,
    now: float | None = None,
) -> str:
    """Write the trend PNG for ``device`` (a /dev name or disk id); returns its path."""
    if not is_postgres(db_path) and not os.path.exists(db_path):
        raise AnalyticsError(f"database {db_path} does not exist")
    store = open_store(db_path, busy_timeout=10.0, readonly=True)
    try:
        disk_id, series = temperature_series(store, device, days, now)
    finally:
        store.close()
    if not series:
        raise AnalyticsError(f"no temperature readings for {device} in the last {days:g} days")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.dates as mdates
        import matplotlib.pyplot as plt
    except ImportError:
        raise AnalyticsError(
            "plotting needs matplotlib: pip install 'maid-smart-monitor[analytics]'"
        ) from None
    out = output or default_output(device)
    times = [t for t, _ in series]
    values = [v for _, v in series]
    fig, ax = plt.subplots(figsize=(12, 6))
    try:
        ax.plot(times, values, marker="o" if len(series) <= 60 else None, markersize=3)
        ax.set_title(f"Temperature Trend - {device} ({disk_id})")
        ax.set_xlabel("Time (UTC)")
        ax.set_ylabel("Temperature (°C)")
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d\n%H:%M", tz=timezone.utc))
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(out, dpi=100)
    finally:
        plt.close(fig)
    return out
