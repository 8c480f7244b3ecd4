"""Bad input, fuzzed with hypothesis: a clear one-line error or an inhibit, never a traceback,
never a hang, nothing overwritten.

- protocol TOML (random edits, values and types of the presets, ``--set`` overrides, text
  damage): loads, or raises :class:`ConfigError` with one line; a protocol that loads also
  builds and runs a :class:`SessionRunner` on the synthetic board, or refuses with one line;
- device TOML likewise (:func:`nfb.devices.load_profile` on a temporary file);
- truncated and corrupted session files (``raw.f64``, ``frames.f64``, ``events.jsonl``,
  ``session.json`` of a copy of a real session): reading, ``nfb replay``, ``nfb export`` and
  ``nfb report`` work or fail with :class:`SessionError`/:class:`ConfigError`, and never
  change the source files;
- NaN, inf, railed, huge and flat samples in the stream: frames keep coming, the affected
  frames are inhibited with the right kind, and the threshold is finite again afterwards.

Example counts are kept moderate so that the module runs in well under a minute.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import math
import os
import shutil
import tempfile
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, nfb_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nfb.cli import main as nfb_main
from nfb.devices import load_profile
from nfb.errors import ConfigError, SessionError
from nfb.protocol import load_protocol, protocols_dir
from nfb.session.runner import SessionRunner
from nfb.session.store import list_sessions, read_session
from nfb.sources import BoardLayout

#: ``NFB_FUZZ_SCALE=20`` runs twenty times the examples, with fresh random ones each run.
SCALE = int(os.environ.get("NFB_FUZZ_SCALE", "1"))


def fuzz(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples * SCALE,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        derandomize=SCALE == 1,  # by default the same examples every run: failures reproduce
        database=None,
    )


PRESETS = {p.stem: p.read_text(encoding="utf-8") for p in sorted(protocols_dir().glob("*.toml"))}
DEVICES = {p.stem: p.read_text(encoding="utf-8") for p in sorted((ROOT / "devices").glob("*.toml"))}
#: BrainFlow's synthetic board: 250 Hz, EEG rows 1-16, ADC range for the railed inhibit.
SYNTHETIC = BoardLayout(
    board_id=-1,
    sfreq=250.0,
    n_rows=32,
    eeg_rows=tuple(range(1, 17)),
    ch_names=(
        [
            "Fz",
            "C3",
            "Cz",
            "C4",
            "Pz",
            "PO7",
            "Oz",
            "PO8",
            "F5",
            "F7",
            "F3",
            "F1",
            "F2",
            "F4",
            "F6",
            "F8",
        ]
    ),
    counter_row=0,
    counter_modulo=256,
    timestamp_row=30,
    marker_row=31,
    rail_uv=187500.0,
)


def one_line(err: BaseException) -> None:
    text = str(err)
    assert text and "\n" not in text and "Traceback" not in text, repr(text)


# --- a tiny TOML writer (inline tables only: enough for any dict of TOML values) -----------
def _toml_str(s: str) -> str:
    out = []
    for ch in s:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_key(k: str) -> str:
    return k if k and all(c.isalnum() or c in "-_" for c in k) and k.isascii() else _toml_str(k)


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def toml_dumps(data: dict) -> str:
    return "".join(f"{_toml_key(k)} = {toml_value(v)}\n" for k, v in data.items())


# --- value strategies -------------------------------------------------------------------------
NEAR_VALID = st.sampled_from(
    [
        "auto",
        "mains",
        "alpha",
        "beta",
        "alpha / beta",
        "ln(alpha@F4) - ln(alpha@F3)",
        "theta / 0",
        "alpha ** 1000",
        "Cz-Pz",
        "Cz-Cz",
        "Pz",
        "O1",
        "up",
        "down",
        "fft",
        "cfir",
        "demod",
        "butter",
        "power",
        "open",
        "closed",
        "emg",
        "band",
        "flat",
        "railed",
        "amplitude",
        0,
        1,
        -1,
        2,
        50,
        60,
        100,
        0.0,
        0.5,
        0.999,
        1e-300,
        1e300,
        2**63 - 1,
        -(2**63),
        [1, 40],
        [40, 1],
        [0, 0],
        [0.001, 0.002],
        [1, 125],
        [1, 124.9],
        [100, 200],
        ["Pz", "Cz"],
        ["Pz", "Pz"],
        [],
        [1],
        ["a", "b"],
        {},
        {"kind": "flat"},
        "SYNTHETIC_BOARD",
        "CYTON_BOARD",
        "PLAYBACK_FILE_BOARD",
        "file",
        -1,
        -3,
        38,
    ]
).map(copy.deepcopy)  # a fresh object each time: edits never alias
SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    NEAR_VALID,
)
VALUES = st.one_of(
    SCALARS,
    NEAR_VALID,
    st.lists(SCALARS, max_size=4),
    st.dictionaries(st.text(max_size=8), SCALARS, max_size=3),
)
#: keys that may be added to any table
KEYS = st.one_of(
    st.sampled_from(
        [
            "name",
            "kind",
            "band",
            "max",
            "max_uv",
            "min_uv",
            "hold_ms",
            "window_s",
            "fraction",
            "blocks",
            "count",
            "threshold",
            "feature",
            "channels",
            "board",
            "board_id",
            "sampling_rate",
            "mains_hz",
            "serial_port",
            "file",
            "speed",
            "loop",
            "master_board",
            "theta",
            "alpha",
            "emg",
            "connection",
            "signal",
            "sham",
        ]
    ),
    st.text(min_size=1, max_size=8),
)


def _paths(node, prefix=()):
    """Every (path to a value) in a parsed TOML document: tables, lists and leaves."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _mutate(data, draw) -> dict:
    """Apply 1-3 random edits: set a value, delete it, or add a key to a table."""
    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        op = draw(st.sampled_from(["set", "set", "delete", "add"]))
        if op == "add" or not paths:
            tables = [p for p in _paths(data) if isinstance(_get(data, p), dict)]
            parent = _get(data, draw(st.sampled_from(tables)))
            parent[draw(KEYS)] = draw(VALUES)
            continue
        path = draw(st.sampled_from(paths))
        parent = _get(data, path[:-1])
        if op == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(VALUES)
    return data


