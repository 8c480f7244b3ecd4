"""read_session / list_sessions / recover_session on folders written by the real recorder."""

from __future__ import annotations

import json

import mne
import numpy as np
import pytest
from sessionfactory import SCRIPT, generate_session, make_session, open_recorder, write_session

import nfb
from nfb.errors import SessionError
from nfb.session.store import list_sessions, read_session, recover_session, session_annotations


@pytest.fixture(scope="module")
def truth():
    return generate_session(seconds=20, seed=0)


@pytest.fixture(scope="module")
def recorded(truth, tmp_path_factory):
    return write_session(truth, tmp_path_factory.mktemp("store"))


def _frames_matrix(frames: np.ndarray) -> np.ndarray:
    return np.column_stack([frames[name] for name in frames.dtype.names]).astype(float)


@pytest.mark.parametrize("threaded", [True, False])
def test_round_trip(truth, tmp_path, threaded):
    """Every raw column, frame column, event and meta update comes back exactly."""
    path = write_session(truth, tmp_path, threaded=threaded)
    session = nfb.read_session(path)
    assert session.path == path
    assert session.status == "complete"
    assert session.sfreq == 250.0
    assert session.n_samples == truth.n_samples == 5000
    assert session.samples.shape == (32, 5000)
    assert session.samples.dtype == np.float64
    np.testing.assert_array_equal(session.samples, truth.samples)
    np.testing.assert_array_equal(session.fetch_time, truth.fetch_time)
    # frames: names, dtypes, values
    assert [(n, session.frames.dtype[n].str) for n in session.frames.dtype.names] == [
        (name, {"i8": "<i8", "f8": "<f8", "?": "|b1"}[kind]) for name, kind in truth.frame_columns
    ]
    assert session.n_frames == truth.frames.shape[0] == 1000
    for j, (name, kind) in enumerate(truth.frame_columns):
        expected = truth.frames[:, j]
        if kind == "?":
            expected = expected.astype(bool)
        elif kind == "i8":
            expected = expected.astype(np.int64)
        np.testing.assert_array_equal(session.frames[name], expected, err_msg=name)
    assert np.isnan(session.frames["threshold"][0]) and session.frames["reward"].any()
    assert session.frames["inhibit_amplitude"].any() and session.frames["inhibit_emg"].any()
    np.testing.assert_array_equal(session.frames["time_s"], session.frames["sample_index"] / 250)
    # events, in order, every kind
    assert session.events == truth.events
    kinds = {e["kind"] for e in session.events}
    assert kinds >= {
        "step_start",
        "step_end",
        "marker",
        "threshold",
        "pause",
        "resume",
        "dropped",
        "disconnected",
        "reconnected",
        "annotation",
        "baseline_stats",
    }
    # meta updates
    final = {}
    for _, update in truth.meta_updates:
        final.update(update)
    assert session.meta["blocks"] == final["blocks"]
    assert session.meta["baseline"] == final["baseline"]
    assert session.meta["n_samples"] == 5000 and session.meta["n_frames"] == 1000


def test_raw_is_lazy(recorded):
    session = read_session(recorded)
    assert "_raw_records" not in vars(session) and "raw" not in vars(session)
    assert session.n_samples == 5000  # from the file size
    assert "_raw_records" not in vars(session)
    _ = session.raw
    assert "_raw_records" in vars(session)


def test_raw(truth, recorded):
    session = read_session(recorded)
    raw = session.raw
    assert isinstance(raw, mne.io.RawArray)
    assert raw.ch_names == truth.layout["ch_names"]
    assert raw.info["sfreq"] == 250.0
    assert set(raw.get_channel_types()) == {"eeg"}
    np.testing.assert_allclose(
        raw.get_data(), truth.samples[truth.layout["eeg_rows"]] * 1e-6, rtol=1e-15
    )
    assert raw.info["meas_date"] == truth.start
    montage = raw.get_montage()
    assert montage is not None
    pos = montage.get_positions()["ch_pos"]
    assert set(pos) == set(raw.ch_names)  # every synthetic-board label is a 10-20 label
    assert np.linalg.norm(pos["Fz"]) > 0.05


