"""The feedback level: how far the feature is past its threshold, as a number in [0, 1].

Everything the client sees and hears follows this one number: 0.5 at the threshold, towards
1 as the feature moves the rewarded way, towards 0 the other way. The scale adapts to the
recent spread of the feature, so the display uses its whole range whatever the unit of the
feature (µV, a ratio, a z-score).
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
        self._mean: float | None = None
        self._spread: float | None = None

    def update(self, value: float, threshold: float) -> float:
        """Level of one new value; 0.5 when there is no threshold yet or no finite value."""
        if not (math.isfinite(value) and math.isfinite(threshold)):
            return 0.5
        if self._mean is None:
            self._mean, self._spread = value, abs(value) * 0.1 or 1.0
        a = self._alpha
        self._mean += a * (value - self._mean)
        self._spread += a * (abs(value - self._mean) - self._spread)
        scale = max(self._spread, 1e-9)
        z = (value - threshold) / scale
        if self.direction == "down":
            z = -z
        return 1.0 / (1.0 + math.exp(-2.0 * max(-20.0, min(20.0, z))))
