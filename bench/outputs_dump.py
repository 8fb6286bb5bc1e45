"""Every output of a live session pipeline, chunk by chunk, to show that a change leaves them identical.

A CPU cut on the provisional tier must change no value: neither the final rows nor anything a viewer
receives. ``dump`` runs :class:`~coregulate.models.pipeline.SessionPipeline` with the provisional tier
over six simulator sessions (ECG-only and default heart sources, a 120-s baseline or the default one,
one with voices, whose early seconds move the ``hypo`` corroboration), each with the simulator's chunks
and with every chunk re-cut at 0.7 s, and pickles, per session and chunk, the ``repr`` of its final
rows, dyad rows, events, provisional values and provisional event updates. ``compare`` says which
session first differs, at which chunk and in which output. Run both sides under the same
``PYTHONHASHSEED`` (a set's order must not leak into an output; see
``tests/models/test_tolerance.py::test_outputs_do_not_depend_on_the_string_hash_seed``).

Usage (the "before" side from another checkout, or from ``git archive`` through ``PYTHONPATH``)::

  PYTHONHASHSEED=0 .venv/bin/python bench/outputs_dump.py dump /tmp/before.pkl      # on the old code
  PYTHONHASHSEED=0 .venv/bin/python bench/outputs_dump.py dump /tmp/after.pkl       # on the new code
  .venv/bin/python bench/outputs_dump.py compare /tmp/before.pkl /tmp/after.pkl     # exit 1 if any differ
"""

from __future__ import annotations

import argparse
import pickle
import sys

ECG_ONLY = {"heart": {"beat_sources": ["ecg"]}}
#: (seed, duration s, baseline or None for the default, pipeline options, audio)
SESSIONS = [
    (1, 700, (0.0, 120.0), ECG_ONLY, False),
    (4, 700, (0.0, 120.0), {}, False),
    (2, 700, (0.0, 120.0), ECG_ONLY, False),
    (7, 700, (0.0, 120.0), {}, False),
    (1, 1200, None, ECG_ONLY, False),
    (2, 700, (0.0, 120.0), {}, True),
]
OUTPUTS = ("features", "dyad", "events", "provisional", "event_updates")


def run(seed: int, duration: float, baseline, options: dict, audio: bool, cut: float | None) -> list[tuple]:
    """One session's outputs: per chunk with any, ``(index, repr of each of OUTPUTS)``; then the finish."""
    from coregulate.models.config import PipelineConfig
    from coregulate.models.pipeline import SessionPipeline
    from coregulate.sensors.chunk import rechunk
    from coregulate.sensors.simulator import Simulator

    sim = Simulator(seed=seed, duration_s=duration, audio=audio)
    config = PipelineConfig(baseline=baseline, options=options) if baseline else PipelineConfig(options=options)
    pipe = SessionPipeline(sim.streams, config, sim.utc0, provisional=True)

    def chunks():
        for c in sim.chunks():
            yield from (rechunk([c], cut) if cut else [c])

    out = []
    for i, chunk in enumerate(chunks()):
        o = pipe.update(chunk)
        if any(getattr(o, name) for name in OUTPUTS):
            out.append((i, *(repr(getattr(o, name)) for name in OUTPUTS)))
    o = pipe.finish()
    out.append(("end", *(repr(getattr(o, name)) for name in OUTPUTS)))
    return out


def dump(path: str) -> None:
    result = {}
    for seed, duration, baseline, options, audio in SESSIONS:
        for cut in (None, 0.7):
            key = (seed, duration, baseline, repr(options), audio, cut)
            result[key] = run(seed, duration, baseline, options, audio, cut)
            print(f"seed {seed}, {duration} s, audio {audio}, chunks {cut or 'as simulated'}: "
                  f"{len(result[key])} updates with output", flush=True)
    with open(path, "wb") as f:
        pickle.dump(result, f)


def compare(before: str, after: str) -> int:
    with open(before, "rb") as f:
        a = pickle.load(f)
    with open(after, "rb") as f:
        b = pickle.load(f)
    if a.keys() != b.keys():
        print("the two dumps hold different sessions")
        return 1
    differ = 0
    for key in a:
        if a[key] == b[key]:
            print("identical", key)
            continue
        differ += 1
        for x, y in zip(a[key], b[key]):
            if x != y:
                which = [name for name, u, v in zip(OUTPUTS, x[1:], y[1:]) if u != v] or ["chunk index"]
                print("DIFFER", key, "first at chunk", x[0], y[0], "in", ", ".join(which))
                break
        else:
            print("DIFFER", key, "updates with output", len(a[key]), len(b[key]))
    print("ALL IDENTICAL" if not differ else f"{differ} sessions differ")
    return 1 if differ else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("dump", help="run the sessions, pickle their outputs").add_argument("out")
    c = sub.add_parser("compare", help="compare two dumps")
    c.add_argument("before")
    c.add_argument("after")
    args = ap.parse_args()
    if args.command == "dump":
        dump(args.out)
    else:
        sys.exit(compare(args.before, args.after))


if __name__ == "__main__":
    main()
