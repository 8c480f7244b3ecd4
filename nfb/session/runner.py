"""The session runner: a sample-clocked state machine over the protocol's script.

The runner owns the pipeline, the inhibits and the threshold. It is fed raw board chunks and
returns frame rows; everything it decides (step changes, thresholds, baseline statistics)
is an event stamped with a sample index. Commands from the user (pause, resume, skip, stop,
markers, manual thresholds) are queued from any thread and applied before the next frame,
stamped with that frame's sample index, so a replay that re-applies them at the same indices
reproduces the session bit for bit. Inhibit limits changed by the practitioner are commands too.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from .._logging import logger
from ..bands import resolve_bands
from ..dsp.motion import MotionInhibit
from ..dsp.pipeline import Derivation, Pipeline
from ..errors import ConfigError, SessionError
from ..feedback.level import FeedbackLevel
from ..montage import map_channels
from ..protocol import Protocol
from ..reward import Inhibitor, ThresholdController, hold_frames
from ..sources import BoardLayout
from .format import (
    FRAME_COLUMNS,
    GAP_EVENT,
    INHIBIT_LIMIT_EVENT,
    gap_problem,
    timeline_from_pairs,
)
from .script import Step, build_script
from .sham import SHAM_FRAME_COLUMNS, ShamPlan

#: Index of each engine column in a frame row (displays read rows by name).
COLUMN = {name: i for i, (name, _) in enumerate(FRAME_COLUMNS)}
_SAMPLE, _TIME, _WALL, _VALUE, _THRESHOLD, _REWARD, _INHIBITED, _STEP, _RAW, _LEVEL = (
    COLUMN[name]
    for name in (
        "sample_index",
        "time_s",
        "wall_time",
        "value",
        "threshold",
        "reward",
        "inhibited",
        "step",
        "raw_value",
        "level",
    )
)

#: Event kinds that come from the user (or the driver) and are re-applied on replay.
COMMAND_KINDS = (
    "pause",
    "resume",
    "skip",
    "stop",
    "marker",
    "threshold",
    "threshold_mode",
    "gap",
    INHIBIT_LIMIT_EVENT,
)


#: Where a threshold command comes from: the practitioner setting one (``manual``: the
#: threshold stays there), or the last threshold of an earlier session reused at the start
#: (``reused``: the protocol's rule goes on from it; the baseline does not replace it).
THRESHOLD_COMMAND_SOURCES = ("manual", "reused")


def _checked_schedule(events: list[dict]) -> list[dict]:
    out = []
    for e in events:
        if not is_command(e):
            continue
        idx = e.get("sample_index")
        if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
            raise SessionError(f"recorded {e.get('kind')} event has a bad sample_index: {idx!r}")
        try:
            validate_command({k: v for k, v in e.items() if k != "sample_index"})
        except ConfigError as err:
            raise SessionError(f"recorded event at sample {idx}: {err}") from None
        out.append(e)
    return sorted(out, key=lambda e: e["sample_index"])


def validate_command(cmd: dict) -> dict:
    """Check a command (or a recorded command event); raise ConfigError naming what is wrong."""
    kind = cmd.get("kind")
    if kind not in COMMAND_KINDS:
        raise ConfigError(f"unknown command {kind!r}; allowed: {', '.join(COMMAND_KINDS)}")
    if kind == "threshold":
        value = cmd.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
            raise ConfigError(f"threshold command: value must be a finite number, got {value!r}")
        if cmd.get("source", "manual") not in THRESHOLD_COMMAND_SOURCES:
            raise ConfigError(
                f"threshold command: source must be {' or '.join(THRESHOLD_COMMAND_SOURCES)}, "
                f"got {cmd.get('source')!r}"
            )
        if not isinstance(cmd.get("session", ""), str):
            raise ConfigError(
                f"threshold command: session must be a session id, got {cmd.get('session')!r}"
            )
    elif kind == "threshold_mode" and cmd.get("mode") not in ("auto", "manual"):
        mode = cmd.get("mode")
        raise ConfigError(f"threshold_mode command: mode must be auto or manual, got {mode!r}")
    elif kind == "marker":
        for key in ("label", "note"):
            if not isinstance(cmd.get(key, ""), str):
                raise ConfigError(f"marker command: {key} must be text, got {cmd.get(key)!r}")
    elif kind == GAP_EVENT:
        problem = gap_problem(cmd)
        if problem:
            raise ConfigError(f"{problem} (a gap command)")
    elif kind == INHIBIT_LIMIT_EVENT:
        name, value = cmd.get("inhibit"), cmd.get("value")
        if isinstance(name, bool) or not isinstance(name, str | int) or name == "":
            raise ConfigError(
                f"inhibit_limit command: inhibit must be an inhibit's name or its index in "
                f"the protocol's [[inhibit]] list, got {name!r:.40}"
            )
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not (np.isfinite(value) and value > 0)
        ):
            raise ConfigError(
                f"inhibit_limit command: value must be a finite number > 0, got {value!r:.40}"
            )
    return cmd


def is_command(event: dict) -> bool:
    """Whether a recorded event came from the user/driver (and is re-applied on replay)."""
    kind = event.get("kind")
    if kind == "threshold":
        return event.get("source") in THRESHOLD_COMMAND_SOURCES
    if kind == "stop":
        return event.get("reason") != "complete"
    return kind in COMMAND_KINDS


@dataclass
class BlockStats:
    block: int
    start_sample: int
    end_sample: int | None = None
    n_frames: int = 0
    n_reward: int = 0
    n_inhibited: int = 0
    value_sum: float = 0.0
    n_value: int = 0
    #: the client's own figures, kept apart only in sessions with sham blocks
    own: BlockStats | None = None

    def add(self, value: float, reward: bool, inhibited: bool) -> None:
        self.n_frames += 1
        self.n_reward += reward
        self.n_inhibited += inhibited
        if math.isfinite(value):
            self.value_sum += value
            self.n_value += 1

    def to_dict(self) -> dict:
        out = {
            "index": self.block,
            "start_sample": self.start_sample,
            "end_sample": self.end_sample,
            "n_frames": self.n_frames,
            "reward_rate": self.n_reward / self.n_frames if self.n_frames else None,
            "inhibited_rate": self.n_inhibited / self.n_frames if self.n_frames else None,
            "mean_value": self.value_sum / self.n_value if self.n_value else None,
        }
        if self.own is not None:
            own = self.own.to_dict()
            out.update(
                {f"own_{k}": own[k] for k in ("reward_rate", "inhibited_rate", "mean_value")}
            )
        return out


@dataclass
class Snapshot:
    """What a display needs, copied under the runner's lock."""

    sample_index: int = -1
    step: Step | None = None
    step_elapsed_s: float = 0.0
    step_remaining_s: float = 0.0
    paused: bool = False
    finished: bool = False
    value: float = float("nan")
    threshold: float = float("nan")
    reward: bool = False
    inhibited: bool = False
    block_reward_rate: float | None = None
    blocks: list[dict] = field(default_factory=list)
    #: the session's warnings so far (``warning`` events), oldest first
    warnings: tuple[str, ...] = ()
    #: each adjustable inhibit's limit (None: a band limit the baseline has not set yet) and
    #: its measure at the newest frame, by name (``amplitude``, ``band_theta``...)
    inhibit_limits: dict[str, float | None] = field(default_factory=dict)
    inhibit_values: dict[str, float] = field(default_factory=dict)


