"""The client window, drawn offscreen: what it shows is measured from its pixels."""

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage

from nfb.errors import ConfigError
from nfb.feedback.level import FeedbackState
from nfb.gui.client_window import ClientWindow
from tests.test_gui_console import console as console  # the fixture

W, H = 400, 600
DT = 1 / 60


@pytest.fixture
def make_window(qtbot):
    def make(mode="bar", **state):
        st = FeedbackState(**{"paused": False, "active": True, **state})
        win = ClientWindow(st)
        qtbot.addWidget(win)
        win.resize(W, H)
        win.set_mode(mode)
        return win

    return make


def settle(win, n=180):
    """Advance the display clock by n frames (3 s at 60 Hz): the display reaches the level."""
    for _ in range(n):
        win.refresh(DT)


def pixels(win) -> np.ndarray:
    """The window as drawn, an (H, W, 3) uint8 RGB array."""
    img = win.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h = img.width(), img.height()
    buf = np.frombuffer(img.constBits().asstring(img.sizeInBytes()), np.uint8)
    return buf.reshape(h, img.bytesPerLine())[:, : 3 * w].reshape(h, w, 3).copy()


def shown(win, level, **state):
    """Pixels of ``win`` after the display settled at ``level``."""
    win.state.level = level
    for k, v in state.items():
        setattr(win.state, k, v)
    settle(win)
    return pixels(win)


def teal(px):
    """Pixels of the bar/circle fill (teal: green well above red)."""
    r, g = px[..., 0].astype(int), px[..., 1].astype(int)
    return (g > 110) & (g - r > 50)


