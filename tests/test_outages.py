"""Outages on the timeline: a gap keeps its real duration.

BrainFlow's real Cyton driver against the Cyton emulator on a pseudo-terminal. The emulated
board leaves radio range and keeps sampling (its own sample numbers say how long nothing
reached the driver), or loses packets on the radio; the session records a gap record for
each, ``time_s`` counts the missing samples, the MNE Raw (written to FIF and read back)
holds them as zeros under ``BAD_disconnect`` / ``BAD_dropped`` spanning their real time,
frames after each are inhibited until the filters have settled, and a replay reproduces it
all bit for bit. The acquisition's clock is the test's own: the stall is seen when the test
says 3 s have passed, never after a sleep; real-time deadlines only guard against hangs.
"""

from __future__ import annotations

import threading
import time

import mne
import numpy as np
import pytest
from brainflow.board_shim import BoardIds
from cyton_emulator import SFREQ, CytonEmulator

import nfb
from nfb.acquisition import Acquisition, DropDetector
from nfb.devices import load_profile
from nfb.errors import DeviceError
from nfb.protocol import load_protocol
from nfb.session.bids import export_bids
from nfb.session.export import export_session
from nfb.session.format import Gap, insert_gaps, timeline_index
from nfb.session.live import LiveSession
from nfb.session.replay import replay
from nfb.session.runner import SessionRunner
from nfb.sources import BoardLayout, board_layout
from nfb.stream import DeviceStream
from tests.test_stalls import FakeClock

DEADLINE = 60.0
SCRIPT = [
    "script.baseline_eyes_open=0",  # the threshold then comes from the block itself
    "script.baseline_eyes_closed=0",
    "script.blocks=1",
    "script.block_min=1",
    "signal.channels=O1",
]


def _until(predicate, what: str) -> None:
    end = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _col(rec, name):
    return rec.frames[name]


def _fif(rec, tmp_path) -> mne.io.Raw:
    out = export_session(rec, tmp_path / f"{rec.path.name}_raw.fif")
    return mne.io.read_raw_fif(out, preload=True, verbose="error")


def _annotations(raw: mne.io.Raw, description: str) -> list[tuple[float, float]]:
    ann = raw.annotations
    return [
        (float(o), float(d))
        for o, d, desc in zip(ann.onset, ann.duration, ann.description, strict=True)
        if desc == description
    ]


def _assert_replay_equal(folder, tmp_path) -> None:
    rec = nfb.read_session(folder)
    again = nfb.read_session(replay(folder, tmp_path / "replayed", progress=False))
    assert again.frames.tobytes() == rec.frames.tobytes()  # time_s, inhibits, rewards: all
    assert again.gaps == rec.gaps
    kinds = ("gap", "dropped", "disconnected", "reconnected")
    assert [e for e in again.events if e["kind"] in kinds] == [
        e for e in rec.events if e["kind"] in kinds
    ]
    assert again.annotation_list() == rec.annotation_list()


def _settling(rec, gap: Gap, warmup: int) -> np.ndarray:
    s = _col(rec, "sample_index")
    return (s >= gap.at) & (s < gap.at + warmup)


