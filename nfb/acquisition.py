"""The acquisition thread: a :class:`~nfb.sources.Source` -> a :class:`~nfb.ringbuffer.RingBuffer`.

:class:`Acquisition` owns the thread and the ring buffer, like mne-lsl's ``StreamLSL``. It polls
the source about every ``poll_interval`` seconds, appends what arrived to the ring, counts
samples lost on the way (from the board's package counter) and hands every block to
``on_chunk``. A board that errors or stays silent for ``stall_timeout`` seconds becomes a state
(``"disconnected"``, then ``"reconnecting"`` until the board is back): a lost board never kills
the process, and the board is released on every way out.

Every wait is bounded: the source is opened in a thread of its own, so a driver whose
``prepare_session`` never returns costs ``open_timeout`` seconds at the start (then one line)
and never blocks :meth:`Acquisition.stop`, which gives up on a thread stuck in a driver after
``stop_timeout`` seconds. The clock that times stalls, outages and connections is a
parameter (``time.monotonic`` by default), so that tests decide when time has passed.

Gaps on the timeline: every outage and every loss the package counter shows becomes a
``gap`` event (a :class:`~nfb.session.format.Gap` record) at the index of the first sample
received after it, before that sample's block is handed to ``on_chunk``. An outage is
measured when the board sends again: from the board's timestamp row where it has one (the
earliest time each side's samples are consistent with, so a burst of late arrivals does not
lengthen it), else on :attr:`Acquisition.clock`. A counter loss counts the missing samples
per loss; where a wrapping counter may have wrapped unseen (a Cyton's 256 samples, about a
second), the timestamps tell how many times it did.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import numpy as np

from ._logging import logger
from .errors import DeviceError
from .ringbuffer import RingBuffer
from .session.format import GAP_EVENT, Gap
from .sources import BoardLayout, EndOfStream, Source

#: States of an :class:`Acquisition`.
STATES = ("idle", "connecting", "streaming", "disconnected", "reconnecting", "stopped", "failed")
#: Kinds of events passed to ``on_event``.
EVENTS = (
    "connected",
    "disconnected",
    "reconnecting",
    "reconnected",
    "dropped",
    GAP_EVENT,
    "failed",
    "ended",
)

OnChunk = Callable[[np.ndarray, int, float], None]
OnEvent = Callable[[str, int, dict], None]

#: Longest single wait (s) of a thread that waits for another: a Ctrl-C is seen within this
#: (on Windows a long lock wait is not interrupted by it).
WAIT_SLICE_S = 0.05
#: Seconds of board timestamps kept before a gap to time its last sample.
TIMESTAMP_HISTORY_S = 0.5


class _Opening:
    """One call of ``source.open()`` in a daemon thread of its own.

    A driver may never return from it (BrainFlow holds one process-wide lock meanwhile, so
    nothing else of BrainFlow can stop it). Whoever waits may :meth:`abandon` it: if it ever
    returns with the board open, the board is closed then, by this thread.
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self.done = threading.Event()
        self.error: BaseException | None = None
        self._abandoned = False
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="nfb-open", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.source.open()
        except BaseException as err:
            self.error = err
        with self._lock:
            self.done.set()
            abandoned = self._abandoned
        if abandoned:
            try:
                self.source.close()
            except Exception:  # pragma: no cover - a Source must not raise here
                logger.debug("source.close() raised", exc_info=True)
            logger.info("a connection given up on has ended (%s); released", self.error or "open")

    def abandon(self) -> bool:
        """Stop waiting for it; True if it was still running."""
        with self._lock:
            self._abandoned = not self.done.is_set()
            return self._abandoned


# ---------------------------------------------------------------------------------------------
# Drop detection


def count_dropped(
    counter: np.ndarray,
    modulo: int | None,
    *,
    previous: float | None = None,
    step: int = 1,
    repeat: int = 1,
) -> int:
    """Count the samples missing from a package-counter sequence.

    Parameters
    ----------
    counter : array, shape (n,)
        Counter values of consecutive received samples.
    modulo : int | None
        The counter wraps at this value (256 for Cyton and the synthetic board); None if it
        never wraps (a decrease is then a restart, not a loss).
    previous : float | None
        Counter value of the sample received just before ``counter[0]``, if any.
    step : int
        Counter increment from one counter value to the next (2 for Cyton + Daisy).
    repeat : int
        Consecutive samples sharing one counter value (2 for Ganglion, 12 for Muse); a repeated
        value is then the same packet, and each missing value is ``repeat`` lost samples.

    Returns
    -------
    n_lost : int
        Samples lost between the first and last value. A gap of a whole multiple of the
        modulo cannot be seen, and is counted as no loss.
    """
    _, lost = find_dropped(counter, modulo, previous=previous, step=step, repeat=repeat)
    return int(lost.sum())


