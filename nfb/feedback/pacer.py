"""Breathing pacer: a slow breathing rhythm (inhale, exhale) as a function of time (no Qt).

Used during rests and relaxation blocks: the client window draws a circle that grows on the
inhale and shrinks on the exhale. Resonance-frequency breathing is about 6 breaths a minute
with an exhale longer than the inhale, which is the default.
"""

from __future__ import annotations

import math

from nfb.errors import ConfigError

BPM_RANGE = (2.0, 30.0)
INHALE_FRACTION_RANGE = (0.2, 0.8)


def _ease(p: float) -> float:
    """Smooth ease in/out on [0, 1] (zero slope at both ends)."""
    return 0.5 - 0.5 * math.cos(math.pi * min(1.0, max(0.0, p)))


class BreathingPacer:
    """A breathing rhythm of ``bpm`` breaths a minute.

    Parameters
    ----------
    bpm : float
        Breaths per minute, 2–30.
    inhale_fraction : float
        Part of each breath spent inhaling, 0.2–0.8 (the rest is the exhale).

    Raises
    ------
    ConfigError
        If a value is out of range.
    """

    def __init__(self, bpm: float = 6.0, inhale_fraction: float = 0.4) -> None:
        lo, hi = BPM_RANGE
        if not (isinstance(bpm, (int, float)) and math.isfinite(bpm) and lo <= bpm <= hi):
            raise ConfigError(
                f"breathing pacer: bpm must be between {lo:g} and {hi:g} breaths a minute, "
                f"got {bpm!r}"
            )
        lo, hi = INHALE_FRACTION_RANGE
        if not (
            isinstance(inhale_fraction, (int, float))
            and math.isfinite(inhale_fraction)
            and lo <= inhale_fraction <= hi
        ):
            raise ConfigError(
                f"breathing pacer: inhale_fraction must be between {lo:g} and {hi:g}, "
                f"got {inhale_fraction!r}"
            )
        self.bpm = float(bpm)
        self.inhale_fraction = float(inhale_fraction)

    @property
    def period(self) -> float:
        """Duration of one breath, in seconds (``60 / bpm``)."""
        return 60.0 / self.bpm

    def phase(self, t: float) -> tuple[str, float]:
        """Where in the breath time ``t`` falls.

        Parameters
        ----------
        t : float
            Seconds since the pacer started (breaths start with an inhale at t = 0).

        Returns
        -------
        phase : str
            ``"inhale"`` or ``"exhale"``.
        progress : float
            Progress through that phase, 0..1.
        """
        period = self.period
        inhale = self.inhale_fraction * period
        u = math.fmod(t, period)
        if u < 0:
            u += period
        if u < inhale:
            return "inhale", u / inhale
        return "exhale", min(1.0, (u - inhale) / (period - inhale))

    def size(self, t: float) -> float:
        """Size of the pacer at time ``t``, 0 (empty lungs) .. 1 (full), eased in and out."""
        name, p = self.phase(t)
        return _ease(p) if name == "inhale" else 1.0 - _ease(p)
