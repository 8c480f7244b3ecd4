"""The benchmark signals, fixed so that figures compare across runs and tools."""

from __future__ import annotations

import numpy as np
from scipy import signal


def lag_signal(
    seconds: float = 120.0, sfreq: float = 250.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Alpha with a known envelope in pink noise (the ``nfb bench lag`` signal).

    The true envelope is the absolute value of white noise low-passed at 1 Hz (4th-order
    Butterworth, zero-phase) scaled by 8; alpha is that envelope times a 10 Hz sine; the
    background is 1/f (pink) noise scaled to the alpha's standard deviation.

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
    alpha = envelope * np.sin(2 * np.pi * 10.0 * t)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sfreq)
    spectrum[1:] /= np.sqrt(freqs[1:])  # power ∝ 1/f
    spectrum[0] = 0.0
    pink = np.fft.irfft(spectrum, n)
    pink *= alpha.std() / pink.std()
    return alpha + pink, envelope
