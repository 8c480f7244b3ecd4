"""Sham blocks: training blocks whose feedback is yoked to another recording.

A sham (placebo) block shows the client the feedback another person received in a real
block — value, threshold, reward and inhibit, frame by frame — while the client's own EEG is
still measured and recorded. It is the standard control for neurofeedback studies: the
client (and, with ``count``, the practitioner) cannot tell which blocks were real.

The protocol names the sham blocks (``[sham] blocks = [2, 4]``) or how many to draw at random
when the session starts (``[sham] count = 2``). The yoked feedback comes from a recorded
session (``--sham-source``, or the most recent complete session of the same protocol by
another client). It is copied into the new session folder (``yoked.f64``) with the blinding
(``session.json["blinding"]``), so a replay never depends on the source still existing.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import fs
from .._logging import logger
from ..errors import ConfigError, SessionError
from ..protocol import Protocol

#: File in the session folder holding the yoked feedback, float64 rows of these columns.
YOKED_FILE = "yoked.f64"
YOKED_COLUMNS = ("block", "value", "threshold", "reward", "inhibited")
#: Frame columns a sham session adds: whether the frame was sham, and the client's own
#: feedback (in real blocks equal to the delivered one).
SHAM_FRAME_COLUMNS: tuple[tuple[str, str], ...] = (
    ("sham", "?"),
    ("own_value", "f8"),
    ("own_threshold", "f8"),
    ("own_reward", "?"),
    ("own_inhibited", "?"),
)


@dataclass(frozen=True)
class YokedFeedback:
    """The feedback of another recording's real blocks, to replay in sham blocks.

    Parameters
    ----------
    blocks : dict of int to ndarray
        Per source block number, a (n_frames, 4) array of value, threshold, reward, inhibited.
    frame_rate : float
        Frame rate of the source recording.
    source : dict
        What the feedback came from (``session_id``, ``client``).
    """

    blocks: dict[int, np.ndarray]
    frame_rate: float
    source: dict[str, Any]

    def frame(self, block: int, j: int, frame_rate: float) -> tuple[float, float, bool, bool]:
        """The feedback for frame ``j`` (counted from 0, pauses excluded) of sham ``block``.

        The source block of the same number is used when the source has it, else the source's
        blocks in turn; frames are matched by time into the block and wrap around.
        """
        keys = sorted(self.blocks)
        arr = (
            self.blocks[block]
            if block in self.blocks
            else self.blocks[keys[(block - 1) % len(keys)]]
        )
        k = int(j * self.frame_rate / frame_rate) % len(arr)
        value, threshold, reward, inhibited = arr[k]
        return float(value), float(threshold), bool(reward), bool(inhibited)

    # --- persistence -----------------------------------------------------------------------
    def to_records(self) -> np.ndarray:
        rows = [
            np.column_stack([np.full(len(a), float(b)), a]) for b, a in sorted(self.blocks.items())
        ]
        return np.ascontiguousarray(np.vstack(rows), dtype="<f8")

    def write(self, folder: str | os.PathLike) -> dict[str, Any]:
        """Write ``yoked.f64`` (0600) into ``folder``; return its description for the meta."""
        path = Path(folder) / YOKED_FILE
        fs.write_new(path, self.to_records().tobytes(), durable=True)
        return {"file": YOKED_FILE, "columns": list(YOKED_COLUMNS), "frame_rate": self.frame_rate}

    @classmethod
    def read(cls, folder: str | os.PathLike, blinding: dict[str, Any]) -> YokedFeedback:
        """Read the yoked feedback a sham session recorded."""
        folder = Path(folder)
        desc = blinding.get("yoked") or {}
        path = folder / str(desc.get("file", YOKED_FILE))
        if path.name != YOKED_FILE or not os.path.lexists(path):
            raise SessionError(f"{folder}: a sham session without its {YOKED_FILE}")
        try:
            with fs.opened(path) as fd:
                raw = fs.read_fd(fd, os.fstat(fd).st_size, path, cap=False)
        except OSError as err:
            raise SessionError(f"{path} is refused: {err.strerror or err}") from None
        data = np.frombuffer(raw, dtype="<f8", count=len(raw) // 8)
        n_cols = len(YOKED_COLUMNS)
        if data.size == 0 or data.size % n_cols:
            raise SessionError(f"{path} is truncated or corrupted")
        rows = data.reshape(-1, n_cols)
        blocks = {int(b): rows[rows[:, 0] == b, 1:] for b in np.unique(rows[:, 0])}
        try:
            rate = float(desc["frame_rate"])
        except (KeyError, TypeError, ValueError):
            raise SessionError(f"{folder}/session.json: blinding.yoked has no frame_rate") from None
        return cls(blocks, rate, dict(blinding.get("source") or {}))

    @classmethod
    def from_session(cls, path: str | os.PathLike) -> YokedFeedback:
        """The feedback delivered in the real (not sham) blocks of a recorded session."""
        from .store import read_session

        rec = read_session(path)
        frames = rec.frames
        blinding = rec.meta.get("blinding") or {}
        skip = set(blinding.get("sham_blocks") or [])
        steps = {
            e["step"]: e["block"]
            for e in rec.events
            if e.get("kind") == "step_start" and e.get("name") == "block"
        }
        paused = _paused_mask(frames["sample_index"], rec.events)
        blocks = {}
        for step, block in steps.items():
            if block in skip:
                continue
            sel = (frames["step"] == step) & ~paused
            if sel.sum() == 0:
                continue
            blocks[int(block)] = np.column_stack(
                [
                    frames["value"][sel],
                    frames["threshold"][sel],
                    frames["reward"][sel].astype(float),
                    frames["inhibited"][sel].astype(float),
                ]
            )
        if not blocks:
            raise SessionError(f"{rec.path}: no training block with frames to yoke feedback from")
        source = {"session_id": rec.meta.get("session_id"), "client": rec.meta.get("client")}
        return cls(blocks, float(rec.meta.get("frame_rate") or 0.0) or _rate(frames), source)


def _rate(frames: np.ndarray) -> float:
    t = frames["time_s"]
    return float(1.0 / np.median(np.diff(t))) if len(t) > 1 else 1.0


def _paused_mask(sample_index: np.ndarray, events: list[dict]) -> np.ndarray:
    mask = np.zeros(len(sample_index), bool)
    start = None
    for e in events:
        if e.get("kind") == "pause" and start is None:
            start = e["sample_index"]
        elif e.get("kind") == "resume" and start is not None:
            # a command applies before the frame at its index: [pause, resume) is paused
            mask |= (sample_index >= start) & (sample_index < e["sample_index"])
            start = None
    if start is not None:
        mask |= sample_index >= start
    return mask


@dataclass(frozen=True)
class ShamPlan:
    """Which blocks are sham, and the feedback they show.

    Attributes
    ----------
    blocks : tuple of int
        Sham block numbers (1-based).
    yoked : YokedFeedback
        The feedback shown in them.
    """

    blocks: tuple[int, ...]
    yoked: YokedFeedback

    def blinding(self) -> dict[str, Any]:
        """What ``session.json["blinding"]`` records (without the yoked file description)."""
        return {"sham_blocks": list(self.blocks), "source": dict(self.yoked.source)}

    def record(self, folder: str | os.PathLike) -> dict[str, Any]:
        """Write the yoked feedback into ``folder``; return the full ``blinding`` entry."""
        return {**self.blinding(), "yoked": self.yoked.write(folder)}

    @classmethod
    def from_session(cls, path: str | os.PathLike, meta: dict[str, Any]) -> ShamPlan | None:
        """The plan a recorded session used (``None`` if it had no sham blocks)."""
        blinding = meta.get("blinding")
        if not isinstance(blinding, dict) or not blinding.get("sham_blocks"):
            return None
        blocks = blinding["sham_blocks"]
        if not all(isinstance(b, int) and b >= 1 for b in blocks):
            raise SessionError(f"{path}/session.json: blinding.sham_blocks must be block numbers")
        return cls(tuple(blocks), YokedFeedback.read(path, blinding))


def choose_sham_blocks(
    protocol: Protocol, rng: np.random.Generator | None = None
) -> tuple[int, ...]:
    """The sham blocks of a protocol: as listed, or ``count`` drawn at random.

    The draw uses the operating system's entropy unless ``rng`` is given, so nobody can
    predict it from the protocol; it is recorded (blinded) in the session.
    """
    sham = protocol.data.get("sham") or {}
    if sham.get("blocks"):
        return tuple(sorted(sham["blocks"]))
    count = int(sham.get("count") or 0)
    if not count:
        return ()
    rng = rng if rng is not None else np.random.default_rng(secrets.randbits(64))
    n_blocks = protocol.data["script"]["blocks"]
    return tuple(
        sorted(int(b) for b in rng.choice(np.arange(1, n_blocks + 1), count, replace=False))
    )


def find_sham_source(
    protocol: Protocol, client: str, sessions_dir: str | os.PathLike | None = None
) -> Path:
    """The most recent complete session of ``protocol`` by another client, to yoke from."""
    from .store import list_sessions, load_meta

    candidates = []
    for s in list_sessions(sessions_dir):
        if s["client"] == client or s["status"] != "complete":
            continue
        meta = load_meta(s["path"])
        if meta.get("protocol_slug") == protocol.slug and meta.get("blocks"):
            candidates.append(s["path"])
    if not candidates:
        raise ConfigError(
            f"protocol {protocol.slug} has sham blocks but the session store has no complete "
            f"{protocol.slug} session of another client to yoke from; pass --sham-source SESSION"
        )
    return candidates[-1]


def plan_sham(
    protocol: Protocol,
    *,
    client: str,
    source: str | os.PathLike | None = None,
    sessions_dir: str | os.PathLike | None = None,
    rng: np.random.Generator | None = None,
) -> ShamPlan | None:
    """Prepare the sham blocks of a new session (``None`` if the protocol has none).

    Parameters
    ----------
    protocol : Protocol
        The protocol as used.
    client : str
        The client being trained (never yoked to themselves).
    source : path-like | None
        The session to yoke from; default :func:`find_sham_source`.
    sessions_dir : path-like | None
        The session store searched when ``source`` is ``None``.
    rng : numpy.random.Generator | None
        For ``count``: the random draw (default: the system's entropy).
    """
    if not protocol.has_sham:
        if source is not None:
            raise ConfigError(
                f"--sham-source: protocol {protocol.slug} has no sham blocks "
                "(set sham.blocks or sham.count)"
            )
        return None
    blocks = choose_sham_blocks(protocol, rng)
    path = Path(source) if source is not None else find_sham_source(protocol, client, sessions_dir)
    try:
        yoked = YokedFeedback.from_session(path)
    except SessionError as err:
        raise ConfigError(f"--sham-source: {err}") from None
    if yoked.source.get("client") == client:
        raise ConfigError(f"--sham-source {path}: a client cannot be yoked to their own session")
    logger.info("sham feedback yoked to %s (blinded)", yoked.source.get("session_id"))
    return ShamPlan(blocks, yoked)
