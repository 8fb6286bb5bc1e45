"""What the API says about a session: from its live state or from its file.

The dashboard reads these descriptions (streams, baseline, tolerance band, pacing) to lay out its
views; a live session and its file, once finished, are described with the same keys.
"""

from __future__ import annotations

from typing import Any

from ...models.tolerance import tolerance_bounds  # the dashboard shades the band the estimator uses
from ..session.runner import SessionStatus
from .live_session import LiveSession
from .schemas import SessionCreate


def _stream_dict(s: Any) -> dict[str, Any]:
    if isinstance(s, dict):
        d = dict(s)
        d.setdefault("key", f"{d.get('participant')}/{d.get('kind')}")
        return d
    return {"key": s.key, "participant": s.participant, "kind": s.kind.value, "rate": s.rate,
            "unit": s.unit, "label": s.label}


def baseline_segment(config: Any) -> tuple[float, float] | None:
    """The baseline segment of a PipelineConfig or of its saved JSON form (None if unknown)."""
    if isinstance(config, dict):
        b = config.get("baseline")
        if b is not None:
            return (float(b[0]), float(b[1]))
        d = config.get("default_baseline_s")
        return None if d is None else (0.0, float(d))
    seg = getattr(config, "baseline_segment", None)
    return None if seg is None else (float(seg[0]), float(seg[1]))


def _pacing(req: SessionCreate, config: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"speed": req.speed}
    seg = baseline_segment(config)
    if req.baseline_speed is not None and seg is not None:
        out.update(baseline_speed=req.baseline_speed, fast_until_s=seg[1])
    return out


def describe_live(s: LiveSession) -> dict[str, Any]:
    """A running (or just finished) session, from its live state; the config is the one in force."""
    streams = [_stream_dict(x) for x in s.source.streams]
    return {
        "id": s.id, "status": s.status, "live": s.active,
        "label": s.request.label, "utc0": getattr(s.source, "utc0", None),
        "duration_s": max((st.last_end for st in list(s.sink.streams.values())), default=0.0),
        "participants": sorted({x["participant"] for x in streams}),
        "streams": streams, "seq": s.hub.seq, "error": s.error,
        "source": s.request.source.model_dump(), "config": {"window_s": s.config.window_s, "speed": s.request.speed},  # in force
        "tolerance": tolerance_bounds(s.config.options),
        "baseline": baseline_segment(s.config), "pacing": _pacing(s.request, s.config),
    }

def describe_file(session_id: str, store: Any) -> dict[str, Any]:
    """A session from its file, read through ``store`` (a context manager on it)."""
    with store as st:
        info = dict(st.info())
        meta = dict(getattr(st, "meta", None) or info.get("meta") or {})
    streams = [_stream_dict(x) for x in info.get("streams") or []]
    return {
        "id": info.get("id", session_id), "status": info.get("status", SessionStatus.UNKNOWN), "live": False,
        "label": info.get("label") or meta.get("label", ""), "utc0": info.get("utc0"),
        "duration_s": info.get("duration_s", info.get("duration")),
        "participants": list(info.get("participants") or sorted({x["participant"] for x in streams})),
        "streams": streams, "seq": None, "error": None,
        "source": info.get("sources") if isinstance(info.get("sources"), dict) else None, "config": info.get("config") if isinstance(info.get("config"), dict) else None,
        "tolerance": tolerance_bounds((info.get("config") or {}).get("options") if isinstance(info.get("config"), dict) else None),
        "baseline": baseline_segment(info.get("config")) if isinstance(info.get("config"), dict) else None,
    }
