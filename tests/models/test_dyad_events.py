"""The dyad's event rules, each state machine on its own (the whole pipeline is in test_dyad.py)."""

from __future__ import annotations

from coregulate.models.base import Event
from coregulate.models.dyad import DyadParams
from coregulate.models.dyad_events import (
    ArousalTrace, Band, ClientEpisodes, CoregulationRule, DyadSecond, Hysteresis, PendingRepair, RepairRule, Rupture,
    RuptureRule, TherapistRule,
)

P = DyadParams(sustain_s=3, level_s=4, episode_ref_s=5, coreg_after_s=10, min_lead_s=2, repair_within_s=5)


def emit(kind, start, end, rule, evidence, participant=None):
    return Event(kind=kind, t_start=float(start), t_end=float(end), participant=participant, rule=rule,
                 evidence=evidence)


def second(t, cz="window", tz="window", state=None, level=None, row=None):
    low = None if level is None else level <= P.low_effect
    high = None if level is None else level >= P.restore_effect
    return DyadSecond(t, cz, tz, state, level, low, high, row or {})


def test_hysteresis_needs_sustain_seconds_either_way_and_ignores_unknown():
    h = Hysteresis(3)
    changes = [h.step(t, v) for t, v in enumerate([True, None, True, True, False, False, True, False, False, False])]
    assert changes == [None, None, None, "start", None, None, None, None, None, "end"]
    assert h.onset == 0 and h.last_true == 6 and not h.on


def test_an_episode_opens_after_sustain_and_ends_on_the_confirmed_return():
    trace = ArousalTrace(P)
    eps = ClientEpisodes(P, trace)
    began = [eps.step(second(t, cz="hyper", state="hyper")) for t in range(1, 5)]
    assert began[:2] == [None, None] and began[2].onset == 1 and began[2].state == "hyper" and began[3] is None
    assert eps.current.departure == 1  # no arousal to date it by: the zone time itself
    backs = []
    for t in range(5, 9):
        eps.step(second(t))
        backs.append(eps.back)
    assert backs == [False, False, True, False]
    ep, t_return = eps.end(8)
    assert ep.onset == 1 and t_return == 5 and eps.current is None


def test_departure_is_dated_where_arousal_leaves_the_band_of_the_window():
    trace = ArousalTrace(P)
    calm = [0.0, 0.2, -0.2, 0.1, -0.1, 0.0, 0.2, -0.2, 0.1, -0.1]  # median 0, 1.4826 MAD = 0.22
    for t, a in enumerate(calm + [0.3, 1.0, 2.0, 2.5], start=1):
        trace.push(t, a)
    # the band: 0 +- 2.5 * 0.222; 0.3 (t=11) is inside it, 1.0 (t=12) is not
    t, band = trace.band_exit("hyper", 1, 14, leaving=True)
    assert t == 11 and band.median == 0.0 and abs(band.half_width - 2.5 * 1.4826 * 0.15) < 1e-9
    assert trace.band_exit("vocal_withdrawal", 1, 14, leaving=True) == (14, None)


def calm_bump_then_withdrawal():
    """Calm arousal (0 +- 0.1) with one swing up to +1.2 and back over 180-192 s (a slow HR wave), then
    a withdrawal from t = 200 down to -3.5 over 20 s; the zone confirms it at t = 260."""
    def arousal(t):
        bump = max(0.0, 1.2 - 0.2 * abs(t - 186))
        return 0.1 * (-1) ** t + bump - 3.5 * min(1.0, max(0.0, (t - 200) / 20))

    trace = ArousalTrace(P)
    for t in range(1, 261):
        trace.push(t, arousal(t))
    return trace


def test_a_swing_within_the_calm_fluctuation_does_not_date_a_withdrawal_early():
    """The rule replaced here (the last second within 20 % of the way from the calmest value of the
    look-back to the value at the zone change) dated this one at t = 190, 10 s before the onset:
    from the swing's top, 20 % of the way to -3.5 lies inside the calm fluctuation."""
    trace = calm_bump_then_withdrawal()
    seq = [(t, -a) for t, a in trace.points if t >= 140]  # the old rule, oriented as it was
    calmest, end = min(e for _, e in seq), seq[-1][1]
    assert max(t for t, e in seq if e <= calmest + 0.2 * (end - calmest)) == 190
    t, band = trace.band_exit("withdrawal", 260 - 120, 260, leaving=True)
    # the band: median 0.1, 2.5 robust SDs = 0.74 (the +-0.1 jitter); the ramp leaves it at 204-205
    assert 200 <= t <= 205 and abs(band.median) <= 0.1 and band.half_width < 1, (t, band)


