"""The per-person summary and the warning rules, fed rows as features.csv holds them."""

from __future__ import annotations

import pytest

from coregulate.models.session_summary import (
    WARNING_RULES, SessionFacts, SessionWarning, heart_source, session_warnings, summarize_person,
)


def _rows(n: int, **cols):
    """n seconds of rows; each column a constant or a function of t_s."""
    return [{"t_s": t, **{k: (v(t) if callable(v) else v) for k, v in cols.items()}} for t in range(1, n + 1)]


def test_baseline_and_rest_are_split_at_the_segment_and_shares_add_up():
    rows = _rows(400, hr_bpm=lambda t: 60.0 if t <= 300 else 90.0, zone=lambda t: "unknown" if t <= 300 else "hyper",
                 quality="good", beats_in_window=60, beats_corrected=lambda t: 6 if t > 300 else 0)
    s = summarize_person(rows, (0.0, 300.0), window_s=60.0, stream_kinds=("ecg", "rr"))
    assert (s["hr_bpm_baseline_mean"], s["hr_bpm_rest_median"]) == (60.0, 90.0)
    assert s["unknown_share"] == 0.75 and s["hyper_share"] == 0.25 and s["window_share"] == 0
    assert s["rmssd_ms_baseline_mean"] is None  # never computed: empty, not zero
    assert s["beats_corrected_share"] == pytest.approx(100 * 6 / (400 * 60))
    # each corrected beat sits in ~window_s windows: 100 seconds x 6 / 60 = 10 beats
    assert s["beats_corrected_approx"] == 10
    assert s["heart_source"] == "rr"
    # an explicit baseline elsewhere moves the split: (t-1, t] inside (100, 200]
    s2 = summarize_person(rows, (100.0, 200.0), window_s=60.0)
    assert s2["hr_bpm_baseline_mean"] == 60.0 and s2["hr_bpm_rest_mean"] == pytest.approx((200 * 60 + 100 * 90) / 300)


def test_heart_source_prefers_what_the_rows_say():
    rows = _rows(10, hr_bpm=70.0, heart_source=lambda t: "ecg" if t <= 3 else "rr")
    assert heart_source(rows, ("ecg", "rr")) == "rr 70%, ecg 30%"
    assert heart_source(_rows(3, hr_bpm=70.0), ("hr", "ppg")) == "ppg"
    assert heart_source(_rows(3, hr_bpm=70.0), ("hr", "eda")) == "device_hr"  # as the column names it
    assert heart_source(_rows(3, hr_bpm=70.0), ("eda",)) == ""
    assert heart_source(_rows(3), ("rr",)) == ""  # an RR stream that gave no heart rate was not used


def _facts(rows, **kw):
    return SessionFacts(rows=rows, duration_s=max((len(r) for r in rows.values()), default=0), **kw)


def test_clean_session_has_no_warning():
    ok = _rows(600, hr_bpm=70.0, quality="good", zone="window", vagal_reliable=True)
    dyad = [{"t_s": t, "sync_effect": 0.5} for t in range(1, 601)]
    assert session_warnings(_facts({"client": ok, "therapist": ok}, dyad=dyad)) == []


def test_each_rule_fires_on_its_own_problem():
    poor = _rows(600, hr_bpm=70.0, quality="poor", zone="unknown", vagal_reliable=True)
    empty = _rows(600, quality="none")
    # heart data only from 200 s: a sparse baseline is the tolerance estimator's verdict (baseline_not_trusted),
    # not a second warning of its own here
    late = _rows(600, hr_bpm=lambda t: 70.0 if t > 200 else None, quality="good", zone="window", vagal_reliable=False)
    facts = _facts({"client": poor, "therapist": empty, "observer": late},
                   gaps=[{"stream": "observer/rr", "t_start": 0.0, "t_end": 200.0}], status="interrupted",
                   events=[{"kind": "warning", "participant": "client", "rule": "baseline_disturbed",
                            "label": "baseline disturbed: arousal moved during it"}])
    got = {(w.who, w.code) for w in session_warnings(facts)}
    assert got == {("session", "interrupted"), ("client", "hrv_not_interpretable"),
                   ("client", "zone_mostly_unknown"), ("therapist", "no_heart_data"),
                   ("observer", "vagal_unreliable"), ("observer", "signal_gaps"), ("dyad", "no_synchrony"),
                   ("client", "baseline_disturbed")}
    text = {w.code: w.plain() for w in session_warnings(facts)}
    assert text["hrv_not_interpretable"].startswith("client: heart-rate variability not interpretable: quality is "
                                                    "poor in every second with heart data")
    assert text["signal_gaps"] == ("observer: rr signal missing for 3.3 min (33% of the session) in 1 gap(s); "
                                   "features are empty there, never interpolated")
    assert text["baseline_disturbed"] == "client: baseline disturbed: arousal moved during it"


