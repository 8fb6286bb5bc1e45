"""CPU of the provisional heart and of its streaming R-peak detector alone, per 20-min ECG dyad.

The ECG chunks of ``bench/bench_dyad_cpu.py``'s ``ecg`` session (simulator seed 1, 130-Hz ECG,
1-s chunks, both people; heart beats from ECG only) go through two
:class:`~coregulate.models.provisional_heart.ProvisionalHeart` (everything the tier does for the
heart: detection, runs, the HR window, the values) and, separately, through two bare
:class:`~coregulate.models.provisional_beats.StreamingEcgDetector` (``push`` only, the chunks'
arrays made beforehand). Both alternate in one process; CPU is process time
(``time.process_time``), best and median of ``--repeats``. No runner, hub or final tier: the
share of the tier's cost that is the heart's, free of the session's other work.

Usage:
  .venv/bin/python bench/bench_provisional_heart_cpu.py               # 1200 s, 7 repeats
  .venv/bin/python bench/bench_provisional_heart_cpu.py --seconds 600 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def main() -> None:
    from coregulate.models.config import PipelineConfig
    from coregulate.models.provisional_beats import StreamingEcgDetector
    from coregulate.models.provisional_heart import ProvisionalHeart
    from coregulate.sensors.simulator import Simulator

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1200.0)
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args()

    sim = Simulator(seed=1, duration_s=max(a.seconds, 360.0), audio=False)
    chunks = [c for c in sim.chunks() if c.kind.value == "ecg" and c.start < a.seconds]
    config = PipelineConfig(options={"heart": {"beat_sources": ["ecg"]}})
    people = sorted({c.participant for c in chunks})
    arrays = [(c.participant, np.asarray(c.values, float).ravel(), c.sample_times()) for c in chunks]

    def heart() -> float:
        hearts = {p: ProvisionalHeart(p, sim.streams, config) for p in people}
        t0 = time.process_time()
        for c in chunks:
            hearts[c.participant].update(c)
        return time.process_time() - t0

    def detector() -> float:
        detectors = {p: StreamingEcgDetector(130.0) for p in people}
        t0 = time.process_time()
        for p, v, t in arrays:
            detectors[p].push(v, t)
        return time.process_time() - t0

    h, d = [], []
    for _ in range(a.repeats):
        h.append(heart())
        d.append(detector())
    print(f"{len(chunks)} ECG chunks ({a.seconds:.0f} s, {len(people)} people), CPU ms best / median of {a.repeats}: "
          f"ProvisionalHeart.update {min(h) * 1e3:.1f} / {statistics.median(h) * 1e3:.1f}, "
          f"StreamingEcgDetector.push {min(d) * 1e3:.1f} / {statistics.median(d) * 1e3:.1f} "
          f"({min(d) / len(chunks) * 1e6:.1f} us per chunk)")


if __name__ == "__main__":
    main()
