"""--plot-temperature: a real PNG from a database written from recorded readings."""

from __future__ import annotations

import struct
import subprocess
import sys

import pytest

from maid_smart_monitor.analytics import AnalyticsError, plot_temperature, temperature_series
from maid_smart_monitor.storage.sqlite import SQLiteStore
from webfleet import BY_NAME, NOW, build_fleet

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


def test_plot_by_device_writes_a_png(db, tmp_path):
    out = plot_temperature(db, "/dev/sda", days=30, output=str(tmp_path / "t.png"), now=NOW)
    assert out == str(tmp_path / "t.png")
    assert png_size(out) == (1200, 600)


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
