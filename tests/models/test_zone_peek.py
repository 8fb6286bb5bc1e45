"""The incremental zone peeker (issue #15): the same zone changes as
``ToleranceEstimator.peek_zone_changes`` on the same arguments, stepping only what changed."""

from __future__ import annotations

import numpy as np

from coregulate.models.config import PipelineConfig
from coregulate.models.pipeline import SessionPipeline
from coregulate.models.tolerance import ToleranceEstimator
from coregulate.models.zone_peek import ZonePeeker

CFG = PipelineConfig(baseline=(0.0, 60.0))


def _rows(n, rng):
    """A calm baseline (0-60 s); HR 15 bpm lower from 70 s (arousal < -2) and the voice 20 dB quieter
    from 120 s to 200 s (hypo_candidate, then hypo, then back); HR 25 bpm higher from 260 s (hyper)."""
    rows = []
    for t in range(1, n + 1):
        hr = 75.0 + rng.normal(0, 1) - (15.0 if 70 <= t < 230 else 0.0) + (25.0 if t >= 260 else 0.0)
        loud = 60.0 + rng.normal(0, 1) - (20.0 if 120 <= t < 200 else 0.0)
        rows.append({"t_s": t, "hr_bpm": float(hr), "ln_rmssd": 3.5, "quality": "good", "loudness_db": float(loud)})
    return rows


def _as_dicts(events):
    return [e.to_dict() for e in events]


class _Counted(ZonePeeker):
    """Counts the seconds stepped (what the prefix check saves)."""

    stepped = 0

    def _step(self, row, second):
        self.stepped += 1
        super()._step(row, second)


