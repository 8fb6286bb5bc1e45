"""The installed Coregulate version (``coregulate --version``, reports, batch fingerprints)."""

from __future__ import annotations


def coregulate_version() -> str:
    """The package version, or ``"unknown"`` in a source checkout that is not installed."""
    try:
        from importlib.metadata import version

        return version("coregulate")
    except Exception:  # not installed: callers still record the config and the date
        return "unknown"
