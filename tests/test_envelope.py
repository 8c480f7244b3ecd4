"""The default cFIR estimator: the lag target, its selectivity, its calibration, its design.

Figures are measured on the live path (50 Hz notch, 1–40 Hz band-pass, then the estimator
at a frame every 4 samples), the one sessions use. The gains are those of the whole chain:
``response(f)`` is the reading of a sine at ``f`` relative to one at the band centre.
"""

import time

import numpy as np
import pytest

from nfb.bands import DEFAULT_BANDS
from nfb.bench.lag import best_lag, hold, nfb_estimator, selectivity
from nfb.bench.signals import lag_signal
from nfb.dsp.envelope import CFIREstimator, cfir_band_params, design_cfir
from nfb.dsp.features import FeatureExpr
from nfb.dsp.filters import design_bandpass, design_notch
from nfb.dsp.pipeline import Derivation, Pipeline
from nfb.errors import ConfigError

FS = 250.0
PRE = np.vstack([design_notch(50.0, FS), design_bandpass(1.0, 40.0, FS)])


def _db(band, freqs, **params):
    est = CFIREstimator(band, FS, 1, prefilter=PRE, **params)
    return 20 * np.log10(est.response(np.asarray(freqs, dtype=float)))


def _reading(band_name, freq, amp=25.0, sfreq=FS, **kw):
    """Median band value (µV) the live path gives for a sine, after the filters settle."""
    n = int(20 * sfreq)
    x = amp * np.sin(2 * np.pi * freq * np.arange(n) / sfreq + 0.3)
    kw.setdefault("estimator", "cfir")  # this file tests the fast cFIR
    p = Pipeline(
        sfreq,
        1,
        [Derivation("main", ((0, 1.0),))],
        DEFAULT_BANDS,
        FeatureExpr(band_name, DEFAULT_BANDS),
        **kw,
    )
    fb = p.process(x[None])
    return float(np.median(fb.bands[band_name][fb.sample_index > 3 * sfreq]))


# --- the latency target (issue 5) -------------------------------------------------------


def test_default_meets_the_lag_target_on_the_benchmark_signal():
    x, truth = lag_signal()  # the fixed signal: 120 s, seed 0, 10 Hz
    r = best_lag(nfb_estimator(x, "cfir"), truth)
    assert r["lag_ms"] <= 50.0
    assert r["corr"] >= 0.9


def test_lag_target_holds_on_other_draws_of_the_signal():
    # chosen on seeds 10–14; seed 3 is the hardest draw (r 0.89), the others stay above 0.9
    results = []
    for seed in (1, 2, 3, 4):
        x, truth = lag_signal(seed=seed)
        results.append(best_lag(nfb_estimator(x, "cfir"), truth))
    assert all(r["lag_ms"] <= 50.0 for r in results)
    assert all(r["corr"] >= 0.88 for r in results)
    assert np.mean([r["corr"] for r in results]) >= 0.9


@pytest.mark.parametrize("carrier", [9.0, 11.0])
def test_alpha_off_centre_is_tracked_a_little_later(carrier):
    x, truth = lag_signal(carrier_hz=carrier)
    r = best_lag(nfb_estimator(x, "cfir"), truth)
    assert r["lag_ms"] <= 90.0 and r["corr"] >= 0.9


def test_wider_bands_lag_about_as_much_as_alpha():
    # beta, high beta and gamma spend their headroom on rejection, not on being faster
    rows = {r["name"]: r for r in selectivity(("beta", "high_beta", "gamma"))}
    for row in rows.values():
        assert 36.0 <= row["lag_ms"] <= 56.0 and row["corr"] >= 0.93


# --- selectivity, from the actual chain's frequency response ------------------------------


