"""Video feedback: a video file the practitioner picks, played in a loop (QtMultimedia).

:class:`VideoSource` plays the file with a :class:`QMediaPlayer` into a :class:`QVideoSink`
and keeps the newest frame; the client window draws it, and how bright (and optionally how
large and how loud) it is follows the feedback level. Decoding runs in Qt's media threads;
each frame is converted to an image of the window's size in a worker thread of its own
(only the newest frame waiting is kept), and the GUI thread only blits. Measured under Xvfb
on this 2-core machine without a GPU, a 720p clip: Qt's ``QVideoFrame.toImage`` converts
with software OpenGL (about 25 ms a frame); in the GUI thread it took the client window's
paint to a median of 24 ms, and in a worker thread it still starved the console to 6
redraws a second. Planar YUV frames (what FFmpeg decodes most video to) are therefore
converted with NumPy, at the chroma planes' resolution when that still fills the window
(about 7 ms a 720p frame); other formats go through ``toImage``. No Python runs in Qt's
media threads: a slot there deadlocked against the GUI thread stopping the player.

A file that is missing or unreadable is refused at once (:class:`~nfb.errors.ConfigError`);
one that turns out not to be a video (the player finds out a moment later) is reported by the
:attr:`VideoSource.failed` signal with one line naming the file.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QObject, QSize, Qt, QUrl, pyqtSignal
from PyQt6.QtGui import QImage
from PyQt6.QtMultimedia import (
    QAudioOutput,
    QMediaPlayer,
    QVideoFrame,
    QVideoFrameFormat,
    QVideoSink,
)

from nfb._logging import logger
from nfb.errors import ConfigError
from nfb.feedback.visual import VIDEO_FOLLOW


def check_video_file(path: str | Path) -> Path:
    """The path of a video file the practitioner chose, if it can be opened at all.

    Raises
    ------
    ConfigError
        One line naming the file: missing, a folder, or not readable.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise ConfigError(f"video file {str(p)!r} not found")
    if not p.is_file():
        raise ConfigError(f"video file {str(p)!r} is not a file")
    if not os.access(p, os.R_OK):
        raise ConfigError(f"video file {str(p)!r} cannot be read (permission denied)")
    return p


