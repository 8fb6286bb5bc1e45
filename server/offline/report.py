"""``report.html``: a self-contained review of an analyzed session, to attach to a lab notebook.

Order: the summary (the numbers of ``summary.csv``), the warnings in plain words, the time
course (every panel on one time axis in minutes, with the baseline, zone bands and numbered
events), the events and annotations, the inputs, the settings, and the methods and data it
relies on. No network: the plots are PNGs embedded as data URLs and the CSS is inline; it prints
on A4 with a page break before each major section.
"""

from __future__ import annotations

import base64
import html
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ...models.dyad import SIGNALS
from ...models.tolerance import tolerance_bounds
from ..session.store import SessionStore
from .summary import SUMMARY_FILE, SessionSummary, summarize_store

ZONE_COLOURS = {"window": "#009E73", "hyper": "#D55E00", "hypo": "#0072B2", "hypo_candidate": "#56B4E9",
                "unknown": "#DDDDDD"}  # Okabe-Ito: readable with colour-blindness
#: Line colours of the people (Okabe-Ito black and reddish purple: apart from the zone colours).
PERSON_COLOURS = ("#222222", "#CC79A7", "#56B4E9", "#F0E442")
ANNOTATION_COLOUR = "#E69F00"  # Okabe-Ito orange: apart from people and zones
ZONE_NAMES = {"window": "window", "hyper": "hyperarousal", "hypo": "hypoarousal",
              "hypo_candidate": "possible hypoarousal", "unknown": "unknown"}
EVENT_NAMES = {"rupture_candidate": "Rupture candidate", "repair_candidate": "Repair candidate",
               "co_regulation": "Co-regulation candidate",
               "therapist_dysregulated": "Therapist dysregulated (candidate)", "gap": "Signal gap",
               "warning": "Warning"}
SIGNAL_NAMES = {"hr": "heart rate", "arousal": "arousal", "vocal": "voice", "motion": "movement"}

#: What the report relies on, cited at its end (README: "Data used in tests and its sources").
REFERENCES = (
    "Task Force of the ESC and NASPE (1996). Heart rate variability: standards of measurement. Circulation 93:1043-1065.",
    "Lipponen JA, Tarvainen MP (2019). A robust algorithm for heart rate variability time series artefact "
    "correction. J Med Eng Technol 43:173-181.",
    "Makowski D et al. (2021). NeuroKit2: a Python toolbox for neurophysiological signal processing. "
    "Behav Res Methods 53:1689-1696.",
    "Nunan D, Sandercock GRH, Brodie DA (2010). A quantitative systematic review of normal values for "
    "short-term HRV in healthy adults. PACE 33:1407-1417.",
    "Laborde S, Mosley E, Thayer JF (2017). Heart rate variability and cardiac vagal tone in psychophysiological "
    "research. Front Psychol 8:213.",
    "Boucsein W (2012). Electrodermal Activity, 2nd ed. Springer.",
    "Siegel DJ (1999). The Developing Mind. Guilford (window of tolerance).",
    "Boker SM, Xu M, Rotondo JL, King K (2002). Windowed cross-correlation and peak picking for the analysis "
    "of variability in the association between behavioral time series. Psychol Methods 7:338-355.",
    "Ramseyer F, Tschacher W (2011). Nonverbal synchrony in psychotherapy. J Consult Clin Psychol 79:284-295 "
    "(pseudo-synchrony).",
    "Tschacher W, Meier D (2020). Physiological synchrony in psychotherapy sessions. Psychother Res 30:558-573 (SUSY).",
    "Kleinbub JR, Ramseyer FT (2020). rMEA: an R package to assess nonverbal synchronization in motion energy "
    "analysis time-series. Psychother Res 31:817-830 (validation data).",
    "de Cheveigne A, Kawahara H (2002). YIN, a fundamental frequency estimator. JASA 111:1917-1930; "
    "de Jong NH, Wempe T (2009). Praat script to detect syllable nuclei. Behav Res Methods 41:385-390.",
    "Healey JA, Picard RW (2005). Detecting stress during real-world driving tasks using physiological sensors. "
    "IEEE Trans ITS 6:156-166 (PhysioNet drivedb, validation); Burkhardt F et al. (2005). A database of German "
    "emotional speech. Interspeech (EmoDB, validation).",
)


# ---------------------------------------------------------------------------------------------
# Words and numbers


def minutes(t_s: float | None) -> str:
    """Session seconds as minutes with one decimal (the unit of every axis and table)."""
    return "" if t_s is None else f"{t_s / 60:.1f}"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.0f}%"


def _num(v: float | None, digits: int = 1) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _who(p: str | None) -> str:
    return "Dyad" if not p else p[:1].upper() + p[1:]


