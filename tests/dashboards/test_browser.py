"""The dashboard in a real browser: `streamlit run` on a free port against the seeded database, each page
opened in headless Chromium (Debian's `chromium`, driven by Playwright), waited on until the script has
finished and the charts are drawn; no exception element; screenshots saved to test-artifacts/dashboard/.

Skipped with a message when Chromium or Playwright is missing, except under CI (SWX_REQUIRE_BROWSER=1,
set by .ci/run, which installs both): there a missing browser is a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import free_port, wait_http

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "dashboard"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]
DRAWN = '[data-testid="stVegaLiteChart"] svg.marks'
FRAME = '[data-testid="stDataFrame"]'
# page url path -> (heading, what must be drawn: charts, images, data frames)
PAGES = {"": ("Now", 1, 0, 0), "stations": ("Stations", 3, 0, 0), "global_map": ("Global map", 0, 0, 0),
         "skill": ("Skill", 2, 0, 2), "storms": ("Storms", 3, 0, 1), "runs": ("Runs & models", 0, 0, 4)}


def _missing(what: str) -> None:
    msg = (f"{what} not installed: the browser test needs Debian's chromium (apt-get install chromium) "
           "and the Python playwright package (pip install -e '.[test]')")
    if os.environ.get("SWX_REQUIRE_BROWSER") == "1":
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="module")
def chromium():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        _missing("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server(seeded, tmp_path):
    """The dashboard as the images start it (`infra/docker/entrypoint.sh dashboard`), on a free local port
    with the test's settings; its URL."""
    port = free_port()
    env = {**os.environ, "SWX_PYTHON": sys.executable}
    log = (tmp_path / "streamlit.log").open("w")
    proc = subprocess.Popen(["bash", str(REPO / "infra" / "docker" / "entrypoint.sh"), "dashboard",
                             "--server.address", "127.0.0.1", "--server.port", str(port)],
                            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/_stcore/health", proc, log=tmp_path / "streamlit.log")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def _wait_finished(page, heading: str) -> None:
    """Until the page's heading is shown and the script has run to its end."""
    page.get_by_role("heading", name=heading).first.wait_for(timeout=60_000)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000)


def _tag(seeded) -> str:
    """The database kind, in screenshot names: the two kinds may run at once (pytest-xdist)."""
    settings, _ = seeded
    return "postgresql" if (settings.database_url or "").startswith("postgresql") else "sqlite"


def test_every_page_renders_in_chromium(server, chromium, seeded):
    tag = _tag(seeded)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = chromium.new_page(viewport={"width": 1400, "height": 2400})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    for path, (heading, charts, images, frames) in PAGES.items():
        page.goto(f"{server}/{path}")
        _wait_finished(page, heading)
        if charts:  # vega-embed draws asynchronously: wait for every chart's drawing (SVG or canvas)
            page.wait_for_function(f"document.querySelectorAll('{DRAWN}').length >= {charts}", timeout=30_000)
        if images:
            page.wait_for_function("[...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
                                   ".every(i => i.complete && i.naturalWidth > 0)", timeout=30_000)
        if frames:  # a data frame's grid may be drawn after the script-state flag flips: wait for each one
            page.wait_for_function(f"document.querySelectorAll('{FRAME}').length >= {frames}", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / f"{tag}-{path or 'now'}.png"), full_page=True)
        assert page.locator('[data-testid="stException"]').count() == 0, f"exception on /{path}"
        assert page.locator(DRAWN).count() >= charts, path
        assert page.locator('[data-testid="stImage"] img').count() >= images, path
        assert page.locator(FRAME).count() >= frames, path
        assert page.get_by_text("Deploy", exact=True).count() == 0, path  # no developer menu for operators
        if not path:  # today's and tomorrow's forecasts, each with its map and 1-sigma
            assert page.get_by_role("heading", name="Tomorrow: 2015-03-19").count() == 1
            assert page.locator('[data-testid="stVegaLiteChart"]').count() == 5  # the maps draw on canvas
        # every chart has a size (a faceted chart fitted to the page came out 0 px wide and blank)
        charts_here = page.locator('[data-testid="stVegaLiteChart"]')
        for i in range(charts_here.count()):
            box = charts_here.nth(i).bounding_box()
            assert box is not None and box["width"] > 150 and box["height"] > 100, (path, i, box)
        # the charts are drawn, not empty: marks with data (lines, areas, bars, points)
        for i in range(charts):
            marks = page.locator(DRAWN).nth(i).evaluate(
                "e => e.querySelectorAll('g.mark-line path, g.mark-area path, g.mark-rect path, "
                "g.mark-symbol path').length")
            assert marks >= 2, (path, i, marks)
    assert not errors, errors
    page.close()


@pytest.mark.parametrize("width", [1280, 1600])
def test_the_now_page_answers_at_an_operators_screen_widths(server, chromium, seeded, width):
    """At 1280 and 1600 px the first screen says what the forecast is, how good and whether to trust it:
    the SIMULATED banner, the run's verdict, the last verified map against persistence and the map
    itself, with nothing wider than the window. The screenshots are docs/console-now-*.png's source."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = chromium.new_page(viewport={"width": width, "height": 1000})
    page.goto(server)
    _wait_finished(page, "Now")
    page.wait_for_function(f"document.querySelectorAll('{DRAWN}').length >= 1", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / f"{_tag(seeded)}-now-{width}.png"), full_page=True)
    first_screen = {"SIMULATED data": page.get_by_text("SIMULATED data").first,
                    "the verdict": page.get_by_text("forecast for").first,
                    "the map against persistence": page.get_by_text("Last verified map, RMSE").first}
    for what, element in first_screen.items():
        box = element.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 1000, (width, what, box)  # seen without scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
    chart = page.locator('[data-testid="stVegaLiteChart"]').first.bounding_box()
    assert chart is not None and chart["width"] >= 0.3 * width, (width, chart)  # the map is large (half the page)
    page.close()


def test_a_click_on_the_station_map_picks_the_station(server, chromium, seeded):
    page = chromium.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(f"{server}/stations")
    _wait_finished(page, "Stations")
    point = page.locator(f'{DRAWN} g.mark-symbol path[aria-label="W120N50"]')
    point.wait_for(timeout=30_000)
    assert page.get_by_text("W120N50 — 120W 50N").count() == 0  # the first station is shown at the start
    point.click()
    page.get_by_text("W120N50 — 120W 50N").first.wait_for(timeout=30_000)  # the selectbox follows the click
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000)
    page.wait_for_function(f"document.querySelectorAll('{DRAWN}').length >= 3", timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / f"{_tag(seeded)}-station-clicked.png"), full_page=True)
    page.close()


def test_hovering_the_global_map_shows_the_values_of_the_cell(server, chromium):
    page = chromium.new_page(viewport={"width": 1400, "height": 2400})
    page.goto(f"{server}/global_map")
    _wait_finished(page, "Global map")
    # 5,183 grid cells: Vega draws them on a canvas, not as SVG marks
    chart = page.locator('[data-testid="stVegaLiteChart"] canvas').first
    chart.wait_for(timeout=30_000)
    box = chart.bounding_box()
    assert box["width"] > 600 and box["height"] > 500  # as wide as the page's column, not a thumbnail
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    tip = page.locator("#vg-tooltip-element")
    tip.wait_for(state="visible", timeout=10_000)
    text = tip.inner_text()
    assert "forecast vTEC (TECU)" in text and "1-sigma (TECU)" in text and "lat (°N)" in text, text
    page.close()
