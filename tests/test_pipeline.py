"""The pipeline contract: chunk-invariant, sample-indexed, calibrated in µV."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nfb.bands import DEFAULT_BANDS
from nfb.dsp.envelope import ESTIMATORS
from nfb.dsp.features import FeatureExpr
from nfb.dsp.pipeline import Derivation, Pipeline
from nfb.errors import ConfigError

FS = 250.0
N = 3000


def _stream(seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(N) / FS
    x = rng.standard_normal((4, N)) * 8 + 3000.0  # a real board's DC offset
    x[0] += 20 * np.sin(2 * np.pi * 10 * t)
    x[2, 1500:1504] = np.nan  # a hole in the stream
    x[3, 2000] = np.inf
    return x


def _pipeline(estimator):
    derivs = [
        Derivation("main", ((0, 0.5), (1, 0.5))),
        Derivation("F4", ((2, 1.0),)),
        Derivation("F3", ((3, 1.0),)),
        Derivation("Cz-Pz", ((0, 1.0), (1, -1.0))),
    ]
    expr = FeatureExpr("alpha / beta + ln(alpha@F4) - ln(alpha@F3) + theta@Cz-Pz", DEFAULT_BANDS)
    return Pipeline(
        FS,
        4,
        derivs,
        DEFAULT_BANDS,
        expr,
        step=4,
        estimator=estimator,
        smooth_ms=250,
        emg_band=(55, 95),
        artifact_channels=[0, 1, 2, 3],
    )


def _run(estimator, sizes):
    p = _pipeline(estimator)
    x = _stream()
    blocks, i = [], 0
    for size in sizes:
        blocks.append(p.process(x[:, i : i + size]))
        i += size
    blocks.append(p.process(x[:, i:]))
    out = {
        k: np.concatenate([getattr(b, k) for b in blocks])
        for k in ("sample_index", "feature", "peak_uv", "emg_uv", "n_invalid")
    }
    for col in blocks[0].bands:
        out[col] = np.concatenate([b.bands[col] for b in blocks])
    out["raw_min"] = np.concatenate([b.raw_min for b in blocks], axis=1)
    out["raw_max"] = np.concatenate([b.raw_max for b in blocks], axis=1)
    return out


REFERENCE = {}


@pytest.mark.parametrize("estimator", ESTIMATORS)
@settings(max_examples=15, deadline=None)
@given(sizes=st.lists(st.integers(0, 400), min_size=1, max_size=30))
def test_random_chunkings_give_bit_identical_frames(estimator, sizes):
    if estimator not in REFERENCE:
        REFERENCE[estimator] = _run(estimator, [N])
    ref = REFERENCE[estimator]
    got = _run(estimator, sizes)
    assert got.keys() == ref.keys()
    for key in ref:
        # bit identity, NaN positions included: compare the bytes
        assert got[key].tobytes() == ref[key].tobytes(), key


def test_frames_fall_on_fixed_sample_indices():
    out = _run("cfir", [7, 1, 1, 250])
    idx = out["sample_index"]
    assert idx[0] == 3
    assert np.all(np.diff(idx) == 4)
    assert len(idx) == N // 4
    assert out["n_invalid"].sum() == 5  # 4 NaN samples + 1 inf, each in one frame's step
    assert np.isfinite(out["feature"]).all()


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_sine_in_noise_gives_its_amplitude(estimator):
    rng = np.random.default_rng(1)
    n = int(20 * FS)
    t = np.arange(n) / FS
    amp = 25.0
    x = amp * np.sin(2 * np.pi * 10 * t + 0.3) + rng.standard_normal(n) * 3.0
    p = Pipeline(
        FS,
        1,
        [Derivation("main", ((0, 1.0),))],
        DEFAULT_BANDS,
        FeatureExpr("alpha", DEFAULT_BANDS),
        estimator=estimator,
    )
    fb = p.process(x[None])
    settled = fb.bands["alpha"][fb.sample_index > 3 * FS]
    assert np.median(settled) == pytest.approx(amp, rel=0.05)
    power = Pipeline(
        FS,
        1,
        [Derivation("main", ((0, 1.0),))],
        DEFAULT_BANDS,
        FeatureExpr("alpha", DEFAULT_BANDS),
        estimator=estimator,
        measure="power",
    )
    pb = power.process(x[None])
    assert np.median(pb.bands["alpha"][pb.sample_index > 3 * FS]) == pytest.approx(
        amp**2 / 2, rel=0.1
    )


def test_alpha_rich_stretch_scores_higher_than_alpha_poor():
    rng = np.random.default_rng(2)
    n = int(30 * FS)
    t = np.arange(n) / FS
    background = np.cumsum(rng.standard_normal(n)) * 0.5  # 1/f-like drift
    background -= np.convolve(background, np.ones(250) / 250, mode="same")
    beta = 5 * np.sin(2 * np.pi * 17 * t)
    alpha = np.where(t < 15, 4.0, 30.0) * np.sin(2 * np.pi * 10.5 * t)
    x = background + beta + alpha + rng.standard_normal(n) * 2
    p = Pipeline(
        FS,
        1,
        [Derivation("main", ((0, 1.0),))],
        DEFAULT_BANDS,
        FeatureExpr("alpha / beta", DEFAULT_BANDS),
        smooth_ms=250,
    )
    fb = p.process(x[None])
    t_frame = fb.sample_index / FS
    poor = fb.feature[(t_frame > 3) & (t_frame < 15)]
    rich = fb.feature[t_frame > 18]
    assert np.median(rich) > 3 * np.median(poor)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "alpha +",
        "alpha ** 2",
        "__import__('os')",
        "alpha.real",
        "nosuchband",
        "exp(alpha)",
        "alpha if beta else theta",
        "[alpha]",
    ],
)
def test_bad_feature_expressions_are_refused(text):
    with pytest.raises(ConfigError) as err:
        FeatureExpr(text, DEFAULT_BANDS)
    assert "\n" not in str(err.value)


def test_feature_expression_evaluates_with_band_references():
    expr = FeatureExpr("ln(alpha@F4) - ln(alpha@F3)", DEFAULT_BANDS)
    assert [r.column for r in expr.refs] == ["alpha@F4", "alpha@F3"]
    vals = {expr.refs[0]: np.array([np.e**2]), expr.refs[1]: np.array([np.e])}
    assert expr.evaluate(vals)[0] == pytest.approx(1.0)


def test_stream_starting_with_a_non_finite_feature_is_chunk_invariant():
    # a board that starts with zeros gives alpha/beta = 0/0 for the first frames
    x = _stream()
    x[:, :300] = 0.0

    def frames(sizes):
        p = Pipeline(
            FS,
            4,
            [Derivation("main", ((0, 1.0),))],
            DEFAULT_BANDS,
            FeatureExpr("alpha / beta", DEFAULT_BANDS),
            smooth_ms=250,
        )
        out, i = [], 0
        for size in sizes:
            out.append(p.process(x[:, i : i + size]))
            i += size
        return (
            np.concatenate([b.feature for b in out]),
            np.concatenate([b.n_invalid for b in out]),
        )

    whole, invalid = frames([N])
    split, _ = frames([100, 7, N - 107])
    assert whole.tobytes() == split.tobytes()
    assert invalid[0] > 0  # the 0/0 frames are invalid, so they cannot be rewarded
    assert np.isfinite(whole[-100:]).all()


def test_notch_on_a_125_hz_board_at_60_hz_mains():
    p = Pipeline(
        125.0,
        1,
        [Derivation("main", ((0, 1.0),))],
        DEFAULT_BANDS,
        FeatureExpr("alpha", DEFAULT_BANDS),
        notch_hz=60.0,
    )
    t = np.arange(2500) / 125.0
    fb = p.process((30 * np.sin(2 * np.pi * 60 * t))[None])
    assert np.median(fb.peak_uv[-100:]) < 3.0  # the 60 Hz line is gone
