"""Request and response bodies of the REST API (pydantic, published in the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints, field_validator, model_validator

from ...models.config import PipelineConfig
from ..session.runner import SessionStatus

SESSION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class SourceSpec(BaseModel):
    """Where a session's data comes from."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["simulator", "files", "live"] = Field(
        description="simulated dyad, recorded files named by SPECs, or live devices (started by `coregulate record` only)")
    seed: int = Field(0, ge=0, description="simulator: everything derives from it")
    duration_s: float = Field(1200.0, gt=0, le=6 * 3600, description="simulator: session length")
    audio: bool = Field(True, description="simulator: produce the two microphone streams")
    specs: list[str] = Field(default_factory=list, description="files: ROLE=[FORMAT:]PATH[?key=value...] strings")

    @field_validator("specs")
    @classmethod
    def _specs_nonempty_strings(cls, v: list[str]) -> list[str]:
        if any(not s.strip() for s in v):
            raise ValueError("empty SPEC string")
        return v


class SessionCreate(BaseModel):
    """A request to start a session: its source, pacing, audio storage and pipeline settings."""

    model_config = ConfigDict(extra="forbid")

    source: SourceSpec
    speed: float | Literal["max"] = Field(1.0, description="pacing: 1 = real time, N = N x, 'max' = as fast as possible")
    baseline_speed: float | Literal["max"] | None = Field(
        None, description="pacing until the baseline segment ends (the demo plays its baseline fast, then `speed`); "
                          "pacing only: the data and features are the same")
    keep_audio: bool = Field(False, description="store raw audio (off unless the participants consented)")
    # the pipeline settings travel flat on the wire; their rules are PipelineConfig's (checked below)
    window_s: float = Field(PipelineConfig.window_s, description="HRV window (s), 10 to 600")
    baseline: tuple[float, float] | None = Field(
        None, description="baseline segment [start, end] in session seconds, at least 60 s (default: the first 300 s)")
    baseline_from: list[str] | None = Field(
        None, min_length=1, description="SPECs (ROLE=[FORMAT:]PATH) of a separate resting recording of the same people "
                                        "and devices: its baseline is used from the first second (`--baseline-from`); "
                                        "excludes `baseline`")
    options: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per-family estimator options, e.g. {\"tolerance\": {\"sustain_s\": 20}}; "
                                          "an unknown family or key is refused")
    label: str = Field("", max_length=200)
    start: bool = Field(True, description="start right away")
    participant_codes: dict[str, Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")]] = Field(
        default_factory=dict, max_length=16,
        description="role -> pseudonymous code recorded with the session (never a name)")

    @field_validator("baseline_from")
    @classmethod
    def _resting_specs_nonempty(cls, v: list[str] | None) -> list[str] | None:
        return v if v is None else SourceSpec._specs_nonempty_strings(v)

    @model_validator(mode="after")
    def _one_baseline(self) -> "SessionCreate":
        if self.baseline is not None and self.baseline_from:
            raise ValueError("give either baseline (a segment of this session) or baseline_from (a resting recording)")
        return self

    @field_validator("speed", "baseline_speed")
    @classmethod
    def _speed_positive(cls, v: float | str) -> float | str:
        if isinstance(v, float) and not (0 < v <= 1000):
            raise ValueError("speed must be in (0, 1000] or 'max'")
        return v

    _config: PipelineConfig | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _pipeline_config(self) -> "SessionCreate":
        # PipelineConfig checks itself; its ConfigError (a ValueError) becomes the 422 answer
        self._config = PipelineConfig(window_s=self.window_s, baseline=self.baseline, options=self.options)
        return self

    @property
    def config(self) -> PipelineConfig:
        """The session's pipeline configuration, checked."""
        return self._config


class StreamOut(BaseModel):
    """One stream of a session: key, role, kind, rate (Hz, ``null`` if irregular), unit and label."""

    key: str
    participant: str
    kind: str
    rate: float | None = None
    unit: str | None = None
    label: str = ""


