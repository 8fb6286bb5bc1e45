"""Pipeline configuration: every tunable number in one place, checked once, saved with each session.

One set of rules, here, for every way a session is configured: the command line (``--window``,
``--baseline``), the REST API (``SessionCreate`` embeds this class), ``batch`` manifests and the
Python API. A setting out of its rules raises :class:`ConfigError`, naming the key and what is
allowed, when the :class:`PipelineConfig` is made, before any data is read.

Each estimator reads its option family through :func:`family_options`, so that an unknown key
cannot be dropped silently by one estimator and refused by another.
"""

from __future__ import annotations

import importlib
import json
import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from ..sensors.errors import InputError

#: The HRV window range (seconds): below 10 s RMSSD rests on a handful of beats; above 10 min a
#: "moment-by-moment" index no longer follows the session.
WINDOW_RANGE_S = (10.0, 600.0)

#: Shortest baseline segment (seconds): one minute is the shortest recording the Task Force
#: (1996) accepts for HRV, and the HRV window (60 s by default) needs that much to fill once.
MIN_BASELINE_S = 60.0

#: Option family -> the dataclasses that read its keys, as ``"module:Class"`` of ``models/``
#: (imported only when the family is given, so that a config without voice options never
#: imports the voice code). A family may be read by several estimators (``voice``: the audio
#: front end and the voice estimator); its keys are the union of their fields.
OPTION_FAMILIES: dict[str, tuple[str, ...]] = {
    "heart": ("heart:HeartOptions",),
    "eda": ("eda:EdaOptions",),
    "movement": ("movement:MovementOptions",),
    "voice": ("voice_options:FrontEndOptions", "voice_options:VoiceOptions"),
    "autonomic": ("autonomic:AutonomicOptions",),
    "tolerance": ("tolerance:ToleranceOptions",),
    "dyad": ("dyad:DyadParams",),
}

T = TypeVar("T")


class ConfigError(InputError, ValueError):
    """A pipeline setting outside its rules: names the key and what is allowed.

    An :class:`~coregulate.sensors.errors.InputError` (the command line turns it into a usage
    error, exit 2; a manifest row into that row's error) and a :class:`ValueError` (pydantic turns
    it into a 422 answer of the REST API), with the same text everywhere.
    """


