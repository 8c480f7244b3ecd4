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


def _colored(rng: np.random.Generator, n: int, sfreq: float, psd) -> np.ndarray:
    """Gaussian noise of ``n`` samples whose power spectral density follows ``psd(freqs)``."""
    freqs = np.fft.rfftfreq(n, 1.0 / sfreq)
    shape = np.zeros_like(freqs)
    shape[1:] = np.sqrt(psd(freqs[1:]))
    return np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * shape, n)


def _pulse(n: int, width: int) -> np.ndarray:
    """A raised-cosine bump of ``width`` samples inside ``n`` zeros (width ≤ n)."""
    out = np.zeros(n)
    out[:width] = 0.5 * (1.0 - np.cos(2 * np.pi * np.arange(width) / width))
    return out


#: In-band signal-to-noise ratio of the realistic signal's alpha (dB): alpha power over the
#: power of everything else in 8–12 Hz, artefacts included. Eyes-closed posterior alpha
#: stands about 15–20 dB above the background; eyes open its amplitude falls by a factor
#: of 1.5–2 (the EC/EO ratios of issue 13), −4 to −6 dB, so 10 dB is a client with some
#: eyes-open alpha. Clients with little (3–6 dB) put a ceiling of about 0.85 on the
#: correlation of *any* estimate, offline ones included, with the true envelope.
REALISTIC_ALPHA_SNR_DB = 10.0


def realistic_signal(
    seconds: float = 120.0,
    sfreq: float = 250.0,
    seed: int = 0,
    *,
    alpha_snr_db: float = REALISTIC_ALPHA_SNR_DB,
    artefacts: bool = True,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Eyes-open-like EEG at a posterior site with alpha of known envelope (µV).

    What the ``nfb bench lag`` signal leaves out and real eyes-open EEG is full of, each
    drawn from ``seed``:

    * **background**: Gaussian noise with a 1/f density above 4 Hz and 1/f² below (drift,
      slow potentials: 4× the pink density at 1 Hz, flat below 0.5 Hz), 20 µV RMS over
      1–40 Hz;
    * **alpha**: the lag signal's kind of envelope (white noise low-passed at 1 Hz, zero
      phase, absolute value) on a carrier whose frequency wanders ±0.3 Hz around 10 Hz,
      scaled to ``alpha_snr_db`` in-band SNR (alpha power over the power of everything else
      between 8 and 12 Hz, artefacts included);
    * **blinks** (about 18 a minute, Poisson): monophasic raised-cosine bumps of 200–400 ms
      and 40–80 µV (what a blink leaves at Pz or O1 with an ear reference);
    * **saccades** (about 30 a minute): fixation steps of ±10–30 µV held 0.2–1.5 s, with
      20 ms edges (the corneo-retinal dipole moving);
    * **EMG bursts** (about 3 a minute): white noise high-passed at 20 Hz, 5–15 µV RMS,
      0.5–2 s under a Hann window (jaw, neck).

    Returns
    -------
    x : array (n,)
        The signal, µV.
    envelope : array (n,)
        The true alpha envelope, µV (a sine's amplitude).
    info : dict
        What was drawn: counts of blinks, saccades and EMG bursts, the alpha RMS and the
        in-band SNR as realised.
    """
    rng = np.random.default_rng(seed)
    n = round(seconds * sfreq)
    background = _colored(
        rng, n, sfreq, lambda f: np.where(f >= 4.0, 1.0 / f, 4.0 / np.maximum(f, 0.5) ** 2)
    )
    band_sos = signal.butter(4, [1.0, 40.0], btype="bandpass", fs=sfreq, output="sos")
    background *= 20.0 / signal.sosfiltfilt(band_sos, background).std()

    artefact = np.zeros(n)
    info = {"blinks": 0, "saccades": 0, "emg_bursts": 0}
    if artefacts:
        for start in np.flatnonzero(rng.random(n) < 0.3 / sfreq):  # 18 a minute
            width = int(rng.uniform(0.2, 0.4) * sfreq)
            seg = artefact[start : start + width]
            seg += rng.uniform(40.0, 80.0) * _pulse(width, width)[: len(seg)]
            info["blinks"] += 1
        edge = int(0.02 * sfreq)
        for start in np.flatnonzero(rng.random(n) < 0.5 / sfreq):  # 30 a minute
            hold = int(rng.uniform(0.2, 1.5) * sfreq)
            shape = np.ones(hold + 2 * edge)
            ramp = 0.5 * (1.0 - np.cos(np.pi * np.arange(edge) / edge))
            shape[:edge], shape[-edge:] = ramp, ramp[::-1]
            seg = artefact[start : start + len(shape)]
            seg += rng.choice((-1.0, 1.0)) * rng.uniform(10.0, 30.0) * shape[: len(seg)]
            info["saccades"] += 1
        hp = signal.butter(4, 20.0, btype="highpass", fs=sfreq, output="sos")
        for start in np.flatnonzero(rng.random(n) < 0.05 / sfreq):  # 3 a minute
            width = int(rng.uniform(0.5, 2.0) * sfreq)
            burst = signal.sosfilt(hp, rng.standard_normal(width))
            burst *= rng.uniform(5.0, 15.0) / burst.std() * np.hanning(width) * np.sqrt(8.0 / 3.0)
            seg = artefact[start : start + width]
            seg += burst[: len(seg)]
            info["emg_bursts"] += 1

    sos = signal.butter(4, 1.0, btype="lowpass", fs=sfreq, output="sos")
    shape = np.abs(signal.sosfiltfilt(sos, rng.standard_normal(n)))
    drift = signal.sosfiltfilt(
        signal.butter(2, 0.2, btype="lowpass", fs=sfreq, output="sos"), rng.standard_normal(n)
    )
    freq = 10.0 + 0.3 * drift / max(np.abs(drift).max(), 1e-12)
    carrier = np.sin(2 * np.pi * np.cumsum(freq) / sfreq + rng.uniform(0, 2 * np.pi))
    others = background + artefact
    in_band = signal.butter(4, [8.0, 12.0], btype="bandpass", fs=sfreq, output="sos")
    noise_power = np.mean(signal.sosfiltfilt(in_band, others) ** 2)
    unit = shape * carrier
    alpha_power = np.mean(signal.sosfiltfilt(in_band, unit) ** 2)
    scale = np.sqrt(10.0 ** (alpha_snr_db / 10.0) * noise_power / alpha_power)
    envelope = scale * shape
    alpha = envelope * carrier
    info["alpha_rms_uv"] = float(alpha.std())
    info["alpha_snr_db"] = float(
        10 * np.log10(np.mean(signal.sosfiltfilt(in_band, alpha) ** 2) / noise_power)
    )
    return alpha + others, envelope, info
