"""Signal-quality check of a few seconds of EEG (pure NumPy/SciPy).

For every channel:

* **RMS** of the 1–40 Hz band-passed signal (zero-phase Butterworth, order 4, after removing a
  linear trend; half a second at each edge is left out). Scalp EEG of a relaxed adult is
  typically 2–100 µV RMS in this band.
* **Line noise**: RMS amplitude in mains ± 2 Hz, from a Welch spectrum (2 s Hann windows).
* **Flat**: standard deviation below :data:`FLAT_STD_UV` (an open input, a shorted electrode).
* **Railed**: at least :data:`RAIL_MIN_FRACTION` of the samples at ≥ 90 % of the ADC's full
  scale, or every sample the same value (the amplifier is saturated).

Verdict per channel (thresholds are module constants):

========= ===================================================================================
``bad``   flat, railed, RMS > :data:`RMS_BAD_UV` µV, or line noise > :data:`LINE_BAD_UV` µV
``check`` RMS outside :data:`RMS_PLAUSIBLE_UV` µV, or line noise > :data:`LINE_CHECK_UV` µV
``good``  otherwise
========= ===================================================================================

The overall verdict is the worst channel's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import signal

#: Band (Hz) of the RMS measure.
BAND_HZ = (1.0, 40.0)
#: A channel whose standard deviation is below this (µV) is flat.
FLAT_STD_UV = 0.5
#: |x| at or above this fraction of the ADC full scale counts as railed.
RAIL_FRACTION = 0.9
#: ... when at least this fraction of the samples are there.
RAIL_MIN_FRACTION = 0.01
#: Plausible RMS range of scalp EEG in 1–40 Hz (µV); outside it: "check".
RMS_PLAUSIBLE_UV = (2.0, 100.0)
#: Above this RMS (µV): "bad" (loose electrode, movement, a floating input).
RMS_BAD_UV = 200.0
#: Line noise above this (µV RMS): "check".
LINE_CHECK_UV = 10.0
#: Line noise above this (µV RMS): "bad".
LINE_BAD_UV = 50.0
#: Half-width (Hz) of the mains band.
LINE_HALF_WIDTH_HZ = 2.0

_ORDER = {"good": 0, "check": 1, "bad": 2}


@dataclass
class ChannelQuality:
    """Quality of one channel.

    Attributes
    ----------
    name : str
    rms_uv : float
        RMS of the 1–40 Hz band-passed signal, µV.
    line_noise_uv : float
        RMS amplitude in mains ± 2 Hz, µV (NaN if the mains frequency is above Nyquist).
    flat, railed : bool
    verdict : str
        ``"good"``, ``"check"`` or ``"bad"``.
    notes : tuple of str
        Why the verdict is not ``"good"``.
    """

    name: str
    rms_uv: float
    line_noise_uv: float
    flat: bool
    railed: bool
    verdict: str
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass
class SignalCheck:
    """Result of :func:`check_signal`."""

    channels: list[ChannelQuality]
    verdict: str
    seconds: float
    sfreq: float
    mains_hz: float

    @property
    def summary(self) -> str:
        """One plain line: the verdict and which channels need attention."""
        n = len(self.channels)
        if self.verdict == "good":
            return f"Verdict: GOOD: all {n} channels look like EEG."
        bad = [c for c in self.channels if c.verdict == "bad"]
        check = [c for c in self.channels if c.verdict == "check"]

        def listing(chans):
            return ", ".join(f"{c.name} ({'; '.join(c.notes)})" for c in chans)

        if bad:
            out = f"Verdict: BAD: {len(bad)} of {n} channels unusable: {listing(bad)}"
            if check:
                out += f"; {len(check)} more need a look: {listing(check)}"
        else:
            out = f"Verdict: CHECK: {len(check)} of {n} channels need a look: {listing(check)}"
        return out + "."

    def verdict_of(self, names) -> str:
        """The worst verdict among the channels ``names`` (``"good"`` if none is here)."""
        wanted = set(names)
        return max(
            (c.verdict for c in self.channels if c.name in wanted),
            key=_ORDER.__getitem__,
            default="good",
        )

    def summary_for(self, trained) -> str:
        """The verdict line with the trained electrodes first: what decides the session.

        ``"Trained Cz: GOOD. Other channels: BAD: F7 (flat)."`` A bad channel the protocol does
        not use does not spoil the session, but the practitioner should still see it.
        """
        trained = [c.name for c in self.channels if c.name in set(trained)]
        if not trained:
            return self.summary
        others = [c for c in self.channels if c.name not in set(trained)]

        def listing(chans):
            return ", ".join(f"{c.name} ({'; '.join(c.notes)})" for c in chans)

        mine = [c for c in self.channels if c.name in set(trained)]
        verdict = self.verdict_of(trained)
        out = f"Trained {', '.join(trained)}: {verdict.upper()}"
        if verdict != "good":
            out += f": {listing([c for c in mine if c.verdict != 'good'])}"
        if others:
            bad = [c for c in others if c.verdict == "bad"]
            check = [c for c in others if c.verdict == "check"]
            if not bad and not check:
                out += f". The other {len(others)} channels: GOOD"
            else:
                parts = [f"BAD: {listing(bad)}"] if bad else []
                parts += [f"CHECK: {listing(check)}"] if check else []
                out += f". Other channels (not trained): {'; '.join(parts)}"
        return out + "."

    def format_table(self) -> str:
        """The per-channel table and the verdict line, as plain text."""
        mains = f"{self.mains_hz:g}±{LINE_HALF_WIDTH_HZ:g} Hz"
        headers = ("channel", "RMS µV 1-40 Hz", f"mains µV {mains}", "flat", "railed", "verdict")
        rows = [
            (
                c.name,
                f"{c.rms_uv:.1f}",
                "n/a" if np.isnan(c.line_noise_uv) else f"{c.line_noise_uv:.1f}",
                "yes" if c.flat else "-",
                "yes" if c.railed else "-",
                c.verdict,
            )
            for c in self.channels
        ]
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        align = ("<", ">", ">", "^", "^", "<")

        def line(cells):
            return "  ".join(
                f"{cell:{a}{w}}" for cell, a, w in zip(cells, align, widths, strict=True)
            ).rstrip()

        out = [
            f"Signal check: {self.seconds:.1f} s at {self.sfreq:g} Hz, "
            f"{len(self.channels)} channels, mains {self.mains_hz:g} Hz",
            line(headers),
            line(["-" * w for w in widths]),
            *(line(r) for r in rows),
            self.summary,
        ]
        return "\n".join(out)

    def to_dict(self) -> dict:
        """Return a JSON-serialisable dict (NaN becomes None)."""
        chans = []
        for c in self.channels:
            d = asdict(c)
            d["notes"] = list(c.notes)
            for key in ("rms_uv", "line_noise_uv"):
                d[key] = None if np.isnan(d[key]) else float(d[key])
            chans.append(d)
        return {
            "verdict": self.verdict,
            "summary": self.summary,
            "seconds": self.seconds,
            "sfreq": self.sfreq,
            "mains_hz": self.mains_hz,
            "channels": chans,
        }


def _line_noise(x: np.ndarray, sfreq: float, mains_hz: float) -> np.ndarray:
    if mains_hz + LINE_HALF_WIDTH_HZ >= sfreq / 2:
        return np.full(x.shape[0], np.nan)
    nperseg = min(x.shape[1], round(2 * sfreq))
    freqs, psd = signal.welch(x, fs=sfreq, nperseg=nperseg, axis=-1)
    band = np.abs(freqs - mains_hz) <= LINE_HALF_WIDTH_HZ
    df = freqs[1] - freqs[0]
    return np.sqrt(psd[:, band].sum(axis=-1) * df)


def _band_rms(x: np.ndarray, sfreq: float) -> np.ndarray:
    high = min(BAND_HZ[1], 0.45 * sfreq)
    sos = signal.butter(4, [BAND_HZ[0], high], btype="bandpass", fs=sfreq, output="sos")
    y = signal.sosfiltfilt(sos, signal.detrend(x, axis=-1, type="linear"), axis=-1)
    edge = min(int(0.5 * sfreq), x.shape[1] // 4)
    y = y[:, edge : x.shape[1] - edge]
    return np.sqrt(np.mean(y**2, axis=-1))


def check_signal(
    eeg_uv: np.ndarray,
    sfreq: float,
    ch_names: Sequence[str],
    *,
    mains_hz: float,
    rail_uv: float | None = None,
) -> SignalCheck:
    """Check the quality of a few seconds of EEG.

    Parameters
    ----------
    eeg_uv : array, shape (n_channels, n_samples)
        EEG in µV; at least one second.
    sfreq : float
        Sampling rate in Hz (>= 10; the band top is capped at 0.45 × sfreq).
    ch_names : sequence of str
        One label per row.
    mains_hz : float
        Mains frequency, 50 or 60.
    rail_uv : float | None
        ADC full scale in µV (railed-channel detection); None if unknown (only a channel stuck
        at one value then counts as railed).

    Returns
    -------
    SignalCheck
        Per-channel measures and verdicts, an overall verdict, and a printable table.
    """
    x = np.asarray(eeg_uv, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"check_signal: eeg_uv must be 2-D (channels, samples), got {x.shape}")
    names = [str(n) for n in ch_names]
    if len(names) != x.shape[0]:
        raise ValueError(f"check_signal: {x.shape[0]} rows but {len(names)} ch_names")
    if not (np.isfinite(sfreq) and sfreq >= 10):
        raise ValueError(f"check_signal: sfreq must be >= 10 Hz, got {sfreq}")
    if x.shape[1] < sfreq:
        raise ValueError(
            f"check_signal: need at least 1 s of EEG ({int(sfreq)} samples), got {x.shape[1]}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("check_signal: eeg_uv holds NaN or infinite values")
    if mains_hz not in (50, 60):
        raise ValueError(f"check_signal: mains_hz must be 50 or 60, got {mains_hz}")
    if rail_uv is not None and not rail_uv > 0:
        raise ValueError(f"check_signal: rail_uv must be > 0 or None, got {rail_uv}")

    rms = _band_rms(x, sfreq)
    line = _line_noise(x, sfreq, mains_hz)
    std = x.std(axis=-1)
    stuck = np.all(x == x[:, :1], axis=-1)
    if rail_uv is not None:
        at_rail = np.mean(np.abs(x) >= RAIL_FRACTION * rail_uv, axis=-1) >= RAIL_MIN_FRACTION
    else:
        at_rail = np.zeros(x.shape[0], bool)

    channels = []
    for i, name in enumerate(names):
        flat = bool(std[i] < FLAT_STD_UV)
        railed = bool(at_rail[i] or stuck[i])
        bad, check = [], []
        if railed:
            bad.append("railed")
        if flat:
            bad.append("flat")
        if not flat and rms[i] > RMS_BAD_UV:
            bad.append(f"RMS {rms[i]:.1f} µV > {RMS_BAD_UV:g}")
        elif not flat and rms[i] > RMS_PLAUSIBLE_UV[1]:
            check.append(f"RMS {rms[i]:.1f} µV > {RMS_PLAUSIBLE_UV[1]:g}")
        elif not flat and rms[i] < RMS_PLAUSIBLE_UV[0]:
            check.append(f"RMS {rms[i]:.1f} µV < {RMS_PLAUSIBLE_UV[0]:g}")
        if line[i] > LINE_BAD_UV:
            bad.append(f"mains {line[i]:.1f} µV > {LINE_BAD_UV:g}")
        elif line[i] > LINE_CHECK_UV:
            check.append(f"mains {line[i]:.1f} µV > {LINE_CHECK_UV:g}")
        verdict = "bad" if bad else "check" if check else "good"
        channels.append(
            ChannelQuality(
                name=name,
                rms_uv=float(rms[i]),
                line_noise_uv=float(line[i]),
                flat=flat,
                railed=railed,
                verdict=verdict,
                notes=tuple(bad + check),
            )
        )
    verdict = max((c.verdict for c in channels), key=_ORDER.__getitem__, default="good")
    return SignalCheck(
        channels=channels,
        verdict=verdict,
        seconds=x.shape[1] / sfreq,
        sfreq=float(sfreq),
        mains_hz=float(mains_hz),
    )
