"""Shared fixtures. Real recordings are read from ``$COREGULATE_DATA`` (default
``<repo>/../shared/data``) and tests that need them skip cleanly when the folder is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    return Path(os.environ.get("COREGULATE_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of real recordings; skips the test when it is absent (a user's fresh clone)."""
    d = shared_data_dir()
    if not d.is_dir():
        pytest.skip(f"real recordings not found at {d} (set COREGULATE_DATA)")
    return d


# In CI the property-based tests (readers, BLE parsers, API) run a fixed, reproducible set of
# examples, so a red build always names a case that fails again; locally they explore afresh.
if os.environ.get("CI"):
    from hypothesis import settings as _hyp_settings

    _hyp_settings.register_profile("ci", derandomize=True, database=None)
    _hyp_settings.load_profile("ci")
