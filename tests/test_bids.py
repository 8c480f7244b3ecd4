"""BIDS export: read back by MNE-BIDS, frames and events as a derivative, ``nfb export``."""

from __future__ import annotations

import csv
import json
import stat
from datetime import timedelta
from pathlib import Path

import mne_bids
import numpy as np
import pytest
from sessionfactory import START, generate_session, write_session

import nfb.cli
from nfb.errors import ConfigError, NfbError, SessionError
from nfb.session.bids import bids_labels, export_bids
from nfb.session.export import export_session
from nfb.session.store import read_session


def _session(store: Path, *, client="client-01", start=START, seconds=12.0, mains_hz=60):
    truth = generate_session(seconds=seconds, start=start)
    truth.meta["device"]["mains_hz"] = mains_hz
    return write_session(truth, store, client=client)


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    return read_session(_session(tmp_path_factory.mktemp("store")))


@pytest.fixture(scope="module")
def exported(rec, tmp_path_factory):
    root = tmp_path_factory.mktemp("out") / "bids"
    return export_bids(rec.path, root)


def _bids_path(done, extension=".edf"):
    return mne_bids.BIDSPath(
        subject=done.subject,
        session=done.session,
        task=done.task,
        datatype="eeg",
        suffix="eeg",
        extension=extension,
        root=done.root,
    )


def _quantisation_step(path: Path, n_channels: int) -> np.ndarray:
    """Per-channel step in volts from an EDF/BDF header (physical µV over digital range)."""
    head = path.read_bytes()[: 256 + 256 * (n_channels + 1)]
    ns = int(head[252:256])
    offset = 256 + ns * (16 + 80)

    def field(width):
        nonlocal offset
        values = [head[offset + i * width : offset + (i + 1) * width] for i in range(ns)]
        offset += ns * width
        return values

    units = field(8)
    pmin, pmax, dmin, dmax = (np.array(field(8)[:n_channels], float) for _ in range(4))
    assert all(u.strip() == b"uV" for u in units[:n_channels])
    return (pmax - pmin) / (dmax - dmin) * 1e-6


def test_labels_of_the_session(rec, exported):
    assert (exported.subject, exported.session, exported.task) == (
        "client01",
        "20240517093000",
        "alphaup",
    )
    rel = exported.eeg_file.relative_to(exported.root)
    assert rel.as_posix() == (
        "sub-client01/ses-20240517093000/eeg/sub-client01_ses-20240517093000_task-alphaup_eeg.edf"
    )


def test_raw_round_trip(rec, exported):
    raw = mne_bids.read_raw_bids(_bids_path(exported), verbose=False)
    orig = rec.raw
    assert raw.info["sfreq"] == orig.info["sfreq"] == 250.0
    assert raw.ch_names == orig.ch_names
    assert set(raw.get_channel_types()) == {"eeg"}
    assert raw.info["line_freq"] == 60  # the device's mains
    assert raw.info["meas_date"] == orig.info["meas_date"]
    n = orig.n_times
    assert raw.n_times >= n  # EDF pads its last record
    data, expected = raw.get_data()[:, :n], orig.get_data()
    # EDF stores 16-bit integers over each channel's physical range: error <= half a step
    half_step = _quantisation_step(exported.eeg_file, len(orig.ch_names)) / 2
    err = np.abs(data - expected).max(axis=1)
    assert np.all(err <= half_step * (1 + 1e-6) + 1e-15), err / half_step
    # each channel's own range (a few nV here), not the widest channel's
    np.testing.assert_array_less(half_step, 1.001 * np.ptp(expected, axis=1) / 65534 / 2)
    # the annotations (steps, markers, pauses, BAD_ segments, inhibits) survive exactly
    assert list(raw.annotations.description) == list(orig.annotations.description)
    np.testing.assert_allclose(raw.annotations.onset, orig.annotations.onset, atol=1e-9)
    np.testing.assert_allclose(raw.annotations.duration, orig.annotations.duration, atol=1e-9)
    assert {"block/1", "marker/eyes", "BAD_dropped", "BAD_disconnect", "pause"} <= set(
        raw.annotations.description
    )
    # 10-20 names: the montage positions come back from electrodes.tsv
    pos = raw.get_montage().get_positions()["ch_pos"]
    assert set(pos) == set(orig.ch_names)
    assert all(np.all(np.isfinite(xyz)) for xyz in pos.values())


