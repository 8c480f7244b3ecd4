"""``nfb bench selectivity``: does each estimator follow the rhythm it names?

Per estimator, on its live path (50 Hz notch, 1–40 Hz band-pass, the estimator, a frame
every 4 samples; rows named as in ``nfb bench lag``, ``nfb-default`` first):

* ``reject_db``: the whole chain's rejection of a sine one band width below and above alpha
  (4 and 16 Hz for 8–12 Hz), the worse of the two, in dB below the reading of the same sine
  at the band centre (positive: 30 means the 4 Hz sine reads 1/31.6 of its amplitude).
  Readings are medians over 8–20 s of a 25 µV sine, after the filters have settled;
  ``reject_below_db`` and ``reject_above_db`` are the two sides;
* ``lag_ms`` and ``corr``: ``nfb bench lag``'s figures on its signal (seed 0);
* ``real_corr``: the correlation, at the best lag (``real_lag_ms``), with the offline
  reference envelope of the realistic signal (:func:`~nfb.bench.signals.realistic_signal`,
  seed 0: 1/f² drift, blinks, saccades, EMG bursts, eyes-open alpha at 10 dB in-band SNR):
  the amplitude of its zero-phase 8–12 Hz band-pass (4th-order Butterworth run forwards
  and backwards, then Hilbert), what an offline analysis calls alpha and the only reference
  real EEG has; ``real_corr_truth`` is the correlation with the alpha's true envelope, which
  no estimate reaches at this SNR (the ``offline-zero-phase`` row is the reference's own).

The ``nfb-cfir-sharp`` row is the minimum-phase cFIR (``selectivity="sharp"``), a point on
the linear delay/selectivity curve that protocols do not reach.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from ..bands import DEFAULT_BANDS
from ..dsp.envelope import DEFAULT_ESTIMATOR, ESTIMATORS
from ..dsp.features import FeatureExpr
from ..dsp.pipeline import Derivation, Pipeline
from .lag import SFREQ, best_lag, hold
from .signals import lag_signal, realistic_signal

BAND = "alpha"
SINE_UV = 25.0


def live_path(
    x: np.ndarray, estimator: str, params: dict | None = None, band: str = BAND
) -> np.ndarray:
    """The band's amplitude through the live path, held on the sample grid."""
    p = Pipeline(
        SFREQ,
        1,
        [Derivation("main", ((0, 1.0),))],
        DEFAULT_BANDS,
        FeatureExpr(band, DEFAULT_BANDS),
        step=4,
        estimator=estimator,
        estimator_params=params,
        notch_hz=50.0,
        bandpass_hz=(1.0, 40.0),
        smooth_ms=0.0,
    )
    fb = p.process(np.asarray(x, dtype=np.float64)[None])
    return hold(fb.bands[band], fb.sample_index, len(x))


def sine_reading(
    freq: float, estimator: str, params: dict | None = None, band: str = BAND
) -> float:
    """Median reading (µV) of a 25 µV sine at ``freq`` over 8–20 s of the live path."""
    n = int(20 * SFREQ)
    x = SINE_UV * np.sin(2 * np.pi * freq * np.arange(n) / SFREQ + 0.3)
    return float(np.median(live_path(x, estimator, params, band)[int(8 * SFREQ) :]))


def rejection(estimator: str, params: dict | None = None, band: str = BAND) -> dict:
    """``reject_db`` (the worse side) and each side's, one band width from ``band``."""
    lo, hi = DEFAULT_BANDS[band]
    width = hi - lo
    centre = sine_reading((lo + hi) / 2.0, estimator, params, band)
    below = sine_reading(lo - width, estimator, params, band)
    above = sine_reading(hi + width, estimator, params, band)

    def db(v: float) -> float:
        return float(-20 * np.log10(max(v, 1e-12) / centre))

    return {
        "reject_db": min(db(below), db(above)),
        "reject_below_db": db(below),
        "reject_above_db": db(above),
        "below_hz": lo - width,
        "above_hz": hi + width,
    }


def offline_reference(x: np.ndarray, band: str = BAND) -> np.ndarray:
    """Zero-phase band-pass (4th-order Butterworth, forwards and backwards) amplitude."""
    sos = signal.butter(4, DEFAULT_BANDS[band], btype="bandpass", fs=SFREQ, output="sos")
    return np.abs(signal.hilbert(signal.sosfiltfilt(sos, x)))


def _variants() -> list[tuple[str, str, dict | None]]:
    rows = [("nfb-default", DEFAULT_ESTIMATOR, None)]
    for est in ESTIMATORS:
        if est != DEFAULT_ESTIMATOR:
            rows.append((f"nfb-{est}", est, None))
            if est == "cfir":
                rows.append(("nfb-cfir-sharp", "cfir", {"selectivity": "sharp"}))
    return rows


def run(seed: int = 0) -> list[dict]:
    """All rows: the estimators (default first), then the offline reference."""
    x, truth = lag_signal(seed=seed)
    rx, renv, info = realistic_signal(seed=seed)
    ref = offline_reference(rx)
    rows = []
    for name, est, params in _variants():
        bench = best_lag(live_path(x, est, params), truth)
        live = live_path(rx, est, params)
        real = best_lag(live, ref)
        rows.append(
            {
                "name": name,
                "estimator": est,
                **({"params": params} if params else {}),
                **rejection(est, params),
                "lag_ms": bench["lag_ms"],
                "corr": bench["corr"],
                "real_corr": real["corr"],
                "real_lag_ms": real["lag_ms"],
                "real_corr_truth": best_lag(live, renv)["corr"],
            }
        )
    offline = best_lag(ref, renv)
    rows.append(
        {
            "name": "offline-zero-phase",
            "real_corr_truth": offline["corr"],
            "real_lag_ms": offline["lag_ms"],
            "real_signal": {k: v for k, v in info.items()},
        }
    )
    return rows