def zone_change(label: str | None) -> tuple[str, str] | None:
    """``"window -> hyper"`` → ``("window", "hyper")``; ``None`` for other labels."""
    a, sep, b = (label or "").partition(" -> ")
    return (a.strip(), b.strip()) if sep else None


def event_name(e: dict[str, Any]) -> str:
    """A friendly name: ``"Client left the window (hyperarousal)"``."""
    who, kind = _who(e.get("participant")), e.get("kind") or ""
    change = zone_change(e.get("label"))
    if change:
        old, new = change
        if kind == "leave_window" or (old == "window" and new not in ("window", "unknown")):
            return f"{who} left the window ({ZONE_NAMES.get(new, new)})"
        if kind == "return_window" or new == "window" and old not in ("unknown", ""):
            return f"{who} back in the window (from {ZONE_NAMES.get(old, old)})"
        if old == "unknown" and new == "window":
            return f"{who}: baseline complete, in the window"
        return f"{who}: {ZONE_NAMES.get(old, old)} → {ZONE_NAMES.get(new, new)}"
    name = EVENT_NAMES.get(kind, kind.replace("_", " ").capitalize())
    return f"{who}: {name.lower()}" if e.get("participant") else name


def event_numbers(events: list[dict]) -> list[str]:
    """The mark of each event on the time course ("1", "2", ...; gaps are not marked)."""
    out, n = [], 0
    for e in events:
        if e["kind"] == "gap":
            out.append("")
        else:
            n += 1
            out.append(str(n))
    return out


