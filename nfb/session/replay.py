"""Offline replay: run recorded samples through a protocol as fast as the machine allows.

The source is a session folder, an EEG file MNE reads (EDF, BDF, FIF, BrainVision...) or a
BrainFlow CSV. With the session's own protocol the replayed frames equal the recorded ones
bit for bit: the pipeline is chunk-invariant, and every user command (pause, skip, stop,
markers, manual thresholds) is re-applied at the sample index at which it was recorded.

The gap records (:class:`~nfb.session.format.Gap`: outages and losses) are re-applied like
commands, so the replay's ``time_s``, its settling after each gap and its gap records equal
the recording's; a re-scoring with another protocol (another frame grid) applies each at
its ``at`` (before the new grid's first frame from there), and records it there. The
recording's ``dropped`` and disconnection events are carried over as they are.

A session's extra streams (motion, PPG) are copied into the replay as recorded, and each
chunk is fed to the runner before the EEG chunk whose frames may see it (by its
``eeg_index``, see :mod:`nfb.dsp.motion`), so a motion inhibit replays exactly.
"""

from __future__ import annotations

import math
import os
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._logging import logger
from ..errors import ConfigError, SessionError
from ..protocol import Protocol, apply_overrides, load_protocol, validate
from ..sources import BoardLayout, read_brainflow_file, read_eeg_file
from .clients import validate_client
from .format import GAP_EVENT
from .recorder import SessionRecorder
from .runner import SessionRunner
from .sham import ShamPlan, plan_sham
from .store import read_session

#: Recorded events that are facts about the recording, copied into a replay as they are.
CARRIED_KINDS = ("dropped", "disconnected", "reconnecting", "reconnected", "annotation")
#: session.json fields about the session itself (not its scoring), copied into a replay.
CARRIED_META = ("notes", "ratings")
#: Commands that still make sense when the protocol (hence the script) is different.
RESCORE_COMMANDS = ("pause", "resume", "stop", "marker", "gap")


@dataclass
class ReplaySource:
    """Samples to replay and what is known about them."""

    path: Path
    kind: str  # "session", "eeg" or "brainflow"
    samples: np.ndarray  # (n_rows, n)
    fetch_time: np.ndarray  # (n,), NaN where unknown
    layout: BoardLayout
    events: list[dict]
    meta: dict
    start_unix: float | None
    #: a session's extra streams (:class:`~nfb.session.reader.RecordedStream`) by name
    streams: dict = field(default_factory=dict)


def open_replay_source(path, *, device: str | None = None) -> ReplaySource:
    """Read what ``nfb replay`` can replay.

    Parameters
    ----------
    path : path-like
        A session folder, an MNE-readable EEG file or a BrainFlow CSV (``.csv``).
    device : str | None
        Device profile of a BrainFlow CSV (its row layout); default ``synthetic``.
    """
    path = Path(path).expanduser().resolve()
    if not path.exists():
        raise SessionError(f"{path} does not exist")
    if path.is_dir():
        rec = read_session(path)
        events = rec.events
        try:
            layout = BoardLayout.from_dict(rec.meta["layout"])
        except (KeyError, TypeError, ValueError) as err:
            raise SessionError(f"{path}/session.json: bad layout ({err})") from None
        return ReplaySource(
            path,
            "session",
            rec.samples,
            rec.fetch_time,
            layout,
            events,
            rec.meta,
            rec.meta.get("start_unix"),
            rec.streams,
        )
    if path.suffix.lower() == ".csv":
        from ..devices import load_profile

        profile = load_profile(device or "synthetic")
        if profile.board_id is None:
            raise ConfigError(f"--device {profile.name}: a BrainFlow CSV needs a BrainFlow board")
        eeg = read_brainflow_file(
            path, profile.board_id, profile.channels or None, profile.channel_types or None
        )
        kind, meta = "brainflow", {"device": profile.to_dict()}
    else:
        eeg = read_eeg_file(path)
        kind, meta = "eeg", {"device": {"name": "file", "file": str(path)}}
    n = eeg.data.shape[1]
    sfreq = eeg.layout.sfreq
    start = eeg.meas_date.timestamp() if eeg.meas_date is not None else None
    events = [
        {
            "sample_index": round(onset * sfreq),
            "kind": "annotation",
            "onset_s": onset,
            "duration_s": duration,
            "description": desc,
        }
        for onset, duration, desc in eeg.annotations
    ]
    return ReplaySource(path, kind, eeg.data, np.full(n, np.nan), eeg.layout, events, meta, start)


def resolve_protocol(
    src: ReplaySource, protocol: str | None, overrides: list[str]
) -> tuple[Protocol, bool]:
    """The protocol to replay with, and whether it is the session's own (unchanged)."""
    if protocol is not None:
        return load_protocol(protocol, overrides), False
    if src.kind != "session":
        raise ConfigError(f"{src.path}: a file has no protocol of its own; pass --protocol")
    data = src.meta.get("protocol")
    if not isinstance(data, dict):
        raise SessionError(f"{src.path}: session.json has no protocol to replay")
    slug = src.meta.get("protocol_slug", "protocol")
    own = validate(data, src=f"{src.path}/session.json: protocol")
    if overrides:
        return Protocol(validate(apply_overrides(own, overrides), "--set"), None, slug), False
    return Protocol(own, None, slug), True


