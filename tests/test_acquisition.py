"""Acquisition on real sources: BrainFlow's synthetic and playback boards, BrainFlow's Cyton
driver talking to an emulated Cyton on a pseudo-terminal, and EEG files played as a device.

No sleeping for timing: the tests wait for sample counts and events.
"""

from __future__ import annotations

import gc
import json
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import mne
import numpy as np
import pytest
from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams
from brainflow.data_filter import DataFilter
from cyton_emulator import UV_PER_COUNT, CytonEmulator

from nfb.acquisition import Acquisition, DropDetector, count_dropped, count_dropped_packets
from nfb.commands.check import measure
from nfb.devices import load_profile, open_source
from nfb.errors import ConfigError, DeviceError, SessionError
from nfb.sources import (
    BoardLayout,
    BrainFlowSource,
    EndOfStream,
    FileSource,
    OwnedBoardShim,
    board_layout,
    read_brainflow_file,
    read_eeg_file,
)

SYNTH = int(BoardIds.SYNTHETIC_BOARD)
WAIT = 20.0  # generous ceiling for waits on a loaded machine; never a timing assertion


class Events:
    """Records ``on_event`` calls and lets the test wait for one."""

    def __init__(self):
        self.items: list[tuple[str, int, dict]] = []
        self._cond = threading.Condition()

    def __call__(self, kind, index, info):
        with self._cond:
            self.items.append((kind, index, info))
            self._cond.notify_all()

    @property
    def kinds(self) -> list[str]:
        return [k for k, _, _ in self.items]

    def wait_for(self, kind, pred=lambda info: True, timeout=WAIT) -> dict:
        with self._cond:
            ok = self._cond.wait_for(
                lambda: any(k == kind and pred(i) for k, _, i in self.items), timeout
            )
        assert ok, f"no {kind!r} event; got {self.kinds}"
        return next(i for k, _, i in self.items if k == kind and pred(i))


class Chunks:
    """Records ``on_chunk`` calls."""

    def __init__(self):
        self.blocks: list[np.ndarray] = []
        self.indices: list[int] = []
        self.walls: list[float] = []

    def __call__(self, block, index, wall):
        self.blocks.append(block.copy())
        self.indices.append(index)
        self.walls.append(wall)

    def data(self) -> np.ndarray:
        return np.concatenate(self.blocks, axis=1)


def assert_released(board_id: int = SYNTH, params: BrainFlowInputParams | None = None) -> None:
    """A second BoardShim on the same board can prepare: the first one was released.

    (``OwnedBoardShim``, because a plain ``BoardShim`` collected later, e.g. kept alive by a
    failed test's traceback, would release whichever session then has the same key.)
    """
    board = OwnedBoardShim(board_id, params or BrainFlowInputParams())
    board.prepare_session()
    board.release_session()


# ---------------------------------------------------------------------------------------------
# drop detection


def test_count_dropped_per_board_counter():
    # synthetic board and Cyton: one count per sample, modulo 256
    seq = np.r_[250:256, 0:10]
    assert count_dropped(seq, 256) == 0
    assert count_dropped(np.r_[250:256, 2:10], 256) == 2  # 0 and 1 lost across the wrap
    assert count_dropped(np.r_[3:10], 256, previous=255) == 3  # 0, 1, 2 lost between blocks
    assert count_dropped(np.r_[0:10], 256, previous=9) == 246
    # Cyton + Daisy: odd numbers, step 2
    assert count_dropped(np.r_[251:256:2, 1:12:2], 256, step=2) == 0
    assert count_dropped([251, 253, 255, 5, 7], 256, step=2) == 2  # 1 and 3 lost
    # Ganglion: two samples per packet id, ids 1..100 (or 101..200), modulo 100
    ids = np.repeat(np.r_[98:101, 1:4], 2)
    assert count_dropped(ids, 100, repeat=2) == 0
    assert count_dropped(np.repeat([99, 100, 2, 3], 2), 100, repeat=2) == 2  # packet 1 lost
    assert count_dropped(np.repeat([199, 200, 101], 2), 100, repeat=2) == 0
    # Muse: 12 samples per 16-bit packet number
    assert count_dropped(np.repeat([65534, 65535, 0, 1], 12), 65536, repeat=12) == 0
    assert count_dropped(np.repeat([65534, 1], 12), 65536, repeat=12) == 24
    # a counter that never wraps (file source): a decrease is a restart, not a loss
    assert count_dropped([5, 6, 9, 0, 1], None) == 2
    assert count_dropped([], 256) == 0 and count_dropped([7], 256) == 0