@pytest.mark.parametrize(
    ("band", "freqs", "max_db"),
    [
        ((8.0, 12.0), [4.0, 16.0], -13.0),  # alpha, one band width out
        ((8.0, 12.0), [20.0, 25.0, 30.0], -18.0),  # alpha against beta / high beta
        ((8.0, 12.0), [-10.0], -24.0),  # alpha's image (envelope ripple)
        ((8.0, 12.0), [6.0, 14.0], -6.5),  # half a band width out
        ((15.0, 20.0), [10.0], -13.5),  # beta against 10 Hz alpha (was −10 dB)
        ((15.0, 20.0), [5.0, 8.0, 30.0], -16.0),
        ((4.0, 8.0), [10.0], -6.0),  # theta against 10 Hz alpha (was −7.5 dB)
        ((4.0, 8.0), [12.0], -12.5),
        ((20.0, 30.0), [10.0, 12.0], -20.0),  # high beta against alpha
        ((20.0, 30.0), [15.0], -14.0),
    ],
)
def test_stop_band_rejection(band, freqs, max_db):
    assert np.all(_db(band, freqs) <= max_db)


@pytest.mark.parametrize(
    ("name", "two_bw_db"),
    [
        ("theta", -14.0),
        ("alpha", -14.5),
        ("smr", -14.0),
        ("beta", -18.5),
        ("high_beta", -24.0),
        ("gamma", -31.0),
    ],
)
def test_rejection_two_band_widths_away_and_beyond(name, two_bw_db):
    lo, hi = DEFAULT_BANDS[name]
    w = hi - lo
    f = np.arange(0.25, FS / 2, 0.05)
    far = f[(f <= lo - 2 * w) | (f >= hi + 2 * w)]
    # a sine at f reads through C(f) and C(−f): both sides count
    assert max(_db((lo, hi), far).max(), _db((lo, hi), -far).max()) <= two_bw_db


def test_pass_band_is_flat_where_alpha_usually_is():
    gains = 10 ** (_db((8.0, 12.0), np.arange(9.0, 11.01, 0.1)) / 20)
    assert gains.min() >= 0.95 and gains.max() <= 1.08
    edges = 10 ** (_db((8.0, 12.0), np.arange(8.0, 12.01, 0.1)) / 20)
    assert edges.min() >= 0.9 and edges.max() <= 1.6


def test_leakage_through_the_pipeline_on_sines():
    amp = 25.0
    assert _reading("alpha", 25.0, amp) <= amp * 10 ** (-18 / 20)  # high beta in alpha
    assert _reading("beta", 10.0, amp) <= amp * 10 ** (-13 / 20)  # alpha in beta
    assert _reading("high_beta", 10.0, amp) <= amp * 10 ** (-20 / 20)
    assert _reading("alpha", 9.0, amp) == pytest.approx(amp, rel=0.08)
    assert _reading("alpha", 11.0, amp) == pytest.approx(amp, rel=0.08)


# --- calibration and design ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("sfreq", "kw"),
    [
        (125.0, {"notch_hz": 60.0}),  # Cyton+Daisy at 60 Hz mains
        (256.0, {}),  # Muse
        (250.0, {"notch_hz": None, "bandpass_hz": None}),  # no pre-filter to compensate
    ],
)
def test_calibration_on_other_boards_and_without_pre_filter(sfreq, kw):
    assert _reading("alpha", 10.0, 25.0, sfreq, **kw) == pytest.approx(25.0, rel=0.05)


def test_pipeline_hands_its_pre_filter_to_the_cfir():
    p = Pipeline(
        FS,
        1,
        [Derivation("main", ((0, 1.0),))],
        DEFAULT_BANDS,
        FeatureExpr("alpha / beta", DEFAULT_BANDS),
        estimator="cfir",
    )
    for est in p._estimators.values():
        assert np.array_equal(est.prefilter, PRE)
    bare = Pipeline(
        FS,
        1,
        [Derivation("main", ((0, 1.0),))],
        DEFAULT_BANDS,
        FeatureExpr("alpha", DEFAULT_BANDS),
        notch_hz=None,
        bandpass_hz=None,
        estimator="cfir",
    )
    assert bare._estimators["alpha"].prefilter is None