def test_annotations(truth, recorded):
    session = read_session(recorded)
    raw = session.raw
    ann = {}
    for onset, duration, desc in zip(
        raw.annotations.onset, raw.annotations.duration, raw.annotations.description, strict=True
    ):
        ann.setdefault(desc, []).append((round(onset, 6), round(duration, 6)))
    sfreq, n = truth.sfreq, truth.n_samples
    # steps, from step_start to step_end
    starts = {e["step"]: e for e in truth.events if e["kind"] == "step_start"}
    ends = {e["step"]: e for e in truth.events if e["kind"] == "step_end"}
    expected_steps = [
        "baseline/eyes_open",
        "baseline/eyes_closed",
        "block/1",
        "rest/1",
        "block/2",
        "rest/2",
        "block/3",
    ]
    assert len(SCRIPT) == len(expected_steps)
    for step, desc in enumerate(expected_steps):
        b0, b1 = starts[step]["sample_index"], ends[step]["sample_index"]
        assert (round(b0 / sfreq, 6), round((b1 - b0) / sfreq, 6)) in ann[desc], desc
    assert ann["marker/eyes"] == [(round(int(n * 0.3) / sfreq, 6), 0.0)]
    assert ann["marker/note"] == [(round(int(n * 0.7) / sfreq, 6), 0.0)]
    assert ann["pause"] == [(round(int(n * 0.45) / sfreq, 6), round(0.05 * n / sfreq, 6))]
    assert ann["BAD_disconnect"] == [(round(int(n * 0.8) / sfreq, 6), round(0.02 * n / sfreq, 6))]
    assert ann["BAD_dropped"] == [(round(int(n * 0.55) / sfreq, 6), round(3 / sfreq, 6))]
    assert ann["source/eyes_open"] == [(1.0, 0.4)]
    # inhibits: runs of inhibited frames, to the last one + one frame interval
    for j, (name, _) in enumerate(truth.frame_columns):
        if not name.startswith("inhibit_"):
            continue
        mask = truth.frames[:, j].astype(bool)
        index = truth.frames[:, 0]
        runs = []
        k = 0
        while k < mask.size:
            if mask[k]:
                m = k
                while m + 1 < mask.size and mask[m + 1]:
                    m += 1
                runs.append(
                    (round(index[k] / sfreq, 6), round((index[m] - index[k] + 5) / sfreq, 6))
                )
                k = m + 1
            else:
                k += 1
        assert runs and sorted(ann[f"inhibit/{name[8:]}"]) == runs
    assert sorted(ann) == sorted(
        [
            *expected_steps,
            "marker/eyes",
            "marker/note",
            "pause",
            "BAD_disconnect",
            "BAD_dropped",
            "source/eyes_open",
            "inhibit/amplitude",
            "inhibit/emg",
        ]
    )


def test_open_intervals_end_at_the_last_sample():
    frames = np.zeros(0, dtype=[("sample_index", "i8")])
    events = [
        {"sample_index": 100, "kind": "step_start", "step": 2, "name": "block", "block": 1},
        {"sample_index": 150, "kind": "pause"},
        {"sample_index": 160, "kind": "disconnected"},
        {"sample_index": 170, "kind": "step_start", "step": 3, "name": "rest", "block": None},
        {"sample_index": 180, "kind": "step_end", "step": 3, "name": "rest", "block": None},
        {"sample_index": 190, "kind": "step_start", "step": 4, "name": "rest", "block": None},
        {"sample_index": 195, "kind": "marker", "label": "x"},
        {"sample_index": 196, "kind": "resume"},  # closes the pause
    ]
    got = session_annotations(events, frames, 100.0, 200)
    assert [a[2] for a in got] == [
        "block/1",
        "pause",
        "BAD_disconnect",
        "rest/1",
        "rest/2",
        "marker/x",
    ]
    np.testing.assert_allclose(
        [a[:2] for a in got],
        [(1.0, 1.0), (1.5, 0.46), (1.6, 0.4), (1.7, 0.1), (1.9, 0.1), (1.95, 0.0)],
        atol=1e-12,
    )


def test_partial_trailing_records_are_ignored(truth, tmp_path):
    path = write_session(truth, tmp_path, interrupted=True)
    assert (path / "raw.f64").stat().st_size % (33 * 8) == 100
    session = read_session(path)
    assert session.status == "interrupted"
    np.testing.assert_array_equal(session.samples, truth.samples)
    np.testing.assert_array_equal(session.fetch_time, truth.fetch_time)
    np.testing.assert_array_equal(_frames_matrix(session.frames), truth.frames)
    assert session.events == truth.events
    assert [s["status"] for s in list_sessions(tmp_path)] == ["interrupted"]


def test_recover_session(truth, tmp_path):
    path = write_session(truth, tmp_path, interrupted=True)
    events_before = read_session(path).events
    assert recover_session(path) == "recovered"
    for name, n_cols in (("raw.f64", 33), ("frames.f64", len(truth.frame_columns))):
        assert (path / name).stat().st_size % (n_cols * 8) == 0
    assert (path / "events.jsonl").read_bytes().endswith(b"}\n")
    session = read_session(path)
    assert session.status == "recovered"
    assert session.meta["n_samples"] == truth.n_samples
    assert session.meta["n_frames"] == truth.frames.shape[0]
    assert session.meta["end_unix"] == truth.fetch_time[-1]
    assert session.events == events_before
    np.testing.assert_array_equal(session.samples, truth.samples)
    assert recover_session(path) == "recovered"  # idempotent
    complete = make_session(tmp_path, seconds=2)
    before = (complete / "session.json").read_bytes()
    assert recover_session(complete) == "complete"
    assert (complete / "session.json").read_bytes() == before


