"""CPU of the provisional heart and of its streaming R-peak detector alone, per 20-min ECG dyad.

The ECG chunks of ``bench/bench_dyad_cpu.py``'s ``ecg`` session (simulator seed 1, 130-Hz ECG,
1-s chunks, both people; heart beats from ECG only) go through two
:class:`~coregulate.models.provisional_heart.ProvisionalHeart` (everything the tier does for the
heart: detection, runs, the HR window, the values) and, separately, through two bare
:class:`~coregulate.models.provisional_beats.StreamingEcgDetector` (``push`` only, the chunks'
arrays made beforehand). The baseline, in the same process and alternated with both, is the final
tier's :class:`~coregulate.models.heart.HeartEstimator` over the same chunks (what the heart cost
before the provisional tier existed); both are printed as ratios to it. CPU is process time
(``time.process_time``), best and median of ``--repeats``. No runner or hub: the share of the
tier's cost that is the heart's, free of the session's other work.

``--in-session`` instead runs ``bench_dyad_cpu.one_run`` (tier on, the real runner and hub) and
adds up the process time spent inside ``ProvisionalHeart.update`` (a wrapper: ~1 us per call of
its own): the heart's share where it runs between the session's other work, which costs it more
(caches) than alone.

Usage:
  .venv/bin/python bench/bench_provisional_heart_cpu.py               # 1200 s, 7 repeats
  .venv/bin/python bench/bench_provisional_heart_cpu.py --seconds 600 --repeats 3
  .venv/bin/python bench/bench_provisional_heart_cpu.py --in-session --repeats 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def in_session(seconds: float, repeats: int) -> None:
    """Process time inside ``ProvisionalHeart.update`` during ``bench_dyad_cpu``'s ecg runs (tier on)."""
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_dyad_cpu

    from coregulate.models import provisional_heart
    from coregulate.server.session.warm_up import preload_estimator_libraries

    preload_estimator_libraries()
    update = provisional_heart.ProvisionalHeart.update
    spent = [0.0, 0]

    def timed(self, chunk):
        t0 = time.process_time()
        out = update(self, chunk)
        spent[0] += time.process_time() - t0
        spent[1] += 1
        return out

    provisional_heart.ProvisionalHeart.update = timed  # type: ignore[method-assign]
    folder = Path(tempfile.mkdtemp(prefix="coregulate-heart-cpu-"))
    bench_dyad_cpu.one_run("ecg", 30.0, True, folder)  # first-call caches outside the timings
    for _ in range(repeats):
        spent[:] = [0.0, 0]
        run = bench_dyad_cpu.one_run("ecg", seconds, True, folder)
        print(f"ecg session {seconds:.0f} s, tier on: {run['cpu_s']:.2f} CPU-s, of it ProvisionalHeart.update "
              f"{spent[0]:.3f} s over {spent[1]} calls")


def main() -> None:
    from coregulate.models.config import PipelineConfig
    from coregulate.models.heart import HeartEstimator
    from coregulate.models.provisional_beats import StreamingEcgDetector
    from coregulate.models.provisional_heart import ProvisionalHeart
    from coregulate.sensors.simulator import Simulator

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1200.0)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--in-session", action="store_true", help="time the heart inside bench_dyad_cpu's ecg runs")
    a = ap.parse_args()
    if a.in_session:
        in_session(a.seconds, a.repeats)
        return

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

    def final() -> float:
        estimators = {p: HeartEstimator(p, sim.streams, config) for p in people}
        t0 = time.process_time()
        for c in chunks:
            estimators[c.participant].update(c)
        for est in estimators.values():
            est.finish()
        return time.process_time() - t0

    def detector() -> float:
        detectors = {p: StreamingEcgDetector(130.0) for p in people}
        t0 = time.process_time()
        for p, v, t in arrays:
            detectors[p].push(v, t)
        return time.process_time() - t0

    f, h, d = [], [], []
    for _ in range(a.repeats):
        f.append(final())
        h.append(heart())
        d.append(detector())
    print(f"{len(chunks)} ECG chunks ({a.seconds:.0f} s, {len(people)} people), CPU ms best / median of {a.repeats}: "
          f"ProvisionalHeart.update {min(h) * 1e3:.1f} / {statistics.median(h) * 1e3:.1f}, "
          f"StreamingEcgDetector.push {min(d) * 1e3:.1f} / {statistics.median(d) * 1e3:.1f} "
          f"({min(d) / len(chunks) * 1e6:.1f} us per chunk); baseline, the final HeartEstimator "
          f"{min(f) * 1e3:.1f} / {statistics.median(f) * 1e3:.1f}")
    print(f"ratios to the final heart (median): provisional heart {statistics.median(h) / statistics.median(f):.3f}, "
          f"its detector {statistics.median(d) / statistics.median(f):.3f}")


if __name__ == "__main__":
    main()
