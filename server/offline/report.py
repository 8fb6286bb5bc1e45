"""``report.html``: a self-contained review of an analyzed session, to attach to a lab notebook.

Order: the summary (the numbers of ``summary.csv``), the warnings in plain words, the time
course (every panel on one time axis in minutes, with the baseline, zone bands and numbered
events), the events and annotations, the inputs, the settings, and the methods and data it
relies on. No network: the plots are PNGs embedded as data URLs and the CSS is inline; it prints
on A4 with a page break before each major section.
"""

from __future__ import annotations

import json
import time
from pathlib import Path


from ...models.dyad import SIGNALS
from ..session.store import SessionStore
from .report_figure import time_course_png
from .report_text import (
    REFERENCES,
    SIGNAL_NAMES,
    ZONE_COLOURS,
    ZONE_NAMES,
    _e,
    _num,
    _pct,
    _who,
    annotation_marks,
    event_name,
    event_numbers,
    minutes,
    zone_change,
)
from .summary import SUMMARY_FILE, SessionSummary, summarize_store


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
