"""The selective default: AR forward prediction, then a zero-phase analytic filter.

A causal linear filter trades delay for selectivity on one curve (``cfir``: 48 ms and
−12 dB one band width from alpha; the minimum-phase sharp design: 144 ms and −33 dB).
This estimator leaves that curve the way closed-loop phase estimation does (Chen et al.
2013; Zrenner et al. 2018): every ``refit_s`` it fits an autoregressive model to the recent
past of the pre-filtered signal, and at each frame it extends the signal by the model's
forecast of the next ``half`` samples and applies a zero-phase (linear-phase, centred on
the newest sample) complex band-pass to the extended window. The modulus is the band's
amplitude at the newest sample. Selectivity comes from the long symmetric filter, the
delay only from the forecast's errors.

Exact and cheap: with the model's coefficients fixed between refits, the forecast is a
linear function of the last ``order`` samples, so filter and forecast fold into one causal
FIR (:func:`predictive_taps`, two ``lfilter`` passes of the adjoint recursion). A frame
costs one complex dot product, like ``cfir``. Refits fall on fixed sample indices (every
``refit`` samples) and use only samples up to that index, so any chunking of the stream
gives the same coefficients and the same frames. The model is fitted once per derivation
and shared by every band of a pipeline (:class:`ARForecaster`).

Measured on the live path (``nfb bench selectivity``; notch, 1–40 Hz band-pass, a frame
every 4 samples): alpha one band width away (4 and 16 Hz) is rejected by about 43 dB,
the ``nfb bench lag`` signal is followed 64 ms late at r 0.93.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import linalg, signal

from .envelope import EnvelopeEstimator, SampleHistory

#: Defaults, tuned for alpha on ``nfb bench lag``-like signals (seeds 10–12) and the
#: realistic signal (seeds 10–11), not the benchmarks' own seeds: the zero-phase filter's
#: half length for a 4 Hz wide band (it scales with 1/width), its Kaiser β, the AR order
#: and fit window (in seconds, so the model spans the same time on every board), the
#: refit interval, and the target delay (0: the filter is centred on the newest sample).
PREDICTIVE_DEFAULTS = {
    "half_ms": 192.0,
    "ref_width_hz": 4.0,
    "beta": 5.0,
    "order_s": 0.12,
    "fit_s": 2.0,
    "refit_s": 2.0,
    "delay_ms": 0.0,
}


def design_zero_phase(
    band: tuple[float, float], sfreq: float, half: int, beta: float = PREDICTIVE_DEFAULTS["beta"]
) -> np.ndarray:
    """Complex linear-phase band-pass of ``2·half + 1`` taps centred on tap ``half``.

    A Kaiser-windowed sinc low-pass (cut-off half the band width) shifted to the band centre:
    its response to the positive frequencies of the band is near 2 and to the negative ones
    near 0, so the modulus of its output is the band's amplitude (a sine of amplitude A at
    the centre gives A). ``g[half + m]`` applies to the sample ``m`` steps *after* the
    centre (negative ``m``: before).
    """
    lo, hi = band
    centre, cut = (lo + hi) / 2.0, (hi - lo) / 2.0
    m = np.arange(-half, half + 1)
    low = np.sinc(2.0 * cut * m / sfreq) * np.kaiser(2 * half + 1, beta)
    g = low * np.exp(-2j * np.pi * centre * m / sfreq)
    # g[half + m] multiplies x[centre + m]: the sum is a correlation, whose gain at the
    # centre frequency is Σ g·e^{j2πf m} (real and positive here)
    gain = np.abs(np.sum(g * np.exp(2j * np.pi * centre * m / sfreq)))
    return g * (2.0 / gain)


def ar_fit(x: np.ndarray, order: int) -> np.ndarray:
    """AR coefficients by forward-backward least squares (the modified covariance method).

    ``x[t] ≈ Σ_k a[k]·x[t − 1 − k]``. Unbiased on short records (Yule–Walker's window
    shrinks the poles towards the origin, which shows as lag here) and one matrix product
    and one ``order``² solve. A signal with no power gives zeros (no forecast).
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    m = _lagged_products(x, order)
    m = m + m[::-1, ::-1]  # the backward predictor's normal equations
    scale = np.trace(m)
    if not scale > 0 or not np.isfinite(scale):
        return np.zeros(order)
    # forward: x[t+p] from x[t+p-1] ... x[t]: columns p-1..0 predict column p
    a_mat = m[:order, :order][::-1, ::-1].copy()
    a_mat.flat[:: order + 1] += 1e-9 * scale / order
    rhs = m[:order, order][::-1]
    try:
        coef = linalg.solve(a_mat, rhs, assume_a="pos", check_finite=False)
    except linalg.LinAlgError:
        return np.zeros(order)
    return coef if np.all(np.isfinite(coef)) else np.zeros(order)


