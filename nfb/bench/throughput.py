"""``nfb bench throughput``: how much faster than real time nfb and the peers score a recording.

nfb: the replay path of ``nfb replay`` without the raw recording: a :class:`SessionRunner` on
the default protocol (``alpha-beta-up``: alpha/beta at Pz, a frame every 16 ms = 4 samples at
250 Hz, notch, band-pass, inhibits, auto threshold), fed 60 s chunks of all channels' rows
(the board layout's EEG rows picked from each chunk, as replay does); the frame rows are
collected in memory. Past 24.5 minutes the script gets more blocks, so every sample is scored.

The peers do what a user of theirs would, on the same data and channels, at their 10 Hz
update: BrainFlow ``DataFilter.get_avg_band_powers`` and MNE ``psd_array_welch`` (then the
protocol's alpha and beta band sums and their ratio) on the 1 s window ending every 100 ms.
By default they see all channels, like nfb's input; the ``-1ch`` rows give them only the
trained electrode (Pz), the least work a peer can do for the same feedback.

Each figure is the best of ``repeats`` runs (``time.perf_counter``); the real-time factor is
the signal's duration over that wall time. nfb's wall time includes building the runner
(filter and FIR design, reported alone as ``setup_s``), as a re-score pays it.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from ..protocol import load_protocol
from ..session.runner import SessionRunner
from ..sources import file_layout
from .signals import SYNTHETIC_CHANNELS, eeg_signal

SFREQ = 250.0
#: The protocol a practitioner starts with (first in the console's list, the README's demo).
DEFAULT_PROTOCOL = "alpha-beta-up"
CHUNK_S = 60.0  # what `nfb replay` feeds at a time
WINDOW_S = 1.0
EVERY_S = 0.1


def channel_names(n_channels: int) -> tuple[str, ...]:
    """Labels of the benchmark's channels (the synthetic board's, then ``EEGk``)."""
    names = list(SYNTHETIC_CHANNELS[:n_channels])
    names += [f"EEG{k + 1}" for k in range(len(names), n_channels)]
    return tuple(names)


def long_script(minutes: float) -> list[str]:
    """``--set`` overrides that make the default script (2 + 2 min baselines, 3 min blocks,
    0.5 min rests: 24.5 min) outlast ``minutes``, with more blocks; none if it already does."""
    if minutes + 1.0 <= 24.5:
        return []
    blocks = math.ceil((minutes + 1.0) / 3.5)
    if blocks > 100:
        raise ValueError(f"{minutes:g} minutes: at most {100 * 3.5 - 1:g} (100 blocks)")
    return [f"script.blocks={blocks}"]


def _best(fn, repeats: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        got = fn()
        t = time.perf_counter() - t0
        if t < best:
            best, out = t, got
    return best, out


def nfb_replay(data: np.ndarray, layout, protocol) -> tuple[int, int]:
    """Build a runner and feed it ``data`` (layout rows × n) in replay's chunks.

    Returns (frames, events, seconds spent building the runner)."""
    frames: list[np.ndarray] = []
    events: list[dict] = []
    t0 = time.perf_counter()
    runner = SessionRunner(protocol, layout, on_frames=frames.append, on_event=events.append)
    setup = time.perf_counter() - t0
    eeg_rows = list(layout.eeg_rows)
    n = data.shape[1]
    chunk = int(CHUNK_S * layout.sfreq)
    fetch = np.full(n, np.nan)  # a file's fetch times are unknown
    for start in range(0, n, chunk):
        runner.feed(data[:, start : start + chunk][eeg_rows], fetch[start : start + chunk])
        if runner.finished:
            break
    runner.finish("end_of_recording")
    return sum(len(f) for f in frames), len(events), setup


def window_ends(n: int, sfreq: float = SFREQ) -> np.ndarray:
    """End sample (exclusive) of each 1 s window, one every 100 ms."""
    w, hop = int(WINDOW_S * sfreq), int(EVERY_S * sfreq)
    return np.arange(w, n + 1, hop)


def brainflow_updates(eeg: np.ndarray, sfreq: float = SFREQ) -> int:
    """BrainFlow's band powers on every window (as lag's peer: ``apply_filter=True``)."""
    from brainflow.data_filter import DataFilter

    w = int(WINDOW_S * sfreq)
    channels = list(range(eeg.shape[0]))
    ends = window_ends(eeg.shape[1], sfreq)
    ratio = np.empty(len(ends))
    for i, e in enumerate(ends):
        avg, _std = DataFilter.get_avg_band_powers(
            np.ascontiguousarray(eeg[:, e - w : e]), channels, int(sfreq), True
        )
        ratio[i] = avg[2] / avg[3]  # alpha / beta
    return len(ratio)


def mne_updates(eeg: np.ndarray, bands: dict, sfreq: float = SFREQ) -> int:
    """MNE's Welch PSD on every window, then the protocol's band amplitudes and their ratio."""
    from mne.time_frequency import psd_array_welch

    w = int(WINDOW_S * sfreq)
    (alo, ahi), (blo, bhi) = bands["alpha"], bands["beta"]
    ends = window_ends(eeg.shape[1], sfreq)
    ratio = np.empty(len(ends))
    for i, e in enumerate(ends):
        psd, freqs = psd_array_welch(
            eeg[:, e - w : e], sfreq, fmin=1.0, fmax=45.0, n_fft=w, verbose="error"
        )
        power = psd.mean(axis=0)  # averaged over channels, like BrainFlow's
        alpha = power[(freqs >= alo) & (freqs <= ahi)].sum()
        beta = power[(freqs >= blo) & (freqs <= bhi)].sum()
        ratio[i] = np.sqrt(alpha / beta)
    return len(ratio)


def run(
    minutes: float = 10.0,
    channels: int = 16,
    repeats: int = 3,
    protocol: str = DEFAULT_PROTOCOL,
    peers: bool = True,
) -> list[dict]:
    """Rows: ``nfb-default`` (with the ratios), then ``brainflow``, ``mne`` and their ``-1ch``."""
    if minutes <= 0 or channels < 1 or repeats < 1:
        raise ValueError("throughput: minutes > 0, channels >= 1 and repeats >= 1")
    names = channel_names(channels)
    layout = file_layout(SFREQ, names)
    eeg = eeg_signal(minutes * 60.0, channels, SFREQ, seed=0)
    n = eeg.shape[1]
    data = np.zeros((layout.n_rows, n))
    data[layout.counter_row] = np.arange(n)
    data[list(layout.eeg_rows)] = eeg
    data[layout.timestamp_row] = np.arange(n) / SFREQ
    proto = load_protocol(protocol, long_script(minutes))
    seconds = n / SFREQ
    # the runner as used, for the bands and the trained electrode
    probe = SessionRunner(proto, layout)
    bands = probe.bands
    trained = [i for i, _w in probe.pipeline.derivations[0].terms]
    wall, (frames, n_events, setup) = _best(lambda: nfb_replay(data, layout, proto), repeats)
    if frames != n // probe.step_samples:  # the script ended early: the figure would lie
        raise RuntimeError(f"throughput: {frames} frames for {n} samples")
    rows = [
        {
            "name": "nfb-default",
            "realtime_factor": seconds / wall,
            "wall_s": wall,
            "setup_s": setup,
            "protocol": proto.slug,
            "estimator": proto.data["feedback"]["estimator"],
            "step_samples": probe.step_samples,
            "seconds": seconds,
            "channels": channels,
            "sfreq": SFREQ,
            "samples": n,
            "frames": frames,
            "events": n_events,
            "chunk_s": CHUNK_S,
            "repeats": repeats,
            "load_avg_1min": os.getloadavg()[0],
        }
    ]
    if not peers:
        return rows
    peer_rows = []
    for label, picks in (("", list(range(channels))), ("-1ch", trained)):
        sub = np.ascontiguousarray(eeg[picks])
        used = [names[i] for i in picks]
        for name, fn in (
            ("brainflow", lambda s=sub: brainflow_updates(s)),
            ("mne", lambda s=sub: mne_updates(s, bands)),
        ):
            t, updates = _best(fn, repeats)
            peer_rows.append(
                {
                    "name": name + label,
                    "realtime_factor": seconds / t,
                    "wall_s": t,
                    "seconds": seconds,
                    "channels": len(picks),
                    "channel_names": used,
                    "updates": updates,
                    "window_s": WINDOW_S,
                    "every_s": EVERY_S,
                    "repeats": repeats,
                }
            )
    by_name = {r["name"]: r for r in peer_rows}
    for peer in ("brainflow", "mne", "brainflow-1ch", "mne-1ch"):
        key = "ratio_vs_" + peer.replace("-", "_")
        rows[0][key] = rows[0]["realtime_factor"] / by_name[peer]["realtime_factor"]
    return rows + peer_rows
