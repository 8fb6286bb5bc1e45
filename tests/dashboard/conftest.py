"""Fixtures of the browser tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
import pytest

from dashboard_helpers import SUP, VIEW, ServerThread, free_port, real_stack_available


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from coregulate.server.web.app import Settings, create_app

    backends = None
    if not real_stack_available():
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
        from server_fakes import fake_backends

        backends = fake_backends(duration_s=40)
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("data"), token=SUP, viewer_token=VIEW, backends=backends))
    with ServerThread(app, free_port()) as srv:
        srv.http = httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {SUP}"}, timeout=30)
        srv.fake = backends is not None
        yield srv
        srv.http.close()


CHROMIUM = os.environ.get("COREGULATE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    yield pg
    ctx.close()
