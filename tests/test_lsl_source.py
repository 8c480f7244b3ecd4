"""Any LSL stream of EEG as a device: real pylsl outlets on loopback, read by nfb's inlet.

An emulated amplifier (a thread pushing chunks at its nominal rate, as an amplifier's LSL app
does) publishes labelled channels in volts beside an accelerometer channel; nfb must find it,
keep only the EEG, convert to µV, count every sample once, and record a session from it with
``nfb run``. Streams are named per test (a uuid), so other LSL streams cannot interfere.
Waiting is on sample counts and resolve timeouts, never on fixed sleeps.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid

import numpy as np
import pytest

pylsl = pytest.importorskip("pylsl")

from conftest import ROOT  # noqa: E402

from nfb.devices import load_profile  # noqa: E402
from nfb.errors import ConfigError, DeviceError  # noqa: E402
from nfb.stream import DeviceStream  # noqa: E402

LABELS = ["EEG Fp1-REF", "Fp2", "C3", "Cz", "C4", "P3", "Pz", "O1", "ACC_X"]
SFREQ = 250.0


class Amplifier:
    """An LSL outlet pushing 10 ms chunks at its rate: channel 3 (Cz) carries the sample
    number in µV, as volts; the rest a 10 Hz sine; the last is an accelerometer."""

    def __init__(
        self,
        name: str,
        *,
        unit: str = "volts",
        source_id: str | None = None,
        lose: tuple[int, int] | None = None,
        late: tuple[int, int, float] | None = None,
    ):
        info = pylsl.StreamInfo(name, "EEG", len(LABELS), SFREQ, "float32", source_id or name)
        channels = info.desc().append_child("channels")
        for label in LABELS:
            ch = channels.append_child("channel")
            ch.append_child_value("label", label)
            ch.append_child_value("unit", "g" if label.startswith("ACC") else unit)
            ch.append_child_value("type", "ACC" if label.startswith("ACC") else "EEG")
        self.outlet = pylsl.StreamOutlet(info, chunk_size=0)
        self.scale = {"volts": 1e-6, "microvolts": 1.0}[unit]
        self.lose = lose  # (first, count): samples made but never sent, as a radio loses them
        self.late = late  # (first, count, s): samples stamped late (a burst), none lost
        self.t0 = pylsl.local_clock()
        self.n = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            due = int((pylsl.local_clock() - self.t0) * SFREQ)
            if due > self.n:
                idx = np.arange(self.n, due)
                chunk = np.zeros((len(idx), len(LABELS)), dtype=np.float32)
                chunk[:, :-1] = 20 * np.sin(2 * np.pi * 10 * idx / SFREQ)[:, None] * self.scale
                chunk[:, 3] = (idx % 4096) * self.scale  # exact in float32
                chunk[:, -1] = 1.0
                stamps = self.t0 + idx / SFREQ  # each sample stamped when it was made
                if self.late is not None:
                    first, count, delay = self.late
                    stamps = stamps + np.where((idx >= first) & (idx < first + count), delay, 0)
                if self.lose is not None:
                    sent = (idx < self.lose[0]) | (idx >= self.lose[0] + self.lose[1])
                    chunk, stamps = chunk[sent], stamps[sent]
                if len(stamps):
                    self.outlet.push_chunk(chunk.tolist(), stamps.tolist())
                self.n = due
            self._stop.wait(0.01)  # the amplifier's own pace, not a test's timing

    def close(self):
        self._stop.set()
        self._thread.join(5)
        del self.outlet


@pytest.fixture
def amp():
    made = []

    def make(name=None, **kw):
        a = Amplifier(name or f"nfb-test-amp-{uuid.uuid4().hex[:8]}", **kw)
        made.append(a)
        return a

    yield make
    for a in made:
        a.close()


def _name(amp_) -> str:
    return amp_.outlet.get_info().name()


def test_an_lsl_stream_is_a_device_in_microvolts_with_its_labels(amp):
    a = amp()
    profile = load_profile("lsl", lsl_stream=_name(a))
    stream = DeviceStream(profile)
    assert stream.layout.ch_names == ("Fp1", "Fp2", "C3", "Cz", "C4", "P3", "Pz", "O1")
    assert stream.layout.sfreq == SFREQ
    with stream:
        assert stream.acquisition.wait_samples(750, timeout=30)
        data, _ = stream.ring.latest(700)
    cz = data[stream.layout.eeg_rows[3]]
    # µV from volts, every sample once and in order (the counter ramps by one, mod 4096)
    steps = np.diff(cz) % 4096
    assert np.allclose(steps, 1.0, atol=1e-3), np.unique(np.round(steps, 3))
    fp1 = data[stream.layout.eeg_rows[0]]
    assert 15 < np.max(np.abs(fp1)) < 25  # the 20 µV sine, not 2e-5 V
    assert np.array_equal(data[0], np.arange(data[0][0], data[0][0] + 700))  # nfb's counter
    assert stream.n_dropped == 0


def test_nfb_run_records_a_session_from_an_lsl_stream(amp, tmp_path):
    a = amp()
    store = tmp_path / "store"
    proc = subprocess.run(
        [
            sys.executable, "-m", "nfb.cli", "run", "--device", "lsl", "--stream", _name(a),
            "--protocol", "alpha-up", "--client", "lsl-client", "--sessions-dir", str(store),
            "--set", 'signal.channels=["O1"]', "--set", "script.baseline_eyes_open=0.1",
            "--set", "script.baseline_eyes_closed=0", "--set", "script.blocks=1",
            "--set", "script.block_min=0.1",
        ],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    from nfb import list_sessions, read_session

    (path,) = [s["path"] for s in list_sessions(store)]
    rec = read_session(path)
    assert rec.meta["device"]["board"] == "lsl"
    assert rec.raw.ch_names[:8] == ["Fp1", "Fp2", "C3", "Cz", "C4", "P3", "Pz", "O1"]
    assert rec.raw.n_times >= 0.9 * 12 * SFREQ  # 6 s baseline + 6 s block at least
    assert rec.raw.info["sfreq"] == SFREQ
    assert not [e for e in rec.events if e["kind"] == "dropped"]  # no loss on loopback
    cz = rec.raw.get_data(picks=["Cz"])[0] * 1e6
    assert np.allclose(np.diff(cz) % 4096, 1.0, atol=1e-3)  # every sample, once, in order
    out = tmp_path / "replayed"
    again = subprocess.run(
        [sys.executable, "-m", "nfb.cli", "replay", str(path), "--out", str(out)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    replayed = read_session(out)
    assert replayed.frames.tobytes() == rec.frames.tobytes()  # replays exactly
    assert replayed.events == rec.events


def test_two_streams_of_one_name_are_refused_with_the_list(amp):
    name = f"nfb-test-amp-{uuid.uuid4().hex[:8]}"
    amp(name, source_id=f"{name}-a")
    amp(name, source_id=f"{name}-b")
    with pytest.raises(DeviceError) as err:
        DeviceStream(load_profile("lsl", lsl_stream=name))
    text = str(err.value)
    assert "2 LSL streams" in text and f"{name}-a" in text and f"{name}-b" in text
    assert "\n" not in text


def test_no_such_stream_is_one_line_within_the_timeout(tmp_path):
    profile_file = tmp_path / "lsl-quick.toml"
    profile_file.write_text(
        'board = "lsl"\n[connection]\nstream_name = "nobody-here"\ntimeout = 1\n'
    )
    started = time.monotonic()
    with pytest.raises(
        DeviceError, match="no LSL stream named 'nobody-here' of type 'EEG' found within 1 s"
    ):
        DeviceStream(load_profile(str(profile_file)))
    assert time.monotonic() - started < 10


def test_bad_lsl_settings_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="--stream"):
        load_profile("lsl", lsl_stream="it's")
    with pytest.raises(ConfigError, match="--stream: device 'synthetic' has no stream_name"):
        load_profile("synthetic", lsl_stream="x")
    bad = tmp_path / "bad.toml"
    bad.write_text('board = "lsl"\n[connection]\ntimeout = 600\n')
    with pytest.raises(ConfigError, match="timeout' must be 1 to 60 seconds"):
        load_profile(str(bad))
    bad.write_text('board = "lsl"\nchannels = ["Cz"]\n')
    with pytest.raises(ConfigError, match="labels come from the stream"):
        load_profile(str(bad))


@pytest.mark.parametrize(
    ("fmt", "rate", "why"),
    [("string", 100, "carries text"), ("float32", 0, "no regular sampling rate")],
    ids=["text", "irregular"],
)
def test_a_text_or_irregular_stream_is_refused(fmt, rate, why):
    name = f"nfb-test-odd-{uuid.uuid4().hex[:8]}"
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "EEG", 1, rate, fmt, name))
    try:
        with pytest.raises(DeviceError, match=why):
            DeviceStream(load_profile("lsl", lsl_stream=name))
    finally:
        del outlet


def test_the_console_connects_to_an_lsl_stream_typed_in(amp, qtbot, own_windows, tmp_path):
    from PyQt6 import QtCore

    from nfb.gui.console import ConsoleWindow

    a = amp()
    settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    console = own_windows(ConsoleWindow(tmp_path / "store", settings=settings))
    console.show()
    console.device_box.setCurrentText("lsl")
    assert console.lsl_edit.isEnabled() and not console.serial_edit.isEnabled()
    qtbot.keyClicks(console.lsl_edit, _name(a))
    qtbot.mouseClick(console.connect_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: console.stream is not None, timeout=20000)
    labels = [console.spectrum_box.itemText(i) for i in range(console.spectrum_box.count())]
    assert labels == ["Fp1", "Fp2", "C3", "Cz", "C4", "P3", "Pz", "O1"]
    qtbot.waitUntil(lambda: console.traces.curve.getData()[0] is not None, timeout=10000)


class DeviceEvents:
    """A stream consumer that keeps the device events (kind, sample index, info)."""

    def __init__(self):
        self.items = []

    def on_chunk(self, block, first_index, fetch_time):
        pass

    def on_device_event(self, kind, sample_index, info):
        self.items.append((kind, sample_index, info))

    def on_detached(self, error):
        pass


def test_a_gap_in_the_timestamps_is_recorded_as_dropped_samples(amp):
    a = amp(lose=(600, 100))  # 0.4 s never sent
    stream = DeviceStream(load_profile("lsl", lsl_stream=_name(a)))
    events = DeviceEvents()
    stream.attach(events)
    with stream:
        # the loss is confirmed a second of samples after it (about sample 850 here); the
        # margin keeps the confirming read well before the one that ends the wait
        assert stream.acquisition.wait_samples(1200, timeout=30)
        data, first = stream.ring.latest(stream.n_samples)
    (drop,) = [e for e in events.items if e[0] == "dropped"]
    assert drop[2] == {"count": 100} and stream.n_dropped == 100
    # at the first sample after the gap: its Cz carries the sender's number 700
    cz = data[stream.layout.eeg_rows[3]]
    assert round(cz[drop[1] - first]) == 700 % 4096


def test_markers_of_an_lsl_marker_stream_land_on_their_samples(amp):
    a = amp()
    name = f"nfb-test-stim-{uuid.uuid4().hex[:8]}"
    stim = pylsl.StreamOutlet(pylsl.StreamInfo(name, "Markers", 1, 0, "string", name))
    try:
        stream = DeviceStream(load_profile("lsl", lsl_stream=_name(a), lsl_markers=name))
        events = DeviceEvents()
        stream.attach(events)
        with stream:
            assert stream.acquisition.wait_samples(100, timeout=30)
            target = a.n + 125  # half a second ahead of the sender
            stim.push_sample(["stim-A"], a.t0 + target / SFREQ)
            assert stream.acquisition.wait_samples(stream.n_samples + 400, timeout=30)
            data, first = stream.ring.latest(stream.n_samples)
        (marker,) = [e for e in events.items if e[0] == "stream_marker"]
        assert marker[2] == {"label": "stim-A"}
        cz = data[stream.layout.eeg_rows[3]]
        assert round(cz[marker[1] - first]) == target % 4096  # exactly its sample
    finally:
        del stim


def test_a_stream_chosen_by_type_and_nfb_s_own_outlet(tmp_path):
    """nfb's own EEG outlet (``nfb run --lsl-raw``) read back by a second nfb, by source id."""
    from nfb.lsl import EEG_NAME, LslOutlet
    from nfb.protocol import load_protocol
    from nfb.session.live import LiveSession

    source_stream = DeviceStream(load_profile("synthetic"))
    outlet = LslOutlet(raw=True)
    session = LiveSession(
        source_stream,
        load_protocol("alpha-up"),
        "lsl-own",
        sessions_dir=tmp_path / "a",
        observers=[outlet],
    )
    with source_stream:
        path = session.start()
        sid = f"nfb:{path.name}:eeg"
        try:
            profile = load_profile("lsl", lsl_stream=f"name={EEG_NAME},source_id={sid}")
            assert profile.connection["source_id"] == sid
            reader = DeviceStream(profile)
            assert reader.layout.ch_names == source_stream.layout.ch_names
            assert reader.layout.sfreq == source_stream.layout.sfreq
            with reader:
                assert reader.acquisition.wait_samples(500, timeout=30)
                assert reader.n_dropped == 0
        finally:
            session.stop("user")
    with pytest.raises(ConfigError, match="--stream: expected a stream name or key=value"):
        load_profile("lsl", lsl_stream="colour=blue")


