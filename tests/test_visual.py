"""Pure visual feedback models: the smoothed display level, dim, glow and the breathing pacer."""

import math

import numpy as np
import pytest

from nfb.errors import ConfigError
from nfb.feedback.level import FeedbackState
from nfb.feedback.pacer import BreathingPacer
from nfb.feedback.visual import DIM_WITHHELD, VisualFeedback

DT = 1 / 60


def _run(model, state, n, dt=DT):
    return [model.step(state, dt) for _ in range(n)]


def test_display_level_approaches_a_step_smoothly_without_overshoot_or_jump():
    model = VisualFeedback(smoothing_s=0.25)
    model.reset(0.2)
    state = FeedbackState(level=0.9, paused=False)
    levels = np.array([f.level for f in _run(model, state, 180)])
    steps = np.diff(np.r_[0.2, levels])
    assert np.all(steps >= 0)  # monotone: never overshoots the target
    assert np.all(levels <= 0.9)
    assert steps[0] < 0.01  # starts with zero velocity: no jump on the first frame
    assert steps.max() < 0.05  # no frame moves more than 5 % of the range
    assert 0.5 < (levels[14] - 0.2) / 0.7 < 0.7  # about 60 % of the way after smoothing_s
    assert levels[-1] == pytest.approx(0.9, abs=1e-3)  # there after 3 s


def test_display_level_is_independent_of_the_frame_rate():
    a, b = VisualFeedback(), VisualFeedback()
    state = FeedbackState(level=1.0, paused=False)
    fa = _run(a, state, 60, 1 / 60)[-1]
    fb = _run(b, state, 144, 1 / 144)[-1]
    assert fa.level == pytest.approx(fb.level, abs=1e-9)


def test_nan_level_holds_the_display_and_bad_dt_counts_as_zero():
    model = VisualFeedback()
    model.reset(0.3)
    assert model.step(FeedbackState(level=math.nan), DT).level == pytest.approx(0.3)
    assert model.step(FeedbackState(level=1.0), -1.0).level == pytest.approx(0.3)
    assert model.step(FeedbackState(level=1.0), math.inf).level == pytest.approx(0.3)


def test_dim_ramps_down_on_inhibit_and_back_up_after():
    model = VisualFeedback()
    state = FeedbackState(level=0.5, paused=False)
    assert _run(model, state, 10)[-1].dim == 1.0
    state.inhibited = True
    dims = [f.dim for f in _run(model, state, 90)]
    assert dims[0] < 1.0 and dims[0] > 0.9  # a ramp, not a jump
    assert np.all(np.diff(dims) <= 0)
    assert dims[-1] == pytest.approx(DIM_WITHHELD, abs=0.01)
    state.inhibited = False
    assert _run(model, state, 90)[-1].dim == pytest.approx(1.0, abs=0.01)
    state.paused = True  # a pause dims too
    assert _run(model, state, 90)[-1].dim == pytest.approx(DIM_WITHHELD, abs=0.01)


def test_brightness_blur_glow_and_show_follow_the_state():
    model = VisualFeedback(smoothing_s=0)
    low = model.step(FeedbackState(level=0.0, paused=False), DT)
    high = model.step(FeedbackState(level=1.0, paused=False), DT)
    assert low.brightness == pytest.approx(0.25) and high.brightness == pytest.approx(1.0)
    assert low.blur == 1.0 and high.blur == 0.0
    rewarded = FeedbackState(level=1.0, reward=True, paused=False)
    glows = [f.glow for f in _run(model, rewarded, 60)]
    assert 0 < glows[0] < 0.2 and glows[-1] > 0.95 and np.all(np.diff(glows) > 0)
    rewarded.reward = False
    assert _run(model, rewarded, 1)[0].glow > 0.9  # fades out, does not snap off
    assert model.step(FeedbackState(visual=False), DT).show is False


def test_pacer_phases_and_period():
    pacer = BreathingPacer(bpm=6.0, inhale_fraction=0.4)
    assert pacer.period == 10.0
    assert pacer.phase(0.0) == ("inhale", 0.0)
    assert pacer.phase(2.0) == ("inhale", pytest.approx(0.5))
    assert pacer.phase(4.0) == ("exhale", pytest.approx(0.0))
    assert pacer.phase(7.0) == ("exhale", pytest.approx(0.5))
    ts = np.arange(0, 30, 0.01)
    sizes = np.array([pacer.size(t) for t in ts])
    assert sizes.min() == pytest.approx(0.0, abs=1e-6) and sizes.max() == pytest.approx(1.0)
    assert np.abs(np.diff(sizes)).max() < 0.01  # smooth: no jump at phase changes
    for t in (0.3, 1.7, 4.2, 8.9):
        assert pacer.size(t + pacer.period) == pytest.approx(pacer.size(t))
    # the period is 60 / bpm for any rate
    for bpm in (2, 4.5, 12, 30):
        p = BreathingPacer(bpm)
        assert p.period == pytest.approx(60 / bpm)
        assert p.phase(60 / bpm + 1e-6)[0] == "inhale"
        assert p.phase(60 / bpm - 1e-6)[0] == "exhale"
    # inhale grows the pacer, exhale shrinks it
    assert pacer.size(3.0) > pacer.size(1.0)
    assert pacer.size(9.0) < pacer.size(6.0)


@pytest.mark.parametrize("bpm", [0, 1.9, 30.5, math.nan, -6])
def test_bad_bpm_is_a_one_line_config_error(bpm):
    with pytest.raises(ConfigError, match="bpm must be between 2 and 30") as err:
        BreathingPacer(bpm)
    assert "\n" not in str(err.value)


def test_bad_inhale_fraction_is_a_config_error():
    with pytest.raises(ConfigError, match="inhale_fraction"):
        BreathingPacer(6, inhale_fraction=1.0)
