import numpy as np
import pytest

from coregulate.models.frequency import hf_power

from physio_helpers import rr_series


@pytest.mark.parametrize("seed,resp", [(0, 0.25), (1, 0.3), (2, 0.2)])
def test_hf_equals_neurokit_hrv_frequency(seed, resp):
    import neurokit2 as nk

    rr = np.round(rr_series(75, seed=seed, resp_hz=resp))
    peaks = np.cumsum(np.r_[500, rr]).astype(np.int64)
    ref = nk.hrv_frequency(peaks, sampling_rate=1000, normalize=False, interpolation_rate=4)["HRV_HF"].iloc[0]
    hf, peak = hf_power(peaks[1:] / 1000, rr, fs=4.0)
    assert hf == pytest.approx(ref, rel=0.005)
    assert peak == pytest.approx(resp, abs=0.03)  # RSA peak = breathing frequency