def _family_classes(family: str) -> tuple[type, ...]:
    classes = []
    for ref in OPTION_FAMILIES[family]:
        module, _, name = ref.partition(":")
        classes.append(getattr(importlib.import_module(f"{__package__}.{module}"), name))
    return tuple(classes)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_value(family: str, f, value: Any) -> Any:
    """``value`` for field ``f`` of a family's dataclass, by the type of its default; lists become
    tuples (a JSON round trip turns tuples into lists)."""
    default = f.default if f.default is not MISSING else None
    key = f"options.{family}.{f.name}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{value!r} is not true or false", field=key, expected="a boolean")
    elif isinstance(default, int):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{value!r} is not a whole number", field=key, expected=f"an integer like {default}")
    elif isinstance(default, float):
        if not _is_number(value) or not math.isfinite(value):
            raise ConfigError(f"{value!r} is not a finite number", field=key, expected=f"a number like {default:g}")
    elif isinstance(default, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{value!r} is not a list", field=key, expected=f"a list like {list(default)}")
        return tuple(value)
    elif isinstance(default, str) and not isinstance(value, str):
        raise ConfigError(f"{value!r} is not a string", field=key, expected=f"a string like {default!r}")
    return value


def _checked_family(family: Any, opts: Any) -> dict[str, Any]:
    """The options of one family, checked: known family, known keys, values of the right type,
    and each reading dataclass accepts them (its own ``__post_init__`` checks run)."""
    if family not in OPTION_FAMILIES:
        raise ConfigError(f"unknown option family {family!r}", field="options",
                          expected="one of " + ", ".join(sorted(OPTION_FAMILIES)))
    if not isinstance(opts, dict):
        raise ConfigError(f"{opts!r} is not a mapping", field=f"options.{family}", expected="key: value pairs")
    classes = _family_classes(family)
    by_name = {f.name: f for cls in classes for f in fields(cls)}
    unknown = sorted(set(opts) - set(by_name))
    if unknown:
        raise ConfigError(f"unknown {family} option(s) {', '.join(map(repr, unknown))}", field=f"options.{family}",
                          expected="some of " + ", ".join(sorted(by_name)))
    out = {k: _check_value(family, by_name[k], v) for k, v in opts.items()}
    for cls in classes:
        mine = {f.name for f in fields(cls)}
        try:
            cls(**{k: v for k, v in out.items() if k in mine})
        except ConfigError:
            raise
        except (TypeError, ValueError) as exc:  # a rule of the dataclass itself
            raise ConfigError(str(exc), field=f"options.{family}") from None
    return out


def check_window(window_s: Any) -> Any:
    """``window_s`` if within :data:`WINDOW_RANGE_S`; else :class:`ConfigError`."""
    lo, hi = WINDOW_RANGE_S
    if not _is_number(window_s) or not lo <= window_s <= hi:
        shown = f"{window_s:g}" if _is_number(window_s) else repr(window_s)
        raise ConfigError(f"{shown} s is out of range", field="window_s", expected=f"{lo:g} to {hi:g} s")
    return window_s


def check_baseline(segment: Any, min_s: float = MIN_BASELINE_S) -> tuple[float, float] | None:
    """A baseline segment ``(START, END)`` in session seconds, ``0 <= START``, at least ``min_s``
    long (``END`` may be infinite: the whole recording); ``None`` stays ``None``."""
    if segment is None:
        return None
    expected = f"[START, END] with 0 <= START < END, at least {min_s:g} s long"
    if not isinstance(segment, (list, tuple)) or len(segment) != 2 or not all(_is_number(x) for x in segment):
        raise ConfigError(f"{segment!r} is not a pair of numbers", field="baseline", expected=expected)
    a, b = float(segment[0]), float(segment[1])
    if math.isnan(a) or math.isnan(b) or not 0 <= a <= b or math.isinf(a):
        raise ConfigError(f"{a:g}-{b:g} is empty or negative", field="baseline", expected=expected)
    if b - a < min_s:
        raise ConfigError(f"{a:g}-{b:g} is shorter than {min_s:g} s", field="baseline", expected=expected)
    return (a, b)

#: ``origin`` of a ``baseline_reference`` taken from another recording than the session's own
#: (``--baseline-from``): what it measured (a voice level, say) may differ from the session's.
BASELINE_FROM_RECORDING = "separate resting recording"
#: ``origin`` of a ``baseline_reference`` taken from the session's own recording, whole, because
#: it is shorter than the baseline segment.
BASELINE_WHOLE_RECORDING = "whole recording (shorter than the baseline segment)"


@dataclass
class PipelineConfig:
    """Settings for all estimators of a session, checked when made.

    Rules (the same for the command line, the REST API, ``batch`` and the Python API; a breach
    raises :class:`ConfigError` naming the key and what is allowed):

    - ``window_s`` within :data:`WINDOW_RANGE_S` (10 to 600 s);
    - ``baseline`` ``None`` or ``(START, END)`` with ``0 <= START`` and ``END - START >=``
      :attr:`MIN_BASELINE_S` (60 s; ``END`` may be infinite); ``default_baseline_s`` at least as long;
    - ``options``: families of :data:`OPTION_FAMILIES` only, keys of their dataclasses only,
      values of the type of the key's default (whole numbers, numbers, booleans, lists), and
      whatever the dataclass itself checks (e.g. ``heart.beat_sources``);
    - ``baseline_reference``: ``None`` or participant -> family -> mapping.

    Parameters
    ----------
    window_s : float
        Sliding window of the HRV features (seconds).
    baseline : (float, float) or None
        Explicit baseline segment in session seconds; ``None`` means the first
        ``default_baseline_s`` seconds.
    default_baseline_s : float
        Length of the default baseline.
    baseline_reference : dict or None
        A baseline computed beforehand from a separate resting recording (``--baseline-from``):
        participant -> estimator family (``"tolerance"``, ``"voice"``) -> that estimator's frozen
        baseline (see ``baseline_reference()`` of :class:`~coregulate.models.tolerance.ToleranceEstimator`
        and :class:`~coregulate.models.voice.VoiceEstimator`). Estimators given one use it from the
        first second and skip ``baseline``.
    options : dict
        Per-family overrides, e.g. ``{"tolerance": {"sustain_s": 20}}``; each estimator
        family documents its keys in its own config dataclass (:data:`OPTION_FAMILIES`).

    Raises
    ------
    ConfigError
        A setting outside the rules above.
    """

    #: Shortest baseline segment; tests of tiny synthetic recordings use a subclass with less.
    MIN_BASELINE_S: ClassVar[float] = MIN_BASELINE_S

    window_s: float = 60.0
    baseline: tuple[float, float] | None = None
    default_baseline_s: float = 300.0
    baseline_reference: dict[str, dict[str, Any]] | None = None
    options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_window(self.window_s)  # values are kept as given: the saved JSON stays the same
        if self.baseline is not None:
            check_baseline(self.baseline, self.MIN_BASELINE_S)
            self.baseline = tuple(self.baseline)
        d = self.default_baseline_s
        if not _is_number(d) or not self.MIN_BASELINE_S <= d < math.inf:
            raise ConfigError(f"{d!r} s is out of range", field="default_baseline_s",
                              expected=f"a finite number of seconds, at least {self.MIN_BASELINE_S:g}")
        if not isinstance(self.options, dict):
            raise ConfigError(f"{self.options!r} is not a mapping", field="options", expected="family: {key: value}")
        for fam, opts in self.options.items():
            _checked_family(fam, opts)
        ref = self.baseline_reference
        if ref is not None and not (isinstance(ref, dict) and all(
                isinstance(v, dict) and all(isinstance(x, dict) for x in v.values()) for v in ref.values())):
            raise ConfigError("is not participant -> family -> mapping", field="baseline_reference",
                              expected="the output of --baseline-from")

    @property
    def baseline_segment(self) -> tuple[float, float]:
        """The baseline segment in force: ``baseline``, else the first ``default_baseline_s``."""
        return self.baseline if self.baseline is not None else (0.0, self.default_baseline_s)

    def family(self, name: str) -> dict[str, Any]:
        """A copy of the options given for family ``name`` (empty if none)."""
        return dict(self.options.get(name, {}))

    def to_json(self) -> str:
        """The config as saved with a session (sorted keys, so equal configs give equal text)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "PipelineConfig":
        """A config from :meth:`to_json`, checked by today's rules."""
        return cls(**cls._fields_of(text))

    @classmethod
    def as_recorded(cls, text: str) -> "PipelineConfig":
        """The config a session file was recorded with, *not* checked: a session made under
        other rules (an older version, a shorter baseline) must stay readable as it was."""
        d = cls._fields_of(text, strict=False)
        cfg = object.__new__(cls)
        for f in fields(cls):
            setattr(cfg, f.name, d[f.name] if f.name in d else
                    (f.default if f.default is not MISSING else f.default_factory()))
        return cfg

    @classmethod
    def _fields_of(cls, text: str, strict: bool = True) -> dict[str, Any]:
        d = json.loads(text)
        if d.get("baseline") is not None:
            d["baseline"] = tuple(d["baseline"])
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown and strict:
            raise ConfigError(f"unknown setting(s) {', '.join(map(repr, unknown))}", field="config",
                              expected="some of " + ", ".join(sorted(names)))
        return {k: v for k, v in d.items() if k in names}


def family_options(config: PipelineConfig | None, family: str, cls: type[T]) -> T:
    """The dataclass ``cls`` of option family ``family`` from ``config`` (defaults for ``None``).

    The one way an estimator reads its options. The config was checked when made; the keys are
    checked again here, so that options changed after that (or a config that was never checked,
    :meth:`PipelineConfig.as_recorded`) cannot be dropped silently.
    """
    opts = config.family(family) if config is not None else {}
    if opts:
        opts = _checked_family(family, opts)
    mine = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in opts.items() if k in mine})