def annotation_marks(annotations: list[dict]) -> list[str]:
    """The mark of each annotation on the time course: A, B, ..., Z, A2, B2, ..."""
    return [chr(ord("A") + i % 26) + (str(i // 26 + 1) if i >= 26 else "") for i in range(len(annotations))]


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text))


# ---------------------------------------------------------------------------------------------
# Plot: every panel on one time axis (minutes)


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


# ---------------------------------------------------------------------------------------------
# HTML sections


def _table(head: list[str], body: list[list[str]], cls: str = "") -> str:
    th = "".join(f"<th>{h}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in body)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>'


def _summary_section(s: SessionSummary) -> str:
    people = list(s.people)
    head = ["", *[_e(_who(p)) + (f" ({_e(s.people[p]['code'])})" if s.people[p]["code"] not in ("", p) else "") for p in people]]
    zone_rows = [["minutes analysed", *[_num(s.people[p]["minutes"]) for p in people]]]
    for z in ("window", "hyper", "hypo", "hypo_candidate", "unknown"):
        zone_rows.append([f"time in {ZONE_NAMES[z]}", *[_pct(s.people[p][f"{z}_share"]) for p in people]])
    for q in ("good", "fair", "poor", "none"):
        zone_rows.append([f"seconds of {q} quality" if q != "none" else "seconds without heart data",
                          *[_pct(s.people[p][f"quality_{q}_share"]) for p in people]])
    zone_rows.append(["corrected beats (share, ≈ count)",
                      *[f"{_pct(s.people[p]['beats_corrected_share'])}, ≈ {s.people[p]['beats_corrected_approx']}"
                        if s.people[p]["beats_corrected_share"] is not None else "–" for p in people]])
    zone_rows.append(["heart source", *[_e(s.people[p]["heart_source"] or "none") for p in people]])
    b0, b1 = s.facts.baseline
    base_head = ["median (mean)", *[f"{_e(_who(p))}: {part}" for p in people for part in ("baseline", "rest")]]
    base_rows = []
    for col, name, d in (("hr_bpm", "heart rate (bpm)", 1), ("rmssd_ms", "RMSSD (ms)", 1),
                         ("eda_scl_us", "skin conductance (µS)", 2), ("arousal", "arousal (z)", 2),
                         ("vocal_arousal", "vocal arousal (z)", 2)):
        cells = []
        for p in people:
            for part in ("baseline", "rest"):
                med, mean = s.people[p][f"{col}_{part}_median"], s.people[p][f"{col}_{part}_mean"]
                cells.append("–" if med is None else f"{_num(med, d)} ({_num(mean, d)})")
        if any(c != "–" for c in cells):
            base_rows.append([name, *cells])
    out = ["<section id=\"summary\"><h2>Summary</h2>",
           "<h3>Each person</h3>", _table(head, zone_rows, "people"),
           f"<h3>Baseline ({minutes(b0)}–{minutes(b1)} min) and the rest of the session</h3>",
           "<p class=\"hint\">Raw heart rate and skin conductance are shown beside the arousal composite: "
           "the composite is worth reading only where it tells more than its simplest inputs.</p>",
           _table(base_head, base_rows, "baseline") if base_rows else "<p>No value computable.</p>"]
    if s.dyad is not None:
        d = s.dyad
        sig_rows = []
        for sig in SIGNALS:
            if d.get(f"{sig}_windows"):
                lag = d.get(f"{sig}_lag_median_s")
                sig_rows.append([SIGNAL_NAMES.get(sig, sig), _num(d.get(f"{sig}_mean_abs_z"), 3),
                                 _num(d.get(f"{sig}_mean_z"), 3), _pct(d.get(f"{sig}_significant_share")),
                                 "–" if lag is None else f"{lag:+.1f} s"])
        out += ["<h3>Dyad</h3>",
                _table(["signal", "mean |peak r| as Fisher z", "mean signed z", "significant (carried by this signal)",
                        "median lag (+ = client leads)"], sig_rows, "dyad") if sig_rows
                else "<p>No synchrony window was computable.</p>",
                "<ul class=\"dyadfacts\">",
                f"<li>significant synchrony (against pseudo-pairs): {_pct(d.get('significant_share'))} of the "
                f"seconds where it was computable; mean effect {_num(d.get('mean_effect'), 2)} SD</li>",
                f"<li>who led the significant synchrony: client {_pct(d.get('client_leads_share'))}, therapist "
                f"{_pct(d.get('therapist_leads_share'))}, simultaneous {_pct(d.get('simultaneous_share'))}</li>",
                f"<li>candidates for review: {d.get('n_rupture_candidate') or 0} rupture, "
                f"{d.get('n_repair_candidate') or 0} repair, {d.get('n_co_regulation') or 0} co-regulation, "
                f"{d.get('n_therapist_dysregulated') or 0} therapist dysregulated</li></ul>"]
    out.append(f'<p class="hint">The same numbers are in <code>{SUMMARY_FILE}</code>; shares are of each '
               "person's analysed seconds; “rest” is every second outside the baseline.</p></section>")
    return "".join(out)


def _warnings_section(s: SessionSummary) -> str:
    if not s.warnings:
        body = '<p class="ok">No warnings: every check passed.</p>'
    else:
        body = "<ul>" + "".join(f'<li data-code="{_e(w.code)}"><b>{_e(_who(w.who))}:</b> {_e(w.text)}</li>'
                                for w in s.warnings) + "</ul>"
    return f'<section id="warnings"><h2>Warnings ({len(s.warnings)})</h2>{body}</section>'


def _events_section(events: list[dict]) -> str:
    body = []
    for n, e in zip(event_numbers(events), events):
        change = zone_change(e.get("label"))
        ft = f"{ZONE_NAMES.get(change[0], change[0])} → {ZONE_NAMES.get(change[1], change[1])}" if change else ""
        body.append([n, minutes(e["t_start"]), minutes(e.get("t_end")),
                     _e(event_name(e)), _e(ft), _e(e.get("rule") or "")])
    table = _table(["#", "start (min)", "end (min)", "event", "from → to", "rule"], body, "events") if body \
        else "<p>No events.</p>"
    return (f'<section id="events"><h2>Events ({len(events)})</h2><p class="hint">Candidates for a human to '
            f"review, never findings. Numbers match the marks on the time course.</p>{table}</section>")


def _annotations_section(anns: list[dict]) -> str:
    body = [[m, minutes(a["t_s"]), _e(a["author"]), _e(a["text"])] for m, a in zip(annotation_marks(anns), anns)]
    table = _table(["mark", "time (min)", "author", "text"], body, "annotations") if body else "<p>No annotations.</p>"
    return f'<section id="annotations"><h2>Annotations ({len(anns)})</h2>{table}</section>'


def _inputs_section(store: SessionStore, s: SessionSummary) -> str:
    info = store.info()
    sources = (info.get("sources") or {}).get("specs") or []
    spans = store.stream_spans()
    gaps: dict[str, int] = {}
    for g in s.facts.gaps:
        gaps[g["stream"]] = gaps.get(g["stream"], 0) + 1
    body = []
    for st in store.streams():
        a, b = spans.get(st.key, (None, None))
        span = f"{minutes(a)}–{minutes(b)}" if a is not None else "not stored" if st.kind.value == "audio" else "–"
        body.append([_e(_who(st.participant)), _e(st.kind.value), _e(st.label), "–" if not st.rate else f"{st.rate:g} Hz",
                     _e(st.unit), span, str(gaps.get(st.key, 0))])
    src = "".join(f"<li><code>{_e(x)}</code></li>" for x in sources) or "<li>–</li>"
    return ('<section id="inputs"><h2>Inputs</h2><p>As given (file names only: folders are not kept):</p>'
            f"<ul>{src}</ul>"
            + _table(["person", "stream", "source", "rate", "unit", "time (min)", "gaps"], body, "inputs")
            + "</section>")


def _settings_section(store: SessionStore) -> str:
    from ..version import coregulate_version

    cfg = store.config
    b0, b1 = cfg.baseline_segment
    rows = [["HRV window", f"{cfg.window_s:g} s"],
            ["baseline", f"{b0:g}–{b1:g} s ({minutes(b0)}–{minutes(b1)} min)"
             + ("" if cfg.baseline is not None else f" (default: the first {cfg.default_baseline_s:g} s)")],
            ["estimator options", _e(json.dumps(cfg.options, sort_keys=True)) if cfg.options else "defaults"],
            ["raw audio kept", "yes" if store.info().get("keep_audio") else "no (prosody features only)"],
            ["Coregulate version", _e(coregulate_version())],
            ["report written", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())]]
    return f'<section id="settings"><h2>Settings</h2>{_table(["setting", "value"], rows, "settings")}</section>'


def _methods_section() -> str:
    refs = "".join(f"<li>{_e(r)}</li>" for r in REFERENCES)
    return ('<section id="methods"><h2>Methods and data cited</h2><p>Formulas and thresholds are described in '
            "the README (<i>Physiology</i>, <i>Voice</i>, <i>The dyad</i>); the validation figures and the commands "
            f"that produced them are in <code>bench/RESULTS.md</code>.</p><ol>{refs}</ol></section>")


CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font: 13px/1.4 system-ui, sans-serif; max-width: 1000px; margin: 1em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: .1em; }
h3 { font-size: 1.05em; margin: 1em 0 .3em; }
table { border-collapse: collapse; margin: .3em 0 .8em; }
table.people, table.baseline, table.dyad, table.settings { break-inside: avoid; }
table.events { width: 100%; }
* { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } table.people td:not(:first-child), table.baseline td:not(:first-child),
table.dyad td:not(:first-child) { text-align: right; }
.note { background: #fff6d5; padding: .5em .8em; border-left: 4px solid #E69F00; }
.hint { color: #555; font-size: .92em; } .ok { color: #006d4f; }
#warnings li { margin: .2em 0; } img { width: 100%; height: auto; }
.legend span { display: inline-block; margin-right: 1em; } .legend i { display: inline-block; width: 1.6em;
height: .8em; margin-right: .3em; vertical-align: middle; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10.5pt; }
  section#timecourse, section#events, section#inputs, section#methods { break-before: page; }
  tr, li, img { break-inside: avoid; } h2, h3 { break-after: avoid; }
}
"""


def write_report(store: SessionStore, path: Path, summary: SessionSummary | None = None) -> Path:
    """Write ``report.html`` for one recorded session (see the module docstring).

    Parameters
    ----------
    store : SessionStore
        The session.
    path : Path
        Where to write.
    summary : SessionSummary, optional
        The session's summary when already computed (``analyze`` computes it once for
        ``summary.csv`` and the report).
    """
    summary = summary or summarize_store(store)
    info = store.info()
    events = store.events()
    annotations = store.annotations()
    figure = time_course_png(store, summary, events, annotations)
    codes = store.participants()
    people = ", ".join(_e(p) + (f" ({_e(codes[p])})" if codes.get(p) not in (None, "", p) else "") for p in summary.people) or "–"
    when = ""
    if info.get("utc0"):
        when = "started " + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(info["utc0"])) + "; "
    legend = "".join(f'<span><i style="background:{ZONE_COLOURS[z]}"></i>{ZONE_NAMES[z]}</span>'
                     for z in ("window", "hyper", "hypo", "hypo_candidate", "unknown"))
    if figure:
        plot = (f'<p class="hint">{_e(figure[1])}</p><p class="legend">{legend}</p>'
                f'<img alt="time course of every signal, one time axis in minutes" src="data:image/png;base64,{figure[0]}">')
    else:
        plot = "<p>No per-second rows to plot.</p>"
    doc = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Coregulate report: {_e(info['id'])}</title><style>{CSS}</style></head><body>
<header><h1>Coregulate session report: {_e(info['id'])}</h1>
<p>{when}{info['duration_s'] / 60:.1f} min; participants: {people}; status: {_e(info['status'])}.</p>
<p class="note"><b>A research tool, not a diagnostic device.</b> Coregulate is not a medical device: its
indices are estimates with stated reliability (vagal estimates during speech or slow breathing are
confounded) and its events are candidates for a trained person to review. Do not use it for clinical
decisions.</p></header>
{_summary_section(summary)}
{_warnings_section(summary)}
<section id="timecourse"><h2>Time course</h2>
{plot}</section>
{_events_section(events)}
{_annotations_section(annotations)}
{_inputs_section(store, summary)}
{_settings_section(store)}
{_methods_section()}
</body></html>"""
    path.write_text(doc, encoding="utf-8")
    return path