def _get(node, path):
    for k in path:
        node = node[k]
    return node


def _text_damage(text: str, draw) -> str:
    """Delete, duplicate or replace a random slice of the text."""
    i = draw(st.integers(0, len(text)))
    j = draw(st.integers(i, min(len(text), i + 40)))
    op = draw(st.sampled_from(["delete", "dup", "replace"]))
    if op == "delete":
        return text[:i] + text[j:]
    if op == "dup":
        return text[:j] + text[i:j] + text[j:]
    return text[:i] + draw(st.text(max_size=6)) + text[j:]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


# --- 1. protocol TOML -------------------------------------------------------------------------
def _protocol_loads_or_refuses(path: Path, overrides=()) -> None:
    try:
        protocol = load_protocol(path, list(overrides))
    except ConfigError as err:
        one_line(err)
        return
    try:
        runner = SessionRunner(protocol, SYNTHETIC, mains_hz=50.0)
    except ConfigError as err:  # valid alone, but not on this device
        one_line(err)
        return
    rng = np.random.default_rng(0)
    eeg = rng.standard_normal((16, 500)) * 10
    frames = np.vstack([runner.feed(eeg[:, i : i + 37], 1.0) for i in range(0, 500, 37)])
    assert frames.shape[1] == len(runner.columns)
    assert len(frames) == 500 // runner.step_samples or runner.finished


@pytest.mark.timeout(60)
@fuzz(40)
@given(data=st.data(), name=st.sampled_from(sorted(PRESETS)))
def test_protocol_edits(scratch, data, name):
    edited = _mutate(tomllib.loads(PRESETS[name]), data.draw)
    path = scratch / f"{name}.toml"
    path.write_text(toml_dumps(edited), encoding="utf-8")
    _protocol_loads_or_refuses(path)


