"""Fixtures of the server tests: an app on a temporary data dir with fixed tokens."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from coregulate.server.web.app import Settings, create_app

from server_fakes import fake_backends

from server_helpers import SUP, VIEW


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
