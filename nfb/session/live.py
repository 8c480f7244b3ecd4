"""A live session: chunks from a connected device drive the runner and the recorder.

This is the engine object the CLI and the GUI both drive. It attaches to a
:class:`~nfb.stream.DeviceStream` and never blocks its caller on the board or the disk:
chunks arrive in the acquisition thread, go to the recorder's writer queue and through the
runner (well under a millisecond a chunk).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol as _Protocol

import numpy as np

from .._logging import logger
from ..errors import DeviceError, NfbError, SessionError
from ..protocol import Protocol
from ..stream import DeviceStream
from .format import GAP_EVENT
from .recorder import SessionRecorder
from .runner import SessionRunner, Snapshot
from .sham import plan_sham

#: Device events written to the session's events file.
RECORDED_DEVICE_EVENTS = (
    "dropped",
    "disconnected",
    "reconnecting",
    "reconnected",
    "ended",
    "failed",
    "stream_marker",
)


class SessionObserver(_Protocol):
    """What may watch a live session (an LSL outlet, say); every method is optional.

    Called in the acquisition thread, after the recorder has the data, except
    ``on_session_start`` (the thread calling :meth:`LiveSession.start`) and
    ``on_session_stop`` (the thread calling :meth:`LiveSession.stop`). Must return quickly;
    an observer that raises is logged and dropped, the session goes on.
    """

    def on_session_start(self, session: LiveSession) -> None: ...

    def on_samples(self, eeg: np.ndarray, first_index: int, fetch_time: float) -> None:
        """EEG rows (µV) of a chunk; ``first_index`` is its first sample's session index."""

    def on_frames(self, rows: np.ndarray) -> None:
        """Frame rows, columns as ``session.runner.columns``."""

    def on_event(self, event: dict) -> None:
        """A recorded event (runner or device)."""

    def on_session_stop(self, status: str) -> None: ...


