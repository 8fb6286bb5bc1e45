"""`coregulate demo` as a newcomer opens it: baseline progress on both cards at once, the pacing said
on screen, and a zone other than "calibrating" within 90 s (the simulated baseline is played fast,
then the session runs at x1)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx
import pytest

from dashboard_helpers import OUT, SUP, free_port, real_stack_available

pytestmark = pytest.mark.browser

EXE = [sys.executable, "-m", "coregulate.server.cli.main"]


@pytest.fixture
def demo(tmp_path):
    if not real_stack_available():
        pytest.skip("needs the real pipeline")
    port = free_port()
    proc = subprocess.Popen([*EXE, "demo", "--port", str(port), "--data", str(tmp_path / "data"), "--token", SUP],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        t = time.time()
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                if httpx.get(f"{url}/api/sessions", headers={"Authorization": f"Bearer {SUP}"}, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.time() - t < 60, "demo server did not start"
            time.sleep(0.2)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_demo_shows_calibration_at_once_and_a_zone_within_90_s(demo, page):
    url, proc = demo
    OUT.mkdir(parents=True, exist_ok=True)
    opened = time.monotonic()
    page.goto(f"{url}/#token={SUP}")
    page.wait_for_url("**/#/live/*", timeout=20_000)
    # at once: each card shows its baseline progress and time left, and the pacing is said on screen
    for who in ("client", "therapist"):
        calib = page.locator(f"[data-calibration={who}]")
        calib.wait_for(state="visible", timeout=15_000)
        assert "left" in calib.inner_text() and "Baseline" in calib.inner_text()
        assert page.locator(f"section[data-person={who}] .zone").inner_text() == "Calibrating (baseline)"
    note = page.locator(".pace-note")
    note.wait_for(state="visible", timeout=10_000)
    assert "Fast-forward" in note.inner_text() and "×20" in note.inner_text() and "×1" in note.inner_text()
    first = float(page.locator("[data-calibration=client] progress").get_attribute("value") or 0)
    page.screenshot(path=str(OUT / "demo-calibrating.png"), full_page=True)
    # the progress moves on while the baseline plays fast
    page.wait_for_function(f"() => Number(document.querySelector('[data-calibration=client] progress').value) > {first} + 0.05",
                           timeout=30_000)
    # a zone badge other than calibrating within 90 s of opening
    remaining_ms = max(1000, int((90 - (time.monotonic() - opened)) * 1000))
    page.wait_for_function("""() => { const z = document.querySelector('section[data-person=client] .zone');
        return z && /zone-(window|hyper|hypo)/.test(z.className); }""", timeout=remaining_ms)
    called_after = time.monotonic() - opened
    assert page.locator("[data-calibration=client]").is_hidden()
    assert "Running at ×1" in note.inner_text()
    # readable y ticks on the live charts too (microphone level included)
    for key in ("hr", "arousal", "ecg", "level"):
        assert int(page.locator(f"section[data-person=client] [data-chart={key}] [role=img]").get_attribute("data-yticks")) >= 3, key
    page.screenshot(path=str(OUT / "demo-first-zone.png"), full_page=True)
    print(f"first zone shown {called_after:.1f} s after opening the demo")
    assert not page.errors, page.errors
    assert proc.poll() is None
