"""The session runner: script, baseline, thresholds, commands, inhibits; replay exactness."""

import numpy as np
import pytest

from nfb.errors import ConfigError
from nfb.protocol import load_protocol
from nfb.session.runner import SessionRunner
from nfb.sources import BoardLayout

FS = 250.0
LAYOUT = BoardLayout(
    board_id=-1,
    sfreq=FS,
    n_rows=3,
    eeg_rows=(0, 1),
    ch_names=("Pz", "Cz"),
    counter_row=None,
    counter_modulo=None,
    timestamp_row=None,
    marker_row=2,
    rail_uv=1000.0,
)
SHORT = [
    "script.baseline_eyes_open=0.2",
    "script.baseline_eyes_closed=0.1",
    "script.blocks=2",
    "script.block_min=0.5",
    "script.rest_min=0.1",
]


def eeg(seconds, seed=0):
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    t = np.arange(n) / FS
    alpha = (10 + 6 * np.sin(2 * np.pi * 0.1 * t)) * np.sin(2 * np.pi * 10 * t)
    return rng.standard_normal((2, n)) * 4 + alpha


def col(runner, rows, name):
    return rows[:, [c for c, _ in runner.columns].index(name)]


def run(proto, data, chunks=None, commands=(), scheduled=None):
    events = []
    r = SessionRunner(proto, LAYOUT, on_event=events.append, scheduled=scheduled)
    rng = np.random.default_rng(5)
    rows, i = [], 0
    pending = sorted(commands)
    while i < data.shape[1] and not r.finished:
        n = int(rng.integers(1, 60)) if chunks is None else chunks
        while pending and pending[0][0] <= i:
            _, kind, info = pending.pop(0)
            r.command(kind, **info)
        rows.append(r.feed(data[:, i : i + n], 1000.0 + i / FS))
        i += n
    r.finish("end")
    return r, np.vstack(rows), events


def test_script_runs_in_order_and_sets_the_threshold_from_baseline():
    proto = load_protocol("alpha-beta-up", SHORT)
    r, rows, events = run(proto, eeg(120))
    starts = [(e["name"], e["sample_index"]) for e in events if e["kind"] == "step_start"]
    assert [s[0] for s in starts] == [
        "baseline_eyes_open",
        "baseline_eyes_closed",
        "block",
        "rest",
        "block",
    ]
    # step boundaries fall on the script's sample counts (frames every 4 samples)
    assert starts[1][1] - starts[0][1] == pytest.approx(0.2 * 60 * FS, abs=4)
    assert r.status == "complete"
    thr = [e for e in events if e["kind"] == "threshold"]
    assert thr[0]["source"] == "baseline"
    assert thr[0]["sample_index"] == starts[1][1]  # at the end of the eyes-open baseline
    assert len(r.summary()["blocks"]) == 2
    # no rewards outside blocks
    steps = col(r, rows, "step").astype(int)
    block_steps = [r.script.index(s) for s in r.script if s.name == "block"]
    assert not col(r, rows, "reward")[~np.isin(steps, block_steps)].any()


def test_auto_threshold_keeps_reward_rate_near_target():
    proto = load_protocol(
        "alpha-beta-up",
        [*SHORT, "script.block_min=2", "script.blocks=1", "reward.target_rate=0.65"],
    )
    r, _rows, _ = run(proto, eeg(300, seed=3))
    rate = r.summary()["blocks"][0]["reward_rate"]
    assert 0.5 < rate < 0.8


def test_fixed_threshold_is_used_as_given():
    proto = load_protocol("alpha-beta-up", [*SHORT, "reward.threshold=1e9"])
    r, rows, _ = run(proto, eeg(120))
    assert np.all(col(r, rows, "threshold") == 1e9)
    assert not col(r, rows, "reward").any()


def test_commands_are_stamped_and_replay_reproduces_the_session_bit_for_bit():
    proto = load_protocol("smr-up", SHORT)
    data = eeg(150, seed=1)
    commands = [
        (3000, "marker", {"label": "yawn", "note": "client yawned"}),
        (5000, "pause", {}),
        (6000, "resume", {}),
        (8000, "threshold", {"value": 4.0}),
        (9000, "skip", {}),
        (16000, "stop", {"reason": "user"}),
    ]
    live, live_rows, live_events = run(proto, data, commands=commands)
    kinds = [e["kind"] for e in live_events]
    for kind in ("marker", "pause", "resume", "skip", "stop"):
        assert kind in kinds
    assert live.status == "stopped"
    manual = [e for e in live_events if e["kind"] == "threshold" and e["source"] == "manual"]
    assert manual and manual[0]["value"] == 4.0
    # pause: the step clock does not advance while paused
    pause = next(e["sample_index"] for e in live_events if e["kind"] == "pause")
    resume = next(e["sample_index"] for e in live_events if e["kind"] == "resume")
    assert resume > pause
    # replay in one big chunk with the recorded commands
    _replay, rows, events = run(proto, data, chunks=data.shape[1], scheduled=live_events)
    assert rows.shape == live_rows.shape
    wall = [c for c, _ in live.columns].index("wall_time")
    keep = [c for c in range(rows.shape[1]) if c != wall]  # fetch times differ by construction
    assert rows[:, keep].tobytes() == live_rows[:, keep].tobytes()
    strip = [{k: v for k, v in e.items()} for e in events]
    assert strip == live_events


