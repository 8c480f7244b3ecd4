"""Export to FIF, EDF and BrainFlow files, read back by MNE and BrainFlow; ``nfb export``."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time

import mne
import numpy as np
import pytest
from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams
from brainflow.data_filter import DataFilter
from sessionfactory import generate_session, make_session, write_session

import nfb.cli
from nfb.commands import export as export_cmd
from nfb.errors import NfbError, SessionError
from nfb.session.export import export_session
from nfb.session.store import read_session


@pytest.fixture(scope="module")
def session_path(tmp_path_factory):
    return make_session(tmp_path_factory.mktemp("store"), seconds=12)


@pytest.fixture(scope="module")
def session(session_path):
    return read_session(session_path)


def _same_annotations(got: mne.Annotations, expected: mne.Annotations, atol: float) -> None:
    assert list(got.description) == list(expected.description)
    np.testing.assert_allclose(got.onset, expected.onset, atol=atol)
    np.testing.assert_allclose(got.duration, expected.duration, atol=atol)


def test_fif(session, tmp_path):
    out = export_session(session.path, tmp_path / "s_raw.fif", "fif")
    raw = mne.io.read_raw_fif(out, preload=True, verbose=False)
    assert raw.ch_names == session.ch_names
    assert raw.info["sfreq"] == 250.0
    assert raw.n_times == session.n_samples
    assert raw.info["meas_date"] == session.raw.info["meas_date"]
    np.testing.assert_allclose(raw.get_data(), session.raw.get_data(), rtol=1e-6, atol=1e-12)
    _same_annotations(raw.annotations, session.raw.annotations, atol=1e-5)  # float32
    assert "block/1" in raw.annotations.description
    assert raw.get_montage() is not None


def test_edf(session, tmp_path):
    out = export_session(session.path, tmp_path / "s.edf")  # format from the extension
    raw = mne.io.read_raw_edf(out, preload=True, verbose=False)
    assert raw.ch_names == session.ch_names
    assert raw.info["sfreq"] == 250.0
    n = session.n_samples
    assert raw.n_times >= n
    data = session.raw.get_data()
    resolution = (data.max() - data.min()) / 2**16
    np.testing.assert_allclose(raw.get_data()[:, :n], data, atol=2 * resolution)
    # every description survives, with its onset and duration
    _same_annotations(raw.annotations, session.raw.annotations, atol=1e-3)
    assert {"baseline/eyes_open", "marker/eyes", "BAD_dropped", "inhibit/amplitude"} <= set(
        raw.annotations.description
    )


def test_brainflow_file(session, tmp_path):
    out = export_session(session, tmp_path / "s.csv", "brainflow")
    data = DataFilter.read_file(str(out))
    assert data.shape == session.samples.shape
    np.testing.assert_allclose(data, session.samples, rtol=0, atol=5e-7 + 1e-15 * 2e9)


def test_brainflow_playback_board_streams_the_export(tmp_path):
    """BrainFlow's playback-file board, master board = synthetic, replays the recording."""
    path = make_session(tmp_path, seconds=3)
    session = read_session(path)
    out = export_session(path, tmp_path / "s.csv", "brainflow")
    BoardShim.disable_board_logger()
    params = BrainFlowInputParams()
    params.file = str(out)
    params.master_board = BoardIds.SYNTHETIC_BOARD
    board = BoardShim(BoardIds.PLAYBACK_FILE_BOARD, params)
    board.prepare_session()
    try:
        board.start_stream()
        deadline = time.monotonic() + 10
        while board.get_board_data_count() < 100 and time.monotonic() < deadline:
            time.sleep(0.02)  # wait for data, no timing assertion
        got = board.get_board_data()
        board.stop_stream()
    finally:
        board.release_session()
    m = got.shape[1]
    assert got.shape[0] == 32 and m >= 100
    layout = session.layout
    np.testing.assert_array_equal(got[layout["counter_row"]], np.arange(m) % 256)
    keep = [r for r in range(32) if r != layout["timestamp_row"]]  # BrainFlow re-stamps time
    np.testing.assert_allclose(got[keep], session.samples[keep, :m], rtol=0, atol=5e-7)
    eeg = layout["eeg_rows"]
    assert np.abs(got[eeg]).max() > 10  # real EEG, not zeros


def test_brainflow_needs_a_board_id(tmp_path):
    truth = generate_session(seconds=2)
    truth.meta["layout"] = {**truth.layout, "board_id": None}
    path = write_session(truth, tmp_path)
    with pytest.raises(NfbError, match="no BrainFlow board_id") as info:
        export_session(path, tmp_path / "x.csv", "brainflow")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "x.csv").exists()
    export_session(path, tmp_path / "x_raw.fif")  # FIF needs no board