def shorter_script_hint(script, n_samples: int, sfreq: float) -> str:
    """How to reach a training block within ``n_samples``: the baselines that fit."""
    before = 0
    for step in script:
        if step.name == "block":
            break
        before += step.duration
    have_s, need_s = n_samples / sfreq, before / sfreq
    # a baseline needs 5 s of usable frames after the filters settle: 12 s each is the least
    each_min = min(2.0, (have_s * 0.4) / 60.0)
    if each_min * 60.0 < 12.0:
        sets = "--set script.baseline_eyes_open=0 --set script.baseline_eyes_closed=0"
        return (f"the recording has {have_s:.0f} s, too short for baselines; its first block "
                f"starts at {need_s:.0f} s: {sets}")  # fmt: skip
    each = f"{math.floor(each_min * 10) / 10:g}"
    return (
        f"the recording has {have_s:.0f} s and the first block starts at {need_s:.0f} s: "
        f"shorten the baselines, e.g. --set script.baseline_eyes_open={each} "
        f"--set script.baseline_eyes_closed={each}"
    )


def replay(
    source,
    out,
    *,
    protocol: str | None = None,
    overrides: list[str] | None = None,
    device: str | None = None,
    mains_hz: float | None = None,
    chunk_seconds: float = 60.0,
    progress: bool | None = None,
    sham_source=None,
    client: str | None = None,
) -> Path:
    """Replay ``source`` through a protocol into the new session folder ``out``.

    Parameters
    ----------
    source : path-like
        Session folder, EEG file or BrainFlow CSV.
    out : path-like
        The output session folder; must not exist (or be an empty folder).
    protocol : str | None
        Protocol name or path; default the session's own.
    overrides : list of str
        ``--set`` overrides.
    device : str | None
        Device profile for a BrainFlow CSV.
    mains_hz : float | None
        Mains frequency for ``notch_hz = "mains"`` (default: the recording's device, or 50).
    chunk_seconds : float
        Samples fed at a time; the output does not depend on it.
    progress : bool | None
        Show a progress bar (default: when stderr is a terminal).
    sham_source : path-like | None
        For re-scoring with a protocol that has sham blocks: the session whose feedback they
        show. A session replayed with its own protocol reuses its recorded sham blocks and
        yoked feedback; ``sham.count`` draws are seeded by the source's name, so a re-scoring
        is reproducible.
    client : str | None
        The client id recorded in the output; default the source session's, or ``replay``.

    Returns
    -------
    out : Path
        The output folder (reads with :func:`nfb.read_session`).
    """
    src = open_replay_source(source, device=device)
    proto, own = resolve_protocol(src, protocol, overrides or [])
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SessionError(f"--out {out} already exists and is not empty; choose a new folder")
    recorded_mains = float((src.meta.get("device") or {}).get("mains_hz") or 50.0)
    if mains_hz is None:
        mains_hz = recorded_mains
    own = own and mains_hz == recorded_mains
    scheduled = src.events if own else _rescore_schedule(src.events)
    client = client if client is not None else str(src.meta.get("client") or "replay")
    validate_client(client)
    sham = _sham_plan(src, proto, own, client, sham_source)
    frames_out: list[np.ndarray] = []
    events_out: list[dict] = []
    runner = SessionRunner(
        proto,
        src.layout,
        mains_hz=mains_hz,
        scheduled=scheduled,
        on_frames=frames_out.append,
        on_event=events_out.append,
        sham=sham,
    )
    recorder = SessionRecorder.create(
        None,
        client,
        proto.slug,
        {
            "device": src.meta.get("device") or {},
            "layout": src.layout.to_dict(),
            "channel_map": runner.channel_map,
            "protocol": proto.to_dict(),
            "protocol_slug": proto.slug,
            "frame_rate": runner.frame_rate,
            # what the practitioner noted about the session stays with every re-scoring
            **{k: src.meta[k] for k in CARRIED_META if k in src.meta},
            "source": {
                "kind": "replay",
                "path": str(src.path),
                "format": src.kind,
                "own_protocol": own,
                "session_id": src.meta.get("session_id"),
            },
        },
        frame_columns=runner.columns,
        start=_utc(src.start_unix),
        threaded=False,
        folder=out,
    )
    if sham is not None:
        recorder.update_meta(blinding=sham.record(recorder.path))
    n = src.samples.shape[1]
    chunk = max(1, int(chunk_seconds * src.layout.sfreq))
    eeg_rows = list(src.layout.eeg_rows)
    bar = progress_bar(n, src.path.name, progress)
    carried = [e for e in src.events if e.get("kind") in CARRIED_KINDS]
    streams = _StreamFeeder(src.streams, recorder, runner)
    try:
        with recorder:
            for start in range(0, n, chunk):
                block = src.samples[:, start : start + chunk]
                fetch = src.fetch_time[start : start + chunk]
                recorder.append_samples(block, fetch)
                streams.feed(upto=start + block.shape[1])
                runner.feed(block[eeg_rows], fetch)
                _drain(recorder, frames_out, events_out, carried, upto=start + block.shape[1])
                bar.update(block.shape[1])
                if runner.finished:
                    break
            else:
                streams.feed(upto=math.inf)  # what came after the last EEG sample
            runner.finish("end_of_recording")
            _drain(recorder, frames_out, events_out, carried, upto=math.inf)
            summary = runner.summary()
            recorder.update_meta(
                blocks=summary["blocks"],
                baseline=summary["baseline"],
                thresholds=summary["thresholds"],
            )
            status = runner.status if runner.status != "recording" else "stopped"
            if not summary["blocks"]:
                step = runner.current_step
                logger.warning(
                    "%s ended during %s of %s's script: no training block was scored (%s)",
                    src.path.name,
                    step.label if step else "the script",
                    proto.slug,
                    shorter_script_hint(runner.script, runner.pipeline.n_samples, runner.sfreq),
                )
            recorder.close(status)
    finally:
        bar.close()
    logger.info("replayed %s -> %s (%s)", src.path, out, status)
    return out