def _blocks(layout, counter, cuts):
    """Feed ``counter`` to a DropDetector of ``layout`` in blocks cut at ``cuts``."""
    detector = DropDetector(layout)
    total = 0
    for part in np.split(np.asarray(counter, float), cuts):
        block = np.zeros((layout.n_rows, part.size))
        block[layout.counter_row] = part
        total += detector.update(block)
    return total


def test_wifi_counters_wrap_at_256_and_losses_across_the_wrap_count():
    for board, step in (("CYTON_WIFI_BOARD", 1), ("CYTON_DAISY_WIFI_BOARD", 1),
                        ("GANGLION_WIFI_BOARD", 1)):  # fmt: skip
        layout = board_layout(int(BoardIds[board]))
        assert (layout.counter_rule, layout.counter_modulo, layout.counter_step) == (
            "sequence",
            256,
            step,
        )
        clean = np.arange(200, 200 + 300 * step, step) % 256  # wraps once
        assert _blocks(layout, clean, [40, 57, 250]) == 0  # a block boundary at the wrap too
        lost = np.delete(clean, [54, 55, 56, 57])  # around the wrap (255 -> 0 at 56 / step 1)
        assert _blocks(layout, lost, [54]) == 4  # the loss straddles the block boundary


def test_athena_packet_and_sub_packet_counter():
    layout = board_layout(int(BoardIds.MUSE_S_ATHENA_BOARD))
    assert layout.counter_rule == "packet"
    # five packets of 12 samples: 60 clean samples, no drop (a plain counter saw 1012)
    clean = np.array([(p << 8) | sub for p in range(5) for sub in range(12)])
    assert _blocks(layout, clean, [7, 30]) == 0
    assert count_dropped(clean, None) == 4 * (256 - 12)  # read as a sequence: false drops
    # one sample lost inside packet 1; all of packet 2; the tail of 3 and the head of 4
    lost = [c for c in clean if c not in {(1 << 8) | 5, (3 << 8) | 10, (3 << 8) | 11, 4 << 8}]
    lost = [c for c in lost if c >> 8 != 2]
    assert _blocks(layout, lost, [13]) == 1 + 12 + 2 + 1
    # the 8-bit packet number wraps: 254, 255, 0, 1 clean; 255 lost across it
    wrap = np.array([(p % 256 << 8) | sub for p in range(254, 258) for sub in range(12)])
    assert _blocks(layout, wrap, [24]) == 0
    assert _blocks(layout, np.delete(wrap, np.s_[12:24]), [12]) == 12
    n, per = count_dropped_packets(wrap)
    assert (n, per) == (0, 12)


def test_a_counter_with_no_known_rule_is_not_counted_and_said_once(caplog):
    from nfb import sources

    name = "BRAINBIT_BOARD"
    sources._warned_counters.discard(name)
    with caplog.at_level("WARNING", logger="nfb"):
        layout = board_layout(int(BoardIds[name]))
        board_layout(int(BoardIds[name]))
    assert layout.counter_rule == "none"
    assert [r.message for r in caplog.records].count(
        f"{name}: no known rule for its package counter; dropped samples are not counted"
    ) == 1
    assert _blocks(layout, [0, 5, 3, 200, 7], [2]) == 0


