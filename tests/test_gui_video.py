"""Video feedback (issue 14): a real clip, decoded by QtMultimedia offscreen, drawn by the
client window; its brightness follows the level.

The clip is made here with PyAV (FFmpeg's libraries from PyPI): 1 s of 160×120 at 25 fps, a
light textured picture with a moving bar. Waiting is on frames delivered, never on sleeps.
"""

from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from nfb.errors import ConfigError
from nfb.feedback.level import FeedbackState
from nfb.gui.client_window import ClientWindow
from tests.test_client_window import pixels, settle
from tests.test_gui_console import console as console  # the fixture

pytest.importorskip("pytestqt")
av = pytest.importorskip("av", reason="PyAV (the test extras) makes the test clip")
# without libpulse0 QtMultimedia does not load: `make system-deps` installs it
pytest.importorskip("PyQt6.QtMultimedia", reason="QtMultimedia cannot load (libpulse0?)")

W, H = 320, 240
FPS, SECONDS = 25, 1


def make_clip(path: Path) -> Path:
    """Write a small MPEG-4 clip: a light picture with a dark bar moving across it."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        y, x = np.mgrid[0:120, 0:160]
        base = (170 + 40 * np.sin(x / 9.0) * np.cos(y / 7.0)).astype(np.uint8)
        for i in range(FPS * SECONDS):
            rgb = np.stack([base, base, np.clip(base.astype(int) + 20, 0, 255)], axis=-1)
            rgb = rgb.astype(np.uint8)
            rgb[:, (i * 6) % 160 : (i * 6) % 160 + 8] = 30
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture
def clip(tmp_path):
    return make_clip(tmp_path / "clip.mp4")


@pytest.fixture
def window(qtbot):
    win = ClientWindow(FeedbackState(paused=False, active=True, level=0.5))
    qtbot.addWidget(win)
    win.resize(W, H)
    win.set_mode("bar")
    yield win
    if win.video is not None:
        win.video.close()


def test_the_clip_plays_loops_and_its_brightness_follows_the_level(qtbot, window, clip):
    window.set_video(clip)
    window.set_mode("video")
    assert window.mode == "video" and window.video_path == clip
    # frames arrive, and keep arriving past the clip's end: it loops
    qtbot.waitUntil(lambda: window.video.frames_received > 1.5 * FPS * SECONDS, timeout=15000)

    def brightness(level):
        window.state.level = level
        settle(window)  # the smoothed display level reaches it
        return pixels(window).mean()

    dim, full = brightness(0.1), brightness(0.9)
    assert full > 2.2 * dim > 0  # (0.25 + 0.75 · level): 0.325 against 0.925 of the picture
    assert full > 120  # at a high level the light clip shows nearly as it is


def test_the_size_of_the_video_can_follow_the_level(qtbot, window, clip):
    window.set_video(clip)
    window.set_video_follow({"size"})
    window.set_mode("video")
    qtbot.waitUntil(lambda: window.video.frames_received > 3, timeout=15000)

    def area(level):
        window.state.level = level
        settle(window)
        return (pixels(window).max(axis=2) > 20).mean()  # lit part of the black window

    small, large = area(0.1), area(0.9)
    assert large > 1.8 * small > 0.1
    with pytest.raises(ConfigError, match="cannot follow colour"):
        window.set_video_follow({"colour"})


def test_the_volume_of_the_video_can_follow_the_level(qtbot, window, clip):
    window.set_video(clip)
    window.set_mode("video")
    assert window.video.volume == pytest.approx(1.0)  # not following: the file's own sound
    window.set_video_follow({"brightness", "volume"})
    volumes = []
    for level in (0.1, 0.9):
        window.state.level = level
        settle(window)
        volumes.append(window.video.volume)
    assert volumes[0] < 0.3 < 0.85 < volumes[1]
    window.set_video_follow({"brightness"})
    assert window.video.volume == pytest.approx(1.0)


def test_a_missing_file_is_refused_and_the_mode_stays(window, tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        window.set_video(tmp_path / "nothing.mp4")
    with pytest.raises(ConfigError, match="choose a video file first"):
        window.set_mode("video")
    assert window.mode == "bar"


def test_a_file_that_is_no_video_falls_back_to_the_previous_mode(qtbot, window, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("these are notes, not a video\n")
    window.set_mode("circle")
    window.set_video(bad)
    with qtbot.waitSignal(window.video_failed, timeout=10000) as blocker:
        window.set_mode("video")
    (message,) = blocker.args
    assert message.startswith(f"video file {str(bad)!r} cannot be played")
    assert "\n" not in message
    assert window.mode == "circle" and window.video_path is None


def test_the_video_pauses_outside_training(qtbot, window, clip):
    from nfb.feedback import visual

    window.set_video(clip)
    window.set_mode("video")
    qtbot.waitUntil(lambda: window.video.playing, timeout=10000)
    window.set_screen(visual.step_screen("rest"))
    assert not window.video.playing
    window.set_screen(visual.step_screen("block"))
    assert window.video.playing
    assert Qt.WindowType.Window & window.windowFlags()


def test_the_console_chooses_a_video_and_says_when_it_cannot_play(
    qtbot, console, own_windows, clip, tmp_path
):
    """The console's Video… choice, its follow box, the choice remembered, a bad file."""
    from nfb.gui.console import ConsoleWindow

    win = console.client_window
    console.mode_box.setCurrentText("circle")
    console.mode_box.setCurrentText("video")  # no video chosen yet: said, and nothing changes
    assert console.error_bar.isVisibleTo(console) and "choose a video" in console.error_text.text()
    assert win.mode == console.mode_box.currentText() == "circle"
    console.dismiss_error()
    console.video_follow_box.setCurrentText("brightness + size")
    assert win.video_follow == {"brightness", "size"}
    assert console.use_video(clip)
    assert win.mode == console.mode_box.currentText() == "video"
    qtbot.waitUntil(lambda: win.video.frames_received > 3, timeout=15000)
    console.save_settings()
    assert console.settings.value("last/video") == str(clip)
    state = FeedbackState()  # the next run: the same video, shown the same way
    second = own_windows(
        ConsoleWindow(
            tmp_path / "sessions2",
            settings=console.settings,
            client_window=ClientWindow(state),
            state=state,
        )
    )
    assert second.client_window.video_path == clip and second.client_window.mode == "video"
    assert second.client_window.video_follow == {"brightness", "size"}
    bad = tmp_path / "holiday.mp4"
    bad.write_bytes(b"\0" * 4096)
    assert console.use_video(bad)  # readable: the player finds out a moment later
    qtbot.waitUntil(lambda: console.mode_box.currentText() == "circle", timeout=10000)
    assert win.mode == "circle"
    text = console.error_text.text()
    assert console.error_bar.isVisibleTo(console) and "holiday.mp4" in text and "\n" not in text
    assert not console.use_video(tmp_path / "gone.mp4")
    assert "not found" in console.error_text.text() and win.mode == "circle"


