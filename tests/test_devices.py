"""Device profiles: the shipped ones load, every bad input gets a one-line error; CLI."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from brainflow.board_shim import BoardIds, BoardShim
from conftest import nfb_cli

from nfb.commands import check as check_cmd
from nfb.commands import devices as devices_cmd
from nfb.devices import devices_dir, list_profiles, load_profile, open_source, parse_profile
from nfb.errors import ConfigError, DeviceError, NfbError
from nfb.sources import BrainFlowSource, FileSource, canonical_label

REPO = Path(__file__).resolve().parent.parent
SHIPPED = (
    "brainbit", "brainflow-file", "crown", "cyton", "cyton-daisy", "cyton-daisy-wifi",
    "cyton-wifi", "enophone", "explore-4", "explore-8", "file", "freeeeg32", "ganglion",
    "ganglion-native", "ganglion-wifi", "lsl", "muse-2", "muse-2016", "muse-s",
    "muse-s-athena", "synthetic", "unicorn",
)  # fmt: skip


@pytest.fixture
def profiles_dir(tmp_path, monkeypatch):
    """An empty devices folder used through NFB_DEVICES_DIR; returns a writer."""
    monkeypatch.setenv("NFB_DEVICES_DIR", str(tmp_path))

    def write(name: str, text: str) -> Path:
        path = tmp_path / f"{name}.toml"
        path.write_text(text)
        return path

    return write


# ---------------------------------------------------------------------------------------------
# shipped profiles


def test_devices_dir_is_the_repo_folder(monkeypatch):
    monkeypatch.delenv("NFB_DEVICES_DIR", raising=False)
    assert devices_dir() == REPO / "devices"


def test_all_shipped_profiles_load(monkeypatch):
    monkeypatch.delenv("NFB_DEVICES_DIR", raising=False)
    profiles = {p.name: p for p in list_profiles()}
    assert tuple(sorted(profiles)) == SHIPPED
    for p in profiles.values():
        assert p.description
        assert p.mains_hz in (50, 60)
        json.dumps(p.to_dict())
        if p.board_id is None:
            # channels and rate come from the file or the stream
            assert p.name == p.kind and p.channels == () and p.sampling_rate is None
            continue
        descr = BoardShim.get_board_descr(
            BoardIds[p.connection["master_board"]] if "master_board" in p.connection else p.board_id
        )
        assert len(p.channels) == len(descr["eeg_channels"])
        assert p.sampling_rate == descr["sampling_rate"]
        assert all(canonical_label(c) == c for c in p.channels)
    assert profiles["cyton"].channels == ("Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2")
    assert profiles["cyton"].board == "CYTON_BOARD"
    assert profiles["ganglion"].channels == ("Fp1", "Fp2", "O1", "O2")
    assert "Fp1, Fp2, O1, O2" in profiles["ganglion"].description
    assert profiles["muse-2"].channels == ("TP9", "AF7", "AF8", "TP10")
    assert profiles["cyton-daisy"].sampling_rate == 125
    assert profiles["synthetic"].channels[:3] == ("Fz", "C3", "Cz")
    assert profiles["brainflow-file"].board_id == BoardIds.PLAYBACK_FILE_BOARD
    assert profiles["brainflow-file"].connection["master_board"] == "SYNTHETIC_BOARD"


def test_open_source_kinds(tmp_path):
    src = open_source(load_profile("synthetic"))
    assert isinstance(src, BrainFlowSource)
    assert src.layout.ch_names[0] == "Fz" and src.layout.counter_modulo == 256
    cyton = open_source(load_profile("cyton", serial_port="/dev/null"))
    assert cyton.layout.rail_uv == pytest.approx(187500.0)
    assert cyton.layout.eeg_rows == tuple(range(1, 9))
    with pytest.raises(ConfigError, match="device 'file' needs a file: pass --file"):
        open_source(load_profile("file"))
    edf = _write_edf(tmp_path / "rec.edf")
    src = open_source(load_profile("file", file=str(edf)))
    assert isinstance(src, FileSource)
    assert src.layout.ch_names == ("Fp1", "Cz", "O2")


def _write_edf(path: Path) -> Path:
    import mne
    import numpy as np

    info = mne.create_info(["Fp1", "Cz", "O2"], 256.0, "eeg")
    raw = mne.io.RawArray(np.random.default_rng(0).normal(0, 1e-5, (3, 512)), info, verbose=False)
    mne.export.export_raw(path, raw, verbose=False)
    return path


# ---------------------------------------------------------------------------------------------
# one-line errors for every bad input

GOOD = """
description = "test"
board = "CYTON_BOARD"
channels = ["Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"]
mains_hz = 50
[connection]
serial_port = "/dev/null"
"""


def _bad(text: str, **replace) -> str:
    for old, new in replace.items():
        text = text.replace(old, new)
    return text


BAD_CASES = [
    ("unknown field", 'colour = "red"\n' + GOOD, "unknown field 'colour'; allowed: description"),
    ("typo field", GOOD.replace("mains_hz", "main_hz"), "unknown field 'main_hz' (did you mean"),
    ("mains 55", _bad(GOOD, **{"mains_hz = 50": "mains_hz = 55"}),
     "field 'mains_hz' must be 50 or 60, got 55"),
    ("mains str", _bad(GOOD, **{"mains_hz = 50": 'mains_hz = "50"'}),
     "field 'mains_hz' must be 50 or 60, got '50'"),
    ("description type", _bad(GOOD, **{'description = "test"': "description = 3"}),
     "field 'description' must be a string, got 3"),
    ("unknown board", _bad(GOOD, CYTON_BOARD="CYTON"),
     "field 'board' must be a BrainFlow BoardIds name such as CYTON_BOARD"),
    ("board suggestion", _bad(GOOD, CYTON_BOARD="CYTON_BORD"), "(did you mean 'CYTON_BOARD'?)"),
    ("board and id", GOOD.replace('board = "CYTON_BOARD"', 'board = "CYTON_BOARD"\nboard_id = 0'),
     "give exactly one of 'board'"),
    ("no board", GOOD.replace('board = "CYTON_BOARD"', ""), "give exactly one of 'board'"),
    ("bad board_id", GOOD.replace('board = "CYTON_BOARD"', "board_id = 9999"),
     "field 'board_id' 9999 is not a BrainFlow board id"),
    ("too few channels", _bad(GOOD, **{', "O1", "O2"': ""}),
     "field 'channels' has 6 labels but CYTON_BOARD has 8 EEG channels; give 8"),
    ("not 10-20", _bad(GOOD, **{'"Fp1"': '"EEG1"'}),
     "field 'channels' has 'EEG1', which is not a 10-20 label"),
    ("duplicate", _bad(GOOD, **{'"Fp2"': '"Fp1"'}), "field 'channels' lists 'Fp1' twice"),
    ("channels type", _bad(GOOD, **{'channels = ["Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"]':
                                    'channels = "Fp1"'}),
     "field 'channels' must be a list of 10-20 labels"),
    ("rate mismatch", "sampling_rate = 256\n" + GOOD,
     "field 'sampling_rate' is 256 but CYTON_BOARD streams at 250 Hz"),
    ("rate type", GOOD.replace("mains_hz = 50", 'mains_hz = 50\nsampling_rate = "fast"'),
     "field 'sampling_rate' must be a number > 0"),
    ("connection key", GOOD + 'baud = 115200\n',
     "unknown field 'connection.baud'; allowed: serial_port"),
    ("connection type", _bad(GOOD, **{'serial_port = "/dev/null"': "serial_port = 3"}),
     "field 'connection.serial_port' must be a string, got 3"),
    ("timeout type", GOOD + "timeout = -1\n", "field 'connection.timeout' must be an integer >= 0"),
    ("bad mac", GOOD + 'mac_address = "hello"\n',
     "field 'connection.mac_address' must look like 00:55:DA:B0:12:34"),
    ("not toml", "board = [", "not valid TOML"),
    ("ganglion without labels", 'description = "g"\nboard = "GANGLION_BOARD"\n',
     "field 'channels' is required for GANGLION_BOARD (BrainFlow has no labels for it); give 4"),
    ("file with channels", 'description = "f"\nboard = "file"\nchannels = ["Cz"]\n',
     "field 'channels' is not allowed for board 'file'"),
    ("file speed", 'description = "f"\nboard = "file"\n[connection]\nspeed = 0\n',
     "field 'connection.speed' must be a number > 0, got 0"),
    ("file serial", 'description = "f"\nboard = "file"\n[connection]\nserial_port = "x"\n',
     "unknown field 'connection.serial_port'; allowed: file, speed, loop"),
    ("master board", 'description = "p"\nboard = "PLAYBACK_FILE_BOARD"\n[connection]\n'
     'master_board = "PLAYBACK_FILE_BOARD"\n',
     "field 'connection.master_board' must name the board that recorded the file"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "text", "message"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_profile_one_line_error(profiles_dir, case, text, message):
    path = profiles_dir("mydev", text)
    with pytest.raises(ConfigError) as exc:
        load_profile("mydev")
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith(str(path)) or msg.startswith("mydev.toml"), msg
    assert message in msg, msg
    # the same through an explicit path
    with pytest.raises(ConfigError, match=r"mydev\.toml"):
        load_profile(str(path))


def test_error_names_relative_path_from_repo(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "devices").mkdir()
    (tmp_path / "devices" / "cyton.toml").write_text(GOOD.replace("mains_hz = 50", "mains_hz = 55"))
    monkeypatch.setenv("NFB_DEVICES_DIR", str(tmp_path / "devices"))
    with pytest.raises(ConfigError) as exc:
        load_profile("cyton")
    assert str(exc.value) == "devices/cyton.toml: field 'mains_hz' must be 50 or 60, got 55"


def test_labels_are_canonicalised(profiles_dir):
    profiles_dir("mine", GOOD.replace('"Fp1", "Fp2"', '"FP1", "fp2"'))
    assert load_profile("mine").channels[:2] == ("Fp1", "Fp2")


def test_unknown_device_lists_available(profiles_dir):
    profiles_dir("alpha", GOOD)
    profiles_dir("beta", GOOD)
    with pytest.raises(ConfigError) as exc:
        load_profile("foo")
    assert str(exc.value) == "unknown device 'foo'; available: alpha, beta"
    with pytest.raises(ConfigError, match=r"\(did you mean 'alpha'\?\)"):
        load_profile("alpah")
    with pytest.raises(ConfigError, match=r"device file 'nope/x\.toml' does not exist"):
        load_profile("nope/x.toml")


def test_parse_profile_defaults():
    p = parse_profile({"description": "s", "board_id": -1}, name="s")
    assert p.board_id == -1 and p.mains_hz == 50 and p.sampling_rate == 250
    assert p.channels[0] == "Fz" and p.path is None and p.connection == {}


# ---------------------------------------------------------------------------------------------
# overrides


def test_overrides(tmp_path):
    p = load_profile("cyton", serial_port="/dev/null", mains_hz=60)
    assert p.connection["serial_port"] == "/dev/null" and p.mains_hz == 60
    nope = r"--serial-port: serial port /dev/ttyNOPE0 does not exist \(serial ports here: "
    with pytest.raises(ConfigError, match=nope):
        load_profile("cyton", serial_port="/dev/ttyNOPE0")
    with pytest.raises(ConfigError, match=r"--serial-port: device 'synthetic' has no serial_port"):
        load_profile("synthetic", serial_port="/dev/null")
    with pytest.raises(ConfigError, match=r"--mac: device 'cyton' has no mac_address"):
        load_profile("cyton", mac="00:11:22:33:44:55")
    assert load_profile("muse-2", mac="00:55:da:b0:12:34").connection["mac_address"] == (
        "00:55:da:b0:12:34"
    )
    with pytest.raises(ConfigError, match=r"--mac must look like 00:55:DA:B0:12:34"):
        load_profile("muse-2", mac="muse")
    missing = tmp_path / "missing.edf"
    with pytest.raises(ConfigError, match=f"--file: '{missing}' does not exist"):
        load_profile("file", file=str(missing))
    with pytest.raises(ConfigError, match="--file: device 'cyton' has no file"):
        load_profile("cyton", file=str(missing))
    edf = _write_edf(tmp_path / "x.edf")
    p = load_profile("file", file=str(edf))
    assert p.connection["file"] == str(edf.resolve())
    with pytest.raises(ConfigError, match="--mains-hz: must be 50 or 60, got 55"):
        load_profile("synthetic", mains_hz=55)


def test_wrong_serial_port_is_a_one_line_device_error():
    src = open_source(load_profile("cyton", serial_port="/dev/null"))
    with pytest.raises(DeviceError) as exc:
        src.open()
    assert str(exc.value) == (
        "cannot open cyton (serial port /dev/null): not a serial port the board can use "
        "[SER_PORT_ERROR]"
    )
    src.close()
    src.close()  # idempotent


def test_canonical_label():
    assert canonical_label("FP1") == "Fp1"
    assert canonical_label(" cz ") == "Cz"
    assert canonical_label("AFF1H") == "AFF1h"
    assert canonical_label("tp10") == "TP10"
    assert canonical_label("T3") == "T3"  # old 10-20 name
    for bad in ("EEG1", "Fp1-A1", "", "X1", "Fp", "C0", 3):
        assert canonical_label(bad) is None


# ---------------------------------------------------------------------------------------------
# CLI: `nfb devices` and `nfb check`


def _parser() -> argparse.ArgumentParser:
    """A parser with only this module's commands (the full CLI imports everyone's)."""
    parser = argparse.ArgumentParser(prog="nfb")
    sub = parser.add_subparsers(dest="command")
    devices_cmd.add_parser(sub)
    check_cmd.add_parser(sub)
    return parser


def test_devices_command_table_and_json(capsys, monkeypatch):
    monkeypatch.delenv("NFB_DEVICES_DIR", raising=False)
    args = _parser().parse_args(["devices"])
    assert args.func(args) == 0
    table, _, footer = capsys.readouterr().out.partition("\n\n")
    out = table.splitlines()
    assert out[0].split()[:4] == ["DEVICE", "SOURCE", "BOARD", "CHANNELS"]
    rows = {line.split()[0]: line for line in out[1:]}
    assert tuple(sorted(rows)) == SHIPPED
    assert all(line.split()[1] == "built-in" for line in rows.values())
    assert footer.strip().startswith("Your own profiles: ")
    assert "8: Fp1,Fp2,C3,C4,P7,P8,O1,O2" in rows["cyton"]
    assert "--serial-port (/dev/ttyUSB0)" in rows["cyton"]
    assert "--file (required)" in rows["file"]
    assert "--mac (optional)" in rows["muse-2"]
    args = _parser().parse_args(["devices", "--json"])
    assert args.func(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in data] == list(SHIPPED)


def test_check_command_in_process(capsys):
    args = _parser().parse_args(["check", "--device", "synthetic", "--seconds", "1", "--json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["device"] == "synthetic" and out["samples"] >= 250 and out["dropped"] == 0
    assert out["verdict"] in ("good", "check", "bad") and len(out["channels"]) == 16
    assert out["seconds"] == pytest.approx(1.0)


def test_check_command_errors():
    for argv, exc, match in [
        (["check", "-d", "synthetic", "--seconds", "0"], ConfigError, "--seconds: must be between"),
        (["check", "-d", "nosuch"], ConfigError, "unknown device 'nosuch'"),
        (["check", "-d", "cyton", "--serial-port", "/dev/null"], DeviceError, "SER_PORT_ERROR"),
    ]:
        args = _parser().parse_args(argv)
        with pytest.raises(exc, match=match):
            args.func(args)


def _nfb(*argv: str) -> subprocess.CompletedProcess:
    # Goes through nfb/cli.py, which imports every command module (run, replay, export, ...
    # written by others): these tests fail only while one of those is missing or broken.
    return subprocess.run(
        [sys.executable, "-m", "nfb.cli", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def test_cli_check_synthetic_prints_verdict():
    proc = _nfb("check", "--device", "synthetic", "--seconds", "2")
    assert proc.returncode == 0, proc.stderr
    assert "Signal check: 2.0 s at 250 Hz, 16 channels" in proc.stdout
    assert "Verdict: " in proc.stdout.splitlines()[-1] or "Verdict: " in proc.stdout


def test_cli_wrong_serial_port_is_one_line():
    for port, code in (("/dev/ttyNOPE0", ConfigError.exit_code), ("/dev/null", 3)):
        proc = _nfb("check", "--device", "cyton", "--serial-port", port)
        assert proc.returncode == code != 0, proc.stderr
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert lines[0].startswith("nfb check: error: ")
        assert port in lines[0]


def test_cli_devices_lists_profiles():
    proc = _nfb("devices")
    assert proc.returncode == 0, proc.stderr
    assert all(name in proc.stdout for name in SHIPPED)


def test_nfb_error_exit_codes_are_distinct():
    assert issubclass(ConfigError, NfbError) and DeviceError.exit_code == 3


def test_network_boards_take_their_address_from_the_command_line(tmp_path):
    from nfb.sources import BrainFlowSource

    for name in ("cyton-wifi", "cyton-daisy-wifi", "ganglion-wifi"):
        profile = load_profile(name, ip_address="10.0.0.42", ip_port=7001)
        assert profile.connection["ip_address"] == "10.0.0.42"
        assert profile.connection["ip_port"] == 7001
        params = BrainFlowSource(
            profile.board_id, connection=profile.connection, ch_names=profile.channels
        )._params()
        assert (params.ip_address, params.ip_port) == ("10.0.0.42", 7001)  # what BrainFlow gets
    for bad, why in (
        ("bad host!", "a host name or an IP address"),
        ("", "expected a non-empty value"),
    ):
        with pytest.raises(ConfigError, match=f"--ip-address: {why}"):
            load_profile("cyton-wifi", ip_address=bad)
    with pytest.raises(ConfigError, match="--ip-port: a port number 1 to 65535"):
        load_profile("cyton-wifi", ip_port=70000)
    with pytest.raises(ConfigError, match="--ip-address: device 'cyton' has no ip_address"):
        load_profile("cyton", ip_address="10.0.0.42")
    # ip_protocol (BrainFlow's IpProtocolTypes) in a profile of one's own
    own = tmp_path / "explore-tcp.toml"
    own.write_text(
        'board = "EXPLORE_8_CHAN_BOARD"\nchannels = ["Fz","C3","Cz","C4","Pz","O1","Oz","O2"]\n'
        '[connection]\nmac_address = ""\nip_protocol = 2\n'
    )
    assert load_profile(str(own)).connection["ip_protocol"] == 2
    own.write_text(own.read_text().replace("ip_protocol = 2", "ip_protocol = 7"))
    with pytest.raises(
        ConfigError, match=re.escape("ip_protocol' must be 0 (none), 1 (UDP) or 2 (TCP)")
    ):
        load_profile(str(own))


def test_cli_ip_address_reaches_the_profile():
    proc = nfb_cli("check", "--device", "cyton-wifi", "--ip-address", "bad host!")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "--ip-address: a host name or an IP address" in proc.stderr


def test_every_shipped_profile_builds_its_source():
    """Each BrainFlow profile gives a BrainFlowSource whose layout is BrainFlow's own; the
    file and LSL profiles need a file or a stream first (tested where they are)."""
    for profile in list_profiles():
        if profile.board_id is None or "file" in profile.connection:
            continue
        if any(profile.connection.get(k) == "" for k in ("serial_port",)):
            continue
        source = open_source(profile)
        assert source.layout.ch_names == profile.channels, profile.name
        assert source.layout.sfreq == profile.sampling_rate, profile.name
        assert source.layout.n_eeg == len(profile.channels)