@pytest.mark.timeout(60)
@fuzz(25)
@given(data=st.data(), name=st.sampled_from(sorted(PRESETS)))
def test_protocol_text_damage(scratch, data, name):
    path = scratch / f"{name}.toml"
    path.write_text(_text_damage(PRESETS[name], data.draw), encoding="utf-8")
    _protocol_loads_or_refuses(path)


@pytest.mark.timeout(60)
@fuzz(25)
@given(
    name=st.sampled_from(sorted(PRESETS)),
    key=st.one_of(
        st.sampled_from(
            [
                "reward.target_rate",
                "signal.step_ms",
                "bands.alpha",
                "inhibit.0.max_uv",
                "inhibit.9.kind",
                "script.blocks",
                "signal.channels",
                "feedback.feature",
                "signal.bandpass_hz.1",
                "name.x",
                "bands",
                "sham.count",
                "reward.threshold",
            ]
        ),
        st.text(max_size=12),
    ),
    value=st.one_of(st.text(max_size=12), VALUES.map(toml_value)),
)
def test_protocol_overrides(name, key, value):
    _protocol_loads_or_refuses(protocols_dir() / f"{name}.toml", [f"{key}={value}"])


# --- 2. device TOML ---------------------------------------------------------------------------
def _device_loads_or_refuses(path: Path) -> None:
    try:
        profile = load_profile(str(path))
    except ConfigError as err:
        one_line(err)
        return
    assert profile.mains_hz in (50.0, 60.0)
    json.dumps(profile.to_dict())  # what a session records


@pytest.mark.timeout(60)
@fuzz(40)
@given(data=st.data(), name=st.sampled_from(sorted(DEVICES)))
def test_device_edits(scratch, data, name):
    edited = _mutate(tomllib.loads(DEVICES[name]), data.draw)
    path = scratch / f"dev-{name}.toml"
    path.write_text(toml_dumps(edited), encoding="utf-8")
    _device_loads_or_refuses(path)


@pytest.mark.timeout(60)
@fuzz(25)
@given(data=st.data(), name=st.sampled_from(sorted(DEVICES)))
def test_device_text_damage(scratch, data, name):
    path = scratch / f"dev-{name}.toml"
    path.write_text(_text_damage(DEVICES[name], data.draw), encoding="utf-8")
    _device_loads_or_refuses(path)


# --- 3. damaged session files -----------------------------------------------------------------
FILES = ("raw.f64", "frames.f64", "events.jsonl", "session.json")


@pytest.fixture(scope="module")
def real_session(tmp_path_factory):
    """A real 3 s session on the synthetic board, recorded once for the module."""
    store = tmp_path_factory.mktemp("store")
    proc = nfb_cli(
        "run", "--device", "synthetic", "--protocol", "alpha-beta-up", "--client", "fuzz",
        "--duration", "3", "--set", "script.baseline_eyes_open=0.02",
        "--set", "script.baseline_eyes_closed=0", "--set", "script.block_min=0.05",
        "--set", "script.blocks=2", "--set", "script.rest_min=0.01",
        env={"NFB_SESSIONS_DIR": str(store)}, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


@st.composite
def damage(draw):
    """(file, kind, parameters) of one damage to a session file.

    Byte damage of any file, or edits of session.json that keep it valid JSON (random
    values and types in random places: what a hand edit or a buggy tool could leave).
    """
    if draw(st.integers(0, 2)) == 0:
        return "session.json", "edit", draw(st.randoms(use_true_random=False)), 0
    name = draw(st.sampled_from(FILES))
    kind = draw(st.sampled_from(["truncate", "flip", "overwrite", "delete", "empty", "garbage"]))
    return name, kind, draw(st.integers(0, 2**31)), draw(st.integers(1, 64))


def _json_edit(meta: dict, rnd) -> dict:
    """Like :func:`_mutate`, with a :class:`random.Random` (values from a fixed pool)."""
    pool = [None, True, 0, -1, 1.5, 1e308, float("nan"), "", "x", [], {}, [1, 2], {"a": 1},
            "raw.f64", "../raw.f64", 2**70, -(2**70), [["sample_index", "i8"]], ["a", "b"],
            [[1, "f8"]], [["x", "zz"]], {"sfreq": 0}]  # fmt: skip
    meta = copy.deepcopy(meta)
    for _ in range(rnd.randint(1, 3)):
        paths = [p for p in _paths(meta) if p]
        path = rnd.choice(paths)
        parent = _get(meta, path[:-1])
        if rnd.random() < 0.2:
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(rnd.choice(pool))
    return meta


def _apply(folder: Path, spec) -> None:
    name, kind, where, count = spec
    path = folder / name
    if kind == "edit":
        meta = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps(_json_edit(meta, where)), encoding="utf-8")
        return
    data = path.read_bytes()
    rng = np.random.default_rng(where)
    if kind == "truncate":
        path.write_bytes(data[: where % (len(data) + 1)])
    elif kind == "flip":  # flip bits of `count` random bytes
        buf = bytearray(data)
        for i in rng.integers(0, len(buf), count):
            buf[i] ^= int(rng.integers(1, 256))
        path.write_bytes(bytes(buf))
    elif kind == "overwrite":  # a run of random bytes somewhere
        i = where % max(1, len(data))
        path.write_bytes(data[:i] + rng.bytes(count) + data[i + count :])
    elif kind == "delete":
        path.unlink()
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(rng.bytes(count * 97))


