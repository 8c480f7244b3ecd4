"""Tone synthesis: int16 PCM that follows the feedback level, without clicks.

The audio sink pulls PCM from :class:`ToneGenerator` as it needs it. Each call reads the
:class:`~nfb.feedback.level.FeedbackState` once and ramps the pitch and the loudness towards
the values it asks for (one-pole smoothing), so a jump of the level, a pause or a mute never
clicks. The number of rendered samples is the clock: the reward chime and its refractory
period are counted in samples, and every sample is a pure function of its index and of the
state read by the call that rendered it. Rendering the same state in any chunking therefore
gives bit-identical PCM (integer phase accumulator, a wavetable, ramps and chime looked up
by sample index: no accumulated floating-point error, no transcendental function per sample).
"""

from __future__ import annotations

import math

import numpy as np

from nfb._logging import logger
from nfb.feedback.level import FeedbackState

MODES = ("pitch", "volume", "pitch+volume")

_PHASE_BITS = 32  # phase accumulator: one cycle is 2**32
_PHASE_MASK = (1 << _PHASE_BITS) - 1
_TABLE_BITS = 12  # sine wavetable of 4096 points, linear interpolation (error < 3e-7)
_FRAC_BITS = _PHASE_BITS - _TABLE_BITS
_FRAC_MASK = (1 << _FRAC_BITS) - 1
_SINE = np.sin(2 * np.pi * np.arange((1 << _TABLE_BITS) + 1) / (1 << _TABLE_BITS))

_FULL_SCALE = 0.98 * 32767  # the limiter's asymptote: |sample| < 32112
_KNEE = 0.7  # the soft limiter is the identity below this (fraction of full scale)
_TONE_AMP = 0.45  # the tone's peak at volume 1 and full level gain
_CHIME_AMP = 0.4  # the chime's peak at volume 1


def _chime_table(sample_rate: int, duration_s: float = 0.15) -> np.ndarray:
    """A short bell: 1320 + 1980 Hz, 3 ms attack, exponential decay, faded to exact zero."""
    n = max(1, round(duration_s * sample_rate))
    t = np.arange(n) / sample_rate
    env = (1.0 - np.exp(-t / 0.003)) * np.exp(-t / 0.045)
    fade = min(n, round(0.03 * sample_rate))  # raised-cosine tail: the end is silent, no click
    env[n - fade :] *= 0.5 * (1.0 + np.cos(np.pi * np.arange(1, fade + 1) / fade))
    wave = np.sin(2 * np.pi * 1320.0 * t) + 0.5 * np.sin(2 * np.pi * 1980.0 * t)
    chime = env * wave
    return chime / np.max(np.abs(chime))


class _Ramp:
    """One-pole smoothing toward a target, evaluated as a function of the sample index.

    A target set at sample ``n0`` from a value ``start`` gives
    ``target + (start - target) * r ** (n - n0 + 1)`` for ``n >= n0``: the same values as the
    recursion ``y += (1 - r) * (target - y)``, but exact for any chunking.
    """

    __slots__ = ("n0", "start", "target")

    def __init__(self, value: float) -> None:
        self.start = self.target = float(value)
        self.n0 = 0

    def value_at(self, n: int, decay: np.ndarray) -> float:
        k = n - self.n0
        if k < 0:
            return self.start
        d = decay[k] if k < decay.size else 0.0
        return float(self.target + (self.start - self.target) * d)

    def retarget(self, target: float, n: int, decay: np.ndarray) -> None:
        """Head for ``target`` from sample ``n`` on (no change if it is the current target)."""
        if target != self.target:
            self.start = self.value_at(n - 1, decay)
            self.target = float(target)
            self.n0 = n

    def render(self, n: int, count: int, decay: np.ndarray) -> np.ndarray:
        k = n - self.n0
        if k >= decay.size:
            return np.full(count, self.target)
        idx = np.arange(k, k + count)
        d = np.where(idx < decay.size, decay[np.minimum(idx, decay.size - 1)], 0.0)
        return self.target + (self.start - self.target) * d


