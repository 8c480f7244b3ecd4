"""Head motion from a headband's accelerometer and gyroscope, as a per-frame inhibit.

A Muse streams its accelerometer (g) and gyroscope (deg/s) at 52 Hz in BrainFlow's auxiliary
preset, beside 256 Hz EEG. Movement is measured per motion sample as

* the accelerometer's deviation from gravity, ``| |a| - 1 g |`` (a still head reads 1 g
  whatever its tilt, a nod or a jolt moves the magnitude away from it), and
* the gyroscope's magnitude ``|ω|`` (a still head turns at 0 deg/s),

and a frame is inhibited while either was over its limit in the motion samples of the last
``hold_ms`` (at least the newest one).

Which motion samples a frame sees is decided by the EEG clock, so that live, replayed and
re-scored sessions agree exactly: each motion chunk carries ``eeg_index``, the number of EEG
samples received when it was fetched, and frame ``s`` (its newest EEG sample's index) sees the
motion samples with ``eeg_index <= s``: exactly those the acquisition thread had handed out
before the EEG block holding sample ``s`` (a poll hands out its EEG block first, then its
streams). Before any motion sample has come, nothing is inhibited, and neither is anything
while the motion stream is silent: samples that came more than ``stale_samples`` EEG samples
(1 s by default) before a frame do not count for it, so a stream that dies during a movement
does not hold the inhibit on for the rest of the session.
"""

from __future__ import annotations

import numpy as np

#: Gravity, in the accelerometer's unit (g).
GRAVITY_G = 1.0


class MotionInhibit:
    """Per-frame motion flags from an auxiliary stream.

    Parameters
    ----------
    sfreq : float
        The motion stream's rate (Hz).
    accel_rows, gyro_rows : sequence of int
        Rows of the stream's blocks holding the accelerometer (x, y, z in g) and the
        gyroscope (deg/s); either may be empty if its limit is not used.
    max_accel_g : float
        Largest deviation of the acceleration's magnitude from 1 g; 0: not used.
    max_gyro_dps : float
        Largest rotation rate (deg/s); 0: not used.
    hold_ms : float
        A frame is inhibited while a motion sample of the last ``hold_ms`` was over a limit.
    stale_samples : int | None
        Motion samples that came this many EEG samples or more before a frame are too old
        for it; None: never too old.
    """

    def __init__(
        self,
        sfreq: float,
        accel_rows,
        gyro_rows,
        *,
        max_accel_g: float,
        max_gyro_dps: float,
        hold_ms: float,
        stale_samples: int | None = None,
    ) -> None:
        self.accel_rows = list(accel_rows) if max_accel_g > 0 else []
        self.gyro_rows = list(gyro_rows) if max_gyro_dps > 0 else []
        self.max_accel_g = float(max_accel_g)
        self.max_gyro_dps = float(max_gyro_dps)
        self.window = max(1, round(hold_ms / 1000.0 * sfreq) + 1)
        self.stale_samples = stale_samples
        self._over = np.zeros(0, bool)  # per motion sample: over a limit
        self._known_at = np.zeros(0, np.int64)  # its eeg_index

    def over_limit(self, block: np.ndarray) -> np.ndarray:
        """Per sample of a motion block: whether it is over either limit."""
        n = block.shape[1]
        over = np.zeros(n, bool)
        if self.accel_rows:
            magnitude = np.sqrt((block[self.accel_rows] ** 2).sum(axis=0))
            with np.errstate(invalid="ignore"):
                over |= np.abs(magnitude - GRAVITY_G) > self.max_accel_g
        if self.gyro_rows:
            rate = np.sqrt((block[self.gyro_rows] ** 2).sum(axis=0))
            with np.errstate(invalid="ignore"):
                over |= rate > self.max_gyro_dps
        return over

    def feed(self, block: np.ndarray, eeg_index) -> None:
        """Add a motion chunk (all rows of the preset) and the EEG index it came at."""
        n = block.shape[1]
        if not n:
            return
        known = np.broadcast_to(np.asarray(eeg_index, dtype=np.int64), (n,))
        self._over = np.concatenate((self._over, self.over_limit(block)))
        self._known_at = np.concatenate((self._known_at, known))

    def flags(self, frame_index: np.ndarray) -> np.ndarray:
        """Inhibit flags of frames at sample indices ``frame_index`` (increasing)."""
        idx = np.asarray(frame_index, dtype=np.int64)
        out = np.zeros(idx.size, bool)
        if not idx.size or not self._over.size:
            return out
        # motion samples each frame sees, and the windows over the last ``window`` of them
        seen = np.searchsorted(self._known_at, idx, side="right")
        first = np.maximum(seen - self.window, 0)
        if self.stale_samples is not None:
            fresh = np.searchsorted(self._known_at, idx - self.stale_samples, side="right")
            first = np.maximum(first, fresh)
        csum = np.concatenate(([0], np.cumsum(self._over)))
        out = csum[seen] - csum[np.minimum(first, seen)] > 0
        # later frames never look further back than the last one's window
        keep = max(0, int(seen[-1]) - self.window)
        if keep:
            self._over, self._known_at = self._over[keep:], self._known_at[keep:]
        return out