class VideoSource(QObject):
    """A looping video player that keeps its newest frame for painting.

    Parameters
    ----------
    parent : QObject | None
        Owner (the client window).

    Attributes
    ----------
    failed : pyqtSignal(str)
        The file could not be played: one line for the practitioner.
    frame_arrived : pyqtSignal()
        A new frame is ready to paint.
    frames_received : int
        Frames the sink has delivered since the file was opened.
    path : Path | None
        The file being played.
    """

    failed = pyqtSignal(str)
    frame_arrived = pyqtSignal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._player = QMediaPlayer(self)
        self._sink = QVideoSink(self)
        self._audio = QAudioOutput(self)
        self._player.setVideoSink(self._sink)
        self._player.setAudioOutput(self._audio)
        self._player.setLoops(QMediaPlayer.Loops.Infinite)
        self._sink.videoFrameChanged.connect(self._on_frame)  # queued: a copy of the frame
        self._player.errorOccurred.connect(self._on_error)
        self._player.mediaStatusChanged.connect(self._on_status)
        self._image: QImage | None = None
        self._size = QSize(640, 480)  # the images' size: the window's (set_target_size)
        #: bumped by open/close: a frame converted for an earlier file is dropped
        self._generation = 0
        self._reported = False
        self.frames_received = 0
        self.path: Path | None = None
        self._converter = _Converter(weakref.WeakMethod(self._deliver))
        self.destroyed.connect(self._converter.stop)

    # ------------------------------------------------------------------ public API
    def open(self, path: str | Path) -> None:
        """Start playing ``path`` in a loop (from its start); checks that it can be read.

        Raises
        ------
        ConfigError
            If the file is missing or unreadable (nothing changes then). A file that is no
            video is reported later through :attr:`failed`.
        """
        p = check_video_file(path)
        self._player.stop()
        self._generation += 1
        self._image = None
        self.frames_received = 0
        self._reported = False
        self.path = p
        self._player.setSource(QUrl.fromLocalFile(str(p.resolve())))
        self._player.play()
        logger.info("video feedback: playing %s", p)

    def close(self) -> None:
        """Stop playing and forget the file."""
        self._player.stop()
        self._player.setSource(QUrl())
        self.path = None
        self._generation += 1
        self._image = None

    def set_playing(self, playing: bool) -> None:
        """Play or pause (kept where it is) the open file."""
        if self.path is None:
            return
        state = self._player.playbackState()
        if playing and state != QMediaPlayer.PlaybackState.PlayingState:
            self._player.play()
        elif not playing and state == QMediaPlayer.PlaybackState.PlayingState:
            self._player.pause()

    @property
    def playing(self) -> bool:
        """True while the player plays."""
        return self._player.playbackState() == QMediaPlayer.PlaybackState.PlayingState

    def set_volume(self, volume: float) -> None:
        """The video's own sound, 0..1."""
        self._audio.setVolume(min(1.0, max(0.0, float(volume))))

    @property
    def volume(self) -> float:
        """The video's own sound, 0..1."""
        return float(self._audio.volume())

    def set_target_size(self, width: int, height: int) -> None:
        """Fit the next frames into ``width`` × ``height`` pixels (the window's size)."""
        self._size = QSize(max(1, int(width)), max(1, int(height)))

    def image(self) -> QImage | None:
        """The newest frame, fitted to the target size; None before the first."""
        return self._image

    # ------------------------------------------------------------------ player events
    def _on_frame(self, frame: QVideoFrame) -> None:
        """A new frame (GUI thread): hand a copy to the converter, never keep ``frame``.

        PyQt's argument wraps the signal's own reference, which is gone once this slot
        returns: a frame kept for a later conversion crashed the app.
        """
        if frame.isValid():
            self._converter.submit(QVideoFrame(frame), self._size, self._generation)

    def _deliver(self, image: QImage, generation: int) -> None:
        """A converted frame (converter thread): the newest image, unless the file changed."""
        if generation != self._generation:
            return
        self._image = image
        self.frames_received += 1
        with contextlib.suppress(RuntimeError):  # the window is being torn down
            self.frame_arrived.emit()  # queued to the window's GUI-thread slot

    def _fail(self, why: str) -> None:
        if self._reported:
            return
        self._reported = True
        name = str(self.path) if self.path is not None else "?"
        message = f"video file {name!r} cannot be played: {why}"
        logger.warning("%s", message)
        self.close()
        self.failed.emit(message)

    def _on_error(self, error: QMediaPlayer.Error, text: str) -> None:
        if error == QMediaPlayer.Error.NoError:
            return
        why = {
            QMediaPlayer.Error.FormatError: "not a video file nfb can decode",
            QMediaPlayer.Error.ResourceError: "it could not be opened",
        }.get(error, text or error.name)
        self._fail(why)

    def _on_status(self, status: QMediaPlayer.MediaStatus) -> None:
        if status == QMediaPlayer.MediaStatus.InvalidMedia:
            self._fail("not a video file nfb can decode")
        elif status == QMediaPlayer.MediaStatus.LoadedMedia and not self._player.hasVideo():
            self._fail("it has no picture (sound only?)")


#: BT.601 limited-range YUV to RGB (what FFmpeg's software decoders hand over for SD/web
#: video; HD's BT.709 differs by a slight tint, which feedback does not need to get right)
_YUV_GAIN, _RV, _GU, _GV, _BU = 1.164, 1.596, 0.392, 0.813, 2.017


