"""Ablation behind bench/RESULTS.md "Finger PPG on the user's path": the Welltory figures of
``validate_heart.welltory`` (csv reader + the HeartEstimator's fused beats, default options) with
each of the two changes of that section undone in turn, in this process:

* ``no-resampling``: the csv reader places a jittery camera frame at ``t0 + i / rate`` of its chunk
  (``sensors.readers._common.JITTER_PERIODS`` set out of reach), as before;
* ``no-break``: a PPG beat rejected for its waveform is left out silently (the interval across it
  stays), as before.

    .venv/bin/python bench/explore_ppg_user_path.py
"""

from __future__ import annotations

import glob
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import validate_heart as vh  # noqa: E402

from coregulate.models import beat_track  # noqa: E402
from coregulate.sensors.readers import _common  # noqa: E402


def counts() -> str:
    folders = sorted(glob.glob(str(vh.DEFAULT_DATA / "welltory_phone_ppg_polar_rr" / "data" / "subject_*")))
    rows = [vh.welltory(Path(f)) for f in folders]
    hr = sum(r["hr_err"] <= 2 for r in rows)
    al = sum(r["aligned"] for r in rows)
    rma = sum(bool(r["aligned"] and r["rmssd_a_err"] <= 20) for r in rows)
    rm = sum(r["rmssd_err"] <= 20 for r in rows)
    ivsd = np.median([r["iv_sd"] for r in rows if r["aligned"]])
    return (f"HR within 2 %: {hr:2d} of 21; RMSSD within 20 % aligned: {rma:2d} (aligned {al}); whole recording: "
            f"{rm:2d}; median interval SD vs strap (aligned) {ivsd:.1f} ms")


def main() -> None:
    warnings.simplefilter("ignore")
    print(f"default        {counts()}")
    saved = _common.JITTER_PERIODS
    _common.JITTER_PERIODS = float("inf")
    try:
        print(f"no-resampling  {counts()}")
    finally:
        _common.JITTER_PERIODS = saved
    kept = beat_track.BeatTrack._detected

    def silent(self, beats):
        self.detector.rejected_times.clear()
        for t in beats:
            self._raw_beat(t)

    beat_track.BeatTrack._detected = silent
    try:
        print(f"no-break       {counts()}")
    finally:
        beat_track.BeatTrack._detected = kept


if __name__ == "__main__":
    main()
