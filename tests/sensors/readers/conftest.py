"""Fixtures of the reader tests (writers live in readers_testkit.py)."""

import pytest
from readers_testkit import write_polar_ecg


@pytest.fixture
def polar_ecg(tmp_path):
    p = tmp_path / "Polar_H10_ECG.txt"
    ns, ecg = write_polar_ecg(p)
    return p, ns, ecg
