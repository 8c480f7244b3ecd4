"""A connected device that sessions attach to.

The desktop app connects a board before any session (to check the signal and watch the raw
traces) and runs several sessions on one connection; the CLI does the same for one session.
:class:`DeviceStream` owns the :class:`~nfb.acquisition.Acquisition` (thread and ring buffer)
and hands every chunk to the consumers attached to it. A consumer that raises (a recorder on
a full disk) is detached and keeps its error; the device keeps streaming.

A board's extra streams (``layout.streams``: motion, PPG) go to consumers that have an
``on_stream_chunk`` method. From a PPG stream the stream estimates the heart rate once per
second of PPG samples (:mod:`nfb.dsp.heart`, in the acquisition thread: about a millisecond),
and :attr:`DeviceStream.heart` holds the newest estimate for displays.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np

from ._logging import logger
from .acquisition import Acquisition
from .devices import DeviceProfile, open_source
from .dsp.heart import WINDOW_S, HeartRate, best_heart_rate
from .errors import DeviceError, NfbError
from .quality import SignalCheck, check_signal


class StreamConsumer(Protocol):
    """What attaches to a stream (a live session)."""

    def on_chunk(self, block: np.ndarray, first_index: int, fetch_time: float) -> None: ...

    def on_device_event(self, kind: str, sample_index: int, info: dict) -> None: ...

    def on_detached(self, error: BaseException | None) -> None: ...

    # optional: on_stream_chunk(name, block, eeg_index, fetch_time), the new samples of an
    # extra stream and the EEG samples received when they were fetched (see Acquisition)


class DeviceStream:
    """Connect to a device profile and stream it into a ring buffer.

    Parameters
    ----------
    profile : DeviceProfile
        The device as configured for this run.
    source : Source | None
        A ready source (tests); default :func:`nfb.devices.open_source`.
    buffer_seconds : float
        Length of the ring buffer (what a display can look back at).
    open_timeout : float
        Seconds :meth:`connect` waits for the board to open (see
        :class:`~nfb.acquisition.Acquisition`).
    clock : callable
        The monotonic clock that times stalls, outages and connections (tests pass their own).
    """

    def __init__(
        self,
        profile: DeviceProfile,
        *,
        source=None,
        buffer_seconds: float = 60.0,
        open_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.profile = profile
        self._source = source if source is not None else open_source(profile)
        self.layout = self._source.layout
        self.acquisition = Acquisition(
            self._source,
            buffer_seconds=buffer_seconds,
            on_chunk=self._dispatch_chunk,
            on_event=self._dispatch_event,
            on_stream=self._dispatch_stream,
            open_timeout=open_timeout,
            clock=clock,
        )
        # the stream the heart rate comes from: PPG rows (Muse 2/S), else optical (Athena)
        self._ppg = next(
            ((st, st.rows_of(kind)) for kind in ("ppg", "optical") for st in self.layout.streams
             if st.rows_of(kind)),
            None,
        )  # fmt: skip
        #: the newest heart-rate estimate; None for a device without a PPG stream
        self.heart: HeartRate | None = HeartRate(None, "waiting for PPG") if self._ppg else None
        self._consumers: list[StreamConsumer] = []
        self._lock = threading.Lock()  # held while a chunk is handed out
        self.events: list[tuple[str, int, dict]] = []  # device history, for displays

    # --- connection --------------------------------------------------------------------------
    def connect(self, first_data_timeout: float = 10.0) -> None:
        """Open the board, start streaming and wait for its first samples.

        Raises
        ------
        DeviceError
            One line if the board cannot be opened, does not open within ``open_timeout``
            seconds, or sends nothing within ``first_data_timeout`` seconds (a board that has
            streamed and then drops out is reconnected instead, for as long as it takes).
        """
        self.acquisition.start()
        if not self.acquisition.wait_samples(1, timeout=first_data_timeout):
            self.acquisition.stop()
            hint = ""
            if self.profile.connection.get("file"):
                hint = f"; is {self.profile.connection['file']} a recording of this board?"
            raise DeviceError(
                f"{self.profile.name} sent no data within {first_data_timeout:g} s{hint}"
            )

    def disconnect(self) -> None:
        """Detach every consumer, stop streaming and release the board; idempotent."""
        for consumer in list(self._consumers):
            self.detach(consumer)
        self.acquisition.stop()

    @property
    def state(self) -> str:
        return self.acquisition.state

    def lost_for(self) -> float | None:
        """Seconds since the board was lost (no samples since), None while it streams."""
        return self.acquisition.lost_for()

    @property
    def ring(self):
        return self.acquisition.ring

    @property
    def n_samples(self) -> int:
        return self.acquisition.n_samples

    @property
    def n_dropped(self) -> int:
        return self.acquisition.n_dropped

    def configure(self, command: str) -> str:
        """Send a board command (BrainFlow ``config_board``) while streaming.

        Raises
        ------
        DeviceError
            One line if this device takes no commands, or refuses this one.
        """
        send = getattr(self._source, "send_config", None)
        if send is None:
            raise DeviceError(f"{self.profile.name} takes no board commands")
        return send(command)

    def insert_marker(self, value: float = 1.0) -> None:
        try:
            self.acquisition.insert_marker(value)
        except DeviceError as err:
            logger.info("marker not written to the board: %s", err)

    # --- consumers ---------------------------------------------------------------------------
    def attach(self, consumer: StreamConsumer) -> None:
        """Hand every chunk from the next one on to ``consumer`` (in the acquisition thread)."""
        with self._lock:
            self._consumers.append(consumer)

    def detach(self, consumer: StreamConsumer, error: BaseException | None = None) -> None:
        """Stop handing chunks to ``consumer``; waits for a chunk being handed out."""
        with self._lock:
            if consumer not in self._consumers:
                return
            self._consumers.remove(consumer)
        consumer.on_detached(error)

    def _dispatch_chunk(self, block: np.ndarray, first_index: int, fetch_time: float) -> None:
        failed = []
        with self._lock:
            for consumer in self._consumers:
                try:
                    consumer.on_chunk(block, first_index, fetch_time)
                except Exception as err:
                    # a user-facing error (a full disk) is reported by the session's owner;
                    # anything else is a bug and said here
                    log = logger.info if isinstance(err, NfbError) else logger.error
                    log("session stopped: %s", err)
                    failed.append((consumer, err))
        for consumer, err in failed:
            self.detach(consumer, err)

    def _dispatch_event(self, kind: str, sample_index: int, info: dict) -> None:
        self.events.append((kind, sample_index, dict(info)))
        with self._lock:
            consumers = list(self._consumers)
        for consumer in consumers:
            try:
                consumer.on_device_event(kind, sample_index, info)
            except Exception:
                logger.exception("consumer failed on device event %s", kind)

    def _dispatch_stream(self, name: str, block: np.ndarray, eeg_index: int, wall: float) -> None:
        with self._lock:
            for consumer in self._consumers:
                fn = getattr(consumer, "on_stream_chunk", None)
                if fn is None:
                    continue
                try:
                    fn(name, block, eeg_index, wall)
                except Exception:
                    logger.exception("consumer failed on a %s chunk", name)
        if self._ppg is not None and self._ppg[0].name == name:
            st, rows = self._ppg
            ring = self.acquisition.stream_rings[name]
            # once per second of PPG samples (the sample count is the clock)
            per = max(1, round(st.sfreq))
            if ring.n_written // per != (ring.n_written - block.shape[1]) // per:
                data, _ = ring.latest(round(WINDOW_S * st.sfreq))
                self.heart = best_heart_rate(data[rows], st.sfreq)

    # --- views for displays ------------------------------------------------------------------
    def latest_stream(self, name: str, seconds: float) -> tuple[np.ndarray, int]:
        """The newest ``seconds`` of extra stream ``name`` (all its rows) and the index of
        its first sample in that stream."""
        st = self.layout.stream(name)
        if st is None:
            raise DeviceError(f"{self.profile.name} has no {name} stream")
        return self.acquisition.stream_rings[name].latest(round(seconds * st.sfreq))

    def latest_eeg(self, seconds: float) -> tuple[np.ndarray, int]:
        """The newest ``seconds`` of EEG rows (µV) and the index of the first sample."""
        data, first = self.ring.latest(round(seconds * self.layout.sfreq))
        return data[list(self.layout.eeg_rows)], first

    def check(self, seconds: float = 5.0) -> SignalCheck:
        """Signal check over the newest ``seconds`` in the ring buffer (no new acquisition)."""
        eeg, _ = self.latest_eeg(seconds)
        if eeg.shape[1] < self.layout.sfreq:
            raise DeviceError("signal check needs at least 1 s of samples; wait a moment")
        return check_signal(
            eeg,
            self.layout.sfreq,
            self.layout.ch_names,
            mains_hz=self.profile.mains_hz,
            rail_uv=self.layout.rail_uv,
        )

    def __enter__(self) -> DeviceStream:
        if self.state == "idle":
            self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.disconnect()
