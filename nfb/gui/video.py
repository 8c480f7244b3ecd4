"""Video feedback: a video file the practitioner picks, played in a loop (QtMultimedia).

:class:`VideoSource` plays the file with a :class:`QMediaPlayer` into a :class:`QVideoSink`
and keeps the newest frame; the client window draws it, and how bright (and optionally how
large and how loud) it is follows the feedback level. Decoding runs in Qt's media threads;
the frame is converted to an image in the GUI thread, once per new frame, when painted.

A file that is missing or unreadable is refused at once (:class:`~nfb.errors.ConfigError`);
one that turns out not to be a video (the player finds out a moment later) is reported by the
:attr:`VideoSource.failed` signal with one line naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from PyQt6.QtCore import QObject, QUrl, pyqtSignal
from PyQt6.QtGui import QImage
from PyQt6.QtMultimedia import QAudioOutput, QMediaPlayer, QVideoFrame, QVideoSink

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
        self._sink.videoFrameChanged.connect(self._on_frame)
        self._player.errorOccurred.connect(self._on_error)
        self._player.mediaStatusChanged.connect(self._on_status)
        self._frame: QVideoFrame | None = None
        self._image: QImage | None = None
        self._image_of = -1  # frames_received when _image was converted
        self._reported = False
        self.frames_received = 0
        self.path: Path | None = None

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
        self._frame, self._image, self._image_of = None, None, -1
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
        self._frame, self._image = None, None

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

    def image(self) -> QImage | None:
        """The newest frame as an image (converted once per frame), None before the first."""
        if self._frame is None:
            return None
        if self._image_of != self.frames_received:
            image = self._frame.toImage()
            self._image = None if image.isNull() else image
            self._image_of = self.frames_received
        return self._image

    # ------------------------------------------------------------------ player events
    def _on_frame(self, frame: QVideoFrame) -> None:
        if not frame.isValid():
            return
        self._frame = frame
        self.frames_received += 1
        self.frame_arrived.emit()

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


__all__ = ["VIDEO_FOLLOW", "VideoSource", "check_video_file"]
