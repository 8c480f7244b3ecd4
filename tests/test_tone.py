"""The feedback tone as PCM: pitch map, ramps without clicks, silence, chime, exact chunking."""

import numpy as np
import pytest
from scipy.signal import hilbert

from nfb.feedback.level import FeedbackState
from nfb.feedback.tone import ToneGenerator

SR = 44100


def _gen(mode="pitch", **state):
    st = FeedbackState(**{"level": 0.5, "paused": False, "active": True, **state})
    return st, ToneGenerator(st, SR, mode=mode)


def _peak_hz(x, sr=SR):
    """Dominant frequency: Hann window, zero padding, parabolic interpolation."""
    x = np.asarray(x, float)
    n = 8 * x.size
    spec = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(x.size), n))
    k = int(np.argmax(spec[1:-1])) + 1
    a, b, c = np.log(spec[k - 1 : k + 2] + 1e-12)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / n


def _rms(x):
    return float(np.sqrt(np.mean(np.asarray(x, float) ** 2)))


def _expected_hz(level, f_low=220.0, f_high=880.0):
    return f_low * (f_high / f_low) ** level


def test_pitch_follows_the_level_on_an_exponential_map():
    peaks = {}
    for level in (0.0, 0.2, 0.5, 0.8, 1.0):
        _, gen = _gen(level=level)
        assert gen.frequency(level) == pytest.approx(_expected_hz(level))
        x = gen.render(SR // 2)
        assert x.dtype == np.int16 and x.shape == (SR // 2,)
        peaks[level] = _peak_hz(x[SR // 5 :])
        assert peaks[level] == pytest.approx(_expected_hz(level), rel=0.02)
    assert peaks[0.2] < peaks[0.5] < peaks[0.8]
    assert peaks[0.5] == pytest.approx(440.0, rel=0.005)  # sqrt(220 * 880)


def test_a_level_jump_ramps_the_pitch_and_does_not_click():
    st, gen = _gen(level=0.2)
    before = gen.render(SR // 4)
    st.level = 0.8
    after = gen.render(SR // 4)
    x = np.concatenate([before, after]).astype(float)
    jump = before.size
    # instantaneous frequency from the analytic signal, averaged over 1 ms
    inst = np.diff(np.unwrap(np.angle(hilbert(x)))) * SR / (2 * np.pi)
    ms = SR // 1000

    def f_at(t_ms):
        i = jump + int(t_ms * ms)
        return float(np.mean(inst[i : i + ms]))

    lo, hi = _expected_hz(0.2), _expected_hz(0.8)
    assert f_at(-20) == pytest.approx(lo, rel=0.01)
    assert lo < f_at(2) < lo + 0.5 * (hi - lo)  # gliding, not stepping
    assert f_at(100) == pytest.approx(hi, rel=0.01)  # at the target within 100 ms
    assert _peak_hz(after[SR // 10 :]) == pytest.approx(hi, rel=0.005)
    # phase-continuous: no sample step larger than the fastest sine can make
    amp = np.abs(x).max()
    assert np.abs(np.diff(x)).max() <= amp * 2 * np.pi * hi / SR * 1.05


def _max_step_bound(x, f_hz):
    """Largest sample-to-sample change a sine of x's peak amplitude can make (+5 %)."""
    return np.abs(x).max() * 2 * np.pi * f_hz / SR * 1.05


def test_loudness_changes_are_ramped_where_a_step_would_click():
    st, gen = _gen(mode="volume", level=0.0)  # 440 Hz: 110 cycles in a quarter second
    x = [gen.render(SR // 4 + 25)]  # so every change below falls on a crest of the sine
    st.level = 1.0  # -24 dB -> 0 dB
    x.append(gen.render(SR // 4))
    st.paused = True  # fade out
    x.append(gen.render(SR // 4))
    st.paused = False  # fade in
    x.append(gen.render(SR // 4))
    gen.muted = True
    x.append(gen.render(SR // 4))
    gen.muted = False
    gen.volume = 0.3
    x.append(gen.render(SR // 4))
    x = np.concatenate(x).astype(float)
    bound = _max_step_bound(x, 440.0)
    assert np.abs(np.diff(x)).max() <= bound
    # the same loudness change as a step, at a crest of the sine, exceeds the bound
    n = np.arange(SR // 10)
    gain = np.where(n < SR // 20 + 25, 10 ** (-24 / 20), 1.0)
    step = np.rint(np.abs(x).max() * gain * np.sin(2 * np.pi * 440.0 * n / SR))
    assert np.abs(np.diff(step)).max() > 5 * bound
    # and the loudness did follow the level: level 1 is 24 dB above level 0
    q = SR // 4
    ratio = _rms(x[2 * q - q // 2 : 2 * q + 25]) / _rms(x[q // 2 : q + 25])
    assert 20 * np.log10(ratio) == pytest.approx(24.0, abs=0.5)


@pytest.mark.parametrize(
    ("what", "change"),
    [
        ("paused", lambda st, gen: setattr(st, "paused", True)),
        ("inactive", lambda st, gen: setattr(st, "active", False)),
        ("no audio in the protocol", lambda st, gen: setattr(st, "audio", False)),
        ("muted", lambda st, gen: setattr(gen, "muted", True)),
        ("volume 0", lambda st, gen: setattr(gen, "volume", 0.0)),
    ],
)
def test_silence_after_a_short_ramp(what, change):
    st, gen = _gen(level=0.7, reward=True)
    assert _rms(gen.render(SR // 4)) > 3000
    change(st, gen)
    fade = gen.render(SR // 5)
    assert _rms(fade[: SR // 100]) > 1000, what  # ramped down, not cut
    assert _rms(fade[SR // 10 :]) < 0.002 * _rms(fade[: SR // 100]), what  # -54 dB at 100 ms
    rest = gen.render(SR)
    assert not rest.any(), what  # exact digital silence once the ramp is done


def test_a_fresh_generator_is_silent_until_a_block_runs():
    st = FeedbackState()  # paused, not active
    gen = ToneGenerator(st, SR)
    assert not gen.render(SR // 2).any()
    st.active, st.paused = True, False
    x = gen.render(SR // 2)
    assert abs(x[0]) < 50  # fades in
    assert _rms(x[SR // 4 :]) > 3000


def test_inhibited_is_quieter_at_the_same_pitch():
    _, free = _gen(level=0.6)
    _, inhibited = _gen(level=0.6, inhibited=True)
    a, b = free.render(SR // 2)[SR // 4 :], inhibited.render(SR // 2)[SR // 4 :]
    assert _rms(b) == pytest.approx(free.inhibited_gain * _rms(a), rel=0.01)
    assert _rms(b) < 0.5 * _rms(a)
    assert _peak_hz(b) == pytest.approx(_peak_hz(a), rel=0.001)


def test_modes():
    loud = {}
    for mode in ("pitch", "volume", "pitch+volume"):
        for level in (0.2, 0.8):
            _, gen = _gen(mode=mode, level=level)
            x = gen.render(SR // 2)[SR // 4 :]
            loud[mode, level] = (_rms(x), _peak_hz(x))
    assert loud["pitch", 0.2][0] == pytest.approx(loud["pitch", 0.8][0], rel=0.01)
    assert loud["volume", 0.2][1] == pytest.approx(loud["volume", 0.8][1], rel=0.001)
    assert loud["volume", 0.2][0] < 0.5 * loud["volume", 0.8][0]
    assert loud["pitch+volume", 0.2][0] < 0.5 * loud["pitch+volume", 0.8][0]
    assert loud["pitch+volume", 0.2][1] < loud["pitch+volume", 0.8][1]
    _, gen = _gen()
    with pytest.raises(ValueError, match="mode must be one of"):
        gen.mode = "loud"


def test_a_non_finite_level_is_neutral():
    _, gen = _gen(level=float("nan"))
    x = gen.render(SR // 2)
    assert _peak_hz(x[SR // 4 :]) == pytest.approx(440.0, rel=0.01)


def _chime_onsets(x, win=441):
    """Onset times (s) of the chime: energy at 1320 Hz in 10 ms windows."""
    n = x.size // win
    frames = x[: n * win].astype(float).reshape(n, win) * np.hanning(win)
    probe = np.exp(-2j * np.pi * 1320.0 * np.arange(win) / SR)
    energy = np.abs(frames @ probe)
    on = energy > 0.2 * max(energy.max(), 1e4)
    starts = np.flatnonzero(on & ~np.concatenate([[False], on[:-1]]))
    return starts * win / SR, energy


def _render_chunked(gen, n, rng, max_chunk=3000):
    out, done = [], 0
    while done < n:
        k = min(n - done, int(rng.integers(1, max_chunk)))
        out.append(gen.render(k))
        done += k
    return np.concatenate(out)


def test_chime_after_sustained_reward_then_refractory():
    st, gen = _gen(level=0.3)  # tone at 334 Hz, far from the chime's 1320 Hz
    rng = np.random.default_rng(0)
    # reward flickers (0.8 s on, 0.1 s off): never sustained for 1 s, never a chime
    for _ in range(3):
        st.reward = True
        x = _render_chunked(gen, int(0.8 * SR), rng)
        assert len(_chime_onsets(x)[0]) == 0
        st.reward = False
        gen.render(SR // 10)
    # sustained reward: chime after 1.0 s, then not again for 3 s, then again
    st.reward = True
    x = _render_chunked(gen, int(5.5 * SR), rng)
    onsets, energy = _chime_onsets(x)
    assert onsets == pytest.approx([1.0, 4.0], abs=0.011)
    assert energy.max() > 100 * np.median(energy)  # clearly audible over the tone
    # the clock is the sample count: the same state in other chunks chimes at the same samples
    st.reward = False
    gen.render(SR)
    st.reward = True
    y = gen.render(int(5.5 * SR))
    assert _chime_onsets(y)[0] == pytest.approx([1.0, 4.0], abs=0.011)


def test_no_chime_while_paused_or_inhibited():
    for change in ({"paused": True}, {"inhibited": True}, {"active": False}):
        st, gen = _gen(level=0.3, reward=True, **change)
        gen.muted = False
        x = gen.render(3 * SR)
        st.paused, st.inhibited, st.active = False, False, True
        y = gen.render(SR // 2)  # the reward run starts now, not at the start
        assert len(_chime_onsets(np.concatenate([x, y]))[0]) == 0, change


def test_never_clips_at_full_volume_with_the_chime():
    st, gen = _gen(mode="pitch+volume", level=1.0, reward=True)
    gen.volume = 1.0
    gen.chime_refractory_s = 0.05  # chimes overlapping each other and the tone
    gen.chime_after_s = 0.0
    x = gen.render(3 * SR).astype(int)
    assert np.abs(x).max() < 32767
    assert np.abs(x).max() > 25000  # the limiter bends the peaks, it does not squash all
    # below the limiter's knee the tone is left alone (no distortion of the feedback)
    st.reward = False
    y = gen.render(SR)[SR // 2 :]
    assert _peak_hz(y) == pytest.approx(880.0, rel=0.005)


def test_any_chunking_gives_the_same_pcm():
    """Deterministic given the state and the sample count, as the pipeline is."""
    rng = np.random.default_rng(42)
    changes = [  # (sample index, state change)
        (0, {}),
        (int(1.7 * SR), {"level": 0.9}),
        (int(2.2 * SR), {"inhibited": True}),
        (int(2.5 * SR), {"inhibited": False, "level": 0.1}),
        (int(6.0 * SR), {"paused": True}),
        (int(6.4 * SR), {"paused": False}),
    ]
    end = int(8.0 * SR)

    def run(chunked):
        st, gen = _gen(mode="pitch+volume", level=0.6, reward=True)
        gen.volume = 1.0
        out = []
        bounds = [c[0] for c in changes[1:]] + [end]
        for (_, change), stop in zip(changes, bounds, strict=True):
            for k, v in change.items():
                setattr(st, k, v)
            n = stop - gen.samples_rendered
            out.append(_render_chunked(gen, n, rng) if chunked else gen.render(n))
        return np.concatenate(out)

    whole = run(False)
    assert len(_chime_onsets(whole)[0]) >= 2  # the chime is part of what is compared
    for _ in range(3):
        np.testing.assert_array_equal(run(True), whole)


def test_bad_parameters_are_refused():
    st = FeedbackState()
    with pytest.raises(ValueError, match="f_low"):
        ToneGenerator(st, SR, f_low=900.0, f_high=880.0)
    with pytest.raises(ValueError, match="sample_rate"):
        ToneGenerator(st, 0)
    assert ToneGenerator(st, SR).render(0).shape == (0,)
