"""--plot-temperature: a real PNG from a database written from recorded readings."""

from __future__ import annotations

import struct
import subprocess
import sys

import pytest

from maid_smart_monitor.analytics import AnalyticsError, plot_temperature, temperature_series
from maid_smart_monitor.storage.sqlite import SQLiteStore
from webfleet import BY_NAME, HOUR, NOW, _temperature, build_fleet

pytest.importorskip("matplotlib", reason="pip install 'maid-smart-monitor[analytics]'")


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("plot") / "fleet.db")
    build_fleet(path)
    return path


def png_size(path) -> tuple[int, int]:
    with open(path, "rb") as fh:
        data = fh.read(32)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def _spec_temperatures(name: str) -> list[float]:
    """The temperatures webfleet wrote for ``name``, from its spec (not from the database)."""
    spec = BY_NAME[name]
    last = NOW - spec.last_read_ago
    times = [last - k * 6 * HOUR for k in range(spec.days * 4)][::-1]
    return [float(_temperature(spec, i, t)) for i, t in enumerate(times)]


def test_plot_by_device_writes_a_png(db, tmp_path, monkeypatch):
    """The PNG shows the stored series: the line's data is the spec's temperatures, and
    the line's pixels in the file span exactly the rows of its lowest and highest value."""
    import matplotlib.dates as mdates
    from matplotlib.colors import to_rgb
    from matplotlib.figure import Figure
    from matplotlib.image import imread

    seen: dict[str, object] = {}
    original = Figure.savefig

    def savefig(fig, *args, **kwargs):
        ax = fig.axes[0]
        [line] = ax.lines
        ys = [float(v) for v in line.get_ydata()]
        x0 = line.get_xdata()[0]
        seen["ydata"], seen["colour"] = ys, line.get_color()
        seen["rows"] = [ax.transData.transform((mdates.date2num(x0), v))[1]
                        for v in (max(ys), min(ys))]
        return original(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    out = plot_temperature(db, "/dev/sda", days=30, output=str(tmp_path / "t.png"), now=NOW)
    assert out == str(tmp_path / "t.png")
    assert png_size(out) == (1200, 600)
    expected = _spec_temperatures("healthy-ata")
    assert seen["ydata"] == expected and max(expected) == 55

    pixels = imread(out)[:, :, :3]
    height = pixels.shape[0]
    line = (abs(pixels - to_rgb(seen["colour"])).max(axis=2) < 0.08).nonzero()
    rows, cols = line
    assert len(rows) > 2000, len(rows)  # 120 markers and the joining line, not a blank axes
    top, bottom = (height - y for y in seen["rows"])  # display y counts from the bottom
    assert abs(rows.min() - top) <= 4 and abs(rows.max() - bottom) <= 4
    assert cols.max() - cols.min() > 900  # the series spans the plot's width


def test_series_is_what_the_dashboard_charts(db):
    spec = BY_NAME["healthy-ata"]
    store = SQLiteStore(db, readonly=True)
    try:
        disk_id, series = temperature_series(store, spec.path, 30, now=NOW)
        by_id = temperature_series(store, spec.disk_id, 30, now=NOW)
        truth = store.history(spec.disk_id, "temperature", "2025-12-16 12:00:00")
    finally:
        store.close()
    assert disk_id == spec.disk_id and by_id == (disk_id, series)
    assert [v for _, v in series] == [v for _, v in truth]
    assert max(v for _, v in series) == 55  # the hot spell ten days before NOW


def test_default_output_is_the_seeds_name(db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = plot_temperature(db, "/dev/sdd", days=30, now=NOW)
    assert out == "temp_trend__dev_sdd.png"
    assert png_size(tmp_path / out)[0] == 1200


def test_clear_errors(db, tmp_path):
    with pytest.raises(AnalyticsError, match="no disk known as '/dev/nothing'"):
        plot_temperature(db, "/dev/nothing", now=NOW)
    with pytest.raises(AnalyticsError, match="no temperature readings"):
        plot_temperature(db, "/dev/sde", days=1, now=NOW)  # last read 30 days ago
    with pytest.raises(AnalyticsError, match="does not exist"):
        plot_temperature(str(tmp_path / "none.db"), "/dev/sda")


def test_command_line(db, tmp_path):
    """The seed's flag through the real CLI (the clock is real: a long --days window)."""
    out = tmp_path / "cli.png"
    done = subprocess.run(
        [sys.executable, "-m", "maid_smart_monitor", "--db", db, "--plot-temperature",
         "/dev/sdb", "--days", "36500", "--output", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    assert png_size(out) == (1200, 600)