def frame_to_image(frame: QVideoFrame, fit: QSize) -> QImage:
    """An RGB32 image of ``frame``, at no more resolution than filling ``fit`` needs.

    Planar YUV 4:2:0 frames in memory are converted with NumPy (at half resolution when
    that still covers ``fit``); any other frame with Qt's ``QVideoFrame.toImage``.
    """
    fmt = frame.pixelFormat()
    planar = fmt in (
        QVideoFrameFormat.PixelFormat.Format_YUV420P,
        QVideoFrameFormat.PixelFormat.Format_NV12,
    )
    if not planar or frame.handleType() != QVideoFrame.HandleType.NoHandle:
        return frame.toImage()
    if not frame.map(QVideoFrame.MapMode.ReadOnly):
        return frame.toImage()
    try:
        w, h = frame.width() // 2 * 2, frame.height() // 2 * 2

        def plane(i: int, rows: int) -> np.ndarray:
            bpl = frame.bytesPerLine(i)
            bits = frame.bits(i)
            bits.setsize(bpl * rows)
            return np.frombuffer(bits, np.uint8).reshape(rows, bpl)

        if fmt == QVideoFrameFormat.PixelFormat.Format_NV12:
            uv = plane(1, h // 2)[:, :w].reshape(h // 2, w // 2, 2)
            u, v = uv[..., 0], uv[..., 1]
        else:
            u, v = plane(1, h // 2)[:, : w // 2], plane(2, h // 2)[:, : w // 2]
        scale = min(fit.width() / w, fit.height() / h)
        if scale <= 0.5:  # the chroma grid is enough: every other luma sample
            y = plane(0, h)[:h:2, :w:2]
        else:
            y = plane(0, h)[:h, :w]
            u, v = (np.repeat(np.repeat(c, 2, axis=0), 2, axis=1) for c in (u, v))
        yf = (y.astype(np.float32) - 16.0) * _YUV_GAIN
        uf = u.astype(np.float32) - 128.0
        vf = v.astype(np.float32) - 128.0
        out = np.empty((*yf.shape, 4), np.uint8)  # B, G, R, 255: RGB32 in memory
        np.clip(yf + _BU * uf, 0, 255, out=uf)
        out[..., 0] = uf
        np.clip(yf + _RV * vf, 0, 255, out=uf)
        out[..., 2] = uf
        np.clip(yf - _GU * (u.astype(np.float32) - 128.0) - _GV * vf, 0, 255, out=vf)
        out[..., 1] = vf
        out[..., 3] = 255
    finally:
        frame.unmap()
    rows, cols = out.shape[:2]
    return QImage(out.data, cols, rows, 4 * cols, QImage.Format.Format_RGB32).copy()


class _Converter:
    """A worker thread that converts the newest submitted frame to a fitted RGB32 image.

    Parameters
    ----------
    deliver : weakref.WeakMethod
        ``deliver(image, generation)``, called in the worker thread; the thread ends when
        its owner is gone or :meth:`stop` is called.
    """

    def __init__(self, deliver: weakref.WeakMethod) -> None:
        self._deliver = deliver
        self._cond = threading.Condition()
        self._pending: tuple | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="nfb-video", daemon=True)
        self._thread.start()

    def submit(self, frame: QVideoFrame, size: QSize, generation: int) -> None:
        """Convert ``frame`` next (a frame still waiting is dropped: the newest wins)."""
        with self._cond:
            self._pending = (frame, QSize(size), generation)
            self._cond.notify()

    def stop(self, *_args) -> None:
        """End the thread after the conversion in progress (does not wait for it)."""
        with self._cond:
            self._stopped = True
            self._pending = None
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stopped:
                    self._cond.wait(0.5)
                    if self._deliver() is None:  # the source is gone
                        return
                if self._stopped:
                    return
                frame, size, generation = self._pending
                self._pending = None
            try:
                image = frame_to_image(frame, size)
                if image.isNull():
                    continue
                image = image.scaled(
                    size,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                ).convertToFormat(QImage.Format.Format_RGB32)  # what the painter blits
            except Exception:  # never let a bad frame end the thread
                logger.exception("video feedback: a frame could not be converted")
                continue
            del frame
            deliver = self._deliver()
            if deliver is None:
                return
            deliver(image, generation)
            del deliver


__all__ = ["VIDEO_FOLLOW", "VideoSource", "check_video_file", "frame_to_image"]
