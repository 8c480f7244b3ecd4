"""Heart rate from a PPG (nfb.dsp.heart): synthetic pulses of known rate, noise, and the
synthetic board's auxiliary PPG rows through a connected DeviceStream."""

from __future__ import annotations

import re

import numpy as np
import pytest

from nfb.devices import load_profile
from nfb.dsp.heart import best_heart_rate, estimate_heart_rate
from nfb.stream import DeviceStream

SFREQ = 64.0  # a Muse's PPG


def pulse_wave(
    bpm: float, *, seconds: float = 10.0, sfreq: float = SFREQ, noise: float = 0.2, seed: int = 0
) -> np.ndarray:
    """A reflective PPG: a sharp systolic dip and a smaller diastolic one per beat (beat
    times jittered by 2 %), breathing wander, a DC level and white noise (``noise`` times
    the pulse's depth)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sfreq)
    t = np.arange(n) / sfreq
    x = np.zeros(n)
    beat = rng.uniform(0, 60 / bpm)
    while beat < seconds + 1:
        d = t - beat
        x += np.exp(-0.5 * (d / 0.08) ** 2) + 0.4 * np.exp(-0.5 * ((d - 0.3) / 0.1) ** 2)
        beat += 60 / bpm * (1 + 0.02 * rng.standard_normal())
    wander = 0.2 * np.sin(2 * np.pi * 0.25 * t)
    return 50_000 + 1000 * (-x + wander + noise * rng.standard_normal(n))


@pytest.mark.parametrize("bpm", [45, 60, 72, 90, 120, 160])
def test_the_rate_of_a_noisy_pulse(bpm):
    for seed in range(3):
        hr = estimate_heart_rate(pulse_wave(bpm, seed=seed), SFREQ)
        assert hr.bpm is not None, hr.reason
        assert abs(hr.bpm - bpm) < 2.5, (seed, hr)
        assert hr.periodicity > 0.8 and hr.reason == ""


def test_72_bpm_either_polarity_and_any_rate_of_sampling():
    assert abs(estimate_heart_rate(pulse_wave(72), SFREQ).bpm - 72) < 2
    # the pulse pointing up (a transmissive sensor), and at 250 Hz (the synthetic board)
    assert abs(estimate_heart_rate(-pulse_wave(72), SFREQ).bpm - 72) < 2
    assert abs(estimate_heart_rate(pulse_wave(72, sfreq=250), 250).bpm - 72) < 2


def test_noise_is_no_signal():
    rng = np.random.default_rng(5)
    for _ in range(50):
        assert estimate_heart_rate(rng.standard_normal(640), SFREQ).bpm is None
        assert estimate_heart_rate(np.cumsum(rng.standard_normal(640)), SFREQ).bpm is None


@pytest.mark.parametrize(
    ("ppg", "reason"),
    [
        (np.full(640, 1000.0), "flat"),
        (pulse_wave(72, seconds=3), "under 4 s"),
        (np.where(np.arange(640) == 100, np.nan, pulse_wave(72)), "invalid samples"),
        (pulse_wave(72, noise=3.0), "irregular|no repeating|beats in"),  # a loose band
    ],
)
def test_unreliable_ppg_says_why(ppg, reason):
    hr = estimate_heart_rate(ppg, SFREQ)
    assert hr.bpm is None and hr.text == "no signal"
    assert re.search(reason, hr.reason), hr.reason


def test_a_movement_in_the_window_is_no_signal_until_it_has_passed():
    ppg = pulse_wave(72, seconds=20)
    ppg[200:260] += np.hanning(60) * 40_000  # the band slides: a jolt 40 pulses deep
    assert estimate_heart_rate(ppg[:640], SFREQ).bpm is None
    assert abs(estimate_heart_rate(ppg, SFREQ).bpm - 72) < 2  # the newest 10 s are clean


def test_the_row_with_the_pulse_wins():
    rng = np.random.default_rng(2)
    ambient = 1000 + 20 * rng.standard_normal(640)  # a Muse's first PPG row: no pulse
    hr = best_heart_rate(np.vstack([ambient, pulse_wave(66), pulse_wave(66, noise=0.8)]), SFREQ)
    assert abs(hr.bpm - 66) < 2
    assert best_heart_rate(np.vstack([ambient, ambient]), SFREQ).bpm is None


def test_the_synthetic_boards_ppg_rows_through_a_device_stream(tmp_path):
    """BrainFlow's synthetic board carries two PPG rows in its auxiliary preset: noise, no
    pulse. The connected stream estimates from them once a second and says no signal."""
    profile = tmp_path / "synth-aux.toml"
    profile.write_text('board = "SYNTHETIC_BOARD"\nstreams = ["auxiliary"]\n')
    stream = DeviceStream(load_profile(str(profile)))
    assert stream.heart is not None and stream.heart.reason == "waiting for PPG"
    stream.connect()
    try:
        assert stream.acquisition.wait_samples(round(5.2 * 250), timeout=20)
        data, first = stream.latest_stream("auxiliary", 5.0)
    finally:
        stream.disconnect()
    st = stream.layout.stream("auxiliary")
    assert st.rows_of("ppg") and data.shape[0] == st.n_rows and data.shape[1] > 1000
    assert first >= 0
    heart = stream.heart
    # estimated (not still waiting), and no pulse in noise
    assert heart.bpm is None and heart.reason not in ("", "waiting for PPG"), heart
    assert best_heart_rate(data[st.rows_of("ppg")], st.sfreq).bpm is None