class LiveSession:
    """Score and record one session on a connected device.

    Parameters
    ----------
    stream : DeviceStream
        The connected device.
    protocol : Protocol
        The protocol as used (overrides applied).
    client : str
        Client id (letters, digits, ``-``, ``_``, ``.``).
    sessions_dir : path-like | None
        The session store (default ``$NFB_SESSIONS_DIR``, else the per-user data folder).
    duration_s : float | None
        Stop after this many seconds of signal (sample-counted), whatever the script says.
    meta : dict | None
        Extra ``session.json`` fields (notes, ratings...).
    sham_source : path-like | None
        For a protocol with sham blocks: the recorded session whose feedback they show
        (default: the store's most recent complete session of the protocol by another client).
    observers : iterable of SessionObserver
        Told about the session's start, samples, frames, events and stop (see
        :class:`SessionObserver`).
    reuse_threshold : dict | None
        Start from an earlier session's last threshold instead of the protocol's own rule:
        ``{"value": float, "session_id": str, "inhibit_limits": {name: float}}`` (see
        :func:`~nfb.session.history.last_threshold`; the limits are optional, and those of
        inhibits this protocol does not have are left out). Recorded as the first frame's
        ``threshold`` event (source ``reused``) and ``inhibit_limit`` events, so a replay
        starts from them too.
    """

    def __init__(
        self,
        stream: DeviceStream,
        protocol: Protocol,
        client: str,
        *,
        sessions_dir=None,
        duration_s: float | None = None,
        meta: dict | None = None,
        sham_source=None,
        observers: Iterable[SessionObserver] = (),
        reuse_threshold: dict | None = None,
    ) -> None:
        self.stream = stream
        self.profile = stream.profile
        self.protocol = protocol
        self.client = client
        self.sessions_dir = sessions_dir
        self.duration_s = duration_s
        self.layout = stream.layout
        self.extra_meta = dict(meta or {})
        self.recorder: SessionRecorder | None = None
        self.observers: list[SessionObserver] = list(observers)
        max_samples = round(duration_s * self.layout.sfreq) if duration_s else None
        self.sham = plan_sham(
            protocol, client=client, source=sham_source, sessions_dir=sessions_dir
        )
        # built now so that a protocol that cannot run on this device fails before anything
        self.runner = SessionRunner(
            protocol,
            self.layout,
            mains_hz=self.profile.mains_hz,
            on_frames=self._on_frames,
            on_event=self._on_runner_event,
            max_samples=max_samples,
            sham=self.sham,
        )
        if reuse_threshold is not None:
            # queued before any frame: applied at the first one
            self.runner.command(
                "threshold",
                value=reuse_threshold.get("value"),
                source="reused",
                session=str(reuse_threshold.get("session_id") or ""),
            )
            for name, value in (reuse_threshold.get("inhibit_limits") or {}).items():
                if name not in self.runner.inhibit_limits:
                    logger.info(
                        "inhibit limit %s not reused: %s has no such inhibit", name, protocol.slug
                    )
                    continue
                self.runner.command("inhibit_limit", inhibit=name, value=value)
        self.error: NfbError | None = None
        self.status = "idle"
        self._done = threading.Event()
        self._closed = False
        self._offset: int | None = None  # stream index of the session's first sample
        self._device_failed: str | None = None
        # the newest frames, for displays (a bounded copy: the recorder keeps them all)
        self.history = FrameHistory(
            len(self.runner.columns), seconds=600.0, frame_rate=self.runner.frame_rate
        )

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> Path:
        """Create the session folder and start scoring the stream; return the folder."""
        if self.stream.state not in ("streaming", "reconnecting", "disconnected"):
            raise DeviceError(f"{self.profile.name} is not connected ({self.stream.state})")
        if self.recorder is not None:
            raise SessionError("this session has already started")
        self.recorder = SessionRecorder.create(
            self.sessions_dir,
            self.client,
            self.protocol.slug,
            {
                **self.extra_meta,
                "device": self.profile.to_dict(),
                "layout": self.layout.to_dict(),
                "channel_map": self.runner.channel_map,
                "protocol": self.protocol.to_dict(),
                "protocol_slug": self.protocol.slug,
                "frame_rate": self.runner.frame_rate,
                "source": {"kind": "live"},
            },
            frame_columns=self.runner.columns,
        )
        try:
            if self.sham is not None:
                self.recorder.update_meta(blinding=self.sham.record(self.recorder.path))
            self.status = "recording"
            self._notify("on_session_start", self)
            self.stream.attach(self)
        except BaseException:
            # the folder exists: close it (its lock released, its status final), not leave
            # it "recording" until the process exits
            self._closed = True
            self.status = "failed"
            self.recorder.close("failed")
            raise
        logger.info("session folder %s", self.recorder.path)
        return self.recorder.path

    @property
    def path(self) -> Path | None:
        return self.recorder.path if self.recorder else None

    # --- StreamConsumer (acquisition thread) -----------------------------------------------
    def on_chunk(self, block, first_index: int, fetch_time: float) -> None:
        rec = self.recorder
        if rec.failed:
            raise rec.error
        if self.runner.finished:
            self._done.set()
            return
        if self._offset is None:
            self._offset = first_index
        rec.append_samples(block, fetch_time)
        eeg = block[list(self.layout.eeg_rows)]
        if self.observers:
            self._notify("on_samples", eeg, first_index - self._offset, fetch_time)
        self.runner.feed(eeg, fetch_time)
        if self.runner.finished:
            self._done.set()

    def on_stream_chunk(self, name: str, block, eeg_index: int, fetch_time: float) -> None:
        """An extra stream's chunk (motion, PPG): recorded with the session's EEG samples
        received by then; one that comes before the session's first EEG sample is not its."""
        rec = self.recorder
        if self._offset is None or rec.failed or self.runner.finished:
            return
        index = max(0, eeg_index - self._offset)
        rec.append_stream(name, block, fetch_time, index)
        self.runner.feed_stream(name, block, index)

    def on_device_event(self, kind: str, sample_index: int, info: dict) -> None:
        index = 0 if self._offset is None else max(0, sample_index - self._offset)
        if kind in RECORDED_DEVICE_EVENTS and self.recorder is not None:
            event = {
                "sample_index": index,
                "kind": kind,
                **{k: v for k, v in info.items() if k != "error"},
            }
            self.recorder.append_event(event)
            self._notify("on_event", event)
        if kind == GAP_EVENT and self._offset is not None and sample_index > self._offset:
            # the samples from here on are not continuous with those before, and come later
            # than their index says (a gap before the session's first sample is not its own)
            self.runner.command(GAP_EVENT, at=index, **info)
        if kind == "failed":
            self._device_failed = str(info.get("error") or "device failed")
        if kind in ("ended", "failed"):
            self._done.set()

    def on_detached(self, error: BaseException | None) -> None:
        if error is not None:
            self.error = error if isinstance(error, NfbError) else SessionError(str(error))
        self._done.set()

    def _on_frames(self, rows) -> None:
        self.recorder.append_frames(rows)
        self.history.append(rows)
        self._notify("on_frames", rows)

    def _on_runner_event(self, event: dict) -> None:
        self.recorder.append_event(event)
        self._notify("on_event", event)
        if event["kind"] == "marker":
            logger.info("marker %s at sample %d", event.get("label"), event["sample_index"])

    # --- control ---------------------------------------------------------------------------
    def command(self, kind: str, **info) -> None:
        """Pause, resume, skip, stop, marker (label, note), threshold (value), threshold_mode,
        inhibit_limit (inhibit, value)."""
        if self.recorder is None:
            raise SessionError("the session has not started")
        self.runner.command(kind, **info)
        if kind == "marker":
            self.stream.insert_marker(1.0)

    def snapshot(self) -> Snapshot:
        return self.runner.snapshot()

    @property
    def first_stream_index(self) -> int | None:
        """The stream's index of the session's sample 0 (None before the first chunk): a
        display of the stream places the session's events with it."""
        return self._offset

    @property
    def state(self) -> str:
        return self.stream.state

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the script ends, the duration is reached or the device fails."""
        return self._done.wait(timeout)

    def device_lost(self, reason: str) -> None:
        """Give up on a device that stays lost: the session ends as failed with ``reason``
        (what is recorded stays; :meth:`stop` closes the folder)."""
        if self._device_failed is None:
            self._device_failed = reason
        self._done.set()

    def update_meta(self, **fields) -> None:
        """Add notes, self-ratings etc. to ``session.json``."""
        if self.recorder is not None:
            self.recorder.update_meta(**fields)

    def stop(self, reason: str = "user") -> str:
        """Finish the script and close the folder (the device stays connected).

        Returns the final status: ``complete``, ``stopped`` or ``failed``.
        """
        if self._closed:
            return self.status
        self._closed = True
        if self.recorder is None:
            self.status = "stopped"
            return self.status
        self.stream.detach(self)  # waits for a chunk in flight: none is fed after this
        failed = self._device_failed is not None
        self.runner.finish("device" if failed else reason)
        status = self.runner.status
        if self.recorder.failed:
            status, self.error = "failed", self.recorder.error
        elif self.error is not None:
            status = "failed"
        elif failed:
            status = "failed"
            self.error = DeviceError(f"device {self.profile.name} failed: {self._device_failed}")
        summary = self.runner.summary()
        self.recorder.update_meta(
            blocks=summary["blocks"],
            baseline=summary["baseline"],
            thresholds=summary["thresholds"],
            dropped_samples=self.stream.n_dropped,
        )
        self.recorder.close(status)
        if self.recorder.failed and self.error is None:
            self.error = self.recorder.error
        self.status = status
        self._done.set()
        self._notify("on_session_stop", status)
        return status

    def _notify(self, method: str, *args) -> None:
        # an observer never stops the recording: one that raises is dropped
        for observer in tuple(self.observers):
            fn = getattr(observer, method, None)
            if fn is None:
                continue
            try:
                fn(*args)
            except Exception:
                logger.exception("session observer %r failed; dropped", observer)
                if observer in self.observers:
                    self.observers.remove(observer)


class FrameHistory:
    """A bounded, thread-safe copy of the newest frame rows (written in the acquisition
    thread, read by displays)."""

    def __init__(self, n_columns: int, *, seconds: float, frame_rate: float) -> None:
        self.capacity = max(16, int(seconds * frame_rate))
        self._rows = np.full((self.capacity, n_columns), np.nan)
        self._n = 0
        self._lock = threading.Lock()

    def append(self, rows: np.ndarray) -> None:
        rows = rows[-self.capacity :]
        with self._lock:
            idx = (self._n + np.arange(len(rows))) % self.capacity
            self._rows[idx] = rows
            self._n += len(rows)

    def latest(self, n: int | None = None) -> np.ndarray:
        """The newest ``n`` rows (all kept ones by default), oldest first."""
        with self._lock:
            k = min(self._n, self.capacity, n if n is not None else self.capacity)
            idx = (self._n - k + np.arange(k)) % self.capacity
            return self._rows[idx].copy()


def run_until_done(
    session: LiveSession,
    on_tick=None,
    tick_s: float = 0.25,
    *,
    give_up_s: float | None = None,
) -> None:
    """Wait for a started session to end, calling ``on_tick(snapshot)`` now and then.

    Parameters
    ----------
    give_up_s : float | None
        End the session (failed) once the device has sent nothing for this many seconds
        (:meth:`DeviceStream.lost_for`, on the stream's clock) while it is being
        reconnected; None waits for it for as long as it takes.
    """
    while not session.wait(tick_s):
        lost = session.stream.lost_for()
        if give_up_s is not None and lost is not None and lost >= give_up_s:
            state = session.stream.state
            logger.info("giving up on %s after %.0f s (%s)", session.profile.name, lost, state)
            session.device_lost(
                f"no data for {lost:.0f} s ({state}); gave up after {give_up_s:g} s"
            )
            break
        if on_tick is not None:
            on_tick(session.snapshot())
    if on_tick is not None:
        on_tick(session.snapshot())