def test_half_poor_is_flagged_with_its_share_and_less_is_not():
    def rows(n_poor):
        return _rows(100, hr_bpm=70.0, zone="window", quality=lambda t: "poor" if t <= n_poor else "good")

    hrv = [r for r in WARNING_RULES if r.__name__ == "hrv_not_interpretable"]
    w = session_warnings(_facts({"client": rows(60)}), hrv)
    assert [x.text.split(" (")[0] for x in w] == ["heart-rate variability not interpretable: quality is poor in 60% of "
                                                  "the seconds with heart data"]
    assert session_warnings(_facts({"client": rows(40)}), hrv) == []


def test_a_new_source_of_warnings_is_one_function():
    def too_long(f):
        if f.duration_s > 3600:
            yield SessionWarning("session", "long", "longer than an hour")

    facts = _facts({"client": _rows(4000, hr_bpm=70.0, quality="good", zone="window")})
    assert [w.code for w in session_warnings(facts, [*WARNING_RULES, too_long])][-1] == "long"
    assert "long" not in [w.code for w in session_warnings(facts)]


def test_heart_warnings_name_an_irregular_rhythm_and_device_only_heart_rate():
    irregular = _rows(300, hr_bpm=70.0, rmssd_ms=300.0, beats_in_window=70, beats_corrected=0, quality="poor",
                      zone="unknown")
    wrist = _rows(300, hr_bpm=70.0, heart_source=lambda t: "device_hr" if t > 100 else "ppg", quality="fair",
                  zone="window", vagal_reliable=None)
    w = {(x.who, x.code): x.text for x in session_warnings(_facts({"client": irregular, "therapist": wrist}))}
    assert "(irregular rhythm (ectopic or corrected beats above 15 % or RMSSD above 25 % of mean RR on 100 % of " \
           "windows))" in w[("client", "hrv_not_interpretable")]
    assert w[("therapist", "heart_rate_device_only")] == \
        "heart rate from the device's own HR on 83 % of seconds (no HRV there)"


def test_a_baseline_the_tolerance_estimator_did_not_trust_is_a_warning():
    ok = _rows(600, hr_bpm=70.0, quality="good", zone="window", vagal_reliable=True)
    events = [{"kind": "baseline", "participant": "client", "label": "baseline not trusted: disturbed: movement",
               "evidence": {"trusted": False, "reasons": ["disturbed: movement"]}},
              {"kind": "baseline", "participant": "therapist", "label": "baseline trusted", "evidence": {"trusted": True}}]
    got = [w for w in session_warnings(_facts({"client": ok, "therapist": ok}, events=events))
           if w.code == "baseline_not_trusted"]
    assert [(w.who, w.text.split(";")[0]) for w in got] == [("client", "baseline not trusted: disturbed: movement")]


def test_a_baseline_from_a_whole_recording_is_in_force_from_the_first_second():
    """A 208-s recording takes its whole length as baseline: no 'baseline too short, zones stay
    unknown' warning, and the zone counts from the first second."""
    rows = _rows(208, hr_bpm=70.0, quality="good", zone="window", vagal_reliable=True)
    own = {w.code for w in session_warnings(_facts({"client": rows}))}
    assert "baseline_too_short" in own
    whole = _facts({"client": rows}, baseline_origin={"client": "whole recording (shorter than the baseline segment)"})
    assert whole.baseline_end("client") == 0.0
    assert {w.code for w in session_warnings(whole)} == own - {"baseline_too_short"}
    unknown = _facts({"client": _rows(208, hr_bpm=70.0, quality="good", zone="unknown")},
                     baseline_origin={"client": "separate resting recording"})
    assert "zone_mostly_unknown" in {w.code for w in session_warnings(unknown)}


def test_time_the_exertion_gate_left_the_heart_out_is_said_per_person():
    """The tolerance estimator's ``exertion`` events summed per person: seconds, share of the
    seconds with heart data, what arousal rested on meanwhile; nothing for a person never gated."""
    rows = _rows(1000, hr_bpm=70.0, quality=lambda t: "none" if t > 800 else "good", zone="window",
                 vagal_reliable=True)

    def stretch(who, t0, t1, heart, skin=0, empty=0, baseline=0):
        return {"kind": "exertion", "participant": who, "t_start": t0, "t_end": t1,
                "evidence": {"seconds": t1 - t0, "heart_seconds": heart, "skin_only_seconds": skin,
                             "empty_seconds": empty, "baseline_seconds": baseline}}

    events = [stretch("client", 100, 220, 120, baseline=120), stretch("client", 400, 520, 120, skin=80, empty=40),
              stretch("therapist", 900, 960, 0)]  # no heart data then: nothing was left out
    got = [w for w in session_warnings(_facts({"client": rows, "therapist": rows}, events=events))
           if w.code == "exertion_heart_left_out"]
    assert [w.plain() for w in got] == [
        "client: exertion (accelerometer): heart left out of arousal in 240 s (30% of the seconds with heart data) "
        "in 2 stretch(es): arousal from skin conductance alone in 80 s, arousal empty (zone unknown) in 40 s, "
        "120 s in the baseline segment, kept out of the heart's baseline"]
    assert not [w for w in session_warnings(_facts({"client": rows})) if w.code == "exertion_heart_left_out"]
