"""BrainFlow presets: a board's motion (auxiliary) and PPG (ancillary) streams recorded beside
its EEG, each at its own rate, read back with MNE, a motion inhibit, the heart rate from the
PPG, and an exact replay.

The Muse is BrainFlow's playback-file board with ``master_board = MUSE_2_BOARD`` playing one
recorded Muse-shaped file per preset (``file``, ``file_aux``, ``file_anc``): 256 Hz EEG, 52 Hz
accelerometer/gyro with a head turn, 64 Hz PPG with a pulse of known rate.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from brainflow.board_shim import BoardIds, BoardShim
from brainflow.data_filter import DataFilter
from conftest import nfb_cli

from nfb.devices import list_profiles, load_profile, open_source
from nfb.dsp.heart import best_heart_rate
from nfb.errors import ConfigError
from nfb.protocol import Protocol, load_protocol
from nfb.session.live import LiveSession
from nfb.session.replay import replay
from nfb.session.runner import SessionRunner
from nfb.session.store import read_session
from nfb.sources import STREAM_PRESETS, BoardLayout
from nfb.stream import DeviceStream

BPM = 66.0
TURN_S = (3.0, 3.6)  # the head turn, in seconds of the recording
TURN_DPS = 60.0

MUSE_PROFILE = """\
board = "PLAYBACK_FILE_BOARD"
channels = ["TP9", "AF7", "AF8", "TP10"]
streams = ["auxiliary", "ancillary"]
[connection]
master_board = "MUSE_2_BOARD"
file = "eeg.csv"
file_aux = "aux.csv"
file_anc = "anc.csv"
"""

MOTION_PROTOCOL = """\
name = "alpha with a motion inhibit"
[signal]
channels = "AF7"
[feedback]
feature = "alpha"
[reward]
threshold = 5.0
[[inhibit]]
kind = "motion"
max_gyro_dps = 20
hold_ms = 300
[script]
baseline_eyes_open = 0
baseline_eyes_closed = 0
blocks = 1
block_min = 1
"""


def write_muse_recording(folder, seconds: float = 20.0) -> None:
    """Muse 2-shaped files, one per preset. Row 5 of the EEG (Muse's "other" row) holds the
    recording's time in seconds, and each stream's counter its sample number, so a test can
    tell where in the recording every sample came from."""
    t0 = time.time()
    rng = np.random.default_rng(0)
    n = int(seconds * 256)
    t = np.arange(n) / 256
    eeg = np.zeros((8, n))
    eeg[0] = (np.arange(n) // 12) % 65536  # Muse: one packet number per 12 samples
    eeg[1:5] = 10 * np.sin(2 * np.pi * 10 * t) + 3 * rng.standard_normal((4, n))
    eeg[5] = t
    eeg[6] = t0 + t
    m = int(seconds * 52)
    tm = np.arange(m) / 52
    aux = np.zeros((9, m))
    aux[0] = np.arange(m)
    aux[1:4] = 0.01 * rng.standard_normal((3, m))
    aux[3] += 1.0  # gravity on z: the head is still
    aux[4:7] = 0.5 * rng.standard_normal((3, m))
    aux[6, (tm >= TURN_S[0]) & (tm < TURN_S[1])] += TURN_DPS  # a head turn
    aux[7] = t0 + tm
    k = int(seconds * 64)
    tp = np.arange(k) / 64
    anc = np.zeros((6, k))
    anc[0] = np.arange(k)
    phase = (tp * BPM / 60) % 1
    pulse = np.exp(-0.5 * ((phase - 0.2) / 0.06) ** 2) + 0.4 * np.exp(
        -0.5 * ((phase - 0.5) / 0.08) ** 2
    )
    anc[1] = 1000 + 20 * rng.standard_normal(k)  # ambient: no pulse
    anc[2] = 50000 - 800 * pulse + 100 * rng.standard_normal(k)  # infrared
    anc[3] = 40000 - 300 * pulse + 100 * rng.standard_normal(k)  # red
    anc[4] = t0 + tp
    for name, data in (("eeg", eeg), ("aux", aux), ("anc", anc)):
        DataFilter.write_file(data, str(folder / f"{name}.csv"), "w")


@pytest.fixture(scope="module")
def muse_session(tmp_path_factory):
    """A live session recorded from the Muse playback (6 s), and the heart rate the stream
    showed during it."""
    folder = tmp_path_factory.mktemp("muse")
    write_muse_recording(folder)
    (folder / "muse.toml").write_text(MUSE_PROFILE)
    (folder / "motion.toml").write_text(MOTION_PROTOCOL)
    stream = DeviceStream(load_profile(str(folder / "muse.toml")))
    stream.connect()
    try:
        session = LiveSession(
            stream,
            load_protocol(str(folder / "motion.toml")),
            "c1",
            sessions_dir=folder / "sessions",
            duration_s=6.0,
        )
        path = session.start()
        assert session.wait(timeout=60)
        heart = stream.heart
        status = session.stop()
    finally:
        stream.disconnect()
    assert status in ("complete", "stopped"), session.error
    return read_session(path), heart, folder


def _file_time(rec, sample_index):
    """Seconds of the recording at which the playback sent EEG sample(s) ``sample_index``."""
    return rec.samples[5][sample_index]


# ---------------------------------------------------------------------------------------------
# profiles


def test_muse_profiles_declare_the_presets_brainflow_has():
    profiles = {p.name: p for p in list_profiles()}
    for name in ("muse-2", "muse-s", "muse-2016", "muse-s-athena"):
        profile = profiles[name]
        has = BoardShim.get_board_presets(profile.board_id)
        assert profile.streams, name
        assert {STREAM_PRESETS[s] for s in profile.streams} == set(has) - {0}, name
        layout = open_source(profile).layout
        aux = layout.stream("auxiliary")
        assert aux.sfreq == 52 and aux.rows_of("accel") and aux.rows_of("gyro")
    # BrainFlow has no PPG for the 2016 model; the others stream it at 64 Hz
    assert open_source(profiles["muse-2016"]).layout.stream("ancillary") is None
    anc = open_source(profiles["muse-2"]).layout.stream("ancillary")
    assert anc.sfreq == 64 and anc.labels == ("ppg_0", "ppg_1", "ppg_2")
    # ... once the headband is told to ("p61", BrainFlow's Muse documentation)
    assert "p61" in profiles["muse-2"].config and "p61" in profiles["muse-s"].config


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('streams = ["ancillary"]', r"'ancillary', but SYNTHETIC_BOARD has \"auxiliary\""),
        ('streams = ["motion"]', r"'motion', not a BrainFlow preset \(allowed: auxiliary, anc"),
        ('streams = ["auxiliary", "auxiliary"]', r"lists a preset twice"),
        ('streams = "auxiliary"', r"'streams' must be a list of preset names"),
    ],
)
def test_bad_streams_are_one_line(tmp_path, line, message):
    path = tmp_path / "synth.toml"
    path.write_text(f'board = "SYNTHETIC_BOARD"\n{line}\n')
    with pytest.raises(ConfigError, match=message) as err:
        load_profile(str(path))
    assert "\n" not in str(err.value) and "synth.toml" in str(err.value)


def test_a_file_device_has_no_streams(tmp_path):
    path = tmp_path / "f.toml"
    path.write_text('board = "file"\nstreams = ["auxiliary"]\n[connection]\nfile = ""\n')
    with pytest.raises(ConfigError, match=r"'streams' is only for BrainFlow boards"):
        load_profile(str(path))


# ---------------------------------------------------------------------------------------------
# the synthetic board's auxiliary preset


def test_the_synthetic_boards_auxiliary_preset_is_recorded_and_read_back(tmp_path):
    profile = tmp_path / "synth-aux.toml"
    profile.write_text('board = "SYNTHETIC_BOARD"\nstreams = ["auxiliary"]\n')
    protocol = tmp_path / "alpha.toml"
    protocol.write_text(
        MOTION_PROTOCOL.replace("max_gyro_dps = 20", "max_gyro_dps = 5\nmax_accel_g = 0")
    )
    out = nfb_cli(
        "run", "--device", profile, "--protocol", protocol, "--client", "c1",
        "--duration", "2", "--sessions-dir", tmp_path / "sessions",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    rec = read_session(out.stdout.strip().splitlines()[-1])
    aux = rec.streams["auxiliary"]
    descr = BoardShim.get_board_descr(int(BoardIds.SYNTHETIC_BOARD), 1)
    assert aux.sfreq == descr["sampling_rate"] and aux.samples.shape[0] == descr["num_rows"]
    # its own sample index: the board's counter advances by one per sample, mod 256
    assert np.all(np.diff(aux.samples[0]) % 256 == 1)
    # about as many samples as the EEG (both 250 Hz), and fetched along with it
    assert abs(aux.n_samples - rec.n_samples) < 100
    assert np.all(np.diff(aux.eeg_index) >= 0) and aux.eeg_index[-1] <= rec.n_samples
    assert set(aux.labels) >= {"accel_x", "gyro_z", "ppg_0", "ppg_1", "eda_0"}
    # the synthetic PPG is noise: no heart rate
    ppg = aux.signals[[aux.labels.index("ppg_0"), aux.labels.index("ppg_1")]]
    assert best_heart_rate(ppg, aux.sfreq).bpm is None
    # the synthetic gyro reads 0.8-1 deg/s per axis (|ω| under 1.7): 5 deg/s never inhibits
    assert "inhibit_motion" in rec.frames.dtype.names
    assert not rec.frames["inhibit_motion"].any()
    raw = rec.raw
    misc = [c for c, t in zip(raw.ch_names, raw.get_channel_types(), strict=True) if t == "misc"]
    assert misc == list(aux.labels)
    assert raw.n_times == rec.n_samples + rec.n_missing


# ---------------------------------------------------------------------------------------------
# a Muse: recorded, read back with MNE, replayed


def test_each_stream_is_recorded_at_its_own_rate(muse_session):
    rec, _, _ = muse_session
    aux, anc = rec.streams["auxiliary"], rec.streams["ancillary"]
    assert (aux.sfreq, anc.sfreq) == (52.0, 64.0)
    seconds = rec.n_samples / rec.sfreq
    for st in (aux, anc):
        # the counter (its sample number in the recording) has no hole: nothing lost
        assert np.array_equal(np.diff(st.samples[0]), np.ones(st.n_samples - 1))
        assert abs(st.n_samples / st.sfreq - seconds) < 0.5
        assert np.all(np.diff(st.eeg_index) >= 0) and st.eeg_index[-1] <= rec.n_samples
        # recorded at the same place of the recording as the EEG around it
        ts_row = st.layout["timestamp_row"]
        assert abs(st.samples[ts_row][0] - rec.samples[6][0]) < 0.5
    meta = json.loads((rec.path / "session.json").read_text())
    assert meta["streams"]["auxiliary"]["n_samples"] == aux.n_samples
    assert meta["streams"]["ancillary"]["columns"][-2:] == ["fetch_time", "eeg_index"]


def test_mne_gets_the_streams_as_misc_channels_on_the_eeg_grid(muse_session):
    rec, _, _ = muse_session
    raw = rec.raw
    types = dict(zip(raw.ch_names, raw.get_channel_types(), strict=True))
    assert [c for c, t in types.items() if t == "eeg"] == ["TP9", "AF7", "AF8", "TP10"]
    assert [c for c, t in types.items() if t == "misc"] == [
        *(f"{a}_{x}" for a in ("accel", "gyro") for x in "xyz"),
        "ppg_0", "ppg_1", "ppg_2",
    ]  # fmt: skip
    # resampled by the board timestamps: the head turn is where the EEG of its time is
    gyro_z = raw.get_data(picks="gyro_z")[0]
    at = _file_time(rec, np.arange(rec.n_samples))
    inside = (at > TURN_S[0] + 0.1) & (at < TURN_S[1] - 0.1)
    still = (at > 1.0) & (at < TURN_S[0] - 0.3)
    assert inside.sum() > 50 and still.sum() > 200
    assert gyro_z[inside].min() > TURN_DPS - 5 and np.abs(gyro_z[still]).max() < 5
    accel_z = raw.get_data(picks="accel_z")[0]
    assert abs(np.median(accel_z) - 1.0) < 0.05  # in g, as recorded
    # each stream at its own rate, untouched
    ppg = rec.stream_raw("ancillary")
    assert ppg.info["sfreq"] == 64 and ppg.n_times == rec.streams["ancillary"].n_samples
    np.testing.assert_array_equal(ppg.get_data(), rec.streams["ancillary"].signals)


def test_head_motion_inhibits_the_frames_of_the_turn(muse_session):
    rec, _, _ = muse_session
    frames = rec.frames
    at = _file_time(rec, frames["sample_index"])
    flags = frames["inhibit_motion"]
    during = (at > TURN_S[0] + 0.15) & (at < TURN_S[1])
    before = (at > 1.0) & (at < TURN_S[0] - 0.1)
    after = at > TURN_S[1] + 0.3 + 0.3  # hold_ms 300, and a poll's delay
    assert during.sum() > 10 and before.sum() > 50 and after.sum() > 50
    assert flags[during].all() and not flags[before].any() and not flags[after].any()
    assert frames["inhibited"][during].all()


def test_the_heart_rate_is_the_pulse_of_the_ppg(muse_session):
    _, heart, _ = muse_session
    assert heart is not None and heart.bpm is not None, heart
    assert abs(heart.bpm - BPM) < 2
    assert heart.text == f"{heart.bpm:.0f} bpm"


def test_a_replay_is_exact_and_keeps_the_streams(muse_session, tmp_path):
    rec, _, _ = muse_session
    out = read_session(replay(rec.path, tmp_path / "replayed", progress=False))
    assert out.frames.dtype == rec.frames.dtype
    for name in rec.frames.dtype.names:
        if name != "wall_time":
            np.testing.assert_array_equal(out.frames[name], rec.frames[name], err_msg=name)
    assert out.frames["inhibit_motion"].any()
    for name, st in rec.streams.items():
        np.testing.assert_array_equal(out.streams[name].samples, st.samples)
        np.testing.assert_array_equal(out.streams[name].eeg_index, st.eeg_index)


def test_the_motion_inhibit_is_the_same_in_any_chunking(muse_session):
    rec, _, _ = muse_session
    layout = BoardLayout.from_dict(rec.layout)
    protocol = Protocol.from_dict(rec.meta["protocol"], slug="motion")
    aux = rec.streams["auxiliary"]
    eeg = rec.samples[list(layout.eeg_rows)]
    col = [c for c, _ in SessionRunner(protocol, layout).columns].index("inhibit_motion")
    rng = np.random.default_rng(3)
    results = []
    for sizes in ([eeg.shape[1]], rng.integers(1, 60, size=eeg.shape[1])):
        runner = SessionRunner(protocol, layout)
        rows, pos, fed = [], 0, 0
        for n in sizes:
            if pos >= eeg.shape[1]:
                break
            end = min(pos + int(n), eeg.shape[1])
            upto = int(np.searchsorted(aux.eeg_index, end))  # before the frames that see it
            runner.feed_stream("auxiliary", aux.samples[:, fed:upto], aux.eeg_index[fed:upto])
            fed = upto
            rows.append(runner.feed(eeg[:, pos:end], 0.0))
            pos = end
        results.append(np.vstack(rows)[:, col])
    np.testing.assert_array_equal(results[0], results[1])
    # and as the live session had it (that one stopped at its duration)
    live = rec.frames["inhibit_motion"]
    np.testing.assert_array_equal(results[0][: live.size].astype(bool), live)


# ---------------------------------------------------------------------------------------------
# the motion inhibit's checks


def test_a_motion_inhibit_needs_a_motion_stream():
    protocol = Protocol.from_dict(
        {**_motion_dict(), "inhibit": [{"kind": "motion", "max_gyro_dps": 20}]}, slug="m"
    )
    layout = open_source(load_profile("synthetic")).layout
    with pytest.raises(ConfigError, match=r'motion stream \(a profile with streams = \["aux'):
        SessionRunner(protocol, layout)
    with pytest.raises(ConfigError, match=r"needs max_accel_g or max_gyro_dps above 0"):
        Protocol.from_dict(
            {
                **_motion_dict(),
                "inhibit": [{"kind": "motion", "max_accel_g": 0, "max_gyro_dps": 0}],
            },
            slug="m",
        )
    with pytest.raises(ConfigError, match=r"inhibit\[0\].max_gyro_dps"):
        Protocol.from_dict(
            {**_motion_dict(), "inhibit": [{"kind": "motion", "max_gyro_dps": -1}]}, slug="m"
        )


def _motion_dict() -> dict:
    return {
        "name": "motion",
        "signal": {"channels": "AF7"},
        "feedback": {"feature": "alpha"},
        "bands": {"alpha": [8, 12]},
        "reward": {"threshold": 5.0},
        "script": {"baseline_eyes_open": 0, "baseline_eyes_closed": 0, "blocks": 1},
    }


def test_edf_and_bids_keep_the_stream_channels(muse_session, tmp_path):
    import csv

    import mne

    from nfb.session.bids import export_bids
    from nfb.session.export import export_session

    rec, _, _ = muse_session
    edf = tmp_path / "s.edf"
    export_session(rec.path, edf)
    back = mne.io.read_raw(edf, verbose="error")
    assert back.ch_names == rec.raw.ch_names  # labels fit EDF's 16 characters
    gyro = back.get_data(picks="gyro_z")[0][: rec.raw.n_times]  # EDF pads its last record
    np.testing.assert_allclose(gyro, rec.raw.get_data(picks="gyro_z")[0], atol=0.01)
    bids = export_bids(rec, tmp_path / "bids")
    tsv = bids.eeg_file.with_name(bids.eeg_file.name.replace("_eeg.edf", "_channels.tsv"))
    with open(tsv, newline="", encoding="utf-8") as f:
        table = {r["name"]: r for r in csv.DictReader(f, delimiter="\t")}
    assert table["gyro_z"]["type"] == "MISC" and table["gyro_z"]["units"] == "deg/s"
    assert "52 Hz" in table["accel_x"]["description"] and "(g)" in table["accel_x"]["description"]
    assert "64 Hz" in table["ppg_1"]["description"] and table["TP9"]["type"] == "EEG"


def test_the_console_shows_the_heart_rate(qtbot, own_windows, tmp_path):
    """Connected to the Muse playback, the console's status bar shows the pulse's rate."""
    pytest.importorskip("pytestqt")

    from tests.test_gui_console import open_console

    write_muse_recording(tmp_path, seconds=15.0)
    devices = tmp_path / "user-config" / "devices"  # NFB_CONFIG_DIR of conftest
    devices.mkdir(parents=True)
    text = MUSE_PROFILE
    for name in ("eeg", "aux", "anc"):
        text = text.replace(f'"{name}.csv"', json.dumps(str(tmp_path / f"{name}.csv")))
    (devices / "muse-play.toml").write_text(text)
    console = open_console(own_windows, tmp_path)
    assert console.status_heart.text() == ""
    console.device_box.setCurrentText("muse-play")
    console.connect_device()
    qtbot.waitUntil(lambda: console.stream is not None, timeout=20000)
    assert console.status_heart.text() in ("", "heart no signal")  # no PPG yet: waiting
    qtbot.waitUntil(lambda: console.status_heart.text().endswith(" bpm"), timeout=20000)
    bpm = float(console.status_heart.text().split()[1])
    assert abs(bpm - BPM) < 2
    console.disconnect_device()
    qtbot.waitUntil(
        lambda: console.stream is None and console.status_heart.text() == "", timeout=20000
    )


def test_motion_flags_follow_what_had_come_in_and_go_off_when_the_stream_falls_silent():
    from nfb.dsp.motion import MotionInhibit

    # a 52 Hz stream, rows [counter, ax, ay, az, gx, gy, gz]; EEG at 256 Hz
    gate = MotionInhibit(
        52.0, [1, 2, 3], [4, 5, 6], max_accel_g=0.2, max_gyro_dps=20, hold_ms=0, stale_samples=256
    )
    still = np.zeros((7, 10))
    still[3] = 1.0  # gravity only
    jolt = still.copy()
    jolt[1, 5] = 0.9  # |a| = 1.35 g for one sample
    gate.feed(still, 100)
    gate.feed(jolt, 200)  # known from EEG sample 200 on
    gate.feed(still, 300)
    flags = gate.flags(np.array([150, 199, 200, 250, 299, 300, 555, 556]))
    # hold_ms 0: only the newest sample counts, and the jolt (5th of 10) never is
    assert not flags.any()
    held = MotionInhibit(
        52.0, [1, 2, 3], [4, 5, 6], max_accel_g=0.2, max_gyro_dps=20, hold_ms=200, stale_samples=256
    )
    held.feed(still, 100)
    held.feed(jolt, 200)
    held.feed(still, 300)
    flags = held.flags(np.array([150, 199, 200, 250, 299, 300, 555, 556]))
    # seen from 200 until 11 newer samples (200 ms at 52 Hz) have come at 300; the stream
    # silent from 300: at 556 its samples are 256 EEG samples old
    assert flags.tolist() == [False, False, True, True, True, False, False, False]
    gyro = still.copy()
    gyro[6, -1] = 25.0  # a turn at the newest sample
    held.feed(gyro, 600)
    assert held.flags(np.array([600, 855, 856])).tolist() == [True, True, False]


def test_an_interrupted_session_recovers_its_streams(muse_session, tmp_path):
    import shutil

    from nfb.session.recovery import recover_session

    rec, _, _ = muse_session
    folder = tmp_path / "interrupted"
    shutil.copytree(rec.path, folder)
    meta = json.loads((folder / "session.json").read_text())
    meta["status"] = "recording"  # as a killed recorder leaves it
    for node in meta["streams"].values():
        node["n_samples"] = 0
    (folder / "session.json").write_text(json.dumps(meta))
    with open(folder / "auxiliary.f64", "ab") as f:
        f.write(b"\0" * 13)  # half a record: the kill came mid-write
    assert recover_session(folder) == "recovered"
    back = read_session(folder)
    meta = json.loads((folder / "session.json").read_text())
    for name, st in rec.streams.items():
        assert meta["streams"][name]["n_samples"] == st.n_samples
        np.testing.assert_array_equal(back.streams[name].samples, st.samples)
    record = 8 * len(meta["streams"]["auxiliary"]["columns"])
    assert (folder / "auxiliary.f64").stat().st_size == rec.streams["auxiliary"].n_samples * record