class _StreamFeeder:
    """Hands a recording's extra streams to the replay's recorder and runner in EEG order."""

    def __init__(self, streams: dict, recorder: SessionRecorder, runner: SessionRunner) -> None:
        self.streams = streams
        self.recorder = recorder
        self.runner = runner
        self.pos = dict.fromkeys(streams, 0)

    def feed(self, upto: float) -> None:
        """Every stream sample with ``eeg_index < upto`` not yet fed: frames up to sample
        ``upto - 1`` may see them."""
        for name, st in self.streams.items():
            i = self.pos[name]
            j = st.n_samples if upto == math.inf else int(np.searchsorted(st.eeg_index, upto))
            if j <= i:
                continue
            block = st.samples[:, i:j]
            self.recorder.append_stream(name, block, st.fetch_time[i:j], st.eeg_index[i:j])
            self.runner.feed_stream(name, block, st.eeg_index[i:j])
            self.pos[name] = j


def _rescore_schedule(events: list[dict]) -> list[dict]:
    """The recorded commands a re-scoring re-applies; a gap record at its ``at`` (its
    recorded frame is one of the old protocol's frame grid)."""
    out = []
    for e in events:
        if e.get("kind") not in RESCORE_COMMANDS:
            continue
        if e.get("kind") == GAP_EVENT and "at" in e and "missing" in e:
            e = {**e, "sample_index": e["at"]}
        out.append(e)
    return out


def _sham_plan(src: ReplaySource, proto: Protocol, own: bool, client: str, sham_source):
    if own and src.kind == "session":
        if sham_source is not None:
            raise ConfigError(
                "--sham-source: a replay with the session's own protocol reuses "
                "its recorded sham feedback; pass --protocol to re-score"
            )
        return ShamPlan.from_session(src.path, src.meta)
    if proto.has_sham and sham_source is None:
        raise ConfigError(
            f"protocol {proto.slug} has sham blocks: pass --sham-source SESSION, the "
            "recording whose feedback they show"
        )
    rng = np.random.default_rng(zlib.crc32(src.path.name.encode()))
    return plan_sham(proto, client=client, source=sham_source, rng=rng)


def _drain(recorder, frames_out, events_out, carried, upto) -> None:
    for rows in frames_out:
        recorder.append_frames(rows)
    frames_out.clear()
    # carried events (facts of the recording) and the runner's interleave by sample index;
    # at equal indices the recording's come first, as they happened before the frame
    due = []
    while carried and carried[0]["sample_index"] < upto:
        due.append(carried.pop(0))
    merged = sorted(
        [(e["sample_index"], 0, i, e) for i, e in enumerate(due)]
        + [(e["sample_index"], 1, i, e) for i, e in enumerate(events_out)]
    )
    for *_, event in merged:
        recorder.append_event(event)
    events_out.clear()


def _utc(unix):
    from datetime import datetime, timezone

    return datetime.fromtimestamp(unix, timezone.utc) if unix is not None else None


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def progress_bar(total: int, name: str, show: bool | None, unit: str = "sample"):
    """A tqdm bar on stderr (``show`` None: on a terminal, unless ``NFB_NO_PROGRESS``), or a
    bar that shows nothing."""
    if show is None:
        show = sys.stderr.isatty() and not os.environ.get("NFB_NO_PROGRESS")
    if not show:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit=unit,
        unit_scale=unit == "sample",
        desc=f"replay {name}",
        file=sys.stderr,
        leave=unit != "sample",  # a batch's count of sessions stays on screen
    )
