"""Reward rules: inhibits, thresholds and the sustained-reward (hold) rule.

Inhibits are evaluated on whole chunks of frames with sliding windows over carried history,
so they are exact under any chunking; band inhibits, whose limits the baseline sets in the
middle of a chunk, frame by frame with carried state (the same under any chunking too).

**Band inhibits** compare a band's envelope, frame by frame, with a limit. The envelope of a
band of noise ripples at the frame rate (lag-1 autocorrelation 0.4-0.8 at 62.5 frames/s on
BrainFlow's synthetic board and on the realistic benchmark signal), so a limit of baseline
mean + 1.5 sd is crossed about 260 times a minute in excursions of one or two frames
(99 % of them shorter than 160 ms): smr-up inhibited 15-20 % of its frames in ~850 one-frame
episodes a block, and since every inhibit restarts the reward's hold, at most 15-25 % of the
frames could be rewarded at any threshold. Two rules turn flicker into episodes:

* ``min_episode_ms`` (default 100): the band must stay above its limit this long before the
  inhibit starts; shorter excursions are not episodes and do not inhibit. Measured on both
  signals, 100 ms leaves 0.3-0.6 % of the frames band-inhibited (from 15-20 %) and lets
  92-96 % of them be rewarded (from 15-25 %); 64 ms 87-88 %.
* ``release`` (default 0.8, hysteresis): once on, the inhibit holds until the band falls
  below ``release`` x limit, so an episode that hovers about its limit stays one episode
  instead of restarting the hold at every dip.

``min_episode_ms = 0`` and ``release = 1`` give the plain comparison. ``hold_ms`` still keeps
the inhibit on that long after the release.

**Limits during a session.** Each inhibit compares one measure per frame with one limit
(:data:`LIMIT_UNITS`); :meth:`Inhibitor.set_limit` changes a limit and
:meth:`Inhibitor.flags_from` re-evaluates that rule from a frame of the current chunk on, so a
change recorded at a sample index gives the same frames under any chunking (live, replayed).

**The automatic threshold** (:class:`ThresholdController`) keeps the block's reward rate,
rewarded frames over all training frames (inhibited ones included), near the target. A frame
is rewarded when the feature has passed the threshold on each of the last ``hold_frames``
frames with no inhibit among them, so the threshold is the quantile, over the recent training
frames, of each frame's running extreme over its hold window, where a frame that cannot be
rewarded at any threshold (inhibited, or fewer than ``hold_frames`` clean frames since the
last inhibit, pause or step start) counts as -inf (``up``; +inf for ``down``). Leaving those
frames out, as before, made the rate the target times the share of rewardable frames
(measured: 0.65 x 0.81 = 0.53 against 0.52 on realistic alpha-up). When inhibits leave
fewer rewardable frames than the target, the threshold goes to the lowest value seen, which
rewards every frame they leave.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._logging import logger
from .dsp.pipeline import FrameBlock


def hold_frames(hold_ms: float, frame_rate: float) -> int:
    """Frames a condition must last to count as held for ``hold_ms`` (at least one)."""
    return max(1, round(hold_ms / 1000.0 * frame_rate) + 1)


def _hold(cond: np.ndarray, tail: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """True where ``cond`` was true in any of the last ``n`` frames (``n`` >= 1)."""
    full = np.concatenate([tail, cond])
    out = sliding_window_view(full, n)[-len(cond) :].any(axis=1) if len(cond) else cond
    return out, full[len(full) - (n - 1) :] if n > 1 else full[:0]


#: Each adjustable inhibit's measure, the unit of its limit and the side of the limit on which
#: it inhibits (``band_<name>`` rules: the band's value, in the feature's measure).
LIMIT_UNITS: dict[str, tuple[str, str, str]] = {
    "amplitude": ("peak", "µV", "above"),
    "emg": ("EMG", "µV", "above"),
    "eog": ("EOG peak", "µV", "above"),
    "railed": ("peak", "µV", "at or above"),
    "flat": ("peak-to-peak", "µV", "below"),
    "band": ("band value", "", "above"),
}


@dataclass
class _Rule:
    kind: str
    frames_hold: int
    tail: np.ndarray
    params: dict
    limit: float | None = None
    # the current chunk: the measure, the condition and the hold's tail before it (for a
    # limit changed in the middle of the chunk)
    measure: np.ndarray | None = None
    cond: np.ndarray | None = None
    chunk_tail: np.ndarray | None = None


class Inhibitor:
    """Evaluate a protocol's inhibits on frame blocks.

    Parameters
    ----------
    inhibits : list of dict
        The protocol's ``[[inhibit]]`` tables (validated).
    frame_rate : float
        Frames per second.
    rail_uv : float | None
        The device's ADC range, for the ``railed`` inhibit.
    """

    def __init__(self, inhibits: list[dict], frame_rate: float, rail_uv: float | None) -> None:
        self.rules: list[_Rule] = []
        self.band_rules: list[_Rule] = []  # evaluated per frame: limits change mid-chunk
        self.band_limits: dict[str, float] = {}  # band inhibits: limit once known
        for inh in inhibits:
            kind = inh["kind"]
            if kind == "motion":  # from the motion stream, not the frames: the runner's stage
                continue
            params = dict(inh)
            limit = params.get("min_uv" if kind == "flat" else "max_uv")
            if kind == "railed":
                limit = params["max_uv"] or (params["fraction"] * rail_uv if rail_uv else 0)
                if not limit:
                    logger.info("railed inhibit disabled: the device's ADC range is unknown")
                    continue
            if kind == "flat":
                hold = max(1, round(params["window_s"] * frame_rate))
            else:
                hold = hold_frames(params.get("hold_ms", 0), frame_rate)
            name = f"band_{params['band']}" if kind == "band" else kind
            if any(r.kind == name for r in (*self.rules, *self.band_rules)):
                continue
            rule = _Rule(name, hold, np.zeros(hold - 1, bool), params, limit)
            if kind == "band":
                rule.params.update(countdown=0, over=0, on=False)
                rule.params["entry"] = hold_frames(params["min_episode_ms"], frame_rate)
                self.band_rules.append(rule)
                if params["max"] != "auto":
                    self.band_limits[params["band"]] = float(params["max"])
            else:
                self.rules.append(rule)
        self.kinds = (*(r.kind for r in self.rules), "invalid", *(r.kind for r in self.band_rules))
        self._flat_min: np.ndarray | None = None
        self._flat_max: np.ndarray | None = None

    def set_band_limits_from_baseline(self, stats: dict[str, dict]) -> None:
        """Set ``max = "auto"`` band limits to baseline mean + max_z·sd (not those set by
        :meth:`set_limit` already)."""
        for rule in self.band_rules:
            p = rule.params
            if p["max"] == "auto" and p["band"] in stats and not p.get("set"):
                s = stats[p["band"]]
                self.band_limits[p["band"]] = s["mean"] + p["max_z"] * s["sd"]

    def evaluate(self, fb: FrameBlock) -> dict[str, np.ndarray]:
        """Signal-quality inhibits: per-kind boolean arrays (len(fb),), ``invalid`` included.

        Band inhibits are not here: their limits come from the baseline and may change in the
        middle of a chunk, so the runner asks :meth:`band_step` frame by frame.
        """
        out: dict[str, np.ndarray] = {}
        for rule in self.rules:
            rule.measure, rule.chunk_tail = self._measure(rule, fb), rule.tail
            rule.cond = None
            out[rule.kind] = self._compare(rule, 0)
        out["invalid"] = fb.n_invalid > 0
        return out

    def _measure(self, rule: _Rule, fb: FrameBlock) -> np.ndarray:
        """What ``rule`` compares with its limit, per frame of ``fb`` (µV)."""
        if rule.kind == "amplitude":
            return fb.peak_uv
        if rule.kind == "emg":
            return fb.emg_uv
        if rule.kind == "eog":  # the largest of the watched channels (a blink)
            return np.fmax.reduce(fb.eog_uv, axis=0)
        if rule.kind == "railed":  # the channel nearest a rail
            if not fb.raw_max.shape[0]:
                return np.full(len(fb), np.nan)
            return np.fmax.reduce(np.fmax(fb.raw_max, -fb.raw_min), axis=0)
        return self._flat(fb, rule)  # the flattest channel's peak-to-peak

    def _compare(self, rule: _Rule, start: int) -> np.ndarray:
        """The rule's flags for the current chunk, its condition re-evaluated from frame
        ``start`` on with the current limit (the frames before keep theirs)."""
        m, limit = rule.measure, rule.limit
        if rule.kind == "flat":
            new = m < limit
        else:
            new = m >= limit if rule.kind == "railed" else m > limit
        cond = new if rule.cond is None else np.concatenate([rule.cond[:start], new[start:]])
        rule.cond = cond
        if rule.kind == "flat":  # its window is in the measure: no hold
            return cond
        flags, rule.tail = _hold(cond, rule.chunk_tail, rule.frames_hold)
        return flags

    def limits(self) -> dict[str, float | None]:
        """Each adjustable inhibit's current limit (None: a band limit the baseline has not
        set yet), by name (``amplitude``, ``band_theta``...), in :attr:`kinds` order."""
        out: dict[str, float | None] = {r.kind: r.limit for r in self.rules}
        out.update({r.kind: self.band_limits.get(r.params["band"]) for r in self.band_rules})
        return out

    def values(self, fb: FrameBlock, i: int) -> dict[str, float]:
        """Each adjustable inhibit's measure at frame ``i`` of the chunk just evaluated."""
        out = {r.kind: float(r.measure[i]) for r in self.rules if r.measure is not None}
        out.update({r.kind: float(fb.bands[r.params["band"]][i]) for r in self.band_rules})
        return out

    def set_limit(self, name: str, value: float) -> None:
        """Set inhibit ``name``'s limit (its unit: :data:`LIMIT_UNITS`); a band limit set so
        is no longer set by the baseline. Raises KeyError for an unknown name.

        A band inhibit reads it from the next :meth:`band_step` on; a signal-quality one from
        the next chunk, or from a frame of the current one with :meth:`flags_from`.
        """
        for rule in self.band_rules:
            if rule.kind == name:
                rule.params["set"] = True
                self.band_limits[rule.params["band"]] = float(value)
                return
        rule = next((r for r in self.rules if r.kind == name), None)
        if rule is None:
            raise KeyError(name)
        rule.limit = float(value)

    def flags_from(self, name: str, start: int) -> np.ndarray | None:
        """Signal-quality inhibit ``name``'s flags for the chunk just evaluated, with its
        current limit from frame ``start`` on (the frames before keep theirs); None for a
        band inhibit or before the first chunk."""
        rule = next((r for r in self.rules if r.kind == name), None)
        if rule is None or rule.measure is None:
            return None
        return self._compare(rule, start)

    def band_step(self, bands: dict[str, np.ndarray], i: int) -> dict[str, bool]:
        """Band inhibits for frame ``i`` of a block, using the current limits.

        A rule starts when its band has been above the limit for ``min_episode_ms``, stays on
        until the band falls below ``release`` x limit, then ``hold_ms`` longer.
        """
        out = {}
        for rule in self.band_rules:
            p = rule.params
            limit = self.band_limits.get(p["band"])
            if limit is not None:
                x = float(bands[p["band"]][i])
                p["over"] = p["over"] + 1 if x > limit else 0
                if p["on"]:
                    if not x > p["release"] * limit:  # NaN releases too
                        p["on"] = False
                        p["countdown"] = rule.frames_hold - 1
                elif p["over"] >= p["entry"]:
                    p["on"] = True
            if p["on"]:
                out[rule.kind] = True
            else:
                out[rule.kind] = p["countdown"] > 0
                p["countdown"] = max(0, p["countdown"] - 1)
        return out

    def _flat(self, fb: FrameBlock, rule: _Rule) -> np.ndarray:
        # peak-to-peak over the last `window_s` of frames, per channel: the smallest
        n = rule.frames_hold
        n_ch = fb.raw_min.shape[0]
        if n_ch == 0 or len(fb) == 0:
            return np.full(len(fb), np.nan)
        if self._flat_min is None:
            self._flat_min = np.full((n_ch, n - 1), np.inf)
            self._flat_max = np.full((n_ch, n - 1), -np.inf)
        lo = np.concatenate([self._flat_min, fb.raw_min], axis=1)
        hi = np.concatenate([self._flat_max, fb.raw_max], axis=1)
        self._flat_min, self._flat_max = (
            lo[:, lo.shape[1] - (n - 1) :],
            hi[:, hi.shape[1] - (n - 1) :],
        )
        wlo = sliding_window_view(lo, n, axis=1)[:, -len(fb) :].min(axis=2)
        whi = sliding_window_view(hi, n, axis=1)[:, -len(fb) :].max(axis=2)
        return np.fmin.reduce(whi - wlo, axis=0)


