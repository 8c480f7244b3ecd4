"""Inhibit limits changed during a session: validated at the edge, recorded, replayed exactly."""

import time

import numpy as np
import pytest

import nfb
from nfb.devices import load_profile
from nfb.errors import ConfigError, SessionError
from nfb.protocol import load_protocol
from nfb.session.format import INHIBIT_LIMIT_EVENT
from nfb.session.live import LiveSession
from nfb.session.replay import replay
from nfb.session.runner import SessionRunner
from nfb.stream import DeviceStream
from tests.test_runner import FS, LAYOUT, SHORT, col, eeg, run

#: SMR up on Cz with its theta and high-beta band inhibits (limits from the baseline).
SMR = [*SHORT, "signal.channels=Cz"]


def _with_bursts(seconds: float, seed: int = 0) -> np.ndarray:
    # 30-60 µV spikes now and then: an amplitude limit decides how many frames they inhibit
    data = eeg(seconds, seed)
    rng = np.random.default_rng(seed + 1)
    for at in rng.integers(0, data.shape[1] - 20, size=int(seconds * 2)):
        data[:, at : at + 10] += rng.uniform(30, 60)
    return data


def _limit_events(events):
    return [e for e in events if e["kind"] == INHIBIT_LIMIT_EVENT]


def test_an_amplitude_limit_changes_from_its_frame_on_and_is_recorded():
    proto = load_protocol("alpha-beta-up", SHORT)
    data = _with_bursts(70)
    at = int(40 * FS)
    _r, before_rows, _ = run(proto, data)
    r, rows, events = run(
        proto, data, commands=[(at, "inhibit_limit", {"inhibit": "amplitude", "value": 40.0})]
    )
    (event,) = _limit_events(events)
    assert event == {"sample_index": event["sample_index"], "kind": INHIBIT_LIMIT_EVENT,
                     "inhibit": "amplitude", "value": 40.0, "previous": 100.0}  # fmt: skip
    s = col(r, rows, "sample_index")
    assert at <= event["sample_index"] < at + 64  # the first frame of the next chunk
    after = s >= event["sample_index"]
    amp = col(r, rows, "inhibit_amplitude") > 0
    old = col(_r, before_rows, "inhibit_amplitude") > 0
    # the same frames up to the change; from it on, more frames are inhibited (40 < 100 µV)
    assert np.array_equal(amp[~after], old[~after])
    assert amp[after].sum() > old[after].sum() + 10
    assert r.inhibit_limits["amplitude"] == 40.0
    assert r.snapshot().inhibit_limits["amplitude"] == 40.0
    assert r.inhibit_limit_changes == [event]


def test_replay_reproduces_limit_changes_in_any_chunking():
    proto = load_protocol("smr-up", SMR)
    data = _with_bursts(70, seed=3)
    commands = [
        (int(5 * FS), "inhibit_limit", {"inhibit": "band_theta", "value": 2.0}),  # in the baseline
        (int(30 * FS), "inhibit_limit", {"inhibit": "amplitude", "value": 35.0}),
        (int(45 * FS), "inhibit_limit", {"inhibit": "band_high_beta", "value": 1.0}),
        (int(55 * FS), "inhibit_limit", {"inhibit": 3, "value": 1000.0}),  # inhibit[3]: flat
    ]
    r, rows, events = run(proto, data, commands=commands)
    recorded = _limit_events(events)
    assert [e["inhibit"] for e in recorded] == ["band_theta", "amplitude", "band_high_beta",
                                                "flat"]  # fmt: skip
    # a limit set before the baseline ends is the practitioner's: the baseline leaves it
    assert r.inhibit_limits["band_theta"] == 2.0
    assert r.inhibit_limits["band_high_beta"] == 1.0
    assert any(e["kind"] == "baseline_stats" for e in events)
    # a flat limit of 1000 µV: every frame is "flat" from its change on
    flat = col(r, rows, "inhibit_flat") > 0
    s = col(r, rows, "sample_index")
    assert (
        flat[s >= recorded[-1]["sample_index"]].all()
        and not flat[s < recorded[0]["sample_index"]].any()
    )
    # the band inhibit follows the new limit: on after min_episode_ms (7 frames) above it,
    # off below release x limit (0.8 x 2.0)
    theta = col(r, rows, "theta")
    on = col(r, rows, "inhibit_band_theta") > 0
    later = s >= recorded[0]["sample_index"] + 7 * r.step_samples
    above = np.convolve(theta > 2.0, np.ones(7), "full")[: len(theta)] == 7
    assert (later & above).sum() > 50 and on[later & above].all()
    assert (later & (theta <= 1.6)).sum() > 50 and not on[later & (theta <= 1.6)].any()
    wall = [c for c, _ in r.columns].index("wall_time")
    keep = [c for c in range(rows.shape[1]) if c != wall]  # fetch times follow the chunks
    for chunks in (data.shape[1], 7, 1000):
        _again, again_rows, again_events = run(proto, data, chunks=chunks, scheduled=events)
        assert again_rows[:, keep].tobytes() == rows[:, keep].tobytes()
        assert _limit_events(again_events) == recorded


