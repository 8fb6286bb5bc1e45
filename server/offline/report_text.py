"""The words, names, colours and references of ``report.html``: one place, so that the figure
and the HTML sections name things alike."""

from __future__ import annotations

import html
from typing import Any

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
               "warning": "Warning", "exertion": "Exertion: heart left out of arousal"}
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
