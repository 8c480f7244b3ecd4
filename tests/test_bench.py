"""The lag benchmark measures what it claims (the figures themselves are `nfb bench`)."""

import json

import numpy as np
import pytest
from conftest import nfb_cli

from nfb.bench.lag import best_lag, hold
from nfb.bench.signals import lag_signal


def test_signal_is_fixed_and_as_specified():
    x, env = lag_signal()
    x2, _env2 = lag_signal()
    assert x.tobytes() == x2.tobytes() and len(x) == 120 * 250
    assert env.min() >= 0
    # the background has the alpha's standard deviation: the signal's variance is about twice
    alpha = env * np.sin(2 * np.pi * 10 * np.arange(len(x)) / 250)
    assert np.var(x) == pytest.approx(2 * np.var(alpha), rel=0.15)
    # the envelope is slow: low-passed at 1 Hz (|.| adds a little from its zero crossings)
    spec = np.abs(np.fft.rfft(env - env.mean())) ** 2
    freqs = np.fft.rfftfreq(len(env), 1 / 250)
    assert spec[freqs > 3].sum() < 0.03 * spec.sum()


def test_best_lag_recovers_a_known_delay():
    _, env = lag_signal()
    late = np.concatenate([np.full(30, np.nan), env[:-30]])  # 120 ms late
    r = best_lag(late, env)
    assert r["lag_ms"] == 120.0 and r["corr"] > 0.999 and r["corr_zero_lag"] < r["corr"]


def test_hold_keeps_each_value_until_the_next():
    out = hold(np.array([1.0, 2.0]), np.array([2, 5]), 8)
    assert np.array_equal(out[2:], [1, 1, 1, 2, 2, 2]) and np.isnan(out[:2]).all()


def test_bench_lag_cli_json():
    proc = nfb_cli("bench", "lag", "--json", timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)["rows"]}
    assert {"nfb-default", "nfb-fft", "brainflow", "mne"} <= set(rows)
    for r in rows.values():
        assert {"lag_ms", "corr", "corr_zero_lag"} <= set(r)
    # a 1 s window lags about half a second; the default estimator is far faster
    assert 400 <= rows["nfb-fft"]["lag_ms"] <= 700
    assert rows["nfb-default"]["lag_ms"] < rows["nfb-fft"]["lag_ms"] - 300
