"""Visual feedback model: what the client window draws, as numbers (no Qt).

The client window follows one number, the feedback level in [0, 1] (0.5 at the threshold).
Drawn raw, it would flicker at the frame rate of the features; :class:`VisualFeedback` turns
it into a display level that moves smoothly (a critically damped follower: no jump, no
overshoot after a step), a dim factor that fades the display while feedback is withheld
(inhibit, pause) and a glow that rises while the client is rewarded. The window only paints
the resulting :class:`VisualFrame`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nfb.feedback.level import FeedbackState

#: dim factor while feedback is withheld (inhibited or paused); 1.0 otherwise
DIM_WITHHELD = 0.35


@dataclass(frozen=True)
class VisualFrame:
    """One display frame of visual feedback.

    Attributes
    ----------
    level : float
        Smoothed feedback level, 0..1 (0.5 at the threshold).
    brightness : float
        Image brightness, 0..1: ``(0.25 + 0.75 * level) * dim``.
    blur : float
        Blur of the image in "clarity" mode as a fraction of the maximum, 0..1: 1 at
        level 0, none at level 1.
    dim : float
        ``DIM_WITHHELD`` .. 1: how much of the display shows through (1 = not dimmed).
    glow : float
        Reward glow, 0..1.
    show : bool
        False when the protocol wants no pictures (audio-only, eyes closed).
    """

    level: float
    brightness: float
    blur: float
    dim: float
    glow: float
    show: bool


def _clip01(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


def _approach(current: float, target: float, dt: float, tau: float) -> float:
    """First-order step of ``current`` toward ``target`` with time constant ``tau`` (exact)."""
    return target + (current - target) * math.exp(-dt / tau)


class VisualFeedback:
    """Smooth the feedback level for display and derive dim and glow.

    Parameters
    ----------
    smoothing_s : float
        Smoothing time of the display level, in seconds: after a step of the level the
        display covers about 60 % of the way in ``smoothing_s`` and 90 % in about twice that.
        0 follows the level without smoothing.

    Notes
    -----
    The display level is a critically damped second-order follower (natural frequency
    ``2 / smoothing_s``), advanced with its exact solution for a constant target over each
    ``dt``: it is independent of the frame rate, starts moving with zero velocity (no jump)
    and, from rest, approaches a new target monotonically (no overshoot). Dim and glow are
    first-order ramps.
    """

    #: time constants of the ramps, seconds
    DIM_TAU = 0.25
    GLOW_RISE_TAU = 0.15
    GLOW_FALL_TAU = 0.6

    def __init__(self, *, smoothing_s: float = 0.25) -> None:
        if not (math.isfinite(smoothing_s) and smoothing_s >= 0):
            raise ValueError(f"smoothing_s must be a finite number >= 0, got {smoothing_s!r}")
        self.smoothing_s = float(smoothing_s)
        self.reset()

    def reset(self, level: float = 0.5) -> None:
        """Put the display at rest at ``level``, undimmed, without glow."""
        self._x = _clip01(float(level))
        self._v = 0.0
        self._dim = 1.0
        self._glow = 0.0

    @property
    def level(self) -> float:
        """The current smoothed display level."""
        return _clip01(self._x)

    def step(self, state: FeedbackState, dt: float) -> VisualFrame:
        """Advance the display by ``dt`` seconds toward ``state`` and return the frame.

        Parameters
        ----------
        state : FeedbackState
            The current feedback state (only read).
        dt : float
            Seconds since the previous step; non-finite or negative values count as 0.

        Returns
        -------
        frame : VisualFrame
            What to draw now.
        """
        dt = float(dt) if math.isfinite(dt) and dt > 0 else 0.0
        target = float(state.level)
        target = _clip01(target) if math.isfinite(target) else self._x  # hold on NaN
        if self.smoothing_s == 0:
            self._x, self._v = target, 0.0
        elif dt > 0:
            w = 2.0 / self.smoothing_s
            e0 = self._x - target
            b = self._v + w * e0
            decay = math.exp(-w * dt)
            self._x = target + (e0 + b * dt) * decay
            self._v = (self._v - w * b * dt) * decay
        withheld = bool(state.inhibited or state.paused)
        self._dim = _approach(self._dim, DIM_WITHHELD if withheld else 1.0, dt, self.DIM_TAU)
        if state.reward and not withheld:
            self._glow = _approach(self._glow, 1.0, dt, self.GLOW_RISE_TAU)
        else:
            self._glow = _approach(self._glow, 0.0, dt, self.GLOW_FALL_TAU)
        level = self.level
        return VisualFrame(
            level=level,
            brightness=_clip01((0.25 + 0.75 * level) * self._dim),
            blur=1.0 - level,
            dim=self._dim,
            glow=_clip01(self._glow),
            show=bool(state.visual),
        )


# --------------------------------------------------------------------------- client screens
#: seconds the "close your eyes" instruction stays at full strength at the start of an
#: eyes-closed step (long enough for the practitioner to read it out), then the seconds it
#: takes to fade to the dark screen
EYES_CLOSED_CUE_S = 6.0
EYES_CLOSED_FADE_S = 2.0

#: what the client screen can be
SCREEN_KINDS = ("idle", "eyes_open", "eyes_closed", "feedback", "listen", "rest", "complete")


@dataclass(frozen=True)
class ClientScreen:
    """What the client window shows at one moment of the session script (no Qt).

    Attributes
    ----------
    kind : str
        One of :data:`SCREEN_KINDS`. ``"feedback"`` draws the practitioner's chosen display
        (bar, circle, image, video, pacer); every other kind draws only what is named here.
    title : str
        The instruction, in large letters ("" for none).
    subtitle : str
        A second, smaller line ("" for none).
    fixation : bool
        Draw a fixation dot in the middle (eyes-open steps).
    pacer : bool
        Draw the breathing pacer (rests, when the practitioner chose it).
    text_opacity : float
        0..1: how strongly the text shows (the eyes-closed instruction fades out).
    """

    kind: str
    title: str = ""
    subtitle: str = ""
    fixation: bool = False
    pacer: bool = False
    text_opacity: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in SCREEN_KINDS:
            raise ValueError(f"client screen: unknown kind {self.kind!r} (allowed: {SCREEN_KINDS})")

    @property
    def draws_feedback(self) -> bool:
        """True when the feedback display (bar, circle, image, video) is drawn."""
        return self.kind == "feedback"


#: the training display, as the client window shows it before it is told anything else
FEEDBACK_SCREEN = ClientScreen("feedback")
#: before a session starts
IDLE_SCREEN = ClientScreen("idle", "Welcome", "the session will begin shortly")

EYES_OPEN_TEXT = "Eyes open"
EYES_OPEN_SUBTEXT = "rest your gaze on the dot"
EYES_CLOSED_TEXT = "Close your eyes and rest"
EYES_CLOSED_SUBTEXT = "keep them closed until you are asked to open them"
LISTEN_TEXT = "eyes closed — listen to the tone"
LISTEN_OPEN_TEXT = "listen to the tone"
REST_TEXT = "Rest"


def step_screen(
    step: str | None,
    *,
    elapsed_s: float = 0.0,
    visual: bool = True,
    tone: bool = True,
    eyes: str = "open",
    pacer: bool = False,
    next_block: int | None = None,
    blocks: int | None = None,
) -> ClientScreen:
    """The client's screen during one step of the session script.

    Parameters
    ----------
    step : str | None
        The step's name (:class:`nfb.session.script.Step` ``.name``: ``baseline_eyes_open``,
        ``baseline_eyes_closed``, ``block``, ``rest``); None before the first frame.
    elapsed_s : float
        Seconds of the step so far (on the sample clock): the eyes-closed instruction shows
        for the first :data:`EYES_CLOSED_CUE_S` seconds, then fades.
    visual : bool
        The protocol gives visual feedback in its blocks.
    tone : bool
        A tone really plays in the blocks (the protocol wants sound and it is not muted).
    eyes : str
        ``"open"`` or ``"closed"``: the eyes during training blocks (``script.eyes``).
    pacer : bool
        Show the breathing pacer during rests.
    next_block, blocks : int | None
        During a rest, the block that follows and the number of blocks ("block 3 of 6 next").

    Returns
    -------
    screen : ClientScreen

    Notes
    -----
    Baselines never show feedback: the engine is measuring the client at rest, and a bar
    or a tone would change what it measures (the tone only plays in blocks, see
    :class:`nfb.feedback.tone.ToneGenerator`).
    """
    if step is None:
        return IDLE_SCREEN
    if step == "baseline_eyes_open":
        return ClientScreen("eyes_open", EYES_OPEN_TEXT, EYES_OPEN_SUBTEXT, fixation=True)
    if step == "baseline_eyes_closed":
        return ClientScreen(
            "eyes_closed",
            EYES_CLOSED_TEXT,
            EYES_CLOSED_SUBTEXT,
            text_opacity=_cue_opacity(elapsed_s),
        )
    if step == "rest":
        sub = (
            f"block {next_block} of {blocks} next"
            if next_block is not None and blocks is not None
            else "the next block starts soon"
        )
        return ClientScreen("rest", REST_TEXT, sub, pacer=pacer)
    if step != "block":
        raise ValueError(f"client screen: unknown script step {step!r}")
    closed = eyes == "closed"
    if visual and not closed:
        return FEEDBACK_SCREEN
    if closed:  # nothing to see: a dark screen; the words are for the start of the block
        text = LISTEN_TEXT if tone else EYES_CLOSED_TEXT
        return ClientScreen("listen", text, text_opacity=max(0.35, _cue_opacity(elapsed_s)))
    # sound only, eyes open
    text = LISTEN_OPEN_TEXT if tone else EYES_OPEN_TEXT
    return ClientScreen("listen", text, EYES_OPEN_SUBTEXT, fixation=True)


def complete_screen(blocks: int) -> ClientScreen:
    """The client's screen once the session is over (ended by its script or stopped).

    Parameters
    ----------
    blocks : int
        Training blocks the client did (0 when the session stopped before the first).
    """
    if blocks <= 0:
        return ClientScreen("complete", "Thank you", "the session is over")
    return ClientScreen(
        "complete",
        "Well done — the session is over",
        f"{blocks} training block{'s' if blocks != 1 else ''} completed",
    )


def _cue_opacity(elapsed_s: float) -> float:
    """Full for the first :data:`EYES_CLOSED_CUE_S` seconds, then a linear fade to 0."""
    if not math.isfinite(elapsed_s):
        return 1.0
    return _clip01(1.0 - (elapsed_s - EYES_CLOSED_CUE_S) / EYES_CLOSED_FADE_S)


#: what of a video can follow the feedback level (any combination; the client window's
#: video mode)
VIDEO_FOLLOW = ("brightness", "size", "volume")
#: the combinations the console offers, as it lists them
VIDEO_FOLLOW_CHOICES = (
    "brightness",
    "brightness + size",
    "brightness + volume",
    "brightness + size + volume",
    "size",
    "volume",
)