def _live(rows, *, ahead=12, voice_lag=3, jitter=0.0, seed=0):
    """Drive a final estimator ``ahead`` s behind the provisional seconds; at each provisional second
    ask the peeker and the plain peek for the same arguments, as the tier and the dyad do: the whole
    range with every early second, a shorter one with those up to its end, and the whole range again
    with the newest second's HR moved by a late beat (``jitter``). Voice seconds arrive ``voice_lag`` s
    after the heart's. Returns (peeker, seconds asked, every distinct change label seen)."""
    rng = np.random.default_rng(seed)
    est, peeker = ToleranceEstimator("client", CFG), _Counted()
    asked, labels = 0, set()
    final = 0
    for newest in range(1, len(rows) + 1):
        while final < newest - ahead:
            est.update(rows[final])
            final += 1
        if final == 0:
            continue
        row = rows[final - 1]
        voice = {r["t_s"]: {"loudness_db": r["loudness_db"]} for r in rows[final:newest - voice_lag]}
        hr = [(r["t_s"], r["hr_bpm"]) for r in rows[final:newest]]
        moved = hr[:-1] + [(hr[-1][0], hr[-1][1] + rng.normal(0, jitter))] if jitter else hr
        short = hr[:len(hr) // 2]
        short_voice = {t: c for t, c in voice.items() if t <= final + len(short)}
        for hr_by_second, newer in ((hr, voice), (short, short_voice), (moved, voice), (hr, voice)):
            if not hr_by_second:
                continue
            got = _as_dicts(peeker.changes(est, row, hr_by_second, newer))
            assert got == _as_dicts(est.peek_zone_changes(row, hr_by_second, newer))
            labels |= {e["label"] for e in got}
            asked += len(hr_by_second)
    return peeker, asked, labels


def test_the_same_changes_as_the_plain_peek_through_hypo_hyper_and_a_late_voice():
    peeker, asked, labels = _live(_rows(330, np.random.default_rng(1)))
    # the comparison crossed every kind of change, including those that turn on the voice alone
    assert {"window -> hypo_candidate", "hypo_candidate -> hypo", "hypo -> hypo_candidate",
            "window -> hyper"} <= labels
    assert peeker.stepped < asked / 4  # and resumed instead of stepping every second again


def test_a_late_beat_in_the_newest_second_is_stepped_again_and_gives_the_plain_answer():
    peeker, asked, labels = _live(_rows(330, np.random.default_rng(2)), jitter=8.0, seed=3)
    assert "window -> hyper" in labels and peeker.stepped < asked / 2


def test_a_late_beat_in_an_earlier_second_resumes_from_before_it():
    rows = _rows(330, np.random.default_rng(4))
    est = ToleranceEstimator("client", CFG)
    for r in rows[:250]:
        est.update(r)
    row, peeker = rows[249], _Counted()
    hr = [(r["t_s"], r["hr_bpm"]) for r in rows[250:295]]
    assert [e.label for e in peeker.changes(est, row, hr)] == ["window -> hyper"]  # 30 s above from 260 s
    # a lower HR in second 270 breaks the 30 s above the threshold: no call in these seconds any more
    late = [(t, h - (40.0 if t == 270 else 0.0)) for t, h in hr]
    stepped = peeker.stepped
    got = peeker.changes(est, row, late)
    assert _as_dicts(got) == _as_dicts(est.peek_zone_changes(row, late)) and got == []
    assert peeker.stepped - stepped == 295 - 270 + 1  # from the second that changed on, not from the start


def test_a_new_final_row_starts_over_from_the_estimator_state():
    rows = _rows(330, np.random.default_rng(5))
    est = ToleranceEstimator("client", CFG)
    for r in rows[:250]:
        est.update(r)
    peeker = ZonePeeker()
    hr = [(r["t_s"], r["hr_bpm"]) for r in rows[250:300]]
    before = peeker.changes(est, rows[249], hr)
    est.update(rows[250])  # the final tier moves: its counters and zone are one second further
    after = peeker.changes(est, rows[250], hr[1:])
    assert _as_dicts(after) == _as_dicts(est.peek_zone_changes(rows[250], hr[1:]))
    assert [e.label for e in before] == [e.label for e in after] == ["window -> hyper"]


def test_an_early_second_completed_in_place_is_seen():
    """The tier completes an early second's columns in place as each family's second comes: the
    peeker keeps the values it stepped on, not the dict."""
    rows = _rows(330, np.random.default_rng(6))
    est = ToleranceEstimator("client", CFG)
    for r in rows[:110]:
        est.update(r)
    row, peeker = rows[109], ZonePeeker()
    hr = [(r["t_s"], r["hr_bpm"]) for r in rows[110:170]]
    early = {r["t_s"]: {"vocal_arousal": None} for r in rows[110:170]}
    first = peeker.changes(est, row, hr, early)
    for r in rows[110:170]:
        early[r["t_s"]]["loudness_db"] = r["loudness_db"]  # the prosody family's second came in
    got = peeker.changes(est, row, hr, early)
    assert _as_dicts(got) == _as_dicts(est.peek_zone_changes(row, hr, early))
    assert [e.label for e in got] != [e.label for e in first]  # the quiet voice corroborates now


def test_seconds_that_do_not_follow_the_final_row_are_computed_as_they_are():
    rows = _rows(330, np.random.default_rng(7))
    est = ToleranceEstimator("client", CFG)
    for r in rows[:250]:
        est.update(r)
    hr = [(r["t_s"], r["hr_bpm"]) for r in rows[255:300]]
    assert _as_dicts(ZonePeeker().changes(est, rows[249], hr)) == _as_dicts(est.peek_zone_changes(rows[249], hr))
    assert ZonePeeker().changes(est, None, hr) == []


def test_the_tier_gives_what_the_plain_peek_gives_through_a_live_session_with_voice():
    """Heart and voice chunks as they come live (test_provisional_hypo's: a slow heart, then a quiet
    voice): the tier's answer for the range it evaluates and for a shorter one, as the dyad asks."""
    from test_provisional_hypo import CONFIG, PROSODY, RR, _interleaved

    pipe = SessionPipeline([RR, PROSODY], CONFIG, provisional=True)
    with_changes = 0
    for chunk in _interleaved(0.5):
        pipe.update(chunk)
        for tier in pipe.provisional.values():
            newest, last = tier.newest_second, tier.person.last_row
            if newest is None or last is None or newest <= last["t_s"]:
                continue
            first = int(last["t_s"]) + 1
            for hi, early in ((newest, tier._early_seconds), (newest - 1, tier.early_columns(first, newest - 1))):
                plain = tier.person.peek_zone_changes(tier.hr_by_second(first, hi), early)
                assert _as_dicts(tier.zone_changes_between(first, hi, early)) == _as_dicts(plain)
                with_changes += bool(plain)
    assert with_changes > 10  # the comparisons crossed zone changes, not only empty answers
