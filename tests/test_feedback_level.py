import numpy as np

from nfb.feedback.level import FeedbackLevel


def test_level_is_half_at_threshold_and_follows_the_rewarded_direction():
    up = FeedbackLevel("up")
    rng = np.random.default_rng(0)
    for v in rng.normal(10, 2, 500):
        up.update(v, 10.0)
    assert up.update(10.0, 10.0) == 0.5
    assert up.update(12.0, 10.0) > 0.8 > 0.2 > up.update(8.0, 10.0)
    down = FeedbackLevel("down")
    for v in rng.normal(10, 2, 500):
        down.update(v, 10.0)
    assert down.update(8.0, 10.0) > 0.8


def test_level_is_neutral_without_a_threshold():
    lvl = FeedbackLevel()
    assert lvl.update(3.0, float("nan")) == 0.5
    assert lvl.update(float("nan"), 1.0) == 0.5


def test_scale_adapts_to_the_unit_of_the_feature():
    # the same relative excursion gives the same level in µV or as a ratio
    a, b = FeedbackLevel(), FeedbackLevel()
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 1, 2000)
    for n in noise:
        a.update(20 + 2 * n, 20)
        b.update(0.5 + 0.05 * n, 0.5)
    assert abs(a.update(23.0, 20.0) - b.update(0.575, 0.5)) < 0.02
