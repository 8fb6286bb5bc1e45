"""``summary.csv``: one row per participant and one for the dyad, from a recorded session.

The figures come from :mod:`coregulate.models.session_summary` (per person, warnings) and
:mod:`coregulate.models.dyad_summary` (synchrony, leading, candidate events); this module only
reads the session file and writes the table. ``analyze``, ``export --format csv`` and every
``batch`` session write it; ``report.html`` shows the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...models.dyad_summary import summarize_dyad
from ...models.session_summary import PERSON_COLUMNS, SessionFacts, SessionWarning, session_warnings, summarize_person
from .baseline import baseline_origins
from ..session.store import SessionStore

SUMMARY_FILE = "summary.csv"

#: Columns of the dyad row (``summarize_dyad`` keys, ``seconds`` shown as ``minutes``).
DYAD_SUMMARY_COLUMNS: tuple[str, ...] = tuple(k for k in summarize_dyad([], []) if k != "seconds")

#: Every column of summary.csv, in order: person rows fill the person columns, the dyad row the
#: dyad columns; ``minutes`` and ``warnings`` are on both.
SUMMARY_COLUMNS: tuple[str, ...] = ("row", "participant", "code", *PERSON_COLUMNS, *DYAD_SUMMARY_COLUMNS, "warnings")

#: Separator of several warnings in one cell (the texts themselves use commas and colons).
WARNING_SEPARATOR = " | "


@dataclass
class SessionSummary:
    """A session's summary: the rows of ``summary.csv`` and the warnings behind them."""

    people: dict[str, dict[str, Any]]
    dyad: dict[str, Any] | None
    warnings: list[SessionWarning]
    facts: SessionFacts

    def rows(self) -> list[dict[str, Any]]:
        """summary.csv rows: one per person (in role order), then the dyad's (two or more people)."""
        def warn(*whos: str) -> str:
            return WARNING_SEPARATOR.join(w.text for w in self.warnings if w.who in whos)

        out = [{"row": "person", "participant": who, **s, "warnings": warn(who, "session")}
               for who, s in self.people.items()]
        if self.dyad is not None:
            out.append({"row": "dyad", "participant": "", "code": "", **self.dyad, "warnings": warn("dyad", "session")})
        return out


def session_facts(store: SessionStore) -> SessionFacts:
    """Everything the summary and the warning rules need from a session file."""
    people = sorted(store.participants())
    rows = {p: store.features(participant=p) for p in people}
    kinds: dict[str, tuple[str, ...]] = {}
    for s in store.streams():
        kinds[s.participant] = (*kinds.get(s.participant, ()), s.kind.value)
    return SessionFacts(rows=rows, dyad=store.dyad() if len(people) >= 2 else [], events=store.events(),
                        baseline=store.config.baseline_segment, duration_s=store.duration(), stream_kinds=kinds,
                        gaps=store.gaps(), status=store.status(), window_s=store.config.window_s,
                        baseline_origin=baseline_origins(store.config.baseline_reference))


def summarize_store(store: SessionStore) -> SessionSummary:
    """The summary of one recorded session (see :data:`SUMMARY_COLUMNS`)."""
    facts = session_facts(store)
    codes = store.participants()
    people = {p: {"code": codes.get(p) or "", **summarize_person(r, facts.baseline, window_s=facts.window_s,
                                                                  stream_kinds=facts.stream_kinds.get(p, ()))}
              for p, r in facts.rows.items()}
    dyad = None
    if len(facts.rows) >= 2:
        d = summarize_dyad(facts.dyad, facts.events)
        dyad = {"minutes": round(d.pop("seconds") / 60, 3), **d}
    return SessionSummary(people, dyad, session_warnings(facts), facts)


def write_summary(summary: SessionSummary, path: Path) -> Path:
    """Write ``summary.csv`` (empty cell = not computable or not applicable to the row), with
    the number format of the other CSV exports."""
    from .export import write_csv

    return write_csv(path, list(SUMMARY_COLUMNS), summary.rows())
