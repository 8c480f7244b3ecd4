"""A live session: a device's acquisition thread drives the runner and the recorder.

This is the engine object the CLI and the GUI both drive. It never blocks its caller on the
board or the disk: samples arrive in the acquisition thread, are handed to the recorder's
writer queue and fed through the runner (which costs well under a millisecond a chunk).
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from .._logging import logger
from ..acquisition import Acquisition
from ..devices import DeviceProfile, open_source
from ..errors import DeviceError, NfbError, SessionError
from ..protocol import Protocol
from .recorder import SessionRecorder
from .runner import SessionRunner, Snapshot


class LiveSession:
    """Acquire, score and record one session.

    Parameters
    ----------
    profile : DeviceProfile
        The device as configured for this run.
    protocol : Protocol
        The protocol as used (overrides applied).
    client : str
        Client id (letters, digits, ``-``, ``_``, ``.``).
    sessions_dir : path-like | None
        The session store (default ``NFB_SESSIONS_DIR`` or ``./sessions``).
    duration_s : float | None
        Stop after this many seconds of signal (sample-counted), whatever the script says.
    source : Source | None
        An already-built source (tests, GUI); default :func:`nfb.devices.open_source`.
    """

    def __init__(
        self,
        profile: DeviceProfile,
        protocol: Protocol,
        client: str,
        *,
        sessions_dir=None,
        duration_s: float | None = None,
        source=None,
    ) -> None:
        self.profile = profile
        self.protocol = protocol
        self.client = client
        self.sessions_dir = sessions_dir
        self.duration_s = duration_s
        self._source = source if source is not None else open_source(profile)
        self.layout = self._source.layout
        self.recorder: SessionRecorder | None = None
        self.runner: SessionRunner | None = None
        self.acquisition: Acquisition | None = None
        self.error: NfbError | None = None
        self._done = threading.Event()
        self._closed = False
        self._offset: int | None = None  # acquisition index of the session's first sample
        self.status = "idle"

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> Path:
        """Open the device, create the session folder and start streaming; return the folder."""
        max_samples = round(self.duration_s * self.layout.sfreq) if self.duration_s else None
        self.runner = SessionRunner(
            self.protocol,
            self.layout,
            mains_hz=self.profile.mains_hz,
            on_frames=self._on_frames,
            on_event=self._on_runner_event,
            max_samples=max_samples,
        )
        self.acquisition = Acquisition(
            self._source,
            on_chunk=self._on_chunk,
            on_event=self._on_acq_event,
        )
        # open the board before creating the folder: a wrong port must not leave a session
        self.acquisition.start()
        try:
            self.recorder = SessionRecorder.create(
                self.sessions_dir,
                self.client,
                self.protocol.slug,
                {
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
        except BaseException:
            self.acquisition.stop()
            raise
        logger.info("session folder %s", self.recorder.path)
        return self.recorder.path

    @property
    def path(self) -> Path | None:
        return self.recorder.path if self.recorder else None

    def _on_chunk(self, block, first_index: int, fetch_time: float) -> None:
        rec = self.recorder
        if rec is None:  # samples before the folder exists are not part of the session
            return
        if rec.failed:
            raise rec.error
        if self.runner.finished:
            self._done.set()
            return
        if self._offset is None:
            self._offset = first_index
        rec.append_samples(block, fetch_time)
        self.runner.feed(block[list(self.layout.eeg_rows)], fetch_time)
        if self.runner.finished:
            self._done.set()

    def _on_frames(self, rows) -> None:
        self.recorder.append_frames(rows)

    def _on_runner_event(self, event: dict) -> None:
        self.recorder.append_event(event)
        if event["kind"] == "marker":
            logger.info("marker %s at sample %d", event.get("label"), event["sample_index"])

    def _on_acq_event(self, kind: str, sample_index: int, info: dict) -> None:
        if kind in ("connected",):
            return
        if kind == "failed":
            self._done.set()
        sample_index = 0 if self._offset is None else max(0, sample_index - self._offset)
        if self.recorder is not None and kind in (
            "dropped",
            "disconnected",
            "reconnected",
            "reconnecting",
            "ended",
            "failed",
        ):
            self.recorder.append_event(
                {
                    "sample_index": sample_index,
                    "kind": kind,
                    **{k: v for k, v in info.items() if k != "error"},
                }
            )
        if kind == "ended":
            self._done.set()
        log = logger.warning if kind in ("dropped", "disconnected", "failed") else logger.info
        log("device %s at sample %d %s", kind, sample_index, info or "")

    # --- control ---------------------------------------------------------------------------
    def command(self, kind: str, **info) -> None:
        """Pause, resume, skip, stop, marker (label, note), threshold (value), threshold_mode."""
        if self.runner is None:
            raise SessionError("the session has not started")
        self.runner.command(kind, **info)
        if kind == "marker" and self.acquisition is not None:
            with contextlib.suppress(NfbError):
                self.acquisition.insert_marker(1.0)

    def snapshot(self) -> Snapshot:
        return self.runner.snapshot() if self.runner else Snapshot()

    @property
    def state(self) -> str:
        return self.acquisition.state if self.acquisition else "idle"

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the script ends, the duration is reached or the device fails."""
        return self._done.wait(timeout)

    def update_meta(self, **fields) -> None:
        """Add notes, self-ratings etc. to ``session.json``."""
        if self.recorder is not None:
            self.recorder.update_meta(**fields)

    def stop(self, reason: str = "user") -> str:
        """Stop streaming, finish the script and close the folder; return the final status."""
        if self._closed:
            return self.status
        self._closed = True
        if self.acquisition is not None:
            self.acquisition.stop()  # joins the thread: no chunk is fed after this
        acq_error = self.acquisition.error if self.acquisition else None
        status = "failed"
        if self.runner is not None and self.recorder is not None:
            self.runner.finish("device" if acq_error else reason)
            status = self.runner.status
            if self.recorder.failed:
                status = "failed"
                self.error = self.recorder.error
            elif acq_error is not None:
                status = "failed"
                self.error = (
                    acq_error
                    if isinstance(acq_error, NfbError)
                    else DeviceError(f"device {self.profile.name} failed: {acq_error}")
                )
            summary = self.runner.summary()
            self.recorder.update_meta(
                blocks=summary["blocks"],
                baseline=summary["baseline"],
                thresholds=summary["thresholds"],
                dropped_samples=self.acquisition.n_dropped if self.acquisition else 0,
            )
            self.recorder.close(status)
            if self.recorder.failed and not isinstance(self.error, SessionError):
                self.error = self.recorder.error
        self.status = status
        self._done.set()
        return status

    def __enter__(self) -> LiveSession:
        return self

    def __exit__(self, *exc) -> None:
        self.stop("interrupted" if exc[0] is KeyboardInterrupt else "user")


def run_until_done(session: LiveSession, on_tick=None, tick_s: float = 0.25) -> None:
    """Wait for a started session to end, calling ``on_tick(snapshot)`` now and then."""
    while not session.wait(tick_s):
        if on_tick is not None:
            on_tick(session.snapshot())
    if on_tick is not None:
        on_tick(session.snapshot())


__all__ = ["LiveSession", "run_until_done"]
