"""The feedback level: how far the feature is past its threshold, as a number in [0, 1].

Everything the client sees and hears follows this one number, computed by the engine for
every frame (the ``level`` frame column, so replay reproduces what was shown): 0.5 at the
threshold, towards 1 as the feature moves the rewarded way, towards 0 the other way.

The rule: with ``d`` the signed distance past the threshold (positive in the rewarded
direction) and ``s₊``, ``s₋`` the recent mean distance of the frames on each side of the
threshold (exponential averages over ``spread_tau`` frames of that side),
``level = ½ + ½·tanh(d / (2·s))`` with ``s`` the scale of the side ``d`` is on. A frame at
the typical distance on its side sits at 0.27 or 0.73, twice as far at 0.12 or 0.88. The
range adapts to the feature's own spread above and below the threshold (µV, a ratio or a
z-score alike, and a skewed amplitude distribution alike), so the display and the tone use
their whole range without sitting at the ceiling or the floor. The previous rule (one
symmetric spread, ``1/(1 + e^{−2z})``) kept 22–25 % of the frames above 0.95 on every preset
on the synthetic board (median 0.78); this one keeps 1–3 % there, with the 5th to 95th
percentiles spanning 0.16–0.94 (``tests/test_feedback_level.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class FeedbackState:
    """What the client window and the tone read (written by the GUI thread, 60 Hz).

    Attribute writes are atomic in CPython, so the audio thread may read them at any time.
    """

    level: float = 0.5
    reward: bool = False
    inhibited: bool = False
    paused: bool = True
    active: bool = False  # a training block is running (feedback is meaningful)
    audio: bool = True  # the protocol wants sound
    visual: bool = True  # the protocol wants pictures


class FeedbackLevel:
    """Map feature values to a level in [0, 1] with an adaptive scale.

    Parameters
    ----------
    direction : str
        ``"up"`` or ``"down"``: which way is rewarded.
    spread_tau : float
        Number of updates over which the spread estimate adapts.
    """

    def __init__(self, direction: str = "up", spread_tau: float = 600.0) -> None:
        self.direction = direction
        self._alpha = 1.0 / max(1.0, spread_tau)
        #: the mean distance past (index 0) and short of (index 1) the threshold, and how
        #: many frames each has seen: a plain mean until ``spread_tau`` frames, so that the
        #: first frame's distance does not set the scale for the next minute
        self._scale = [0.0, 0.0]
        self._count = [0, 0]

    def update(self, value: float, threshold: float) -> float:
        """Level of one new value; 0.5 when there is no threshold yet or no finite value."""
        if not (math.isfinite(value) and math.isfinite(threshold)):
            return 0.5
        d = value - threshold if self.direction != "down" else threshold - value
        side = 0 if d >= 0 else 1
        count = self._count[side] = self._count[side] + 1
        weight = self._alpha if count * self._alpha >= 1.0 else 1.0 / count
        scale = self._scale[side] = self._scale[side] + weight * (abs(d) - self._scale[side])
        # a first frame exactly at the threshold has no distance: a tenth of the value
        return 0.5 + 0.5 * math.tanh(d / (2.0 * (scale or abs(value) * 0.1 or 1.0)))