def _lagged_products(x: np.ndarray, order: int) -> np.ndarray:
    """``m[i, j] = Σ_t x[t + i]·x[t + j]`` over the ``N = len(x) − order`` windows of the fit.

    The first row by element-wise products and a sum; the others down each diagonal, since
    ``m[i + 1, i + 1 + d] = m[i, i + d] + x[N + i]·x[N + i + d] − x[i]·x[i + d]`` (an
    ``order``² cumulative sum instead of one over the whole record). Not BLAS: a matrix
    product's summation order depends on how many threads OpenBLAS uses (the main process
    and a joblib worker differ), and replay must give the same bits wherever it runs.
    """
    n = len(x)
    big_n, q = n - order, order + 1
    first = (sliding_window_view(x, q) * x[:big_n, None]).sum(axis=0)  # m[0, d]
    lagged = sliding_window_view(np.concatenate([x, np.zeros(order)]), q)  # x[u + d]
    step = x[big_n:, None] * lagged[big_n:n] - x[:order, None] * lagged[:order]
    run = np.zeros((q, q))
    np.cumsum(step, axis=0, out=run[1:])
    rows, lags = _triangle(order)
    vals = first[lags] + run[rows, lags]
    m = np.empty((q, q))
    m[rows, rows + lags] = vals
    m[rows + lags, rows] = vals
    return m


@functools.lru_cache(maxsize=16)
def _triangle(order: int) -> tuple[np.ndarray, np.ndarray]:
    i, d = np.meshgrid(np.arange(order + 1), np.arange(order + 1), indexing="ij")
    keep = i + d <= order
    return i[keep], d[keep]


@functools.lru_cache(maxsize=64)
def _future_index(half: int, delay: int, order: int) -> tuple[np.ndarray, np.ndarray, int]:
    ages = delay - np.arange(-half, half + 1)  # age of the sample each tap of g applies to
    future = ages < 0
    horizon = int(-ages[future].min()) if future.any() else 0
    return ages, future, horizon


def predictive_taps(coef: np.ndarray, g: np.ndarray, delay: int) -> np.ndarray:
    """The causal FIR equal to ``g`` centred ``delay`` samples back on the forecast signal.

    ``h[k]`` applies to the sample ``k`` steps in the past. The samples after the newest
    are the AR forecast, linear in the last ``order`` samples: their taps fold back onto
    those samples through the adjoint of the forecast recursion (an all-pole filter run
    backwards, then its inverse, both by ``lfilter``).
    """
    order = len(coef)
    half = (len(g) - 1) // 2
    ages, future, horizon = _future_index(half, delay, order)
    n_taps = max(int(ages.max()) + 1, order)
    h = np.zeros(n_taps, dtype=complex)
    h[ages[~future]] += g[~future]
    if horizon:
        # sequence t = 0..order-1: the last samples (oldest first); t >= order: forecasts,
        # t = order - 1 + q for the forecast q samples ahead (age -q)
        # real and imaginary parts as two rows (scipy filters complex input row by row)
        weights = np.zeros((2, order + horizon))
        weights[0, order - 1 - ages[future]] = g[future].real
        weights[1, order - 1 - ages[future]] = g[future].imag
        a_poly = np.concatenate([[1.0], -np.asarray(coef, dtype=np.float64)])
        back = signal.lfilter([1.0], a_poly, weights[:, ::-1])[:, ::-1][:, :order]
        back_c = back[0, ::-1] + 1j * back[1, ::-1]
        h[:order] += np.convolve(back_c, a_poly)[:order]
    return h


