"""A self-contained HTML report of an analyzed session (plots embedded as PNG, no network)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from .recorder import SessionStore

ZONE_COLOURS = {"window": "#009E73", "hyper": "#D55E00", "hypo": "#0072B2", "hypo_candidate": "#56B4E9",
                "unknown": "#BBBBBB"}  # Okabe-Ito: readable with colour-blindness


def _series(rows, participant, col):
    t = np.array([r["t_s"] for r in rows if r["participant"] == participant], dtype=float)
    v = np.array([np.nan if r.get(col) is None else float(r[col]) for r in rows if r["participant"] == participant])
    return t, v


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def write_report(store: SessionStore, path: Path) -> Path:
    """Plot each person's HR, lnRMSSD, arousal with zones and vocal arousal; list the events."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = store.features()
    people = list(store.participants())
    panels = [("hr_bpm", "HR (bpm)"), ("ln_rmssd", "lnRMSSD"), ("arousal", "arousal (z, own baseline)"),
              ("vocal_arousal", "vocal arousal (z)"), ("eda_scl_us", "skin conductance (µS)")]
    panels = [p for p in panels if any(r.get(p[0]) is not None for r in rows)]
    images = []
    if rows and panels:
        fig, axes = plt.subplots(len(panels), 1, figsize=(11, 2.1 * len(panels)), sharex=True, squeeze=False)
        for ax, (col, label) in zip(axes[:, 0], panels):
            for who in people:
                t, v = _series(rows, who, col)
                ax.plot(t / 60, v, label=who, lw=1)
            if col == "arousal":
                for who in people:
                    zt = [(r["t_s"], r.get("zone")) for r in rows if r["participant"] == who]
                    for t, z in zt:
                        if z in ("hyper", "hypo", "hypo_candidate"):
                            ax.axvspan((t - 1) / 60, t / 60, color=ZONE_COLOURS[z], alpha=0.15, lw=0)
            ax.set_ylabel(label, fontsize=8)
            ax.grid(alpha=0.3)
        axes[0, 0].legend(loc="upper right", fontsize=8)
        axes[-1, 0].set_xlabel("session time (min)")
        images.append(_png(fig))
        plt.close(fig)
    dyad = store.dyad()
    if dyad and any(r.get("sync_hr_z") is not None for r in dyad):
        fig, ax = plt.subplots(figsize=(11, 2.2))
        t = np.array([r["t_s"] for r in dyad], dtype=float)
        for col in ("sync_hr_z", "sync_arousal_z", "sync_vocal_z", "sync_motion_z"):
            v = np.array([np.nan if r.get(col) is None else float(r[col]) for r in dyad])
            if np.isfinite(v).any():
                ax.plot(t / 60, v, lw=1, label=col)
        ax.set_ylabel("synchrony (Fisher z)", fontsize=8)
        ax.set_xlabel("session time (min)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        images.append(_png(fig))
        plt.close(fig)
    events = store.events()
    def _end(e):
        return "" if e["t_end"] is None else f"{e['t_end']:.0f}"

    ev_rows = "".join(
        f"<tr><td>{e['t_start']:.0f}</td><td>{_end(e)}</td>"
        f"<td>{html.escape(e['participant'] or 'dyad')}</td><td>{html.escape(e['kind'])}</td>"
        f"<td>{html.escape(e['rule'] or '')}</td></tr>" for e in events)
    ann_rows = "".join(f"<tr><td>{a['t_s']:.0f}</td><td>{html.escape(a['author'] or '')}</td>"
                       f"<td>{html.escape(a['text'])}</td></tr>" for a in store.annotations())
    imgs = "".join(f'<img alt="session plot" src="data:image/png;base64,{b}">' for b in images)
    info = store.info()
    doc = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Coregulate report: {html.escape(info['id'])}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:1em auto;color:#222}}
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:2px 6px}}
.note{{background:#fff6d5;padding:.5em;border-left:4px solid #E69F00}}img{{max-width:100%}}</style></head><body>
<h1>Session {html.escape(info['id'])}</h1>
<p class="note">Coregulate is a research tool, not a diagnostic device. Events are candidates for
human review; vagal (HRV) estimates during speech or slow breathing are confounded.</p>
<p>Duration {info['duration_s'] / 60:.1f} min; participants: {html.escape(', '.join(people))};
status: {html.escape(info['status'])}.</p>
{imgs}
<h2>Events ({len(events)})</h2>
<table><tr><th>start (s)</th><th>end (s)</th><th>who</th><th>kind</th><th>rule</th></tr>{ev_rows}</table>
<h2>Annotations</h2>
<table><tr><th>time (s)</th><th>author</th><th>text</th></tr>{ann_rows}</table>
</body></html>"""
    path.write_text(doc, encoding="utf-8")
    return path
