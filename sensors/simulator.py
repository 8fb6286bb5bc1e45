"""A deterministic simulated therapy session: two people, with known ground truth.

The simulator is a pseudo-device (the BrainFlow idea): it produces the same streams as a real
set-up -- a Polar-H10-like ECG at 130 Hz in µV, the strap's RR intervals (1/1024 s
resolution) and a 16 kHz microphone per person with crosstalk from the other person -- so the
pipeline cannot tell it from a recording. It is the demo's default session and the
end-to-end tests' ground truth.

The script (:data:`DEFAULT_PHASES`, stretched to ``duration_s``) follows the therapy process
Coregulate is built to show:

=========== ============ ===================================================================
phase       default (s)  what happens
=========== ============ ===================================================================
baseline    0-300        both calm, inside their window of tolerance, loosely coupled
hyper       300-420      client hyperarousal: HR up, RSA (RMSSD) down, louder, higher voice;
                         coupling with the therapist lost
coregulate  420-600      therapist co-regulates: calm, speaking more; the client's slow HR
                         follows the therapist's by 2 s; client returns to the window
calm        600-780      both calm, loosely coupled
withdrawal  780-960      client withdrawal/hypoarousal: HR low, quiet, long pauses, flat pitch
repair      960-end      repair: client back in the window, strongly coupled (therapist leads)
=========== ============ ===================================================================

Everything is generated from ``seed``: the beat series and utterance schedule up front (a few
thousand events), the waveforms lazily per one-second block, so a 50-minute session costs
little memory and any chunking yields the same samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import AsyncIterator, Iterator

import numpy as np

from .base import Source
from .chunk import Chunk, StreamInfo, StreamKind
from .pacing import FastForward, paced

ECG_RATE = 130.0
AUDIO_RATE = 16000
#: 2026-01-01 10:00:00 UTC: a fixed origin keeps outputs identical run to run.
SIM_UTC0 = 1767261600.0


@dataclass(frozen=True)
class PersonState:
    """Scripted physiological and vocal state of one person during a phase."""

    hr_bpm: float
    rsa_ms: float  # peak respiratory sinus arrhythmia amplitude of RR; drives RMSSD/HF
    breath_rpm: float
    f0_hz: float
    f0_range_st: float  # spread of syllable pitch (semitones, SD)
    level_db: float  # speech level re full scale
    syllable_rate: float  # syllables per second while talking
    talk_share: float  # share of the phase this person holds the floor
    pause_ratio: float  # share of silence inside own turns
    zone: str  # ground-truth zone: window / hyper / hypo


CLIENT_CALM = PersonState(72, 38, 12, 210, 2.0, -24, 4.0, 0.5, 0.25, "window")
CLIENT_HYPER = PersonState(102, 7, 20, 265, 3.5, -15, 5.5, 0.7, 0.1, "hyper")
CLIENT_HYPO = PersonState(61, 55, 10, 190, 0.5, -36, 2.0, 0.15, 0.7, "hypo")
THERAPIST_CALM = PersonState(66, 42, 11, 115, 1.8, -24, 3.8, 0.5, 0.25, "window")
THERAPIST_SOOTHING = PersonState(64, 45, 9.5, 110, 1.5, -25, 3.2, 0.65, 0.3, "window")


@dataclass(frozen=True)
class Phase:
    """One scripted phase: states of both people and the coupling of their slow heart rhythms.

    ``coupling`` in [0, 1] mixes the client's slow HR fluctuation with the therapist's,
    delayed by ``lag_s`` (positive: therapist leads, client follows).
    """

    name: str
    start: float
    end: float
    client: PersonState
    therapist: PersonState
    coupling: float
    lag_s: float = 2.0


DEFAULT_PHASES: tuple[Phase, ...] = (
    Phase("baseline", 0, 300, CLIENT_CALM, THERAPIST_CALM, 0.5),
    Phase("hyper", 300, 420, CLIENT_HYPER, THERAPIST_CALM, 0.0),
    Phase("coregulate", 420, 600, CLIENT_CALM, THERAPIST_SOOTHING, 0.9),
    Phase("calm", 600, 780, CLIENT_CALM, THERAPIST_CALM, 0.5),
    Phase("withdrawal", 780, 960, CLIENT_HYPO, THERAPIST_CALM, 0.0),
    Phase("repair", 960, 1200, CLIENT_CALM, THERAPIST_SOOTHING, 0.9),
)


def scripted_phases(duration_s: float) -> tuple[Phase, ...]:
    """The default script stretched to ``duration_s`` (the 300-s baseline is kept as is)."""
    base_end = DEFAULT_PHASES[0].end
    if duration_s <= base_end:
        raise ValueError(f"a simulated session needs more than {base_end:.0f} s (the baseline)")
    scale = (duration_s - base_end) / (DEFAULT_PHASES[-1].end - base_end)

    def stretch(t: float) -> float:
        return t if t <= base_end else base_end + (t - base_end) * scale

    return tuple(
        Phase(p.name, stretch(p.start), stretch(p.end), p.client, p.therapist, p.coupling, p.lag_s)
        for p in DEFAULT_PHASES
    )


@dataclass
class SimulationTruth:
    """What the simulator was told to produce, for tests to compare against."""

    phases: tuple[Phase, ...]
    beat_times: dict[str, np.ndarray] = field(default_factory=dict)  # session s
    rr_ms: dict[str, np.ndarray] = field(default_factory=dict)  # interval ending at each beat
    utterances: dict[str, np.ndarray] = field(default_factory=dict)  # rows: start, end

    def phase_at(self, t: float) -> Phase:
        """The phase scripted at session time ``t`` (s); the last phase after the end."""
        for p in self.phases:
            if p.start <= t < p.end:
                return p
        return self.phases[-1]

    def phase(self, name: str) -> Phase:
        """The phase called ``name`` (``StopIteration`` if there is none)."""
        return next(p for p in self.phases if p.name == name)

    def zone(self, participant: str, t: float) -> str:
        """The zone scripted for ``participant`` at session time ``t`` (s)."""
        return getattr(self.phase_at(t), participant).zone

    def speaking(self, participant: str, t: float) -> bool:
        """Whether ``participant`` is scripted to speak at session time ``t`` (s)."""
        u = self.utterances[participant]
        i = int(np.searchsorted(u[:, 0], t, side="right")) - 1
        return i >= 0 and t < u[i, 1]


class _Schedule:
    """Smoothly interpolated per-person scripted values (20-s cosine transitions between phases)."""

    TRANSITION_S = 20.0

    def __init__(self, phases: tuple[Phase, ...], who: str):
        self.phases = phases
        self.who = who

    def value(self, attr: str, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        out = np.full(t.shape, getattr(getattr(self.phases[0], self.who), attr), dtype=float)
        for prev, nxt in zip(self.phases[:-1], self.phases[1:]):
            a = getattr(getattr(prev, self.who), attr)
            b = getattr(getattr(nxt, self.who), attr)
            w = np.clip((t - nxt.start) / self.TRANSITION_S, 0.0, 1.0)
            w = 0.5 - 0.5 * np.cos(np.pi * w)
            out = np.where(t >= nxt.start, a + (b - a) * w, out)
        return out


def _slow_fluctuation(rng: np.random.Generator, n_s: int) -> np.ndarray:
    """Band-limited (about 0.01-0.08 Hz) unit-variance noise sampled at 1 Hz: slow HR waves."""
    from scipy.signal import butter, sosfiltfilt

    x = rng.standard_normal(n_s + 200)
    sos = butter(2, [0.01, 0.08], btype="band", fs=1.0, output="sos")
    y = sosfiltfilt(sos, x)[100:-100]
    return y / (np.std(y) + 1e-12)


def _interp_per_second(wave: list[float], t: float) -> float:
    """``np.interp(t, np.arange(len(wave)), wave)``, the same float, in plain Python.

    NumPy's ``interp`` lets go of the GIL inside every call (its grid is longer than NumPy's
    threading threshold). Called once per beat between Python statements, those thousands of
    short releases kept a server's event loop from ever taking the GIL back while a Simulator
    was being built in a worker thread: 230 ms stalls (the convoy effect of CPython's GIL,
    bpo-7946; ``bench/bench_create_stall.py``). The arithmetic is NumPy's (``arr_interp``):
    ``slope * (t - x[j]) + y[j]`` with ``slope = (y[j+1] - y[j]) / (x[j+1] - x[j])``, here with
    ``x[j] = j``.

    Parameters
    ----------
    wave : list of float
        Values at whole seconds 0, 1, ..., ``len(wave) - 1``.
    t : float
        Session time (s); outside the grid the end value is returned, as ``np.interp`` does.

    Returns
    -------
    float
        The linearly interpolated value at ``t``.
    """
    if t <= 0.0:
        return wave[0]
    j = int(t)
    if j >= len(wave) - 1:
        return wave[-1]
    if t == j:
        return wave[j]
    return (wave[j + 1] - wave[j]) * (t - j) + wave[j]  # the slope's division by x[j+1] - x[j] = 1.0 is exact


class Simulator(Source):
    """Simulated dyadic session (client and therapist) as a :class:`~coregulate.sensors.base.Source`.

    Parameters
    ----------
    seed : int
        Everything is derived from it; the same seed gives the same samples.
    duration_s : float
        Session length; the script is stretched to fit (baseline stays 300 s).
    audio : bool
        Produce the two microphone streams (16 kHz). Without them the session is ECG + RR only.
    rr : bool
        Produce the strap's RR-interval streams next to the ECG.
    speed : float or None
        Pacing for ``async for``: 1.0 = live, N = N× real time, None = as fast as possible.
    fast_forward : FastForward or None
        A faster pacing for the start of the session (the demo's baseline); pacing only.
    chunk_s : float
        Length of the chunks produced (the estimators do not depend on it).
    """

    participants = ("client", "therapist")

    def __init__(self, seed: int = 0, duration_s: float = 1200.0, *, audio: bool = True, rr: bool = True,
                 speed: float | None = None, chunk_s: float = 1.0, fast_forward: FastForward | None = None):
        self.seed = int(seed)
        self.duration_s = float(duration_s)
        self.audio = audio
        self.rr = rr
        self.speed = speed
        self.fast_forward = fast_forward
        self.chunk_s = float(chunk_s)
        self.utc0 = SIM_UTC0
        self.truth = SimulationTruth(scripted_phases(self.duration_s))
        label = f"simulator seed={self.seed}"
        self.streams: list[StreamInfo] = []
        for who in self.participants:
            self.streams.append(StreamInfo(who, StreamKind.ECG, ECG_RATE, label=label, utc_start=self.utc0))
            if rr:
                self.streams.append(StreamInfo(who, StreamKind.RR, None, label=label, utc_start=self.utc0))
            if audio:
                self.streams.append(StreamInfo(who, StreamKind.AUDIO, float(AUDIO_RATE), label=label, utc_start=self.utc0))
        self._make_beats()
        if audio:
            self._make_utterances()

    # -- generation of the event-level script ------------------------------------------------

    def _rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, *key])

    def _make_beats(self) -> None:
        n_s = int(math.ceil(self.duration_s)) + 10
        phases = self.truth.phases
        slow = {who: _slow_fluctuation(self._rng(1, i), n_s) for i, who in enumerate(self.participants)}
        # The client's slow HR wave mixes in the therapist's, delayed by the phase's lag, so the
        # scripted leader and lag are the ground truth of the synchrony estimators.
        sec = np.arange(n_s, dtype=float)
        coupling = np.array([self.truth.phase_at(t).coupling for t in sec])
        lag = np.array([self.truth.phase_at(t).lag_s for t in sec])
        th_delayed = np.interp(sec - lag, sec, slow["therapist"])
        client_slow = coupling * th_delayed + np.sqrt(1 - coupling**2) * slow["client"]
        slow_waves = {"client": client_slow, "therapist": slow["therapist"]}
        for i, who in enumerate(self.participants):
            sched = _Schedule(phases, who)
            rng = self._rng(2, i)
            t, times, rrs, breath_phase = 0.3 + 0.2 * rng.random(), [], [], 0.0
            last = t
            wave = slow_waves[who].tolist()
            while t < self.duration_s + 2:
                hr = float(sched.value("hr_bpm", t)) + 3.0 * _interp_per_second(wave, t)
                rsa = float(sched.value("rsa_ms", t))
                breath_hz = float(sched.value("breath_rpm", t)) / 60.0
                rr = 60000.0 / hr + rsa * math.sin(2 * math.pi * breath_hz * t + breath_phase) + rng.normal(0, 4.0)
                rr = round(max(rr, 300.0) / 1000 * 1024) / 1024 * 1000  # strap resolution 1/1024 s
                t = last + rr / 1000.0
                times.append(t)
                rrs.append(rr)
                last = t
            self.truth.beat_times[who] = np.array(times)
            self.truth.rr_ms[who] = np.array(rrs)

    def _make_utterances(self) -> None:
        """Turn-taking: alternate turns whose lengths follow each person's scripted talk share."""
        rng = self._rng(3)
        phases = self.truth.phases
        turns: dict[str, list[tuple[float, float]]] = {w: [] for w in self.participants}
        t = 1.0
        speaker = 0
        while t < self.duration_s:
            who = self.participants[speaker]
            state = getattr(self.truth.phase_at(t), who)
            other = getattr(self.truth.phase_at(t), self.participants[1 - speaker])
            share = state.talk_share / max(state.talk_share + other.talk_share, 1e-6)
            turn = float(rng.uniform(4.0, 10.0)) * (0.4 + 1.2 * share)
            gap = float(rng.uniform(0.3, 1.2)) * (1 + 3 * state.pause_ratio)
            turns[who].append((t, min(t + turn, self.duration_s)))
            t += turn + gap
            speaker = 1 - speaker
        self._syllables: dict[str, np.ndarray] = {}
        for i, who in enumerate(self.participants):
            sched = _Schedule(phases, who)
            rng_p = self._rng(4, i)
            syl, utt = [], []
            for (a, b) in turns[who]:
                s = a
                while s < b:
                    # pauses inside a turn, then a run of syllables (an utterance)
                    pause = float(sched.value("pause_ratio", s))
                    run = float(rng_p.uniform(1.0, 3.0)) * (1.2 - pause)
                    run_end = min(s + max(run, 0.4), b)
                    rate = float(sched.value("syllable_rate", s))
                    f0 = float(sched.value("f0_hz", s))
                    spread = float(sched.value("f0_range_st", s))
                    level = float(sched.value("level_db", s))
                    utt.append((s, run_end))
                    u = s
                    while u < run_end - 0.08:
                        dur = min(float(rng_p.uniform(0.6, 0.9)) / rate, run_end - u)
                        st_a = rng_p.normal(0, spread)
                        st_b = st_a + rng_p.normal(-0.5, spread / 2)
                        amp = 10 ** ((level + rng_p.normal(0, 1.5)) / 20)
                        syl.append((u, dur, f0 * 2 ** (st_a / 12), f0 * 2 ** (st_b / 12), amp))
                        u += 1.0 / rate
                    s = run_end + pause * float(rng_p.uniform(1.0, 3.0)) + 0.15
            self._syllables[who] = np.array(syl).reshape(-1, 5)
            self.truth.utterances[who] = np.array(utt).reshape(-1, 2)

    # -- waveforms, per block ---------------------------------------------------------------

    def _ecg(self, who: str, t: np.ndarray) -> np.ndarray:
        """Sum of Gaussian P-QRS-T waves at each beat (after McSharry et al. 2003), in µV."""
        beats = self.truth.beat_times[who]
        lo = int(np.searchsorted(beats, t[0] - 0.8))
        hi = int(np.searchsorted(beats, t[-1] + 0.8))
        y = np.zeros_like(t)
        waves = ((-0.20, 0.025, 120.0), (-0.03, 0.010, -150.0), (0.0, 0.011, 1100.0),
                 (0.03, 0.010, -250.0), (0.25, 0.045, 300.0))
        breath = float(getattr(self.truth.phases[0], who).breath_rpm) / 60.0
        for b in beats[lo:hi]:
            # respiration modulates R amplitude a little (ECG-derived respiration is possible)
            gain = 1.0 + 0.08 * math.sin(2 * math.pi * breath * b)
            d = t - b
            near = np.abs(d) < 0.5
            if not near.any():
                continue
            dn = d[near]
            for (mu, sd, amp) in waves:
                y[near] += gain * amp * np.exp(-0.5 * ((dn - mu) / sd) ** 2)
        return y

    def _noise(self, key: int, who: str, rate: float, idx: np.ndarray, sd: float) -> np.ndarray:
        """White noise for samples ``idx`` drawn per whole second of the session, so the samples
        do not depend on how the session is cut into chunks."""
        out = np.empty(len(idx))
        sec = np.floor(idx / rate + 1e-9).astype(int)
        for k in np.unique(sec):
            first = int(math.ceil(k * rate - 1e-9))
            count = int(math.ceil((k + 1) * rate - 1e-9)) - first
            draw = self._rng(key, self.participants.index(who), int(k)).normal(0, sd, count)
            m = sec == k
            out[m] = draw[idx[m] - first]
        return out

    def _ecg_samples(self, who: str, idx: np.ndarray) -> np.ndarray:
        t = idx / ECG_RATE
        wander = 60.0 * np.sin(2 * math.pi * 0.2 * t + self.participants.index(who))
        return self._ecg(who, t) + wander + self._noise(10, who, ECG_RATE, idx, 12.0)

    def _voice(self, who: str, t: np.ndarray) -> np.ndarray:
        """Voiced syllables: 12 harmonics with a gliding F0 and a raised-cosine envelope."""
        syl = self._syllables[who]
        y = np.zeros_like(t)
        if not len(syl):
            return y
        lo = int(np.searchsorted(syl[:, 0], t[0] - 0.6))
        hi = int(np.searchsorted(syl[:, 0], t[-1]))
        for (s, dur, fa, fb, amp) in syl[max(lo, 0):hi]:
            d = t - s
            m = (d >= 0) & (d < dur)
            if not m.any():
                continue
            dd = d[m]
            phase = 2 * np.pi * (fa * dd + (fb - fa) * dd**2 / (2 * dur))
            env = 0.5 - 0.5 * np.cos(2 * np.pi * dd / dur)
            wave = np.zeros_like(dd)
            for h in range(1, 13):
                wave += np.sin(h * phase) / h
            y[m] += amp * env * wave / 1.8
        return y

    def _audio_samples(self, who: str, idx: np.ndarray) -> np.ndarray:
        t = idx / AUDIO_RATE
        other = self.participants[1 - self.participants.index(who)]
        # crosstalk: the other person's voice reaches this lapel mic 18 dB down, 1 ms later
        y = self._voice(who, t) + 10 ** (-18 / 20) * self._voice(other, t - 0.001)
        return y + self._noise(11, who, AUDIO_RATE, idx, 10 ** (-62 / 20))

    # -- the source interface ---------------------------------------------------------------

    def chunks(self) -> Iterator[Chunk]:
        """All chunks of the session in time order (as fast as the caller pulls them)."""
        by_kind = {(s.participant, s.kind): s for s in self.streams}
        n_blocks = int(math.ceil(self.duration_s / self.chunk_s))
        beat_idx = {w: 0 for w in self.participants}
        for k in range(n_blocks):
            a, b = k * self.chunk_s, min((k + 1) * self.chunk_s, self.duration_s)
            for who in self.participants:
                info = by_kind[(who, StreamKind.ECG)]
                i0, i1 = int(round(a * ECG_RATE)), int(round(b * ECG_RATE))
                yield Chunk(info, self._ecg_samples(who, np.arange(i0, i1)), t0=i0 / ECG_RATE)
                if self.rr:
                    beats = self.truth.beat_times[who]
                    j = int(np.searchsorted(beats, b, side="left"))
                    sel = slice(beat_idx[who], j)
                    beat_idx[who] = j
                    yield Chunk(by_kind[(who, StreamKind.RR)], self.truth.rr_ms[who][sel].copy(),
                                times=beats[sel].copy(), t_end=b)
                if self.audio:
                    j0, j1 = int(round(a * AUDIO_RATE)), int(round(b * AUDIO_RATE))
                    yield Chunk(by_kind[(who, StreamKind.AUDIO)], self._audio_samples(who, np.arange(j0, j1)),
                                t0=j0 / AUDIO_RATE)

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return paced(self.chunks(), self.speed, fast_forward=self.fast_forward)
