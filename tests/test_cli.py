"""End to end: the real ``nfb`` command in subprocesses, on BrainFlow's synthetic board and real
files, as a user would drive it.

The sample index is the clock: nothing here sleeps to let time pass; the kill test polls the
size of ``raw.f64`` until enough samples are on disk. One short live session (8 s) is recorded
once per module and shared by the replay, export and bad-input tests, which must leave it as
it is.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import mne
import numpy as np
import pytest
from brainflow.board_shim import BoardShim
from conftest import ROOT, nfb_cli

import nfb
from nfb.cli import COMMANDS
from nfb.session.store import recover_session

SYNTHETIC = BoardShim.get_board_descr(-1)
EEG_NAMES = SYNTHETIC["eeg_names"].split(",")
SFREQ = float(SYNTHETIC["sampling_rate"])
#: The profiles shipped in devices/ (the spec of `nfb devices`).
DEVICES = (
    "synthetic", "cyton", "cyton-daisy", "cyton-wifi", "cyton-daisy-wifi", "ganglion",
    "ganglion-native", "ganglion-wifi", "muse-2", "muse-2016", "muse-s", "muse-s-athena",
    "brainbit", "unicorn", "crown", "explore-4", "explore-8", "freeeeg32", "enophone", "lsl",
    "brainflow-file", "file",
)  # fmt: skip
#: A short script: 3 s + 3 s baselines, 2 blocks of 6 s, 1.2 s rests.
SCRIPT = {
    "baseline_eyes_open": 0.05,
    "baseline_eyes_closed": 0.05,
    "block_min": 0.1,
    "rest_min": 0.02,
    "blocks": 2,
}
SHORT = [a for key, value in SCRIPT.items() for a in ("--set", f"script.{key}={value}")]
DURATION = 8.0
PROTOCOL = "alpha-beta-up"
#: Every subprocess gets at most this long (s).
TIMEOUT = 60


def _preset(name: str) -> dict:
    return tomllib.loads((ROOT / "protocols" / f"{name}.toml").read_text(encoding="utf-8"))


def _no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout, proc.stdout


def _snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under ``root``: (kind, mode, mtime_ns, bytes) — any change shows."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        data = path.read_bytes() if path.is_file() else None
        out[str(path.relative_to(root))] = (
            stat.S_IFMT(st.st_mode),
            st.st_mode,
            st.st_mtime_ns,
            data,
        )
    return out


def _counter_continuous(session) -> None:
    """The board's package counter steps by one over every recorded sample: none lost."""
    layout = session.layout
    counter = session.samples[int(layout["counter_row"])]
    steps = np.diff(counter) % int(layout["counter_modulo"])
    assert np.all(steps == int(layout.get("counter_step", 1))), np.flatnonzero(steps != 1)[:10]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """One short live session on the synthetic board: (store, completed process, folder)."""
    store = tmp_path_factory.mktemp("store")
    proc = nfb_cli(
        "run",
        "--device",
        "synthetic",
        "--protocol",
        PROTOCOL,
        "--client",
        "demo",
        "--duration",
        DURATION,
        *SHORT,
        env={"NFB_SESSIONS_DIR": str(store)},
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines, proc.stderr
    return store, proc, Path(lines[-1])


# --- 1. a live session ------------------------------------------------------------------------
def test_run_records_a_readable_session(live):
    store, proc, folder = live
    _no_traceback(proc)
    assert folder.is_dir()
    # the name stays in the store's index; the folder and the record hold the id only
    index = json.loads((store / "clients.json").read_text())["clients"]
    (cid,) = index
    assert index[cid]["name"] == "demo"
    assert folder.parent == store / cid and cid != "demo"
    assert (store / "clients.json").stat().st_mode & 0o777 == 0o600
    assert "demo" not in (folder / "session.json").read_text()
    assert sorted(p.name for p in (store / cid).iterdir()) == [folder.name]

    s = nfb.read_session(folder)
    assert s.status in ("stopped", "complete")
    # the duration is counted in samples: the session stops at the first frame past it; the
    # chunk holding that frame is recorded whole (a chunk's samples share one fetch time), and
    # no later chunk is
    want = round(DURATION * SFREQ)
    step = round(s.meta["protocol"]["signal"]["step_ms"] * SFREQ / 1000)
    stops = [e for e in s.events if e["kind"] == "stop"]
    assert len(stops) == 1 and stops[0]["reason"] == "duration", stops
    end = stops[0]["sample_index"]
    assert want - 1 <= end < want + step
    assert end < s.n_samples <= want + SFREQ / 4
    assert np.all(s.fetch_time[end:] == s.fetch_time[end])
    assert np.all(np.diff(s.fetch_time) >= 0)
    # the summary line reports what was recorded
    assert f"session {s.status}: {s.n_samples} samples" in proc.stderr.splitlines()
    _counter_continuous(s)
    index = s.frames["sample_index"]
    assert step == 4
    assert np.all(np.diff(index) == step)
    assert index[0] == step - 1
    assert want - step <= index[-1] < want  # no frame beyond --duration
    np.testing.assert_allclose(s.frames["time_s"], index / SFREQ)
    assert np.all(np.isfinite(s.frames["value"][-10:]))
    assert s.meta["n_samples"] == s.n_samples and s.meta["n_frames"] == s.n_frames

    raw = s.raw
    assert raw.ch_names == EEG_NAMES
    assert raw.info["sfreq"] == SFREQ
    assert raw.n_times == s.n_samples
    desc = list(raw.annotations.description)
    assert "baseline/eyes_open" in desc and "baseline/eyes_closed" in desc and "block/1" in desc

    # session.json: the protocol as used (preset + --set), the device, the software
    meta = json.loads((folder / "session.json").read_text())
    preset = _preset(PROTOCOL)
    used = meta["protocol"]
    assert used["name"] == preset["name"]
    assert used["feedback"]["feature"] == preset["feedback"]["feature"]
    assert used["reward"]["target_rate"] == preset["reward"]["target_rate"]
    assert {k: used["script"][k] for k in SCRIPT} == SCRIPT
    assert {k: preset["script"][k] for k in SCRIPT} != SCRIPT  # the overrides changed it
    assert meta["device"]["name"] == "synthetic"
    assert meta["device"]["board_id"] == -1
    assert meta["device"]["channels"] == EEG_NAMES
    assert meta["software"]["nfb"] == nfb.__version__
    assert meta["client"] == folder.parent.name and meta["session_id"] == folder.name

    # private: folders 0700, files 0600
    for d in (folder.parent, folder):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    files = list(folder.iterdir())
    assert {"session.json", "raw.f64", "frames.f64", "events.jsonl"} <= {f.name for f in files}
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


# --- 2. SIGKILL mid-session -------------------------------------------------------------------
def test_sigkill_leaves_a_readable_recoverable_session(tmp_path):
    store = Path(os.environ["NFB_SESSIONS_DIR"])
    need = round(5 * SFREQ)
    with open(tmp_path / "stderr.txt", "w") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nfb.cli",
                "run",
                "--device",
                "synthetic",
                "--protocol",
                PROTOCOL,
                "--client",
                "demo",
                "--duration",
                "600",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=os.environ.copy(),
        )
        try:
            deadline = time.monotonic() + TIMEOUT
            folder, record, at_kill = None, None, 0
            while True:
                assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()
                assert time.monotonic() < deadline, f"{at_kill} samples after {TIMEOUT} s"
                if folder is None:
                    found = sorted(store.glob("*/*/session.json"))
                    if found:
                        folder = found[0].parent
                        meta = json.loads(found[0].read_text())
                        record = 8 * len(meta["raw"]["columns"])
                if folder is not None:
                    at_kill = (folder / "raw.f64").stat().st_size // record
                    if at_kill >= need:
                        os.kill(proc.pid, signal.SIGKILL)
                        break
                time.sleep(0.02)  # poll interval; the condition is the sample count
            assert proc.wait(timeout=TIMEOUT) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=TIMEOUT)
    assert "Traceback" not in (tmp_path / "stderr.txt").read_text()

    s = nfb.read_session(folder)
    assert s.status == "interrupted"
    sfreq = s.sfreq
    assert s.n_samples >= at_kill - sfreq
    _counter_continuous(s)
    index = s.frames["sample_index"]
    assert s.n_frames > 0
    assert np.all(np.diff(index) == 4)
    assert index[-1] < s.n_samples  # a frame never refers to a sample not on disk
    assert index[-1] >= at_kill - sfreq  # frames cover the samples, to within a second
    raw = s.raw
    assert raw.ch_names == EEG_NAMES
    assert raw.n_times == s.n_samples
    assert "baseline/eyes_open" in raw.annotations.description

    assert recover_session(folder) == "recovered"
    r = nfb.read_session(folder)
    assert r.status == "recovered"
    assert r.n_samples == s.n_samples and r.n_frames == s.n_frames
    assert r.meta["n_samples"] == r.n_samples and r.meta["n_frames"] == r.n_frames
    assert r.meta["end_unix"] == pytest.approx(float(r.fetch_time[-1]))
    assert (folder / "raw.f64").stat().st_size == r.n_samples * 8 * len(r.meta["raw"]["columns"])
    assert r.frames.tobytes() == s.frames.tobytes()
    assert recover_session(folder) == "recovered"  # idempotent