def bar_height(px):
    rows = np.flatnonzero(teal(px[:, px.shape[1] // 2]))
    return 0 if rows.size == 0 else rows.max() - rows.min() + 1


def test_window_is_a_separate_titled_top_level_window(make_window):
    win = make_window()
    assert win.isWindow() and win.windowTitle() == "nfb — feedback"
    assert win.MODES == ("bar", "circle", "image", "pacer", "video")
    with pytest.raises(ConfigError, match="unknown mode"):
        win.set_mode("spiral")


def test_bar_height_rises_with_the_level(make_window):
    win = make_window("bar")
    low, high = bar_height(shown(win, 0.2)), bar_height(shown(win, 0.8))
    assert win.last_frame.level == pytest.approx(0.8, abs=1e-3)
    track = H * (1 - 2 * 0.08)
    assert low == pytest.approx(0.2 * track, abs=6)
    assert high == pytest.approx(0.8 * track, abs=6)


def test_bar_moves_smoothly_not_at_once(make_window):
    win = make_window("bar", level=0.2)
    settle(win)
    win.state.level = 0.8
    win.refresh(DT)
    one_frame = bar_height(pixels(win))
    assert one_frame < 0.25 * H * (1 - 2 * 0.08)  # still near 0.2 after one frame


def test_circle_area_rises_with_the_level(make_window):
    win = make_window("circle")
    low, high = teal(shown(win, 0.2)).sum(), teal(shown(win, 0.8)).sum()
    assert high > 2.5 * low > 0


def test_image_brightness_rises_with_the_level(make_window):
    win = make_window("image")
    low, high = shown(win, 0.2).mean(), shown(win, 0.8).mean()
    assert high > 1.5 * low


def test_image_is_sharper_at_a_high_level(make_window):
    win = make_window("image")

    def detail(px):  # mean absolute difference between neighbouring pixels, per unit brightness
        g = px.astype(float).mean(axis=2)
        return (np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean()) / g.mean()

    assert detail(shown(win, 0.95)) > 1.5 * detail(shown(win, 0.05))


@pytest.mark.parametrize("mode", ["bar", "circle", "image"])
def test_inhibit_dims_the_display_at_equal_level(make_window, mode):
    win = make_window(mode)
    clear = shown(win, 0.7).mean()
    dimmed = shown(win, 0.7, inhibited=True).mean()
    assert win.last_frame.level == pytest.approx(0.7, abs=1e-3)
    assert dimmed < 0.6 * clear


def test_reward_glow_brightens_the_bar(make_window):
    win = make_window("bar")
    plain = shown(win, 0.7).mean()
    assert shown(win, 0.7, reward=True).mean() > plain * 1.05


def test_pacer_is_larger_on_the_inhale_peak_than_late_in_the_exhale(make_window):
    win = make_window("pacer")
    win.set_pacer_bpm(6)  # 10 s a breath: 4 s inhale, 6 s exhale

    def disc_area(px):  # the pacer's light blue disc
        r, b = px[..., 0].astype(int), px[..., 2].astype(int)
        return ((b > 150) & (b - r > 40)).sum()

    settle(win, 60)  # t = 1 s: early inhale
    early = disc_area(pixels(win))
    settle(win, 180)  # t = 4 s: full
    full = disc_area(pixels(win))
    settle(win, 300)  # t = 9 s: late exhale
    late = disc_area(pixels(win))
    assert full > 2 * early and full > 2 * late
    assert win.pacer.phase(9.0)[0] == "exhale"


def test_pacer_words_follow_the_breath(make_window, monkeypatch):
    win = make_window("pacer")
    drawn = []
    from PyQt6.QtGui import QPainter

    orig = QPainter.drawText

    def spy(self, *args):
        drawn.append(args[-1])
        return orig(self, *args)

    monkeypatch.setattr(QPainter, "drawText", spy)
    settle(win, 60)
    win.grab()
    settle(win, 240)  # t = 5 s
    win.grab()
    assert drawn == ["breathe in", "breathe out"]


def test_changing_the_bpm_keeps_the_phase(make_window):
    win = make_window("pacer")
    settle(win, 90)  # 1.5 s into a 10 s breath
    before = win.pacer.size(win._pacer_t)
    win.set_pacer_bpm(12)
    assert win.pacer.period == 5.0
    assert win.pacer.size(win._pacer_t) == pytest.approx(before)
    with pytest.raises(ConfigError, match="bpm"):
        win.set_pacer_bpm(40)


def test_audio_only_protocol_shows_a_dark_screen_with_the_listen_text(make_window, monkeypatch):
    win = make_window("bar", visual=False)
    drawn = []
    from PyQt6.QtGui import QPainter

    orig = QPainter.drawText

    def spy(self, *args):
        drawn.append(args[-1])
        return orig(self, *args)

    monkeypatch.setattr(QPainter, "drawText", spy)
    px = shown(win, 0.9)
    assert drawn == ["eyes closed — listen to the tone"]
    assert not teal(px).any()  # no bar
    assert px.mean() < 12  # dark
    lit = px.max(axis=2) > 60  # but the text is there, in the middle
    rows = np.flatnonzero(lit.any(axis=1))
    assert rows.size > 5 and abs(rows.mean() - H / 2) < H * 0.1


def test_custom_image_and_unreadable_image(make_window, tmp_path):
    win = make_window("image")
    img = QImage(64, 48, QImage.Format.Format_RGB32)
    img.fill(Qt.GlobalColor.white)
    path = tmp_path / "white.png"
    assert img.save(str(path))
    win.set_image(path)
    px = shown(win, 1.0)
    assert px.mean() > 240  # full level: the image at full brightness, cover-scaled
    with pytest.raises(ConfigError, match="cannot read image file"):
        win.set_image(tmp_path / "missing.png")
    win.set_image(None)  # back to the built-in landscape
    assert shown(win, 1.0).mean() < 200


def test_fullscreen_toggle(make_window, qtbot):
    win = make_window()
    win.show()
    qtbot.waitExposed(win)

    def full():
        return win.isFullScreen() or bool(win.windowState() & Qt.WindowState.WindowFullScreen)

    win.toggle_fullscreen()
    assert full()
    win.toggle_fullscreen()
    assert not full()
    qtbot.keyClick(win, Qt.Key.Key_F11)
    assert full()
    qtbot.keyClick(win, Qt.Key.Key_Escape)
    assert not full()
    qtbot.mouseDClick(win, Qt.MouseButton.LeftButton)
    assert full()
    qtbot.keyClick(win, Qt.Key.Key_Escape)
    assert not full()


def test_refresh_without_dt_uses_the_clock(make_window):
    win = make_window("bar", level=0.5)
    win.state.level = 1.0
    win.refresh()
    win.refresh()
    assert 0.5 < win.last_frame.level < 0.6  # moved a little, not jumped


# --- the screen follows the session script (issue 14, problems 3 and 8) -----------------------
from nfb.feedback import visual  # noqa: E402


def drawn_texts(win, monkeypatch):
    """The words ``win`` paints on its next grab."""
    from PyQt6.QtGui import QPainter

    texts = []
    orig = QPainter.drawText

    def spy(self, *args):
        texts.append(args[-1])
        return orig(self, *args)

    with monkeypatch.context() as m:  # restores the class's own descriptor afterwards
        m.setattr(QPainter, "drawText", spy)
        px = pixels(win)
    return texts, px


def test_step_screens_follow_the_script():
    eo = visual.step_screen("baseline_eyes_open")
    assert (eo.kind, eo.title, eo.fixation, eo.draws_feedback) == (
        "eyes_open",
        "Eyes open",
        True,
        False,
    )
    start = visual.step_screen("baseline_eyes_closed", elapsed_s=0.5)
    later = visual.step_screen("baseline_eyes_closed", elapsed_s=visual.EYES_CLOSED_CUE_S + 5)
    assert start.title == "Close your eyes and rest" and start.text_opacity == 1.0
    assert later.kind == "eyes_closed" and later.text_opacity == 0.0 and not later.draws_feedback
    assert visual.step_screen("block").draws_feedback
    # "listen to the tone" only where a tone plays
    closed = visual.step_screen("block", eyes="closed", tone=True)
    assert closed.kind == "listen" and closed.title == "eyes closed — listen to the tone"
    muted = visual.step_screen("block", eyes="closed", tone=False)
    assert "tone" not in muted.title
    audio_only = visual.step_screen("block", visual=False, tone=True)
    assert audio_only.title == "listen to the tone" and audio_only.fixation
    rest = visual.step_screen("rest", next_block=3, blocks=6, pacer=False)
    assert (rest.kind, rest.subtitle, rest.pacer) == ("rest", "block 3 of 6 next", False)
    assert visual.step_screen("rest", pacer=True).pacer
    assert visual.step_screen(None) == visual.IDLE_SCREEN
    with pytest.raises(ValueError, match="unknown script step"):
        visual.step_screen("warmup")
    assert visual.complete_screen(2).subtitle == "2 training blocks completed"
    assert visual.complete_screen(0).title == "Thank you"


def test_baseline_screens_draw_no_bar(make_window, monkeypatch):
    win = make_window("bar")
    win.state.level = 0.9
    win.set_screen(visual.step_screen("baseline_eyes_open"))
    settle(win)
    texts, px = drawn_texts(win, monkeypatch)
    assert texts == ["Eyes open", "rest your gaze on the dot"]
    assert not teal(px).any()
    # the fixation dot: bright pixels at the centre of the window
    assert px[H // 2 - 2 : H // 2 + 3, W // 2 - 2 : W // 2 + 3].min() > 200
    win.set_screen(visual.step_screen("baseline_eyes_closed", elapsed_s=20))
    texts, px = drawn_texts(win, monkeypatch)
    assert texts == [] and not teal(px).any() and px.max() < 12  # dark and calm


def test_the_complete_screen_is_not_the_dimmed_image(make_window, monkeypatch):
    win = make_window("image", paused=True)
    dimmed = shown(win, 0.5)
    win.set_screen(visual.complete_screen(3))
    texts, px = drawn_texts(win, monkeypatch)
    assert texts == ["Well done — the session is over", "3 training blocks completed"]
    # the landscape is gone: a flat ground with light words

    def ground(a):
        return (a == (10, 16, 28)).all(axis=2).mean()

    assert ground(px) > 0.95 and ground(dimmed) < 0.05


def test_a_console_session_drives_the_client_screens(qtbot, console, monkeypatch):
    """Each script step, as the client window draws it, on the synthetic board."""
    from tests.test_gui_console import answer, connect

    win = console.client_window
    win.resize(W, H)
    win.show()
    console.refresh()
    assert win.screen == visual.IDLE_SCREEN  # before any session
    connect(qtbot, console)
    console.client_box.setCurrentText("screens")
    console.protocol_box.setCurrentText("short")
    console.mode_box.setCurrentText("bar")
    console.pacer_rests.setChecked(False)
    qtbot.mouseClick(console.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: console.session is not None, timeout=10000)
    session = console.session

    def reach(name):
        qtbot.waitUntil(
            lambda: (st := session.snapshot().step) is not None and st.name == name,
            timeout=20000,
        )
        console.refresh()
        return drawn_texts(win, monkeypatch)

    from nfb.feedback.tone import ToneGenerator

    tone = ToneGenerator(console.state)  # what the sound card would be asked to play

    def loudness():
        return float(np.abs(tone.render(4410)).max())  # 0.1 s

    texts, px = reach("baseline_eyes_open")
    assert win.screen.kind == "eyes_open" and texts[0] == "Eyes open"
    assert not teal(px).any()
    assert loudness() == 0  # no tone in a baseline
    console.skip_step()
    texts, px = reach("baseline_eyes_closed")
    assert win.screen.kind == "eyes_closed" and texts[0] == "Close your eyes and rest"
    assert not teal(px).any() and px.mean() < 12
    assert loudness() == 0
    console.skip_step()
    texts, px = reach("block")
    assert win.screen.draws_feedback and texts == []
    qtbot.waitUntil(lambda: session.snapshot().block_reward_rate is not None, timeout=20000)
    console.refresh()
    # the bar (once no inhibit dims it: the synthetic board's first block frames may be)
    qtbot.waitUntil(lambda: win.last_frame.dim > 0.95 and teal(pixels(win)).any(), timeout=10000)
    assert loudness() > 0  # and the tone, in the block
    console.skip_step()
    texts, px = reach("rest")
    assert texts == ["Rest", "block 2 of 2 next"] and not teal(px).any()
    qtbot.mouseClick(console.stop_button, Qt.MouseButton.LeftButton)
    answer(qtbot, console, yes=True)
    qtbot.waitUntil(lambda: console.session is None and console._busy == 0, timeout=10000)
    console.refresh()
    texts, px = drawn_texts(win, monkeypatch)
    assert texts == ["Well done — the session is over", "1 training block completed"]
    assert not teal(px).any()


# --- screen choice and geometry (issue 14, problem 10) ----------------------------------------
from PyQt6.QtCore import QRect, QSettings  # noqa: E402
from PyQt6.QtGui import QGuiApplication  # noqa: E402

from nfb.gui.client_window import client_placement, default_screen, screen_label  # noqa: E402


def test_the_client_opens_on_another_screen_than_the_consoles():
    left, right = QRect(0, 0, 1920, 1080), QRect(1920, 0, 1280, 1024)
    console = QRect(100, 50, 1500, 950)
    assert default_screen([left, right], console) == 1
    assert default_screen([right, left], console) == 0  # whatever the order
    assert default_screen([left], console) == 0  # one screen: the console's
    # a screen of its own: all of it
    assert client_placement(right, console) == right


@pytest.mark.parametrize(
    "console", [QRect(0, 0, 1366, 768), QRect(0, 0, 900, 700), QRect(500, 100, 866, 668)]
)
def test_on_the_consoles_screen_the_client_window_is_smaller_and_beside_it(console):
    area = QRect(0, 0, 1366, 740)  # a laptop, less its task bar
    rect = client_placement(area, console)
    assert area.contains(rect)
    assert rect.width() <= 0.5 * area.width() and rect.height() <= 0.5 * area.height()
    assert not rect.contains(console.center())
    assert rect.width() >= 320 and rect.height() >= 240


def test_over_a_console_that_fills_the_screen_the_client_takes_the_plots_corner():
    # a first start on a laptop: the console fills the screen; the client window covered its
    # menu bar and device form from the top-left corner
    area = QRect(0, 0, 1366, 740)
    rect = client_placement(area, QRect(0, 0, 1366, 740))
    assert rect.bottomRight() == area.bottomRight()


def settings_file(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def test_one_screen_the_window_does_not_cover_the_console(qtbot, tmp_path):
    (screen,) = QGuiApplication.screens()  # offscreen Qt has one screen
    win = ClientWindow(FeedbackState())
    qtbot.addWidget(win)
    console = screen.availableGeometry()  # a maximised console
    assert win.recall(settings_file(tmp_path), [screen], console) is screen
    win.show_as_remembered()
    qtbot.waitExposed(win)
    assert not win.isFullScreen()
    assert win.screen_name == screen.name()
    g = win.geometry()
    assert g.width() < 0.5 * console.width() and not g.contains(console.center())


def test_the_windows_screen_size_place_and_full_screen_are_remembered(qtbot, tmp_path):
    (screen,) = QGuiApplication.screens()
    console = QRect(0, 0, 600, 400)
    win = ClientWindow(FeedbackState())
    qtbot.addWidget(win)
    win.recall(settings_file(tmp_path), [screen], console)
    win.show_as_remembered()
    qtbot.waitExposed(win)
    win.setGeometry(QRect(130, 90, 500, 380))  # the practitioner moves and resizes it
    win.remember(settings_file(tmp_path))
    win.close()

    again = ClientWindow(FeedbackState())
    qtbot.addWidget(again)
    assert again.recall(settings_file(tmp_path), [screen], console) is screen
    again.show_as_remembered()
    qtbot.waitExposed(again)
    assert again.geometry() == QRect(130, 90, 500, 380) and not again.isFullScreen()
    again.showFullScreen()
    again.remember(settings_file(tmp_path))
    again.close()

    third = ClientWindow(FeedbackState())
    qtbot.addWidget(third)
    third.recall(settings_file(tmp_path), [screen], console)
    third.show_as_remembered()
    qtbot.waitExposed(third)
    assert third.isFullScreen()
    third.showNormal()
    assert third.geometry() == QRect(130, 90, 500, 380)  # the normal size under full screen


def test_the_console_lists_the_screens_and_remembers_the_client_window(
    qtbot, console, own_windows, tmp_path
):
    from nfb.gui.console import ConsoleWindow

    (screen,) = QGuiApplication.screens()
    assert console.screen_box.count() == 1
    assert console.screen_box.currentText() == screen_label(screen)
    assert "×" in screen_label(screen)
    win = console.client_window
    win.show_as_remembered()
    qtbot.waitExposed(win)
    win.setGeometry(QRect(60, 70, 420, 330))
    console.save_settings()
    state = FeedbackState()
    second = own_windows(
        ConsoleWindow(
            tmp_path / "sessions",
            settings=console.settings,
            client_window=ClientWindow(state),
            state=state,
        )
    )
    second.client_window.show_as_remembered()
    qtbot.waitExposed(second.client_window)
    assert second.client_window.geometry() == QRect(60, 70, 420, 330)
    assert second.screen_box.currentData() == screen.name()


def test_an_eyes_closed_audio_protocol_says_listen_only_while_a_tone_plays(
    qtbot, console, monkeypatch
):
    import os
    from pathlib import Path

    from tests.test_gui_console import SHORT, connect

    audio = SHORT.replace('feature = "alpha / beta"', 'feature = "alpha / beta"\nmode = "audio"')
    audio = audio.replace("rest_min = 0.05", 'rest_min = 0.05\neyes = "closed"')
    (Path(os.environ["NFB_PROTOCOLS_DIR"]) / "short-audio.toml").write_text(audio)
    console._fill_protocols()  # as after the protocol editor saved one
    win = console.client_window
    win.resize(W, H)
    win.show()
    connect(qtbot, console)
    console.client_box.setCurrentText("listen")
    console.protocol_box.setCurrentText("short-audio")
    qtbot.mouseClick(console.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: console.session is not None, timeout=10000)
    session = console.session
    for name in ("baseline_eyes_open", "baseline_eyes_closed"):
        qtbot.waitUntil(
            lambda n=name: (st := session.snapshot().step) is not None and st.name == n,
            timeout=20000,
        )
        console.skip_step()
    qtbot.waitUntil(lambda: session.snapshot().step.name == "block", timeout=20000)
    console.refresh()
    texts, px = drawn_texts(win, monkeypatch)
    assert texts == ["eyes closed — listen to the tone"]
    assert not teal(px).any() and px.mean() < 12  # no bar: a dark screen
    console.mute_box.setChecked(True)  # no tone now: the words must not promise one
    console.refresh()
    texts, _ = drawn_texts(win, monkeypatch)
    assert texts == ["Close your eyes and rest"]
    console.stop_session()
    qtbot.waitUntil(lambda: console.session is None and console._busy == 0, timeout=10000)
