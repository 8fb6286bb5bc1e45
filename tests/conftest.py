"""Shared fixtures. Real recordings are read from ``$COREGULATE_SHARED_DATA`` (default
``<repo>/../shared/data``) and tests that need them skip cleanly when the folder is absent.

``COREGULATE_DATA`` is the application's own data folder (sessions, tokens): for the whole test
run, and every subprocess it starts, it points into a temporary folder, as does
``XDG_DATA_HOME``, so no test ever writes into the real ``~/.local/share/coregulate``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# `make test` runs the suite on several processes; tests that share a resource stay in one
pytest_plugins = ["parallel_scheduling"]


def shared_data_dir() -> Path:
    return Path(os.environ.get("COREGULATE_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of real recordings; skips the test when it is absent (a user's fresh clone)."""
    d = shared_data_dir()
    if not d.is_dir():
        pytest.skip(f"real recordings not found at {d} (set COREGULATE_SHARED_DATA)")
    return d


@pytest.fixture(scope="session", autouse=True)
def isolated_user_data(tmp_path_factory):
    """The application's data folder and XDG data home, in a temporary folder for the run."""
    root = tmp_path_factory.mktemp("user-data")
    saved = {k: os.environ.get(k) for k in ("COREGULATE_DATA", "XDG_DATA_HOME")}
    os.environ["COREGULATE_DATA"] = str(root / "coregulate")
    os.environ["XDG_DATA_HOME"] = str(root / "xdg")
    yield root
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


# In CI the property-based tests (readers, BLE parsers, API) run a fixed, reproducible set of
# examples, so a red build always names a case that fails again; locally they explore afresh.
if os.environ.get("CI"):
    from hypothesis import settings as _hyp_settings

    _hyp_settings.register_profile("ci", derandomize=True, database=None)
    _hyp_settings.load_profile("ci")
