import numpy as np

from nfb.feedback.level import FeedbackLevel


def test_level_is_half_at_threshold_and_follows_the_rewarded_direction():
    up = FeedbackLevel("up")
    rng = np.random.default_rng(0)
    for v in rng.normal(10, 2, 500):
        up.update(v, 10.0)
    assert up.update(10.0, 10.0) == 0.5
    assert up.update(12.0, 10.0) > 0.7 > 0.3 > up.update(8.0, 10.0)
    down = FeedbackLevel("down")
    for v in rng.normal(10, 2, 500):
        down.update(v, 10.0)
    assert down.update(8.0, 10.0) > 0.7


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


def _levels(values, threshold: float, direction="up"):
    rule = FeedbackLevel(direction)
    return np.array([rule.update(v, threshold) for v in values])


def test_level_uses_its_range_on_a_skewed_amplitude_without_sitting_at_the_ends():
    # band amplitudes are skewed (a long tail upwards); the auto threshold sits near the
    # 40th percentile (a 60 % reward target)
    rng = np.random.default_rng(2)
    amp = rng.lognormal(mean=2.0, sigma=0.5, size=6000)
    for direction in ("up", "down"):
        q = 40 if direction == "up" else 60
        lv = _levels(amp, np.percentile(amp, q), direction)[600:]  # after the scales settled
        assert (lv > 0.95).mean() < 0.06 and (lv < 0.05).mean() < 0.06, direction
        lo, hi = np.percentile(lv, [5, 95])
        assert lo < 0.25 and hi > 0.8, (direction, lo, hi)
        # the level follows the feature: monotone in the value at a fixed threshold
        rewarded = amp[600:] if direction == "up" else -amp[600:]
        ranks = np.argsort(np.argsort(rewarded)), np.argsort(np.argsort(lv))
        assert np.corrcoef(*ranks)[0, 1] > 0.95


def test_a_threshold_far_from_the_feature_does_not_pin_the_level():
    # a manual threshold far below every value: rewarded all the time, and the level still
    # moves with the feature instead of sitting at its ceiling
    rng = np.random.default_rng(3)
    values = 50 + 3 * rng.standard_normal(3000)
    lv = _levels(values, 5.0)[300:]
    assert np.median(lv) < 0.9 and (lv > 0.95).mean() < 0.1
    assert np.corrcoef(values[300:], lv)[0, 1] > 0.9 and np.ptp(lv) > 0.05