def _digest(folder: Path) -> dict[str, tuple[int, str]]:
    return {
        p.name: (p.stat().st_mode, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(folder.iterdir())
    }


@contextlib.contextmanager
def damaged_copy(real_session: Path, spec):
    """A damaged copy of the session in a fresh store; checks it is unchanged afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        folder = store / "fuzz" / real_session.name
        shutil.copytree(real_session, folder)
        _apply(folder, spec)
        before = _digest(folder)
        yield folder, Path(tmp)
        assert _digest(folder) == before, "the source session was modified"


def _read_everything(folder: Path) -> None:
    s = read_session(folder)
    repr(s)
    assert s.status in ("complete", "stopped", "failed", "interrupted", "recovered", "recording")
    _ = s.frames, s.events, s.samples, s.fetch_time, s.annotation_list()
    assert s.samples.shape[1] == s.n_samples
    raw = s.raw
    assert raw.n_times == s.n_samples


def _cli(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = nfb_main(argv)
    return code, err.getvalue()


def _cli_ok_or_one_line(argv: list[str]) -> None:
    code, err = _cli(argv)
    assert "Traceback" not in err
    if code != 0:
        assert code in (2, 4), (code, err)
        errors = [line for line in err.splitlines() if line.startswith(f"nfb {argv[0]}: error:")]
        assert len(errors) == 1, err


@pytest.mark.timeout(60)
@fuzz(60)
@given(spec=damage())
def test_damaged_session_reads_or_refuses(real_session, spec):
    with damaged_copy(real_session, spec) as (folder, _):
        try:
            _read_everything(folder)
        except SessionError as err:
            one_line(err)
        list_sessions(folder.parent.parent)  # a damaged session never breaks the listing


@pytest.mark.timeout(60)
@fuzz(25)
@given(spec=damage())
def test_damaged_session_replay(real_session, spec):
    with damaged_copy(real_session, spec) as (folder, tmp):
        _cli_ok_or_one_line(["replay", str(folder), "--out", str(tmp / "out")])


@pytest.mark.timeout(60)
@fuzz(20)
@given(spec=damage(), fmt=st.sampled_from(["x_raw.fif", "x.edf", "x.csv"]))
def test_damaged_session_export(real_session, spec, fmt):
    with damaged_copy(real_session, spec) as (folder, tmp):
        _cli_ok_or_one_line(["export", str(folder), "--out", str(tmp / fmt)])


@pytest.mark.timeout(60)
@fuzz(6)
@given(spec=damage())
def test_damaged_session_report(real_session, spec):
    with damaged_copy(real_session, spec) as (folder, tmp):
        _cli_ok_or_one_line(["report", str(folder), "--out", str(tmp / "r.html")])


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "spec,cmd",
    [
        (("session.json", "truncate", 100, 1), "export"),
        (("session.json", "garbage", 0, 3), "replay"),
        (("raw.f64", "empty", 0, 1), "export"),
        (("events.jsonl", "garbage", 5, 9), "report"),
    ],
)
def test_damaged_session_in_a_real_process(real_session, spec, cmd):
    with damaged_copy(real_session, spec) as (folder, tmp):
        out = {"export": "x_raw.fif", "replay": "out", "report": "r.html"}[cmd]
        proc = nfb_cli(cmd, folder, "--out", tmp / out, timeout=60)
        assert "Traceback" not in proc.stderr + proc.stdout
        if proc.returncode != 0:
            assert proc.returncode in (2, 4), proc.stderr
            lines = proc.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"nfb {cmd}: error: "), lines


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--device", "{dev}", "--protocol", "alpha-up", "--client", "x"],
        ["run", "--device", "synthetic", "--protocol", "{proto}", "--client", "x"],
        ["replay", "{session}", "--protocol", "{proto}", "--out", "{tmp}/out"],
    ],
)
def test_bad_toml_in_a_real_process(real_session, tmp_path, argv):
    (tmp_path / "dev.toml").write_text('board = "SYNTHETIC_BOARD"\nmains_hz = nan\n')
    (tmp_path / "proto.toml").write_text(
        PRESETS["alpha-up"].replace("[signal]", '[signal]\nstep_ms = "fast"')
    )
    args = [
        a.format(dev=tmp_path / "dev.toml", proto=tmp_path / "proto.toml", session=real_session,
                 tmp=tmp_path)
        for a in argv
    ]  # fmt: skip
    proc = nfb_cli(*args, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"nfb {argv[0]}: error: "), lines
    assert "mains_hz" in lines[0] or "step_ms" in lines[0], lines
    assert not (tmp_path / "out").exists()


# --- 4. NaN, inf, railed, huge and flat samples in the stream ---------------------------------
#: 6 s baseline, one 20 s block; every signal-quality inhibit.
STREAM_PROTOCOL = [
    "script.baseline_eyes_open=0.1",
    "script.baseline_eyes_closed=0",
    "script.blocks=1",
    "script.block_min=0.34",
    "script.rest_min=0",
    "reward.update_s=1",
    "reward.window_s=5",
]
N = 26 * 250
STEP = 4


def _clean_eeg(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(N) / 250.0
    alpha = (10 + 5 * np.sin(2 * np.pi * 0.2 * t)) * np.sin(2 * np.pi * 10 * t)
    return rng.standard_normal((16, N)) * 3 + alpha


@st.composite
def stream_damage(draw):
    """Bad samples on Pz (the protocol's channel) from ``start`` for ``length`` samples."""
    kind = draw(st.sampled_from(["nan", "inf", "-inf", "railed", "huge", "flat"]))
    length = draw(st.integers(1, 2 * 250 if kind != "flat" else 3 * 250))
    if kind == "flat":
        length = max(length, 300)  # longer than the flat window (1 s) for it to show
    # in the baseline, or in the block with at least 8 s of good signal after it
    start = draw(st.integers(100, N - 8 * 250 - length))
    chunks = draw(st.lists(st.integers(1, 80), min_size=1, max_size=30))
    return kind, start, length, chunks


@pytest.mark.timeout(60)
@fuzz(30)
@given(damage=stream_damage(), seed=st.integers(0, 3))
def test_bad_samples_are_inhibited(damage, seed):
    kind, start, length, chunks = damage
    protocol = load_protocol("alpha-beta-up", STREAM_PROTOCOL)
    eeg = _clean_eeg(seed)
    pz = SYNTHETIC.ch_names.index("Pz")
    bad = slice(start, start + length)
    value = {
        "nan": np.nan,
        "inf": np.inf,
        "-inf": -np.inf,
        "railed": SYNTHETIC.rail_uv,
        "huge": 1e300,
        "flat": 7.0,
    }[kind]
    eeg[pz, bad] = value
    runner = SessionRunner(protocol, SYNTHETIC, mains_hz=50.0)
    rows, i, k = [], 0, 0
    while i < N and not runner.finished:
        n = chunks[k % len(chunks)]
        rows.append(runner.feed(eeg[:, i : i + n], 1000.0 + i / 250))
        i, k = i + n, k + 1
    frames = np.vstack(rows)
    cols = {name: j for j, (name, _) in enumerate(runner.columns)}
    index = frames[:, cols["sample_index"]].astype(int)
    assert np.array_equal(index, np.arange(STEP - 1, index[-1] + 1, STEP))
    assert index[-1] >= N - 2 * STEP or runner.finished

    # the frames whose step holds a bad sample are inhibited, with the right kind
    hit = (index >= start) & (index - STEP + 1 < start + length)
    inhibited = frames[:, cols["inhibited"]] != 0
    flag = {
        "nan": "inhibit_invalid",
        "inf": "inhibit_invalid",
        "-inf": "inhibit_invalid",
        "railed": "inhibit_railed",
        "huge": "inhibit_invalid",  # beyond ±1 V: not EEG, a corrupted value
        "flat": "inhibit_flat",
    }[kind]
    kind_flag = frames[:, cols[flag]] != 0
    if kind == "flat":  # flat once a whole window (1 s) of it has been seen
        hit = (index >= start + 250) & (index < start + length)
    assert kind_flag[hit].all(), (kind, np.flatnonzero(hit & ~kind_flag)[:5])
    assert inhibited[hit].all()
    assert not frames[hit, cols["reward"]].any()

    # a second after the bad stretch (filters settle), values and threshold are finite again
    after = index >= start + length + 2 * 250
    assert np.isfinite(frames[after, cols["value"]]).all(), kind
    block = frames[:, cols["step"]] == 1
    assert np.isfinite(frames[after & block, cols["threshold"]][-10:]).all(), kind
    assert np.isfinite(runner.threshold)
    # and good frames long after are not inhibited for it
    late = index >= start + length + 3 * 250
    assert not frames[late, cols[flag]].any(), kind


# --- 5. regressions: what the fuzzing found ---------------------------------------------------
@pytest.mark.parametrize(
    "override,names",
    [
        ("a\nb=1", ["a\\nb"]),  # a newline in a key: still one line, shown escaped
        ('name="x\ty"', None),  # a tab in a value is fine: it loads
        ("script.baseline_eyes_open=1e304", ["script.baseline_eyes_open", "600"]),
        ("script.block_min=1e6", ["script.block_min"]),
        ("script.rest_min=601", ["script.rest_min"]),
        ("inhibit.0.hold_ms=1e300", ["inhibit[0].hold_ms", "10000"]),
        ("inhibit.2.window_s=1e9", ["inhibit[2].window_s", "60"]),
    ],
)
def test_protocol_limits_found_by_fuzzing(override, names):
    if names is None:
        assert load_protocol("alpha-beta-up", [override]).name == "x\ty"
        return
    with pytest.raises(ConfigError) as err:
        load_protocol("alpha-beta-up", [override])
    one_line(err.value)
    for name in names:
        assert name in str(err.value), str(err.value)


def test_unknown_key_with_a_newline_is_one_line(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(PRESETS["alpha-up"] + '\n"x\\ny" = 1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"x\\ny") as err:
        load_protocol(path)
    one_line(err.value)


@pytest.mark.parametrize(
    "edit,match",
    [
        (lambda m: m["layout"].update(eeg_rows=None), "layout.eeg_rows"),
        (lambda m: m["layout"].update(ch_names=["Fz"]), "layout.eeg_rows"),
        (lambda m: m["layout"].update(eeg_rows=[1, 99, *m["layout"]["eeg_rows"][2:]]), "eeg_rows"),
        (lambda m: m["layout"].update(n_rows=3), "layout.n_rows"),
        (lambda m: m["layout"].update(rail_uv="x"), "layout.rail_uv"),
        (lambda m: m["layout"].update(counter_row="0"), "layout.counter_row"),
        (lambda m: m["layout"].update(sfreq=float("inf")), "layout.sfreq"),
        (lambda m: m["frames"]["columns"].append([1, "f8"]), "frames.columns"),
        (lambda m: m["frames"]["columns"].append(["x", ["f8"]]), "frames.columns"),
        (lambda m: m["frames"]["columns"].append(["", "f8"]), "frames.columns"),
        (lambda m: m["raw"].update(columns="abc"), "raw.columns"),
        (lambda m: m["raw"].update(file="../../other/raw.f64"), "raw.file"),
        (lambda m: m["events"].update(file="/etc/passwd"), "events.file"),
        (lambda m: m.update(events=[]), "events must be an object"),
        (lambda m: m.update(status=""), "status"),
        (lambda m: m.update(start_unix=1e300), "start_unix"),
    ],
)
def test_bad_session_json_found_by_fuzzing(real_session, tmp_path, edit, match):
    folder = tmp_path / "s"
    shutil.copytree(real_session, folder)
    meta = json.loads((folder / "session.json").read_text())
    edit(meta)
    (folder / "session.json").write_text(json.dumps(meta))
    before = _digest(folder)
    with pytest.raises(SessionError, match=match) as err:
        read_session(folder)
    one_line(err.value)
    code, err_text = _cli(["export", str(folder), "--out", str(tmp_path / "x.edf")])
    assert code == 4 and err_text.splitlines() == [f"nfb export: error: {err.value}"]
    assert _digest(folder) == before


def test_a_damaged_frame_index_is_clipped_not_wrapped(real_session, tmp_path):
    folder = tmp_path / "s"
    shutil.copytree(real_session, folder)
    frames = np.fromfile(folder / "frames.f64", "<f8")
    n_cols = len(json.loads((folder / "session.json").read_text())["frames"]["columns"])
    frames[n_cols * 3] = 1e300  # the 4th frame's sample_index
    frames.tofile(folder / "frames.f64")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        index = read_session(folder).frames["sample_index"]
    assert index[3] == 2**62 and (index >= 0).all()


# --- 6. regressions: what review found ---------------------------------------------------------
def _interrupted_copy(real_session: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "store" / "c1" / real_session.name
    shutil.copytree(real_session, folder)
    meta = json.loads((folder / "session.json").read_text())
    meta["status"] = "recording"
    (folder / "session.json").write_text(json.dumps(meta))
    return folder


@pytest.mark.parametrize("last_fetch", [np.nan, 1e300, -5.0])
def test_recovery_with_an_unusable_last_fetch_time(real_session, tmp_path, last_fetch):
    """A replay of a file records NaN fetch times; recovery must still finalise it, and a
    start (which recovers the store) must never fail on it."""
    folder = _interrupted_copy(real_session, tmp_path)
    raw = np.fromfile(folder / "raw.f64", "<f8")
    raw[-1] = last_fetch
    raw.tofile(folder / "raw.f64")
    code, err = _cli(["recover", "--sessions-dir", str(tmp_path / "store")])
    assert code == 0 and "Traceback" not in err, err
    s = read_session(folder)
    assert s.status == "recovered"
    assert s.meta["end_unix"] == s.meta["start_unix"]  # the last usable time known


@pytest.mark.parametrize(
    "line",
    [
        '{"sample_index": 5, "kind": "dropped", "count": "abc"}',
        '{"sample_index": 5, "kind": "dropped", "count": 1e400}',
        '{"sample_index": 5, "kind": "dropped", "count": NaN}',
        '{"sample_index": 5, "kind": "annotation"}',
        '{"sample_index": 5, "kind": "annotation", "description": "x", "onset_s": "zz"}',
        '{"sample_index": 5, "kind": "annotation", "description": "x", "duration_s": [1]}',
        '{"sample_index": 5, "kind": "step_start", "step": [1]}',
        '{"sample_index": 1' + "0" * 400 + ', "kind": "marker"}',
    ],
)
def test_a_damaged_event_line_is_skipped(real_session, tmp_path, line):
    folder = tmp_path / "s"
    shutil.copytree(real_session, folder)
    good = read_session(folder).events
    with open(folder / "events.jsonl", "a") as fid:
        fid.write(line + "\n")
    s = read_session(folder)
    assert s.events == good
    assert s.raw.n_times == s.n_samples
    _cli_ok_or_one_line(["export", str(folder), "--out", str(tmp_path / "x.edf")])
    assert (tmp_path / "x.edf").exists()


@pytest.mark.parametrize("start_unix", [-9e10, 1e12, float("nan")])
def test_start_time_beyond_dates_is_refused(real_session, tmp_path, start_unix):
    folder = tmp_path / "s"
    shutil.copytree(real_session, folder)
    meta = json.loads((folder / "session.json").read_text())
    meta["start_unix"] = start_unix
    (folder / "session.json").write_text(json.dumps(meta))
    with pytest.raises(SessionError, match="start_unix") as err:
        read_session(folder)
    one_line(err.value)


def test_a_huge_dropped_count_stays_readable(real_session, tmp_path):
    """A garbage package counter can claim billions of lost samples: nfb must read it back."""
    folder = tmp_path / "s"
    shutil.copytree(real_session, folder)
    meta = json.loads((folder / "session.json").read_text())
    meta["dropped_samples"] = 3_000_000_000
    (folder / "session.json").write_text(json.dumps(meta))
    assert read_session(folder).meta["dropped_samples"] == 3_000_000_000


def test_an_unlistable_folder_in_the_store_is_skipped(real_session, tmp_path, monkeypatch):
    """``lost+found`` at the root of a store's own disk cannot be listed by a user."""
    folder = _interrupted_copy(real_session, tmp_path)
    store = tmp_path / "store"
    (store / "lost+found").mkdir()
    real_iterdir = Path.iterdir

    def iterdir(self):
        if self.name == "lost+found":
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    code, err = _cli(["recover", "--sessions-dir", str(store)])
    assert code == 0 and "Traceback" not in err, err
    assert read_session(folder).status == "recovered"
    assert [s["path"] for s in list_sessions(store)] == [folder]
    from nfb.session.clients import client_names

    assert client_names(store) == ["c1"]


def test_a_device_profile_that_is_not_utf8(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_bytes(b'board = "SYNTHETIC_BOARD"\n# \xff\xfe\n')
    with pytest.raises(ConfigError, match="not UTF-8") as err:
        load_profile(str(path))
    one_line(err.value)


# --- feature expressions -------------------------------------------------------------------
_ATOMS = st.sampled_from(["alpha", "beta", "theta@F4", "0", "1", "2.5", "1e308", "-0.0"])


def _expressions(depth: int = 0):
    if depth > 5:
        return _ATOMS
    sub = st.deferred(lambda: _expressions(depth + 1))
    return st.one_of(
        _ATOMS,
        st.tuples(sub, st.sampled_from(["+", "-", "*", "/"]), sub).map(
            lambda t: f"{t[0]} {t[1]} {t[2]}"
        ),
        sub.map(lambda e: f"({e})"),
        sub.map(lambda e: f"-{e}"),
        st.tuples(st.sampled_from(["ln", "log10", "sqrt", "abs"]), sub).map(
            lambda t: f"{t[0]}({t[1]})"
        ),
    )


@fuzz(200)
@given(text=st.one_of(_expressions(), st.text(max_size=40)))
def test_feature_expressions_load_or_give_one_line(text):
    """Any expression loads, or is refused with one ConfigError line; one that loads
    evaluates on band values without raising, and never divides by a constant zero."""
    from nfb.bands import DEFAULT_BANDS
    from nfb.dsp.features import FeatureExpr

    try:
        expr = FeatureExpr(text, DEFAULT_BANDS)
    except ConfigError as err:
        assert "\n" not in str(err)
        return
    values = {ref: np.array([0.5, 3.0, 40.0]) for ref in expr.refs}
    out = expr.evaluate(values)
    assert out.shape == (3,)