class ThresholdController:
    """Automatic threshold that keeps the block's reward rate near a target.

    The rate counts every training frame, inhibited ones included. Each observed frame gets a
    *held value*: the minimum (for ``up``; maximum for ``down``) of its last ``hold_frames``
    values, or -inf (+inf) when it cannot be rewarded at any threshold (it is inhibited, or
    the clean run since the last inhibit, pause or step start is shorter than the hold). A
    threshold rewards exactly the frames whose held value passes it, so the quantile of the
    recent held values at the target is the threshold that would have met it.

    Parameters
    ----------
    direction : str
        ``"up"`` rewards values above the threshold, ``"down"`` below.
    target_rate : float
        Wanted fraction of rewarded training frames (inhibited frames count, unrewarded).
    window_frames : int
        How many recent training frames the quantile looks at.
    update_frames : int
        Training frames between updates.
    hold_frames : int
        Frames the condition must hold for a reward.
    """

    def __init__(
        self,
        direction: str,
        target_rate: float,
        window_frames: int,
        update_frames: int,
        hold_frames: int = 1,
    ) -> None:
        self.direction = direction
        self.target_rate = float(target_rate)
        self.hold_frames = max(1, int(hold_frames))
        self.values: deque[float] = deque(maxlen=max(2, int(window_frames)))
        self._recent: deque[float] = deque(maxlen=self.hold_frames)
        self.update_frames = max(1, int(update_frames))
        self._since = 0

    def _extreme(self, window) -> float:
        return min(window) if self.direction == "up" else max(window)

    def quantile(self, held_values) -> float | None:
        """The threshold that rewards ``target_rate`` of these held values (None: too few).

        Infinite values (frames no threshold rewards) are counted but cannot be rewarded: the
        finite ones must supply the whole target, and all of them are rewarded (the threshold
        is the lowest, for ``up``) when they are fewer than the target.
        """
        v = np.asarray(held_values, dtype=float)
        finite = v[np.isfinite(v)]
        if finite.size < 2:
            return None
        share = min(1.0, self.target_rate * v.size / finite.size)
        return float(np.quantile(finite, 1.0 - share if self.direction == "up" else share))

    def initial(self, values: np.ndarray) -> float | None:
        """Threshold from a baseline's values (non-finite values are left out; None if fewer
        than two are left)."""
        v = np.asarray(values, dtype=float)
        v = v[np.isfinite(v)]
        if len(v) >= self.hold_frames:
            win = sliding_window_view(v, self.hold_frames)
            v = win.min(axis=1) if self.direction == "up" else win.max(axis=1)
        return self.quantile(v)

    def break_run(self) -> None:
        """A pause or a new step: the next held value needs a fresh run of frames."""
        self._recent.clear()

    def observe(self, value: float, usable: bool) -> float | None:
        """Add one training frame; return a new threshold when an update is due."""
        never = -math.inf if self.direction == "up" else math.inf
        if usable and math.isfinite(value):
            self._recent.append(value)
            full = len(self._recent) == self.hold_frames
            self.values.append(self._extreme(self._recent) if full else never)
        else:
            self._recent.clear()  # an inhibit breaks the run, as it does for the reward
            self.values.append(never)
        self._since += 1
        if self._since >= self.update_frames and len(self.values) >= 2:
            self._since = 0
            return self.quantile(self.values)
        return None