def test_drop_detector_on_a_real_synthetic_counter():
    board = OwnedBoardShim(SYNTH, BrainFlowInputParams())
    board.prepare_session()
    board.start_stream()
    layout = board_layout(SYNTH)
    got = 0
    blocks = []
    try:
        while got < 300:  # the 0..255 counter wraps once
            block = board.get_board_data()
            blocks.append(block)
            got += block.shape[1]
            time.sleep(0.01)  # poll interval
    finally:
        board.release_session()
    data = np.concatenate(blocks, axis=1)
    counter = data[layout.counter_row]
    assert np.all(np.mod(np.diff(counter), 256) == 1)  # the synthetic counter: +1, mod 256
    lost = [10, 11, 12, 200, 250, 251, 252, 253, 254, 255, 256, 257, 258, 259, 290]
    kept = np.delete(data, lost, axis=1)
    rng = np.random.default_rng(1)
    det = DropDetector(layout)
    total = pos = 0
    while pos < kept.shape[1]:
        n = int(rng.integers(0, 40))
        total += det.update(kept[:, pos : pos + n])
        pos += n
    assert total == len(lost)
    det.reset()
    assert det.update(kept[:, 20:30]) == 0


# ---------------------------------------------------------------------------------------------
# synthetic board


def test_synthetic_board_collects_n_samples_with_monotonic_index():
    events, chunks = Events(), Chunks()
    src = BrainFlowSource(SYNTH)
    acq = Acquisition(src, buffer_seconds=2.0, on_chunk=chunks, on_event=events)
    assert acq.state == "idle"
    assert acq.ring.capacity == 500 and acq.layout is src.layout
    acq.start()
    assert acq.state == "streaming"
    assert acq.wait_samples(300, timeout=WAIT)
    acq.insert_marker(7.0)
    assert acq.wait_samples(400, timeout=WAIT)
    acq.stop()
    acq.stop()  # idempotent
    assert acq.state == "stopped" and not acq.is_alive and acq.error is None
    assert_released()
    assert events.kinds == ["connected"]
    # indices: each block starts where the previous one ended
    ends = np.cumsum([b.shape[1] for b in chunks.blocks])
    assert chunks.indices == [0, *ends[:-1].tolist()]
    assert acq.n_samples == ends[-1] == acq.ring.n_written
    assert acq.n_dropped == 0
    assert np.all(np.diff(chunks.walls) >= 0)
    data = chunks.data()
    assert np.all(np.mod(np.diff(data[src.layout.counter_row]), 256) == 1)
    ring, first = acq.ring.latest(200)
    np.testing.assert_array_equal(ring, data[:, first : first + 200])
    assert np.count_nonzero(data[src.layout.marker_row] == 7.0) == 1


def test_on_chunk_error_fails_and_releases_the_board():
    events = Events()
    boom = RuntimeError("display crashed")

    def on_chunk(block, index, wall):
        if index > 0:
            raise boom

    acq = Acquisition(BrainFlowSource(SYNTH), on_chunk=on_chunk, on_event=events)
    acq.start()
    events.wait_for("failed")
    assert not acq.wait_samples(10**9, timeout=WAIT)
    acq._thread.join(WAIT)
    assert acq.state == "failed" and acq.error is boom
    assert events.items[-1] == ("failed", acq.ring.n_written, {"error": "display crashed"})
    assert_released()
    acq.stop()
    assert acq.state == "failed"
    with pytest.raises(DeviceError, match="acquisition is failed"):
        acq.insert_marker(1)


def test_keyboard_interrupt_in_with_block_releases_the_board():
    with pytest.raises(KeyboardInterrupt), Acquisition(BrainFlowSource(SYNTH)) as acq:
        assert acq.wait_samples(5, timeout=WAIT)
        raise KeyboardInterrupt
    assert acq.state == "stopped"
    assert_released()


def test_start_failure_is_synchronous_device_error():
    acq = Acquisition(open_source(load_profile("cyton", serial_port="/dev/null")))
    with pytest.raises(DeviceError, match=r"^cannot open cyton \(serial port /dev/null\)"):
        acq.start()
    assert acq.state == "failed" and isinstance(acq.error, DeviceError)
    assert not acq.is_alive