@pytest.mark.slow
def test_an_outage_keeps_its_real_duration(tmp_path):
    clock = FakeClock()
    with CytonEmulator() as emu:
        stream = DeviceStream(load_profile("cyton", serial_port=emu.port), clock=clock)
        stream.connect()
        proto = load_protocol("alpha-up", SCRIPT)
        session = LiveSession(stream, proto, "c1", sessions_dir=tmp_path, duration_s=9)
        try:
            folder = session.start()
            acq = stream.acquisition
            _until(lambda: session.recorder.n_samples >= 3 * SFREQ, "3 s of signal")
            sent = emu.power_off(keep_clock=True)  # out of radio range: it keeps sampling
            _until(lambda: acq.n_samples >= sent - 2, "the samples sent before")
            # the board is back in range after 0.5 s of its own clock (silent until the
            # driver starts the stream again: BrainFlow's reconnection takes 1-2 s more);
            # the stall is seen when the test's clock says so
            _until(lambda: emu.board_clock() >= sent + SFREQ / 2, "0.5 s of the board's clock")
            emu.power_on()
            clock.advance(3.1)
            _until(lambda: acq.n_reconnects == 1 and acq.state == "streaming", "the reconnect")
            _until(lambda: session.recorder.n_samples >= 5 * SFREQ, "more signal")
            session.command("marker", label="after")
            assert session.wait(DEADLINE)
        finally:
            session.stop()
            stream.disconnect()
        ((first_lost, first_after),) = emu.outages
    true_missing = first_after - first_lost  # the emulator's own count of samples never sent
    assert 1.0 * SFREQ < true_missing < 4 * SFREQ

    rec = nfb.read_session(folder)
    (gap,) = rec.gaps
    assert (gap.cause, gap.clock) == ("disconnect", "timestamp")
    assert gap.missing == pytest.approx(true_missing, abs=0.02 * SFREQ)
    offset = sent - gap.at  # emulator samples before the session's first
    assert rec.samples[0, 0] % 256 == offset % 256

    # the Raw read back with MNE: the outage spans its real time, filled with zeros
    raw = _fif(rec, tmp_path)
    assert raw.n_times == rec.n_samples + gap.missing
    ((onset, duration),) = _annotations(raw, "BAD_disconnect")
    assert onset == pytest.approx(gap.at / SFREQ, abs=1e-6)
    assert duration == pytest.approx(true_missing / SFREQ, abs=0.2)
    data = raw.get_data(picks="O1")[0]
    inside = slice(gap.at, gap.at + gap.missing)
    assert not data[inside].any()
    np.testing.assert_allclose(
        data[gap.at + gap.missing :], rec.samples[7, gap.at :] * 1e-6, rtol=1e-6
    )
    # an annotation after the outage is at its real time
    (marker,) = [e for e in rec.events if e["kind"] == "marker"]
    assert marker["sample_index"] > gap.at
    ((m_onset, _),) = _annotations(raw, "marker/after")
    assert m_onset == pytest.approx((marker["sample_index"] + gap.missing) / SFREQ, abs=1e-6)
    true_onset = (marker["sample_index"] + true_missing) / SFREQ
    assert m_onset == pytest.approx(true_onset, abs=0.2)

    # honest time_s: a frame's time is its sample's real time since the session began
    s, t = _col(rec, "sample_index"), _col(rec, "time_s")
    after = s >= gap.at
    assert after.sum() > 100 and (~after).sum() > 100
    np.testing.assert_array_equal(t[~after], s[~after] / SFREQ)
    np.testing.assert_array_equal(t[after], (s[after] + gap.missing) / SFREQ)
    assert np.abs(t[after] - (s[after] + true_missing) / SFREQ).max() <= 0.2

    # no feedback until the filters have settled on the new signal
    warmup = SessionRunner(proto, board_layout(0)).pipeline.warmup_samples
    settling = _settling(rec, gap, warmup)
    assert settling.sum() >= warmup // 4 - 1
    assert _col(rec, "inhibit_invalid")[settling].all()
    assert not _col(rec, "reward")[settling].any()
    _assert_replay_equal(folder, tmp_path)