# --- 3. replay equals live --------------------------------------------------------------------
def test_replay_equals_live(live, tmp_path):
    _, _, folder = live
    out = tmp_path / "replay"
    proc = nfb_cli("replay", folder, "--out", out, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    _no_traceback(proc)
    assert Path(proc.stdout.strip().splitlines()[-1]) == out
    a, b = nfb.read_session(folder), nfb.read_session(out)
    assert b.meta["source"]["own_protocol"] is True
    assert b.meta["protocol"] == a.meta["protocol"]
    assert b.n_frames == a.n_frames > 0
    assert b.frames.dtype == a.frames.dtype
    assert b.frames.tobytes() == a.frames.tobytes()
    assert [e["kind"] for e in b.events] == [e["kind"] for e in a.events]
    assert b.events == a.events
    assert (out / "raw.f64").read_bytes() == (folder / "raw.f64").read_bytes()
    assert list(b.raw.annotations.description) == list(a.raw.annotations.description)


def test_replay_rescores_with_another_protocol(live, tmp_path):
    _, _, folder = live
    a = nfb.read_session(folder)
    out = tmp_path / "smr"
    proc = nfb_cli("replay", folder, "--protocol", "smr-up", "--out", out, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    _no_traceback(proc)
    b = nfb.read_session(out)
    assert b.meta["protocol"]["name"] == _preset("smr-up")["name"]
    assert b.meta["source"]["own_protocol"] is False
    assert b.frames.dtype.names != a.frames.dtype.names
    assert "smr" in b.frames.dtype.names and "alpha" not in b.frames.dtype.names
    assert b.n_frames > 0 and np.all(np.diff(b.frames["sample_index"]) == 4)
    assert b.n_samples == a.n_samples
    assert b.raw.ch_names == EEG_NAMES

    out = tmp_path / "fft"
    proc = nfb_cli(
        "replay", folder, "--set", "feedback.estimator=fft", "--out", out, timeout=TIMEOUT
    )
    assert proc.returncode == 0, proc.stderr
    _no_traceback(proc)
    c = nfb.read_session(out)
    assert c.meta["protocol"]["feedback"]["estimator"] == "fft"
    assert a.meta["protocol"]["feedback"]["estimator"] != "fft"
    assert c.frames.dtype.names == a.frames.dtype.names
    np.testing.assert_array_equal(c.frames["sample_index"], a.frames["sample_index"])
    assert not np.array_equal(c.frames["alpha"], a.frames["alpha"], equal_nan=True)
    assert c.raw.n_times == a.n_samples


# --- 4. replay of EEG files -------------------------------------------------------------------
def test_replay_edf_carries_annotations(tmp_path):
    sfreq, names = 250.0, ["O1", "O2", "Pz", "Cz"]
    rng = np.random.default_rng(7)
    t = np.arange(int(60 * sfreq)) / sfreq
    data = np.vstack(
        [
            20e-6 * np.sin(2 * np.pi * 10 * t + i) + 5e-6 * rng.standard_normal(t.size)
            for i in range(len(names))
        ]
    )
    raw = mne.io.RawArray(data, mne.create_info(names, sfreq, "eeg"), verbose=False)
    raw.set_annotations(mne.Annotations([2.0, 30.0], [0.0, 0.0], ["eyes_open", "eyes_closed"]))
    edf = tmp_path / "file.edf"
    mne.export.export_raw(edf, raw, fmt="edf", verbose=False)

    out = tmp_path / "out"
    proc = nfb_cli("replay", edf, "--protocol", "alpha-up", "--out", out, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    _no_traceback(proc)
    s = nfb.read_session(out)
    assert s.raw.ch_names == names
    assert s.sfreq == sfreq
    assert s.n_samples == t.size
    np.testing.assert_allclose(s.raw.get_data(), data, atol=1e-8)  # EDF's 16-bit resolution
    assert s.n_frames >= t.size // 4 - 1
    assert np.all(np.diff(s.frames["sample_index"]) == 4)
    ann = s.raw.annotations
    for desc, onset in (("eyes_open", 2.0), ("eyes_closed", 30.0)):
        assert desc in ann.description
        assert ann.onset[list(ann.description).index(desc)] == pytest.approx(onset, abs=1 / sfreq)
    carried = [e for e in s.events if e["kind"] == "annotation"]
    assert [e["description"] for e in carried] == ["eyes_open", "eyes_closed"]


def test_replay_brainflow_csv(live, tmp_path):
    _, _, folder = live
    csv = tmp_path / "session.csv"
    proc = nfb_cli("export", folder, "--format", "brainflow", "--out", csv, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert csv.is_file()

    out = tmp_path / "out"
    proc = nfb_cli(
        "replay",
        csv,
        "--device",
        "synthetic",
        "--protocol",
        PROTOCOL,
        *SHORT,
        "--out",
        out,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr
    _no_traceback(proc)
    a, b = nfb.read_session(folder), nfb.read_session(out)
    assert b.meta["source"]["format"] == "brainflow"
    assert b.raw.ch_names == EEG_NAMES
    assert b.n_samples == a.n_samples
    rows = a.layout["eeg_rows"]
    np.testing.assert_allclose(b.samples[rows], a.samples[rows], atol=1e-6)  # CSV: 6 decimals
    # the same protocol on the same samples: the same frames, to the CSV's precision
    n = a.n_frames
    assert b.n_frames >= n
    np.testing.assert_array_equal(b.frames["sample_index"][:n], a.frames["sample_index"])
    np.testing.assert_allclose(b.frames["value"][:n], a.frames["value"], rtol=1e-4)


# --- 5. export --------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt,name", [("fif", "x_raw.fif"), ("edf", "x.edf")])
def test_export(live, tmp_path, fmt, name):
    _, _, folder = live
    s = nfb.read_session(folder)
    out = tmp_path / name
    proc = nfb_cli("export", folder, "--format", fmt, "--out", out, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    _no_traceback(proc)
    raw = mne.io.read_raw(out, preload=True, verbose=False)
    assert raw.ch_names == EEG_NAMES
    assert raw.info["sfreq"] == SFREQ
    assert raw.n_times >= s.n_samples  # EDF pads to whole data records
    n = s.n_samples
    tol = 1e-12 if fmt == "fif" else 1e-7
    np.testing.assert_allclose(raw.get_data()[:, :n], s.raw.get_data(), atol=tol, rtol=1e-6)
    # EDF pads the last data record; MNE marks that padding BAD_ACQ_SKIP, past the samples
    ann = raw.annotations
    pad = ann.description == "BAD_ACQ_SKIP"
    assert np.all(ann.onset[pad] >= (n - 1) / SFREQ)
    assert list(ann.description[~pad]) == list(s.raw.annotations.description)
    np.testing.assert_allclose(ann.onset[~pad], s.raw.annotations.onset, atol=1e-3)


# --- 6. bad input -----------------------------------------------------------------------------
def _bad_cases():
    """Each case: ctx -> (argv, what the error line must name)."""
    run = [
        "run",
        "--device",
        "synthetic",
        "--protocol",
        PROTOCOL,
        "--client",
        "demo",
        "--duration",
        "2",
    ]

    def with_(**repl):
        args = list(run)
        for opt, value in repl.items():
            args[args.index(f"--{opt}") + 1] = value
        return args

    presets = [p.stem for p in (ROOT / "protocols").glob("*.toml")]
    return {
        "unknown-device": lambda c: (with_(device="nope"), ["'nope'", *DEVICES]),
        "unknown-protocol": lambda c: (with_(protocol="nope"), ["'nope'", *presets]),
        "malformed-protocol": lambda c: (
            with_(protocol=c["bad_toml"]),
            [str(c["bad_toml"]), "TOML"],
        ),
        "out-of-range": lambda c: (
            [*run, "--set", "reward.target_rate=2"],
            ["reward.target_rate", "2"],
        ),
        "wrong-serial-port": lambda c: (
            [*with_(device="cyton"), "--serial-port", "/dev/does-not-exist"],
            ["/dev/does-not-exist"],
        ),
        "missing-file": lambda c: ([*with_(device="file"), "--file", "/nope.edf"], ["/nope.edf"]),
        "client-traversal": lambda c: (with_(client="../evil"), ["../evil"]),
        "client-separator": lambda c: (with_(client="a/b"), ["a/b"]),
        "negative-duration": lambda c: (with_(duration="-1"), ["--duration"]),
        "infinite-duration": lambda c: (with_(duration="inf"), ["--duration"]),
        "sub-second-duration": lambda c: (with_(duration="1e-9"), ["--duration"]),
        "replay-not-a-session": lambda c: (
            ["replay", c["not_session"], "--out", c["tmp"] / "out"],
            [str(c["not_session"])],
        ),
        "replay-out-not-empty": lambda c: (
            ["replay", c["session"], "--out", c["existing"]],
            ["--out", str(c["existing"])],
        ),
        "export-missing": lambda c: (
            ["export", c["tmp"] / "missing", "--format", "fif", "--out", c["tmp"] / "x_raw.fif"],
            [str(c["tmp"] / "missing")],
        ),
        "export-format-mismatch": lambda c: (
            ["export", c["session"], "--format", "fif", "--out", c["tmp"] / "x.edf"],
            ["x.edf", ".fif"],
        ),
        "export-unknown-extension": lambda c: (
            ["export", c["session"], "--out", c["tmp"] / "x.txt"],
            ["x.txt"],
        ),
        # a playback file that is not a recording of the board: no data, a clear error
        "device-sends-nothing": lambda c: (
            [*with_(device="brainflow-file"), "--file", c["not_session"] / "junk.csv"],
            ["sent no data", "junk.csv"],
        ),
    }


BAD = _bad_cases()


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input(live, tmp_path, case):
    store, _, folder = live
    ctx = {"tmp": tmp_path, "session": folder}
    ctx["bad_toml"] = tmp_path / "bad.toml"
    ctx["bad_toml"].write_text('name = "bad"\n[signal\nchannels = ["Pz"]\n')
    ctx["not_session"] = tmp_path / "not-a-session"
    ctx["not_session"].mkdir()
    (ctx["not_session"] / "notes.txt").write_text("not a session\n")
    (ctx["not_session"] / "junk.csv").write_text("a,b\n1,2\n")
    ctx["existing"] = tmp_path / "existing"
    ctx["existing"].mkdir()
    (ctx["existing"] / "keep.txt").write_text("keep me\n")
    args, names = BAD[case](ctx)
    args = [str(a) for a in args]
    before_store, before_tmp = _snapshot(store), _snapshot(tmp_path)

    proc = nfb_cli(*args, env={"NFB_SESSIONS_DIR": str(store)}, timeout=TIMEOUT)

    assert proc.returncode != 0, proc.stdout
    _no_traceback(proc)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"nfb {args[0]}: error: "), lines[0]
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert proc.stdout == ""
    # nothing recorded changed, nothing new in the store or next to it, no output written
    assert _snapshot(store) == before_store
    assert _snapshot(tmp_path) == before_tmp
    assert not (store.parent / "evil").exists()
    assert not (ROOT / "evil").exists()


# --- 7. devices and check ---------------------------------------------------------------------
def test_devices_lists_every_profile():
    proc = nfb_cli("devices", timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    _no_traceback(proc)
    table, _, footer = proc.stdout.strip().partition("\n\n")
    lines = table.splitlines()
    assert lines[0].split()[:2] == ["DEVICE", "SOURCE"]
    listed = [line.split()[0] for line in lines[1:]]
    assert {line.split()[1] for line in lines[1:]} == {"built-in"}
    assert footer.startswith("Your own profiles: ")
    assert sorted(listed) == sorted(DEVICES)
    assert sorted(listed) == sorted(p.stem for p in (ROOT / "devices").glob("*.toml"))


def test_a_closed_pipe_ends_quietly():
    # `nfb devices --json | head`: the reader is gone before nfb writes. A pipe whose read end
    # is already closed makes the first write fail, whatever the pipe buffer's size.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "nfb.cli", "devices", "--json"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT,
            cwd=ROOT,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Exception ignored" not in proc.stderr, proc.stderr
    assert proc.returncode == 141, proc.stderr  # 128 + SIGPIPE, as `head`'s writers exit


@pytest.mark.parametrize("command", ["run", "replay"])
def test_protocol_help_names_the_users_protocols_folder(command, tmp_path, monkeypatch, capsys):
    # installed from the wheel there is no protocols/ folder to look in: the help says where
    # a user's own protocols go, even when that path holds argparse's % sign
    from nfb.cli import build_parser

    monkeypatch.setenv("NFB_CONFIG_DIR", str(tmp_path / "100%"))
    monkeypatch.setenv("COLUMNS", "2000")  # argparse wraps help at the terminal's width
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "protocols/*.toml" not in text
    assert f"yours in {tmp_path / '100%' / 'protocols'}," in text


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_says_where_the_default_store_is(command, monkeypatch, capsys):
    # the store moved from ./sessions to the per-user data folder; course and outcome still
    # said ./sessions, so a newcomer looked for their outcomes in the wrong place
    from nfb.cli import build_parser

    monkeypatch.setenv("COLUMNS", "2000")
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    text = capsys.readouterr().out
    assert "./sessions" not in text
    line = next((x for x in text.splitlines() if x.strip().startswith("--sessions-dir")), "")
    if line and command != "demo-course":  # demo-course writes a new store, no default
        assert "$NFB_SESSIONS_DIR, else the per-user" in line, line


def test_check_prints_a_verdict_per_channel():
    proc = nfb_cli("check", "--device", "synthetic", "--seconds", 2, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    _no_traceback(proc)
    rows = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] in EEG_NAMES:
            rows[parts[0]] = parts[-1]
    assert list(rows) == EEG_NAMES
    assert set(rows.values()) <= {"good", "check", "bad"}
    assert any(line.startswith("Verdict:") for line in proc.stdout.splitlines())


def test_level_is_in_every_frame_of_a_headless_run_and_equal_after_replay(live, tmp_path):
    from nfb.feedback.level import FeedbackLevel

    _, _, folder = live
    a = nfb.read_session(folder)
    level = a.frames["level"]
    assert len(level) == a.n_frames > 0
    assert np.all(np.isfinite(level)) and np.all((level >= 0) & (level <= 1))
    # 0.5 (neutral) until a threshold exists; this short run may not reach one
    assert np.all(level[~np.isfinite(a.frames["threshold"])] == 0.5)
    # the engine's rule: the shown value against the shown threshold
    rule = FeedbackLevel(a.meta["protocol"]["feedback"]["direction"])
    expect = [
        rule.update(v, t) for v, t in zip(a.frames["value"], a.frames["threshold"], strict=True)
    ]
    assert np.array_equal(level, np.asarray(expect))
    out = tmp_path / "replay-level"
    proc = nfb_cli("replay", folder, "--out", out, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert np.array_equal(nfb.read_session(out).frames["level"], level)
