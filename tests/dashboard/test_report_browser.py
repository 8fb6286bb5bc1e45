"""report.html of `coregulate analyze sim?duration=600` (the user's path, default options) opened from disk
(file://) in Debian's Chromium: every section is there and readable, the time-course image
loads, nothing is fetched from a network, and it prints on A4 with a page per major section.
Screenshots (screen and print) go to test-output/report/ for a look by eye."""

from __future__ import annotations

import os
import re

import pytest

from dashboard_helpers import OUT

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("COREGULATE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SHOTS = OUT.parent / "report"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from coregulate.server.cli.main import main

    out = tmp_path_factory.mktemp("report") / "sim"
    # a 10-min simulated session (its script stretched to fit, baseline kept at 300 s): every section,
    # a dozen events, half the cost of the default 20 min
    assert main(["analyze", "sim?duration=600", "--out", str(out), "--quiet"]) == 0
    return out / "report.html"


@pytest.fixture(scope="module")
def browser(report):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_report_sections_in_chromium_from_disk(report, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    # nothing but the file itself and its embedded image: no network
    assert [u for u in requests if not u.startswith(("file://", "data:"))] == [] and not errors

    assert "not a diagnostic device" in page.inner_text("header")
    headings = page.locator("section > h2").all_inner_texts()
    assert [re.sub(r" \(\d+\)$", "", h) for h in headings] == [
        "Summary", "Warnings", "Time course", "Events", "Annotations", "Inputs", "Settings", "Methods and data cited"]

    # summary first: one column per person, zone shares and baseline vs rest; the dyad's synchrony
    people = page.locator("table.people")
    assert people.locator("th").all_inner_texts()[1:] == ["Client", "Therapist"]
    window = people.locator("tr", has_text="time in window").locator("td").all_inner_texts()
    assert all(re.fullmatch(r"\d+%", v) for v in window[1:])
    assert page.locator("table.baseline tr", has_text="heart rate (bpm)").count() == 1
    assert page.locator("table.dyad tr", has_text="heart rate").count() == 1
    assert "candidates for review: " in page.inner_text("#summary")
    # the simulated session is clean: the warnings section says so
    assert page.inner_text("#warnings").endswith("No warnings: every check passed.")

    # the time course: one image, loaded, as wide as the text column
    img = page.locator("#timecourse img")
    assert img.evaluate("i => i.complete && i.naturalWidth > 800")
    assert img.bounding_box()["width"] > 900

    # events in minutes with friendly names and the from -> to of zone changes
    events = page.locator("table.events tbody tr")
    assert events.count() >= 6
    leave = page.locator("table.events tr", has_text="Client left the window (hyperarousal)").first
    cells = leave.locator("td").all_inner_texts()
    assert re.fullmatch(r"\d+\.\d", cells[1]) and 5 < float(cells[1]) < 10  # scripted at 5-8 min, in minutes
    assert cells[4] == "window → hyperarousal"

    assert "sim" in page.inner_text("#inputs") and page.locator("table.inputs tbody tr").count() >= 4  # ecg, rr (+ audio)
    settings = page.inner_text("#settings")
    assert "60 s" in settings and "0–300 s" in settings and "Coregulate version" in settings
    assert page.locator("#methods li").count() >= 10
    page.screenshot(path=str(SHOTS / "report-screen.png"), full_page=True)

    # print: A4, each major section starts a page, colours kept
    page.emulate_media(media="print")
    breaks = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('section')].map(
        s => [s.id, getComputedStyle(s).breakBefore]))""")
    assert {k for k, v in breaks.items() if v == "page"} == {"timecourse", "events", "inputs", "methods"}
    pdf = page.pdf(format="A4")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert 4 <= pages <= 12, pages
    (SHOTS / "report-print.pdf").write_bytes(pdf)
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    page.screenshot(path=str(SHOTS / "report-print.png"), full_page=True)
    ctx.close()