@pytest.mark.parametrize("fit", [(80, 60), (320, 240)])  # half resolution, full resolution
def test_the_numpy_conversion_matches_qts(qtbot, clip, fit):
    from PyQt6.QtCore import QSize, QUrl
    from PyQt6.QtGui import QImage
    from PyQt6.QtMultimedia import QMediaPlayer, QVideoFrame, QVideoFrameFormat, QVideoSink

    from nfb.gui.video import frame_to_image

    player, sink, frames = QMediaPlayer(), QVideoSink(), []
    player.setVideoSink(sink)
    sink.videoFrameChanged.connect(lambda f: frames.append(QVideoFrame(f)))
    player.setSource(QUrl.fromLocalFile(str(clip)))
    player.play()
    qtbot.waitUntil(lambda: len(frames) > 2, timeout=10000)
    player.stop()
    frame = frames[-1]
    assert frame.pixelFormat() == QVideoFrameFormat.PixelFormat.Format_YUV420P
    ours = frame_to_image(frame, QSize(*fit))
    assert ours.width() == (80 if fit[0] == 80 else 160)
    theirs = frame.toImage().scaled(ours.size()).convertToFormat(QImage.Format.Format_RGB32)

    def rgb(img):
        b = img.constBits().asstring(img.sizeInBytes())
        a = np.frombuffer(b, np.uint8).reshape(img.height(), img.bytesPerLine())
        return a[:, : 4 * img.width()].reshape(img.height(), img.width(), 4)[..., :3].astype(int)

    assert np.abs(rgb(ours) - rgb(theirs)).mean() < 3