def test_band_rule_gives_alpha_its_tuned_design_and_wider_bands_more_delay():
    assert cfir_band_params((8.0, 12.0)) == (0.0, 5.0)
    assert cfir_band_params((4.0, 8.0)) == (0.0, 5.0)
    d_beta, w_beta = cfir_band_params((15.0, 20.0))
    d_hb, w_hb = cfir_band_params((20.0, 30.0))
    assert 0.0 < d_beta < d_hb and 5.0 < w_beta < w_hb
    _, w_smr = cfir_band_params((12.0, 15.0))
    assert w_smr < 5.0


def test_design_is_fast_cached_and_bounded():
    band = (7.3, 11.1)  # not a default band: not cached yet
    t0 = time.perf_counter()
    taps = design_cfir(band, FS, 125, 0.0, prefilter=PRE)
    assert time.perf_counter() - t0 < 0.1
    assert design_cfir(band, FS, 125, 0.0, prefilter=PRE) is taps  # cached
    assert not taps.flags.writeable
    for sfreq in (125.0, 250.0, 1000.0):
        pre = np.vstack([design_notch(50.0, sfreq), design_bandpass(1.0, 40.0, sfreq)])
        for lo, hi in DEFAULT_BANDS.values():
            if hi > 45.0:  # EMG's band lies beyond the pre-filter's 40 Hz edge
                continue
            h = CFIREstimator((lo, hi), sfreq, 1, prefilter=pre).taps
            # a white floor keeps the taps small where the pre-filter vanishes
            assert np.isfinite(h).all() and np.abs(h).max() < 5.0


@pytest.mark.parametrize(
    "est_params",
    [
        {"delay_ms": -20.0, "snr_db": 6.0, "stop_weight": 20.0, "n_taps": 100},
        {"selectivity": "sharp"},
    ],
)
def test_cfir_is_chunk_invariant_with_other_parameters(est_params):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2000)) * 10

    def frames(sizes):
        est = CFIREstimator((8.0, 12.0), FS, 2, prefilter=PRE, **est_params)
        out, i = [], 0
        for size in [*sizes, x.shape[1]]:
            chunk = x[:, i : i + size]
            first = (-(i + 1)) % 4
            out.append(est.process(chunk, i, np.arange(first, chunk.shape[1], 4)))
            i += chunk.shape[1]
        return np.concatenate(out, axis=1)

    whole = frames([])
    assert frames([1, 3, 250, 7, 0, 999]).tobytes() == whole.tobytes()


# --- the selective option (estimator_params={"selectivity": "sharp"}) ---------------------


@pytest.mark.parametrize("band", [(8.0, 12.0), (15.0, 20.0), (20.0, 30.0), (4.0, 8.0)])
def test_sharp_option_rejects_30_db_one_band_width_away(band):
    lo, hi = band
    w = hi - lo
    f = np.arange(0.25, FS / 2, 0.05)
    out = f[(f <= lo - w) | (f >= hi + w)]
    assert _db(band, out, selectivity="sharp").max() <= -29.5
    inside = 10 ** (_db(band, np.linspace(lo, hi, 41), selectivity="sharp") / 20)
    assert inside.min() >= 0.97 and inside.max() <= 1.03  # flat: calibrated across the band
    assert _db((15.0, 20.0), [10.0], selectivity="sharp")[0] <= -30.0  # alpha in beta


def test_sharp_option_costs_lag_but_keeps_correlation():
    x, truth = lag_signal()
    p = Pipeline(
        FS,
        1,
        [Derivation("main", ((0, 1.0),))],
        DEFAULT_BANDS,
        FeatureExpr("alpha", DEFAULT_BANDS),
        estimator="cfir",
        estimator_params={"selectivity": "sharp"},
    )
    fb = p.process(x[None])
    r = best_lag(hold(fb.bands["alpha"], fb.sample_index, len(x)), truth)
    assert 100.0 <= r["lag_ms"] <= 160.0 and r["corr"] >= 0.95
    assert _reading("alpha", 10.0, 25.0, estimator_params={"selectivity": "sharp"}) == (
        pytest.approx(25.0, rel=0.05)
    )


def test_unknown_selectivity_is_refused():
    with pytest.raises(ConfigError, match="selectivity"):
        CFIREstimator((8.0, 12.0), FS, 1, selectivity="medium")
