"""Exploration behind bench/RESULTS.md "Welltory finger PPG: missed pulses end the run" (issue 13):
the Welltory figures of ``validate_heart.welltory`` (the user's path: csv reader + the
HeartEstimator's fused beats) for the default and for variants undone or changed in this process,
on the odd-numbered recordings (where choices were made), the even-numbered ones (the check) and
all 21:

* ``default``: a PPG interval >= ``beat_track.MISSED_PULSE_RATIO`` x the median of the track's
  recent intervals ends the run, and the artefact corrector inserts no beat for PPG;
* ``before``: neither (the corrector's midpoint beat inside runs, nothing at a run's edges), as
  before this change;
* ``upstroke``: the pipeline option ``heart.ppg_fiducial = "upstroke"`` (steepest upstroke,
  :func:`~coregulate.models.beats.max_slope_points`) instead of the systolic peak;
* ``tangent``: ``heart.ppg_fiducial = "tangent"`` (intersecting-tangents foot,
  :func:`~coregulate.models.beats.tangent_foot_points`).

``--halves odd`` runs the development half only (``--variants`` picks variants), so that a
choice can be made before the check half is ever run.

Per variant and half: mean HR within 2 %, aligned RMSSD within 20 %, recordings aligned, and the
median interval error SD against the strap over the recordings that align under every variant.
Then, per aligned recording of the default, the interval error SD as a share of the strap's RMSSD:
with independent beat-time errors, RMSSD^2 gains 3 x (interval error SD)^2, so within +20 % needs
that share <= sqrt(0.44 / 3) = 0.38.

    .venv/bin/python bench/explore_ppg_missed_pulse.py [--halves odd] [--variants default tangent]
"""

from __future__ import annotations

import argparse
import glob
import math
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import validate_heart as vh  # noqa: E402

from coregulate.models import artefacts, beat_track  # noqa: E402

HALVES = {"odd": lambda i: i % 2 == 1, "even": lambda i: i % 2 == 0, "all": lambda i: True}


#: The recordings run: all, or only those of the halves asked for (set by ``main``).
RUN = HALVES["all"]


def rows(options: dict | None = None) -> dict[str, dict]:
    folders = sorted(glob.glob(str(vh.DEFAULT_DATA / "welltory_phone_ppg_polar_rr" / "data" / "subject_*")))
    return {Path(f).name: vh.welltory(Path(f), options) for f in folders if RUN(int(f[-2:]))}


def before() -> dict[str, dict]:
    """The path as it was: no missed-pulse break, the corrector's midpoint beat for PPG too."""
    ratio, options = beat_track.MISSED_PULSE_RATIO, beat_track.CorrectorOptions

    def inserting(**kw):
        kw["insert_missed"] = True
        return artefacts.CorrectorOptions(**kw)

    beat_track.MISSED_PULSE_RATIO, beat_track.CorrectorOptions = math.inf, inserting
    try:
        return rows()
    finally:
        beat_track.MISSED_PULSE_RATIO, beat_track.CorrectorOptions = ratio, options


VARIANTS = {"default": rows, "before": before,
            "upstroke": lambda: rows({"heart": {"ppg_fiducial": "upstroke"}}),
            "tangent": lambda: rows({"heart": {"ppg_fiducial": "tangent"}})}


def main() -> None:
    global RUN
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--halves", nargs="+", choices=("odd", "even", "all"), default=["odd", "even", "all"])
    ap.add_argument("--variants", nargs="+", choices=tuple(VARIANTS), default=list(VARIANTS))
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    wanted = [HALVES[h] for h in args.halves]
    RUN = lambda i: any(h(i) for h in wanted)  # noqa: E731
    variants = {v: VARIANTS[v]() for v in args.variants}
    names = sorted(variants[args.variants[0]])
    everywhere = [n for n in names if all(v[n]["aligned"] for v in variants.values())]
    print(f"variant    half   HR<=2%  RMSSD<=20% (aligned)  whole-rec RMSSD<=20%  median ivSD (aligned in all {len(variants)})")
    for vname, res in variants.items():
        for half in args.halves:
            keep = HALVES[half]
            sel = [res[n] for n in names if keep(int(n[-2:]))]
            both = [res[n]["iv_sd"] for n in everywhere if keep(int(n[-2:]))]
            print(f"{vname:<10} {half:<5} {sum(r['hr_err'] <= 2 for r in sel):3d}/{len(sel):<3d}"
                  f"{sum(bool(r['aligned'] and r['rmssd_a_err'] <= 20) for r in sel):6d} ({sum(r['aligned'] for r in sel):2d})"
                  f"{sum(r['rmssd_err'] <= 20 for r in sel):17d}          {np.median(both):5.1f} ms (n={len(both)})")
    need = math.sqrt(0.44 / 3)
    for vname, res in variants.items():
        if vname in ("default", "tangent"):
            share(vname, [res[n] for n in names if res[n]["aligned"]], need)


def share(vname: str, al: list[dict], need: float) -> None:
    print(f"\n{vname}, aligned recordings: interval error SD / strap RMSSD (within 20 % needs <= {need:.2f})")
    for r in al:
        print(f"  {r['name']}  ivSD {r['iv_sd']:5.1f} ms  RMSSD ref {r['rmssd_a_ref']:5.1f} ms  share {r['iv_sd'] / r['rmssd_a_ref']:.2f}"
              f"  RMSSD err {r['rmssd_a_err']:4.0f} %")
    print(f"  share <= {need:.2f}: {sum(r['iv_sd'] / r['rmssd_a_ref'] <= need for r in al)} of {len(al)} aligned; "
          f"within 20 %: {sum(r['rmssd_a_err'] <= 20 for r in al)}")


if __name__ == "__main__":
    main()
