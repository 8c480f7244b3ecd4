"""Write realistic session folders through the real :class:`SessionRecorder`, for tests.

The layout is BrainFlow's synthetic board (``BoardShim.get_board_descr(-1)``: 32 rows, EEG rows
1-16, counter row 0, timestamp row 30, marker row 31); the data resemble what that board
streams (a sine per EEG channel growing with the row, plus a modulated 10 Hz alpha, noise and
frontal blinks), delivered in chunks of 5-8 samples like a 25 ms poll. The session follows a
script (baseline eyes open/closed, blocks and rests) with thresholds, markers, a pause, a
dropped-samples report, a disconnection, a carried annotation and inhibited frames.

Usage::

    from sessionfactory import make_session           # tests/ is on sys.path under pytest
    path = make_session(tmp_path, seconds=10)

    truth = generate_session(seconds=10)              # the ground truth, to compare with
    path = write_session(truth, tmp_path)
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from brainflow.board_shim import BoardShim

from nfb.session.format import BASE_FRAME_COLUMNS, write_json_atomic
from nfb.session.recorder import SessionRecorder

#: Default session start: fixed, so that session ids are reproducible.
START = datetime(2024, 5, 17, 9, 30, 0, tzinfo=timezone.utc)
#: The script as fractions of the session: (name, block, label, fraction).
SCRIPT = (
    ("baseline_eyes_open", None, "baseline eyes open", 0.10),
    ("baseline_eyes_closed", None, "baseline eyes closed", 0.10),
    ("block", 1, "block 1", 0.22),
    ("rest", None, "rest 1", 0.06),
    ("block", 2, "block 2", 0.22),
    ("rest", None, "rest 2", 0.06),
    ("block", 3, "block 3", 0.24),
)
BANDS = ("alpha", "beta", "alpha@F4")
INHIBITS = ("amplitude", "emg")


def synthetic_layout(sfreq: float | None = None, board_id: int = -1) -> dict[str, Any]:
    """Return the nfb board layout of a BrainFlow board (default: the synthetic board)."""
    descr = BoardShim.get_board_descr(board_id)
    return {
        "board_id": board_id,
        "sfreq": float(sfreq if sfreq is not None else descr["sampling_rate"]),
        "n_rows": int(descr["num_rows"]),
        "eeg_rows": [int(r) for r in descr["eeg_channels"]],
        "ch_names": descr["eeg_names"].split(","),
        "counter_row": int(descr["package_num_channel"]),
        "counter_modulo": 256,
        "timestamp_row": int(descr["timestamp_channel"]),
        "marker_row": int(descr["marker_channel"]),
        "rail_uv": 187500.0,
    }


def frame_columns(bands=BANDS, inhibits=INHIBITS) -> list[tuple[str, str]]:
    """Return the frame columns of a session with these bands and inhibits."""
    cols = list(BASE_FRAME_COLUMNS)
    cols += [(f"inhibit_{kind}", "?") for kind in inhibits]
    cols += [(band, "f8") for band in bands]
    return cols


@dataclass
class SyntheticSession:
    """The ground truth of a generated session."""

    layout: dict[str, Any]
    meta: dict[str, Any]
    protocol_name: str
    start: datetime
    samples: np.ndarray  # (n_rows, n) float64, µV for EEG rows
    chunks: list[tuple[int, int, float]]  # (first sample, stop, fetch_time)
    frame_columns: list[tuple[str, str]]
    frames: np.ndarray  # (n_frames, n_columns) float64, booleans as 0/1
    events: list[dict[str, Any]]  # sorted by sample_index
    meta_updates: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    status: str = "complete"

    @property
    def sfreq(self) -> float:
        return float(self.layout["sfreq"])

    @property
    def n_samples(self) -> int:
        return self.samples.shape[1]

    @property
    def fetch_time(self) -> np.ndarray:
        """Fetch time of every sample, shape (n,)."""
        out = np.empty(self.n_samples)
        for first, stop, fetch in self.chunks:
            out[first:stop] = fetch
        return out

    def frames_until(self, n_samples: int) -> np.ndarray:
        """Frames whose newest sample is among the first ``n_samples``."""
        return self.frames[self.frames[:, 0] < n_samples]

    def feed(
        self,
        recorder: SessionRecorder,
        on_chunk: Callable[[int], None] | None = None,
    ) -> None:
        """Append everything to ``recorder`` in acquisition order, chunk by chunk.

        After each chunk: the chunk's frames, then the events (and meta updates) whose
        sample index falls in it; ``on_chunk(stop)`` is then called (e.g. to pace or report).
        Events and updates at or after the last sample come after the last chunk.
        """
        fi = ei = ui = 0
        index = self.frames[:, 0]
        for k, (_, stop, fetch) in enumerate(self.chunks):
            recorder.append_samples(self.samples[:, self.chunks[k][0] : stop], fetch)
            fj = int(np.searchsorted(index, stop))
            if fj > fi:
                recorder.append_frames(self.frames[fi:fj])
                fi = fj
            last = k == len(self.chunks) - 1
            while ei < len(self.events) and (last or self.events[ei]["sample_index"] < stop):
                recorder.append_event(self.events[ei])
                ei += 1
            while ui < len(self.meta_updates) and (last or self.meta_updates[ui][0] < stop):
                recorder.update_meta(**self.meta_updates[ui][1])
                ui += 1
            if on_chunk is not None:
                on_chunk(stop)


def generate_session(
    *,
    seconds: float = 20,
    sfreq: float = 250,
    seed: int = 0,
    protocol_name: str = "Alpha up",
    start: datetime | None = None,
    frame_step: int = 5,
    status: str = "complete",
    bands=BANDS,
    inhibits=INHIBITS,
) -> SyntheticSession:
    """Generate the ground truth of a realistic session (no I/O).

    Parameters
    ----------
    seconds, sfreq : float
        Duration and sampling frequency (the synthetic board's layout otherwise).
    seed : int
        Random seed: the same arguments give the same session.
    protocol_name : str
        The protocol name (session id slug).
    start : datetime | None
        Session start; default :data:`START`.
    frame_step : int
        A frame every ``frame_step`` samples.
    status : str
        Final status given to ``close``; ``"stopped"`` adds a ``stop`` event.
    bands, inhibits : tuple of str
        Band value columns and ``inhibit_<kind>`` columns.
    """
    rng = np.random.default_rng(seed)
    start = start or START
    start_unix = start.timestamp()
    layout = synthetic_layout(sfreq)
    n = round(seconds * sfreq)
    t = np.arange(n) / sfreq

    # --- samples, resembling BrainFlow's synthetic board
    samples = rng.uniform(0.8, 1.0, size=(layout["n_rows"], n))
    samples[layout["counter_row"]] = np.arange(n) % layout["counter_modulo"]
    samples[layout["timestamp_row"]] = start_unix + t + rng.uniform(0, 1e-4, n)
    samples[layout["marker_row"]] = 0.0
    alpha_amp = 15.0 * (1.0 + 0.5 * np.sin(2 * np.pi * 0.1 * t))
    alpha = alpha_amp * np.sin(2 * np.pi * 10.0 * t)
    for j, row in enumerate(layout["eeg_rows"]):
        amp = 10.0 * (j + 1) * math.sqrt(2)
        freq = 1.0 + 2.5 * j
        samples[row] = (
            amp * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
            + alpha
            + rng.normal(0, 2.0, n)
        )
    blink_centres = [int(n * f) for f in (0.33, 0.62, 0.9)]
    blink = 250.0 * np.exp(
        -0.5 * ((np.arange(n)[None, :] - np.array(blink_centres)[:, None]) / (0.06 * sfreq)) ** 2
    ).sum(axis=0)
    for row, name in zip(layout["eeg_rows"], layout["ch_names"], strict=True):
        if name.startswith("F"):
            samples[row] += blink

    # --- chunks of 5-8 samples, fetched 2-5 ms after their last sample
    chunks = []
    first = 0
    while first < n:
        stop = min(n, first + int(rng.integers(5, 9)))
        chunks.append((first, stop, start_unix + stop / sfreq + rng.uniform(0.002, 0.005)))
        first = stop
    fetch = np.empty(n)
    for first, stop, f in chunks:
        fetch[first:stop] = f

    # --- script
    bounds = [0]
    for *_, frac in SCRIPT:
        bounds.append(min(n, round(bounds[-1] + frac * n)))
    bounds[-1] = n
    steps = [(i, *SCRIPT[i][:3], bounds[i], bounds[i + 1]) for i in range(len(SCRIPT))]

    def step_of(s: int) -> int:
        return int(np.searchsorted(bounds, s, side="right") - 1)

    # --- frames
    cols = frame_columns(bands, inhibits)
    index = np.arange(frame_step - 1, n, frame_step)
    nf = index.size
    ft = index / sfreq
    band_values = {
        "alpha": alpha_amp[index] + rng.normal(0, 1.0, nf),
        "beta": 10.0 + rng.normal(0, 0.5, nf),
        "alpha@F4": 0.9 * alpha_amp[index] + rng.normal(0, 1.0, nf),
    }
    for band in bands:
        band_values.setdefault(band, rng.gamma(4.0, 3.0, nf))
    value = band_values["alpha"] / band_values["beta"]
    step_col = np.array([step_of(int(s)) for s in index])
    inhib = {}
    if "amplitude" in inhibits:
        near = np.abs(index[:, None] - np.array(blink_centres)[None, :]) < 0.15 * sfreq
        inhib["amplitude"] = near.any(axis=1)
    if "emg" in inhibits:
        emg = np.zeros(nf, bool)
        for f0 in rng.integers(0, max(nf - 10, 1), 3):
            emg[f0 : f0 + int(rng.integers(2, 8))] = True
        inhib["emg"] = emg
    for kind in inhibits:
        inhib.setdefault(kind, np.zeros(nf, bool))
    inhibited = np.zeros(nf, bool)
    for mask in inhib.values():
        inhibited |= mask

    events: list[dict[str, Any]] = []
    updates: list[tuple[int, dict[str, Any]]] = []
    threshold = np.full(nf, np.nan)
    in_baseline = step_col < 2
    eo = value[step_col == 0]
    base_thr = float(np.mean(eo)) if eo.size else 1.0
    current = base_thr
    thr_changes = []
    for _, name, block, _, b0, b1 in steps:
        if name != "block":
            continue
        if block == 1:
            thr_changes.append((b0, base_thr, "baseline"))
        elif block == 3:
            thr_changes.append((b0, round(base_thr * 1.1, 6), "manual"))
        for s in range(b0 + int(2 * sfreq), b1, int(2 * sfreq)):
            thr_changes.append((s, None, "auto"))
    for s, val, source in thr_changes:
        if val is None:
            recent = value[(index < s) & (index >= s - 2 * sfreq)]
            val = float(np.quantile(recent, 0.35)) if recent.size else current
        current = val
        threshold[index >= s] = current
        events.append(
            {"sample_index": int(s), "kind": "threshold", "value": current, "source": source}
        )
    threshold[in_baseline] = np.nan
    in_block = np.array([SCRIPT[s][0] == "block" for s in step_col])
    reward = in_block & ~inhibited & np.isfinite(threshold) & (value > np.nan_to_num(threshold))

    frames = np.column_stack(
        [index, ft, fetch[index], value, threshold, reward, inhibited, step_col]
        + [inhib[k] for k in inhibits]
        + [band_values[b] for b in bands]
    ).astype(np.float64)

    # --- events
    for i, name, block, label, b0, b1 in steps:
        common = {"step": i, "name": name, "block": block, "label": label}
        events.append({"sample_index": b0, "kind": "step_start", **common})
        events.append({"sample_index": b1, "kind": "step_end", **common})
        if name == "block":
            sel = (index >= b0) & (index < b1)
            blocks = [u for u in updates if "blocks" in u[1]]
            previous = blocks[-1][1]["blocks"] if blocks else []
            entry = {
                "index": block,
                "start_sample": b0,
                "end_sample": b1,
                "reward_rate": float(reward[sel].mean()) if sel.any() else 0.0,
                "mean_value": float(value[sel].mean()) if sel.any() else float("nan"),
            }
            updates.append((b1, {"blocks": [*previous, entry]}))
        if name == "baseline_eyes_closed":
            stats = {
                "eyes_open": {"mean": float(eo.mean()), "std": float(eo.std())},
                "eyes_closed": {
                    "mean": float(value[step_col == 1].mean()),
                    "std": float(value[step_col == 1].std()),
                },
            }
            events.append({"sample_index": b1, "kind": "baseline_stats", **stats})
            updates.append((b1, {"baseline": stats}))
    for frac, label, note, code in (
        (0.3, "eyes", "client blinked", 1.0),
        (0.7, "note", "client reports calm", 2.0),
    ):
        s = int(n * frac)
        samples[layout["marker_row"], s] = code
        events.append({"sample_index": s, "kind": "marker", "label": label, "note": note})
    events.append({"sample_index": int(n * 0.45), "kind": "pause"})
    events.append({"sample_index": int(n * 0.50), "kind": "resume"})
    events.append({"sample_index": int(n * 0.55), "kind": "dropped", "count": 3})
    events.append({"sample_index": int(n * 0.80), "kind": "disconnected"})
    events.append({"sample_index": int(n * 0.82), "kind": "reconnected"})
    events.append(
        {
            "sample_index": int(n * 0.05),
            "kind": "annotation",
            "onset_s": round(0.05 * n / sfreq, 3),
            "duration_s": 0.4,
            "description": "source/eyes_open",
        }
    )
    if status == "stopped":
        events.append({"sample_index": n - 1, "kind": "stop", "reason": "user"})
    order = sorted(range(len(events)), key=lambda k: events[k]["sample_index"])
    events = [events[k] for k in order]
    updates.sort(key=lambda u: u[0])

    meta = {
        "device": {"name": "synthetic", "board_id": layout["board_id"], "serial_port": ""},
        "layout": layout,
        "channel_map": {},
        "protocol": {
            "name": protocol_name,
            "feature": "alpha / beta",
            "direction": "up",
            "bands": {"alpha": [8, 12], "beta": [15, 20]},
        },
        "source": {"kind": "live"},
    }
    return SyntheticSession(
        layout=layout,
        meta=meta,
        protocol_name=protocol_name,
        start=start,
        samples=samples,
        chunks=chunks,
        frame_columns=cols,
        frames=frames,
        events=events,
        meta_updates=updates,
        status=status,
    )


def open_recorder(
    truth: SyntheticSession,
    sessions_dir: str | os.PathLike,
    *,
    client: str = "client-01",
    threaded: bool = True,
) -> SessionRecorder:
    """Create the recorder of ``truth`` (nothing appended yet)."""
    return SessionRecorder.create(
        sessions_dir,
        client,
        truth.protocol_name,
        truth.meta,
        frame_columns=truth.frame_columns,
        start=truth.start,
        threaded=threaded,
    )


def write_session(
    truth: SyntheticSession,
    sessions_dir: str | os.PathLike,
    *,
    client: str = "client-01",
    threaded: bool = True,
    interrupted: bool = False,
) -> Path:
    """Record ``truth`` into a new session folder and return its path.

    ``interrupted=True`` then makes it look like its recorder was killed mid-write:
    ``session.json`` says ``"recording"`` and each data file ends with a partial record.
    """
    rec = open_recorder(truth, sessions_dir, client=client, threaded=threaded)
    try:
        truth.feed(rec)
    except BaseException:
        rec.close("failed")
        raise
    rec.close(truth.status)
    if interrupted:
        meta = json.loads((rec.path / "session.json").read_text())
        meta.update(status="recording", end_time=None, end_unix=None, n_samples=0, n_frames=0)
        write_json_atomic(rec.path / "session.json", meta)
        with open(rec.path / "raw.f64", "ab") as f:
            f.write(b"\x01" * 100)
        with open(rec.path / "frames.f64", "ab") as f:
            f.write(b"\x02" * 13)
        with open(rec.path / "events.jsonl", "ab") as f:
            f.write(b'{"sample_index": 12, "ki')
    return rec.path


def make_session(
    sessions_dir: str | os.PathLike,
    *,
    seconds: float = 20,
    sfreq: float = 250,
    client: str = "client-01",
    protocol_name: str = "Alpha up",
    seed: int = 0,
    start: datetime | None = None,
    status: str = "complete",
    threaded: bool = True,
    interrupted: bool = False,
    frame_step: int = 5,
) -> Path:
    """Write a realistic session folder through :class:`SessionRecorder`; return its path.

    See :func:`generate_session` for the content and :func:`write_session` for
    ``interrupted``. The same arguments give the same data (the folder name gets ``-2``...
    when written twice into the same store).
    """
    truth = generate_session(
        seconds=seconds,
        sfreq=sfreq,
        seed=seed,
        protocol_name=protocol_name,
        start=start,
        frame_step=frame_step,
        status=status,
    )
    return write_session(
        truth, sessions_dir, client=client, threaded=threaded, interrupted=interrupted
    )
