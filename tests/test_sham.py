"""Sham blocks: yoked feedback from another recording, recorded and blinded, replayed exactly."""

from __future__ import annotations

import stat

import mne
import numpy as np
import pytest
from conftest import nfb_cli

import nfb
from nfb.devices import load_profile
from nfb.errors import ConfigError
from nfb.protocol import load_protocol
from nfb.session.live import LiveSession, run_until_done
from nfb.session.replay import replay
from nfb.session.sham import YOKED_FILE, choose_sham_blocks
from nfb.stream import DeviceStream

SFREQ = 250.0
NAMES = ["Fz", "C3", "Cz", "C4", "Pz", "O1", "Oz", "O2"]
# three blocks of 12 s after baselines of 7.2 s: long enough for a usable baseline
SHORT = [
    "script.baseline_eyes_open=0.12",
    "script.baseline_eyes_closed=0.12",
    "script.blocks=3",
    "script.block_min=0.2",
    "script.rest_min=0.02",
]


def _eeg_file(path, seed: int, seconds: float = 60.0):
    """An EEG file whose Pz alpha waxes and wanes (a different course for each seed)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SFREQ)
    t = np.arange(n) / SFREQ
    envelope = 10 + 8 * np.sin(2 * np.pi * t / rng.uniform(5, 15) + rng.uniform(0, 6))
    data = 3 * rng.standard_normal((len(NAMES), n))
    data[NAMES.index("Pz")] += envelope * np.sin(2 * np.pi * 10 * t)
    raw = mne.io.RawArray(data * 1e-6, mne.create_info(NAMES, SFREQ, "eeg"), verbose=False)
    raw.save(path, verbose=False)
    return path


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A real session of another client (the yoking source), scored by replay."""
    d = tmp_path_factory.mktemp("sham")
    eeg = _eeg_file(d / "source_raw.fif", seed=1)
    out = replay(
        eeg, d / "store" / "donor" / "s1", protocol="alpha-beta-up", overrides=SHORT, client="donor"
    )
    return d, out


@pytest.fixture(scope="module")
def sham_session(source):
    d, src = source
    eeg = _eeg_file(d / "client_raw.fif", seed=2)
    out = replay(
        eeg,
        d / "client",
        protocol="alpha-beta-up",
        overrides=[*SHORT, "sham.blocks=[2]"],
        sham_source=src,
        client="c1",
    )
    return src, out


def _block_frames(rec, block):
    step = next(
        e["step"]
        for e in rec.events
        if e["kind"] == "step_start" and e["name"] == "block" and e["block"] == block
    )
    return rec.frames[rec.frames["step"] == step]


def test_sham_block_shows_the_yoked_feedback(sham_session):
    src_path, path = sham_session
    src, rec = nfb.read_session(src_path), nfb.read_session(path)
    shown, yoked = _block_frames(rec, 2), _block_frames(src, 2)
    n = min(len(shown), len(yoked))
    assert n > 500
    for col in ("value", "threshold", "reward", "inhibited"):
        np.testing.assert_array_equal(shown[col][:n], yoked[col][:n], err_msg=col)
    assert shown["sham"].all()
    # the client's own feature is recorded beside what they were shown, and differs
    assert not np.allclose(shown["own_value"][:n], shown["value"][:n], equal_nan=True)
    for block in (1, 3):
        real = _block_frames(rec, block)
        assert not real["sham"].any()
        for col in ("value", "threshold", "reward", "inhibited"):
            np.testing.assert_array_equal(real[col], real[f"own_{col}"], err_msg=col)


def test_sham_block_is_recorded_and_blinded(sham_session):
    src_path, path = sham_session
    rec, src = nfb.read_session(path), nfb.read_session(src_path)
    blinding = rec.meta["blinding"]
    assert blinding["sham_blocks"] == [2]
    assert blinding["source"] == {"session_id": src.meta["session_id"], "client": "donor"}
    yoked = path / YOKED_FILE
    assert stat.S_IMODE(yoked.stat().st_mode) == 0o600
    blocks = {b["index"]: b for b in rec.meta["blocks"]}
    # block stats: delivered reward beside the client's own
    sham = _block_frames(rec, 2)
    assert blocks[2]["reward_rate"] == pytest.approx(sham["reward"].mean())
    assert blocks[2]["own_reward_rate"] == pytest.approx(sham["own_reward"].mean())
    assert blocks[1]["reward_rate"] == blocks[1]["own_reward_rate"]
    # the automatic threshold does not learn from the yoked block
    b2 = blocks[2]
    inside = [
        t
        for t in rec.meta["thresholds"]
        if t["source"] == "auto" and b2["start_sample"] < t["sample_index"] <= b2["end_sample"]
    ]
    assert inside == []
    assert np.unique(sham["own_threshold"][np.isfinite(sham["own_threshold"])]).size == 1