def test_amplitude_and_invalid_inhibits_withhold_the_reward():
    proto = load_protocol("alpha-beta-up", [*SHORT, "reward.threshold=-1"])
    data = eeg(120)
    data[0, 15000:15050] += 400  # a movement artefact in block 2 (samples 13500-21000)
    data[1, 20000:20010] = np.nan
    r, rows, _ = run(proto, data)
    names = [c for c, _ in r.columns]
    art = rows[(rows[:, 0] >= 15000) & (rows[:, 0] < 15100)]  # artefact + hold
    assert art[:, names.index("inhibit_amplitude")].all()
    assert not art[:, names.index("reward")].any()
    bad = rows[np.abs(rows[:, 0] - 20005) < 5]
    assert bad[:, names.index("inhibit_invalid")].all()
    assert r.summary()["blocks"][1]["inhibited_rate"] > 0


def test_flat_channel_is_inhibited():
    proto = load_protocol("alpha-beta-up", [*SHORT, "reward.threshold=-1"])
    data = eeg(120)
    data[:, 16000:17000] = 5.0  # both channels stuck
    r, rows, _ = run(proto, data)
    names = [c for c, _ in r.columns]
    stuck = rows[(rows[:, 0] > 16300) & (rows[:, 0] < 16990)]
    assert stuck[:, names.index("inhibit_flat")].all()


def test_duration_cap_stops_at_the_sample_count():
    proto = load_protocol("alpha-beta-up", SHORT)
    events = []
    r = SessionRunner(proto, LAYOUT, on_event=events.append, max_samples=2500)
    rows = r.feed(eeg(20), 0.0)
    assert rows[-1, 0] < 2500 <= rows[-1, 0] + 4 + 1
    assert events[-1] == {"kind": "stop", "reason": "duration", "sample_index": 2503}


def test_commands_are_validated_at_the_edge():
    from nfb.errors import ConfigError, SessionError

    r = SessionRunner(load_protocol("alpha-beta-up", SHORT), LAYOUT)
    for kind, info in [
        ("threshold", {"value": "abc"}),
        ("threshold", {"value": float("nan")}),
        ("threshold", {}),
        ("threshold_mode", {"mode": "sideways"}),
        ("marker", {"label": 3}),
        ("dance", {}),
    ]:
        with pytest.raises(ConfigError):
            r.command(kind, **info)
    bad = [{"sample_index": 10, "kind": "threshold", "value": "abc", "source": "manual"}]
    with pytest.raises(SessionError, match="sample 10"):
        SessionRunner(load_protocol("alpha-beta-up", SHORT), LAYOUT, scheduled=bad)


def test_a_pause_restarts_the_hold():
    proto = load_protocol(
        "alpha-beta-up",
        [
            *SHORT,
            "reward.threshold=-1",
            "reward.hold_ms=2000",
            "script.baseline_eyes_open=0",
            "script.baseline_eyes_closed=0",
        ],
    )
    r = SessionRunner(proto, LAYOUT)
    data = eeg(60)
    hold = r.hold_frames
    rows1 = r.feed(data[:, : (hold - 20) * 4], 0.0)  # a run that is 20 frames short
    assert not col(r, rows1, "reward").any()
    r.command("pause")
    r.feed(data[:, (hold - 20) * 4 : (hold + 200) * 4], 0.0)
    r.command("resume")
    rows = r.feed(data[:, (hold + 200) * 4 :], 0.0)
    reward = col(r, rows, "reward").astype(bool)
    assert reward.any()
    # the first reward after the pause needs a whole new run, not the 20 missing frames
    assert np.argmax(reward) >= hold - 1


def test_baseline_falls_back_and_skips_the_warmup():
    # the protocol's reference is the eyes-closed baseline; skip it at once: eyes open stands in
    proto = load_protocol(
        "alpha-beta-up", [*SHORT, 'feedback.baseline="eyes_closed"', "feedback.zscore=true"]
    )
    events = []
    r = SessionRunner(proto, LAYOUT, on_event=events.append)
    data = eeg(120)
    ec_start = round(0.2 * 60 * FS)
    r.feed(data[:, : ec_start + 40], 0.0)
    r.command("skip")
    r.feed(data[:, ec_start + 40 :], 0.0)
    stats = r.baseline["baseline_eyes_open"]["value"]
    # the first warm-up samples are not in the baseline
    frame_index = np.arange(r.step_samples - 1, ec_start, r.step_samples)
    assert stats["n"] == np.sum(frame_index >= r.pipeline.warmup_samples)
    first = next(e for e in events if e["kind"] == "threshold")
    assert first["source"] == "baseline"
    values = col(r, r.feed(np.zeros((2, 0)), 0.0), "value")
    assert values.size == 0
    assert r._zs[0] == pytest.approx(stats["mean"])  # z-scored against eyes open