def find_dropped(
    counter: np.ndarray,
    modulo: int | None,
    *,
    previous: float | None = None,
    step: int = 1,
    repeat: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Where samples are missing from a package-counter sequence, and how many.

    Parameters are those of :func:`count_dropped`.

    Returns
    -------
    at : int array
        Index in ``counter`` of the first sample received after each loss (0 for a loss
        between ``previous`` and ``counter[0]``).
    lost : int array
        Samples lost there, same length.
    """
    c = np.asarray(counter, dtype=np.float64).ravel()
    pos = np.arange(c.size)
    if previous is not None:
        c = np.concatenate(([float(previous)], c))
        pos = np.concatenate(([-1], pos))
    finite = np.isfinite(c)
    c, pos = c[finite], pos[finite]
    if c.size < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    d = np.diff(c)
    if modulo:
        d = np.mod(d, modulo)
    else:
        d[d < 0] = step  # a restart: unknown loss, none counted
    ticks = np.rint(d / step)
    lost = (np.clip(ticks - 1, 0, None) * repeat).astype(np.int64)
    where = np.flatnonzero(lost)
    return np.maximum(pos[1:][where], 0).astype(np.int64), lost[where]


def count_dropped_packets(
    counter: np.ndarray, *, previous: float | None = None, per_packet: int | None = None
) -> tuple[int, int]:
    """Count the samples missing from a ``packet << 8 | sub-packet`` counter (Muse S Athena).

    Within a packet the sub-packet number counts up from 0; the packet number (8 bits) counts
    up and wraps at 256. A skipped sub-packet is one lost sample; a skipped packet is
    ``per_packet`` lost samples (the sub-packets a whole packet carries, learnt from the
    stream), plus the tail of the packet it broke off and the head of the one it resumed in.

    Parameters
    ----------
    counter : array, shape (n,)
        Counter values of consecutive received samples.
    previous : float | None
        The value received just before ``counter[0]``, if any.
    per_packet : int | None
        Samples per packet, if known (else learnt from ``counter``: the largest sub-packet
        number seen, plus one; a packet loss before it is known counts as one sample).

    Returns
    -------
    n_lost : int
    per_packet : int | None
        What is known of the samples per packet afterwards.
    """
    _, lost, per_packet = find_dropped_packets(counter, previous=previous, per_packet=per_packet)
    return int(lost.sum()), per_packet


def find_dropped_packets(
    counter: np.ndarray, *, previous: float | None = None, per_packet: int | None = None
) -> tuple[np.ndarray, np.ndarray, int | None]:
    """:func:`count_dropped_packets` loss by loss: ``(at, lost, per_packet)``, ``at`` and
    ``lost`` as in :func:`find_dropped`."""
    none = np.zeros(0, np.int64)
    c = np.asarray(counter, dtype=np.float64).ravel()
    pos = np.arange(c.size)
    if previous is not None:
        c = np.concatenate(([float(previous)], c))
        pos = np.concatenate(([-1], pos))
    finite = np.isfinite(c)
    c, pos = np.rint(c[finite]).astype(np.int64), pos[finite]
    if c.size == 0:
        return none, none, per_packet
    packet, sub = (c >> 8) & 0xFF, c & 0xFF
    seen = int(sub.max()) + 1
    per_packet = max(per_packet or 0, seen)
    if c.size < 2:
        return none, none, per_packet
    d_packet = np.mod(np.diff(packet), 256)
    same = d_packet == 0
    lost = np.zeros(d_packet.size, np.int64)
    # same packet: sub-packets between the two are lost
    lost[same] = np.clip(np.diff(sub) - 1, 0, None)[same]
    # a later packet: the rest of the old one, whole packets between, the head of the new one
    nxt = ~same
    tail = np.clip(per_packet - 1 - sub[:-1][nxt], 0, None)
    between = (d_packet[nxt] - 1) * per_packet
    head = sub[1:][nxt]
    lost[nxt] = tail + between + head
    where = np.flatnonzero(lost)
    return np.maximum(pos[1:][where], 0).astype(np.int64), lost[where], per_packet


#: Seconds of neighbours on each side that time a loss (at least one counter wrap).
STALL_WINDOW_S = 2.0


class DropDetector:
    """Stateful drop counter over successive blocks of one source.

    The board's :attr:`~nfb.sources.BoardLayout.counter_rule` says how: a wrapping sequence
    (:func:`find_dropped`), Athena's packet/sub-packet numbers
    (:func:`find_dropped_packets`), or not at all (no known rule). A wrapping counter cannot
    see a loss of a whole number of wraps (a Cyton's counter wraps every 256 samples, about a
    second): where the board has a timestamp row, the time between the two samples around a
    loss says how many wraps were missed.
    """

    def __init__(self, layout: BoardLayout) -> None:
        self.layout = layout
        self._previous: float | None = None
        # arrival times of the newest samples received without a loss between them
        self._ts_tail = np.zeros(0)
        self._per_packet: int | None = None

    def reset(self) -> None:
        """Forget the last counter value (after a reconnect the counter starts afresh)."""
        self._previous = None
        self._ts_tail = np.zeros(0)

    def update(self, block: np.ndarray) -> int:
        """Return the samples lost before and inside ``block`` (n_rows, n)."""
        return sum(n for _, n, _ in self.losses(block))

    def losses(self, block: np.ndarray) -> list[tuple[int, int, str]]:
        """The losses before and inside ``block`` (n_rows, n), one by one.

        Returns ``(at, lost, clock)`` tuples: the index in ``block`` of the first sample
        received after the loss, the samples lost, and what counted them (``"counter"``, or
        ``"counter+timestamp"`` where the timestamps found wraps the counter could not see).
        """
        row = self.layout.counter_row
        rule = self.layout.counter_rule
        if row is None or rule == "none" or block.shape[1] == 0:
            return []
        counter = block[row]
        if rule == "packet":
            at, lost, self._per_packet = find_dropped_packets(
                counter, previous=self._previous, per_packet=self._per_packet
            )
            out = [(a, n, "counter") for a, n in zip(at.tolist(), lost.tolist(), strict=True)]
        else:
            out = self._sequence_losses(block, counter)
        finite = counter[np.isfinite(counter)]
        if finite.size:
            self._previous = float(finite[-1])
        return out

    def _sequence_losses(
        self, block: np.ndarray, counter: np.ndarray
    ) -> list[tuple[int, int, str]]:
        layout = self.layout
        modulo = layout.counter_modulo
        at, lost = find_dropped(
            counter,
            modulo,
            previous=self._previous,
            step=layout.counter_step,
            repeat=layout.counter_repeat,
        )
        found = {a: (n, "counter") for a, n in zip(at.tolist(), lost.tolist(), strict=True)}
        ts_row = layout.timestamp_row
        if modulo and ts_row is not None:
            # the counter saw (lost mod one wrap); the time between the samples around a loss
            # says how many wraps were missed. A timestamp is the sample's arrival, which a
            # stalled driver or link delays (then a burst catches up): each side's sample is
            # timed by the earliest time its neighbours are consistent with, so a late
            # arrival alone is never a lost wrap
            period = (modulo // layout.counter_step) * layout.counter_repeat
            # the neighbours that time each side: a stall's burst is caught up within them
            # (a wrap alone, 256 ms on a 1000 Hz WiFi board, was shorter than a stall of a
            # busy laptop, and its catch-up read as a lost wrap)
            window = max(period, round(STALL_WINDOW_S * layout.sfreq))
            ts = block[ts_row]
            tail = self._ts_tail if self._previous is not None else np.zeros(0)
            joined = np.concatenate((tail, ts))
            k = tail.size
            before = np.concatenate(([tail[-1] if k else np.nan], ts[:-1]))
            with np.errstate(invalid="ignore"):
                arrival = (ts - before) * layout.sfreq - 1
            candidates = set(found) | set(np.flatnonzero(arrival > period / 2).tolist())
            for j in sorted(candidates):
                est = _samples_between(joined, k + j, [k + c for c in found], window, layout.sfreq)
                if est is None:
                    continue
                n = found.get(j, (0, ""))[0]
                wraps = round((est - n) / period)
                if wraps > 0:
                    found[j] = (n + wraps * period, "counter+timestamp")
            start = k + max(found) if found else 0
            self._ts_tail = joined[start:][-window:].copy()
        return [(a, n, clock) for a, (n, clock) in sorted(found.items())]


def _samples_between(
    ts: np.ndarray, j: int, cuts: list[int], window: int, sfreq: float
) -> float | None:
    """Samples missing between samples ``j - 1`` and ``j`` by their arrival times ``ts``.

    A sample arrives after it was taken, never before: sample ``j - 1`` was taken at the
    latest at the earliest time its ``window`` predecessors are consistent with, and sample
    ``j`` at the earliest time its ``window`` successors are (neither side crosses a loss at
    ``cuts``). None if a side is empty or has no finite time.
    """
    lo = max([0, j - window, *(c for c in cuts if c < j)])
    hi = min([ts.size, j + window, *(c for c in cuts if c > j)])
    if lo >= j or j >= hi:
        return None
    prior, after = ts[lo:j], ts[j:hi]
    with np.errstate(invalid="ignore"):
        taken_before = np.nanmin(prior + np.arange(prior.size)[::-1] / sfreq, initial=np.inf)
        taken_after = np.nanmin(after - np.arange(after.size) / sfreq, initial=np.inf)
    est = (taken_after - taken_before) * sfreq - 1
    return float(est) if math.isfinite(est) else None


# ---------------------------------------------------------------------------------------------
# Acquisition


class Acquisition:
    """Owns the acquisition thread and the ring buffer.

    Parameters
    ----------
    source : Source
        What to acquire from (:class:`~nfb.sources.BrainFlowSource`,
        :class:`~nfb.sources.FileSource`, ...), not yet opened.
    buffer_seconds : float
        Capacity of :attr:`ring`, in seconds of samples.
    poll_interval : float
        Seconds between two reads of the source.
    on_chunk : callable | None
        ``on_chunk(block, index, wall_time)`` with the new samples ``(n_rows, n)``, the absolute
        index of the first one and the ``time.time()`` at which they were fetched; called in the
        acquisition thread after the ring append. If it raises, the acquisition fails: the
        exception is kept in :attr:`error`, the state becomes ``"failed"``, the board is
        released.
    on_event : callable | None
        ``on_event(kind, sample_index, info)``, called in the acquisition thread; ``kind`` is one
        of ``"connected"``, ``"disconnected"`` (info ``{"reason"}``), ``"reconnecting"``
        (``{"attempt", "reason"}``), ``"reconnected"`` (``{"attempt", "outage_s"}``),
        ``"dropped"`` (``{"count"}``, at the first sample after the loss), ``"gap"`` (the
        :class:`~nfb.session.format.Gap` record's ``missing``, ``duration_s``, ``cause`` and
        ``clock``, at its ``at``: after an outage, at the first sample the board sent again;
        after a loss, with its ``dropped``), ``"failed"`` (``{"error"}``), ``"ended"`` (a
        finite source such as a file that does not loop delivered everything; the state
        becomes ``"stopped"``).
    on_stream : callable | None
        ``on_stream(name, block, eeg_index, wall_time)`` with the new samples of an extra
        stream (``layout.streams``: motion, PPG) and ``eeg_index``, the ring's
        :attr:`~nfb.ringbuffer.RingBuffer.n_written` when they were fetched (the EEG samples
        received by then: every block of a poll is handed out before its streams). Called in
        the acquisition thread after :attr:`stream_rings` has them.
    reconnect : bool
        On a board error or a stall, close and re-open the source with back-off until it is
        back or :meth:`stop` is called. If False the acquisition fails instead.
    stall_timeout : float
        Seconds without any sample that count as a lost board.
    open_timeout : float
        Seconds :meth:`start` waits for the source to open (BrainFlow's ``prepare_session``
        and ``start_stream``) before it gives up with a :class:`~nfb.errors.DeviceError`. A
        reconnection that takes longer is waited for (it holds the driver), with a warning.
    stop_timeout : float
        Seconds :meth:`stop` waits for the acquisition thread; a thread stuck in a driver is
        then left behind (a daemon thread: it does not keep the process alive).
    clock : callable
        Seconds on a monotonic clock (``time.monotonic``); times stalls, outages and
        connections.

    Attributes
    ----------
    ring : RingBuffer
    stream_rings : dict of str to RingBuffer
        The newest samples of each extra stream, ``buffer_seconds`` of them at its own rate.
    layout : BoardLayout
    state : str
        One of :data:`STATES`.
    n_samples : int
        Samples received.
    n_dropped : int
        Samples lost, from the package counter.
    error : BaseException | None
        Why the acquisition failed.
    """

    #: Back-off between reconnection attempts: first delay and ceiling, in seconds.
    backoff = (0.1, 2.0)

    def __init__(
        self,
        source: Source,
        *,
        buffer_seconds: float = 60.0,
        poll_interval: float = 0.01,
        on_chunk: OnChunk | None = None,
        on_event: OnEvent | None = None,
        on_stream: Callable[[str, np.ndarray, int, float], None] | None = None,
        reconnect: bool = True,
        stall_timeout: float = 3.0,
        open_timeout: float = 30.0,
        stop_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (
            ("buffer_seconds", buffer_seconds),
            ("poll_interval", poll_interval),
            ("stall_timeout", stall_timeout),
            ("open_timeout", open_timeout),
            ("stop_timeout", stop_timeout),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not (math.isfinite(value) and value > 0)
            ):
                raise ValueError(f"Acquisition: {name} must be a number > 0, got {value!r}")
        callbacks = (("on_chunk", on_chunk), ("on_event", on_event), ("on_stream", on_stream))
        for name, fn in (*callbacks, ("clock", clock)):
            if fn is not None and not callable(fn):
                raise TypeError(f"Acquisition: {name} must be callable or None, got {fn!r}")
        layout = getattr(source, "layout", None)
        if not isinstance(layout, BoardLayout):
            raise TypeError(f"Acquisition: source must have a BoardLayout .layout, got {source!r}")
        self.source = source
        self.layout = layout
        self.poll_interval = float(poll_interval)
        self.stall_timeout = float(stall_timeout)
        self.open_timeout = float(open_timeout)
        self.stop_timeout = float(stop_timeout)
        self.clock = clock
        self.reconnect = bool(reconnect)
        self.on_chunk = on_chunk
        self.on_event = on_event
        self.on_stream = on_stream
        capacity = max(1, round(buffer_seconds * layout.sfreq))
        self.ring = RingBuffer(layout.n_rows, capacity)
        self.stream_rings = {
            st.name: RingBuffer(st.n_rows, max(1, round(buffer_seconds * st.sfreq)))
            for st in layout.streams
        }
        self._read_streams = getattr(source, "read_streams", None) if layout.streams else None
        self.state = "idle"
        self.n_samples = 0
        self.n_dropped = 0
        self.n_reconnects = 0
        self.error: BaseException | None = None
        self._drops = DropDetector(layout)
        self._count_drops = True  # off while a board sends rows that are no samples
        self._drops_restart = False  # the counter starts afresh at the next block
        self._stop_event = threading.Event()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._opening: _Opening | None = None
        self._lost_at: float | None = None  # clock() when the board was lost
        # outage measurement: lost after samples had come, the next block ends the gap
        self._gap_pending = False
        self._last_clock: float | None = None  # clock() at the last delivery
        self._ts_history = np.zeros(0)  # board timestamps of the newest continuous samples

    def __repr__(self) -> str:
        return (
            f"<Acquisition | {self.state}, {self.n_samples} samples, "
            f"{self.n_dropped} dropped, {self.layout.sfreq:g} Hz>"
        )

    # -- public API ----------------------------------------------------------------------------

    def start(self) -> None:
        """Open the source and start the acquisition thread.

        The wait is bounded by ``open_timeout`` (on :attr:`clock`), ends early when
        :meth:`stop` is called from another thread, and a Ctrl-C interrupts it.

        Raises
        ------
        DeviceError
            If the source cannot be opened (wrong serial port, no dongle, ...), does not open
            within ``open_timeout``, or :meth:`stop` was called meanwhile; the source is
            released and the state is ``"failed"`` (``"stopped"`` after :meth:`stop`).
        """
        if self._thread is not None or self.state != "idle":
            raise RuntimeError(f"Acquisition.start: already started (state {self.state!r})")
        self._set_state("connecting")
        try:
            if not self._open(give_up=True):
                raise DeviceError(f"connecting to {self._label()} was cancelled")
            with self._cond:  # a stop() from now on joins the thread
                if self._stop_event.is_set():
                    raise DeviceError(f"connecting to {self._label()} was cancelled")
                self.state = "streaming"
                self._thread = threading.Thread(
                    target=self._run, name="nfb-acquisition", daemon=True
                )
                self._thread.start()
                self._cond.notify_all()
        except BaseException as err:
            self._close_source()
            self.error = err
            self._set_state("stopped" if self._stop_event.is_set() else "failed")
            raise

    def stop(self) -> None:
        """Stop the thread and release the source; idempotent, safe from any thread.

        Bounded: a thread stuck in a driver is left behind after ``stop_timeout`` seconds
        (one warning); a connection in progress is abandoned (its board is released when, if
        ever, the driver returns).
        """
        with self._cond:
            self._stop_event.set()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.stop_timeout)
            if thread.is_alive():
                logger.warning(
                    "%s: the board driver did not return within %g s; left behind",
                    self._label(),
                    self.stop_timeout,
                )
        opening = self._opening
        if opening is not None:
            opening.abandon()
        self._close_source()
        if self.state not in ("failed", "stopped"):
            self._set_state("stopped")

    def lost_for(self) -> float | None:
        """Seconds (on :attr:`clock`) since the board was lost, None once it sends samples
        again (a board that re-opens but sends nothing is still lost)."""
        lost = self._lost_at
        return None if lost is None else max(0.0, self.clock() - lost)

    def count_drops(self, on: bool) -> None:
        """Count losses from the package counter (the default), or not.

        Off while the board sends rows that are not samples under counters of their own (a
        Ganglion's impedance test numbers its packets 201-205); back on, the counter is
        read afresh from the next block, as after a reconnect.
        """
        if on:
            self._drops_restart = True
        self._count_drops = bool(on)

    def insert_marker(self, value: float) -> None:
        """Mark the next sample with ``value`` (non-zero) in the source's marker row.

        Raises
        ------
        DeviceError
            If the acquisition is not streaming.
        """
        if self.state != "streaming":
            raise DeviceError(f"cannot insert a marker: acquisition is {self.state}")
        self.source.insert_marker(value)

    def wait_samples(self, n: int, timeout: float | None = None) -> bool:
        """Block until ``n_samples >= n``; False on timeout or if the acquisition ended.

        ``timeout`` is in seconds on :attr:`clock`; a Ctrl-C interrupts the wait.
        """
        deadline = None if timeout is None else self.clock() + timeout
        with self._cond:
            while self.n_samples < n:
                if self.state in ("stopped", "failed", "idle"):
                    return False
                remaining = None if deadline is None else deadline - self.clock()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(WAIT_SLICE_S if remaining is None else min(remaining, 0.25))
            return True

    @property
    def is_alive(self) -> bool:
        """True while the acquisition thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Acquisition:
        if self.state == "idle":
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- thread --------------------------------------------------------------------------------

    def _set_state(self, state: str) -> None:
        with self._cond:
            self.state = state
            self._cond.notify_all()

    def _emit(self, kind: str, info: dict | None = None, sample_index: int | None = None) -> None:
        info = {} if info is None else info
        logger.debug("acquisition event %s %s", kind, info)
        if self.on_event is not None:
            at = self.ring.n_written if sample_index is None else sample_index
            self.on_event(kind, at, info)

    def _label(self) -> str:
        label = getattr(self.source, "label", None) or getattr(self.source, "name", None)
        return str(label or "the source")

    def _open(self, *, give_up: bool) -> bool:
        """Open the source in a thread of its own and wait for it.

        Returns True once it is open, False if :meth:`stop` was called meanwhile (the attempt
        is abandoned). Raises what the source raised; with ``give_up``, a
        :class:`~nfb.errors.DeviceError` after ``open_timeout`` seconds (without, a warning,
        and the wait goes on: the stuck attempt holds the driver, a new one would wait too).
        """
        opening = self._opening = _Opening(self.source)
        started = self.clock()
        warned = False
        try:
            while not opening.done.wait(WAIT_SLICE_S):
                if self._stop_event.is_set():
                    opening.abandon()
                    return False
                waited = self.clock() - started
                if waited > self.open_timeout and give_up:
                    opening.abandon()
                    raise DeviceError(
                        f"{self._label()} did not finish connecting within "
                        f"{self.open_timeout:g} s; switch the board off and on (or re-plug "
                        "its dongle) and try again"
                    )
                if waited > self.open_timeout and not warned:
                    warned = True
                    logger.warning(
                        "%s: reconnecting has not returned for %g s; still waiting",
                        self._label(),
                        self.open_timeout,
                    )
        except BaseException:  # Ctrl-C in the waiting thread
            opening.abandon()
            raise
        finally:
            if opening.done.is_set():
                self._opening = None
        if opening.error is not None:
            raise opening.error
        return True

    def _close_source(self) -> None:
        try:
            self.source.close()
        except Exception:  # a Source must not raise here; be safe anyway
            logger.debug("source.close() raised", exc_info=True)

    def _run(self) -> None:
        try:
            self._emit("connected", {})
            self._loop()
        except BaseException as err:
            self.error = err
            self._set_state("failed")
            logger.error("acquisition failed: %s", err)
            try:
                self._emit("failed", {"error": str(err)})
            except Exception:
                logger.debug("on_event raised while reporting a failure", exc_info=True)
        finally:
            self._close_source()
            if self.state not in ("failed", "stopped"):
                self._set_state("stopped")

    def _loop(self) -> None:
        last_data = self.clock()
        while not self._stop_event.is_set():
            try:
                block = self.source.read()
                block = np.asarray(block, dtype=np.float64)
                if block.ndim != 2 or block.shape[0] != self.layout.n_rows:
                    raise DeviceError(
                        f"source delivered shape {block.shape}, expected ({self.layout.n_rows}, n)"
                    )
                extra = self._read_streams() if self._read_streams is not None else {}
            except EndOfStream as err:
                logger.info("%s", err)
                self._set_state("stopped")
                self._emit("ended", {"reason": str(err)})
                return
            except Exception as err:
                # recover outside the handler: the traceback must not keep the old handle alive
                lost = str(err) or type(err).__name__
            else:
                lost = None
            if lost is not None:
                if not self._recover(lost):
                    return
                last_data = self.clock()
                continue
            if block.shape[1]:
                self._deliver(block)
                last_data = self.clock()
            self._deliver_streams(extra)
            if not block.shape[1] and self.clock() - last_data > self.stall_timeout:
                if not self._recover(f"no samples for {self.stall_timeout:g} s", since=last_data):
                    return
                last_data = self.clock()
                continue
            self._stop_event.wait(self.poll_interval)

    def _deliver(self, block: np.ndarray) -> None:
        wall = time.time()
        now = self.clock()
        if self._drops_restart:
            self._drops_restart = False
            self._drops.reset()
        losses = self._drops.losses(block) if self._count_drops else []
        outage = self._measure_outage(block, now) if self._gap_pending else None
        index = self.ring.append(block)
        with self._cond:
            self.n_samples += block.shape[1]
            self._lost_at = None
            self._cond.notify_all()
        sfreq = self.layout.sfreq
        if outage is not None:
            self._gap_pending = False
            duration, clock = outage
            gap = Gap.measured(index, duration, sfreq, "disconnect", clock)
            logger.warning(
                "the board was silent %.2f s (by its %s): %d samples missing before sample %d",
                duration,
                clock,
                gap.missing,
                index,
            )
            self._emit_gap(gap)
        for at, count, clock in losses:
            self.n_dropped += count
            logger.warning("%d samples dropped before sample %d", count, index + at)
            self._emit("dropped", {"count": count}, sample_index=index + at)
            self._emit_gap(Gap(index + at, count, count / sfreq, "dropped", clock))
        self._keep_timestamps(block, losses, restart=outage is not None)
        self._last_clock = now
        self._source_events(index + block.shape[1])
        if self.on_chunk is not None:
            self.on_chunk(block, index, wall)

    def _deliver_streams(self, extra: dict[str, np.ndarray]) -> None:
        """Hand out the extra streams' new samples, stamped with the EEG samples received."""
        wall = time.time()
        for name, data in extra.items():
            if not data.shape[1]:
                continue
            self.stream_rings[name].append(data)
            if self.on_stream is not None:
                self.on_stream(name, data, self.ring.n_written, wall)

    def _emit_gap(self, gap: Gap) -> None:
        info = gap.fields()
        at = info.pop("at")
        self._emit(GAP_EVENT, info, sample_index=at)

    def _measure_outage(self, block: np.ndarray, now: float) -> tuple[float, str] | None:
        """Seconds between the last sample before an outage and ``block``'s first, and the
        clock that measured it (see the module docstring); None if nothing came before."""
        sfreq = self.layout.sfreq
        n = block.shape[1]
        row = self.layout.timestamp_row
        history = self._ts_history
        if row is not None and history.size:
            # a sample arrives after it was taken, never before: the earliest time each side
            # is consistent with, at the board's rate, is the closest to the truth
            with np.errstate(invalid="ignore"):
                first = np.nanmin(block[row] - np.arange(n) / sfreq) if n else np.nan
                last = np.nanmin(history + np.arange(history.size)[::-1] / sfreq)
            duration = float(first - last) - 1.0 / sfreq
            if math.isfinite(duration) and first > 0 and last > 0 and duration > -1.0 / sfreq:
                return duration, "timestamp"
        if self._last_clock is None:
            return None
        # the block's newest sample was taken about now, its first n - 1 periods earlier
        return now - self._last_clock - n / sfreq, "monotonic"

    def _keep_timestamps(self, block: np.ndarray, losses: list, *, restart: bool) -> None:
        """Keep the timestamps of the newest samples received without a loss between them."""
        row = self.layout.timestamp_row
        if row is None or not block.shape[1]:
            return
        ts = block[row]
        if losses:
            ts, restart = ts[losses[-1][0] :], True
        keep = max(1, round(TIMESTAMP_HISTORY_S * self.layout.sfreq))
        joined = ts if restart else np.concatenate((self._ts_history, ts))
        self._ts_history = joined[-keep:].copy()

    def _source_events(self, end: int) -> None:
        """Events a source reports itself (an LSL stream's gaps and markers).

        A source may have ``take_events()``: ``(kind, sample_index, info)`` tuples, indices
        in the samples it delivered (the ring's), none beyond ``end``. A ``"dropped"`` event
        counts its losses as the package counter's do, and is a gap too (clock
        ``"source"``; reported when the source knows it, which may be after its place).
        """
        take = getattr(self.source, "take_events", None)
        if take is None:
            return
        for kind, sample_index, info in take():
            at = min(int(sample_index), end)
            if kind == "dropped":
                count = int(info.get("count", 0))
                self.n_dropped += count
                logger.warning("%d samples dropped before sample %d", count, at)
            self._emit(kind, dict(info), sample_index=at)
            if kind == "dropped" and count > 0:
                rate = self.layout.sfreq
                self._emit_gap(Gap(at, count, count / rate, "dropped", "source"))

    def _recover(self, reason: str, since: float | None = None) -> bool:
        """Handle a lost board (silent since ``since`` on the clock, default now); True once it
        streams again, False to end the thread."""
        # before the first sample a stall only means "not started yet": the caller decides
        log = logger.warning if self.n_samples else logger.info
        log("board lost: %s", reason)
        lost_at = self.clock()
        if self._lost_at is None:  # a board that re-opens but sends nothing stays lost
            self._lost_at = lost_at if since is None else since
        # the samples that come next end a gap on the timeline (once there were samples)
        self._gap_pending = self.n_samples > 0
        self._set_state("disconnected")
        self._emit("disconnected", {"reason": reason})
        self._close_source()
        if not self.reconnect:
            self.error = DeviceError(reason)
            self._set_state("failed")
            self._emit("failed", {"error": reason})
            return False
        delay, ceiling = self.backoff
        attempt = 0
        while not self._stop_event.is_set():
            attempt += 1
            self._set_state("reconnecting")
            self._emit("reconnecting", {"attempt": attempt, "reason": reason})
            try:
                if not self._open(give_up=False):
                    break
            except Exception as err:
                reason = str(err)
                logger.info("reconnect attempt %d failed: %s", attempt, reason)
                self._close_source()
                if self._stop_event.wait(delay):
                    break
                delay = min(delay * 2, ceiling)
                continue
            self._drops.reset()
            self.n_reconnects += 1
            self._set_state("streaming")
            outage = self.clock() - lost_at
            log("board back after %.1f s (attempt %d)", outage, attempt)
            self._emit("reconnected", {"attempt": attempt, "outage_s": outage})
            return True
        return False
