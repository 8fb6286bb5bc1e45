"""Fixtures of the server tests: an app on a temporary data dir with fixed tokens."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from coregulate.server.web.app import Settings, create_app

from server_fakes import fake_backends

from server_helpers import ANALYZED_SIM, SUP, VIEW


@pytest.fixture(scope="session")
def analyzed_sim(tmp_path_factory):
    """``coregulate analyze`` of :data:`ANALYZED_SIM` with defaults, once per run: the tests
    that use it only read its output folder (an analysis costs more than most test modules)."""
    from coregulate.server.cli.main import main

    out = tmp_path_factory.mktemp("analyzed") / "sim"
    assert main(["analyze", ANALYZED_SIM, "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture
def make_app(tmp_path):
    def _make(backends=None, **kw):
        return create_app(Settings(data_dir=tmp_path / "data", token=SUP, viewer_token=VIEW,
                                   backends=backends or fake_backends(), **kw))
    return _make


@pytest.fixture
def client(make_app):
    with TestClient(make_app()) as c:
        yield c
