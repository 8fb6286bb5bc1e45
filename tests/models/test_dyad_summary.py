"""Session summary over dyad rows (SUSY/rMEA-style figures)."""

from __future__ import annotations

import math

import pytest

from coregulate.models.base import Event
from coregulate.models.dyad_summary import summarize_dyad


def row(z=None, lag=None, sig=None, leader=None, effect=None, cz=None, tz=None):
    return {"sync_hr_z": z, "sync_hr_lag_s": lag, "sync_significant": sig, "leader": leader,
            "sync_effect": effect, "client_zone": cz, "therapist_zone": tz}


def test_means_shares_and_counts():
    rows = [
        row(0.5, -2, True, "therapist", 2.0, "window", "window"),
        row(-0.3, 1, False, "none", 0.0, "hyper", "window"),
        row(0.9, -2, True, "therapist", 3.0, "window", "unknown"),
        row(0.1, 3, True, "client", 1.0, "unknown", "hyper"),
        row(),  # nothing computable this second
    ]
    events = [Event("rupture_candidate", 1, 2), Event("repair_candidate", 3, 4),
              {"kind": "co_regulation", "t_start": 2}, Event("leave_window", 1, participant="client")]
    s = summarize_dyad(rows, events)
    assert s["seconds"] == 5 and s["hr_windows"] == 4
    assert s["hr_mean_abs_z"] == pytest.approx((0.5 + 0.3 + 0.9 + 0.1) / 4)
    assert s["hr_mean_z"] == pytest.approx((0.5 - 0.3 + 0.9 + 0.1) / 4)
    assert s["hr_lag_median_s"] == pytest.approx(-0.5)  # lags -2, 1, -2, 3
    assert s["mean_effect"] == pytest.approx(1.5)
    assert s["significant_share"] == pytest.approx(3 / 4)
    assert s["therapist_leads_share"] == pytest.approx(2 / 3)
    assert s["client_leads_share"] == pytest.approx(1 / 3)
    assert s["simultaneous_share"] == 0
    assert s["client_window_share"] == pytest.approx(2 / 3)
    assert s["therapist_window_share"] == pytest.approx(2 / 3)
    assert (s["n_rupture_candidate"], s["n_repair_candidate"], s["n_co_regulation"]) == (1, 1, 1)
    assert s["n_therapist_dysregulated"] == 0


def test_csv_strings_and_empty_input():
    rows = [row(0.2, 0, "True", "simultaneous"), row(0.4, 0, "False", "none"), row(math.nan, None, "", None)]
    s = summarize_dyad(rows)
    assert s["significant_share"] == pytest.approx(0.5) and s["simultaneous_share"] == 1.0
    assert s["hr_windows"] == 2 and s["n_rupture_candidate"] is None
    empty = summarize_dyad([])
    assert empty["seconds"] == 0 and empty["hr_mean_abs_z"] is None and empty["significant_share"] is None
