"""The feedback tone through Qt: a pull-mode ``QAudioSink`` fed by :class:`ToneGenerator`.

The sink asks for PCM as it needs it (``QIODevice.readData``, in the sink's own thread), and the
generator renders just that much from the current :class:`~nfb.feedback.level.FeedbackState`.
The latency is the sink's buffer (about 80 ms). Sound is optional: without an output device,
without PulseAudio or without the QtMultimedia libraries, :meth:`AudioFeedback.start` returns
False, says why in :attr:`AudioFeedback.error`, and the session goes on silently.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from PyQt6.QtCore import QIODevice, QObject, QThread, QTimer, pyqtSignal

from nfb._logging import logger
from nfb.feedback.level import FeedbackState
from nfb.feedback.tone import ToneGenerator

BUFFER_S = 0.08  # sink buffer: the audio latency
OPEN_TIMEOUT_S = 5.0  # opening or closing the output never blocks the GUI longer
# an open output that takes no PCM for this long has died (e.g. the sound server went away;
# an idle PulseAudio null sink may take up to 2 s to start pulling)
STALL_S = 3.0
_STUCK_THREADS: list[QThread] = []  # output threads that did not stop: kept alive


class _ToneDevice(QIODevice):
    """A read-only, endless QIODevice whose data is the generator's PCM."""

    def __init__(self, generator: ToneGenerator, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._generator = generator

    def isSequential(self) -> bool:
        return True

    def bytesAvailable(self) -> int:
        # endless: the sink may read as much as its buffer holds
        return 1 << 20

    def readData(self, maxlen: int) -> bytes:
        n = int(maxlen) // 2  # int16 mono: whole samples only
        if n <= 0:
            return b""
        try:
            return self._generator.render(n).tobytes()
        except Exception:  # never let an exception into Qt's audio callback
            logger.exception("audio: the tone generator failed; playing silence")
            return bytes(2 * n)

    def writeData(self, data: Any) -> int:
        return -1


class _SinkThread(QThread):
    """Owns the ``QAudioSink``: Qt calls ``readData`` from this thread's event loop."""

    failed = pyqtSignal(str)

    def __init__(self, generator: ToneGenerator, device: Any, fmt: Any) -> None:
        super().__init__()
        self.setObjectName("nfb-audio")
        self._generator = generator
        self._device, self._format = device, fmt
        self.opened = threading.Event()
        self.error: str | None = None
        self.buffer_bytes = 0

    def run(self) -> None:
        from PyQt6.QtMultimedia import QAudio, QAudioSink

        name = self._device.description()
        sink = io = None
        try:
            sink = QAudioSink(self._device, self._format)
            sink.setBufferSize(2 * round(BUFFER_S * self._generator.sample_rate))
            io = _ToneDevice(self._generator)
            # unbuffered: a buffered QIODevice would read ahead 16 KiB (190 ms of latency)
            io.open(QIODevice.OpenModeFlag.ReadOnly | QIODevice.OpenModeFlag.Unbuffered)
            sink.start(io)
            if sink.error() != QAudio.Error.NoError:
                self.error = f"audio output {name!r} failed ({sink.error().name}): sound is off"
            else:
                self.buffer_bytes = sink.bufferSize()
        except Exception as exc:  # sound is optional
            self.error = f"audio output {name!r} failed ({exc}): sound is off"
        self.opened.set()
        if self.error is None:
            gen = self._generator
            last = [gen.samples_rendered, time.monotonic()]

            def fail(why: str) -> None:
                if self.error is None:
                    self.error = f"audio output {name!r} {why}: sound is off until nfb restarts"
                    self.failed.emit(self.error)
                    self.quit()

            def on_state(_state: Any) -> None:
                err = sink.error()
                if err not in (QAudio.Error.NoError, QAudio.Error.UnderrunError):
                    fail(f"stopped ({err.name})")

            def check_pulling() -> None:
                now = time.monotonic()
                if gen.samples_rendered != last[0]:
                    last[:] = [gen.samples_rendered, now]
                elif now - last[1] > STALL_S:
                    fail(f"took no sound for {STALL_S:g} s")

            sink.stateChanged.connect(on_state)
            watchdog = QTimer()
            watchdog.timeout.connect(check_pulling)
            watchdog.start(max(50, round(250 * STALL_S)))
            self.exec()
            watchdog.stop()
            sink.stateChanged.disconnect(on_state)
        if sink is not None:
            sink.stop()
        if io is not None:
            io.close()
        sink = io = None  # deleted in the thread that created them


class AudioFeedback(QObject):
    """Play the feedback tone on the default audio output.

    Parameters
    ----------
    state : FeedbackState
        The feedback the tone follows (see :class:`~nfb.feedback.tone.ToneGenerator`).
    parent : QObject | None
        Qt parent.
    sample_rate : int
        Sample rate of the PCM.

    Notes
    -----
    The sink lives in its own thread ("nfb-audio"): Qt's PulseAudio sink asks for 256 samples
    every 5.8 ms from the event loop of the thread that owns it, so on the GUI thread a
    redraw or a dialog longer than the buffer (80 ms) would be heard as a gap.
    ``PyQt6.QtMultimedia`` is imported by :meth:`start` only, so a missing ``libpulse``
    (the import fails) costs the sound, never the application.

    An output that stops taking PCM for ``STALL_S`` seconds (the sound server died: Qt
    reports no error) emits :attr:`failed` and sets :attr:`error`. After that :meth:`start`
    refuses: Qt 6.11's PulseAudio backend does not reconnect, and a new sink would abort the
    process inside libpulse.
    """

    #: emitted with a one-line message when the output fails after a successful start
    failed = pyqtSignal(str)

    def __init__(
        self, state: FeedbackState, parent: QObject | None = None, sample_rate: int = 44100
    ) -> None:
        super().__init__(parent)
        self._generator = ToneGenerator(state, sample_rate)
        self._thread: _SinkThread | None = None
        self._error: str | None = None
        self._available = False
        self._dead = False  # the output died: Qt cannot open another in this process

    @property
    def generator(self) -> ToneGenerator:
        """The tone generator (pitch range, chime timing, inhibit gain...)."""
        return self._generator

    @property
    def available(self) -> bool:
        """True once :meth:`start` has opened an output, until the output fails."""
        return self._available

    @property
    def error(self) -> str | None:
        """Why there is no sound (one line), or None."""
        return self._error

    @property
    def playing(self) -> bool:
        """True between a successful :meth:`start` and :meth:`stop` (or a failure)."""
        return self._thread is not None

    def start(self) -> bool:
        """Open the default audio output and start pulling the tone.

        Returns
        -------
        ok : bool
            False, with :attr:`error` set, when there is no usable output; never raises.
        """
        if self._thread is not None:
            return True
        if self._dead:
            # Qt 6.11's PulseAudio backend does not reconnect after losing the server, and
            # a new QAudioSink then aborts the process in libpulse (pa_context_get_state)
            return self._fail(self._error or "audio output died: sound is off until nfb restarts")
        try:
            return self._start()
        except Exception as exc:  # sound is optional: never crash the app
            self._stop_thread()
            return self._fail(f"audio output failed ({exc}): sound is off")

    def _start(self) -> bool:
        try:
            from PyQt6.QtMultimedia import QAudioFormat, QMediaDevices
        except ImportError as exc:
            return self._fail(f"Qt audio is unavailable ({exc}): sound is off")
        device = QMediaDevices.defaultAudioOutput()
        if device.isNull():
            return self._fail("no audio output device: sound is off")
        fmt = QAudioFormat()
        fmt.setSampleRate(self._generator.sample_rate)
        fmt.setChannelCount(1)
        fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
        if not device.isFormatSupported(fmt):
            return self._fail(
                f"audio output {device.description()!r} does not take 16-bit mono at "
                f"{self._generator.sample_rate} Hz: sound is off"
            )
        thread = _SinkThread(self._generator, device, fmt)
        thread.failed.connect(self._on_failed)
        self._thread = thread
        thread.start()
        if not thread.opened.wait(OPEN_TIMEOUT_S):
            self._stop_thread()
            return self._fail(f"audio output {device.description()!r} did not open: sound is off")
        if thread.error is not None:
            self._stop_thread()
            return self._fail(thread.error)
        self._available, self._error = True, None
        logger.info(
            "audio: playing on %r (%d Hz, buffer %d bytes)",
            device.description(),
            self._generator.sample_rate,
            thread.buffer_bytes,
        )
        return True

    def stop(self) -> None:
        """Stop the sound and close the output (:meth:`start` opens it again)."""
        self._stop_thread()

    def set_volume(self, volume: float) -> None:
        """Master volume in [0, 1] (ramped by the generator, so it never clicks)."""
        self._generator.volume = min(1.0, max(0.0, float(volume)))

    def set_muted(self, muted: bool) -> None:
        """Mute or unmute (ramped)."""
        self._generator.muted = bool(muted)

    def set_mode(self, mode: str) -> None:
        """What the level drives: ``"pitch"``, ``"volume"`` or ``"pitch+volume"``."""
        self._generator.mode = mode

    def _on_failed(self, message: str) -> None:
        if self.sender() is not self._thread:  # a thread already stopped and replaced
            return
        self._dead = True
        self._stop_thread()
        self._fail(message)
        self.failed.emit(message)

    def _stop_thread(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        thread.quit()
        if not thread.wait(int(OPEN_TIMEOUT_S * 1000)):
            logger.warning("audio: the output thread did not stop in %.0f s", OPEN_TIMEOUT_S)
            _STUCK_THREADS.append(thread)  # never destroy a running QThread

    def _fail(self, message: str) -> bool:
        self._available = False
        self._error = message
        logger.warning("audio: %s", message)
        return False
