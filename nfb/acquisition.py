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
from .sources import BoardLayout, EndOfStream, Source

#: States of an :class:`Acquisition`.
STATES = ("idle", "connecting", "streaming", "disconnected", "reconnecting", "stopped", "failed")
#: Kinds of events passed to ``on_event``.
EVENTS = ("connected", "disconnected", "reconnecting", "reconnected", "dropped", "failed", "ended")

OnChunk = Callable[[np.ndarray, int, float], None]
OnEvent = Callable[[str, int, dict], None]

#: Longest single wait (s) of a thread that waits for another: a Ctrl-C is seen within this
#: (on Windows a long lock wait is not interrupted by it).
WAIT_SLICE_S = 0.05


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
    c = np.asarray(counter, dtype=np.float64).ravel()
    if previous is not None:
        c = np.concatenate(([float(previous)], c))
    c = c[np.isfinite(c)]
    if c.size < 2:
        return 0
    d = np.diff(c)
    if modulo:
        d = np.mod(d, modulo)
    else:
        d[d < 0] = step  # a restart: unknown loss, none counted
    ticks = np.rint(d / step)
    lost = np.clip(ticks - 1, 0, None) * repeat
    return int(lost.sum())


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
    c = np.asarray(counter, dtype=np.float64).ravel()
    if previous is not None:
        c = np.concatenate(([float(previous)], c))
    c = np.rint(c[np.isfinite(c)]).astype(np.int64)
    if c.size == 0:
        return 0, per_packet
    packet, sub = (c >> 8) & 0xFF, c & 0xFF
    seen = int(sub.max()) + 1
    per_packet = max(per_packet or 0, seen)
    if c.size < 2:
        return 0, per_packet
    d_packet = np.mod(np.diff(packet), 256)
    same = d_packet == 0
    # same packet: sub-packets between the two are lost
    lost_same = np.clip(np.diff(sub) - 1, 0, None)[same]
    # a later packet: the rest of the old one, whole packets between, the head of the new one
    nxt = ~same
    tail = np.clip(per_packet - 1 - sub[:-1][nxt], 0, None)
    between = (d_packet[nxt] - 1) * per_packet
    head = sub[1:][nxt]
    return int(lost_same.sum() + tail.sum() + between.sum() + head.sum()), per_packet


class DropDetector:
    """Stateful drop counter over successive blocks of one source.

    The board's :attr:`~nfb.sources.BoardLayout.counter_rule` says how: a wrapping sequence
    (:func:`count_dropped`), Athena's packet/sub-packet numbers
    (:func:`count_dropped_packets`), or not at all (no known rule).
    """

    def __init__(self, layout: BoardLayout) -> None:
        self.layout = layout
        self._previous: float | None = None
        self._per_packet: int | None = None

    def reset(self) -> None:
        """Forget the last counter value (after a reconnect the counter starts afresh)."""
        self._previous = None

    def update(self, block: np.ndarray) -> int:
        """Return the samples lost before and inside ``block`` (n_rows, n)."""
        row = self.layout.counter_row
        rule = self.layout.counter_rule
        if row is None or rule == "none" or block.shape[1] == 0:
            return 0
        counter = block[row]
        if rule == "packet":
            n, self._per_packet = count_dropped_packets(
                counter, previous=self._previous, per_packet=self._per_packet
            )
        else:
            n = count_dropped(
                counter,
                self.layout.counter_modulo,
                previous=self._previous,
                step=self.layout.counter_step,
                repeat=self.layout.counter_repeat,
            )
        last = counter[np.isfinite(counter)]
        if last.size:
            self._previous = float(last[-1])
        return n


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
        ``"dropped"`` (``{"count"}``), ``"failed"`` (``{"error"}``), ``"ended"`` (a finite source
        such as a file that does not loop delivered everything; the state becomes
        ``"stopped"``).
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
        for name, fn in (("on_chunk", on_chunk), ("on_event", on_event), ("clock", clock)):
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
        capacity = max(1, round(buffer_seconds * layout.sfreq))
        self.ring = RingBuffer(layout.n_rows, capacity)
        self.state = "idle"
        self.n_samples = 0
        self.n_dropped = 0
        self.n_reconnects = 0
        self.error: BaseException | None = None
        self._drops = DropDetector(layout)
        self._stop_event = threading.Event()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._opening: _Opening | None = None
        self._lost_at: float | None = None  # clock() when the board was lost

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
            elif self.clock() - last_data > self.stall_timeout:
                if not self._recover(f"no samples for {self.stall_timeout:g} s", since=last_data):
                    return
                last_data = self.clock()
                continue
            self._stop_event.wait(self.poll_interval)

    def _deliver(self, block: np.ndarray) -> None:
        wall = time.time()
        dropped = self._drops.update(block)
        index = self.ring.append(block)
        with self._cond:
            self.n_samples += block.shape[1]
            self._lost_at = None
            self._cond.notify_all()
        if dropped:
            self.n_dropped += dropped
            logger.warning("%d samples dropped before sample %d", dropped, index)
            # at the chunk in which the loss was seen (the counter tells how many, not where
            # inside the chunk): the BAD_dropped annotation starts at or before the gap
            self._emit("dropped", {"count": dropped}, sample_index=index)
        self._source_events(index + block.shape[1])
        if self.on_chunk is not None:
            self.on_chunk(block, index, wall)

    def _source_events(self, end: int) -> None:
        """Events a source reports itself (an LSL stream's gaps and markers).

        A source may have ``take_events()``: ``(kind, sample_index, info)`` tuples, indices
        in the samples it delivered (the ring's), none beyond ``end``. A ``"dropped"`` event
        counts its losses as the package counter's do.
        """
        take = getattr(self.source, "take_events", None)
        if take is None:
            return
        for kind, sample_index, info in take():
            at = min(int(sample_index), end)
            if kind == "dropped":
                self.n_dropped += int(info.get("count", 0))
                logger.warning("%d samples dropped before sample %d", info.get("count", 0), at)
            self._emit(kind, dict(info), sample_index=at)

    def _recover(self, reason: str, since: float | None = None) -> bool:
        """Handle a lost board (silent since ``since`` on the clock, default now); True once it
        streams again, False to end the thread."""
        # before the first sample a stall only means "not started yet": the caller decides
        log = logger.warning if self.n_samples else logger.info
        log("board lost: %s", reason)
        lost_at = self.clock()
        if self._lost_at is None:  # a board that re-opens but sends nothing stays lost
            self._lost_at = lost_at if since is None else since
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