def test_live_session(truth, tmp_path):
    rec = open_recorder(truth, tmp_path)
    half = len(truth.chunks) // 2

    def on_chunk(stop):
        if stop == truth.chunks[half][1]:
            rec.flush()
            session = read_session(rec.path)
            assert session.status == "recording"
            assert session.n_samples == stop
            np.testing.assert_array_equal(session.samples, truth.samples[:, :stop])
            assert [s["status"] for s in list_sessions(tmp_path)] == ["recording"]
            with pytest.raises(SessionError, match="still being recorded"):
                recover_session(rec.path)

    truth.feed(rec, on_chunk)
    rec.close()
    assert read_session(rec.path).status == "complete"


def test_not_a_session(tmp_path):
    with pytest.raises(SessionError) as info:
        read_session(tmp_path)
    assert str(info.value) == f"{tmp_path} is not an nfb session folder (no session.json)"
    with pytest.raises(SessionError, match="does not exist"):
        read_session(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(SessionError, match="is not an nfb session folder"):
        read_session(tmp_path / "file")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"format": "nfb-session", "format_v', "is corrupted"),
        ("[1, 2]", "is not an nfb session file"),
        ('{"format": "other"}', "is not an nfb session file"),
        ('{"format": "nfb-session", "format_version": 99}', "format_version 99"),
        ('{"format": "nfb-session", "format_version": 1}', "is corrupted: no raw.columns"),
        (
            '{"format": "nfb-session", "format_version": 1, "raw": {"columns": []}, '
            '"frames": {"columns": []}, "layout": {"sfreq": 0}}',
            "layout.sfreq is 0",
        ),
    ],
)
def test_corrupted_session_json(tmp_path, content, match):
    path = make_session(tmp_path, seconds=2)
    (path / "session.json").write_text(content)
    with pytest.raises(SessionError, match=match) as info:
        read_session(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path / "session.json") in msg
    assert list_sessions(tmp_path) == []  # skipped (with a warning)
    with pytest.raises(SessionError):
        recover_session(path)


def test_list_sessions(tmp_path, monkeypatch):
    store = tmp_path / "store"
    a1 = make_session(store, seconds=2, client="anna")
    a2 = make_session(
        store,
        seconds=3,
        client="anna",
        protocol_name="SMR up",
        start=generate_session(seconds=1).start.replace(hour=11),
    )
    b1 = make_session(store, seconds=1, client="ben", interrupted=True)
    (store / "anna" / "not-a-session").mkdir()
    (store / "stray.txt").write_text("x")
    sessions = list_sessions(store)
    assert [s["path"] for s in sessions] == [a1, b1, a2]
    assert sessions[0] == {
        "path": a1,
        "client": "anna",
        "session_id": a1.name,
        "protocol": "Alpha up",
        "start_time": "2024-05-17T09:30:00.000000+00:00",
        "status": "complete",
        "duration_s": 2.0,
    }
    assert sessions[1]["status"] == "interrupted" and sessions[1]["duration_s"] == 1.0
    assert sessions[2]["protocol"] == "SMR up" and sessions[2]["duration_s"] == 3.0
    assert [s["path"] for s in list_sessions(store, client="anna")] == [a1, a2]
    assert list_sessions(store, client="nobody") == []
    with pytest.raises(SessionError, match="invalid client id"):
        list_sessions(store, client="../anna")
    assert list_sessions(tmp_path / "missing") == []
    monkeypatch.setenv("NFB_SESSIONS_DIR", str(store))
    assert [s["path"] for s in nfb.list_sessions()] == [a1, b1, a2]
    monkeypatch.delenv("NFB_SESSIONS_DIR")
    monkeypatch.chdir(tmp_path)
    assert list_sessions() == []  # the per-user data folder (conftest's NFB_DATA_DIR), not ./
    (tmp_path / "sessions").symlink_to(store)
    assert list_sessions() == []  # ./sessions is pointed out (paths), never the default
    (tmp_path / "user-data").mkdir()
    (tmp_path / "user-data" / "sessions").symlink_to(store)
    assert len(list_sessions()) == 3


def test_session_json_is_plain_json(recorded):
    meta = json.loads((recorded / "session.json").read_text())
    assert meta["status"] == "complete"
    assert repr(read_session(recorded)).startswith("<RecordedSession client-01/")


def test_damaged_event_lines_are_skipped_not_fatal(truth, tmp_path, caplog):
    path = write_session(truth, tmp_path)
    with open(path / "events.jsonl", "a") as f:
        f.write('{"kind": "marker"}\n')  # no sample_index
        f.write('{"sample_index": "12", "kind": "pause"}\n')  # not an int
        f.write('{"sample_index": 5}\n')  # no kind
        f.write("[1, 2]\n")  # not an object
    session = read_session(path)
    assert session.events == truth.events
    assert caplog.text.count("skipped") == 4
