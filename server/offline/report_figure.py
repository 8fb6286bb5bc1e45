"""The time course of ``report.html``: every panel on one time axis in minutes, with the
baseline, the zone bands and numbered events and annotations, as a PNG data URL."""

from __future__ import annotations

import base64
import io

import numpy as np

from ...models.tolerance import tolerance_bounds
from ..session.store import SessionStore
from .report_text import ANNOTATION_COLOUR, PERSON_COLOURS, ZONE_COLOURS, annotation_marks, event_numbers
from .summary import SessionSummary


def _series(rows: list[dict], col: str) -> tuple[np.ndarray, np.ndarray]:
    t = np.array([r["t_s"] for r in rows], dtype=float)
    v = np.array([np.nan if r.get(col) is None else float(r[col]) for r in rows], dtype=float)
    return t, v


def _runs(t: np.ndarray, labels: list[str]):
    """Contiguous runs of one label: (start_s, end_s, label); second t covers (t-1, t]."""
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start] or t[i] != t[i - 1] + 1:
            yield float(t[start] - 1), float(t[i - 1]), labels[start]
            start = i


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


#: Panels of the time course that have a column in features.csv, in order: (column, axis label).
LINE_PANELS = (("hr_bpm", "heart rate (bpm)"), ("rmssd_ms", "RMSSD (ms)"), ("arousal", "arousal\n(z, own baseline)"),
               ("vocal_arousal", "vocal arousal (z)"), ("eda_scl_us", "skin conductance\n(µS)"))


def _zone_band(ax, who: str, rows: list[dict]) -> None:
    t, _ = _series(rows, "t_s")
    for a, b, z in _runs(t, [r.get("zone") or "unknown" for r in rows]):
        ax.axvspan(a / 60, b / 60, color=ZONE_COLOURS.get(z, "#DDDDDD"), lw=0)
    ax.set_yticks([])
    ax.set_ylabel(who, rotation=0, ha="right", va="center", fontsize=8)


def _synchrony_panel(ax, dyad: list[dict]) -> None:
    t, v = _series(dyad, "sync_effect")
    ax.plot(t / 60, v, lw=0.9, color="#0072B2", label="effect vs pseudo-pairs")
    for a, b, s in _runs(t, [str(bool(r.get("sync_significant"))) for r in dyad]):
        if s == "True":
            ax.axvspan(a / 60, b / 60, color="#0072B2", alpha=0.15, lw=0)
    ax.axhline(0, color="#888888", lw=0.5)
    ax.set_ylabel("synchrony\n(SD above pseudo)", fontsize=8)


def _marks(top, marks: list[tuple[float, str, str]], t_max_min: float) -> None:
    """Event numbers and annotation letters above the top axis; close marks stack."""
    last_x: list[float] = []  # per label row: where its last mark sits
    for t, label, colour in sorted(marks, key=lambda m: m[0]):
        x = t / 60
        if not 0 <= x <= max(t_max_min, 1 / 60):
            # a mark off the time axis (e.g. a damaged file's marker time) would stretch the
            # "tight" bounding box of the figure to billions of pixels
            continue
        level = next((i for i, lx in enumerate(last_x) if x - lx > 0.02 * max(t_max_min, 1)), min(len(last_x), 3))
        last_x[level:level + 1] = [x]  # at most 4 rows: a burst of marks overlaps rather than climbing off the page
        top.annotate(label, (x, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 2 + 8 * level),
                     textcoords="offset points", ha="center", va="bottom", fontsize=7, color=colour)


def time_course_png(store: SessionStore, summary: SessionSummary, events: list[dict],
                    annotations: list[dict] = ()) -> tuple[str, str] | None:
    """One figure, shared x axis in minutes: zone band per person, HR (one scale for everyone),
    RMSSD, arousal with the window band, vocal arousal, skin conductance and the synchrony
    effect; the baseline is shaded, events are numbered lines and annotations lettered ones.

    Returns the PNG (base64) and a caption naming what the figure shows; ``None`` without rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, dyad = summary.facts.rows, summary.facts.dyad
    if not any(rows.values()):
        return None
    people = list(rows)
    panels = [p for p in LINE_PANELS if any(r.get(p[0]) is not None for rs in rows.values() for r in rs)]
    has_sync = any(r.get("sync_effect") is not None for r in dyad)
    heights = [0.35] * len(people) + [1.0] * len(panels) + ([1.0] if has_sync else [])
    fig, axes = plt.subplots(len(heights), 1, figsize=(8.5, 0.3 + 1.35 * sum(heights)), sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": heights, "hspace": 0.12})
    axes = list(axes[:, 0])
    line_axes = axes[len(people):]
    t_max = summary.facts.duration_s / 60
    b0, b1 = summary.facts.baseline
    bounds = tolerance_bounds(store.config.options)
    hyper, hypo = bounds["hyper_enter"], bounds["hypo_enter"]
    for ax, who in zip(axes, people):
        _zone_band(ax, who, rows[who])
    for ax, (col, label) in zip(line_axes, panels):
        for i, who in enumerate(people):
            t, v = _series(rows[who], col)
            ax.plot(t / 60, v, lw=0.9, color=PERSON_COLOURS[i % len(PERSON_COLOURS)], label=who)
        if col == "arousal":
            ax.axhspan(-hypo, hyper, color=ZONE_COLOURS["window"], alpha=0.10, lw=0)
            ax.axhline(0, color="#888888", lw=0.5)
        ax.set_ylabel(label, fontsize=8)
    if has_sync:
        _synchrony_panel(line_axes[-1], dyad)
    numbered = [(e["t_start"], n) for n, e in zip(event_numbers(events), events) if n]
    lettered = [(a["t_s"], m) for m, a in zip(annotation_marks(annotations), annotations)]
    for ax in axes:
        ax.set_xlim(0, max(t_max, 1 / 60))
        ax.tick_params(labelsize=7)
        for t, _ in numbered:
            ax.axvline(t / 60, color="#555555", lw=0.6, ls=":")
    for ax in line_axes:
        ax.grid(alpha=0.3, lw=0.5)
        ax.axvspan(b0 / 60, min(b1, summary.facts.duration_s) / 60, color="#999999", alpha=0.12, lw=0)
        for t, _ in lettered:
            ax.axvline(t / 60, color=ANNOTATION_COLOUR, lw=0.8, ls="-.")
    _marks(axes[0], [(t, n, "#222222") for t, n in numbered] + [(t, m, ANNOTATION_COLOUR) for t, m in lettered],
           t_max)
    if line_axes:
        line_axes[0].legend(loc="upper right", fontsize=7, ncol=len(people), frameon=True, framealpha=0.8)
        if b0 / 60 <= max(t_max, 1 / 60):  # a label off the axis would stretch the tight bounding box
            line_axes[0].text(b0 / 60, 0.03, " baseline", transform=line_axes[0].get_xaxis_transform(),
                              va="bottom", fontsize=7, color="#555555")
    axes[-1].set_xlabel("session time (min)")
    png = _png(fig)
    plt.close(fig)
    caption = ["One time axis in minutes for every panel. Top: each person's zone of the window of tolerance.",
               "Grey: the baseline."]
    if any(col == "arousal" for col, _ in panels):
        caption.append(f"Green band on arousal: inside the window thresholds (-{hypo:g} to +{hyper:g} z).")
    if has_sync:
        caption.append("Blue shading on synchrony: seconds of significant synchrony.")
    if numbered:
        caption.append("Dotted lines: the numbered events below.")
    if lettered:
        caption.append("Orange dash-dot lines: the annotations (A, B, ...) below.")
    return png, " ".join(caption)