class SessionOut(BaseModel):
    """A session as listed: id, status, whether it is live, times, participants and streams."""

    id: str
    status: str = Field(description=" | ".join(SessionStatus))
    live: bool
    label: str = ""
    utc0: float | None = None
    duration_s: float | None = None
    participants: list[str] = Field(default_factory=list)
    streams: list[StreamOut] = Field(default_factory=list)
    seq: int | None = Field(None, description="last websocket sequence number (live sessions)")
    error: str | None = None
    source: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    tolerance: dict[str, float] | None = Field(None, description="window-of-tolerance thresholds on the arousal composite")
    baseline: tuple[float, float] | None = Field(None, description="baseline segment [start, end] in session seconds "
                                                                   "(zones are unknown until it is complete)")
    pacing: dict[str, Any] | None = Field(None, description="live/replayed sessions: speed, and baseline_speed with "
                                                            "fast_until_s when the baseline is played faster")


class StatusOut(SessionOut):
    """A session with its current session time (s) and, when live, its hub's counters."""

    session_time_s: float | None = None
    hub: dict[str, Any] | None = None


class SourceKind(BaseModel):
    """A kind of source a session can be started from, with its parameters described."""

    kind: str
    description: str
    parameters: dict[str, str]


#: Session times are seconds since the session's start; nothing lasts 100 days.
MAX_SESSION_T = 100 * 86400.0


def _visible(v: str | None) -> str | None:
    if v is not None and not v.strip():
        raise ValueError("an annotation needs some visible text")
    return v


class AnnotationIn(BaseModel):
    """A new annotation: time or time range (s), text and author."""

    model_config = ConfigDict(extra="forbid")

    t_s: float = Field(ge=0, le=MAX_SESSION_T)
    t_end: float | None = Field(None, ge=0, le=MAX_SESSION_T)
    text: str = Field(min_length=1, max_length=2000)
    author: str = Field("", max_length=100)

    _text_visible = field_validator("text")(_visible)


class AnnotationPatch(BaseModel):
    """Changes to an annotation: only the fields given are changed."""

    model_config = ConfigDict(extra="forbid")

    t_s: float | None = Field(None, ge=0, le=MAX_SESSION_T)
    t_end: float | None = Field(None, ge=0, le=MAX_SESSION_T)
    text: str | None = Field(None, min_length=1, max_length=2000)

    _text_visible = field_validator("text")(_visible)


class AnnotationOut(BaseModel):
    """A stored annotation with its id."""

    model_config = ConfigDict(extra="allow")

    id: int
    t_s: float
    t_end: float | None = None
    text: str
    author: str = ""


class Rows(BaseModel):
    """A time range of per-second rows (features.csv / dyad.csv columns; ``null`` = not computable)."""

    columns: list[str]
    rows: list[dict[str, Any]]


class EventsOut(BaseModel):
    """Events of a time range, each with its rule and evidence."""

    events: list[dict[str, Any]]


class EventOut(BaseModel):
    """One event as the estimators describe it (:class:`coregulate.models.base.Event`)."""

    kind: str = Field(description="e.g. leave_window, return_window, zone_change, rupture_candidate")
    t_start: float = Field(description="session seconds")
    t_end: float | None = None
    participant: str | None = Field(None, description="the person; null for dyad events")
    rule: str = ""
    label: str = Field("", description="for zone changes: 'old -> new'")
    evidence: dict[str, Any] = Field(default_factory=dict)


