"""Pipeline configuration: every tunable number in one place, saved with each session."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

#: ``origin`` of a ``baseline_reference`` taken from another recording than the session's own
#: (``--baseline-from``): what it measured (a voice level, say) may differ from the session's.
BASELINE_FROM_RECORDING = "separate resting recording"
#: ``origin`` of a ``baseline_reference`` taken from the session's own recording, whole, because
#: it is shorter than the baseline segment.
BASELINE_WHOLE_RECORDING = "whole recording (shorter than the baseline segment)"


@dataclass
class PipelineConfig:
    """Settings for all estimators of a session.

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
        Per-family overrides, e.g. ``{"tolerance": {"hyper_sustain_s": 20}}``; each estimator
        family documents its keys in its own config dataclass.
    """

    window_s: float = 60.0
    baseline: tuple[float, float] | None = None
    default_baseline_s: float = 300.0
    baseline_reference: dict[str, dict[str, Any]] | None = None
    options: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def baseline_segment(self) -> tuple[float, float]:
        return self.baseline if self.baseline is not None else (0.0, self.default_baseline_s)

    def family(self, name: str) -> dict[str, Any]:
        return dict(self.options.get(name, {}))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "PipelineConfig":
        d = json.loads(text)
        if d.get("baseline") is not None:
            d["baseline"] = tuple(d["baseline"])
        return cls(**d)
