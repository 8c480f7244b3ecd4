"""Channel types: EOG/EMG/ECG/misc rows in a profile, carried into the session, the MNE Raw
and BIDS, and an EOG channel as an artefact inhibit."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from conftest import nfb_cli

from nfb.devices import load_profile, open_source
from nfb.errors import ConfigError
from nfb.protocol import Protocol
from nfb.session.bids import export_bids
from nfb.session.runner import SessionRunner
from nfb.session.store import read_session
from nfb.sources import BoardLayout

SYNTH = ["Fz", "C3", "Cz", "C4", "Pz", "PO7", "Oz", "PO8", "F5", "F7", "F3", "F1", "F2", "F4"]
#: the synthetic board's 16 rows: 14 EEG, then an EOG and an EMG row
SYNTH_PROFILE = (
    'board = "SYNTHETIC_BOARD"\n'
    f"channels = {json.dumps(SYNTH)[:-1]}, "
    '{ label = "VEOG", type = "eog" }, { label = "EMG-chin", type = "emg" }]\n'
)
TYPES = ["eeg"] * 14 + ["eog", "emg"]
SFREQ = 250


def _profile(tmp_path, text: str = SYNTH_PROFILE, name: str = "synth-exg"):
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------------------------
# profiles


def test_a_profile_with_eog_and_emg_rows_builds_its_source(tmp_path):
    profile = load_profile(str(_profile(tmp_path)))
    assert profile.channels == (*SYNTH, "VEOG", "EMG-chin")
    assert profile.channel_types == tuple(TYPES)
    layout = open_source(profile).layout
    assert layout.ch_names == profile.channels and layout.ch_types == tuple(TYPES)
    assert BoardLayout.from_dict(layout.to_dict()) == layout  # as session.json keeps it
    # a layout recorded before types existed reads as all EEG
    old = {k: v for k, v in layout.to_dict().items() if k != "ch_types"}
    assert BoardLayout.from_dict(old).ch_types == ("eeg",) * 16


def test_galea_x1_to_x6_are_typed_rows(tmp_path):
    eeg = ["F1", "F2", "C3", "C4", "P3", "P4", "O1", "O2", "Cz", "Pz"]
    exg = {"X1": "emg", "X2": "emg", "X3": "eog", "X4": "eog", "X5": "ecg", "X6": "misc"}
    typed = [f'{{ label = "{c}", type = "{t}" }}' for c, t in exg.items()]
    rows = ", ".join([json.dumps(c) for c in eeg] + typed)
    text = f'board = "GALEA_BOARD"\nchannels = [{rows}]\n[connection]\nip_address = "192.168.4.1"\n'
    layout = open_source(load_profile(str(_profile(tmp_path, text, "galea")))).layout
    assert layout.ch_names[10:] == ("X1", "X2", "X3", "X4", "X5", "X6")
    assert layout.ch_types == ("eeg",) * 10 + ("emg", "emg", "eog", "eog", "ecg", "misc")
    # without the profile's types, BrainFlow's X1-X6 are refused with what to write instead
    bare = _profile(tmp_path, 'board = "GALEA_BOARD"\n', "galea-bare")
    with pytest.raises(ConfigError, match=r'X1.*type = "emg"') as err:
        load_profile(str(bare))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('"VEOG"', r"'VEOG', which is not a 10-20 label.*type = \"eog\""),
        ('{ label = "VEOG", type = "eyes" }', r"channels\[15\]'.*type must be one of eeg, eog"),
        ('{ label = "VEOG", kind = "eog" }', r"channels\[15\]'.*keys label and type"),
        ('{ label = "Fp9x", type = "eeg" }', r"'Fp9x', which is not a 10-20 label"),
        ('{ label = "F1", type = "eog" }', r"lists 'F1' twice"),
        ('{ label = "", type = "misc" }', r"channels\[15\]'.*1 to 32 printable"),
    ],
)
def test_bad_rows_are_one_line(tmp_path, entry, message):
    text = f'board = "SYNTHETIC_BOARD"\nchannels = {json.dumps(SYNTH)[:-1]}, "F6", {entry}]\n'
    with pytest.raises(ConfigError, match=message) as err:
        load_profile(str(_profile(tmp_path, text)))
    assert "\n" not in str(err.value) and "synth-exg.toml" in str(err.value)


def test_nfb_devices_json_lists_the_types(tmp_path):
    path = _profile(tmp_path)
    (tmp_path / "cfg" / "devices").mkdir(parents=True)
    (tmp_path / "cfg" / "devices" / "synth-exg.toml").write_text(path.read_text())
    out = nfb_cli("devices", "--json", env={"NFB_CONFIG_DIR": str(tmp_path / "cfg")})
    assert out.returncode == 0, out.stderr
    mine = next(d for d in json.loads(out.stdout) if d["name"] == "synth-exg")
    assert mine["channel_types"] == TYPES and mine["channels"][-2:] == ["VEOG", "EMG-chin"]


# ---------------------------------------------------------------------------------------------
# the EOG inhibit


def _eog_protocol(channel="VEOG", max_uv=100) -> Protocol:
    return Protocol.from_dict(
        {
            "name": "alpha with an EOG inhibit",
            "signal": {"channels": "Oz"},
            "bands": {"alpha": [8, 12]},
            "feedback": {"feature": "alpha"},
            "reward": {"threshold": 5.0},
            "inhibit": [{"kind": "eog", "channel": channel, "max_uv": max_uv, "hold_ms": 0}],
            "script": {
                "baseline_eyes_open": 0,
                "baseline_eyes_closed": 0,
                "blocks": 1,
                "block_min": 1,
            },
        },
        slug="eog-test",
    )


def _blink(t: np.ndarray, at: float, uv: float, width: float = 0.3) -> np.ndarray:
    """A blink: a raised-cosine deflection of ``uv`` lasting ``width`` seconds."""
    x = (t - at) / width
    return np.where((x >= 0) & (x <= 1), uv * 0.5 * (1 - np.cos(2 * np.pi * x)), 0.0)


def _signals(seconds=20.0, seed=1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SFREQ)) / SFREQ
    eeg = 10 * np.sin(2 * np.pi * 10 * t) + rng.standard_normal((16, t.size)) * 3
    eeg[14] += 25_000.0  # the EOG electrode's DC offset, as a Cyton shows it
    eeg[14] += _blink(t, 6.0, 40.0)  # a small eye movement: below the limit
    eeg[14] += _blink(t, 10.0, 250.0)  # a blink
    eeg[0] += _blink(t, 15.0, 250.0)  # the same deflection on Fz, which it does not watch
    return t, eeg


def _run(layout, eeg, chunks, protocol=None) -> tuple[np.ndarray, np.ndarray]:
    runner = SessionRunner(protocol or _eog_protocol(), layout, mains_hz=50)
    col = [c for c, _ in runner.columns].index("inhibit_eog")
    rows, pos = [], 0
    for n in chunks:
        rows.append(runner.feed(eeg[:, pos : pos + n], 0.0))
        pos += n
    frames = np.vstack(rows)
    return frames[:, 0].astype(int) / SFREQ, frames[:, col].astype(bool)


def test_the_eog_inhibit_fires_on_a_blink_on_its_channel_only(tmp_path):
    layout = open_source(load_profile(str(_profile(tmp_path)))).layout
    _, eeg = _signals()
    rng = np.random.default_rng(7)
    chunks = rng.integers(1, 40, size=eeg.shape[1])
    chunks = chunks[: np.searchsorted(np.cumsum(chunks), eeg.shape[1]) + 1]
    times, flags = _run(layout, eeg, chunks)
    fired = times[flags]
    assert fired.size, "the blink on VEOG did not inhibit"
    # only during the blink (and the band-pass's ringing just after it): not on the DC
    # offset from the first sample, not on the 40 µV eye movement, not on Fz's deflection
    assert fired.min() >= 10.0 and fired.max() <= 10.6
    # the pipeline's contract: any chunking gives the same frames
    times2, flags2 = _run(layout, eeg, [eeg.shape[1]])
    np.testing.assert_array_equal(times, times2)
    np.testing.assert_array_equal(flags, flags2)
    # a lower limit catches the small eye movement too
    _, low = _run(layout, eeg, [eeg.shape[1]], _eog_protocol(max_uv=20))
    assert ((times >= 6.0) & (times <= 6.6) & low).any()


def test_the_eog_inhibit_names_a_channel_of_the_device(tmp_path):
    layout = open_source(load_profile(str(_profile(tmp_path)))).layout
    with pytest.raises(ConfigError, match=r"'HEOG', which this device does not have"):
        SessionRunner(_eog_protocol(channel=["VEOG", "HEOG"]), layout)
    with pytest.raises(ConfigError, match=r"inhibit\[0\].channel' must be a channel label"):
        _eog_protocol(channel=[])


# ---------------------------------------------------------------------------------------------
# a recorded session: Raw and BIDS


def test_a_recorded_session_keeps_the_types_in_raw_and_bids(tmp_path):
    profile = _profile(tmp_path)
    protocol = tmp_path / "eog.toml"
    protocol.write_text(
        'name = "EOG inhibit"\n[signal]\nchannels = "Oz"\n[feedback]\nfeature = "alpha"\n'
        "[reward]\nthreshold = 5.0\n"
        '[[inhibit]]\nkind = "eog"\nchannel = "VEOG"\nmax_uv = 150\n'
        "[script]\nbaseline_eyes_open = 0\nbaseline_eyes_closed = 0\nblocks = 1\nblock_min = 1\n"
    )
    sessions = tmp_path / "sessions"
    out = nfb_cli(
        "run", "--device", profile, "--protocol", protocol, "--client", "c1",
        "--duration", "2", "--sessions-dir", sessions,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    rec = read_session(out.stdout.strip().splitlines()[-1])
    assert rec.layout["ch_types"] == TYPES
    assert "inhibit_eog" in rec.frames.dtype.names
    raw = rec.raw
    assert raw.get_channel_types() == TYPES
    assert raw.ch_names[-2:] == ["VEOG", "EMG-chin"]
    # the EEG rows have 10-20 positions, the others none
    pos = raw.get_montage().get_positions()["ch_pos"]
    assert set(pos) == set(SYNTH)
    bids = export_bids(rec, tmp_path / "bids")
    channels = bids.eeg_file.with_name(
        bids.eeg_file.name.replace("_eeg" + bids.eeg_file.suffix, "_channels.tsv")
    )
    with open(channels, newline="") as f:
        table = {r["name"]: r["type"] for r in csv.DictReader(f, delimiter="\t")}
    assert table["VEOG"] == "EOG" and table["EMG-chin"] == "EMG" and table["Oz"] == "EEG"
    sidecar = json.loads(bids.eeg_file.with_suffix(".json").read_text())
    assert sidecar["EEGChannelCount"] == 14 and sidecar["EOGChannelCount"] == 1
    assert sidecar["EMGChannelCount"] == 1


# ---------------------------------------------------------------------------------------------
# channel types through LSL and files


def test_an_eog_channel_stays_eog_through_nfb_s_lsl_outlet_and_lsl_source(tmp_path):
    pylsl = pytest.importorskip("pylsl")
    from nfb.lsl import EEG_NAME, LslOutlet
    from nfb.protocol import load_protocol
    from nfb.session.live import LiveSession
    from nfb.stream import DeviceStream

    source_stream = DeviceStream(load_profile(str(_profile(tmp_path))))
    outlet = LslOutlet(raw=True)
    session = LiveSession(
        source_stream, load_protocol("alpha-up"), "types", sessions_dir=tmp_path / "s",
        observers=[outlet],
    )  # fmt: skip
    with source_stream:
        path = session.start()
        try:
            sid = f"nfb:{path.name}:eeg"
            # what any LSL reader sees in the description
            info = pylsl.resolve_bypred(f"source_id='{sid}'", 1, 10.0)[0]
            inlet = pylsl.StreamInlet(info)
            ch = inlet.info(10.0).desc().child("channels").child("channel")
            seen = []
            while not ch.empty():
                seen.append((ch.child_value("label"), ch.child_value("type")))
                ch = ch.next_sibling()
            del inlet
            assert seen == [
                (n, t.upper()) for n, t in zip((*SYNTH, "VEOG", "EMG-chin"), TYPES, strict=True)
            ]
            # and nfb's LSL device keeps them
            profile = load_profile("lsl", lsl_stream=f"name={EEG_NAME},source_id={sid}")
            reader = DeviceStream(profile)
            assert reader.layout.ch_names == source_stream.layout.ch_names
            assert reader.layout.ch_types == tuple(TYPES)
        finally:
            session.stop("user")


def test_an_lsl_stream_s_typed_channels_keep_their_types():
    pylsl = pytest.importorskip("pylsl")
    import uuid

    from nfb.lsl_source import LslSource

    name = f"nfb-test-types-{uuid.uuid4().hex[:8]}"
    kinds = [("Fp1", "EEG"), ("Cz", "eeg"), ("HEOG", "EOG"), ("Chin", "EMG"), ("EKG", "ECG"),
             ("GSR", "MISC"), ("ACC_X", "ACC"), ("", "EOG")]  # fmt: skip
    info = pylsl.StreamInfo(name, "EEG", len(kinds), 250.0, "float32", name)
    chans = info.desc().append_child("channels")
    for label, kind in kinds:
        ch = chans.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("unit", "microvolts")
        ch.append_child_value("type", kind)
    outlet = pylsl.StreamOutlet(info)
    try:
        layout = LslSource(name, timeout=10.0).layout
    finally:
        del outlet
    assert layout.ch_names == ("Fp1", "Cz", "HEOG", "Chin", "EKG", "GSR", "EOG8")
    assert layout.ch_types == ("eeg", "eeg", "eog", "emg", "ecg", "misc", "eog")  # no ACC


def test_an_eeg_file_s_eog_emg_and_volt_misc_channels_keep_their_types(tmp_path):
    import mne

    from nfb.sources import FileSource, read_eeg_file

    names = ["EEG Fz-REF", "Cz", "VEOG", "EMG1", "ECG", "Resp", "Trigger"]
    types = ["eeg", "eeg", "eog", "emg", "ecg", "misc", "misc"]
    info = mne.create_info(names, 250.0, types)
    units = mne.io.constants.FIFF
    # MNE leaves a misc channel's unit open: the file says which
    info["chs"][names.index("Resp")]["unit"] = units.FIFF_UNIT_V
    info["chs"][names.index("Trigger")]["unit"] = units.FIFF_UNIT_NONE
    data = np.arange(len(names))[:, None] * 1e-6 * np.ones((1, 500))
    path = tmp_path / "exg_raw.fif"
    mne.io.RawArray(data, info, verbose="error").save(path, verbose="error")
    rec = read_eeg_file(path)
    assert rec.layout.ch_names == ("Fz", "Cz", "VEOG", "EMG1", "ECG", "Resp")  # no trigger
    assert rec.layout.ch_types == ("eeg", "eeg", "eog", "emg", "ecg", "misc")
    np.testing.assert_allclose(rec.eeg[:, 0], [0, 1, 2, 3, 4, 5])  # µV, in file order
    assert FileSource(path).layout == rec.layout


def test_a_brainflow_recording_replayed_keeps_the_profile_s_types(tmp_path):
    from brainflow.data_filter import DataFilter

    from nfb.sources import read_brainflow_file

    rows = np.zeros((32, 300))
    rows[0] = np.arange(300) % 256
    csv_path = tmp_path / "synth.csv"
    DataFilter.write_file(rows, str(csv_path), "w")
    profile = load_profile(str(_profile(tmp_path)))
    rec = read_brainflow_file(csv_path, profile.board_id, profile.channels, profile.channel_types)
    assert rec.layout.ch_types == tuple(TYPES)
    # BrainFlow's playback board, typed by its profile
    text = (
        'board = "PLAYBACK_FILE_BOARD"\n'
        f"channels = {json.dumps(SYNTH)[:-1]}, "
        '{ label = "VEOG", type = "eog" }, { label = "EMG-chin", type = "emg" }]\n'
        f'[connection]\nfile = "{csv_path}"\nmaster_board = "SYNTHETIC_BOARD"\n'
    )
    layout = open_source(load_profile(str(_profile(tmp_path, text, "playback-exg")))).layout
    assert layout.ch_types == tuple(TYPES) and layout.ch_names[-2:] == ("VEOG", "EMG-chin")