class FlakySynthetic(BrainFlowSource):
    """The synthetic board whose session really goes away after ``fail_after`` reads.

    BrainFlow then raises its own ``BrainFlowError`` (BOARD_NOT_CREATED_ERROR) from
    ``get_board_data``; re-opening works, as when a dongle is plugged back in.
    """

    def __init__(self, fail_after: int):
        super().__init__(SYNTH, name="flaky")
        self.fail_after = fail_after
        self.reads = 0

    def read(self):
        self.reads += 1
        if self.reads == self.fail_after:
            self._board.release_session()
        return super().read()


def test_reconnect_after_a_real_brainflow_error():
    events, chunks = Events(), Chunks()
    acq = Acquisition(FlakySynthetic(fail_after=5), on_event=events, on_chunk=chunks)
    with acq:
        events.wait_for("reconnected")
        n = acq.n_samples
        assert acq.wait_samples(n + 50, timeout=WAIT)
        assert acq.state == "streaming"
    assert events.kinds[:4] == ["connected", "disconnected", "reconnecting", "reconnected"]
    reason = events.items[1][2]["reason"]
    assert reason.startswith("lost flaky: ") and "BOARD_NOT_CREATED_ERROR" in reason
    assert events.items[3][2]["attempt"] == 1
    assert acq.n_reconnects == 1 and acq.n_dropped == 0  # the counter restarts: not a drop
    ends = np.cumsum([b.shape[1] for b in chunks.blocks])
    assert chunks.indices == [0, *ends[:-1].tolist()]
    assert_released()


def test_stale_board_handle_does_not_release_a_reopened_board():
    # BoardShim.__del__ releases whatever session has its (board id, params) key
    src = BrainFlowSource(SYNTH)
    src.open()
    stale = src._board
    src.close()
    src.open()
    del stale
    gc.collect()
    got = 0
    while got == 0:
        got = src.read().shape[1]  # still streaming
        time.sleep(0.01)
    src.close()
    assert_released()


def test_reconnect_false_fails_on_board_error():
    events = Events()
    acq = Acquisition(FlakySynthetic(fail_after=3), on_event=events, reconnect=False)
    acq.start()
    events.wait_for("failed")
    acq.stop()
    assert acq.state == "failed" and isinstance(acq.error, DeviceError)
    assert events.kinds == ["connected", "disconnected", "failed"]
    assert_released()


def _write_brainflow_csv(path: Path, n: int) -> np.ndarray:
    layout = board_layout(SYNTH)
    data = np.zeros((layout.n_rows, n))
    data[layout.counter_row] = np.arange(n) % 256
    data[list(layout.eeg_rows)] = np.random.default_rng(0).normal(0, 10, (layout.n_eeg, n))
    data[layout.timestamp_row] = 1.7e9 + np.arange(n) / 250
    data[layout.marker_row, 10] = 5.0
    DataFilter.write_file(data, str(path), "w")
    return data


def test_playback_board_stall_then_missing_file_then_reconnect(tmp_path):
    """BrainFlow's playback board: the file ends (stall), re-opening fails while the file is
    gone, and succeeds once it is back."""
    csv = tmp_path / "rec.csv"
    _write_brainflow_csv(csv, 60)
    src = open_source(load_profile("brainflow-file", file=str(csv)))
    events = Events()
    acq = Acquisition(src, on_event=events, stall_timeout=0.3)
    with acq:
        assert acq.wait_samples(60, timeout=WAIT)
        csv.rename(tmp_path / "away.csv")
        events.wait_for("disconnected")
        events.wait_for("reconnecting", lambda info: info["attempt"] >= 2)
        (tmp_path / "away.csv").rename(csv)
        info = events.wait_for("reconnected")
        assert acq.wait_samples(120, timeout=WAIT)  # played again from the start
    assert info["attempt"] >= 2 and info["outage_s"] > 0
    failed = [i for k, _, i in events.items if k == "reconnecting" and i["attempt"] == 2]
    assert "INVALID_ARGUMENTS_ERROR" in failed[0]["reason"]
    assert events.items[1][2]["reason"] == "no samples for 0.3 s"
    assert acq.state == "stopped"
    params = BrainFlowInputParams()
    params.file, params.master_board = str(csv), SYNTH
    assert_released(int(BoardIds.PLAYBACK_FILE_BOARD), params)