@pytest.mark.slow
def test_dropped_packets_are_marked_and_inhibited(tmp_path):
    # 30 packets lost (120 ms), then 300 (1.2 s: more than a wrap of the Cyton's 8-bit
    # counter, which alone would count 44), both shorter than the stall timeout
    skip = set(range(1000, 1030)) | set(range(2000, 2300))
    with CytonEmulator(skip=skip) as emu:
        stream = DeviceStream(load_profile("cyton", serial_port=emu.port))
        stream.connect()
        proto = load_protocol("alpha-up", SCRIPT)
        session = LiveSession(stream, proto, "c1", sessions_dir=tmp_path, duration_s=14)
        try:
            folder = session.start()
            assert session.wait(DEADLINE)
        finally:
            session.stop()
            stream.disconnect()
    rec = nfb.read_session(folder)
    short, long = rec.gaps
    assert (short.cause, short.missing, short.clock) == ("dropped", 30, "counter")
    assert (long.cause, long.missing, long.clock) == ("dropped", 300, "counter+timestamp")
    first = 1000 - short.at  # the emulator's number of the session's first sample
    assert long.at == 2000 - 30 - first
    # (the stream's count also holds what a connection lost before the session began)
    assert rec.meta["dropped_samples"] >= 330
    in_session = [e for e in rec.events if e["kind"] == "dropped" and e["sample_index"] > 0]
    assert [(e["sample_index"], e["count"]) for e in in_session] == [(short.at, 30), (long.at, 300)]

    raw = _fif(rec, tmp_path)
    assert raw.n_times == rec.n_samples + 330
    # each loss spans its real time: onsets at the emulator's sample numbers
    assert _annotations(raw, "BAD_dropped") == [
        pytest.approx(((1000 - first) / SFREQ, 30 / SFREQ), abs=1e-6),
        pytest.approx(((2000 - first) / SFREQ, 300 / SFREQ), abs=1e-6),
    ]
    # BIDS writes the same Raw: its EEG file (EDF) and events hold the losses at their times
    bids = export_bids(rec, tmp_path / "bids")
    edf = mne.io.read_raw(bids.eeg_file, verbose="error")
    assert _annotations(edf, "BAD_dropped") == [
        pytest.approx(((1000 - first) / SFREQ, 30 / SFREQ), abs=1 / SFREQ),
        pytest.approx(((2000 - first) / SFREQ, 300 / SFREQ), abs=1 / SFREQ),
    ]
    s, t = _col(rec, "sample_index"), _col(rec, "time_s")
    late = s >= long.at
    np.testing.assert_array_equal(t[late], (s[late] + 330) / SFREQ)

    warmup = SessionRunner(proto, board_layout(0)).pipeline.warmup_samples
    for gap in (short, long):
        settling = _settling(rec, gap, warmup)
        assert settling.sum() >= warmup // 4 - 1
        assert _col(rec, "inhibit_invalid")[settling].all()
        assert not _col(rec, "reward")[settling].any()
        before = (s < gap.at) & (s >= gap.at - 100)
        assert not _col(rec, "inhibit_invalid")[before].all()
    settled = s >= long.at + warmup + SFREQ
    assert settled.sum() > 50 and not _col(rec, "inhibit_invalid")[settled].any()
    _assert_replay_equal(folder, tmp_path)

    # re-scored on another frame grid (a frame every 40 ms): the same gaps, each applied
    # at its own sample (before the new grid's first frame from there), the same timeline
    rescored = nfb.read_session(
        replay(folder, tmp_path / "rescored", overrides=["signal.step_ms=40"], progress=False)
    )
    assert rescored.gaps == rec.gaps
    s2, t2 = _col(rescored, "sample_index"), _col(rescored, "time_s")
    assert np.diff(s2)[0] == 10
    shift = np.where(s2 >= long.at, 330, np.where(s2 >= short.at, 30, 0))
    np.testing.assert_array_equal(t2, (s2 + shift) / SFREQ)
    taken = [e["sample_index"] for e in rescored.events if e["kind"] == "gap"]
    assert taken == [short.at, long.at]
    settling = (s2 >= long.at) & (s2 < long.at + warmup)
    assert _col(rescored, "inhibit_invalid")[settling].all()
    assert [a for a in rescored.annotation_list() if a[2] == "BAD_dropped"] == [
        a for a in rec.annotation_list() if a[2] == "BAD_dropped"
    ]


# --- the measurement, on a source the test scripts ------------------------------------------
class ScriptedSource:
    """A source that delivers the blocks (or raises the errors) the test queues."""

    def __init__(self, layout: BoardLayout) -> None:
        self.layout = layout
        self.queue: list = []
        self._lock = threading.Lock()

    def open(self) -> None:
        pass

    def read(self) -> np.ndarray:
        with self._lock:
            item = self.queue.pop(0) if self.queue else np.zeros((self.layout.n_rows, 0))
        if isinstance(item, BaseException):
            raise item
        return item

    def insert_marker(self, value: float) -> None:
        pass

    def close(self) -> None:
        pass

    def push(self, item) -> None:
        with self._lock:
            self.queue.append(item)


