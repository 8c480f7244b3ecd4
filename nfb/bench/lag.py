"""``nfb bench lag``: how late each estimator's envelope follows the true one.

Every estimator produces values at its own update times; they are held until the next one
(what a client sees) on the sample grid. For each, the lag that best aligns the held output
with the true envelope is searched over 0–1000 ms, ignoring the first 5 s; the correlation
there and at zero lag are reported.
"""

from __future__ import annotations

import numpy as np

from ..bands import DEFAULT_BANDS
from ..dsp.envelope import DEFAULT_ESTIMATOR, ESTIMATORS
from ..dsp.features import FeatureExpr
from ..dsp.pipeline import Derivation, Pipeline
from .signals import lag_signal

SFREQ = 250.0
SKIP_S = 5.0
MAX_LAG_S = 1.0


def hold(values: np.ndarray, at: np.ndarray, n: int) -> np.ndarray:
    """Values known at sample indices ``at``, held until the next one, on ``n`` samples."""
    out = np.full(n, np.nan)
    idx = np.searchsorted(at, np.arange(n), side="right") - 1
    ok = idx >= 0
    out[ok] = values[idx[ok]]
    return out


def best_lag(estimate: np.ndarray, truth: np.ndarray, sfreq: float = SFREQ) -> dict:
    """Lag (ms) maximising the correlation of ``estimate`` (late) with ``truth``."""
    skip = int(SKIP_S * sfreq)
    corrs = []
    for lag in range(int(MAX_LAG_S * sfreq) + 1):
        a = estimate[skip + lag :]
        b = truth[skip : len(truth) - lag]
        ok = np.isfinite(a) & np.isfinite(b)
        corrs.append(np.corrcoef(a[ok], b[ok])[0, 1])
    corrs = np.asarray(corrs)
    k = int(np.nanargmax(corrs))
    return {"lag_ms": 1000.0 * k / sfreq, "corr": float(corrs[k]), "corr_zero_lag": float(corrs[0])}


def nfb_estimator(x: np.ndarray, estimator: str, step: int = 4, band: str = "alpha") -> np.ndarray:
    """nfb's live path (notch, 1–40 Hz band-pass, estimator) at its frame rate, held."""
    p = Pipeline(
        SFREQ,
        1,
        [Derivation("main", ((0, 1.0),))],
        DEFAULT_BANDS,
        FeatureExpr(band, DEFAULT_BANDS),
        step=step,
        estimator=estimator,
        notch_hz=50.0,
        bandpass_hz=(1.0, 40.0),
        smooth_ms=0.0,
    )
    fb = p.process(x[None])
    return hold(fb.bands[band], fb.sample_index, len(x))


def _windows(x: np.ndarray, window_s: float = 1.0, every_s: float = 0.1):
    w, hop = int(window_s * SFREQ), int(every_s * SFREQ)
    ends = np.arange(w, len(x) + 1, hop)  # a window ending at sample e uses x[e-w:e]
    return ends, np.stack([x[e - w : e] for e in ends])


def brainflow_estimator(x: np.ndarray) -> np.ndarray:
    """BrainFlow ``DataFilter.get_avg_band_powers`` on 1 s windows every 100 ms (alpha)."""
    from brainflow.data_filter import DataFilter

    ends, wins = _windows(x)
    alpha = np.array(
        [
            DataFilter.get_avg_band_powers(np.ascontiguousarray(win[None]), [0], int(SFREQ), True)[
                0
            ][2]
            for win in wins
        ]
    )
    return hold(np.sqrt(alpha), ends - 1, len(x))


def mne_estimator(x: np.ndarray) -> np.ndarray:
    """MNE ``psd_array_welch`` on 1 s windows every 100 ms, alpha (8–12 Hz) amplitude."""
    from mne.time_frequency import psd_array_welch

    ends, wins = _windows(x)
    psd, _freqs = psd_array_welch(
        wins, SFREQ, fmin=8.0, fmax=12.0, n_fft=int(SFREQ), verbose="error"
    )
    return hold(np.sqrt(psd.sum(axis=-1)), ends - 1, len(x))


def run() -> list[dict]:
    """All rows of the lag benchmark: nfb's default first, then its other estimators, peers."""
    x, truth = lag_signal()
    default = DEFAULT_ESTIMATOR
    rows = [
        {"name": "nfb-default", "estimator": default, **best_lag(nfb_estimator(x, default), truth)}
    ]
    for est in ESTIMATORS:
        if est != default:
            rows.append(
                {"name": f"nfb-{est}", "estimator": est, **best_lag(nfb_estimator(x, est), truth)}
            )
    rows.append({"name": "brainflow", **best_lag(brainflow_estimator(x), truth)})
    rows.append({"name": "mne", **best_lag(mne_estimator(x), truth)})
    return rows


def robustness(seeds=(1, 2, 3, 4), carriers_hz=(9.0, 11.0)) -> list[dict]:
    """The default estimator on other draws of the signal (diagnostic, not the benchmark).

    One row per seed at 10 Hz, then one per alpha frequency at seed 0.
    """
    rows = []
    for seed in seeds:
        x, truth = lag_signal(seed=seed)
        rows.append(
            {"name": f"seed-{seed}", "seed": seed, "carrier_hz": 10.0}
            | best_lag(nfb_estimator(x, "cfir"), truth)
        )
    for carrier in carriers_hz:
        x, truth = lag_signal(carrier_hz=carrier)
        rows.append(
            {"name": f"alpha-{carrier:g}hz", "seed": 0, "carrier_hz": carrier}
            | best_lag(nfb_estimator(x, "cfir"), truth)
        )
    return rows


def selectivity(bands=("theta", "alpha", "smr", "beta", "high_beta", "gamma")) -> list[dict]:
    """Each default band's live-path cFIR (diagnostic): response and lag.

    Gains are of the whole chain (50 Hz notch, 1–40 Hz band-pass, FIR) as the band's reading
    of a sine relative to one at the band centre: ``pass_min``/``pass_max`` over the band,
    and in dB the largest leakage at least half, one and two band widths from the band
    (either side, the image at negative frequencies included) and on the image side alone.
    ``lag_ms``/``corr`` are the benchmark's measures on its signal with the carrier at the
    band's centre (seed 0).
    """
    from ..dsp.envelope import CFIREstimator
    from ..dsp.filters import design_bandpass, design_notch

    prefilter = np.vstack([design_notch(50.0, SFREQ), design_bandpass(1.0, 40.0, SFREQ)])
    freqs = np.arange(0.25, SFREQ / 2, 0.05)
    rows = []
    for name in bands:
        lo, hi = DEFAULT_BANDS[name]
        width = hi - lo
        est = CFIREstimator((lo, hi), SFREQ, 1, prefilter=prefilter)
        pos, neg = est.response(freqs), est.response(-freqs)
        both = np.maximum(pos, neg)
        inband = (freqs >= lo) & (freqs <= hi)
        row = {
            "name": name,
            "band_hz": [lo, hi],
            "delay_ms": est.delay_ms,
            "pass_min": float(pos[inband].min()),
            "pass_max": float(pos[inband].max()),
        }
        for k, key in ((0.5, "stop_half_bw_db"), (1.0, "stop_1bw_db"), (2.0, "stop_2bw_db")):
            out = (freqs <= lo - k * width) | (freqs >= hi + k * width)
            row[key] = float(20 * np.log10(both[out].max()))
        row["image_db"] = float(20 * np.log10(neg.max()))
        x, truth = lag_signal(carrier_hz=(lo + hi) / 2)
        rows.append(row | best_lag(nfb_estimator(x, "cfir", band=name), truth))
    return rows