# ---------------------------------------------------------------------------------------------
# BrainFlow's Cyton driver, on an emulated Cyton


@pytest.fixture
def cyton():
    scale = UV_PER_COUNT

    def counts(k):
        # the lost packets leave no phase jump: what arrives is one clean sine
        sent = k - np.clip(k - 100, 0, 5)
        alpha = np.round(np.sqrt(2) * 20 * np.sin(2 * np.pi * 10 * sent / 250) / scale)
        railed = np.full(k.size, 2**23 - 1)  # channel 1 railed at full scale
        return np.vstack([railed] + [alpha] * 7).astype(np.int64)  # 20 µV alpha

    # 5 packets lost on the radio
    emu = CytonEmulator(counts, skip=set(range(100, 105)), n_samples=325)
    yield emu
    emu.close()


def test_cyton_driver_drops_and_railed_channel_through_check(cyton):
    profile = load_profile("cyton", serial_port=cyton.port)
    result, stats = measure(profile, 1.0)
    assert stats["dropped"] == 5
    assert stats["samples"] >= 250
    first = result.channels[0]
    assert first.name == "Fp1" and first.railed and first.verdict == "bad"
    for ch in result.channels[1:]:
        assert ch.rms_uv == pytest.approx(20.0, rel=0.05)
        assert ch.verdict == "good"
    assert result.verdict == "bad"


def test_a_loss_is_placed_at_the_sample_after_it(cyton):
    """The ``dropped`` event and its gap record sit at the first sample received after the
    loss, wherever the chunk began."""
    profile = load_profile("cyton", serial_port=cyton.port)
    events, chunks = Events(), Chunks()
    acq = Acquisition(open_source(profile), on_chunk=chunks, on_event=events, reconnect=False)
    with acq:
        assert acq.wait_samples(200, timeout=WAIT)
    (drop,) = [(index, info) for kind, index, info in events.items if kind == "dropped"]
    (gap,) = [(index, info) for kind, index, info in events.items if kind == "gap"]
    index, info = drop
    assert info["count"] == 5
    # packets 100-104 never came: the gap lies just before ring index 100
    assert index == 100 and gap[0] == 100
    assert gap[1] == {"missing": 5, "duration_s": 5 / 250, "cause": "dropped", "clock": "counter"}


# ---------------------------------------------------------------------------------------------
# files


def _raw(sfreq=256.0, seconds=2.0, first_samp=0):
    n = int(sfreq * seconds)
    t = np.arange(n) / sfreq
    data = np.vstack(
        [
            30e-6 * np.sin(2 * np.pi * 10 * t),
            20e-6 * np.cos(2 * np.pi * 6 * t),
            np.linspace(-50e-6, 50e-6, n),
        ]
    )
    info = mne.create_info(["Fp1", "Cz", "O2"], sfreq, "eeg")
    raw = mne.io.RawArray(data, info, first_samp=first_samp, verbose=False)
    raw.set_meas_date(datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc))
    raw.set_annotations(mne.Annotations([0.5, 1.25], [0.25, 0.0], ["eyes closed", "blink"]))
    return raw


@pytest.fixture
def edf(tmp_path):
    raw = _raw()
    path = tmp_path / "rec.edf"
    mne.export.export_raw(path, raw, verbose=False)
    return path, raw.get_data() * 1e6


