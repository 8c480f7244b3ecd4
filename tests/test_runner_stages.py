"""The runner's per-frame stages, each alone: script clock, inhibits, training, sham, level."""

import numpy as np

from nfb.feedback.level import FeedbackLevel
from nfb.protocol import load_protocol
from nfb.session.format import FRAME_COLUMNS
from nfb.session.runner import COLUMN, SessionRunner
from tests.test_runner import LAYOUT, SHORT, col, eeg, run


def _runner(extra=()):
    return SessionRunner(load_protocol("alpha-beta-up", [*SHORT, *extra]), LAYOUT)


def test_the_format_owns_the_engine_columns():
    names = [c for c, _ in FRAME_COLUMNS]
    assert names[-1] == "level" and "raw_value" in names
    r = _runner()
    assert [c for c, _ in r.columns[: len(FRAME_COLUMNS)]] == names
    assert COLUMN["level"] == names.index("level")


def test_script_clock_starts_counts_and_ends_steps():
    r = _runner()
    assert r._clock_enter(3) and r._started and r.current_step.index == 0
    st = r.current_step
    frames = st.duration // r.step_samples
    for k in range(frames - 1):
        assert r._clock_leave(3 + 4 * k, st)
        assert r.current_step is st
    assert r._clock_leave(3 + 4 * frames, st)
    assert r.current_step.index == 1  # the step ended on its last frame
    r.max_samples = 100
    assert not r._clock_enter(100)  # past the duration: stopped, no frame
    assert r.finished


def test_inhibit_stage_holds_frames_until_settled():
    r = _runner()
    inh = {"invalid": np.zeros(3, bool)}
    r._settled_at = 50
    assert r._inhibit_stage(0, 49, False, inh, None, False) is True and inh["invalid"][0]
    assert r._inhibit_stage(1, 50, False, inh, None, False) is False and not inh["invalid"][1]
    assert r._inhibit_stage(2, 60, True, inh, None, False) is True


def test_train_stage_collects_baselines_and_scores_blocks():
    r = _runner()
    r._clock_enter(3)
    st = r.current_step
    assert st.is_baseline
    bands = {c: np.array([7.0]) for c in r.band_columns}
    late = r.pipeline.warmup_samples + 3
    assert r._train_stage(st, late, 2.0, 2.0, False, bands, 0, {}) == (False, False)
    assert r._baseline_values[st.name]["value"] == [2.0]
    assert r._baseline_values[st.name][r.band_columns[0]] == [7.0]
    r._train_stage(st, late, 3.0, 3.0, True, bands, 0, {})  # inhibited: left out
    assert r._baseline_values[st.name]["value"] == [2.0]
    r._paused = True
    assert r._train_stage(st, late, 4.0, 4.0, False, bands, 0, {}) == (False, False)
    assert r._baseline_values[st.name]["value"] == [2.0]


def test_sham_stage_passes_the_own_frame_outside_sham():
    r = _runner()
    r._clock_enter(3)
    assert r._sham_stage(r.current_step, False, 1.5, 1.0, True, False) == (1.5, 1.0, True, False)


def test_level_column_is_the_level_rule_on_the_shown_frames():
    proto = load_protocol("alpha-beta-up", SHORT)
    r, rows, _ = run(proto, eeg(60))
    level = col(r, rows, "level")
    rule = FeedbackLevel("up")
    expect = [
        rule.update(v, t)
        for v, t in zip(col(r, rows, "value"), col(r, rows, "threshold"), strict=True)
    ]
    assert np.array_equal(level, np.asarray(expect))
    trained = col(r, rows, "step") >= 2
    assert np.all((level >= 0) & (level <= 1)) and level[trained].std() > 0.01
    # another chunking gives the same levels, bit for bit
    _r2, rows2, _ = run(proto, eeg(60), chunks=250)
    assert np.array_equal(col(_r2, rows2, "level"), level)
    down = load_protocol("alpha-beta-up", [*SHORT, "feedback.direction=down"])
    rd, rows_d, _ = run(down, eeg(60))
    above = (col(rd, rows_d, "value") > col(rd, rows_d, "threshold")) & trained
    assert np.all(col(rd, rows_d, "level")[above] < 0.5)