def test_events_tsv_maps_every_description(rec, exported):
    events = exported.eeg_file.with_name(exported.eeg_file.name.replace("_eeg.edf", "_events.tsv"))
    with open(events, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    descriptions = sorted(set(rec.annotations.description))
    event_id = {d: i + 1 for i, d in enumerate(descriptions)}
    assert len(rows) == len(rec.annotations)
    assert all(int(r["value"]) == event_id[r["trial_type"]] for r in rows)


def _read_tsv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader)
        return header, list(reader)


def test_frames_derivative_equals_the_recording(rec, exported):
    header, rows = _read_tsv(exported.frames_file)
    assert header == list(rec.frames.dtype.names)
    assert len(rows) == rec.n_frames > 400
    table = np.array([[np.nan if v == "n/a" else float(v) for v in row] for row in rows])
    for j, name in enumerate(header):
        expected = rec.frames[name].astype(np.float64)
        np.testing.assert_array_equal(table[:, j], expected, err_msg=name)  # bit for bit
    assert np.isnan(table[:, header.index("threshold")]).any()  # baseline: "n/a"
    sidecar = json.loads(exported.frames_file.with_suffix(".json").read_text())
    assert set(header) <= set(sidecar)
    assert sidecar["sample_index"]["Units"] == "samples"
    assert sidecar["reward"]["Levels"] == {"0": "no", "1": "yes"}
    assert sidecar["alpha"]["Units"] == "µV"
    assert sidecar["NfbClient"] == "client-01"
    assert sidecar["NfbSessionId"] == rec.meta["session_id"]
    assert sidecar["Sources"] == [f"bids:raw:{exported.eeg_file.relative_to(exported.root)}"]


def test_events_derivative(rec, exported):
    header, rows = _read_tsv(exported.events_file)
    assert header == ["onset", "duration", "sample", "trial_type", "details"]
    events = sorted(rec.events, key=lambda e: e["sample_index"])
    assert [r[3] for r in rows] == [e["kind"] for e in events]
    assert [int(r[2]) for r in rows] == [e["sample_index"] for e in events]
    np.testing.assert_array_equal(
        [float(r[0]) for r in rows], [e["sample_index"] / rec.sfreq for e in events]
    )
    marker = next(r for r in rows if r[3] == "marker")
    assert json.loads(marker[4]) == {"label": "eyes", "note": "client blinked"}


