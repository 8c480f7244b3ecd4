"""The benchmark signals, fixed so that figures compare across runs and tools."""

from __future__ import annotations

import numpy as np
from scipy import signal


def lag_signal(
    seconds: float = 120.0, sfreq: float = 250.0, seed: int = 0, carrier_hz: float = 10.0
) -> tuple[np.ndarray, np.ndarray]:
    """Alpha with a known envelope in pink noise (the ``nfb bench lag`` signal).

    The true envelope is the absolute value of white noise low-passed at 1 Hz (4th-order
    Butterworth, zero-phase) scaled by 8; alpha is that envelope times a 10 Hz sine; the
    background is 1/f (pink) noise scaled to the alpha's standard deviation. The benchmark
    is seed 0 at 10 Hz; other seeds and carriers (``carrier_hz``, for example 9 or 11 Hz,
    or another band's centre) are for robustness checks.

    Returns
    -------
    x : array (n,)
        The signal, µV.
    envelope : array (n,)
        The true alpha envelope, µV.
    """
    rng = np.random.default_rng(seed)
    n = round(seconds * sfreq)
    sos = signal.butter(4, 1.0, btype="lowpass", fs=sfreq, output="sos")
    envelope = 8.0 * np.abs(signal.sosfiltfilt(sos, rng.standard_normal(n)))
    t = np.arange(n) / sfreq
    alpha = envelope * np.sin(2 * np.pi * carrier_hz * t)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sfreq)
    spectrum[1:] /= np.sqrt(freqs[1:])  # power ∝ 1/f
    spectrum[0] = 0.0
    pink = np.fft.irfft(spectrum, n)
    pink *= alpha.std() / pink.std()
    return alpha + pink, envelope


#: The synthetic board's EEG labels: the channels of the throughput and soak signals.
SYNTHETIC_CHANNELS = (
    "Fz", "C3", "Cz", "C4", "Pz", "PO7", "Oz", "PO8", "F5", "F7", "F3", "F1", "F2", "F4", "F6", "F8"
)  # fmt: skip


def eeg_signal(
    seconds: float, n_channels: int = 16, sfreq: float = 250.0, seed: int = 0
) -> np.ndarray:
    """Deterministic resting-state-like EEG (µV), for the throughput and soak benchmarks.

    Each channel is pink (1/f) noise of about 10 µV RMS plus 10 Hz alpha and 18 Hz beta whose
    envelopes wander slowly (white noise low-passed at 0.5 Hz), alpha strongest at the back.
    Amplitudes stay well inside the default 100 µV artefact limit. Generated channel by
    channel, so a long signal costs one channel's FFT at a time.

    Returns
    -------
    x : array (n_channels, n)
        Signal, µV, float64.
    """
    rng = np.random.default_rng(seed)
    n = round(seconds * sfreq)
    t = np.arange(n) / sfreq
    freqs = np.fft.rfftfreq(n, 1.0 / sfreq)
    shape = np.zeros_like(freqs)
    shape[1:] = 1.0 / np.sqrt(freqs[1:])  # power ∝ 1/f
    sos = signal.butter(2, 0.5, btype="lowpass", fs=sfreq, output="sos")
    x = np.empty((n_channels, n))
    for ch in range(n_channels):
        pink = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * shape, n)
        pink *= 10.0 / max(pink.std(), 1e-12)
        env = np.abs(signal.sosfiltfilt(sos, rng.standard_normal(n))) if n > 12 else np.ones(n)
        env /= max(env.std(), 1e-12)
        posterior = 1.0 + (ch % 8) / 8.0
        x[ch] = (
            pink
            + 6.0 * posterior * env * np.sin(2 * np.pi * 10.0 * t + ch)
            + 2.0 * env[::-1] * np.sin(2 * np.pi * 18.0 * t + 2 * ch)
        )
    return x
