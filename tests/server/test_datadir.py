"""The data folder: outside the working tree by default, overridable, private."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

from coregulate.server.web import auth
from coregulate.server.cli.commands.serve import data_dir
from coregulate.server.datadir import resolve_data_dir, user_data_dir


class _Args:
    def __init__(self, data=None):
        self.data = data


def test_default_is_the_xdg_data_home(monkeypatch, tmp_path):
    monkeypatch.delenv("COREGULATE_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert resolve_data_dir() == tmp_path / "xdg" / "coregulate"


def test_without_xdg_it_is_under_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("COREGULATE_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")  # the XDG spec says: ignore it
    monkeypatch.setenv("HOME", str(tmp_path))
    assert user_data_dir() == tmp_path / ".local" / "share" / "coregulate"


def test_option_beats_environment_beats_default(monkeypatch, tmp_path):
    monkeypatch.setenv("COREGULATE_DATA", str(tmp_path / "env"))
    assert resolve_data_dir() == tmp_path / "env"
    assert resolve_data_dir(str(tmp_path / "opt")) == tmp_path / "opt"


def test_folder_is_created_0700_and_the_token_file_0600(monkeypatch, tmp_path):
    monkeypatch.setenv("COREGULATE_DATA", str(tmp_path / "a" / "b"))
    folder = data_dir(_Args())
    auth.load_or_create(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "token.json").stat().st_mode) == 0o600
    assert set(json.loads((folder / "token.json").read_text())) == {"supervisor", "viewer"}


def test_headless_replay_writes_nothing_into_the_working_directory(tmp_path):
    cwd = tmp_path / "checkout"
    cwd.mkdir()
    out = subprocess.run([sys.executable, "-m", "coregulate.server.cli.main", "replay", "--headless", "--speed", "max",
                          "sim?seed=1&duration=310&audio=0"], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert list(cwd.iterdir()) == []
    # the run's COREGULATE_DATA (tests/conftest.py) got the session instead
    assert any((resolve_data_dir(os.environ["COREGULATE_DATA"]) / "sessions").glob("replay-*.sqlite"))