def test_recovery_is_dated_where_arousal_leaves_the_episode_band_and_a_dip_back_postpones_it():
    trace = ArousalTrace(P)
    plateau = [5.0] * 60  # near the soft clip arousal barely moves: the band is 5 +- 2.5 * band_floor
    fall = [4.9, 4.0, 3.0, 2.0, 1.0, 0.5, 0.5, 0.5]
    for t, a in enumerate(plateau + fall, start=100):
        trace.push(t, a)
    t, band = trace.band_exit("hyper", 100, 167, leaving=False)
    assert t == 160 and band.median == 5.0 and band.half_width == 2.5 * 0.1  # 4.9 is inside, 4.0 is not
    trace.push(168, 4.9)  # back in the episode's band: the recovery had not begun yet
    trace.push(169, 1.0)
    assert trace.band_exit("hyper", 100, 169, leaving=False)[0] == 168


def test_rupture_opens_on_low_synchrony_and_closes_when_it_is_restored():
    trace = ArousalTrace(P)
    eps, out = ClientEpisodes(P, trace), []
    rule = RuptureRule(P, trace, emit)
    levels = [0.1] * 6 + [1.0] * 3
    for t, lv in enumerate(levels, start=1):
        s = second(t, cz="hyper", state="hyper", level=lv)
        eps.step(s)
        out += rule.step(s, eps)
    (ev,) = out
    assert ev.kind == "rupture_candidate" and (ev.t_start, ev.t_end) == (1.0, 6.0)
    assert ev.evidence["low_sync_since_s"] == 3 and ev.evidence["min_level"] == 0.1
    assert rule.open is None and rule.last.episode == 1


def test_repair_waits_for_restored_synchrony_within_its_time():
    rup = Rupture(start=10, episode=12, low_since=12, state="hyper", last=30, min_level=0.1)
    rule = RepairRule(P, emit)
    rule.pending = PendingRepair(return_s=40, rupture=rup, restored=None, recovery=(35, Band(2.0, 0.5)))
    assert rule.step(second(41, level=0.3), episode_open=False) == []
    (ev,) = rule.step(second(42, level=0.9), episode_open=False)
    assert ev.kind == "repair_candidate" and (ev.t_start, ev.t_end) == (35.0, 42.0)  # the recovery onset came first
    rule.pending = PendingRepair(return_s=40, rupture=rup, restored=None, recovery=(35, Band(2.0, 0.5)))
    assert rule.step(second(46, level=0.3), episode_open=False) == [] and rule.pending is None  # too late


def test_co_regulation_needs_a_therapist_led_rise_after_the_return():
    from coregulate.models.dyad_events import Episode

    rule = CoregulationRule(P, emit)
    rule.begin(Episode(onset=1, state="hyper", departure=1))
    led = {"sync_significant": True, "leader": "therapist"}
    out = []
    for t in range(1, 6):
        out += rule.step(second(t, cz="hyper", level=0.0, row=led))
    rule.client_returned(6)
    out += rule.step(second(6, level=0.4, row=led))  # rise 0.4 < rise_effect 0.5
    assert out == []
    (ev,) = rule.step(second(7, level=0.6, row=led))
    assert ev.kind == "co_regulation" and (ev.t_start, ev.t_end) == (1.0, 7.0)
    assert ev.evidence["therapist_led_s"] == 7 and rule.watch is None


def test_therapist_out_alone_is_not_an_event_but_with_the_client_out_it_is():
    for client_out, expected in ((False, []), (True, ["therapist_dysregulated"])):
        rule = TherapistRule(P, "therapist", emit)
        out = []
        for t in range(1, 12):
            out += rule.step(second(t, tz="hyper" if t <= 5 else "window"), client_out=client_out)
        assert [e.kind for e in out] == expected
        if out:
            # out from t=1; "on" until sustain_s (3) seconds back in the window (t=8): the spell's last second is 7
            assert (out[0].t_start, out[0].t_end, out[0].participant) == (1.0, 7.0, "therapist")
            # the hysteresis tail counts too (as before the rules became state machines): "window" is listed
            assert out[0].evidence["zones"] == ["hyper", "window"] and out[0].evidence["client_out_share"] == 1.0


def test_a_spell_still_open_when_the_therapist_rows_stop_closes_without_a_missing_zone():
    # the therapist's data ends while out of the window: the rows carry no zone (None) from then on;
    # listing None among the zones made sorting them fail at the end of the session
    rule = TherapistRule(P, "therapist", emit)
    for t in range(1, 6):
        rule.step(second(t, tz="hyper"), client_out=True)
    for t in range(6, 9):
        rule.step(second(t, tz=None), client_out=True)
    (ev,) = rule.close()
    assert ev.evidence["zones"] == ["hyper"] and ev.t_end == 8.0
