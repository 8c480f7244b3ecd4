"""The client's window: large, calm visual feedback for a second screen.

The window follows one :class:`~nfb.feedback.level.FeedbackState`, written by the
practitioner console. The console's 60 Hz timer calls :meth:`ClientWindow.refresh`, which
advances the pure models (:class:`~nfb.feedback.visual.VisualFeedback`,
:class:`~nfb.feedback.pacer.BreathingPacer`) and schedules a repaint; ``paintEvent`` only
draws the last :class:`~nfb.feedback.visual.VisualFrame` with QPainter. The image and its
blurred versions are computed once per image and window size, never while painting.

What the window shows follows the session script through a
:class:`~nfb.feedback.visual.ClientScreen` (:meth:`ClientWindow.set_screen`): the chosen
feedback in training blocks, an instruction and a fixation dot in the eyes-open baseline, a
dark screen in the eyes-closed one, a rest screen between blocks and a closing screen at the
end. The console decides the screen from the runner's current step; this window only draws.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QEvent, QPointF, QRect, QRectF, QSettings, Qt, pyqtSignal
from PyQt6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QImage,
    QKeyEvent,
    QLinearGradient,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
    QRadialGradient,
    QResizeEvent,
    QScreen,
)
from PyQt6.QtWidgets import QWidget

from nfb._logging import logger
from nfb.errors import ConfigError
from nfb.feedback.level import FeedbackState
from nfb.feedback.pacer import BreathingPacer
from nfb.feedback.visual import (
    FEEDBACK_SCREEN,
    LISTEN_TEXT,
    VIDEO_FOLLOW,
    ClientScreen,
    VisualFeedback,
    VisualFrame,
)

# calm, high-contrast palette: light shapes on a deep blue-black ground
BACKGROUND = QColor(10, 16, 28)
DARK = QColor(4, 6, 10)  # the eyes-closed screen
TRACK = QColor(22, 33, 52)
TRACK_EDGE = QColor(48, 66, 94)
FILL_LOW = QColor(46, 150, 140)
FILL_HIGH = QColor(110, 214, 186)
GLOW = QColor(150, 240, 210)
THRESHOLD = QColor(236, 240, 246)
PACER = QColor(132, 168, 226)
TEXT = QColor(206, 214, 228)
TEXT_DIM = QColor(104, 114, 130)
SUBTEXT = QColor(150, 160, 178)
FIXATION = QColor(226, 232, 242)

BREATHE_TEXT = {"inhale": "breathe in", "exhale": "breathe out"}

#: downscale factors of the precomputed blur levels, from sharp to most blurred
BLUR_FACTORS = (1, 4, 10, 24, 56)


#: the part of a screen the client window takes when it shares the screen with the console
SHARED_SCREEN_FRACTION = (0.42, 0.45)
MIN_SIZE = (320, 240)


def screen_label(screen: QScreen) -> str:
    """How the console lists a screen: its name and size, e.g. ``"HDMI-1 (1920×1080)"``."""
    size = screen.size()
    return f"{screen.name() or 'screen'} ({size.width()}×{size.height()})"


def default_screen(screens: list[QRect], console: QRect | None) -> int:
    """Which screen the client window opens on when none was chosen.

    Parameters
    ----------
    screens : list of QRect
        The screens' geometries, in the order of ``QGuiApplication.screens()``.
    console : QRect | None
        The console window's frame geometry (None: not known).

    Returns
    -------
    index : int
        The first screen that does not show the console's centre, if there is one (the
        client's own monitor); else the console's screen.
    """
    if not screens:
        raise ValueError("client window: no screen to open on")
    if console is None:
        return 0
    centre = console.center()
    others = [i for i, r in enumerate(screens) if not r.contains(centre)]
    return others[0] if others else 0


def client_placement(available: QRect, console: QRect | None) -> QRect:
    """Where the client window opens on a screen (its available area, without task bars).

    On a screen of its own it takes the whole area. On the console's screen it opens as a
    normal window of :data:`SHARED_SCREEN_FRACTION` of the area, in the corner farthest from
    the console's centre; over a console that fills the screen, the bottom right (the plots'
    corner, not the menus and controls).
    """
    if console is None or not available.intersects(console):
        return QRect(available)
    w = min(
        available.width(), max(MIN_SIZE[0], round(available.width() * SHARED_SCREEN_FRACTION[0]))
    )
    h = min(
        available.height(), max(MIN_SIZE[1], round(available.height() * SHARED_SCREEN_FRACTION[1]))
    )
    # bottom right unless the console sits clearly there: over a console that fills the
    # screen it covers the plots' corner, not the menus and the device controls
    c, mid = console.center(), available.center()
    margin_x, margin_y = available.width() // 10, available.height() // 10
    right = c.x() <= mid.x() + margin_x
    bottom = c.y() <= mid.y() + margin_y
    x = available.left() + available.width() - w if right else available.left()
    y = available.top() + available.height() - h if bottom else available.top()
    return QRect(x, y, w, h)


@functools.lru_cache(maxsize=1)
def calm_landscape(width: int = 960, height: int = 600) -> QImage:
    """A calm dusk landscape (sky, sun, layered hills, a lake), generated once.

    Parameters
    ----------
    width, height : int
        Size of the image in pixels.

    Returns
    -------
    image : QImage
        An RGB888 image; deterministic (fixed seed), no external asset.
    """
    rng = np.random.default_rng(7)
    h, w = height, width
    y = np.linspace(0.0, 1.0, h)[:, None]
    x = np.linspace(0.0, 1.0, w)[None, :]
    horizon = 0.62  # the lake's shore line, as a fraction of the height

    # sky: deep blue at the top, through lavender, to a warm glow at the horizon
    stops = np.array([0.0, 0.35, horizon])
    cols = np.array([[28, 44, 86], [104, 112, 160], [244, 186, 150]], float)
    t = np.clip(y, 0.0, horizon)[:, 0]
    sky = np.stack([np.interp(t, stops, cols[:, c]) for c in range(3)], axis=-1)
    img = np.broadcast_to(sky[:, None, :], (h, w, 3)).copy()

    # sun: a soft disc low in the sky, with a wide halo
    aspect = w / h
    d = np.hypot((x - 0.68) * aspect, y - 0.47)
    halo = np.exp(-((d / 0.22) ** 2))[..., None] * 0.45
    disc = np.clip((0.055 - d) / 0.006, 0.0, 1.0)[..., None]
    sun = np.array([255, 236, 200], float)
    img = img * (1 - halo) + sun * halo
    img = img * (1 - disc) + sun * disc

    # hills: ridge lines from far (hazy, pale) to near (dark), each a sum of slow sines
    layers = [
        (0.50, 0.05, (150, 140, 182)),
        (0.545, 0.05, (104, 100, 146)),
        (0.585, 0.04, (62, 68, 108)),
    ]
    for base, amp, color in layers:
        ridge = np.full(w, base)
        for k, a in ((1.3, 1.0), (2.9, 0.5), (6.1, 0.22), (13.0, 0.08)):
            ridge += amp * a * np.sin(2 * np.pi * (k * x[0] + rng.uniform()))
        ridge = np.minimum(ridge, horizon - 0.004)
        mask = y >= ridge[None, :]
        img[mask] = color

    # lake: the scene above the shore mirrored, darkened, tinted blue, with faint ripples
    shore = round(horizon * h)
    n = h - shore
    src = np.clip(2 * shore - np.arange(shore, h) - 1, 0, shore - 1)
    water = img[src].copy()
    ripple = 0.9 + 0.1 * np.sin(np.arange(n)[:, None] ** 1.35 * 0.9 + 3.0 * x)
    depth = np.linspace(0.0, 1.0, n)[:, None]
    water = water * (0.78 - 0.3 * depth)[..., None] * ripple[..., None]
    water = water * 0.8 + np.array([20, 34, 60], float) * 0.2
    img[shore:] = water

    # near shore: a dark low bank across the bottom left
    bank = 0.93 - 0.07 * np.exp(-(((x[0] - 0.12) / 0.25) ** 2)) + 0.006 * np.sin(40 * x[0])
    img[y >= bank[None, :]] = (16, 24, 34)

    data = np.ascontiguousarray(np.clip(img, 0, 255).astype(np.uint8))
    return QImage(data.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def _soft_blur(image: QImage, factor: int) -> QImage:
    """Blur by shrinking ``factor`` times (area average) and growing back in 2x steps."""
    if factor <= 1:
        return image
    w, h = image.width(), image.height()
    smooth = Qt.TransformationMode.SmoothTransformation
    ignore = Qt.AspectRatioMode.IgnoreAspectRatio
    small = image.scaled(max(1, w // factor), max(1, h // factor), ignore, smooth)
    while small.width() * 2 < w and small.height() * 2 < h:
        small = small.scaled(small.width() * 2, small.height() * 2, ignore, smooth)
    return small.scaled(w, h, ignore, smooth)


class ClientWindow(QWidget):
    """A top-level window that shows the client's feedback.

    Parameters
    ----------
    state : FeedbackState
        The shared feedback state (only read).
    parent : QWidget | None
        Owner; the window stays a separate top-level window even with a parent.

    Attributes
    ----------
    last_frame : VisualFrame
        The frame drawn by the last paint (updated by :meth:`refresh`).
    MODES : tuple of str
        ``"bar"``, ``"circle"``, ``"image"``, ``"pacer"``, ``"video"``.
    video_failed : pyqtSignal(str)
        The chosen video cannot be played (one line); the window is back in the mode it
        had before the video.

    Notes
    -----
    F11 or a double-click toggles full screen, Esc leaves it. In full screen the mouse
    cursor is hidden.
    """

    MODES = ("bar", "circle", "image", "pacer", "video")

    video_failed = pyqtSignal(str)

    def __init__(self, state: FeedbackState, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.state = state
        self.setWindowTitle("nfb — feedback")
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._model = VisualFeedback()
        self._model.reset(state.level)
        self._pacer = BreathingPacer()
        self._pacer_t = 0.0
        self._last_refresh: float | None = None
        self._mode = "bar"
        self._image: QImage = calm_landscape()
        self._blurred: list[QPixmap] = []
        self._blurred_key: tuple | None = None
        self._halo = QPixmap()
        self._halo_grow = 0.0
        self._halo_key: tuple | None = None
        self._screen: ClientScreen = FEEDBACK_SCREEN
        self._video = None  # a VideoSource, made when a video is first chosen
        self._video_follow: frozenset[str] = frozenset({"brightness"})
        self._mode_before_video = "bar"
        self._screen_name: str | None = None
        self._restore_fullscreen = False
        self.last_frame: VisualFrame = self._model.step(state, 0.0)
        self.setMinimumSize(240, 240)
        self.resize(800, 600)

    # ------------------------------------------------------------------ public API
    @property
    def mode(self) -> str:
        """The current display mode (one of :attr:`MODES`)."""
        return self._mode

    def set_mode(self, mode: str) -> None:
        """Show ``mode`` (one of :attr:`MODES`); entering the pacer starts with an inhale."""
        if mode not in self.MODES:
            raise ConfigError(f"client window: unknown mode {mode!r} (allowed: {self.MODES})")
        if mode == "video" and self.video_path is None:
            raise ConfigError("client window: choose a video file first (Video…)")
        if mode == "pacer" and self._mode != "pacer":
            self._pacer_t = 0.0
        if mode == "video" and self._mode != "video":
            self._mode_before_video = self._mode
        self._mode = mode
        self._prepare_caches()
        self._update_video_playing()
        logger.debug("client window mode: %s", mode)
        self.update()

    # ------------------------------------------------------------------ video
    @property
    def video_path(self) -> Path | None:
        """The video file shown in video mode (None before one is chosen)."""
        return self._video.path if self._video is not None else None

    @property
    def video(self):
        """The :class:`~nfb.gui.video.VideoSource` (None before a video is chosen)."""
        return self._video

    def set_video(self, path: str | Path) -> None:
        """Play the video at ``path`` in video mode, in a loop.

        Raises
        ------
        ConfigError
            If the file is missing or unreadable (the window keeps what it had). A file that
            turns out not to be a video emits :attr:`video_failed` a moment later and the
            window goes back to the mode it had before the video.
        """
        # QtMultimedia (and its sound libraries) only once a video is used: the other
        # modes work on a machine without them
        from nfb.gui.video import VideoSource, check_video_file

        check_video_file(path)  # before anything changes
        if self._video is None:
            self._video = VideoSource(self)
            self._video.set_target_size(self.width(), self.height())
            self._video.failed.connect(self._video_error)
            self._video.frame_arrived.connect(self._video_frame)
        self._video.open(path)
        self._update_video_playing()

    def set_video_follow(self, follow) -> None:
        """What of the video follows the level: any of "brightness", "size" and "volume"."""
        follow = frozenset(follow)
        unknown = sorted(follow - set(VIDEO_FOLLOW))
        if unknown:
            raise ConfigError(
                f"client window: video cannot follow {', '.join(unknown)} (allowed: "
                f"{', '.join(VIDEO_FOLLOW)})"
            )
        self._video_follow = follow
        if self._video is not None and "volume" not in follow:
            self._video.set_volume(1.0)
        self.update()

    @property
    def video_follow(self) -> frozenset[str]:
        """What of the video follows the level."""
        return self._video_follow

    def _update_video_playing(self) -> None:
        """The video plays only while it is on screen (video mode, a feedback step)."""
        if self._video is not None:
            self._video.set_playing(self._mode == "video" and self._screen.draws_feedback)

    def _video_frame(self) -> None:
        if self._mode == "video":
            self.update()

    def _video_error(self, message: str) -> None:
        if self._mode == "video":
            self.set_mode(self._mode_before_video)
        self.video_failed.emit(message)

    @property
    def screen(self) -> ClientScreen:
        """What the window shows now (:data:`~nfb.feedback.visual.FEEDBACK_SCREEN` at first)."""
        return self._screen

    def set_screen(self, screen: ClientScreen) -> None:
        """Show ``screen``: the feedback display, or an instruction, rest or closing screen.

        Called on every refresh tick by the console; a screen equal to the current one costs
        nothing. Entering a screen with the pacer starts the breath with an inhale.
        """
        if screen == self._screen:
            return
        if screen.pacer and not self._screen.pacer:
            self._pacer_t = 0.0
        self._screen = screen
        self._update_video_playing()
        logger.debug("client window screen: %s %r", screen.kind, screen.title)
        self.update()

    def set_pacer_bpm(self, bpm: float) -> None:
        """Set the breathing rate (2–30 breaths a minute), keeping the pacer's phase."""
        old = self._pacer
        new = BreathingPacer(bpm, old.inhale_fraction)  # validates: ConfigError
        self._pacer_t = (self._pacer_t % old.period) / old.period * new.period
        self._pacer = new

    @property
    def pacer(self) -> BreathingPacer:
        """The breathing pacer in use."""
        return self._pacer

    def set_image(self, path: str | Path | None) -> None:
        """Show the image at ``path`` in image mode; ``None`` for the built-in landscape."""
        if path is None:
            image = calm_landscape()
        else:
            image = QImage(str(path))
            if image.isNull():
                raise ConfigError(f"client window: cannot read image file {str(path)!r}")
        self._image = image.convertToFormat(QImage.Format.Format_RGB32)
        self._blurred_key = None
        if self._mode == "image":
            self._prepare_image()
        self.update()

    def toggle_fullscreen(self) -> None:
        """Switch between full screen and a normal window."""
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()

    # ------------------------------------------------------------------ screen and geometry
    @property
    def screen_name(self) -> str | None:
        """The name of the screen the window was put on (:meth:`open_on`), None before."""
        return self._screen_name

    def open_on(self, screen: QScreen, console: QRect | None = None) -> None:
        """Put the window on ``screen``: all of it, or a corner away from the console.

        Parameters
        ----------
        screen : QScreen
            The screen chosen by the practitioner.
        console : QRect | None
            The console's frame geometry: on the console's screen the window opens as a
            smaller normal window beside it (:func:`client_placement`), never full screen.
        """
        full = self.isFullScreen()
        if full:
            self.showNormal()
        self._screen_name = screen.name()
        available = screen.availableGeometry()
        rect = client_placement(available, console)
        self.setGeometry(rect)
        shared = console is not None and available.intersects(console)
        if full and not shared:
            self.showFullScreen()  # full screen stays full screen on a screen of its own
        logger.debug("client window on %s at %s", screen.name(), rect)

    def remember(self, settings: QSettings) -> None:
        """Save the screen, size, position and full-screen state (``client/*`` keys)."""
        if self._screen_name is not None:
            settings.setValue("client/screen", self._screen_name)
        settings.setValue("client/geometry", self.saveGeometry())
        settings.setValue("client/fullscreen", self.isFullScreen())

    def recall(self, settings: QSettings, screens: list[QScreen], console: QRect | None) -> QScreen:
        """Put the window where it was last time, or by the default rule; returns the screen.

        The remembered screen, size and position are used while that screen is still there;
        otherwise the window opens by :func:`default_screen` and :func:`client_placement`.
        The full-screen state applies at the next :meth:`show`.
        """
        if not screens:
            raise ConfigError("client window: the system reports no screen")
        name = settings.value("client/screen")
        geometry = settings.value("client/geometry")
        known = [sc for sc in screens if sc.name() == name]
        if known and geometry is not None and self.restoreGeometry(geometry):
            self._screen_name = known[0].name()
            self._restore_fullscreen = settings.value("client/fullscreen", False, type=bool)
            return known[0]
        i = default_screen([sc.geometry() for sc in screens], console)
        self.open_on(screens[i], console)
        self._restore_fullscreen = False
        return screens[i]

    def show_as_remembered(self) -> None:
        """Show the window, full screen if it was full screen when it was remembered."""
        if self._restore_fullscreen:
            self._restore_fullscreen = False
            self.showFullScreen()
        else:
            self.show()

    def refresh(self, dt: float | None = None) -> None:
        """Advance the display by ``dt`` seconds (measured when None) and schedule a repaint.

        Called by the console's ~60 Hz timer; cheap (no drawing, no I/O).
        """
        now = time.monotonic()
        if dt is None:
            dt = 1 / 60 if self._last_refresh is None else min(now - self._last_refresh, 0.25)
        self._last_refresh = now
        self.last_frame = self._model.step(self.state, dt)
        self._pacer_t += max(0.0, dt)
        if self._video is not None and self._mode == "video" and "volume" in self._video_follow:
            f = self.last_frame
            self._video.set_volume((0.15 + 0.85 * f.level) * f.dim)
        self.update()

    # ------------------------------------------------------------------ Qt events
    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_F11:
            self.toggle_fullscreen()
        elif event.key() == Qt.Key.Key_Escape and self.isFullScreen():
            self.showNormal()
        else:
            super().keyPressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.toggle_fullscreen()
        event.accept()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == event.Type.WindowStateChange:
            if self.isFullScreen():
                self.setCursor(Qt.CursorShape.BlankCursor)
            else:
                self.unsetCursor()
        super().changeEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._prepare_caches()
        if self._video is not None:
            self._video.set_target_size(self.width(), self.height())

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect())
        screen = self._screen
        if screen.draws_feedback:
            self._paint_feedback(p, rect, self.last_frame)
        elif screen.kind == "rest" and screen.pacer:
            self._paint_pacer(p, rect)
            self._paint_caption(p, rect, screen.title)
        elif screen.kind in ("eyes_closed", "listen"):
            self._paint_message(p, rect, screen, DARK, TEXT_DIM)
        else:  # eyes open, rest, idle, complete: calm light words on the usual ground
            self._paint_message(p, rect, screen, BACKGROUND, TEXT)
        p.end()

    def _paint_feedback(self, p: QPainter, rect: QRectF, f: VisualFrame) -> None:
        """The practitioner's chosen display, driven by the feedback level."""
        if not f.show:
            self._paint_listen(p, rect)
        elif self._mode == "bar":
            self._paint_bar(p, rect, f)
        elif self._mode == "circle":
            self._paint_circle(p, rect, f)
        elif self._mode == "image":
            self._paint_image(p, rect, f)
        elif self._mode == "video":
            self._paint_video(p, rect, f)
        else:
            self._paint_pacer(p, rect)
        if f.show and self._mode in ("bar", "circle") and f.dim < 0.999:
            # feedback withheld (inhibit, pause): fade everything toward black
            p.fillRect(rect, QColor(0, 0, 0, round(255 * (1.0 - f.dim))))

    # ------------------------------------------------------------------ caches
    def _prepare_caches(self) -> None:
        """Build what the current mode paints from, if the window size changed."""
        if self._mode == "image":
            self._prepare_image()
        elif self._mode == "bar":
            track, _ = self._bar_geometry(QRectF(self.rect()))
            if self._halo_key != (track.width(), track.height()):
                self._prepare_halo()

    def _prepare_image(self) -> None:
        """Scale the image to cover the window and precompute its blur levels."""
        w, h = max(1, self.width()), max(1, self.height())
        key = (w, h, self._image.cacheKey())
        if key == self._blurred_key:
            return
        base = self._image.scaled(
            w,
            h,
            Qt.AspectRatioMode.KeepAspectRatioByExpanding,
            Qt.TransformationMode.SmoothTransformation,
        )
        base = base.copy((base.width() - w) // 2, (base.height() - h) // 2, w, h)
        self._blurred = [QPixmap.fromImage(_soft_blur(base, k)) for k in BLUR_FACTORS]
        self._blurred_key = key

    def _prepare_halo(self) -> None:
        """Draw the reward halo of a full bar once (full strength; painted at the glow)."""
        track, radius = self._bar_geometry(QRectF(self.rect()))
        g = track.width() * 0.32
        halo = QPixmap(round(track.width() + 2 * g), round(track.height() + 2 * g))
        halo.fill(Qt.GlobalColor.transparent)
        p = QPainter(halo)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        c = QColor(GLOW)
        c.setAlpha(8)
        p.setBrush(c)
        body = QRectF(g, g, track.width(), track.height())
        for i in range(16, 0, -1):  # nested faint layers add up to a smooth falloff
            d = g * i / 16
            p.drawRoundedRect(body.adjusted(-d, -d, d, d), radius + d, radius + d)
        p.end()
        self._halo, self._halo_grow = halo, g
        self._halo_key = (track.width(), track.height())

    # ------------------------------------------------------------------ painters
    @staticmethod
    def _font(px: float) -> QFont:
        font = QFont()
        font.setPixelSize(max(11, round(px)))
        return font

    def _paint_listen(self, p: QPainter, rect: QRectF) -> None:
        p.fillRect(rect, DARK)
        p.setPen(TEXT_DIM)
        p.setFont(self._font(min(rect.height() * 0.035, rect.width() * 0.04)))
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, LISTEN_TEXT)

    def _paint_message(
        self, p: QPainter, rect: QRectF, screen: ClientScreen, ground: QColor, ink: QColor
    ) -> None:
        """An instruction screen: title, subtitle and, for eyes-open steps, a fixation dot."""
        p.fillRect(rect, ground)
        m = min(rect.width(), rect.height())
        c = rect.center()
        if screen.fixation:
            r = max(4.0, m * 0.014)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(FIXATION)
            p.drawEllipse(c, r, r)
        if screen.text_opacity <= 0.01 or not (screen.title or screen.subtitle):
            return
        p.setOpacity(screen.text_opacity)
        title_px = min(rect.height() * 0.06, rect.width() * 0.055)
        sub_px = title_px * 0.6
        pad = rect.width() * 0.06
        wrap = Qt.TextFlag.TextWordWrap.value
        if screen.fixation:  # the words above the dot, which stays alone in the middle
            box = QRectF(pad, rect.top(), rect.width() - 2 * pad, c.y() - m * 0.08)
            title_box = QRectF(box.left(), box.top(), box.width(), box.height() - sub_px * 2.2)
            sub_box = QRectF(box.left(), box.bottom() - sub_px * 2.0, box.width(), sub_px * 2.0)
            align = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom
        else:  # the words in the middle
            title_box = QRectF(pad, rect.top(), rect.width() - 2 * pad, c.y() + title_px * 0.4)
            sub_box = QRectF(pad, c.y() + title_px * 0.9, rect.width() - 2 * pad, sub_px * 3)
            align = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom
        p.setPen(ink)
        if screen.title:
            p.setFont(self._font(title_px))
            p.drawText(title_box, align.value | wrap, screen.title)
        if screen.subtitle:
            p.setPen(ink if ink == TEXT_DIM else SUBTEXT)
            p.setFont(self._font(sub_px))
            top = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
            p.drawText(sub_box, (align if screen.fixation else top).value | wrap, screen.subtitle)
        p.setOpacity(1.0)

    def _paint_caption(self, p: QPainter, rect: QRectF, text: str) -> None:
        """A small word at the top of the window (the rest over the pacer)."""
        if not text:
            return
        p.setPen(TEXT_DIM)
        p.setFont(self._font(min(rect.height() * 0.04, rect.width() * 0.045)))
        top = rect.top() + rect.height() * 0.02
        box = QRectF(rect.left(), top, rect.width(), rect.height() * 0.08)
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    @staticmethod
    def _bar_geometry(rect: QRectF) -> tuple[QRectF, float]:
        """The bar's track and corner radius in a window of ``rect``."""
        margin = rect.height() * 0.08
        bar_w = min(max(rect.width() * 0.24, 60.0), 240.0)
        track = QRectF(rect.center().x() - bar_w / 2, margin, bar_w, rect.height() - 2 * margin)
        return track, bar_w * 0.14

    def _paint_bar(self, p: QPainter, rect: QRectF, f: VisualFrame) -> None:
        p.fillRect(rect, BACKGROUND)
        track, radius = self._bar_geometry(rect)
        bar_w = track.width()
        fill_h = track.height() * f.level
        fill = QRectF(track.left(), track.bottom() - fill_h, bar_w, fill_h)
        if f.glow > 0.01 and fill_h > 0.5:  # a soft halo around the filled part
            if self._halo_key != (track.width(), track.height()):
                self._prepare_halo()
            # vertical 3-slice of the cached halo: its top cap, then its bottom part
            halo, g = self._halo, self._halo_grow
            split = min(radius, fill_h / 2)
            top_h, bottom_h = g + split, g + fill_h - split
            x0 = track.left() - g
            p.setOpacity(f.glow)
            p.drawPixmap(
                QRectF(x0, fill.top() - g, halo.width(), top_h),
                halo,
                QRectF(0, 0, halo.width(), top_h),
            )
            p.drawPixmap(
                QRectF(x0, fill.top() + split, halo.width(), bottom_h),
                halo,
                QRectF(0, halo.height() - bottom_h, halo.width(), bottom_h),
            )
            p.setOpacity(1.0)
        p.setPen(QPen(TRACK_EDGE, 2))
        p.setBrush(TRACK)
        p.drawRoundedRect(track, radius, radius)
        if fill_h > 0.5:
            clip = QPainterPath()
            clip.addRoundedRect(track, radius, radius)
            p.save()
            p.setClipPath(clip)
            grad = QLinearGradient(QPointF(0, track.bottom()), QPointF(0, track.top()))
            grad.setColorAt(0.0, FILL_LOW)
            grad.setColorAt(1.0, FILL_HIGH.lighter(100 + round(20 * f.glow)))
            p.fillRect(fill, QBrush(grad))
            p.restore()
        # the threshold: a bright line across the track, wider than the bar
        y = track.bottom() - track.height() * 0.5
        over = bar_w * 0.22
        p.setPen(QPen(THRESHOLD, max(3.0, rect.height() * 0.006), cap=Qt.PenCapStyle.RoundCap))
        p.drawLine(QPointF(track.left() - over, y), QPointF(track.right() + over, y))

    def _paint_circle(self, p: QPainter, rect: QRectF, f: VisualFrame) -> None:
        p.fillRect(rect, BACKGROUND)
        c = rect.center()
        m = min(rect.width(), rect.height())
        r_min, r_max = 0.08 * m, 0.44 * m
        r = r_min + (r_max - r_min) * f.level
        if f.glow > 0.01:
            halo = QRadialGradient(c, r * 1.35)
            col = QColor(GLOW)
            col.setAlpha(round(110 * f.glow))
            halo.setColorAt(r / (r * 1.35) * 0.9, col)
            col.setAlpha(0)
            halo.setColorAt(1.0, col)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QBrush(halo))
            p.drawEllipse(c, r * 1.35, r * 1.35)
        grad = QRadialGradient(c, r)
        grad.setColorAt(0.0, FILL_HIGH.lighter(100 + round(20 * f.glow)))
        grad.setColorAt(1.0, FILL_LOW)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QBrush(grad))
        p.drawEllipse(c, r, r)
        # the threshold: a thin ring at the size of level 0.5
        r_t = r_min + (r_max - r_min) * 0.5
        pen = QPen(THRESHOLD, max(2.0, m * 0.004), Qt.PenStyle.DashLine)
        pen.setColor(QColor(THRESHOLD.red(), THRESHOLD.green(), THRESHOLD.blue(), 170))
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawEllipse(c, r_t, r_t)

    def _paint_image(self, p: QPainter, rect: QRectF, f: VisualFrame) -> None:
        if self._blurred_key is None or self._blurred_key[:2] != (self.width(), self.height()):
            self._prepare_image()  # only if a paint came before any resize event
        # cross-fade the two precomputed blur levels around f.blur
        pos = f.blur * (len(self._blurred) - 1)
        i = min(int(pos), len(self._blurred) - 2)
        frac = pos - i
        p.drawPixmap(0, 0, self._blurred[i])
        if frac > 0.01:
            p.setOpacity(frac)
            p.drawPixmap(0, 0, self._blurred[i + 1])
            p.setOpacity(1.0)
        if f.brightness < 0.999:
            p.fillRect(rect, QColor(0, 0, 0, round(255 * (1.0 - f.brightness))))
        if f.glow > 0.01:  # reward: a faint warm light over the scene
            p.fillRect(rect, QColor(255, 236, 200, round(28 * f.glow)))

    def _paint_video(self, p: QPainter, rect: QRectF, f: VisualFrame) -> None:
        """The newest video frame, fitted to the window; its brightness follows the level."""
        p.fillRect(rect, QColor(0, 0, 0))
        image = self._video.image() if self._video is not None else None
        if image is None:
            return
        follow = self._video_follow
        # the frame comes fitted to the window (VideoSource.set_target_size): blit it, or
        # shrink it with the level (a fast transform: this runs at every repaint)
        scale = min(rect.width() / image.width(), rect.height() / image.height())
        if "size" in follow:  # from a bit over half the window at level 0 to all of it
            scale *= 0.55 + 0.45 * f.level
        w, h = image.width() * scale, image.height() * scale
        target = QRectF(rect.center().x() - w / 2, rect.center().y() - h / 2, w, h)
        if abs(w - image.width()) < 1 and abs(h - image.height()) < 1:
            p.drawImage(QPointF(round(target.left()), round(target.top())), image)
        else:
            p.drawImage(target, image)
        light = f.brightness if "brightness" in follow else f.dim
        if light < 0.999:
            p.fillRect(target, QColor(0, 0, 0, round(255 * (1.0 - light))))
        if f.glow > 0.01:  # reward: the same faint warm light as over the image
            p.fillRect(target, QColor(255, 236, 200, round(28 * f.glow)))

    def _paint_pacer(self, p: QPainter, rect: QRectF) -> None:
        p.fillRect(rect, BACKGROUND)
        phase, _ = self._pacer.phase(self._pacer_t)
        size = self._pacer.size(self._pacer_t)
        m = min(rect.width(), rect.height())
        c = QPointF(rect.center().x(), rect.top() + rect.height() * 0.44)
        r_min, r_max = 0.08 * m, 0.34 * m
        r = r_min + (r_max - r_min) * size
        # a faint guide ring at full size, then the breathing disc
        guide = QColor(PACER)
        guide.setAlpha(60)
        p.setPen(QPen(guide, max(2.0, m * 0.004)))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawEllipse(c, r_max, r_max)
        grad = QRadialGradient(c, r)
        grad.setColorAt(0.0, PACER.lighter(135))
        grad.setColorAt(1.0, PACER)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QBrush(grad))
        p.drawEllipse(c, r, r)
        p.setPen(TEXT)
        p.setFont(self._font(min(rect.height() * 0.06, rect.width() * 0.07)))
        text_rect = QRectF(rect.left(), c.y() + r_max, rect.width(), rect.bottom() - c.y() - r_max)
        p.drawText(text_rect, Qt.AlignmentFlag.AlignCenter, BREATHE_TEXT[phase])


__all__ = [
    "ClientWindow",
    "calm_landscape",
    "client_placement",
    "default_screen",
    "screen_label",
]