class ARForecaster:
    """AR models of ``n_signals`` signals, refitted at fixed sample indices.

    The model in force at stream index ``s`` is the one fitted at the latest refit index
    ``r ≤ s`` (``r + 1`` a multiple of ``refit``, at least ``fit_len`` samples in) on the
    ``fit_len`` samples ending at ``r``. Before the first refit it is all zeros (no
    forecast: the filter's past half alone).

    Parameters
    ----------
    n_signals : int
        Parallel signals.
    order, fit_len, refit : int
        AR order, fit window and refit interval in samples.
    history : int
        Samples of history to keep (at least the longest FIR that reads :attr:`full`).
    """

    def __init__(
        self, n_signals: int, order: int, fit_len: int, refit: int, history: int = 0
    ) -> None:
        self.n_signals, self.order = int(n_signals), int(order)
        self.fit_len, self.refit = int(fit_len), int(refit)
        self._hist = SampleHistory(self.n_signals, max(self.fit_len, int(history)) - 1)
        self.coef = np.zeros((self.n_signals, self.order))
        self.generation = 0
        #: after :meth:`update`: history + chunk, the stream index of its first column, and
        #: the models in force: (first stream index, generation, coef (n_signals, order))
        self.full = np.zeros((self.n_signals, 0))
        self.base = 0
        self.segments: list[tuple[int, int, np.ndarray]] = []
        #: the models fitted by the last :meth:`update` (refit index, generation, coef)
        self.refits: list[tuple[int, int, np.ndarray]] = []

    @property
    def history(self) -> int:
        return self._hist.length

    def update(self, x: np.ndarray, start: int) -> None:
        """Take the next chunk ``x`` (n_signals, n) starting at stream index ``start``."""
        n = x.shape[1]
        self.full = self._hist.extend(x)
        self.base = start - self._hist.length
        self.segments = [(start, self.generation, self.coef)]
        self.refits = []
        first = max(start, self.fit_len - 1)
        r = first + (-(first + 1)) % self.refit
        while r < start + n:
            end = r - self.base + 1
            seg = self.full[:, end - self.fit_len : end]
            self.coef = np.stack([ar_fit(seg[i], self.order) for i in range(self.n_signals)])
            self.generation += 1
            self.refits.append((r, self.generation, self.coef))
            if self.segments[-1][0] == r:
                self.segments.pop()
            self.segments.append((r, self.generation, self.coef))
            r += self.refit


