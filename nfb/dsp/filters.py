"""Causal IIR filters that carry their state between chunks.

``scipy.signal.sosfilt`` runs the same per-sample recurrence whatever the chunk length, so
feeding a stream in any chunking gives bit-identical output as long as the state is carried.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from ..errors import ConfigError


def design_notch(freq: float, sfreq: float, quality: float = 30.0) -> np.ndarray:
    """Second-order-sections notch at ``freq`` (mains) and, where below Nyquist, its harmonic."""
    nyquist = sfreq / 2
    if not 0 < freq < nyquist:
        raise ConfigError(f"notch at {freq:g} Hz must be below Nyquist ({nyquist:g} Hz)")
    sections = []
    # the harmonic only where it sits clearly below Nyquist (not at 120 Hz on a 125 Hz Daisy)
    for f in (freq, 2 * freq) if 2 * freq < 0.95 * nyquist else (freq,):
        b, a = signal.iirnotch(f, quality * f / freq, fs=sfreq)
        sections.append(signal.tf2sos(b, a))
    return np.vstack(sections)


def design_bandpass(low: float, high: float, sfreq: float, order: int = 4) -> np.ndarray:
    """Butterworth band-pass as second-order sections (``order`` per edge)."""
    if not 0 < low < high < sfreq / 2:
        raise ConfigError(
            f"signal.bandpass_hz must satisfy 0 < low < high < {sfreq / 2:g} Hz, "
            f"got [{low}, {high}]"
        )
    return signal.butter(order, [low, high], btype="bandpass", fs=sfreq, output="sos")


def design_lowpass(cutoff: float, sfreq: float, order: int = 4) -> np.ndarray:
    """Butterworth low-pass as second-order sections."""
    return signal.butter(order, cutoff, btype="lowpass", fs=sfreq, output="sos")


class SosFilter:
    """A causal SOS filter over ``n_signals`` parallel signals with carried state.

    The state is initialised on the first chunk to the steady state for a step at its first
    sample, so a large electrode offset does not ring through the band-pass for seconds.

    Parameters
    ----------
    sos : array, shape (n_sections, 6)
        Second-order sections.
    n_signals : int
        Number of parallel signals (rows).
    """

    def __init__(self, sos: np.ndarray, n_signals: int) -> None:
        self.sos = np.asarray(sos)
        self.n_signals = int(n_signals)
        self._zi: np.ndarray | None = None

    def reset(self) -> None:
        self._zi = None

    def process(self, x: np.ndarray) -> np.ndarray:
        """Filter ``x`` of shape (n_signals, n) and return the output (same shape)."""
        if x.shape[1] == 0:
            return x.astype(np.result_type(x, self.sos), copy=True)
        if self._zi is None:
            zi0 = signal.sosfilt_zi(self.sos)  # (n_sections, 2)
            self._zi = zi0[:, None, :] * x[:, 0][None, :, None]
            if np.iscomplexobj(x):
                self._zi = self._zi.astype(complex)
        y, self._zi = signal.sosfilt(self.sos, x, axis=1, zi=self._zi)
        return y
