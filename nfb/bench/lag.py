"""``nfb bench lag``: how late each estimator's envelope follows the true one.

Every estimator produces values at its own update times; they are held until the next one
(what a client sees) on the sample grid. For each, the lag that best aligns the held output
with the true envelope is searched over 0–1000 ms, ignoring the first 5 s; the correlation
there and at zero lag are reported.
"""

from __future__ import annotations

import numpy as np

from ..bands import DEFAULT_BANDS
from ..dsp.envelope import ESTIMATORS
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


def nfb_estimator(x: np.ndarray, estimator: str, step: int = 4) -> np.ndarray:
    """nfb's live path (notch, 1–40 Hz band-pass, estimator) at its frame rate, held."""
    p = Pipeline(
        SFREQ,
        1,
        [Derivation("main", ((0, 1.0),))],
        DEFAULT_BANDS,
        FeatureExpr("alpha", DEFAULT_BANDS),
        step=step,
        estimator=estimator,
        notch_hz=50.0,
        bandpass_hz=(1.0, 40.0),
        smooth_ms=0.0,
    )
    fb = p.process(x[None])
    return hold(fb.bands["alpha"], fb.sample_index, len(x))


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
    rows = [
        {"name": "nfb-default", "estimator": "cfir", **best_lag(nfb_estimator(x, "cfir"), truth)}
    ]
    for est in ESTIMATORS:
        if est != "cfir":
            rows.append(
                {"name": f"nfb-{est}", "estimator": est, **best_lag(nfb_estimator(x, est), truth)}
            )
    rows.append({"name": "brainflow", **best_lag(brainflow_estimator(x), truth)})
    rows.append({"name": "mne", **best_lag(mne_estimator(x), truth)})
    return rows