def test_sham_session_replays_bit_for_bit(sham_session, tmp_path):
    _, path = sham_session
    again = replay(path, tmp_path / "again")
    a, b = nfb.read_session(path), nfb.read_session(again)
    assert a.frames.tobytes() == b.frames.tobytes()
    assert b.meta["blinding"]["sham_blocks"] == [2]
    assert (again / YOKED_FILE).read_bytes() == (path / YOKED_FILE).read_bytes()
    index = [e["sample_index"] for e in b.events]
    assert index == sorted(index)  # recorded and runner events interleave by sample


def test_rescoring_with_sham_needs_a_source(source, tmp_path):
    _, src = source
    proc = nfb_cli(
        "replay", src, "--protocol", "alpha-beta-up", "--set", "sham.count=1",
        *[x for s in SHORT for x in ("--set", s)], "--out", tmp_path / "o",
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "nfb replay: error: protocol alpha-beta-up has sham blocks: pass --sham-source "
        "SESSION, the recording whose feedback they show"
    ]
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("sham.blocks=[7]", "field 'sham.blocks' names block 7 but the script has 6"),
        ("sham.count=6", "6 sham blocks leave no real block"),
        ("sham.blocks=[0]", "field 'sham.blocks' must be a list of distinct block numbers"),
        ("sham.speed=1", "unknown field 'sham.speed'"),
    ],
)
def test_sham_table_is_validated(override, message):
    with pytest.raises(ConfigError, match=message):
        load_protocol("alpha-beta-up", [override])


def test_sham_count_draws_distinct_blocks():
    proto = load_protocol("alpha-beta-up", ["sham.count=3"])
    draws = {choose_sham_blocks(proto, np.random.default_rng(seed)) for seed in range(20)}
    assert all(len(set(d)) == 3 and all(1 <= b <= 6 for b in d) for d in draws)
    assert len(draws) > 5  # really drawn, not fixed
    fixed = load_protocol("alpha-beta-up", ["sham.blocks=[4, 2]"])
    assert choose_sham_blocks(fixed) == (2, 4)


def test_live_session_yokes_to_the_store(source, tmp_path):
    """A live session (the file device at 20x) finds the donor session in its store."""
    d, _ = source
    eeg = _eeg_file(tmp_path / "live_raw.fif", seed=3, seconds=50)
    device = tmp_path / "fast-file.toml"
    device.write_text(
        'description = "file at 20x"\nboard = "file"\nmains_hz = 50\n'
        f'[connection]\nfile = "{eeg}"\nspeed = 20.0\n'
    )
    profile = load_profile(str(device))
    proto = load_protocol("alpha-beta-up", [*SHORT, "sham.count=1"])
    stream = DeviceStream(profile)
    session = LiveSession(stream, proto, "live-client", sessions_dir=d / "store")
    stream.connect()
    try:
        session.start()
        run_until_done(session, tick_s=0.05)
    finally:
        session.stop("user")
        stream.disconnect()
    rec = nfb.read_session(session.path)
    (sham_block,) = rec.meta["blinding"]["sham_blocks"]
    assert rec.meta["blinding"]["source"]["client"] == "donor"
    shown = _block_frames(rec, sham_block)
    assert shown["sham"].all() and len(shown) > 100
    assert not _block_frames(rec, 1 if sham_block != 1 else 2)["sham"].any()


def test_no_donor_is_a_clear_error(tmp_path):
    proto = load_protocol("alpha-beta-up", [*SHORT, "sham.count=1"])
    stream = DeviceStream(load_profile("synthetic"))
    with pytest.raises(ConfigError, match="no complete alpha-beta-up session of another client"):
        LiveSession(stream, proto, "c", sessions_dir=tmp_path / "empty")
