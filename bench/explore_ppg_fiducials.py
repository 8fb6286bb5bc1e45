"""Exploration behind bench/RESULTS.md "Heart leftovers": PPG fiducial points and corrections on Welltory.

Whole-record detection (one ``models.beats.detect_ppg_beats`` call per recording, beats below the
per-beat quality floor dropped), NOT the streaming detector that ``validate_heart.py`` and the
pipeline use; three fiducials (systolic peak, steepest upstroke, intersecting-tangent foot), at the
camera's 30 Hz and after cubic resampling to 90 Hz, each with and without Lipponen-Tarvainen
correction (neurokit2 ``signal_fixpeaks``, Kubios method). Same interval filter and summary values
as ``validate_heart.welltory``. Prints, per variant, recordings with RMSSD within 20 % and mean HR
within 2 % of the Polar H10 (of 21).

    .venv/bin/python bench/explore_ppg_fiducials.py
"""
import glob
import sys
import warnings
from pathlib import Path

warnings.simplefilter("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
import validate_heart as vh  # noqa: E402
from coregulate.models import beats as B
from scipy.interpolate import CubicSpline
data = vh.DEFAULT_DATA

def fiducials(clean, peaks, fs, how):
    d = np.gradient(clean)
    out = []
    for p in peaks:
        lo = max(1, p - int(0.4 * fs))
        seg = d[lo:p+1]
        if len(seg) < 3: out.append(np.nan); continue
        k = lo + int(np.argmax(seg))
        # parabolic refine of max slope
        if 0 < k < len(d)-1:
            off = B.parabolic_offset(d[k-1], d[k], d[k+1]); ks = k + off
        else: ks = float(k)
        if how == "slope":
            out.append(ks); continue
        # intersecting tangent: min before peak
        mlo = max(0, p - int(0.5 * fs)); m = mlo + int(np.argmin(clean[mlo:k+1]))
        slope = np.interp(ks, np.arange(len(d)), d)
        val = np.interp(ks, np.arange(len(clean)), clean)
        if slope <= 0: out.append(np.nan); continue
        out.append(ks - (val - clean[m]) / slope)
    return np.array(out)

def rm_of(beats, rr, fix=False):
    iv = np.diff(beats) * 1000
    if fix:
        import neurokit2 as nk
        pk = np.round(beats * 1000).astype(int)
        _, pk2 = nk.signal_fixpeaks(pk - pk[0], sampling_rate=1000, method="Kubios", iterative=True)
        iv = np.diff(np.asarray(pk2)) * 1.0
    keep = (iv > 300) & (iv < 2000)
    med = np.median(iv[keep])
    keep &= (iv > 0.5 * med) & (iv < 1.6 * med)
    sd = np.diff(iv)[keep[1:] & keep[:-1]]
    rm, ref = float(np.sqrt(np.mean(sd**2))), vh.rmssd(rr)
    hr = 60000/np.mean(iv[keep]); hr_ref = 60000/np.mean(rr)
    return 100*abs(rm/ref-1), 100*abs(hr/hr_ref-1)

res = {}
for f in sorted(glob.glob(str(data / "welltory_phone_ppg_polar_rr" / "data" / "subject_*"))):
    rr = np.loadtxt(Path(f) / "RR.txt")
    for fs in (30.0, 90.0):
        a = np.genfromtxt(Path(f) / "PPG.csv", delimiter=",", names=True)
        t, x, ch = vh.welltory_signal(Path(f), 30.0)
        if fs != 30.0:
            tt = a["time"]/1000.0; t = np.arange(tt[0], tt[-1], 1/fs)
            x = -CubicSpline(tt, a[ch])(t)
        det = B.detect_ppg_beats(x, fs)
        keep = det.quality >= B.PPG_MIN_BEAT_QUALITY
        for how in ("peak", "slope", "tangent"):
            pts = det.points if how == "peak" else fiducials(det.clean, det.peaks, fs, how)
            b = np.interp(pts[keep & np.isfinite(pts)], np.arange(len(t)), t)
            for fix in (False, True):
                try:
                    e = rm_of(b, rr, fix)
                except Exception as ex:
                    e = (999, 999)
                res.setdefault((fs, how, fix), []).append(e)
for k, v in res.items():
    v = np.array(v)
    print(k, "rmssd<=20:", int((v[:,0] <= 20).sum()), "hr<=2:", int((v[:,1] <= 2).sum()), "median rm err", round(float(np.median(v[:,0])),1))