def test_dataset_descriptions(exported):
    raw_desc = json.loads((exported.root / "dataset_description.json").read_text())
    assert raw_desc["DatasetType"] == "raw"
    assert raw_desc["GeneratedBy"][0]["Name"] == "nfb"
    deriv = exported.root / "derivatives" / "nfb"
    desc = json.loads((deriv / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "derivative"
    assert desc["GeneratedBy"][0]["Name"] == "nfb"
    assert desc["BIDSVersion"]
    # the frames sit where BIDS derivatives go
    assert exported.frames_file.parent == deriv / "sub-client01" / "ses-20240517093000" / "eeg"
    assert exported.frames_file.name == (
        "sub-client01_ses-20240517093000_task-alphaup_desc-nfbframes_timeseries.tsv"
    )


def test_private_files(exported):
    for p in [exported.root, *exported.root.rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), (p, oct(mode))


def test_second_session_and_overwrite(tmp_path):
    store, root = tmp_path / "store", tmp_path / "bids"
    first = _session(store, seconds=3)
    second = _session(store, seconds=3, start=START + timedelta(days=7))
    a = export_bids(first, root)
    b = export_bids(second, root)
    assert a.subject == b.subject and a.session != b.session
    assert mne_bids.get_entity_vals(root, "session") == [a.session, b.session]
    participants = (root / "participants.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in participants[1:]] == ["sub-client01"]

    # the same session again: an error that names the way out, nothing touched
    before = a.eeg_file.read_bytes()
    with pytest.raises(SessionError, match=r"already in .* use --overwrite") as info:
        export_bids(first, root)
    assert "\n" not in str(info.value)
    assert a.eeg_file.read_bytes() == before
    # --overwrite replaces it; in another format the old EEG file and its scans row go
    c = export_bids(first, root, overwrite=True, data_format="BDF")
    assert c.eeg_file.suffix == ".bdf" and not a.eeg_file.exists()
    scans = c.eeg_file.parent.parent / f"sub-client01_ses-{a.session}_scans.tsv"
    assert [r.split("\t")[0] for r in scans.read_text().splitlines()[1:]] == [
        f"eeg/{c.eeg_file.name}"
    ]
    raw = mne_bids.read_raw_bids(_bids_path(c, ".bdf"), verbose=False)
    orig = read_session(first).raw
    half_step = _quantisation_step(c.eeg_file, len(orig.ch_names)) / 2
    err = np.abs(raw.get_data()[:, : orig.n_times] - orig.get_data()).max(axis=1)
    assert np.all(err <= half_step * (1 + 1e-6) + 1e-15)
    # 24-bit: 256 times finer than EDF
    np.testing.assert_array_less(half_step, 1.001 * np.ptp(orig.get_data(), axis=1) / 2**24)


def test_client_label_collision(tmp_path):
    store, root = tmp_path / "store", tmp_path / "bids"
    export_bids(_session(store, client="a-b", seconds=2), root)
    with pytest.raises(ConfigError, match=r"maps to BIDS subject sub-ab, which .* is client 'a-b'"):
        export_bids(_session(store, client="ab", seconds=2), root)


def test_label_mapping():
    meta = {"client": "x.y_z-1", "session_id": "20240517-093000-alpha-up", "protocol_slug": ""}
    meta["protocol"] = {"name": "Alpha up"}
    assert bids_labels(meta) == ("xyz1", "20240517093000", "alphaup")
    meta["session_id"] = "20240517-093000-alpha-up-2"  # a second folder in the same second
    assert bids_labels(meta) == ("xyz1", "20240517093000n2", "alphaup")
    meta.update(protocol_slug="alpha-beta-up", session_id="20240517-093000-alpha-beta-up")
    assert bids_labels(meta) == ("xyz1", "20240517093000", "alphabetaup")
    meta["session_id"] = "renamed-by-hand"
    assert bids_labels(meta)[1] == "renamedbyhand"
    with pytest.raises(ConfigError, match="client id '_-_' has no letters or digits"):
        bids_labels({**meta, "client": "_-_"})


def test_bad_input(rec, tmp_path):
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        export_bids(rec, afile)
    with pytest.raises(ConfigError, match="does not exist"):
        export_bids(rec, tmp_path / "no" / "bids")
    with pytest.raises(ConfigError, match="not supported"):
        export_bids(rec, tmp_path / "bids", data_format="FIF")
    with pytest.raises(SessionError, match="not an nfb session folder"):
        export_bids(tmp_path, tmp_path / "bids")
    assert not (tmp_path / "bids").exists()
    # through export_session: the format is named, never inferred
    out = export_session(rec, tmp_path / "bids2", "bids")
    assert out.suffix == ".edf" and out.is_file()
    with pytest.raises(NfbError, match="cannot tell the export format"):
        export_session(rec, tmp_path / "bids3")


def test_cli(rec, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(nfb.cli, "COMMANDS", ("export",))
    root = tmp_path / "bids"
    argv = ["export", str(rec.path), "--format", "bids", "--out", str(root)]
    assert nfb.cli.main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and all(line.startswith(f"wrote {root}/") for line in out)
    assert out[0].endswith("_eeg.edf") and "derivatives/nfb" in out[1]
    for bad, message in (
        (argv, "already in"),
        ([*argv[:4], "--out", str(root / "README")], "is a file; a BIDS export needs a folder"),
        ([*argv[:3], "edf", "--out", str(tmp_path / "x.edf"), "--bids-data", "BDF"], "bids only"),
    ):
        code = nfb.cli.main(bad)
        err = capsys.readouterr().err
        assert code != 0 and err.count("\n") == 1 and message in err, err
        assert err.startswith("nfb export: error: ") and "Traceback" not in err
    assert nfb.cli.main([*argv, "--overwrite", "--bids-data", "BDF"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("_eeg.bdf")
