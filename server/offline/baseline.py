"""Baselines taken from a whole recording: a separate resting recording (``--baseline-from``) or,
for a recording shorter than the baseline segment, the recording itself.

The recording runs once through the same pipeline with its whole length as the baseline
segment; each estimator that keeps a baseline (``baseline_family`` and ``baseline_reference()``:
:class:`~coregulate.models.tolerance.ToleranceEstimator`, :class:`~coregulate.models.voice.VoiceEstimator`)
hands back its frozen medians and spreads, which travel in ``PipelineConfig.baseline_reference``
(saved with the session) and are used from the session's first second.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace
from typing import Any

from ...models.config import BASELINE_FROM_RECORDING, BASELINE_WHOLE_RECORDING, PipelineConfig
from ...models.pipeline import SessionPipeline
from ...sensors.errors import InputError
from ..session.sources import build_source

#: What the session says about where its baseline came from.
FROM_RECORDING = BASELINE_FROM_RECORDING
WHOLE_SHORT_RECORDING = BASELINE_WHOLE_RECORDING


def reference_from(specs: list[str], config: PipelineConfig, origin: str) -> dict[str, dict[str, Any]]:
    """Baseline reference of every person in ``specs``: participant -> family -> frozen baseline."""
    source = build_source(specs, speed=None)
    whole = replace(config, baseline=(0.0, math.inf), baseline_reference=None)
    pipeline = SessionPipeline(source.streams, whole, source.utc0)

    async def drain() -> None:
        try:
            async for chunk in source:
                pipeline.update(chunk)
        finally:
            await source.aclose()

    asyncio.run(drain())
    pipeline.finish()
    ref: dict[str, dict[str, Any]] = {}
    for who, pp in pipeline.participants.items():
        for est in [*pp.stream_estimators, *pp.row_estimators]:
            family = getattr(est, "baseline_family", None)
            if family is not None:
                ref.setdefault(who, {})[family] = {**est.baseline_reference(), "origin": origin}
    return ref


def with_baseline_from(specs: list[str] | None, config: PipelineConfig, roles: list[str] | None) -> PipelineConfig:
    """``config`` with the baseline of the resting recording ``specs`` (``None``: unchanged).

    Every role of the resting recording must be a person of the session (``roles``; ``None`` when
    the session's people are not known in advance, as in ``record``).
    """
    if not specs:
        return config
    return with_reference(reference_from(specs, config, FROM_RECORDING), config, roles)


def with_reference(ref: dict[str, dict[str, Any]], config: PipelineConfig, roles: list[str] | None) -> PipelineConfig:
    """``config`` with the resting recording's baseline ``ref`` (:func:`reference_from`), once its
    roles are checked against the session's (``roles``; ``None``: not known in advance)."""
    unknown = sorted(set(ref) - set(roles)) if roles is not None else []
    if unknown:
        raise InputError(f"--baseline-from has role(s) {', '.join(unknown)} that the session has not",
                         field="--baseline-from", expected=f"roles of the session: {', '.join(sorted(set(roles)))}")
    if not ref:
        raise InputError("--baseline-from gave no usable data for any person", field="--baseline-from",
                         expected="a resting recording of the same people and devices")
    return replace(config, baseline_reference=ref)


def baseline_origins(ref: dict[str, dict[str, Any]] | None) -> dict[str, str]:
    """Person -> origin of a baseline taken from a whole recording (``PipelineConfig.baseline_reference``)."""
    return {who: next((f.get("origin") for f in fams.values() if f.get("origin")), "another recording")
            for who, fams in (ref or {}).items()}


def baseline_lines(ref: dict[str, dict[str, Any]] | None) -> list[str]:
    """One line per person whose baseline was taken from a whole recording or is not trusted."""
    lines = []
    origins = baseline_origins(ref)
    for who, fams in sorted((ref or {}).items()):
        origin = origins[who]
        verdict = (fams.get("tolerance") or {}).get("verdict") or {}
        reasons = "; ".join(verdict.get("reasons", []))
        line = f"baseline of {who}: {origin}"
        if reasons:
            line += f"; not trusted: {reasons}"
        lines.append(line)
    return lines
