"""The real-time pipeline: raw EEG blocks in, Frames at fixed sample indices out.

Contract: feeding the same sample stream in any chunking gives bit-identical frames. Frames
fall on fixed sample indices (the newest sample of frame k has index ``(k + 1)·step − 1``),
never "when a chunk arrives"; every filter carries its state between chunks; FIR estimators
are evaluated only at frame indices. Live, replayed and re-scored sessions therefore agree.

Order of operations, cheapest exact path first: non-finite samples are held at the last
finite value (and counted, so the frame can be inhibited); spatial derivations are formed
(linear, so before filtering: only the derived signals are filtered); a causal notch and
band-pass; band envelopes at frame indices; the feature expression; exponential smoothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal

from .envelope import DEFAULT_ESTIMATOR, SampleHistory, make_estimator
from .features import BandRef, FeatureExpr
from .filters import SosFilter, design_bandpass, design_notch

#: Samples beyond ±1 V are not EEG (amplifiers rail far below): treated like NaN.
MAX_VALID_UV = 1e6
#: Band of the EOG inhibit's channels (Hz): blinks and saccades, without the electrode's
#: DC offset and drift below it or EMG above it.
EOG_BAND_HZ = (0.5, 15.0)


@dataclass(frozen=True)
class Derivation:
    """A spatial derivation: ``sum(weight · eeg[channel])`` over its terms, in order.

    Parameters
    ----------
    name : str
        ``"main"`` for the protocol's signal, else the label used in features (``F4``,
        ``Cz-Pz``).
    terms : tuple of (int, float)
        EEG channel index (into the pipeline's input rows) and weight.
    """

    name: str
    terms: tuple[tuple[int, float], ...]

    def apply(self, eeg: np.ndarray) -> np.ndarray:
        # Element-wise accumulation (not a matrix product) so that the result of every sample
        # is independent of how many samples the chunk has.
        out = eeg[self.terms[0][0]] * self.terms[0][1]
        for ch, w in self.terms[1:]:
            out = out + eeg[ch] * w
        return out


@dataclass
class FrameBlock:
    """Frames computed from one chunk (possibly none).

    Attributes
    ----------
    sample_index : int64 array (m,)
        Index of the newest sample each frame used.
    bands : dict of str -> array (m,)
        Band values per frame column (``alpha``, ``alpha@F4``), in µV (amplitude) or µV²
        (power, the mean square of the band signal).
    feature : array (m,)
        The feature expression after smoothing (not yet z-scored).
    peak_uv : array (m,)
        Largest absolute value of the filtered main derivation over the frame's step.
    emg_uv : array (m,) | None
        EMG band amplitude of the main derivation (notch only, no band-pass).
    raw_min, raw_max : array (n_artifact_channels, m)
        Extremes of each monitored raw channel over the frame's step (flat/railed checks).
    n_invalid : int array (m,)
        Non-finite input samples in the frame's step, plus one if the feature itself is not
        finite (its value is then held at the last finite one).
    eog_uv : array (n_eog_channels, m) | None
        Largest absolute value of each EOG-inhibit channel, band-passed to
        :data:`EOG_BAND_HZ` (and notched), over the frame's step; None without such channels.
    """

    sample_index: np.ndarray
    bands: dict[str, np.ndarray]
    feature: np.ndarray
    peak_uv: np.ndarray
    emg_uv: np.ndarray | None
    raw_min: np.ndarray
    raw_max: np.ndarray
    n_invalid: np.ndarray
    band_columns: tuple[str, ...] = field(default=())
    eog_uv: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.sample_index)


class Pipeline:
    """Turn raw EEG blocks (µV) into :class:`FrameBlock` s.

    Parameters
    ----------
    sfreq : float
        Sampling rate.
    n_channels : int
        Number of EEG rows fed to :meth:`process`.
    derivations : list of Derivation
        The first is the main one; others are referenced by features (``alpha@F4``).
    bands : dict
        Band name to ``(lo, hi)`` Hz.
    feature : FeatureExpr
        The feedback feature.
    step : int
        Samples between frames.
    notch_hz : float | None
        Mains frequency to notch (and its harmonic), or None.
    bandpass_hz : (float, float) | None
        Causal band-pass edges, or None.
    estimator : str
        Envelope estimator (``selective``, ``cfir``, ``demod``, ``butter``, ``fft``).
    estimator_params : dict
        Passed to the estimator.
    measure : str
        ``"amplitude"`` (µV) or ``"power"`` (µV², mean square, A²/2 for a sine of amplitude A).
    smooth_ms : float
        Time constant of the exponential smoothing of the feature; 0 disables it.
    emg_band : (float, float) | None
        Band of the EMG inhibit, computed on the notched main derivation, or None.
    artifact_channels : sequence of int
        EEG rows watched for flat/railed/invalid samples.
    extra_refs : sequence of BandRef
        Bands computed beside the feature's (band inhibits).
    eog_channels : sequence of int
        EEG rows watched by the EOG inhibit (their per-frame peak is ``FrameBlock.eog_uv``).
    """

    def __init__(
        self,
        sfreq: float,
        n_channels: int,
        derivations: list[Derivation],
        bands: dict[str, tuple[float, float]],
        feature: FeatureExpr,
        *,
        step: int = 4,
        notch_hz: float | None = 50.0,
        bandpass_hz: tuple[float, float] | None = (1.0, 40.0),
        estimator: str = DEFAULT_ESTIMATOR,
        estimator_params: dict | None = None,
        measure: str = "amplitude",
        smooth_ms: float = 0.0,
        emg_band: tuple[float, float] | None = None,
        artifact_channels=(),
        extra_refs=(),
        eog_channels=(),
    ) -> None:
        self.sfreq = float(sfreq)
        self.n_channels = int(n_channels)
        self.step = int(step)
        self.derivations = list(derivations)
        self.feature = feature
        self.measure = measure
        self._deriv_index = {d.name: i for i, d in enumerate(self.derivations)}
        # (band, derivation index) pairs actually needed, grouped by band
        self.refs: tuple[BandRef, ...] = feature.refs
        all_refs = list(feature.refs) + [r for r in extra_refs if r not in feature.refs]
        by_band: dict[str, list[int]] = {}
        for ref in all_refs:
            d = self._deriv_index["main" if ref.derivation is None else ref.derivation]
            if d not in by_band.setdefault(ref.band, []):
                by_band[ref.band].append(d)
        self._by_band = by_band
        n_deriv = len(self.derivations)
        sections = []
        if notch_hz:
            sections.append(design_notch(notch_hz, self.sfreq))
        if bandpass_hz:
            sections.append(design_bandpass(*bandpass_hz, self.sfreq))
        prefilter = np.vstack(sections) if sections else None
        self._filter = SosFilter(prefilter, n_deriv) if sections else None
        # the cFIR is fitted to the whole chain, so the pre-filter's delay is absorbed;
        # the selective estimator's AR models are fitted once per derivation, for all bands
        params = dict(estimator_params or {})
        self._forecaster = None
        if estimator == "selective":
            from .predictive import shared_forecaster

            self._forecaster = shared_forecaster(
                [bands[b] for b in by_band], self.sfreq, n_deriv, **params
            )
        self._estimators = {}
        for band, idx in by_band.items():
            if self._forecaster is not None:
                params = {**params, "forecaster": self._forecaster, "rows": idx}
            self._estimators[band] = make_estimator(
                estimator, bands[band], self.sfreq, len(idx), prefilter=prefilter, **params
            )
        self.band_columns = tuple(ref.column for ref in all_refs)
        self._emg = None
        if emg_band is not None:
            self._emg_notch = SosFilter(design_notch(notch_hz, self.sfreq), 1) if notch_hz else None
            # EMG needs rejection, not latency: an IIR band-pass keeps the EEG rhythms out
            self._emg = make_estimator("butter", emg_band, self.sfreq, 1, order=4)
        self.artifact_channels = np.asarray(list(artifact_channels), dtype=int)
        self._raw_tail = SampleHistory(len(self.artifact_channels), self.step - 1)
        self._peak_tail = SampleHistory(1, self.step - 1)
        self._bad_tail = SampleHistory(1, self.step - 1)
        self.eog_channels = np.asarray(list(eog_channels), dtype=int)
        self._eog = None
        if len(self.eog_channels):
            eog_sos = [design_notch(notch_hz, self.sfreq)] if notch_hz else []
            eog_sos.append(design_bandpass(*EOG_BAND_HZ, self.sfreq))
            self._eog = SosFilter(np.vstack(eog_sos), len(self.eog_channels))
            self._eog_tail = SampleHistory(len(self.eog_channels), self.step - 1)
        self._last_finite = np.zeros(self.n_channels)
        self._seen_finite = np.zeros(self.n_channels, dtype=bool)
        if smooth_ms and smooth_ms > 0:
            a = 1.0 - np.exp(-self.step / (self.sfreq * smooth_ms / 1000.0))
            self._smooth_ba = (np.array([a]), np.array([1.0, a - 1.0]))
        else:
            self._smooth_ba = None
        self._smooth_zi: np.ndarray | None = None
        #: samples before the estimators' windows are full and the filters have settled;
        #: baselines leave them out
        self.warmup_samples = int(
            max(getattr(e, "window_length", 0) for e in self._estimators.values())
            + 0.5 * self.sfreq
        )
        self._last_feature = np.nan
        self.n_samples = 0

    def _hold_nonfinite(self, eeg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Replace invalid samples by the channel's last valid value; return the mask.

        Invalid: NaN, inf, or beyond :data:`MAX_VALID_UV` (a corrupted value such as 1e300
        would overflow the filters' state and poison every later frame).
        """
        bad = ~(np.abs(eeg) <= MAX_VALID_UV)  # NaN compares False: invalid too
        if not bad.any():
            self._last_finite = eeg[:, -1].copy()
            self._seen_finite[:] = True
            return eeg, bad
        eeg = eeg.copy()
        n = eeg.shape[1]
        idx = np.where(bad, -1, np.arange(n)[None, :])
        np.maximum.accumulate(idx, axis=1, out=idx)
        prev = np.where(self._seen_finite, self._last_finite, 0.0)
        rows = np.arange(eeg.shape[0])[:, None]
        filled = np.where(idx >= 0, eeg[rows, np.maximum(idx, 0)], prev[:, None])
        last_ok = idx[:, -1] >= 0
        self._last_finite = np.where(last_ok, filled[:, -1], prev)
        self._seen_finite |= last_ok
        return filled, bad

    def process(self, eeg: np.ndarray) -> FrameBlock:
        """Consume the next ``eeg`` block (n_channels, n) in µV and return its frames."""
        eeg = np.asarray(eeg, dtype=np.float64)
        if eeg.ndim != 2 or eeg.shape[0] != self.n_channels:
            raise ValueError(f"expected ({self.n_channels}, n) EEG, got {eeg.shape}")
        start = self.n_samples
        n = eeg.shape[1]
        self.n_samples += n
        # positions (within this chunk) of the newest sample of each due frame
        first = (-(start + 1)) % self.step
        positions = np.arange(first, n, self.step)
        sample_index = (start + positions).astype(np.int64)

        if n == 0:  # an empty poll: nothing is due and no state changes
            return self._empty_block()
        eeg, bad = self._hold_nonfinite(eeg)
        derived = np.vstack([d.apply(eeg) for d in self.derivations])
        filtered = self._filter.process(derived) if self._filter else derived

        bands: dict[str, np.ndarray] = {}
        if self._forecaster is not None:
            self._forecaster.update(filtered, start)
        for band, idx in self._by_band.items():
            amp = self._estimators[band].process(filtered[idx], start, positions)
            for k, d in enumerate(idx):
                name = self.derivations[d].name
                col = band if name == "main" else f"{band}@{name}"
                bands[col] = amp[k] if self.measure == "amplitude" else amp[k] ** 2 / 2.0

        values = {ref: bands[ref.column] for ref in self.refs}
        raw_feature = self.feature.evaluate(values)

        # per-frame step statistics (each frame covers the `step` samples ending at it)
        win = sliding_window_view(self._peak_tail.extend(np.abs(filtered[:1])), self.step, axis=1)
        peak = win[0, positions].max(axis=1) if len(positions) else np.empty(0)
        art = eeg[self.artifact_channels] if len(self.artifact_channels) else np.empty((0, n))
        rwin = sliding_window_view(self._raw_tail.extend(art), self.step, axis=1)[:, positions]
        raw_min = rwin.min(axis=2) if len(positions) else np.empty((len(art), 0))
        raw_max = rwin.max(axis=2) if len(positions) else np.empty((len(art), 0))
        nbad = bad.any(axis=0, keepdims=True).astype(np.float64)
        bwin = sliding_window_view(self._bad_tail.extend(nbad), self.step, axis=1)
        n_invalid = bwin[0, positions].sum(axis=1).astype(np.int64)
        # a feature that is not finite (ln 0 on a dead channel, 0/0) invalidates its frame too
        n_invalid += ~np.isfinite(raw_feature)
        feature = self._smooth(raw_feature)

        emg = None
        if self._emg is not None:
            main = derived[:1]
            if self._emg_notch is not None:
                main = self._emg_notch.process(main)
            emg = self._emg.process(main, start, positions)[0]

        eog = None
        if self._eog is not None:
            x = np.abs(self._eog.process(eeg[self.eog_channels]))
            ewin = sliding_window_view(self._eog_tail.extend(x), self.step, axis=1)[:, positions]
            eog = ewin.max(axis=2) if len(positions) else np.empty((len(x), 0))

        return FrameBlock(
            sample_index=sample_index,
            bands=bands,
            feature=feature,
            peak_uv=peak,
            emg_uv=emg,
            raw_min=raw_min,
            raw_max=raw_max,
            n_invalid=n_invalid,
            band_columns=self.band_columns,
            eog_uv=eog,
        )

    def _empty_block(self) -> FrameBlock:
        empty = np.empty(0)
        return FrameBlock(
            sample_index=np.empty(0, np.int64),
            bands={c: empty for c in self.band_columns},
            feature=empty,
            peak_uv=empty,
            emg_uv=empty if self._emg is not None else None,
            raw_min=np.empty((len(self.artifact_channels), 0)),
            raw_max=np.empty((len(self.artifact_channels), 0)),
            n_invalid=np.empty(0, np.int64),
            band_columns=self.band_columns,
            eog_uv=np.empty((len(self.eog_channels), 0)) if self._eog is not None else None,
        )

    def _smooth(self, x: np.ndarray) -> np.ndarray:
        """Exponential smoothing over frames; a non-finite value holds the previous one."""
        if len(x) == 0:
            return x
        if not np.all(np.isfinite(x)):
            x = x.copy()
            for i in range(len(x)):  # rare path: hold the last finite feature value
                if np.isfinite(x[i]):
                    self._last_feature = x[i]
                else:
                    x[i] = self._last_feature
        self._last_feature = x[-1]
        if self._smooth_ba is None:
            return x
        b, a = self._smooth_ba
        start = 0
        if self._smooth_zi is None:
            # the filter starts at the stream's first finite value, wherever a chunk begins;
            # frames before it stay NaN
            finite = np.flatnonzero(np.isfinite(x))
            if finite.size == 0:
                return x
            start = int(finite[0])
            self._smooth_zi = signal.lfilter_zi(b, a) * x[start]
        y = x.copy()
        y[start:], self._smooth_zi = signal.lfilter(b, a, x[start:], zi=self._smooth_zi)
        return y