class PredictiveEstimator(EnvelopeEstimator):
    """Band amplitude by AR forward prediction and a zero-phase analytic filter.

    Parameters
    ----------
    band, sfreq, n_signals
        As for every estimator.
    forecaster : ARForecaster | None
        Shared models (the pipeline's, over all its derivations); None: a private one.
    rows : sequence of int | None
        This estimator's signals among the forecaster's (default: the first
        ``n_signals``).
    half_ms, ref_width_hz, beta, order_s, fit_s, refit_s, delay_ms
        See :data:`PREDICTIVE_DEFAULTS`; the filter's half length is
        ``half_ms · ref_width_hz / width`` so that every band gets the same rejection one
        band width away.
    """

    name = "selective"
    shares_forecaster = True

    def __init__(
        self,
        band,
        sfreq,
        n_signals,
        *,
        forecaster: ARForecaster | None = None,
        rows=None,
        half_ms: float = PREDICTIVE_DEFAULTS["half_ms"],
        ref_width_hz: float = PREDICTIVE_DEFAULTS["ref_width_hz"],
        beta: float = PREDICTIVE_DEFAULTS["beta"],
        order_s: float = PREDICTIVE_DEFAULTS["order_s"],
        fit_s: float = PREDICTIVE_DEFAULTS["fit_s"],
        refit_s: float = PREDICTIVE_DEFAULTS["refit_s"],
        delay_ms: float = PREDICTIVE_DEFAULTS["delay_ms"],
    ) -> None:
        super().__init__(band, sfreq, n_signals)
        params = predictive_params(
            self.band, self.sfreq, half_ms, ref_width_hz, order_s, fit_s, refit_s, delay_ms
        )
        self.half, self.order, self.fit_len, self.refit, self.delay = params
        self.g = design_zero_phase(self.band, self.sfreq, self.half, beta)
        self.n_taps = len(predictive_taps(np.zeros(self.order), self.g, self.delay))
        self._own = forecaster is None
        if forecaster is None:
            forecaster = ARForecaster(
                n_signals, self.order, self.fit_len, self.refit, history=self.n_taps
            )
        if (forecaster.order, forecaster.fit_len, forecaster.refit) != (
            self.order,
            self.fit_len,
            self.refit,
        ) or forecaster.history < self.n_taps - 1:
            raise ValueError("the shared forecaster does not fit this estimator")
        self.forecaster = forecaster
        self.rows = np.arange(n_signals) if rows is None else np.asarray(rows, dtype=int)
        self.window_length = max(self.n_taps, self.fit_len)
        self._taps: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}

    def _taps_for(self, sig: int, generation: int, coef: np.ndarray):
        cached = self._taps.get(sig)
        if cached is None or cached[0] != generation:
            h = predictive_taps(coef, self.g, self.delay)
            # windows hold samples oldest..newest, so the taps are applied reversed
            cached = (
                generation,
                np.ascontiguousarray(h.real[::-1]),
                np.ascontiguousarray(h.imag[::-1]),
            )
            self._taps[sig] = cached
        return cached[1], cached[2]

    def process(self, x, start, positions):
        fc = self.forecaster
        if self._own:
            fc.update(x, start)
        out = np.empty((self.n_signals, len(positions)))
        if len(positions) == 0:
            return out
        # positions are increasing: each model covers one contiguous run of frames
        bounds = np.asarray([s for s, _g, _c in fc.segments[1:]], dtype=np.int64)
        cuts = [0, *np.searchsorted(start + positions, bounds, side="left"), len(positions)]
        offset = start - fc.base - self.n_taps + 1
        for k, row in enumerate(self.rows):
            views = sliding_window_view(fc.full[row], self.n_taps)
            for seg, (a, b) in enumerate(itertools.pairwise(cuts)):
                if a == b:
                    continue
                _s, gen, coef = fc.segments[seg]
                re_taps, im_taps = self._taps_for(k, gen, coef[row])
                win = views[positions[a:b] + offset]
                re = np.einsum("ij,j->i", win, re_taps)
                im = np.einsum("ij,j->i", win, im_taps)
                out[k, a:b] = np.hypot(re, im)
        return out


def predictive_params(
    band: tuple[float, float],
    sfreq: float,
    half_ms: float = PREDICTIVE_DEFAULTS["half_ms"],
    ref_width_hz: float = PREDICTIVE_DEFAULTS["ref_width_hz"],
    order_s: float = PREDICTIVE_DEFAULTS["order_s"],
    fit_s: float = PREDICTIVE_DEFAULTS["fit_s"],
    refit_s: float = PREDICTIVE_DEFAULTS["refit_s"],
    delay_ms: float = PREDICTIVE_DEFAULTS["delay_ms"],
) -> tuple[int, int, int, int, int]:
    """(half length, AR order, fit window, refit interval, delay), in samples, for a band."""
    width = band[1] - band[0]
    half = max(2, round(half_ms * ref_width_hz / width * sfreq / 1000.0))
    order = max(2, round(order_s * sfreq))
    fit_len = max(4 * order, round(fit_s * sfreq))
    refit = max(1, round(refit_s * sfreq))
    delay = round(delay_ms * sfreq / 1000.0)
    return half, order, fit_len, refit, delay


def shared_forecaster(bands, sfreq: float, n_signals: int, **params) -> ARForecaster:
    """One :class:`ARForecaster` for every band of a pipeline (``params`` as the estimator's).

    The model depends on the sampling rate only, so the bands share it; its history is the
    longest of their filters.
    """
    keep = {k: v for k, v in params.items() if k in _PARAM_KEYS}
    n_taps, order, fit_len, refit = 0, 2, 4, 1
    for band in bands:
        half, order, fit_len, refit, delay = predictive_params(
            (float(band[0]), float(band[1])), float(sfreq), **keep
        )
        n_taps = max(n_taps, len(predictive_taps(np.zeros(order), np.zeros(2 * half + 1), delay)))
    return ARForecaster(n_signals, order, fit_len, refit, history=n_taps)


_PARAM_KEYS = ("half_ms", "ref_width_hz", "order_s", "fit_s", "refit_s", "delay_ms")