def test_a_late_burst_is_not_a_loss(amp):
    a = amp(late=(600, 75, 0.3))  # 75 samples stamped 0.3 s late, then on time again
    stream = DeviceStream(load_profile("lsl", lsl_stream=_name(a)))
    with stream:
        assert stream.acquisition.wait_samples(1100, timeout=30)  # a second past the burst
    assert stream.n_dropped == 0


def test_the_streams_on_the_network_are_listed_with_a_spec_that_picks_each(amp):
    from nfb.lsl_source import list_streams

    one = amp()
    shared = f"nfb-test-twin-{uuid.uuid4().hex[:8]}"
    twins = [amp(shared, source_id=f"{shared}-a"), amp(shared, source_id=f"{shared}-b")]
    seen = {s.source_id: s for s in list_streams(1.5)}
    mine = seen[_name(one)]
    assert (mine.name, mine.type, mine.channels, mine.sfreq) == (_name(one), "EEG", 9, SFREQ)
    assert mine.hostname and mine.spec == f"name={_name(one)}"
    assert f"{_name(one)} (EEG, 9 ch, 250 Hz) from source id {_name(one)}, " in mine.describe()
    # two of one name on one computer: only the source id tells them apart
    assert [seen[t.outlet.get_info().source_id()].spec for t in twins] == [
        f"source_id={shared}-a",
        f"source_id={shared}-b",
    ]
    # each spec finds exactly its stream again
    profile = load_profile("lsl", lsl_stream=seen[f"{shared}-b"].spec)
    assert DeviceStream(profile).layout.n_eeg == 8


