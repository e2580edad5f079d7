"""The dashboard in a real headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright), served by the real waitress server over a fleet written from recorded
smartctl outputs. Screenshots of each page go to artifacts/screenshots/."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from webfleet import BY_NAME, FLEET, TOKEN, copy_of, make_template, running_server

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("MAID_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

if not shutil.which(CHROMIUM):  # the test set-up (scripts/test) installs it
    pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium", pytrace=False)

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def site(tmp_path_factory, tmp_path):
    db = copy_of(make_template(tmp_path_factory), tmp_path)
    with running_server(db, token=TOKEN) as server:
        yield server.url, db


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_fleet_disk_and_alerts_pages_in_chromium(browser, site):
    url, db = site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    # Fleet: every disk, in the grid and in the table, with its expected state.
    page.goto(url + "/")
    cells = page.locator("#grid .cell")
    assert cells.count() == len(FLEET)
    rows = page.locator("#disks tbody tr")
    assert rows.count() == len(FLEET)
    for spec in FLEET:
        row = page.locator(f'#disks tbody tr[data-disk-id="{spec.disk_id}"]')
        assert row.get_attribute("data-state") == spec.state, spec.name
        assert row.locator("td").nth(0).inner_text() == spec.path
        assert row.locator(".badge").inner_text() == spec.state
        assert row.locator("td").nth(2).inner_text() == spec.power
        cell = page.locator(f'#grid .cell[href="/disks/{spec.disk_id}"]')
        assert cell.get_attribute("class") == f"cell st-{spec.state}"
    counts = {s: int(page.locator(f".summary .count.st-{s} b").inner_text())
              for s in ("critical", "warning", "error", "stale", "standby", "healthy")}
    assert counts == {s: sum(1 for f in FLEET if f.state == s) for s in counts}
    shot(page, "fleet")

    # Live filter (JavaScript): typing narrows table and grid; a state filter too.
    page.fill("#q", "nvme")
    assert page.locator("#disks tbody tr:not(.hidden)").count() == 2
    assert page.locator("#grid .cell:not(.hidden)").count() == 2
    page.fill("#q", "")
    page.select_option("#state", "critical")
    assert page.locator("#disks tbody tr:not(.hidden)").count() == 1
    page.select_option("#state", "")
    # Sorting by temperature (numeric), descending on the second click.
    header = page.locator("#disks th", has_text="Temp")
    header.click()
    header.click()
    temps = [v for v in page.locator("#disks tbody tr td:nth-child(6)").evaluate_all(
        "tds => tds.map(td => td.dataset.v)") if v]
    assert [int(t) for t in temps] == sorted((int(t) for t in temps), reverse=True)

    # Open the failing disk from its grid cell; its chart is drawn.
    failing = BY_NAME["failing"]
    page.click(f'#grid .cell[href="/disks/{failing.disk_id}"]')
    page.wait_for_url(re.compile(f"/disks/{failing.disk_id}"))
    assert page.locator("h1 .badge").inner_text() == "critical"
    temp_chart = page.locator('figure.chart[data-metric="temperature"]')
    assert int(temp_chart.get_attribute("data-points")) > 0
    assert len(temp_chart.locator("polyline.line").get_attribute("points").split()) > 1
    box = temp_chart.locator("svg").bounding_box()
    assert box["width"] > 300 and box["height"] > 100
    attr_chart = page.locator('figure.chart[data-metric="attr:5"] img')
    attr_chart.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=attr_chart.element_handle())
    assert attr_chart.evaluate("img => img.naturalWidth") == 720
    assert page.locator("table.attrs tbody tr").count() > 10
    shot(page, "disk-failing")
    page.click("nav.ranges a:has-text('7 days')")
    page.wait_for_url(re.compile(r"range=7d"))
    assert page.locator("nav.ranges a.active").inner_text() == "7 days"

    # Acknowledge an alert from the alerts page with the token typed in the page.
    page.goto(url + "/alerts")
    alert_id = sqlite3.connect(db).execute(
        "SELECT id FROM health_alerts WHERE resolved = 0 AND alert_type = 'smart_failed'"
    ).fetchone()[0]
    form = page.locator(f'form.ack[data-alert-id="{alert_id}"]')
    form.locator("input[name=note]").fill("replacing it today")
    form.locator("button").click()  # no token yet: refused, and the page says why
    result = form.locator(".result")
    result.wait_for(state="visible")
    page.wait_for_function("el => el.textContent.includes('Bearer')", arg=result.element_handle())
    page.fill("#token", TOKEN)
    form.locator("button").click()
    row = page.locator(f'tr[data-alert-id="{alert_id}"]')
    row.locator(".acked").wait_for()
    assert row.locator(".acked").inner_text() == "acknowledged: replacing it today"
    assert row.get_attribute("data-state") == "acknowledged"
    shot(page, "alerts")
    assert sqlite3.connect(db).execute(
        "SELECT acknowledged, ack_note FROM health_alerts WHERE id = ?", (alert_id,)
    ).fetchone() == (1, "replacing it today")
    page.reload()
    assert page.locator(f'tr[data-alert-id="{alert_id}"] .acked').count() == 1
    assert errors == [
        e for e in errors if "401" in e  # the refused request is logged by Chromium
    ]
    page.close()