def _layout(timestamps: bool) -> BoardLayout:
    return BoardLayout(
        board_id=None,
        sfreq=250.0,
        n_rows=4,
        eeg_rows=(1,),
        ch_names=("Cz",),
        counter_row=0,
        counter_modulo=None,
        timestamp_row=2 if timestamps else None,
        marker_row=3,
        rail_uv=None,
    )


def _block(first: int, n: int, ts0: float = np.nan) -> np.ndarray:
    block = np.zeros((4, n))
    block[0] = np.arange(first, first + n)  # a counter that never wraps: a restart is no loss
    block[2] = ts0 + np.arange(n) / 250.0
    return block


@pytest.mark.parametrize("timestamps", [True, False])
def test_an_outage_is_timed_by_the_timestamps_else_by_the_clock(timestamps):
    clock = FakeClock()
    source = ScriptedSource(_layout(timestamps))
    gaps: list[tuple[int, dict]] = []

    def on_event(kind, index, info):
        if kind == "gap":
            gaps.append((index, info))

    acq = Acquisition(source, clock=clock, on_event=on_event)
    with acq:
        source.push(_block(0, 10, 100.0))
        _until(lambda: acq.n_samples == 10, "the first block")
        source.push(DeviceError("lost"))
        _until(lambda: acq.n_reconnects == 1, "the reconnect")
        clock.advance(3.0)
        after = _block(0, 5, 100.0 + 510 / 250)  # 500 samples after the last one's period
        after[2, :3] += 0.05  # a burst of late arrivals: the rest tell the real time
        source.push(after)
        _until(lambda: acq.n_samples == 15, "the block after the outage")
    ((index, info),) = gaps
    assert index == 10
    if timestamps:
        assert info == {"missing": 500, "duration_s": pytest.approx(2.0), "cause": "disconnect",
                        "clock": "timestamp"}  # fmt: skip
    else:  # the clock moved 3 s between the fetches; the block's 5 samples took 20 ms
        assert info == {"missing": 745, "duration_s": pytest.approx(2.98), "cause": "disconnect",
                        "clock": "monotonic"}  # fmt: skip


def test_a_wrapping_counter_is_corrected_by_the_timestamps_only_past_half_a_wrap():
    layout = board_layout(0)  # Cyton: counter modulo 256, timestamps
    n = 2000
    numbers = np.arange(n)
    keep = ~(((numbers >= 500) & (numbers < 530)) | ((numbers >= 1000) & (numbers < 1300)))
    block = np.zeros((layout.n_rows, n))
    block[layout.counter_row] = numbers % 256
    jitter = np.random.default_rng(1).uniform(0, 0.03, n)  # arrival up to 30 ms late
    block[layout.timestamp_row] = 1.7e9 + numbers / 250 + jitter
    block = block[:, keep]
    detector = DropDetector(layout)
    losses = detector.losses(block[:, :700]) + detector.losses(block[:, 700:])
    assert [(a, n, c) for a, n, c in losses] == [
        (500, 30, "counter"),
        (1000 - 30 - 700, 300, "counter+timestamp"),
    ]


@pytest.mark.parametrize("cut", [700, 400, 470, 1100])
def test_late_arrivals_are_no_lost_wrap_but_a_whole_lost_wrap_is_one(cut):
    # the driver (or the link) stalls 0.6 s at sample 314: samples 314-463 arrive at once
    # with 464, their counter unbroken; a whole wrap (256 samples) lost at 1000 shows no
    # counter jump at all. Only the timestamps tell them apart: a stall catches up, a loss not
    layout = board_layout(0)
    numbers = np.arange(2000)
    taken = 1.7e9 + numbers / 250
    arrival = taken + np.random.default_rng(2).uniform(0, 0.03, numbers.size)
    arrival[314:464] = arrival[464]
    keep = (numbers < 1000) | (numbers >= 1256)
    block = np.zeros((layout.n_rows, numbers.size))
    block[layout.counter_row] = numbers % 256
    block[layout.timestamp_row] = arrival
    block = block[:, keep]
    detector = DropDetector(layout)
    losses = detector.losses(block[:, :cut]) + detector.losses(block[:, cut:])
    at = 1000 - (cut if cut <= 1000 else 0)
    assert [(a, n, c) for a, n, c in losses] == [(at, 256, "counter+timestamp")]