def test_read_eeg_file_edf_and_fif(edf, tmp_path):
    path, expected = edf
    rec = read_eeg_file(path)
    assert rec.layout.ch_names == ("Fp1", "Cz", "O2") and rec.layout.sfreq == 256
    assert rec.layout.n_rows == 6 and rec.layout.board_id is None
    np.testing.assert_allclose(rec.eeg, expected, atol=0.01)  # µV
    np.testing.assert_array_equal(rec.data[0], np.arange(512))
    assert rec.meas_date == datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    assert [(round(o, 3), d, s) for o, d, s in rec.annotations] == [
        (0.5, 0.25, "eyes closed"),
        (1.25, 0.0, "blink"),
    ]
    # a FIF whose first sample is not 0: onsets still count from the first sample
    fif = tmp_path / "rec_raw.fif"
    _raw(first_samp=100).save(fif, verbose=False)
    rec = read_eeg_file(fif)
    assert [round(o, 6) for o, _, _ in rec.annotations] == [0.5, 1.25]
    np.testing.assert_allclose(rec.eeg, expected, rtol=1e-6, atol=1e-9)


def test_read_eeg_file_errors(tmp_path):
    with pytest.raises(SessionError, match=r"nope\.edf: no such file"):
        read_eeg_file(tmp_path / "nope.edf")
    junk = tmp_path / "junk.edf"
    junk.write_text("not an EDF")
    with pytest.raises(SessionError) as exc:
        read_eeg_file(junk)
    assert "junk.edf: cannot read as EEG" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(SessionError, match="is a folder"):
        read_eeg_file(tmp_path)


def test_file_source_plays_edf_faster_than_real_time(edf):
    path, expected = edf
    src = FileSource(path, speed=8.0)
    events, chunks = Events(), Chunks()
    acq = Acquisition(src, on_event=events, on_chunk=chunks, poll_interval=0.005)
    with acq:
        events.wait_for("ended")
    assert acq.state == "stopped" and acq.n_samples == 512 and acq.n_dropped == 0
    assert events.kinds == ["connected", "ended"]
    data = chunks.data()
    np.testing.assert_allclose(data[list(src.layout.eeg_rows)], expected, atol=0.01)
    np.testing.assert_array_equal(data[0], np.arange(512))
    np.testing.assert_allclose(np.diff(data[src.layout.timestamp_row]), 1 / (256 * 8))
    with pytest.raises(DeviceError, match="not open"):
        src.read()


def test_file_source_loops_and_marks(edf):
    path, expected = edf
    src = FileSource(path, speed=16.0, loop=True)
    with Acquisition(src) as acq:
        assert acq.wait_samples(50, timeout=WAIT)
        acq.insert_marker(3.0)
        assert acq.wait_samples(1100, timeout=WAIT)
    data = acq.ring.get(0, 1100)
    np.testing.assert_array_equal(data[0], np.arange(1100))  # counts on across the loop
    eeg = data[list(src.layout.eeg_rows)]
    np.testing.assert_allclose(eeg[:, 512:1024], expected, atol=0.01)
    marks = np.flatnonzero(data[src.layout.marker_row])
    assert marks.size == 1 and data[src.layout.marker_row, marks[0]] == 3.0 and marks[0] >= 50


def test_file_source_end_and_validation(edf):
    path, _ = edf
    src = FileSource(path, speed=1000.0)
    src.open()
    got = 0
    with pytest.raises(EndOfStream, match="end of file after 512 samples"):
        while True:
            got += src.read().shape[1]
    assert got == 512
    src.close()
    with pytest.raises(ValueError, match="non-zero"):
        FileSource(path).insert_marker(0)
    with pytest.raises(Exception, match="speed must be a number > 0"):
        FileSource(path, speed=0)


def test_read_brainflow_file(tmp_path):
    csv = tmp_path / "synthetic.csv"
    data = _write_brainflow_csv(csv, 100)
    rec = read_brainflow_file(csv, SYNTH)
    assert rec.layout == board_layout(SYNTH)
    np.testing.assert_allclose(rec.data, data, atol=1e-5)
    assert rec.annotations == [(10 / 250, 0.0, "5")]
    assert rec.meas_date == datetime.fromtimestamp(1.7e9, tz=timezone.utc)
    with pytest.raises(SessionError, match="has 32 rows, but CYTON_BOARD data has 24"):
        read_brainflow_file(csv, int(BoardIds.CYTON_BOARD))
    with pytest.raises(SessionError, match="no such file"):
        read_brainflow_file(tmp_path / "none.csv", SYNTH)