def trained_channels(protocol: Protocol, layout: BoardLayout) -> list[str]:
    """The device's electrodes that ``protocol`` trains on ``layout``, in the device's order.

    The channels of its derivations (``signal.channels`` and the ``@X`` of its feature) with
    stand-ins resolved as a session would; raises as a session would where it does not fit.
    """
    bands = resolve_bands(protocol.data["bands"], float(layout.sfreq), where="bands")
    feature = protocol.feature(bands)
    ch_names = list(layout.ch_names)
    _cmap, derivations = SessionRunner._derivations(
        protocol.data["signal"]["channels"], feature, ch_names
    )
    rows = sorted({i for d in derivations for i, _w in d.terms})
    return [ch_names[i] for i in rows]


class SessionRunner:
    """Run a protocol's script on a stream of raw board chunks.

    Parameters
    ----------
    protocol : Protocol
        The protocol as used.
    layout : BoardLayout
        Row layout of the incoming chunks (``sfreq``, ``eeg_rows``, ``ch_names``, ``rail_uv``).
    mains_hz : float
        Used when the protocol's notch is ``"mains"``.
    on_frames : callable | None
        Called with each (m, n_columns) float64 array of frame rows.
    on_event : callable | None
        Called with each event dict (``sample_index``, ``kind``, ...).
    max_samples : int | None
        Stop (reason ``"duration"``) once this many samples have been processed.
    scheduled : list of dict | None
        Recorded command events to re-apply at their sample indices (replay).
    sham : ShamPlan | None
        Sham blocks and the yoked feedback they show. In a sham block the frame's ``value``,
        ``threshold``, ``reward`` and ``inhibited`` are what the client was shown; the
        ``own_*`` columns hold the client's own, scored against the threshold as it stood
        when the block began (the automatic threshold does not adapt to sham blocks).
    """

    def __init__(
        self,
        protocol: Protocol,
        layout,
        *,
        mains_hz: float = 50.0,
        on_frames=None,
        on_event=None,
        max_samples: int | None = None,
        scheduled: list[dict] | None = None,
        sham: ShamPlan | None = None,
    ) -> None:
        self.protocol = protocol
        self.layout = layout
        self.sfreq = float(layout.sfreq)
        self.on_frames = on_frames
        self.on_event = on_event
        self.max_samples = max_samples
        p = protocol.data
        sig, fb, rw = p["signal"], p["feedback"], p["reward"]

        self.bands = resolve_bands(p["bands"], self.sfreq, where=f"{protocol.slug}: bands")
        feature = protocol.feature(self.bands)
        ch_names = list(layout.ch_names)
        self.channel_map, derivations = self._derivations(sig["channels"], feature, ch_names)
        self.step_samples = max(1, round(sig["step_ms"] / 1000.0 * self.sfreq))
        self.frame_rate = self.sfreq / self.step_samples
        notch = sig["notch_hz"]
        notch = mains_hz if notch == "mains" else (notch or None)
        artifact = sorted({t[0] for d in derivations for t in d.terms})
        emg = next((i for i in p["inhibit"] if i["kind"] == "emg"), None)
        eog = next((i for i in p["inhibit"] if i["kind"] == "eog"), None)
        eog_rows = self._eog_rows(eog["channel"], ch_names, protocol.slug) if eog else ()
        extra = [r for r in protocol.band_refs(self.bands) if r not in feature.refs]
        # Filter design solves least-squares problems through BLAS, whose last bits depend on
        # its thread count: with one thread, live, replayed and batch-replayed (worker
        # process) sessions get identical filters.
        with threadpool_limits(limits=1, user_api="blas"):
            self.pipeline = Pipeline(
                self.sfreq,
                len(ch_names),
                derivations,
                self.bands,
                feature,
                step=self.step_samples,
                notch_hz=notch,
                bandpass_hz=tuple(sig["bandpass_hz"]) if sig["bandpass_hz"] else None,
                estimator=fb["estimator"],
                measure=fb["measure"],
                smooth_ms=fb["smooth_ms"],
                emg_band=self.bands[emg["band"]] if emg else None,
                artifact_channels=artifact,
                extra_refs=extra,
                eog_channels=eog_rows,
            )
        self.inhibitor = Inhibitor(p["inhibit"], self.frame_rate, layout.rail_uv)
        self.motion = self._motion_stage(p["inhibit"], layout, protocol.slug)
        self.direction = fb["direction"]
        self.zscore = fb["zscore"]
        self.baseline_for = "baseline_" + fb["baseline"]
        self.threshold_mode = "auto" if rw["threshold"] == "auto" else "fixed"
        self.threshold = np.nan if rw["threshold"] == "auto" else float(rw["threshold"])
        self.hold_frames = hold_frames(rw["hold_ms"], self.frame_rate)
        self.auto = ThresholdController(
            self.direction,
            rw["target_rate"],
            window_frames=round(rw["window_s"] * self.frame_rate),
            update_frames=round(rw["update_s"] * self.frame_rate),
            hold_frames=self.hold_frames,
        )
        self.script = build_script(p["script"], self.sfreq)
        if not self.script:
            raise ConfigError(f"{protocol.slug}: the script has no steps")
        if not any(st.is_baseline for st in self.script):
            needs = [
                what
                for what, on in (
                    ("feedback.zscore", fb["zscore"]),
                    (
                        'a band inhibit with max = "auto"',
                        any(i["kind"] == "band" and i["max"] == "auto" for i in p["inhibit"]),
                    ),
                )
                if on
            ]
            if needs:
                raise ConfigError(
                    f"{protocol.slug}: {needs[0]} needs a baseline; set "
                    "script.baseline_eyes_open or script.baseline_eyes_closed above 0"
                )

        self.band_columns = self.pipeline.band_columns
        self.inhibit_kinds = (*self.inhibitor.kinds, *(("motion",) if self.motion else ()))
        self.columns: list[tuple[str, str]] = [
            *FRAME_COLUMNS,
            *[(f"inhibit_{k}", "?") for k in self.inhibit_kinds],
            *[(c, "f8") for c in self.band_columns],
        ]
        self.sham = sham
        if sham is not None:
            late = [b for b in sham.blocks if b > p["script"]["blocks"]]
            if late:
                raise ConfigError(
                    f"{protocol.slug}: sham block {late[0]} but the script has "
                    f"{p['script']['blocks']} blocks"
                )
            self.columns += list(SHAM_FRAME_COLUMNS)
        self._sham_blocks = frozenset(sham.blocks) if sham is not None else frozenset()
        self._sham_frame = 0  # frames shown so far in the current sham block
        self._settled_at = -1  # after a gap in the signal, frames before this are invalid
        # gaps taken so far: the frame index that took each and its missing samples (the
        # timeline of ``time_s``); gap commands whose first sample has not come yet
        self._gap_taken: list[int] = []
        self._gap_missing: list[int] = []
        self._gaps_due: deque[dict] = deque()
        #: the feedback level stage: feature and threshold shown -> 0–1 (display and tone)
        self._level = FeedbackLevel(self.direction)

        self._lock = threading.Lock()
        self._pending: deque[dict] = deque()
        self._scheduled = deque(_checked_schedule(scheduled or []))
        for j, ev in enumerate(self._scheduled):
            if ev["kind"] == INHIBIT_LIMIT_EVENT:
                try:
                    self._scheduled[j] = {**ev, "inhibit": self._inhibit_name(ev["inhibit"])}
                except ConfigError as err:
                    where = f"recorded event at sample {ev['sample_index']}"
                    raise SessionError(f"{where}: {err}") from None
        #: inhibits whose limit changed before the current frame (re-evaluated from it)
        self._relimited: list[str] = []
        #: the inhibit limit changes so far (``inhibit_limit`` events)
        self.inhibit_limit_changes: list[dict] = []
        self._step_i = 0
        self._elapsed = 0
        self._paused = False
        self.finished = False
        self.status = "recording"
        self._run = 0  # consecutive frames meeting the reward condition
        self._baseline_values: dict[str, list] = {}
        self.baseline: dict[str, dict] = {}
        self._zs = (0.0, 1.0)
        self._reference_set = False
        self._baseline_raw: dict[str, np.ndarray] = {}
        #: a baseline needs 5 s of usable frames to set z-scores and the first threshold
        self.min_baseline_frames = round(5 * self.frame_rate)
        self.blocks: list[BlockStats] = []
        self.thresholds: list[dict] = []
        #: a threshold reused from an earlier session is in effect: the baseline sets the
        #: z-scores and band limits, not the first threshold
        self._reused = False
        #: messages of the ``warning`` events so far (the console shows them until dismissed)
        self.warnings: list[str] = []
        self._last_index = -1
        self._snap = Snapshot()
        self._started = False

    # --- construction helpers --------------------------------------------------------------
    #: The stream a motion inhibit reads (accelerometer and gyroscope).
    MOTION_STREAM = "auxiliary"

    @classmethod
    def _motion_stage(cls, inhibits: list[dict], layout, slug: str) -> MotionInhibit | None:
        """The motion inhibit of the protocol, on the device's auxiliary stream."""
        spec = next((i for i in inhibits if i["kind"] == "motion"), None)
        if spec is None:
            return None
        finder = getattr(layout, "stream", None)
        st = finder(cls.MOTION_STREAM) if finder is not None else None
        if st is None:
            raise ConfigError(
                f"{slug}: the motion inhibit needs a device with a motion stream (a profile "
                f'with streams = ["{cls.MOTION_STREAM}"], such as muse-2); this one has none'
            )
        for what, kind in (("max_accel_g", "accel"), ("max_gyro_dps", "gyro")):
            if spec[what] and not st.rows_of(kind):
                raise ConfigError(
                    f"{slug}: the motion inhibit's {what} needs {kind} rows, and the device's "
                    f"{st.name} stream has {', '.join(st.labels) or 'none'}; set {what} = 0"
                )
        return MotionInhibit(
            st.sfreq,
            st.rows_of("accel"),
            st.rows_of("gyro"),
            max_accel_g=spec["max_accel_g"],
            max_gyro_dps=spec["max_gyro_dps"],
            hold_ms=spec["hold_ms"],
            stale_samples=round(layout.sfreq),  # a motion stream silent for 1 s: no inhibit
        )

    @staticmethod
    def _derivations(channels, feature, ch_names):
        """The main derivation (``signal.channels``) and those the feature names (``@X``)."""
        index = {c: i for i, c in enumerate(ch_names)}
        cmap: dict[str, str] = {}

        def derive(name: str, spec: str | list[str], where: str) -> Derivation:
            if isinstance(spec, str) and "-" in spec:  # bipolar pair
                a, b = spec.split("-")
                m = map_channels([a, b], ch_names, distinct=True, where=where)
                cmap.update(m)
                return Derivation(name, ((index[m[a]], 1.0), (index[m[b]], -1.0)))
            labels = [spec] if isinstance(spec, str) else list(spec)
            m = map_channels(labels, ch_names, where=where)
            cmap.update(m)
            chosen = list(dict.fromkeys(m[c] for c in labels))  # mean of distinct electrodes
            return Derivation(name, tuple((index[c], 1.0 / len(chosen)) for c in chosen))

        derivs = [derive("main", channels, "signal.channels")]
        for ref in feature.refs:
            if ref.derivation is not None and all(d.name != ref.derivation for d in derivs):
                derivs.append(derive(ref.derivation, ref.derivation, "feedback.feature"))
        return cmap, derivs

    @staticmethod
    def _eog_rows(channel, ch_names, slug: str) -> tuple[int, ...]:
        """Rows of the EOG inhibit's channels: the device's own labels (no stand-in)."""
        index = {c.lower(): i for i, c in enumerate(ch_names)}
        rows = []
        for label in [channel] if isinstance(channel, str) else channel:
            if label.strip().lower() not in index:
                raise ConfigError(
                    f"{slug}: field 'inhibit.channel' names {label!r}, which this device "
                    f"does not have (its channels: {', '.join(ch_names)})"
                )
            rows.append(index[label.strip().lower()])
        return tuple(dict.fromkeys(rows))

    # --- commands --------------------------------------------------------------------------
    def command(self, kind: str, **info) -> None:
        """Queue a command (thread-safe); applied before the next frame.

        ``threshold`` needs ``value`` (a finite number) and takes ``source`` (``"manual"``,
        the default: the threshold stays there; ``"reused"``, with ``session``, the id of the
        earlier session it comes from: given before the first frame, the session starts from
        it, the baseline does not replace it and the threshold mode is unchanged);
        ``threshold_mode`` needs ``mode``
        (``"auto"`` or ``"manual"``); ``marker`` takes ``label`` and ``note`` strings;
        ``gap`` (from the driver, with the fields of a :class:`~nfb.session.format.Gap`
        record: ``at``, ``missing``, ``duration_s``, ``cause``, ``clock``) says the samples
        from ``at`` on are not continuous with those before: it is taken at the first frame
        at or after ``at`` (and recorded at that frame's index), reward runs break, frames
        are inhibited (``invalid``) until the filters have settled (``at`` plus the
        pipeline's warm-up), and ``time_s`` counts the ``missing`` samples from that frame
        on. A bare ``gap`` (no fields) settles the filters from the frame that takes it.
        ``inhibit_limit`` needs ``inhibit`` (a name of :attr:`inhibit_limits`, or an index
        in the protocol's ``[[inhibit]]`` list) and ``value`` (the new limit, > 0, in the
        inhibit's unit); it is recorded with the name.
        """
        cmd = validate_command({"kind": kind, **info})
        if kind == INHIBIT_LIMIT_EVENT:
            cmd["inhibit"] = self._inhibit_name(cmd["inhibit"])
        self._pending.append(cmd)

    @property
    def inhibit_limits(self) -> dict[str, float | None]:
        """The adjustable inhibits' current limits by name (None: not set by a baseline yet)."""
        return self.inhibitor.limits()

    def _inhibit_name(self, inhibit: str | int) -> str:
        """The name of an inhibit given by name or by index in the protocol's list."""
        names = list(self.inhibitor.limits())
        if isinstance(inhibit, int):
            table = self.protocol.data["inhibit"]
            if not 0 <= inhibit < len(table):
                raise ConfigError(
                    f"inhibit_limit command: inhibit index {inhibit} is outside the protocol's "
                    f"{len(table)} inhibits"
                )
            inh = table[inhibit]
            inhibit = f"band_{inh['band']}" if inh["kind"] == "band" else inh["kind"]
        if inhibit not in names:
            raise ConfigError(
                f"inhibit_limit command: no inhibit {inhibit!r} in this session; its "
                f"adjustable inhibits: {', '.join(names) or 'none'}"
            )
        return inhibit

    def _emit(self, event: dict) -> None:
        if event["kind"] == "warning":
            self.warnings.append(event["message"])
        if self.on_event is not None:
            self.on_event(event)

    def _apply(self, cmd: dict, s: int) -> None:
        kind = cmd["kind"]
        event = {**cmd, "sample_index": s}
        if kind in ("pause", "resume"):
            if self._paused == (kind == "pause"):
                return
            self._paused = kind == "pause"
            self._break_runs()
        elif kind == "skip":
            self._emit(event)
            self._next_step(s)
            return
        elif kind == "stop":
            if self.current_step.name == "block" and self.blocks:
                self.blocks[-1].end_sample = s
            self._emit({"sample_index": s, "kind": "step_end", **self._step_info()})
            self._emit(event)
            self.finished = True
            self.status = "stopped"
            return
        elif kind == "threshold":
            value = float(cmd["value"])  # validated: finite
            source = cmd.get("source", "manual")
            event = {"sample_index": s, "kind": "threshold", "value": value, "source": source}
            if source == "reused":
                event["session"] = str(cmd.get("session", ""))
                self._reused = True
            else:
                self.threshold_mode = "manual"
            self.threshold = value
            self.thresholds.append(event)
        elif kind == "threshold_mode":
            self.threshold_mode = cmd["mode"]
        elif kind == INHIBIT_LIMIT_EVENT:
            name, value = cmd["inhibit"], float(cmd["value"])
            previous = self.inhibitor.limits()[name]
            self.inhibitor.set_limit(name, value)
            self._relimited.append(name)
            event = {
                "sample_index": s,
                "kind": kind,
                "inhibit": name,
                "value": value,
                "previous": previous,
            }
            self.inhibit_limit_changes.append(event)
        elif kind == GAP_EVENT:
            at = int(cmd.get("at", s))
            self._break_runs()
            self._settled_at = max(self._settled_at, at + self.pipeline.warmup_samples)
            if cmd.get("missing"):
                self._gap_taken.append(s)
                self._gap_missing.append(int(cmd["missing"]))
        self._emit(event)

    def _take_commands(self, s: int) -> None:
        while self._scheduled and self._scheduled[0]["sample_index"] <= s:
            ev = dict(self._scheduled.popleft())
            at = ev.pop("sample_index")
            self._apply(ev, at)
            if self.finished:
                return
        while self._gaps_due and self._gaps_due[0]["at"] <= s and not self.finished:
            self._apply(self._gaps_due.popleft(), s)
        while self._pending and not self.finished:
            cmd = self._pending.popleft()
            if cmd["kind"] == GAP_EVENT and cmd.get("at", s) > s:
                # its first sample is later in this chunk: taken at the frame it reaches
                self._gaps_due.append(cmd)
                continue
            self._apply(cmd, s)

    # --- script ----------------------------------------------------------------------------
    @property
    def current_step(self) -> Step | None:
        return self.script[self._step_i] if self._step_i < len(self.script) else None

    def _step_info(self) -> dict:
        st = self.current_step
        return {"step": st.index, "name": st.name, "block": st.block, "label": st.label}

    def _break_runs(self) -> None:
        """A pause or a new step interrupts the run of frames a held reward needs."""
        self._run = 0
        self.auto.break_run()

    def _start_step(self, s: int) -> None:
        st = self.current_step
        self._elapsed = 0
        self._break_runs()
        self._emit({"sample_index": s, "kind": "step_start", **self._step_info()})
        if st.name == "block":
            own = BlockStats(st.block, s) if self.sham is not None else None
            self.blocks.append(BlockStats(st.block, s, own=own))
            self._sham_frame = 0
            if self.threshold_mode == "auto" and not np.isfinite(self.threshold):
                logger.info("no baseline threshold; auto threshold starts after warm-up")

    def _next_step(self, s: int) -> None:
        st = self.current_step
        self._emit({"sample_index": s, "kind": "step_end", **self._step_info()})
        if st.name == "block" and self.blocks:
            self.blocks[-1].end_sample = s
        if st.is_baseline:
            self._end_baseline(st, s)
        self._step_i += 1
        if self._step_i >= len(self.script):
            self.finished = True
            self.status = "complete"
            self._emit({"sample_index": s, "kind": "stop", "reason": "complete"})
            return
        self._start_step(s)

    def _end_baseline(self, st: Step, s: int) -> None:
        collected = self._baseline_values.pop(st.name, {})
        stats = {}
        for key, vals in collected.items():
            arr = np.asarray(vals, dtype=float)
            arr = arr[np.isfinite(arr)]
            if arr.size >= 2:
                stats[key] = {
                    "mean": float(arr.mean()),
                    "sd": float(arr.std(ddof=1)),
                    "n": int(arr.size),
                }
        self.baseline[st.name] = stats
        self._baseline_raw[st.name] = np.asarray(collected.get("value", []), dtype=float)
        self._emit({"sample_index": s, "kind": "baseline_stats", "name": st.name, "stats": stats})
        if self._reference_set:
            return
        usable = [
            name
            for name, st_ in self.baseline.items()
            if st_.get("value", {}).get("n", 0) >= self.min_baseline_frames
        ]
        last = not any(x.is_baseline for x in self.script[st.index + 1 :])
        # the protocol's baseline sets the reference; at the last baseline of the script,
        # another one stands in if that one was missing, skipped or inhibited throughout
        if st.name == self.baseline_for and st.name in usable:
            self._use_baseline(st.name, s)
        elif last and usable:
            name = self.baseline_for if self.baseline_for in usable else usable[0]
            message = (
                f"the {self.baseline_for.replace('_', ' ')} was not usable (skipped, or under "
                f"{self.min_baseline_frames} frames without inhibits): the "
                f"{name.replace('_', ' ')} sets the reference instead"
            )
            logger.warning(message)
            self._emit({"sample_index": s, "kind": "warning", "message": message})
            self._use_baseline(name, s)
        elif last:
            got = ", ".join(
                f"{name.replace('_', ' ')} {st_.get('value', {}).get('n', 0)}"
                for name, st_ in self.baseline.items()
            )
            message = (
                f"no usable baseline: a baseline needs {self.min_baseline_frames} usable frames "
                f"(5 s without inhibits), got {got}; no z-score and no automatic band limits, "
                "the threshold comes from the training"
            )
            logger.warning(message)
            self._emit({"sample_index": s, "kind": "warning", "message": message})

    def _use_baseline(self, name: str, s: int) -> None:
        self._reference_set = True
        stats = self.baseline[name]
        self.inhibitor.set_band_limits_from_baseline(stats)
        v = stats["value"]
        if self.zscore:
            self._zs = (v["mean"], v["sd"] if v["sd"] > 0 else 1.0)
        if self.threshold_mode == "auto" and not self._reused:
            base = (self._baseline_raw[name] - self._zs[0]) / self._zs[1]
            first = self.auto.initial(base)
            if first is not None:
                self._set_threshold(first, s, "baseline", baseline=name)

    def _set_threshold(self, value: float, s: int, source: str, **info) -> None:
        """Set the threshold and record it; ``info`` says more about its source (the
        baseline it came from)."""
        if value == self.threshold:
            return
        self.threshold = value
        event = {"sample_index": s, "kind": "threshold", "value": value, "source": source, **info}
        self.thresholds.append(event)
        self._emit(event)

    # --- processing ------------------------------------------------------------------------
    def feed_stream(self, name: str, block: np.ndarray, eeg_index) -> None:
        """An extra stream's chunk (all its rows) and the session's EEG samples received
        when it was fetched; the motion inhibit reads the auxiliary stream (see
        :mod:`nfb.dsp.motion`: frame ``s`` sees the samples with ``eeg_index <= s``). Feed
        each chunk before the EEG whose frames may see it."""
        if self.motion is not None and name == self.MOTION_STREAM:
            self.motion.feed(np.asarray(block, dtype=np.float64), eeg_index)

    def feed(self, eeg: np.ndarray, wall_time) -> np.ndarray:
        """Process the next chunk of EEG rows (n_channels, n) in µV.

        ``wall_time`` is the fetch time of the chunk (a float) or of each sample (an array).
        Returns the frame rows produced (m, len(columns)).
        """
        start = self.pipeline.n_samples
        fb = self.pipeline.process(eeg)
        inh = self.inhibitor.evaluate(fb)
        if self.motion is not None:
            inh["motion"] = self.motion.flags(fb.sample_index)
        m = len(fb)
        rows = np.empty((m, len(self.columns)))
        if m == 0 or self.finished:
            return rows[:0]
        any_inh = np.zeros(m, bool)
        for arr in inh.values():
            any_inh |= arr
        band_rules = bool(self.inhibitor.band_rules)
        for rule in self.inhibitor.band_rules:
            inh[rule.kind] = np.zeros(m, bool)
        wall = np.asarray(wall_time, dtype=float)
        walls = wall[fb.sample_index - start] if wall.ndim else np.full(m, float(wall))
        raw_values = fb.feature
        sham_cols = np.zeros((m, len(SHAM_FRAME_COLUMNS))) if self.sham is not None else None
        n_out = 0
        # the loop reads Python scalars and fills columns afterwards: per-element NumPy
        # indexing would cost more than the scoring itself (same arithmetic, same bits)
        indices, raws = fb.sample_index.tolist(), raw_values.tolist()
        any_inh_list = any_inh.tolist()
        band_cache: dict[str, list[float]] = {}  # band values as floats, once a baseline needs them
        out_value: list[float] = []
        out_threshold: list[float] = []
        out_reward: list[bool] = []
        out_inhibited: list[bool] = []
        out_step: list[int] = []
        out_level: list[float] = []
        with self._lock:
            for i in range(m):
                s = indices[i]
                if not self._clock_enter(s):
                    break
                if self._relimited:
                    self._relimit_stage(i, inh, any_inh_list)
                st = self.current_step
                raw = raws[i]
                value = (raw - self._zs[0]) / self._zs[1] if self.zscore else raw
                inhibited = self._inhibit_stage(i, s, any_inh_list[i], inh, fb, band_rules)
                reward, is_sham = self._train_stage(
                    st, s, raw, value, inhibited, fb.bands, i, band_cache
                )
                if sham_cols is not None:
                    sham_cols[n_out] = (is_sham, value, self.threshold, reward, inhibited)
                value, shown_threshold, reward, inhibited = self._sham_stage(
                    st, is_sham, value, self.threshold, reward, inhibited
                )
                if st.name == "block" and not self._paused:
                    self.blocks[-1].add(value, reward, inhibited)
                out_value.append(value)
                out_threshold.append(shown_threshold)
                out_reward.append(reward)
                out_inhibited.append(inhibited)
                out_step.append(st.index)
                out_level.append(self._level.update(value, shown_threshold))
                n_out += 1
                self._last_index = s
                if not self._clock_leave(s, st):
                    break
            rows = rows[:n_out]
            # frame i of the chunk is row i: the loop only ever stops early, never skips
            rows[:, _SAMPLE] = fb.sample_index[:n_out]
            rows[:, _TIME] = self._timeline(fb.sample_index[:n_out]) / self.sfreq
            rows[:, _WALL] = walls[:n_out]
            rows[:, _VALUE] = out_value
            rows[:, _RAW] = raw_values[:n_out]
            rows[:, _THRESHOLD] = out_threshold
            rows[:, _REWARD] = out_reward
            rows[:, _INHIBITED] = out_inhibited
            rows[:, _STEP] = out_step
            rows[:, _LEVEL] = out_level
            k = len(FRAME_COLUMNS)
            for kind in self.inhibit_kinds:
                rows[:, k] = inh[kind][:n_out]
                k += 1
            for col in self.band_columns:
                rows[:, k] = fb.bands[col][:n_out]
                k += 1
            if sham_cols is not None:
                rows[:, k:] = sham_cols[:n_out]
            if n_out:
                self._update_snapshot(rows[-1], self.inhibitor.values(fb, n_out - 1))
        if n_out and self.on_frames is not None:
            self.on_frames(rows)
        return rows

    def _timeline(self, index: np.ndarray) -> np.ndarray:
        """Frame indices on the session's timeline: plus the samples missing before them."""
        taken = np.asarray(self._gap_taken, dtype=np.int64)
        return timeline_from_pairs(index, taken, np.asarray(self._gap_missing, dtype=np.int64))

    # --- per-frame stages (feed runs them in this order for every frame) ------------------
    def _clock_enter(self, s: int) -> bool:
        """Script clock, before frame ``s``: the first step, due commands, the duration.

        Returns False when the session has ended (no frame at ``s``).
        """
        if not self._started:
            self._started = True
            self._start_step(s)
        self._take_commands(s)
        if self.finished:
            return False
        if self.max_samples is not None and s + 1 > self.max_samples:
            self._apply({"kind": "stop", "reason": "duration"}, s)
            return False
        return True

    def _clock_leave(self, s: int, st: Step) -> bool:
        """Script clock, after frame ``s``: count it into the step; the next step when due.

        Returns False when that ended the session.
        """
        if not self._paused:
            self._elapsed += self.step_samples
            if self._elapsed >= st.duration:
                self._next_step(s)
                if self.finished:
                    return False
        return True

    def _relimit_stage(self, i: int, inh: dict, any_inh: list) -> None:
        """Inhibit limits changed before frame ``i``: the signal-quality flags of the chunk
        from ``i`` on, with the new limits (band inhibits read theirs frame by frame)."""
        for name in self._relimited:
            flags = self.inhibitor.flags_from(name, i)
            if flags is not None:
                inh[name] = flags
        self._relimited.clear()
        # every kind's flags, as before the loop (the band ones are still unset from ``i`` on)
        any_inh[i:] = np.logical_or.reduce([flags[i:] for flags in inh.values()]).tolist()

    def _inhibit_stage(
        self, i: int, s: int, inhibited: bool, inh: dict, fb, band_rules: bool
    ) -> bool:
        """Inhibits of frame ``i`` (sample ``s``): the pipeline's, the settling after a gap,
        the band rules (which keep their own state); sets the frame's flags in ``inh``."""
        if s < self._settled_at:
            inh["invalid"][i] = inhibited = True
        if band_rules:
            for kind, flag in self.inhibitor.band_step(fb.bands, i).items():
                inh[kind][i] = flag
                inhibited |= flag
        return inhibited

    def _train_stage(
        self,
        st: Step,
        s: int,
        raw: float,
        value: float,
        inhibited: bool,
        bands: dict,
        i: int,
        band_cache: dict,
    ) -> tuple[bool, bool]:
        """Baseline collection or scoring (threshold and reward) of one frame.

        Returns (reward, is_sham): the client's own reward and whether the block is sham.
        """
        if self._paused:
            return False, False
        if st.is_baseline:
            if not inhibited and s >= self.pipeline.warmup_samples:
                if not band_cache:
                    band_cache.update({c: bands[c].tolist() for c in self.band_columns})
                bucket = self._baseline_values.setdefault(st.name, {})
                bucket.setdefault("value", []).append(raw)
                for col in self.band_columns:
                    bucket.setdefault(col, []).append(band_cache[col][i])
            return False, False
        if st.name != "block":
            return False, False
        is_sham = st.block in self._sham_blocks
        reward = self._score(value, inhibited, s, adapt=not is_sham)
        blk = self.blocks[-1]
        if blk.own is not None:
            blk.own.add(value, reward, inhibited)
        return reward, is_sham

    def _sham_stage(
        self, st: Step, is_sham: bool, value: float, threshold: float, reward: bool, inhibited: bool
    ) -> tuple[float, float, bool, bool]:
        """What the client is shown: the own frame, or in a sham block the yoked one."""
        if not is_sham:
            return value, threshold, reward, inhibited
        shown = self.sham.yoked.frame(st.block, self._sham_frame, self.frame_rate)
        self._sham_frame += 1
        return shown

    def _score(self, value: float, inhibited: bool, s: int, adapt: bool = True) -> bool:
        if adapt and self.threshold_mode == "auto":
            new = self.auto.observe(value, not inhibited)
            if new is not None:
                self._set_threshold(new, s, "auto")
        thr = self.threshold
        ok = (
            not inhibited
            and math.isfinite(value)
            and math.isfinite(thr)
            and (value > thr if self.direction == "up" else value < thr)
        )
        self._run = self._run + 1 if ok else 0
        return self._run >= self.hold_frames

    def finish(self, reason: str = "user") -> None:
        """End the session now (driver side: acquisition stopped, Ctrl-C, duration, device)."""
        with self._lock:
            if self.finished:
                return
            s = self._last_index + self.step_samples
            # recorded commands still due (replay) are applied first, at their own indices
            while self._scheduled and not self.finished:
                ev = dict(self._scheduled.popleft())
                self._apply(ev, ev.pop("sample_index"))
            # a gap whose samples came but reached no frame is still a gap of the recording
            # and a marker given just before the stop is a record too (the other commands
            # would change nothing after the last frame)
            for cmd in [*self._gaps_due, *self._pending]:
                if cmd["kind"] == GAP_EVENT and self._started and not self.finished:
                    self._apply(cmd, max(s, int(cmd.get("at", s))))
                elif cmd["kind"] == "marker" and self._started and not self.finished:
                    self._apply(cmd, s)
            self._pending.clear()
            self._gaps_due.clear()
            self._relimited.clear()
            if not self.finished and self._started:
                self._apply({"kind": "stop", "reason": reason}, s)
            self.finished = True
            if self.status == "recording":
                self.status = "stopped"
            self._snap.finished = True

    def _update_snapshot(self, row: np.ndarray, inhibit_values: dict[str, float]) -> None:
        st = self.current_step
        blk = self.blocks[-1] if self.blocks and st is not None and st.name == "block" else None
        self._snap = Snapshot(
            sample_index=int(row[_SAMPLE]),
            step=st,
            step_elapsed_s=self._elapsed / self.sfreq,
            step_remaining_s=max(0, (st.duration - self._elapsed)) / self.sfreq if st else 0.0,
            paused=self._paused,
            finished=self.finished,
            value=float(row[_VALUE]),
            threshold=float(row[_THRESHOLD]),
            reward=bool(row[_REWARD]),
            inhibited=bool(row[_INHIBITED]),
            block_reward_rate=(blk.n_reward / blk.n_frames) if blk and blk.n_frames else None,
            blocks=[b.to_dict() for b in self.blocks],
            warnings=tuple(self.warnings),
            inhibit_limits=self.inhibitor.limits(),
            inhibit_values=inhibit_values,
        )

    def snapshot(self) -> Snapshot:
        """The latest state for displays (cheap; safe from any thread)."""
        return self._snap

    def summary(self) -> dict:
        """What goes into ``session.json`` at the end."""
        return {
            "blocks": [b.to_dict() for b in self.blocks],
            "baseline": self.baseline,
            "thresholds": self.thresholds,
            "channel_map": self.channel_map,
            "frame_rate": self.frame_rate,
            "step_samples": self.step_samples,
        }