@pytest.mark.parametrize(
    "info, message",
    [
        ({"value": 10.0}, "inhibit must be an inhibit's name"),
        ({"inhibit": "", "value": 10.0}, "inhibit must be an inhibit's name"),
        ({"inhibit": True, "value": 10.0}, "inhibit must be an inhibit's name"),
        ({"inhibit": "amplitude"}, "value must be a finite number > 0, got None"),
        ({"inhibit": "amplitude", "value": 0}, "value must be a finite number > 0, got 0"),
        ({"inhibit": "amplitude", "value": -3.0}, "> 0, got -3.0"),
        ({"inhibit": "amplitude", "value": float("nan")}, "> 0, got nan"),
        ({"inhibit": "amplitude", "value": "40"}, "> 0, got '40'"),
        ({"inhibit": "amplitude", "value": True}, "> 0, got True"),
        (
            {"inhibit": "band_theta", "value": 5.0},
            "no inhibit 'band_theta' in this session; "
            "its adjustable inhibits: amplitude, emg, flat",
        ),
        ({"inhibit": 9, "value": 5.0}, "inhibit index 9 is outside the protocol's 4 inhibits"),
    ],
)
def test_limit_commands_are_validated_at_the_edge(info, message):
    r = SessionRunner(load_protocol("alpha-beta-up", SHORT), LAYOUT)
    with pytest.raises(ConfigError, match=r"^inhibit_limit command: ") as err:
        r.command("inhibit_limit", **info)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_recorded_limit_of_an_unknown_inhibit_fails_the_replay_with_its_sample():
    bad = [{"sample_index": 40, "kind": "inhibit_limit", "inhibit": "band_theta", "value": 3.0}]
    with pytest.raises(
        SessionError, match=r"recorded event at sample 40: .*no inhibit 'band_theta'"
    ):
        SessionRunner(load_protocol("alpha-beta-up", SHORT), LAYOUT, scheduled=bad)
    worse = [{"sample_index": 40, "kind": "inhibit_limit", "inhibit": "emg", "value": -1}]
    with pytest.raises(SessionError, match=r"recorded event at sample 40: .*> 0, got -1"):
        SessionRunner(load_protocol("alpha-beta-up", SHORT), LAYOUT, scheduled=worse)


def test_a_live_session_records_its_limit_changes_and_replays_bit_for_bit(tmp_path):
    stream = DeviceStream(load_profile("synthetic"))
    stream.connect()
    script = ["script.baseline_eyes_open=0", "script.baseline_eyes_closed=0", "script.blocks=1"]
    fixed = ["inhibit.0.max=1000", "inhibit.1.max=1000", "signal.channels=Cz"]
    proto = load_protocol("smr-up", [*script, "script.block_min=1", *fixed])
    session = LiveSession(stream, proto, "c1", sessions_dir=tmp_path, duration_s=6)
    deadline = time.monotonic() + 60
    try:
        folder = session.start()
        while session.snapshot().sample_index < 2 * FS:
            assert time.monotonic() < deadline, "no frames from the synthetic board"
            time.sleep(0.02)
        theta = session.snapshot().inhibit_values["band_theta"]
        session.command("inhibit_limit", inhibit="band_theta", value=theta / 10)
        session.command("inhibit_limit", inhibit=2, value=150.0)  # inhibit[2]: amplitude
        while session.snapshot().inhibit_limits["amplitude"] != 150.0:
            assert time.monotonic() < deadline, "the limit was not taken"
            time.sleep(0.02)
        snap = session.snapshot()
        # (the synthetic board has no ADC range: no railed inhibit)
        limits = {"amplitude": 150.0, "flat": 0.5, "band_theta": theta / 10}
        assert snap.inhibit_limits == {**limits, "band_high_beta": 1000.0}
        assert set(snap.inhibit_values) == set(snap.inhibit_limits)
        assert session.wait(60)
    finally:
        session.stop()
        stream.disconnect()
    rec = nfb.read_session(folder)
    changes = _limit_events(rec.events)
    assert [(e["inhibit"], e["value"], e["previous"]) for e in changes] == [
        ("band_theta", theta / 10, 1000.0),
        ("amplitude", 150.0, 100.0),
    ]
    after = rec.frames["sample_index"] >= changes[0]["sample_index"] + FS
    assert rec.frames["inhibit_band_theta"][after].mean() > 0.5  # a tenth of its value
    assert not rec.frames["inhibit_band_theta"][
        rec.frames["sample_index"] < changes[0]["sample_index"]
    ].any()
    again = nfb.read_session(replay(folder, tmp_path / "replayed", progress=False))
    assert again.frames.tobytes() == rec.frames.tobytes()
    assert _limit_events(again.events) == changes


def test_a_limit_change_keeps_the_other_inhibits_of_its_frames():
    # the relimit stage re-evaluates one rule from frame i on; the frame's other flags
    # (another stage's, as motion's, and invalid) still inhibit
    r = SessionRunner(load_protocol("alpha-beta-up", SHORT), LAYOUT)
    m = len(r.feed(eeg(2), 1000.0))  # the chunk the inhibitor evaluated last
    inh = {k: np.zeros(m, bool) for k in ("amplitude", "emg", "flat", "invalid")}
    inh["motion"] = np.zeros(m, bool)
    inh["motion"][[2, 3]] = True
    inh["invalid"][4] = True
    any_inh = [False] * m
    r.inhibitor.set_limit("emg", 1e6)  # nothing is above it
    r._relimited.append("emg")
    r._relimit_stage(2, inh, any_inh)
    assert any_inh[:5] == [False, False, True, True, True] and not any(any_inh[5:])
    assert not inh["emg"][2:].any()