def test_the_console_finds_the_streams_and_connects_to_the_one_chosen(
    amp, qtbot, own_windows, tmp_path
):
    from PyQt6 import QtCore

    from nfb.gui.console import ConsoleWindow

    a = amp()
    settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    console = own_windows(ConsoleWindow(tmp_path / "store", settings=settings))
    console.show()
    finder = console.lsl_finder
    console.device_box.setCurrentText("cyton")
    assert not finder.isEnabled()  # only for the lsl device
    console.device_box.setCurrentText("lsl")
    assert finder.isEnabled()
    qtbot.mouseClick(finder.button, QtCore.Qt.MouseButton.LeftButton)
    assert not finder.button.isEnabled()  # resolving, off the GUI thread
    qtbot.waitUntil(lambda: finder.button.isEnabled(), timeout=10000)
    texts = [finder.box.itemText(i) for i in range(finder.box.count())]
    index = next(i for i, t in enumerate(texts) if t.startswith(f"{_name(a)} (EEG, 9 ch, 250 Hz)"))
    finder.box.activated.emit(index)  # as a click on the item does
    assert console.lsl_edit.text() == f"name={_name(a)}"
    finder.grab().save(str(tmp_path / "finder.png"))
    qtbot.mouseClick(console.connect_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: console.stream is not None, timeout=20000)
    assert console.stream.layout.ch_names[:2] == ("Fp1", "Fp2")