class ProvisionalEventUpdate(BaseModel):
    """One item of a websocket ``provisional_event`` frame (lossy; issue #15, item 3).

    A zone change or a dyad event (``rupture_candidate`` and ``therapist_dysregulated``, pushed when
    they open with ``t_end`` null; ``repair_candidate``, ``co_regulation``) found on provisional data is pushed with ``state`` = ``provisional``, then
    settled: ``confirmed`` when a final event of the same kind, person and label falls within
    ``tolerance_s`` of it (``final_id`` is that event's id, as in the ``events`` frames), or
    ``withdrawn`` when the final rows reached ``due_s`` without one: the person's for a zone change
    (``due_s`` = ``event.t_start + tolerance_s``), the dyad's for a dyad event (the second its rule
    was met + 30 s; a rupture or therapist spell the final tier holds open stays pending until its
    final event).
    ``pid`` is the same in all updates of one provisional event.
    """

    pid: int = Field(ge=1, description="the provisional event's number in the session")
    state: Literal["provisional", "confirmed", "withdrawn"]
    event: EventOut
    final_id: int | None = Field(None, description="confirmed: id of the final event")
    final_t_start: float | None = Field(None, description="confirmed: t_start of the final event")
    final_upto_s: int | None = Field(None, description="the newest final second (the person's; a dyad event: the dyad's) when settled")
    tolerance_s: float = Field(description="matching tolerance and look-ahead (s)")
    due_s: float | None = Field(None, description="the final second (the person's; a dyad event: the dyad's) "
                                "at which, without a match, it is withdrawn")


class WithdrawnEventOut(EventOut):
    """A provisional event that the final data withdrew (kept by the recorder as an audit record)."""

    pid: int
    final_upto_s: float | None = None


class WithdrawnEventsOut(BaseModel):
    """The withdrawn provisional events of a session, in time order (empty for files without them)."""

    withdrawn_events: list[WithdrawnEventOut]


class WaveformOut(BaseModel):
    """Decimated raw samples of one stream: times (s) and values (``null`` in gaps)."""

    stream: str
    t: list[float]
    v: list[float | None]


class Role(BaseModel):
    """The role the presented token grants."""

    role: Literal["supervisor", "viewer"]


class ProvisionalValue(BaseModel):
    """One value of a live ``provisional`` websocket frame (issue #15; :mod:`coregulate.server.web.hub`).

    Provisional values reach viewers before the person's row of their second is final; the
    ``features`` row of that second replaces them, and the recorder never keeps them. The frame
    type (``"provisional"``, lossy) is what marks them; ``family`` says which estimator they come
    from. Heart values are not artefact-corrected and may differ from the final row; voice, skin
    conductance and movement values are the final row's columns, shown before the row is complete (the
    row waits for the heart's look-ahead). Columns a family does not produce are absent; ``null``
    means "not computable for this moment", as in the final rows.
    """

    model_config = ConfigDict(extra="allow")

    participant: str
    family: str = Field("heart", description="heart (each beat); voice, eda or movement (each second, once its data are in)")
    t: float = Field(description="session time the values describe: the newest beat or device HR sample (heart); "
                                 "the end of the second t_s (voice, eda, movement)")
    # heart (models/provisional_heart.py)
    hr_inst_bpm: float | None = None
    hr_bpm: float | None = None
    heart_source: str | None = None
    beat_times: list[float] | None = Field(None, description="heart: beats newly used, in order")
    beat_hr_bpm: list[float | None] | None = Field(None, description="heart: their instantaneous HR (null: a run's first beat)")
    beat_source: str | None = None
    # voice (models/voice.py, the features.csv columns)
    f0_st: float | None = None
    f0_range_st: float | None = None
    loudness_db: float | None = None
    speech_rate: float | None = None
    pause_ratio: float | None = None
    vocal_arousal: float | None = None
    speaking: int | None = None
    talk_share: float | None = None
    response_latency_s: float | None = None
    overlap: float | None = None
    # skin conductance (models/eda.py)
    eda_scl_us: float | None = None
    scr_per_min: float | None = None
    # movement and breathing from a belt (models/movement.py)
    movement: float | None = None
    breathing_rpm: float | None = None
    # what the newest data give (models/tolerance.py ToleranceEstimator.peek), once the baseline is frozen
    arousal: float | None = None
    arousal_confidence: float | None = None
    zone: str | None = Field(None, description="the final tier's current zone")
    zone_provisional: str | None = Field(None, description="the zone the final tier would call if this were the next final second")
