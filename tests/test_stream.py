"""DeviceStream: one connection, sessions attaching and detaching, a failing consumer."""

import numpy as np
import pytest

from nfb.devices import load_profile
from nfb.errors import DeviceError, SessionError
from nfb.protocol import load_protocol
from nfb.session.live import LiveSession
from nfb.stream import DeviceStream

SHORT = [
    "script.baseline_eyes_open=0.05",
    "script.baseline_eyes_closed=0",
    "script.blocks=1",
    "script.block_min=0.1",
]


class Counter:
    def __init__(self, fail_after=None):
        self.samples = 0
        self.first = None
        self.fail_after = fail_after
        self.detached_with = "never"

    def on_chunk(self, block, first_index, fetch_time):
        if self.first is None:
            self.first = first_index
        self.samples += block.shape[1]
        if self.fail_after is not None and self.samples >= self.fail_after:
            raise SessionError("cannot write x: No space left on device")

    def on_device_event(self, kind, sample_index, info):
        pass

    def on_detached(self, error):
        self.detached_with = error


@pytest.fixture
def stream():
    s = DeviceStream(load_profile("synthetic"))
    s.connect()
    yield s
    s.disconnect()


def test_consumers_see_every_sample_from_when_they_attach(stream):
    a = Counter()
    stream.attach(a)
    assert stream.acquisition.wait_samples(stream.n_samples + 250, timeout=20)
    b = Counter()
    stream.attach(b)
    target = stream.n_samples + 250
    assert stream.acquisition.wait_samples(target, timeout=20)
    stream.detach(a)
    stream.detach(b)
    assert a.detached_with is None and b.detached_with is None
    # contiguous: each saw every sample from its first one to the last delivered
    assert b.first > a.first
    assert a.samples - b.samples == b.first - a.first


def test_a_failing_consumer_is_detached_and_the_device_keeps_streaming(stream):
    bad, good = Counter(fail_after=100), Counter()
    stream.attach(bad)
    stream.attach(good)
    assert stream.acquisition.wait_samples(stream.n_samples + 500, timeout=20)
    assert isinstance(bad.detached_with, SessionError)
    assert stream.state == "streaming"
    assert good.samples >= 500 - 30  # the other consumer carried on


def test_signal_check_from_the_ring_buffer(stream):
    assert stream.acquisition.wait_samples(2 * 250, timeout=20)
    result = stream.check(2.0)
    assert [c.name for c in result.channels] == list(stream.layout.ch_names)
    assert all(c.rms_uv > 0 for c in result.channels)
    data, first = stream.latest_eeg(2.0)
    assert data.shape == (16, 500) and first >= 0


def test_two_sessions_on_one_connection(stream, tmp_path):
    paths = []
    for _ in range(2):
        session = LiveSession(
            stream,
            load_protocol("alpha-beta-up", SHORT),
            "pat",
            sessions_dir=tmp_path,
            duration_s=2,
        )
        paths.append(session.start())
        assert session.wait(timeout=30)
        assert session.stop() == "stopped"
    assert paths[0] != paths[1]
    assert stream.state == "streaming"
    import nfb

    for p in paths:
        s = nfb.read_session(p)
        assert 500 <= s.n_samples <= 600
        assert s.frames["sample_index"][0] == 3  # each session's clock starts at its own 0
        assert np.all(np.diff(s.frames["sample_index"]) == 4)


def test_a_session_needs_a_connected_device(tmp_path):
    s = DeviceStream(load_profile("synthetic"))
    session = LiveSession(s, load_protocol("alpha-beta-up", SHORT), "pat", sessions_dir=tmp_path)
    with pytest.raises(DeviceError, match="not connected"):
        session.start()
    with pytest.raises(SessionError, match="not started"):
        session.command("pause")
    assert not (tmp_path / "pat").exists()


def test_monitor_views_are_display_ready(stream):
    from nfb.monitor import SignalMonitor

    assert stream.acquisition.wait_samples(5 * 250, timeout=30)
    monitor = SignalMonitor(stream, window_s=4.0)
    monitor.spectrum_channel = list(stream.layout.ch_names).index("C3")  # a 10 Hz sine
    view = monitor.compute()
    assert view.traces.shape == (16, 1000) and view.times.shape == (1000,)
    assert np.all(np.diff(view.times) > 0)
    # band-passed: no DC offset left on any channel
    assert np.all(np.abs(view.traces.mean(axis=1)) < 0.2 * view.traces.std(axis=1) + 1)
    assert view.freqs[np.argmax(view.psd_db)] == pytest.approx(10.0, abs=0.5)