class ToneGenerator:
    """Generate the feedback tone as int16 mono PCM, pulled in blocks by the audio sink.

    Parameters
    ----------
    state : FeedbackState
        The feedback the client gets; read once per :meth:`render` call.
    sample_rate : int
        Samples per second of the PCM.
    f_low, f_high : float
        Pitch (Hz) at level 0 and at level 1; the map is exponential (equal musical steps),
        so level 0.5 sounds at ``sqrt(f_low * f_high)``. The range in use adapts to the client:
        the level's scale follows the feature's recent spread on each side of the threshold
        (:class:`~nfb.feedback.level.FeedbackLevel`), so the pitch rarely sits at either end.
    mode : str
        ``"pitch"`` (the level drives the pitch), ``"volume"`` (the level drives the loudness,
        at the fixed pitch ``sqrt(f_low * f_high)``) or ``"pitch+volume"`` (both).

    Attributes
    ----------
    volume : float
        Master volume in [0, 1] (ramped, so changing it never clicks).
    muted : bool
        Silence (ramped down) whatever the state.
    chime_after_s : float
        A chime sounds once the reward has been continuously on for this long ...
    chime_refractory_s : float
        ... and no earlier than this after the previous chime (sustained reward chimes again
        every ``chime_refractory_s``).
    inhibited_gain : float
        Loudness factor while ``state.inhibited`` (about -9 dB by default).
    volume_range_db : float
        In the volume modes, the loudness goes from ``-volume_range_db`` dB (level 0) to
        0 dB (level 1).

    Notes
    -----
    Silence when ``state.paused``, ``not state.active``, ``not state.audio`` or ``muted``.
    Pitch and loudness follow their targets with a one-pole ramp of time constant
    ``ramp_s`` (15 ms: 95 % of a jump in 45 ms). The sum of tone and chime goes through a
    soft limiter, so no sample ever reaches full scale.
    """

    def __init__(
        self,
        state: FeedbackState,
        sample_rate: int = 44100,
        *,
        f_low: float = 220.0,
        f_high: float = 880.0,
        mode: str = "pitch",
        ramp_s: float = 0.015,
    ) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        if not (0 < f_low <= f_high < sample_rate / 2):
            raise ValueError(
                f"need 0 < f_low <= f_high < sample_rate / 2, got f_low={f_low}, "
                f"f_high={f_high}, sample_rate={sample_rate}"
            )
        if ramp_s <= 0:
            raise ValueError(f"ramp_s must be positive, got {ramp_s}")
        self.state = state
        self.sample_rate = int(sample_rate)
        self.f_low = float(f_low)
        self.f_high = float(f_high)
        self.mode = mode
        self.volume = 0.8
        self.muted = False
        self.chime_after_s = 1.0
        self.chime_refractory_s = 3.0
        self.inhibited_gain = 0.35
        self.volume_range_db = 24.0
        # r ** (k + 1) for k = 0.. until it is negligible (then the ramp is at its target)
        r = math.exp(-1.0 / (ramp_s * self.sample_rate))
        n_decay = math.ceil(-math.log(1e-12) * ramp_s * self.sample_rate)
        self._decay = r ** np.arange(1, n_decay + 1, dtype=float)
        self._chime = _chime_table(self.sample_rate)
        self._n = 0  # samples rendered so far: the clock
        self._phase = 0  # phase accumulator at sample self._n, in 2**-32 cycles
        f0, g0 = self._targets(state.level if math.isfinite(state.level) else 0.5, False)
        self._freq = _Ramp(f0)  # start at the first pitch: only the loudness fades in
        self._tone_gain = _Ramp(g0)
        self._master = _Ramp(0.0)
        self._reward_since: int | None = None  # first sample of the current reward run
        self._last_chime: int | None = None  # onset of the last chime
        self._chimes: list[int] = []  # onsets of chimes still sounding

    @property
    def mode(self) -> str:
        """What the level drives: ``"pitch"``, ``"volume"`` or ``"pitch+volume"``."""
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; got {value!r}")
        self._mode = value

    @property
    def samples_rendered(self) -> int:
        """Number of samples rendered so far (the generator's clock)."""
        return self._n

    def frequency(self, level: float) -> float:
        """Pitch (Hz) the tone heads for at ``level`` in the current mode."""
        return self._targets(level, False)[0]

    def _targets(self, level: float, inhibited: bool) -> tuple[float, float]:
        level = min(1.0, max(0.0, level))
        if "pitch" in self._mode:
            freq = self.f_low * (self.f_high / self.f_low) ** level
        else:
            freq = math.sqrt(self.f_low * self.f_high)
        gain = 1.0
        if "volume" in self._mode:
            gain = 10.0 ** ((level - 1.0) * self.volume_range_db / 20.0)
        if inhibited:
            gain *= self.inhibited_gain
        return freq, gain

    def render(self, n: int) -> np.ndarray:
        """The next ``n`` samples of int16 mono PCM.

        Parameters
        ----------
        n : int
            Number of samples.

        Returns
        -------
        pcm : ndarray of int16, shape (n,)
            Phase-continuous with the previous call.
        """
        n = int(n)
        if n <= 0:
            return np.zeros(0, np.int16)
        st = self.state
        level = float(st.level)
        if not math.isfinite(level):
            level = 0.5
        inhibited = bool(st.inhibited)
        running = bool(st.active) and not st.paused and bool(st.audio)
        audible = running and not self.muted
        start, end = self._n, self._n + n

        freq_target, gain_target = self._targets(level, inhibited)
        volume = min(1.0, max(0.0, float(self.volume)))
        self._freq.retarget(freq_target, start, self._decay)
        self._tone_gain.retarget(gain_target, start, self._decay)
        self._master.retarget(volume if audible else 0.0, start, self._decay)

        # integer phase accumulator: exact, so any chunking gives the same phase
        freq = self._freq.render(start, n, self._decay)
        inc = np.rint(freq * ((1 << _PHASE_BITS) / self.sample_rate)).astype(np.int64)
        acc = np.cumsum(inc)
        phase = (self._phase + acc - inc) & _PHASE_MASK
        self._phase = int((self._phase + int(acc[-1])) & _PHASE_MASK)
        idx = phase >> _FRAC_BITS
        frac = (phase & _FRAC_MASK) * (1.0 / (1 << _FRAC_BITS))
        tone = _SINE[idx] + frac * (_SINE[idx + 1] - _SINE[idx])

        x = (_TONE_AMP * self._tone_gain.render(start, n, self._decay)) * tone
        self._update_chimes(bool(st.reward) and running and not inhibited, start, end)
        if self._chimes:
            x += _CHIME_AMP * self._mix_chimes(start, end)
        x *= self._master.render(start, n, self._decay)
        self._n = end
        return _to_int16(x)

    def _update_chimes(self, rewarded: bool, start: int, end: int) -> None:
        if not rewarded:
            self._reward_since = None
            return
        if self._reward_since is None:
            self._reward_since = start
        after = max(0, round(self.chime_after_s * self.sample_rate))
        refractory = max(1, round(self.chime_refractory_s * self.sample_rate))
        while True:
            due = self._reward_since + after
            if self._last_chime is not None:
                due = max(due, self._last_chime + refractory)
            if due >= end:
                break
            due = max(due, start)
            self._chimes.append(due)
            self._last_chime = due
            logger.debug("tone: chime at sample %d", due)

    def _mix_chimes(self, start: int, end: int) -> np.ndarray:
        out = np.zeros(end - start)
        length = self._chime.size
        for onset in self._chimes:
            a, b = max(onset, start), min(onset + length, end)
            if a < b:
                out[a - start : b - start] += self._chime[a - onset : b - onset]
        self._chimes = [o for o in self._chimes if o + length > end]
        return out


def _to_int16(x: np.ndarray) -> np.ndarray:
    """Soft-limit (identity below the knee, smooth approach to full scale) and quantise."""
    mag = np.abs(x)
    over = mag > _KNEE
    if np.any(over):
        u = (mag[over] - _KNEE) / (1.0 - _KNEE)
        x[over] = np.sign(x[over]) * (_KNEE + (1.0 - _KNEE) * u / (1.0 + u))
    return np.rint(x * _FULL_SCALE).astype(np.int16)
