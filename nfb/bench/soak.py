"""``nfb bench soak``: a long session through the live path, accelerated; samples lost, memory.

A deterministic EEG file (``minutes`` × ``channels`` at 250 Hz, FIF, in a temporary folder) is
played by the ``file`` device at ``speed`` × real time through a :class:`DeviceStream` and a
:class:`LiveSession` on the default protocol (its script lengthened with more blocks so that
it outlasts the file), recording to a temporary session store, until the file ends. Then the
recording is read back.

- ``samples_lost``: samples the device delivered from the session's first sample on, minus
  the distinct samples recorded (the file device numbers its samples, so the raw file's
  counter row says exactly which ones arrived); ``dropped`` is the stream's package-counter
  count. ``frames`` against ``frames_expected`` (one per ``step`` recorded samples).
- ``rss_growth_mb``: the process RSS (psutil) is sampled every ``interval`` s of wall time
  with the session's sample count. After a warm-up (the first quarter of the session, at most
  10 minutes of session time: the ring buffer, the frame history and the recorder's buffers
  fill up), the Theil–Sen slope of RSS against *session* time, in MB per hour of session.
  ``rss_last_minus_warm_mb`` is the plain difference (median of the last 5 % of samples minus
  the median of the first 5 % after warm-up), unscaled.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from ..protocol import load_protocol
from .signals import eeg_signal
from .throughput import DEFAULT_PROTOCOL, SFREQ, channel_names, long_script


def write_eeg_file(path: Path, minutes: float, channels: int = 16, seed: int = 0) -> int:
    """Write the benchmark's EEG as a FIF file (float32, volts); return its sample count."""
    import mne

    x = eeg_signal(minutes * 60.0, channels, SFREQ, seed=seed)
    info = mne.create_info(list(channel_names(channels)), SFREQ, "eeg")
    raw = mne.io.RawArray(x * 1e-6, info, verbose="error")
    del x
    raw.save(path, fmt="single", overwrite=True, verbose="error")
    return raw.n_times


def rss_growth(t_s: np.ndarray, rss_mb: np.ndarray, total_s: float) -> dict:
    """Memory growth after warm-up (see the module docstring)."""
    from scipy.stats import theilslopes

    warm = min(600.0, 0.25 * total_s)
    keep = t_s >= warm
    t, m = t_s[keep], rss_mb[keep]
    out = {"warmup_s": warm, "rss_points": int(keep.sum())}
    if len(t) < 3 or t[-1] - t[0] <= 0:
        return {**out, "rss_growth_mb": float("nan"), "rss_last_minus_warm_mb": float("nan")}
    step = max(1, len(t) // 1000)  # Theil-Sen is quadratic in the points
    slope = theilslopes(m[::step], t[::step] / 3600.0)[0]
    k = max(1, len(m) // 20)
    return {
        **out,
        "rss_growth_mb": float(slope),
        "rss_last_minus_warm_mb": float(np.median(m[-k:]) - np.median(m[:k])),
    }


def run(
    minutes: float = 60.0,
    channels: int = 16,
    speed: float = 30.0,
    interval: float = 0.05,
    protocol: str = DEFAULT_PROTOCOL,
) -> list[dict]:
    """One row, ``nfb-default``: samples lost, frames, memory growth, wall time and speed."""
    import psutil

    from ..devices import load_profile
    from ..session.live import LiveSession
    from ..session.store import read_session
    from ..stream import DeviceStream

    if minutes <= 0 or channels < 1 or speed <= 0:
        raise ValueError("soak: minutes > 0, channels >= 1 and speed > 0")
    proc = psutil.Process()
    with tempfile.TemporaryDirectory(prefix="nfb-soak-") as tmp:
        tmp = Path(tmp)
        path = tmp / "soak_raw.fif"
        n_file = write_eeg_file(path, minutes, channels)
        profile = load_profile("file", file=str(path))
        profile.connection["speed"] = float(speed)
        proto = load_protocol(protocol, long_script(minutes))
        stream = DeviceStream(profile)
        # built before the file starts playing: the session then attaches within moments
        session = LiveSession(stream, proto, "soak", sessions_dir=tmp / "sessions")
        stream.connect()
        try:
            session.start()
            n0 = stream.n_samples
            t0 = time.perf_counter()
            trace = [(0.0, proc.memory_info().rss)]
            while not session.wait(interval):
                trace.append(((stream.n_samples - n0) / SFREQ, proc.memory_info().rss))
            wall = time.perf_counter() - t0
            trace.append(((stream.n_samples - n0) / SFREQ, proc.memory_info().rss))
            status = session.stop("user")
            dropped = stream.n_dropped
            error = session.error
        finally:
            stream.disconnect()
        if error is not None:
            raise RuntimeError(f"soak: the session failed: {error}")
        rec = read_session(session.path)
        counter = rec.samples[rec.layout["counter_row"]]
        n_rec = int(counter.size)
        first = int(counter[0]) if n_rec else n_file
        delivered = n_file - first
        distinct = int(np.unique(counter).size)
        step = int(rec.meta["frame_rate"] and round(SFREQ / rec.meta["frame_rate"]))
        row = {
            "name": "nfb-default",
            "samples_lost": int(delivered - distinct) + int(dropped),
            "dropped": int(dropped),
            "samples_in": int(delivered),
            "samples_recorded": n_rec,
            "contiguous": bool(np.array_equal(counter, first + np.arange(n_rec))),
            "frames": int(rec.n_frames),
            "frames_expected": n_rec // step,
            "minutes": minutes,
            "channels": channels,
            "session_s": n_rec / SFREQ,
            "wall_s": wall,
            "speed": (n_rec / SFREQ) / wall,
            "speed_setting": float(speed),
            "status": status,
            "file_status": rec.status,
        }
    t_s = np.array([t for t, _ in trace])
    rss = np.array([r for _, r in trace]) / 2**20
    row.update(rss_growth(t_s, rss, row["session_s"]))
    row.update(
        {
            "rss_start_mb": float(rss[0]),
            "rss_end_mb": float(rss[-1]),
            "rss_peak_mb": float(rss.max()),
            "load_avg_1min": float(psutil.getloadavg()[0]),
        }
    )
    return [row]