def test_a_gap_inhibits_until_the_filters_settle_and_replays_exactly():
    proto = load_protocol("alpha-beta-up", [*SHORT, "reward.threshold=-1"])  # always rewarded
    data = eeg(120, seed=4)
    gap_at = 7000  # inside block 1 (the baselines end at 4500 samples)
    live, rows, events = run(proto, data, commands=[(gap_at, "gap", {})])
    (gap,) = [e for e in events if e["kind"] == "gap"]
    s = col(live, rows, "sample_index")
    settle = live.pipeline.warmup_samples
    after = (s >= gap["sample_index"]) & (s < gap["sample_index"] + settle)
    assert after.sum() == pytest.approx(settle / 4, abs=1)
    assert col(live, rows, "inhibit_invalid")[after].all()
    assert not col(live, rows, "reward")[after].any()
    # the reward comes back once settled, after a new hold
    later = s >= gap["sample_index"] + settle + live.hold_frames * 4
    block = col(live, rows, "step") == live.script[2].index
    assert col(live, rows, "reward")[later & block].mean() > 0.9
    # a replay re-applies the gap at its recorded sample
    _r, again, _ = run(proto, data, chunks=data.shape[1], scheduled=events)
    wall = [c for c, _ in live.columns].index("wall_time")
    keep = [c for c in range(rows.shape[1]) if c != wall]
    assert again[:, keep].tobytes() == rows[:, keep].tobytes()


def test_a_marker_given_just_before_the_stop_is_kept_and_replayed():
    proto = load_protocol("smr-up", SHORT)
    data = eeg(40, seed=2)
    events = []
    live = SessionRunner(proto, LAYOUT, on_event=events.append)
    live.feed(data[:, :5000], 1000.0)
    # no frame follows the marker: the practitioner pressed M, then Stop
    live.command("marker", label="m1", note="last words")
    live.command("pause")  # changes nothing after the last frame: not recorded
    live.finish("user")
    kinds = [e["kind"] for e in events]
    assert kinds[-1] == "stop" and "pause" not in kinds
    (marker,) = [e for e in events if e["kind"] == "marker"]
    assert marker["note"] == "last words" and marker["sample_index"] == events[-1]["sample_index"]
    replayed = []
    again = SessionRunner(proto, LAYOUT, on_event=replayed.append, scheduled=events)
    again.feed(data[:, :5000], 1000.0)
    again.finish("end")
    assert replayed == events


def test_a_reused_threshold_is_where_the_session_starts_and_replays_exactly():
    """Issue 14: "reuse the last thresholds": given before the first frame, the session
    starts from it; the baseline sets the z-score and limits, not the threshold; the auto
    rule goes on from it; a replay of the recorded events starts from it too."""
    proto = load_protocol("alpha-beta-up", SHORT)
    data = eeg(120, seed=3)
    _plain, plain_rows, plain_events = run(proto, data)
    reused = 0.25 * float(
        next(e["value"] for e in plain_events if e["kind"] == "threshold")
    )  # far below what the baseline gives: it would show if the baseline replaced it
    cmd = (0, "threshold", {"value": reused, "source": "reused", "session": "20261101-x"})
    r, rows, events = run(proto, data, commands=[cmd])
    thresholds = [e for e in events if e["kind"] == "threshold"]
    first = thresholds[0]
    assert first == {
        "sample_index": int(col(r, rows, "sample_index")[0]),
        "kind": "threshold",
        "value": reused,
        "source": "reused",
        "session": "20261101-x",
    }
    assert r.summary()["thresholds"][0] == first
    assert all(e["source"] != "baseline" for e in thresholds)
    block_start = next(
        e["sample_index"] for e in events if e["kind"] == "step_start" and e["name"] == "block"
    )
    at_block = col(r, rows, "sample_index") > block_start
    assert col(r, rows, "threshold")[at_block][0] == reused  # the first block starts there
    assert r.threshold_mode == "auto"  # the protocol's rule goes on from it
    assert any(e["source"] == "auto" for e in thresholds)
    assert not np.array_equal(col(r, rows, "threshold"), col(_plain, plain_rows, "threshold"))
    # replay: the recorded events as the schedule, one big chunk
    _again, again_rows, again_events = run(proto, data, chunks=data.shape[1], scheduled=events)
    wall = [c for c, _ in r.columns].index("wall_time")
    keep = [c for c in range(rows.shape[1]) if c != wall]  # fetch times differ by construction
    assert again_rows[:, keep].tobytes() == rows[:, keep].tobytes()
    assert again_events == events


def test_a_threshold_command_names_its_source():
    proto = load_protocol("alpha-beta-up", SHORT)
    r = SessionRunner(proto, LAYOUT)
    with pytest.raises(ConfigError, match="source must be manual or reused"):
        r.command("threshold", value=1.0, source="baseline")
    with pytest.raises(ConfigError, match="session must be a session id"):
        r.command("threshold", value=1.0, source="reused", session=3)
