"""Visual feedback model: what the client window draws, as numbers (no Qt).

The client window follows one number, the feedback level in [0, 1] (0.5 at the threshold).
Drawn raw, it would flicker at the frame rate of the features; :class:`VisualFeedback` turns
it into a display level that moves smoothly (a critically damped follower: no jump, no
overshoot after a step), a dim factor that fades the display while feedback is withheld
(inhibit, pause) and a glow that rises while the client is rewarded. The window only paints
the resulting :class:`VisualFrame`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nfb.feedback.level import FeedbackState

#: dim factor while feedback is withheld (inhibited or paused); 1.0 otherwise
DIM_WITHHELD = 0.35


@dataclass(frozen=True)
class VisualFrame:
    """One display frame of visual feedback.

    Attributes
    ----------
    level : float
        Smoothed feedback level, 0..1 (0.5 at the threshold).
    brightness : float
        Image brightness, 0..1: ``(0.25 + 0.75 * level) * dim``.
    blur : float
        Blur of the image in "clarity" mode as a fraction of the maximum, 0..1: 1 at
        level 0, none at level 1.
    dim : float
        ``DIM_WITHHELD`` .. 1: how much of the display shows through (1 = not dimmed).
    glow : float
        Reward glow, 0..1.
    show : bool
        False when the protocol wants no pictures (audio-only, eyes closed).
    """

    level: float
    brightness: float
    blur: float
    dim: float
    glow: float
    show: bool


def _clip01(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


def _approach(current: float, target: float, dt: float, tau: float) -> float:
    """First-order step of ``current`` toward ``target`` with time constant ``tau`` (exact)."""
    return target + (current - target) * math.exp(-dt / tau)


class VisualFeedback:
    """Smooth the feedback level for display and derive dim and glow.

    Parameters
    ----------
    smoothing_s : float
        Smoothing time of the display level, in seconds: after a step of the level the
        display covers about 60 % of the way in ``smoothing_s`` and 90 % in about twice that.
        0 follows the level without smoothing.

    Notes
    -----
    The display level is a critically damped second-order follower (natural frequency
    ``2 / smoothing_s``), advanced with its exact solution for a constant target over each
    ``dt``: it is independent of the frame rate, starts moving with zero velocity (no jump)
    and, from rest, approaches a new target monotonically (no overshoot). Dim and glow are
    first-order ramps.
    """

    #: time constants of the ramps, seconds
    DIM_TAU = 0.25
    GLOW_RISE_TAU = 0.15
    GLOW_FALL_TAU = 0.6

    def __init__(self, *, smoothing_s: float = 0.25) -> None:
        if not (math.isfinite(smoothing_s) and smoothing_s >= 0):
            raise ValueError(f"smoothing_s must be a finite number >= 0, got {smoothing_s!r}")
        self.smoothing_s = float(smoothing_s)
        self.reset()

    def reset(self, level: float = 0.5) -> None:
        """Put the display at rest at ``level``, undimmed, without glow."""
        self._x = _clip01(float(level))
        self._v = 0.0
        self._dim = 1.0
        self._glow = 0.0

    @property
    def level(self) -> float:
        """The current smoothed display level."""
        return _clip01(self._x)

    def step(self, state: FeedbackState, dt: float) -> VisualFrame:
        """Advance the display by ``dt`` seconds toward ``state`` and return the frame.

        Parameters
        ----------
        state : FeedbackState
            The current feedback state (only read).
        dt : float
            Seconds since the previous step; non-finite or negative values count as 0.

        Returns
        -------
        frame : VisualFrame
            What to draw now.
        """
        dt = float(dt) if math.isfinite(dt) and dt > 0 else 0.0
        target = float(state.level)
        target = _clip01(target) if math.isfinite(target) else self._x  # hold on NaN
        if self.smoothing_s == 0:
            self._x, self._v = target, 0.0
        elif dt > 0:
            w = 2.0 / self.smoothing_s
            e0 = self._x - target
            b = self._v + w * e0
            decay = math.exp(-w * dt)
            self._x = target + (e0 + b * dt) * decay
            self._v = (self._v - w * b * dt) * decay
        withheld = bool(state.inhibited or state.paused)
        self._dim = _approach(self._dim, DIM_WITHHELD if withheld else 1.0, dt, self.DIM_TAU)
        if state.reward and not withheld:
            self._glow = _approach(self._glow, 1.0, dt, self.GLOW_RISE_TAU)
        else:
            self._glow = _approach(self._glow, 0.0, dt, self.GLOW_FALL_TAU)
        level = self.level
        return VisualFrame(
            level=level,
            brightness=_clip01((0.25 + 0.75 * level) * self._dim),
            blur=1.0 - level,
            dim=self._dim,
            glow=_clip01(self._glow),
            show=bool(state.visual),
        )