def test_overwrite(session, tmp_path):
    out = tmp_path / "s.edf"
    out.write_text("keep me")
    with pytest.raises(NfbError, match="already exists") as info:
        export_session(session, out, "edf")
    assert "\n" not in str(info.value)
    assert out.read_text() == "keep me"
    export_session(session, out, "edf", overwrite=True)
    assert mne.io.read_raw_edf(out, verbose=False).ch_names == session.ch_names


def test_bad_arguments(session, tmp_path):
    with pytest.raises(NfbError, match="cannot tell the export format"):
        export_session(session, tmp_path / "s.xyz")
    with pytest.raises(NfbError, match="unknown export format"):
        export_session(session, tmp_path / "s.fif", "xdf")
    with pytest.raises(NfbError, match="does not exist"):
        export_session(session, tmp_path / "nowhere" / "s.fif")
    with pytest.raises(SessionError, match="is not an nfb session folder"):
        export_session(tmp_path, tmp_path / "s.fif")


def _main(argv, monkeypatch):
    """``nfb.cli.main`` with only this module's subcommand registered."""
    monkeypatch.setattr(nfb.cli, "COMMANDS", ("export",))
    return nfb.cli.main(argv)


def test_cli_export(session_path, tmp_path, monkeypatch, capsys):
    out = tmp_path / "s_raw.fif"
    assert (
        _main(["export", str(session_path), "--format", "fif", "--out", str(out)], monkeypatch) == 0
    )
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    assert mne.io.read_raw_fif(out, verbose=False).ch_names == read_session(session_path).ch_names


@pytest.mark.parametrize("case", ["not-a-session", "missing", "exists"])
def test_cli_errors_are_one_line(session_path, tmp_path, monkeypatch, capsys, case):
    out = tmp_path / "s.edf"
    session = {"not-a-session": tmp_path, "missing": tmp_path / "nope"}.get(case, session_path)
    if case == "exists":
        out.write_bytes(b"x")
    argv = ["export", str(session), "--format", "edf", "--out", str(out)]
    code = _main(argv, monkeypatch)
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("nfb export: error: ")
    assert "Traceback" not in err
    expected = {
        "not-a-session": f"{tmp_path} is not an nfb session folder (no session.json)",
        "missing": f"{tmp_path / 'nope'} does not exist",
        "exists": f"{out} already exists",
    }[case]
    assert expected in err
    if case == "exists":
        assert out.read_bytes() == b"x"
        assert _main([*argv, "--overwrite"], monkeypatch) == 0


def test_cli_parser():
    parser = argparse.ArgumentParser()
    export_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["export", "S", "-o", "x.edf"])
    assert (args.session, args.format, args.out, args.overwrite) == ("S", None, "x.edf", False)
    assert args.func is export_cmd.run
    with pytest.raises(SystemExit):
        parser.parse_args(["export", "S", "--format", "xdf", "--out", "x"])
    args = parser.parse_args(["export", "S", "--format", "bids", "--out", "root"])
    assert (args.format, args.bids_data) == ("bids", None)


_ALL_COMMANDS = all(
    importlib.util.find_spec(f"nfb.commands.{name.replace('-', '_')}") is not None
    for name in nfb.cli.COMMANDS
)


@pytest.mark.skipif(not _ALL_COMMANDS, reason="the other nfb subcommands are not written yet")
def test_cli_subprocess(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "nfb.cli",
            "export",
            str(tmp_path),
            "--out",
            str(tmp_path / "x.fif"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == SessionError.exit_code
    assert proc.stderr == (
        f"nfb export: error: {tmp_path} is not an nfb session folder (no session.json)\n"
    )


@pytest.mark.parametrize("name", ["x_raw.fif", "x.edf", "x.csv"])
def test_exports_are_private_from_the_first_byte(session, tmp_path, name, monkeypatch):
    """Written under a hidden 0600 name and renamed: never readable by others, even while
    being written; a failed export leaves nothing behind and an earlier export intact."""
    import os
    import stat

    import mne as mne_

    old = os.umask(0o022)
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((os.path.basename(src), stat.S_IMODE(os.stat(src).st_mode)))
        real_replace(src, dst)

    try:
        monkeypatch.setattr(os, "replace", spy)
        out = export_session(session, tmp_path / name)
    finally:
        os.umask(old)
    assert len(seen) == 1 and seen[0][0].startswith(".nfb-tmp-") and seen[0][1] == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    if name.endswith(".csv"):
        return
    before = out.read_bytes()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mne_.io.BaseRaw, "save", broken)
    monkeypatch.setattr(mne_.export, "export_raw", broken)
    with pytest.raises(NfbError, match="No space left on device"):
        export_session(session, out, overwrite=True)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