def test_board_layout_round_trip():
    for board in ("SYNTHETIC_BOARD", "CYTON_BOARD", "CYTON_DAISY_BOARD", "GANGLION_BOARD",
                  "MUSE_2_BOARD", "MUSE_S_BOARD"):  # fmt: skip
        layout = board_layout(int(BoardIds[board]))
        assert BoardLayout.from_dict(json.loads(json.dumps(layout.to_dict()))) == layout
        descr = BoardShim.get_board_descr(int(BoardIds[board]))
        assert layout.eeg_rows == tuple(descr["eeg_channels"])
        assert layout.counter_row == descr["package_num_channel"]
    assert board_layout(int(BoardIds.CYTON_DAISY_BOARD)).counter_step == 2
    assert board_layout(int(BoardIds.GANGLION_BOARD)).counter_repeat == 2
    assert board_layout(int(BoardIds.MUSE_2_BOARD)).counter_repeat == 12
    assert board_layout(int(BoardIds.MUSE_2_BOARD)).rail_uv == 1000.0
    with pytest.raises(ValueError, match="unknown keys"):
        BoardLayout.from_dict({**board_layout(SYNTH).to_dict(), "extra": 1})


def _cyton_profile(tmp_path, port, commands):
    profile = tmp_path / "cyton-configured.toml"
    listed = ", ".join(f'"{c}"' for c in commands)
    profile.write_text(
        'board = "CYTON_BOARD"\nchannels = ["Fp1","Fp2","C3","C4","P7","P8","O1","O2"]\n'
        f'[connection]\nserial_port = "{port}"\n[config]\ncommands = [{listed}]\n'
    )
    return load_profile(str(profile))


def test_a_profile_configures_the_cyton_at_connect(tmp_path):
    """[config] commands go to BrainFlow's config_board before the stream starts, in order;
    the board's answers are kept, the commands are in the profile the session records."""
    from nfb.stream import DeviceStream

    commands = ["x1060110X", "x8160000X"]  # channel 1 gain 24 on SRB2; channel 8 powered down
    with CytonEmulator() as emu:
        profile = _cyton_profile(tmp_path, emu.port, commands)
        assert profile.to_dict()["config"] == commands  # what session.json's device holds
        stream = DeviceStream(profile)
        with stream:
            assert stream.acquisition.wait_samples(50, timeout=WAIT)
        assert emu.settings == commands
        assert emu.channel_settings == {1: "060110", 8: "160000"}
        assert stream.acquisition.source.config_responses == [
            "Success: Channel set for 1",
            "Success: Channel set for 8",
        ]


def test_a_command_the_board_refuses_is_one_line_and_the_board_is_released(tmp_path):
    from nfb.errors import DeviceError
    from nfb.stream import DeviceStream

    with CytonEmulator() as emu:
        stream = DeviceStream(_cyton_profile(tmp_path, emu.port, ["x9060110X"]))
        with pytest.raises(DeviceError) as err:
            stream.connect(first_data_timeout=10)
        assert "the board refused command 'x9060110X'" in str(err.value)
        assert "\n" not in str(err.value)
        # released: the port opens again for a good configuration
        good = DeviceStream(_cyton_profile(tmp_path, emu.port, ["x1060110X"]))
        with good:
            assert good.acquisition.wait_samples(20, timeout=WAIT)


def test_bad_config_in_a_profile_is_one_line(tmp_path):
    for config, why in (
        ("[config]\ncommands = 3\n", "must be a list"),
        ('[config]\ncommands = ["x1 060110X"]\n', "printable ASCII characters without spaces"),
        ('[config]\nsend = ["x"]\n', "a table with one key, commands"),
    ):
        bad = tmp_path / "bad.toml"
        bad.write_text('board = "SYNTHETIC_BOARD"\n' + config)
        with pytest.raises(ConfigError, match=why):
            load_profile(str(bad))
    bad.write_text('board = "file"\n[config]\ncommands = ["x"]\n')
    with pytest.raises(ConfigError, match="only for BrainFlow boards"):
        load_profile(str(bad))
