"""Heart rate from a PPG (photoplethysmogram): beats per minute, or "no signal".

A headband's PPG (Muse 2 / Muse S: 64 Hz, three optical rows) follows the blood volume under
the sensor: one pulse a heartbeat, on a wandering baseline (breathing, pressure of the band)
and, whenever the head moves, artefacts far larger than the pulse. The estimate:

1. the newest ``window_s`` seconds (10 by default: 7 to 30 beats), mean removed;
2. a zero-phase Butterworth band-pass 0.7–3.5 Hz (42–210 bpm: the pulse's fundamental, no
   breathing, no dicrotic notch), which over a window of its own needs no carried state;
3. peaks at least 60/210 s apart with a prominence of at least a third of the filtered
   signal's 5–95 % range (a ripple of noise is no beat);
4. the median of the most recent :data:`N_INTERVALS` beat-to-beat intervals (peak times to a
   fraction of a sample) gives the rate: the mean of the intervals within 20 % of it.

It is unreliable, and reported as no signal with the reason, when there are fewer than
:data:`MIN_BEATS` beats, when the intervals scatter (their median absolute deviation over
:data:`MAX_SPREAD` of the median: movement, a loose band), when the filtered signal does not
repeat itself one interval later (autocorrelation below :data:`MIN_PERIODICITY`: noise, whose
band-passed peaks come at random intervals), or when the rate is outside 40–200 bpm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

#: Pass band (Hz) of the pulse: 42 to 210 beats per minute.
BAND_HZ = (0.7, 3.5)
#: Rates reported (bpm); outside them the estimate is no signal.
MIN_BPM, MAX_BPM = 40.0, 200.0
#: Seconds of PPG an estimate looks at, and the fewest it needs.
WINDOW_S, MIN_WINDOW_S = 10.0, 4.0
#: Beats needed, and how many of the newest intervals the median is over.
MIN_BEATS, N_INTERVALS = 4, 8
#: Largest median absolute deviation of the intervals, as a fraction of their median.
MAX_SPREAD = 0.12
#: Least normalised autocorrelation of the filtered PPG at the median interval.
MIN_PERIODICITY = 0.5


@dataclass(frozen=True)
class HeartRate:
    """One estimate.

    Attributes
    ----------
    bpm : float | None
        Beats per minute; None when there is no reliable signal.
    reason : str
        Why there is none (empty when ``bpm`` is set).
    periodicity : float
        Normalised autocorrelation at the median interval (0 when not computed): how much
        the pulse repeats itself; rows are compared by it.
    """

    bpm: float | None
    reason: str = ""
    periodicity: float = 0.0

    @property
    def text(self) -> str:
        """``"72 bpm"`` or ``"no signal"``, for a label."""
        return f"{self.bpm:.0f} bpm" if self.bpm is not None else "no signal"


def _none(reason: str, periodicity: float = 0.0) -> HeartRate:
    return HeartRate(None, reason, periodicity)


def estimate_heart_rate(ppg: np.ndarray, sfreq: float, *, window_s: float = WINDOW_S) -> HeartRate:
    """Estimate the heart rate from the newest ``window_s`` seconds of one PPG row.

    Parameters
    ----------
    ppg : array, shape (n,)
        PPG samples, oldest first, in any unit (ADC counts).
    sfreq : float
        Its sampling rate in Hz (at least 8).
    window_s : float
        Seconds looked at.

    Returns
    -------
    HeartRate
        The rate, or None with the reason (see the module docstring).
    """
    sfreq = float(sfreq)
    if not (math.isfinite(sfreq) and sfreq >= 2 * BAND_HZ[1] + 1):
        raise ValueError(f"estimate_heart_rate: sfreq must be at least 8 Hz, got {sfreq!r}")
    x = np.asarray(ppg, dtype=np.float64).ravel()[-max(1, round(window_s * sfreq)) :]
    if x.size < MIN_WINDOW_S * sfreq:
        return _none(f"under {MIN_WINDOW_S:g} s of PPG")
    if not np.isfinite(x).all():
        return _none("PPG has invalid samples")
    x = x - x.mean()
    if not np.ptp(x) > 0:
        return _none("PPG is flat")
    sos = signal.butter(2, BAND_HZ, btype="bandpass", fs=sfreq, output="sos")
    y = signal.sosfiltfilt(sos, x)
    # a reflective PPG's pulse may point either way (more blood absorbs more light): the
    # sharp systolic extreme times the beat, the rounded other one poorly; the polarity
    # whose beats are more regular is the one
    up, down = _beats(y, sfreq), _beats(-y, sfreq)
    intervals = min(up, down, key=lambda iv: (_spread(iv), -iv.size))
    if intervals.size < MIN_BEATS - 1:
        return _none(
            f"{intervals.size + 1 if intervals.size else 0} beats in {x.size / sfreq:.0f} s"
        )
    median = float(np.median(intervals))
    lag = round(median * sfreq)
    a, b = y[:-lag], y[lag:]
    periodicity = float(np.dot(a, b) / math.sqrt(np.dot(a, a) * np.dot(b, b)))
    spread = _spread(intervals)
    if spread > MAX_SPREAD:
        return _none(f"irregular beats (spread {100 * spread:.0f} %)", periodicity)
    if periodicity < MIN_PERIODICITY:
        return _none(f"no repeating pulse (periodicity {periodicity:.2f})", periodicity)
    # the rate: the mean of the intervals near the median (a missed or doubled beat is left
    # out as the median would; the mean of the rest averages the peaks' timing noise)
    near = intervals[np.abs(intervals - median) <= 0.2 * median]
    bpm = 60.0 / float(near.mean())
    if not MIN_BPM <= bpm <= MAX_BPM:
        return _none(f"{bpm:.0f} bpm is outside {MIN_BPM:g}-{MAX_BPM:g}", periodicity)
    return HeartRate(bpm, "", periodicity)


def _beats(y: np.ndarray, sfreq: float) -> np.ndarray:
    """The newest :data:`N_INTERVALS` intervals (s) between the peaks of band-passed ``y``."""
    lo, hi = np.percentile(y, [5, 95])
    peaks, _ = signal.find_peaks(
        y, distance=max(1, int(sfreq / BAND_HZ[1])), prominence=(hi - lo) / 3
    )
    peaks = peaks[(peaks > 0) & (peaks < y.size - 1)]
    # each peak's time to a fraction of a sample (the parabola through it and its
    # neighbours): at 64 Hz a whole-sample interval would step the rate by 3 bpm at 110
    left, mid, right = y[peaks - 1], y[peaks], y[peaks + 1]
    curve = left - 2 * mid + right
    shift = np.where(curve < 0, 0.5 * (left - right) / np.where(curve < 0, curve, -1.0), 0.0)
    return np.diff(peaks + shift)[-N_INTERVALS:] / sfreq


def _spread(intervals: np.ndarray) -> float:
    """Median absolute deviation of the intervals over their median (inf for fewer than 2)."""
    if intervals.size < 2:
        return math.inf
    median = float(np.median(intervals))
    return float(np.median(np.abs(intervals - median))) / median


def best_heart_rate(rows: np.ndarray, sfreq: float, *, window_s: float = WINDOW_S) -> HeartRate:
    """The most reliable estimate over several PPG rows (a Muse's ambient, infrared and red).

    Which row carries the pulse best depends on the headband and the skin; the one whose
    pulse repeats itself most (:attr:`HeartRate.periodicity`) among those with a rate wins.
    With no row giving a rate, the first row's reason is returned.
    """
    rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
    if rows.shape[0] == 0:
        return _none("no PPG rows")
    estimates = [estimate_heart_rate(r, sfreq, window_s=window_s) for r in rows]
    good = [e for e in estimates if e.bpm is not None]
    return max(good, key=lambda e: e.periodicity) if good else estimates[0]
