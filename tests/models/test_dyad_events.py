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


def test_recovery_is_dated_where_arousal_first_leaves_the_episode_band():
    trace = ArousalTrace(P)
    plateau = [5.0] * 60  # near the soft clip arousal barely moves: the band is 5 +- 2.5 * band_floor
    fall = [4.9, 4.0, 3.0, 2.0, 1.0, 0.5, 0.5, 0.5]
    for t, a in enumerate(plateau + fall, start=100):
        trace.push(t, a)
    t, band = trace.band_exit("hyper", 100, 167, leaving=False)
    assert t == 160 and band.median == 5.0 and band.half_width == 2.5 * 0.1  # 4.9 is inside, 4.0 is not
    trace.push(168, 4.9)  # back in the episode's band after leaving it: the first exit still dates it
    trace.push(169, 1.0)
    assert trace.band_exit("hyper", 100, 169, leaving=False)[0] == 160


def withdrawal_with_a_slow_wave_back():
    """A withdrawal at arousal -3.3 (+-0.9 jitter) from its zone change at t = 300; the recovery
    begins at t = 360 and rises to -1.1 by t = 379, a slow wave takes it back to -1.9 at t = 397
    (inside the episode's band, as on simulator seed 7), then it rises to 0 by t = 420 (the return)."""
    jitter = [0.0, 0.9, -0.9, 0.45, -0.45]  # robust SD 0.67: the band is -3.3 +- 1.67

    def arousal(t):
        if t < 360:
            return -3.3 + jitter[t % 5]
        if t < 379:
            return -3.3 + 2.2 * (t - 360) / 19
        if t < 397:
            return -1.1 - 0.8 * (t - 379) / 18
        return -1.9 + 1.9 * (t - 397) / 23

    trace = ArousalTrace(P)
    for t in range(300, 421):
        trace.push(t, arousal(t))
    return trace


def test_a_slow_wave_back_into_the_episode_band_does_not_postpone_the_recovery():
    """The rule replaced here (the last second inside the episode's band over the whole return)
    dated this recovery at the wave's trough, t = 397, 37 s after it began."""
    trace = withdrawal_with_a_slow_wave_back()
    t, band = trace.band_exit("withdrawal", 300, 420, leaving=False)
    edge = band.median + band.half_width  # the band's edge towards the baseline (arousal < 0)
    assert abs(band.median + 3.3) <= 0.2 and -2.0 < edge < -1.1, band  # the wave's trough is inside it
    old = max(s for s, a in trace.points if s >= 360 and a <= edge)  # the old rule, on this band
    assert old >= 395
    # the ramp crosses the edge within its first 19 s; the date is the last second before it does
    assert 360 <= t < 379 and trace.points[t - 300][1] <= edge < trace.points[t - 300 + 1][1], (t, band)


def test_a_departure_is_still_dated_at_its_last_second_inside_the_window_band():
    """Departures keep the last-second rule: a calm swing out of the window's band and back
    before the excursion does not date the change early."""
    trace = ArousalTrace(P)
    calm = [0.0, 0.2, -0.2, 0.1, -0.1] * 4  # median 0, robust SD 0.15: the band is 0 +- 0.37
    for t, a in enumerate(calm + [0.6, 0.0, 0.1, 1.0, 2.0, 2.5], start=1):
        trace.push(t, a)
    t, _ = trace.band_exit("hyper", 1, 26, leaving=True)
    assert t == 23  # 0.6 at t = 21 left the band, 0.1 at t = 23 is back in it; 1.0 at t = 24 leaves it


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
