"""Re-scoring a study: many sources in parallel (joblib, Dask) give the serial result exactly."""

from __future__ import annotations

import json
import stat

import numpy as np
import pytest
from conftest import nfb_cli
from test_sham import SHORT, _eeg_file

import nfb
from nfb.errors import SessionError
from nfb.session.batch import expand_sources, run_batch
from nfb.session.replay import replay
from nfb.session.summary import SUMMARY_COLUMNS, read_summary_csv, summary_table

RESCORE = ["--protocol", "alpha-up", *[x for s in SHORT for x in ("--set", s)]]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Four recorded sessions of two clients, in a session store."""
    d = tmp_path_factory.mktemp("study")
    for i in range(4):
        eeg = _eeg_file(d / f"rec{i}_raw.fif", seed=10 + i, seconds=60)
        client = f"client{i % 2}"
        out = replay(eeg, d / "store" / client / f"s{i}", protocol="alpha-beta-up",
                     overrides=SHORT, client=client)  # fmt: skip
        nfb.session.store.update_session_meta(
            out, ratings={"anxiety_before": 6 + i % 2, "anxiety_after": 4}
        )
    return d


@pytest.fixture(scope="module")
def serial(study):
    out = study / "serial"
    proc = nfb_cli("replay", study / "store", *RESCORE, "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out


def _frames(root):
    return {p.relative_to(root): nfb.read_session(p).frames.tobytes()
            for p in sorted(root.glob("*/*")) if p.is_dir()}  # fmt: skip


def test_summary_has_a_row_per_session_and_block(study, serial):
    table = read_summary_csv(serial / "summary.csv")
    assert table.dtype.names == tuple(name for name, _ in SUMMARY_COLUMNS)
    sessions = table[table["level"] == "session"]
    assert len(sessions) == 4 and set(sessions["client"]) == {"client0", "client1"}
    assert set(sessions["protocol"]) == {"alpha-up"}
    assert (table["error"] == "").all()
    for row in sessions:
        rec = nfb.read_session(serial / row["path"])
        blocks = table[(table["path"] == row["path"]) & (table["level"] == "block")]
        assert list(blocks["block"]) == [b["index"] for b in rec.meta["blocks"]] == [1, 2, 3]
        # exact figures from the replayed session, and the session row weighs its blocks
        for got, want in zip(blocks, rec.meta["blocks"], strict=True):
            assert got["reward_rate"] == want["reward_rate"]
            assert got["n_frames"] == want["n_frames"]
        w = blocks["n_frames"] / blocks["n_frames"].sum()
        assert row["reward_rate"] == pytest.approx(float(np.sum(w * blocks["reward_rate"])))
        assert row["anxiety_after"] == 4.0
        assert row["source"].startswith(str(study / "store"))
    # the output root is a session store in its own right
    assert len(nfb.list_sessions(serial, client="client0")) == 2
    assert stat.S_IMODE((serial / "summary.csv").stat().st_mode) == 0o600


def test_jobs_2_equals_serial(study, serial):
    out = study / "jobs2"
    proc = nfb_cli("replay", str(study / "store" / "*" / "*"), *RESCORE, "--jobs", "2",
                   "--out", out)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (out / "summary.csv").read_bytes() == (serial / "summary.csv").read_bytes()
    assert _frames(out) == _frames(serial)


def test_dask_local_cluster_equals_serial(study, serial):
    distributed = pytest.importorskip("distributed")
    out = study / "dask"
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        proc = nfb_cli("replay", study / "store", *RESCORE, "--dask", cluster.scheduler_address,
                       "--out", out)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (out / "summary.csv").read_bytes() == (serial / "summary.csv").read_bytes()
    assert _frames(out) == _frames(serial)


def test_a_broken_source_does_not_stop_the_batch(study, tmp_path):
    broken = tmp_path / "store" / "client9" / "bad"
    broken.mkdir(parents=True)
    (broken / "session.json").write_text("{not json")
    out = tmp_path / "out"
    proc = nfb_cli("replay", study / "store", tmp_path / "store", *RESCORE, "--jobs", "2",
                   "--out", out)  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"nfb replay: 1 of 5 sources failed; see the error column of {out / 'summary.csv'}"
    )
    assert "Traceback" not in proc.stderr
    table = read_summary_csv(out / "summary.csv")
    bad = table[table["status"] == "error"]
    assert len(bad) == 1 and "session.json is corrupted" in bad[0]["error"]
    assert (table["status"] == "complete").sum() == 4 * 4  # 4 sessions x (1 + 3 blocks)


def test_batch_refuses_to_overwrite(study, serial):
    before = (serial / "summary.csv").read_bytes()
    proc = nfb_cli("replay", study / "store", *RESCORE, "--jobs", "2", "--out", serial)
    assert proc.returncode == 4
    assert proc.stderr.strip() == (
        f"nfb replay: error: --out {serial} already exists and is not empty; choose a new folder"
    )
    assert (serial / "summary.csv").read_bytes() == before


def test_sources_that_match_nothing(tmp_path):
    proc = nfb_cli("replay", str(tmp_path / "nothing*"), "--out", tmp_path / "o")
    assert proc.returncode == 4
    assert (
        proc.stderr.strip()
        == f"nfb replay: error: SOURCE '{tmp_path / 'nothing*'}' matches nothing"
    )
    with pytest.raises(SessionError, match="holds no session folders"):
        expand_sources([tmp_path])
    with pytest.raises(SessionError, match="does not exist"):
        expand_sources([tmp_path / "missing"])


def test_progress_bar_counts_sessions(study, tmp_path, capsys):
    run_batch([study / "store" / "client0"], tmp_path / "o", progress=True, protocol="alpha-up",
              overrides=SHORT)  # fmt: skip
    err = capsys.readouterr().err
    assert "2/2" in err and "session" in err


def test_summary_table_api_and_blinding(study, tmp_path):
    table = nfb.summary_table(client="client1", sessions_dir=study / "store", as_frame=False)
    assert isinstance(table, np.ndarray)
    assert list(table["level"]) == ["session", "block", "block", "block"] * 2
    assert set(table["client"]) == {"client1"}
    # a sham session: blinded in the summary unless asked
    src = study / "store" / "client0" / "s0"
    eeg = _eeg_file(tmp_path / "sham_raw.fif", seed=99, seconds=60)
    sham = replay(eeg, tmp_path / "c" / "x", protocol="alpha-beta-up",
                  overrides=[*SHORT, "sham.blocks=[3]"], sham_source=src, client="c")  # fmt: skip
    blind = summary_table([sham], as_frame=False)
    assert set(blind["sham"]) == {""}
    open_ = summary_table([sham], unblind=True, as_frame=False)
    assert list(open_["sham"]) == ["", "false", "false", "true"]
    # unblinded, the client's own scoring differs in the sham block only
    own_differs = open_["own_reward_rate"] != open_["reward_rate"]
    assert list(own_differs) == [True, False, False, True]
    # blinded, nothing tells the blocks apart: own scoring and per-block thresholds left out
    for col in ("own_reward_rate", "own_mean_value"):
        assert np.isnan(blind[col]).all(), col
    blocks = blind["level"] == "block"
    for col in ("threshold_first", "threshold_last"):
        assert np.isnan(blind[col][blocks]).all() and np.isfinite(open_[col][blocks]).all()
    assert json.loads((sham / "session.json").read_text())["blinding"]["sham_blocks"] == [3]


def test_relative_summary_inside_a_new_relative_out(study, tmp_path):
    """``--out o --summary o/s.csv`` from the working folder: the summary goes into the new
    output folder."""
    one = sorted((study / "store").glob("*/*"))[0]
    proc = nfb_cli("replay", one, *RESCORE, "--out", "o", "--summary", "o/s.csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE((tmp_path / "o").stat().st_mode) == 0o700
    table = read_summary_csv(tmp_path / "o" / "s.csv")
    assert list(table["level"]) == ["session", "block", "block", "block"]


def test_a_source_with_a_bad_client_id_gets_an_error_row(study, tmp_path):
    """One source's session.json names a client that cannot be a folder: its error row,
    the other sources replayed, exit 1 (it used to abort the whole batch, exit 4)."""
    src = study / "store" / "client0" / "s0"
    bad = tmp_path / "store" / "x" / "bad"
    bad.mkdir(parents=True)
    for f in src.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    meta = json.loads((bad / "session.json").read_text())
    meta["client"] = "../outside"
    (bad / "session.json").write_text(json.dumps(meta))
    out = tmp_path / "out"
    proc = nfb_cli("replay", study / "store" / "client1", bad, *RESCORE, "--out", out)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    table = read_summary_csv(out / "summary.csv")
    errors = table[table["status"] == "error"]
    assert len(errors) == 1 and "invalid client id" in errors[0]["error"]
    assert (table["status"] == "complete").sum() == 2 * 4
    assert not (tmp_path / "outside").exists()


def test_jobs_and_dask_limits(study, tmp_path):
    import os

    proc = nfb_cli("replay", study / "store", "--jobs", "100000", "--out", tmp_path / "o1")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"nfb replay: error: --jobs 100000: at most {4 * (os.cpu_count() or 1)} on this machine "
        f"({os.cpu_count() or 1} cores; more processes than that only wait for each other)"
    ]
    unreachable = "tcp://127.0.0.1:1"
    proc = nfb_cli("replay", study / "store", "--dask", unreachable, "--out", tmp_path / "o2")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "nfb replay: error: --dask tcp://127.0.0.1:1: no scheduler answered within 5 s"
    ), lines