@pytest.mark.parametrize("stall_s", [0.3, 0.6, 1.2])
def test_a_stall_longer_than_a_wrap_is_no_lost_wrap_on_a_1000_hz_wifi_board(stall_s):
    # the WiFi Shield's counter wraps every 256 samples, 256 ms at 1000 Hz: a stall of the
    # reading thread for longer than that (a busy laptop) catches up in one burst, which
    # counted as a lost wrap (262 of 6 lost in a loaded test run); a whole wrap lost is one
    layout = board_layout(int(BoardIds.CYTON_DAISY_WIFI_BOARD))
    assert layout.sfreq == 1000 and layout.counter_modulo == 256
    numbers = np.arange(6000)
    arrival = 1.7e9 + numbers / 1000 + np.random.default_rng(3).uniform(0, 0.01, numbers.size)
    stalled = round(stall_s * 1000)
    arrival[1000 : 1000 + stalled] = arrival[1000 + stalled]
    keep = (numbers < 4000) | (numbers >= 4256)
    block = np.zeros((layout.n_rows, numbers.size))
    block[layout.counter_row] = numbers % 256
    block[layout.timestamp_row] = arrival
    block = block[:, keep]
    detector = DropDetector(layout)
    losses = detector.losses(block[:, :3000]) + detector.losses(block[:, 3000:])
    assert [(a, n, c) for a, n, c in losses] == [(1000, 256, "counter+timestamp")]


def test_the_timeline_of_gaps():
    gaps = [Gap(10, 5, 0.02, "dropped", "counter"), Gap(20, 3, 0.012, "disconnect", "timestamp")]
    assert timeline_index(9, gaps) == 9
    assert timeline_index(10, gaps) == 15
    assert list(timeline_index(np.array([0, 19, 20, 30]), gaps)) == [0, 24, 28, 38]
    data = np.arange(30.0)[np.newaxis]
    out = insert_gaps(data, gaps)
    assert out.shape == (1, 38)
    assert not out[0, 10:15].any() and not out[0, 25:28].any()
    kept = np.ones(38, bool)
    kept[10:15] = kept[25:28] = False
    np.testing.assert_array_equal(out[0, kept], data[0])
    with pytest.raises(ValueError, match="cause"):
        Gap(1, 1, 0.004, "cosmic ray", "counter")


def test_a_gap_inside_a_chunk_moves_time_from_its_sample_in_any_chunking():
    fs = 250.0
    layout = BoardLayout(None, fs, 2, (0, 1), ("Cz", "Pz"), None, None, None, None, None)
    proto = load_protocol("alpha-beta-up", ["script.baseline_eyes_open=0.2",
                                            "script.baseline_eyes_closed=0.1"])  # fmt: skip
    data = np.random.default_rng(3).standard_normal((2, int(40 * fs))) * 10
    at, missing = 5003, 77
    fields = {"at": at, "missing": missing, "duration_s": missing / fs, "cause": "dropped",
              "clock": "counter"}  # fmt: skip
    results = []
    for seed in (1, 2):
        events: list[dict] = []
        runner = SessionRunner(proto, layout, on_event=events.append)
        rng, rows, i = np.random.default_rng(seed), [], 0
        while i < data.shape[1]:
            n = int(rng.integers(1, 400))
            if i <= at < i + n:
                runner.command("gap", **fields)  # as the acquisition does: before the chunk
            rows.append(runner.feed(data[:, i : i + n], 0.0))
            i += n
        runner.finish("end")
        rows = np.vstack(rows)
        s = rows[:, 0].astype(int)
        t = rows[:, [c for c, _ in runner.columns].index("time_s")]
        np.testing.assert_array_equal(t, (s + np.where(s >= at, missing, 0)) / fs)
        (gap,) = [e for e in events if e["kind"] == "gap"]
        assert gap["sample_index"] == s[s >= at][0]  # taken at the first frame from ``at``
        results.append((rows, gap))
    assert results[0][0].tobytes() == results[1][0].tobytes()
    assert results[0][1] == results[1][1]
