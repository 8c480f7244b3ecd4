"""Stream a live session over Lab Streaming Layer (LSL), for other tools to record or show.

Opt-in (``nfb run --lsl``, ``--lsl-raw``, or the console's "stream ... over LSL" switch): without
it this module is not imported and neither is pylsl, so nothing listens on the network. With
it, pylsl's liblsl announces the streams on the local network (UDP multicast/broadcast
discovery) and serves them over TCP to any inlet that asks.

Streams (``<id>`` is the session id, ``YYYYmmdd-HHMMSS-<protocol>``; no client id is sent):

- ``nfb-frames``, type ``NFB``, float64 at the frame rate: every frame column, as recorded
  (``sample_index``, ``time_s``, ``wall_time``, ``value``, ``threshold``, ``reward``,
  ``inhibited``, ``step``, ``raw_value``, ``inhibit_<kind>``..., the band values...).
- ``nfb-markers``, type ``Markers``, one string channel, irregular: each recorded event as
  JSON (``kind``, ``sample_index`` and its fields: step_start/step_end, threshold, marker,
  pause/resume, baseline_stats, device events, stop); a marker's free-text ``note`` is left
  out, it may identify the client.
- ``nfb-eeg``, type ``EEG``, float32 at the sampling rate, µV (``--lsl-raw`` only).

Source ids are ``nfb:<id>:frames``, ``nfb:<id>:markers`` and ``nfb:<id>:eeg``; channel labels
(and units where they are physical) are in each stream's ``desc/channels``, and in the EEG
stream each channel's type (``EEG``, ``EOG``, ``EMG``, ``ECG``, ``MISC``), so that an EOG
channel is an EOG channel to whatever reads the stream (nfb's own LSL device included).

Clock: LSL timestamps are :func:`pylsl.local_clock` (a monotonic clock shared by the processes
of a machine). nfb stamps by wall time (``time.time()`` when a chunk was fetched), so the
outlet measures ``offset = local_clock() - time.time()`` once when it opens (between two
``local_clock`` reads) and stamps

- a frame with ``wall_time + offset`` (its ``wall_time`` column: when its newest sample was
  fetched, the moment the feedback could be computed),
- an EEG chunk's last sample with ``fetch_time + offset``, earlier samples one sampling period
  apart (LSL's rule for a chunk),
- an event with the time of its ``sample_index``: ``fetch_time + offset`` of the newest chunk,
  minus ``(newest index - sample_index) / sfreq``.

The offset is fixed for the session, so the stamps keep the exact spacing of the recorded
``wall_time`` (a wall-clock step during a session shows in both alike). Pushing never
blocks (liblsl buffers up to a minute per inlet and drops the oldest beyond), and a failing
push is logged once and never reaches the acquisition.
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from ._logging import logger
from .errors import ConfigError
from .session.format import json_safe
from .session.sham import SHAM_FRAME_COLUMNS

if TYPE_CHECKING:  # pragma: no cover
    from .session.live import LiveSession

#: Stream names.
FRAMES_NAME, MARKERS_NAME, EEG_NAME = "nfb-frames", "nfb-markers", "nfb-eeg"
#: Event fields not sent: free text typed by the practitioner may identify the client.
PRIVATE_FIELDS = ("note",)
_BUFFER_S = 60  # liblsl's per-inlet buffer (seconds; x100 samples for the irregular markers)
#: How long :meth:`LslOutlet.close` lets connected inlets receive the last data.
LINGER_S = 0.5


def check_available() -> None:
    """Import pylsl and its liblsl, or raise a one-line :class:`ConfigError`."""
    try:
        import pylsl

        pylsl.local_clock()
    except (ImportError, OSError, RuntimeError) as err:
        raise ConfigError(f"LSL streaming needs pylsl and its liblsl: {err}") from None


class LslOutlet:
    """LSL outlets of one live session: frames, markers and optionally the raw EEG.

    Give it to :class:`~nfb.session.live.LiveSession` as an observer
    (``LiveSession(..., observers=[LslOutlet()])``): the outlets open when the session starts
    (its id is then known), follow its frames, events and samples, and close when it stops.
    Or drive it directly: :meth:`open`, then :meth:`push_frames`, :meth:`push_event`,
    :meth:`push_samples`, and :meth:`close`.

    Parameters
    ----------
    raw : bool
        Also stream the EEG channels (µV).

    Attributes
    ----------
    error : str | None
        The first error (opening or pushing), if any; streaming stops on an open error and
        goes on after a push error.
    clock_offset : float | None
        ``local_clock() - time.time()`` as measured when the outlets opened.
    """

    def __init__(self, *, raw: bool = False) -> None:
        self.raw = raw
        self.error: str | None = None
        self.clock_offset: float | None = None
        self.columns: list[str] = []
        self.sfreq: float | None = None
        self._frames = self._markers = self._eeg = None
        self._wall_col: int | None = None
        self._keep: list[int] = []  # the frame columns streamed (no sham columns)
        self._n_in = 0  # the frame columns given to push_frames
        self._anchor: tuple[int, float] | None = None  # newest (sample index, fetch time)
        self._lock = threading.Lock()  # pushes (acquisition thread) against close

    # --- observer of a LiveSession ---------------------------------------------------------
    def on_session_start(self, session: LiveSession) -> None:
        """Open the outlets for ``session`` (its folder exists, no chunk fed yet)."""
        self.open(
            session.recorder.session_id,
            [name for name, _ in session.runner.columns],
            session.runner.frame_rate,
            sfreq=session.layout.sfreq,
            ch_names=list(session.layout.ch_names),
            ch_types=list(session.layout.ch_types),
        )

    def on_samples(self, eeg: np.ndarray, first_index: int, fetch_time: float) -> None:
        """Note the newest sample's time (for events); stream the EEG if asked."""
        if eeg.shape[1] == 0:
            return
        self._anchor = (first_index + eeg.shape[1] - 1, fetch_time)
        if self.raw:
            self.push_samples(eeg, fetch_time)

    def on_frames(self, rows: np.ndarray) -> None:
        self.push_frames(rows)

    def on_event(self, event: dict) -> None:
        self.push_event(event)

    def on_session_stop(self, status: str) -> None:
        self.close()

    # --- outlets ---------------------------------------------------------------------------
    def open(
        self,
        session_id: str,
        columns: list[str],
        frame_rate: float,
        *,
        sfreq: float | None = None,
        ch_names: list[str] | None = None,
        ch_types: list[str] | None = None,
    ) -> None:
        """Create the outlets (they are discoverable from now on).

        Parameters
        ----------
        session_id : str
            The session id (source ids are derived from it).
        columns : list of str
            Frame column names, in the order of the rows given to :meth:`push_frames`.
        frame_rate : float
            Frames per second (the frames stream's nominal rate).
        sfreq : float | None
            EEG sampling frequency: the EEG stream's rate and the clock of event times.
        ch_names : list of str | None
            EEG channel labels (needed with ``raw=True``).
        ch_types : list of str | None
            Their types (``"eeg"``, ``"eog"``, ...), published as each channel's ``type``
            (``EEG``, ``EOG``, ``EMG``, ``ECG``, ``MISC``); default all EEG.

        An error is logged and kept in :attr:`error`; the session goes on without LSL.
        """
        try:
            import pylsl

            # a sham session's own_* and sham columns would tell any listener which blocks
            # are sham: the blinding stays in the recording
            hidden = {name for name, _ in SHAM_FRAME_COLUMNS}
            self._keep = [i for i, c in enumerate(columns) if c not in hidden]
            self._n_in = len(columns)
            self.columns = [columns[i] for i in self._keep]
            columns = self.columns
            self.sfreq = sfreq
            self._wall_col = self.columns.index("wall_time") if "wall_time" in columns else None
            t0 = pylsl.local_clock()
            wall = time.time()
            self.clock_offset = (t0 + pylsl.local_clock()) / 2 - wall
            frames = pylsl.StreamInfo(
                FRAMES_NAME,
                "NFB",
                len(columns),
                float(frame_rate),
                pylsl.cf_double64,
                f"nfb:{session_id}:frames",
            )
            _describe(frames, session_id, [(c, _frame_unit(c)) for c in columns])
            markers = pylsl.StreamInfo(
                MARKERS_NAME, "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string,
                f"nfb:{session_id}:markers",
            )  # fmt: skip
            _describe(markers, session_id, [("event", None)])
            outlets = [
                pylsl.StreamOutlet(frames, max_buffered=_BUFFER_S),
                pylsl.StreamOutlet(markers, max_buffered=_BUFFER_S),
            ]
            if self.raw:
                if not sfreq or not ch_names:
                    raise ConfigError("streaming the EEG needs its sfreq and channel names")
                eeg = pylsl.StreamInfo(
                    EEG_NAME, "EEG", len(ch_names), float(sfreq), pylsl.cf_float32,
                    f"nfb:{session_id}:eeg",
                )  # fmt: skip
                types = list(ch_types or ["eeg"] * len(ch_names))
                if len(types) != len(ch_names):
                    raise ConfigError(f"{len(ch_names)} channel names but {len(types)} types")
                chans = [(c, "microvolts") for c in ch_names]
                _describe(eeg, session_id, chans, kind=[t.upper() for t in types])
                outlets.append(pylsl.StreamOutlet(eeg, max_buffered=_BUFFER_S))
        except Exception as err:  # a missing liblsl, no network: the session goes on
            self._failed("LSL streaming is off", err)
            return
        with self._lock:
            self._frames, self._markers = outlets[:2]
            self._eeg = outlets[2] if self.raw else None
        names = ", ".join(o.get_info().name() for o in outlets)
        logger.info("LSL: streaming %s (session %s)", names, session_id)

    def push_frames(self, rows: np.ndarray) -> None:
        """Push frame rows (m, n_columns), each stamped with its ``wall_time``."""
        with self._lock:
            outlet = self._frames
            if outlet is None or len(rows) == 0:
                return
            try:
                rows = np.asarray(rows, dtype=np.float64)
                if self._n_in != len(self._keep) and rows.shape[1] == self._n_in:
                    rows = rows[:, self._keep]
                if self._wall_col is not None:
                    stamps = (rows[:, self._wall_col] + self.clock_offset).tolist()
                    outlet.push_chunk(rows, stamps)
                else:
                    outlet.push_chunk(rows)
            except Exception as err:
                self._failed("LSL frames push failed", err)

    def push_event(self, event: dict) -> None:
        """Push an event as a JSON string, stamped with the time of its ``sample_index``."""
        with self._lock:
            outlet = self._markers
            if outlet is None:
                return
            try:
                data = {k: v for k, v in event.items() if k not in PRIVATE_FIELDS}
                text = json.dumps(json_safe(data), sort_keys=True, default=str)
                outlet.push_sample([text], self._event_time(event.get("sample_index")))
            except Exception as err:
                self._failed("LSL marker push failed", err)

    def push_samples(self, block: np.ndarray, fetch_time: float | None = None) -> None:
        """Push EEG rows (n_channels, n) in µV; the last sample is stamped ``fetch_time``."""
        with self._lock:
            outlet = self._eeg
            if outlet is None or block.shape[1] == 0:
                return
            try:
                stamp = fetch_time + self.clock_offset if fetch_time is not None else 0.0
                outlet.push_chunk(np.ascontiguousarray(block.T, dtype=np.float32), stamp)
            except Exception as err:
                self._failed("LSL EEG push failed", err)

    def close(self) -> None:
        """Destroy the outlets (inlets see the streams end); idempotent.

        With an inlet connected this takes :data:`LINGER_S`: liblsl has no flush, and an
        outlet destroyed at once can take the last frames and the ``stop`` marker with it.
        """
        with self._lock:
            outlets = [o for o in (self._frames, self._markers, self._eeg) if o is not None]
            self._frames = self._markers = self._eeg = None
        try:
            if any(o.have_consumers() for o in outlets):
                time.sleep(LINGER_S)
        except Exception as err:
            self._failed("LSL close failed", err)
        del outlets  # liblsl destroys an outlet with its last reference

    @property
    def is_open(self) -> bool:
        """Whether the outlets are streaming."""
        return self._frames is not None

    # --- helpers ---------------------------------------------------------------------------
    def _event_time(self, sample_index: Any) -> float:
        """LSL time of a sample index; 0.0 (liblsl: now) when it cannot be told."""
        anchor, sfreq = self._anchor, self.sfreq
        if anchor is None or not sfreq or not isinstance(sample_index, int):
            return 0.0
        return anchor[1] + self.clock_offset - (anchor[0] - sample_index) / sfreq

    def _failed(self, what: str, err: BaseException) -> None:
        if self.error is None:  # once: a broken network must not flood the log at 60 Hz
            self.error = f"{what}: {err}"
            logger.error("%s: %s (further LSL errors are not logged)", what, err)


def _describe(
    info, session_id: str, channels: list[tuple[str, str | None]], kind: list[str] | None = None
) -> None:
    """Write the stream's description: nfb's fields and ``channels`` (label, unit and, with
    ``kind``, each channel's type)."""
    desc = info.desc()
    desc.append_child_value("manufacturer", "nfb")
    desc.append_child_value("session_id", session_id)
    desc.append_child_value("clock", "local_clock of the wall time a sample was fetched")
    chans = desc.append_child("channels")
    for i, (label, unit) in enumerate(channels):
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        if unit is not None:
            ch.append_child_value("unit", unit)
        if kind is not None:
            ch.append_child_value("type", kind[i])


def _frame_unit(column: str) -> str | None:
    return {"sample_index": "samples", "time_s": "seconds", "wall_time": "seconds"}.get(column)
