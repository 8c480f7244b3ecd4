"""Band envelope estimators.

Each estimator turns a causally pre-filtered signal into the amplitude envelope of one band,
evaluated only at frame positions. Amplitudes are in the input's unit (µV): a sine of
amplitude A inside the band gives A.

* ``selective`` (default, :mod:`nfb.dsp.predictive`): an AR forecast of the next ~190 ms,
  then a zero-phase analytic band-pass centred on the newest sample: about 43 dB rejection
  one band width from alpha at 64 ms lag (r 0.93 on ``nfb bench lag``).
* ``cfir`` (fast): a complex FIR fitted by weighted least squares so that the whole chain
  (the pipeline's notch and band-pass, then the FIR) estimates the band's analytic signal
  with zero target delay (so the FIR leads its input by the pre-filter's ~16 ms), against a
  1/f background, with a rejection weight that rises to its full value one band width from
  the band (:func:`design_cfir`, :func:`cfir_band_params`). On the ``nfb bench lag``
  signal the live path lags 48 ms at r 0.92 (the previous fit, pre-filter not
  compensated: 64 ms at r 0.93). One dot product per frame. With the parameter
  ``selectivity="sharp"`` it is instead the minimum-phase filter of a flat band with
  ≥ 30 dB rejection one band width away (:func:`design_cfir_sharp`): 144 ms at r 0.96,
  for ratios whose bands must not see each other.
* ``demod``: complex demodulation at the band centre and a causal Butterworth low-pass.
* ``butter``: Butterworth band-pass, then ``sqrt(2·lowpass(x²))``.
* ``fft``: the classic sliding 1 s Hann-windowed FFT, for comparison (about 500 ms lag).

Exactness: every estimator gives bit-identical output for any chunking of the same stream.
FIR estimators use ``np.einsum('ij,j->i')`` per signal (not BLAS, whose blocking changes the
summation order with the number of frames) and IIR ones carry their ``sosfilt`` state.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import linalg, signal

from ..errors import ConfigError
from .filters import SosFilter, design_bandpass, design_lowpass

#: Every estimator a protocol can name, the default first.
ESTIMATORS = ("selective", "cfir", "demod", "butter", "fft")
#: What a protocol gets without ``feedback.estimator``: the AR-predicted zero-phase filter
#: (:mod:`nfb.dsp.predictive`), ≥ 25 dB one band width from the band at ≤ 100 ms.
DEFAULT_ESTIMATOR = "selective"


#: Default cFIR design (see :func:`design_cfir` and :func:`cfir_band_params`), tuned for
#: alpha (8–12 Hz) on ``nfb bench lag``-like signals with seeds 10–14 (not the benchmark's):
#: 48 ms best-aligned lag at r 0.92 on the benchmark's own signal, behind the default notch
#: and 1–40 Hz band-pass, with about −8 dB half a band width from the band, −12 dB one band
#: width and −16 dB two band widths away, and gains of 0.97–1.06 over 9–11 Hz.
CFIR_DEFAULTS = {
    "delay_ms": 0.0,
    "snr_db": 10.0,
    "stop_weight": 5.0,
    "ref_width_hz": 4.0,
    "headroom_ms": 48.0,
}


def cfir_band_params(
    band: tuple[float, float],
    delay_ms: float = CFIR_DEFAULTS["delay_ms"],
    stop_weight: float = CFIR_DEFAULTS["stop_weight"],
    ref_width_hz: float = CFIR_DEFAULTS["ref_width_hz"],
    headroom_ms: float = CFIR_DEFAULTS["headroom_ms"],
) -> tuple[float, float]:
    """Target delay (ms) and stop weight of the cFIR for ``band``.

    A band of width ``B`` resolves its envelope in a time ∝ 1/B, and the stop weight is
    scaled by ``(B/ref)²`` so that each band trades delay for rejection in the same
    proportion as the reference (alpha's 4 Hz, whose ``delay_ms`` and ``stop_weight`` were
    tuned on the ``nfb bench lag`` signal). A band wider than the reference has headroom
    ``u = 1 − ref/B`` and spends it on selectivity: its target delay grows by
    ``headroom_ms·u``, which brings its lag near alpha's (about 40–50 ms) and keeps the
    bands of a ratio aligned. Narrower bands (SMR) are slower whatever the design.
    """
    width = band[1] - band[0]
    headroom = max(0.0, 1.0 - ref_width_hz / width)
    return delay_ms + headroom_ms * headroom, stop_weight * (width / ref_width_hz) ** 2


def design_cfir(
    band: tuple[float, float],
    sfreq: float,
    n_taps: int,
    delay_samples: float,
    *,
    prefilter: np.ndarray | None = None,
    snr_db: float = CFIR_DEFAULTS["snr_db"],
    stop_weight: float = CFIR_DEFAULTS["stop_weight"],
    n_grid: int | None = None,
) -> np.ndarray:
    """Complex FIR whose chain ``prefilter · h`` estimates the analytic signal of ``band``.

    A Wiener-style least-squares fit on a frequency grid (Smetanin et al. 2020 fit the
    ideal analytic band-pass; this adds a background model and a selectivity term). With
    ``C(f) = P(f)·H(f)`` the response of the whole chain (``P`` the causal pre-filter, so
    its delay and droop are absorbed rather than added), the taps minimise::

        Σ_band S |C − 2·e^{−j2πfd}|²  +  Σ_image S |C|²  +  Σ_f N(f) |C|²
          +  Σ_f λ·N̄·min(δ(f), 1) |C|²  +  ε Σ_f |H|²

    where ``N(f) = 1/max(|f|, 1 Hz)`` is a 1/f (pink) EEG background, ``S`` a band signal
    of flat density ``snr_db`` above the background's mean density in the band ``N̄``, the
    image is the mirrored band (a real rhythm has power at −f, whose leakage ripples the
    envelope), ``δ(f)`` the distance from the band in band widths, so that the selectivity
    weight ``λ = stop_weight`` rises from the band edges to its full value one band width
    away, and ``ε = 10⁻³·N̄`` a white floor after the pre-filter that keeps the taps bounded
    where ``P`` vanishes. A negative ``d`` makes the filter predictive; a causal filter
    can only lead by having gain just outside the band (the gain–delay relation of
    minimum-phase filters), so lag, noise and selectivity trade against each other here.
    The fit is a Hermitian Toeplitz system solved by Levinson recursion (about 2 ms) and
    cached on its parameters.

    Parameters
    ----------
    band : (float, float)
        Pass band in Hz.
    sfreq : float
        Sampling rate.
    n_taps : int
        Filter length.
    delay_samples : float
        Target group delay of the whole chain; zero or negative values make it predictive.
    prefilter : array (n_sections, 6) | None
        Second-order sections applied before the FIR (notch, band-pass), compensated.
    snr_db : float
        Assumed band signal over background density; higher trades noise for lag.
    stop_weight : float
        Weight of the rejection, reached one band width away from the band.
    n_grid : int | None
        Size of the frequency grid the fit is made on; by default the power of two that
        gives at most 0.125 Hz between points and at least 4 points per tap.

    Returns
    -------
    h : complex array, shape (n_taps,), read-only
        Taps, ``h[k]`` applies to the sample ``k`` steps in the past, scaled so that a sine
        at the band centre of amplitude A gives an output of modulus A through the chain.
    """
    pre = None if prefilter is None else np.ascontiguousarray(prefilter, dtype=np.float64)
    return _design_cfir(
        (float(band[0]), float(band[1])),
        float(sfreq),
        int(n_taps),
        float(delay_samples),
        None if pre is None else (pre.tobytes(), pre.shape),
        float(snr_db),
        float(stop_weight),
        int(n_grid or 2 ** int(np.ceil(np.log2(max(8.0 * sfreq, 4.0 * n_taps))))),
    )


@functools.lru_cache(maxsize=128)
def _design_cfir(band, sfreq, n_taps, delay_samples, pre, snr_db, stop_weight, n_grid):
    lo, hi = band
    width = hi - lo
    freqs = np.fft.fftfreq(n_grid, 1.0 / sfreq)
    if pre is None:
        pre_resp = np.ones(n_grid, dtype=complex)
        pre_centre = 1.0
    else:
        sos = np.frombuffer(pre[0]).reshape(pre[1])
        pre_resp = signal.sosfreqz(sos, worN=freqs, fs=sfreq)[1]
        pre_centre = signal.sosfreqz(sos, worN=[(lo + hi) / 2.0], fs=sfreq)[1][0]
    inband = (freqs >= lo) & (freqs <= hi)
    image = (freqs >= -hi) & (freqs <= -lo)
    noise = 1.0 / np.maximum(np.abs(freqs), 1.0)
    noise_band = noise[inband].mean()
    sig = 10.0 ** (snr_db / 10.0) * noise_band
    dist = np.maximum(lo - freqs, freqs - hi) / width
    outside = np.clip(dist, 0.0, 1.0)
    # the terms share the grid, so they merge into one weighted fit per frequency:
    # Σ w_k |C − t_k|² = W |C − Σ w_k t_k / W|² + const
    weight = noise + sig * (inband | image) + stop_weight * noise_band * outside
    ideal = 2.0 * np.exp(-2j * np.pi * freqs * delay_samples / sfreq)
    target = np.where(inband, sig * ideal, 0.0) / weight
    # Normal equations on the FFT grid: Σ_f W |P|² e^{j2πf(k−l)/fs} is Hermitian Toeplitz,
    # so one inverse FFT gives it and Levinson solves it. A white floor 30 dB under the
    # band's background after the pre-filter keeps the taps bounded where P vanishes.
    col = np.fft.ifft(weight * np.abs(pre_resp) ** 2 + 1e-3 * noise_band)[:n_taps]
    rhs = np.fft.ifft(weight * np.conj(pre_resp) * target)[:n_taps]
    taps = linalg.solve_toeplitz((col, np.conj(col)), rhs)
    centre = (lo + hi) / 2.0
    # |C(centre)| = 2 makes a real sine of amplitude A (half its power at +f) give A
    gain = np.abs(np.exp(-2j * np.pi * centre * np.arange(n_taps) / sfreq) @ taps * pre_centre)
    taps = taps * (2.0 / gain)
    taps.setflags(write=False)
    return taps


def design_cfir_sharp(
    band: tuple[float, float],
    sfreq: float,
    n_taps: int,
    *,
    prefilter: np.ndarray | None = None,
    stop_db: tuple[float, float] = (33.0, 50.0),
    n_grid: int | None = None,
) -> np.ndarray:
    """Selective complex FIR: the minimum-phase filter of a prescribed magnitude.

    The chain's magnitude is flat over the band, falls (a raised cosine in dB) to
    ``−stop_db[0]`` one band width from it and to ``−stop_db[1]`` two band widths away,
    where it stays, the image side included; the FIR's share (the prescription over the
    pre-filter's gain, never above 0 dB) gets the minimum phase of its magnitude from the
    folded cepstrum, then is truncated to ``n_taps`` with a cosine taper. A minimum-phase
    filter has the least delay any causal filter of that magnitude can have: for alpha
    about 140 ms on ``nfb bench lag`` (r 0.96), the price of ≥ 30 dB one band width away.

    Returns taps like :func:`design_cfir` (read-only, cached).
    """
    pre = None if prefilter is None else np.ascontiguousarray(prefilter, dtype=np.float64)
    return _design_cfir_sharp(
        (float(band[0]), float(band[1])),
        float(sfreq),
        int(n_taps),
        None if pre is None else (pre.tobytes(), pre.shape),
        (float(stop_db[0]), float(stop_db[1])),
        int(n_grid or 2 ** int(np.ceil(np.log2(max(32.0 * sfreq, 8.0 * n_taps))))),
    )


@functools.lru_cache(maxsize=64)
def _design_cfir_sharp(band, sfreq, n_taps, pre, stop_db, n_grid):
    lo, hi = band
    freqs = np.fft.fftfreq(n_grid, 1.0 / sfreq)
    dist = np.maximum(lo - freqs, freqs - hi) / (hi - lo)
    first = np.clip(dist, 0.0, 1.0)
    second = np.clip(dist - 1.0, 0.0, 1.0)
    db = -stop_db[0] * 0.5 * (1 - np.cos(np.pi * first))
    db -= (stop_db[1] - stop_db[0]) * 0.5 * (1 - np.cos(np.pi * second))
    if pre is not None:
        sos = np.frombuffer(pre[0]).reshape(pre[1])
        pre_db = 20 * np.log10(
            np.maximum(np.abs(signal.sosfreqz(sos, worN=freqs, fs=sfreq)[1]), 0.01)
        )
        db = np.minimum(db - pre_db, 0.0)
    # minimum phase: keep the causal half of the real cepstrum of the log magnitude
    cep = np.fft.ifft(db * (np.log(10.0) / 20.0))
    fold = np.zeros(n_grid, dtype=complex)
    fold[0] = cep[0]
    fold[1 : n_grid // 2] = 2 * cep[1 : n_grid // 2]
    fold[n_grid // 2] = cep[n_grid // 2]
    taps = np.fft.ifft(np.exp(np.fft.fft(fold)))[:n_taps]
    n_taper = n_taps // 4
    taps[n_taps - n_taper :] *= 0.5 * (1 + np.cos(np.pi * np.arange(1, n_taper + 1) / n_taper))
    centre = (lo + hi) / 2.0
    gain = np.exp(-2j * np.pi * centre * np.arange(n_taps) / sfreq) @ taps
    if pre is not None:
        gain = gain * signal.sosfreqz(sos, worN=[centre], fs=sfreq)[1][0]
    taps = taps * (2.0 / np.abs(gain))
    taps.setflags(write=False)
    return taps


def cfir_response(
    taps: np.ndarray, freqs: np.ndarray, sfreq: float, prefilter: np.ndarray | None = None
) -> np.ndarray:
    """Envelope gain of the chain at ``freqs`` (Hz, negative for the image side).

    A sine of amplitude A at ``f`` reads ``A·|C(f)|/2`` (plus a ripple from ``|C(−f)|/2``),
    so in-band values are near 1 and the stop band's are its leakage.
    """
    freqs = np.asarray(freqs, dtype=np.float64)
    resp = np.exp(-2j * np.pi * np.outer(freqs, np.arange(len(taps))) / sfreq) @ taps
    if prefilter is not None:
        resp = resp * signal.sosfreqz(prefilter, worN=freqs, fs=sfreq)[1]
    return np.abs(resp) / 2.0


class SampleHistory:
    """The last ``length`` samples of each signal, for windows that span chunks."""

    def __init__(self, n_signals: int, length: int) -> None:
        self.length = length
        self.buf = np.zeros((n_signals, length))

    def extend(self, x: np.ndarray) -> np.ndarray:
        """Return history + x, and keep the newest ``length`` samples for next time."""
        full = np.concatenate([self.buf, x], axis=1)
        if self.length:
            self.buf = full[:, -self.length :].copy()
        return full


class EnvelopeEstimator:
    """Base class: one band over ``n_signals`` parallel signals."""

    name = ""

    def __init__(self, band: tuple[float, float], sfreq: float, n_signals: int) -> None:
        self.band = (float(band[0]), float(band[1]))
        self.sfreq = float(sfreq)
        self.n_signals = int(n_signals)

    def process(self, x: np.ndarray, start: int, positions: np.ndarray) -> np.ndarray:
        """Envelope at ``positions`` (indices into this chunk) of ``x`` (n_signals, n).

        ``start`` is the stream index of ``x[:, 0]``. Returns (n_signals, len(positions)).
        """
        raise NotImplementedError


class CFIREstimator(EnvelopeEstimator):
    name = "cfir"
    #: the pipeline hands its causal pre-filter over, so the design can compensate it
    uses_prefilter = True

    def __init__(
        self,
        band,
        sfreq,
        n_signals,
        *,
        n_taps: int | None = None,
        delay_ms: float = CFIR_DEFAULTS["delay_ms"],
        snr_db: float = CFIR_DEFAULTS["snr_db"],
        stop_weight: float = CFIR_DEFAULTS["stop_weight"],
        ref_width_hz: float = CFIR_DEFAULTS["ref_width_hz"],
        headroom_ms: float = CFIR_DEFAULTS["headroom_ms"],
        selectivity: str = "fast",
        prefilter: np.ndarray | None = None,
    ) -> None:
        super().__init__(band, sfreq, n_signals)
        if selectivity not in ("fast", "sharp"):
            raise ConfigError(f"cfir selectivity must be fast or sharp; got {selectivity!r}")
        self.selectivity = selectivity
        # the sharp design's impulse response is longer: a 1 s window
        default_s = 0.5 if selectivity == "fast" else 1.0
        self.n_taps = int(n_taps or round(default_s * sfreq))
        self.window_length = self.n_taps
        self.prefilter = None if prefilter is None else np.asarray(prefilter)
        if selectivity == "sharp":
            self.delay_ms, self.stop_weight = float("nan"), float("nan")
            self.taps = design_cfir_sharp(
                self.band, self.sfreq, self.n_taps, prefilter=self.prefilter
            )
        else:
            self.delay_ms, self.stop_weight = cfir_band_params(
                self.band, delay_ms, stop_weight, ref_width_hz, headroom_ms
            )
            self.taps = design_cfir(
                self.band,
                self.sfreq,
                self.n_taps,
                self.delay_ms * sfreq / 1000.0,
                prefilter=self.prefilter,
                snr_db=snr_db,
                stop_weight=self.stop_weight,
            )
        # windows hold samples oldest..newest, so the taps are applied reversed
        self._re = np.ascontiguousarray(self.taps.real[::-1])
        self._im = np.ascontiguousarray(self.taps.imag[::-1])
        self._hist = SampleHistory(n_signals, self.n_taps - 1)

    def response(self, freqs: np.ndarray) -> np.ndarray:
        """Envelope gain of pre-filter and FIR at ``freqs`` (see :func:`cfir_response`)."""
        return cfir_response(self.taps, freqs, self.sfreq, self.prefilter)

    def process(self, x, start, positions):
        full = self._hist.extend(x)
        out = np.empty((self.n_signals, len(positions)))
        if len(positions) == 0:
            return out
        for s in range(self.n_signals):
            win = sliding_window_view(full[s], self.n_taps)[positions]
            re = np.einsum("ij,j->i", win, self._re)
            im = np.einsum("ij,j->i", win, self._im)
            out[s] = np.hypot(re, im)
        return out


class DemodEstimator(EnvelopeEstimator):
    name = "demod"

    def __init__(self, band, sfreq, n_signals, *, order: int = 4) -> None:
        super().__init__(band, sfreq, n_signals)
        self._omega = 2 * np.pi * (self.band[0] + self.band[1]) / 2.0 / self.sfreq
        half_width = (self.band[1] - self.band[0]) / 2.0
        self._lowpass = SosFilter(design_lowpass(half_width, self.sfreq, order), n_signals)

    def process(self, x, start, positions):
        idx = np.arange(start, start + x.shape[1], dtype=np.float64)
        z = self._lowpass.process(x * np.exp(-1j * self._omega * idx))
        return 2.0 * np.abs(z[:, positions])


class ButterEstimator(EnvelopeEstimator):
    name = "butter"

    def __init__(self, band, sfreq, n_signals, *, order: int = 2) -> None:
        super().__init__(band, sfreq, n_signals)
        self._bandpass = SosFilter(design_bandpass(*self.band, self.sfreq, order), n_signals)
        half_width = (self.band[1] - self.band[0]) / 2.0
        self._lowpass = SosFilter(design_lowpass(half_width, self.sfreq, 2), n_signals)

    def process(self, x, start, positions):
        y = self._bandpass.process(x)
        power = self._lowpass.process(y * y)[:, positions]
        return np.sqrt(2.0 * np.maximum(power, 0.0))


class FFTEstimator(EnvelopeEstimator):
    name = "fft"

    def __init__(self, band, sfreq, n_signals, *, window_s: float = 1.0) -> None:
        super().__init__(band, sfreq, n_signals)
        self.n_window = round(window_s * sfreq)
        self.window_length = self.n_window
        self._window = np.hanning(self.n_window)
        freqs = np.fft.rfftfreq(self.n_window, 1.0 / sfreq)
        self._bins = np.flatnonzero((freqs >= self.band[0]) & (freqs <= self.band[1]))
        if self._bins.size == 0:
            raise ConfigError(
                f"band {self.band} is narrower than the FFT resolution {sfreq / self.n_window:g} Hz"
            )
        # Parseval: mean square of the band component, scaled so a sine of amplitude A gives A
        self._scale = 4.0 / (self.n_window * np.sum(self._window**2))
        self._hist = SampleHistory(n_signals, self.n_window - 1)

    def process(self, x, start, positions):
        full = self._hist.extend(x)
        out = np.empty((self.n_signals, len(positions)))
        # one 1-D transform per frame: identical arithmetic whatever the chunking
        for s in range(self.n_signals):
            for k, p in enumerate(positions):
                seg = full[s, p : p + self.n_window] * self._window
                spec = np.fft.rfft(seg)[self._bins]
                out[s, k] = np.sqrt(self._scale * np.sum(spec.real**2 + spec.imag**2))
        return out


def make_estimator(
    kind: str,
    band: tuple[float, float],
    sfreq: float,
    n_signals: int,
    *,
    prefilter: np.ndarray | None = None,
    **params,
) -> EnvelopeEstimator:
    """Build the estimator named ``kind`` (one of :data:`ESTIMATORS`).

    ``prefilter`` (the causal sections applied before the estimator) goes to estimators
    that compensate it (``cfir``); the others ignore it.
    """
    from .predictive import PredictiveEstimator

    classes = {
        "selective": PredictiveEstimator,
        "cfir": CFIREstimator,
        "demod": DemodEstimator,
        "butter": ButterEstimator,
        "fft": FFTEstimator,
    }
    if kind not in classes:
        raise ConfigError(
            f"feedback.estimator must be one of {', '.join(ESTIMATORS)}; got {kind!r}"
        )
    cls = classes[kind]
    if getattr(cls, "uses_prefilter", False):
        params = {"prefilter": prefilter, **params}
    return cls(band, sfreq, n_signals, **params)
