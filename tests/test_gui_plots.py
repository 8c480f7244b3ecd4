"""The console's live plots (nfb/gui/plots.py), offscreen with pytest-qt.

Real parts: Qt offscreen, pyqtgraph items read back; the data are made here with a known
shape, so that where each channel lands and what each item holds can be checked exactly.
"""

import threading

import numpy as np
import pytest

pytest.importorskip("pytestqt")
import pyqtgraph as pg

from nfb.gui.plots import INHIBIT, LivePlots, TracesView, auto_scale_uv
from nfb.monitor import MonitorView
from nfb.session.runner import COLUMN

SFREQ = 250.0
NAMES = [f"E{i}" for i in range(16)]


def _view(newest: int, n: int = 500, seed: int = 0, psd=None) -> MonitorView:
    rng = np.random.default_rng(seed)
    times = np.arange(newest - n + 1, newest + 1) / SFREQ
    freqs = np.linspace(0, 125, 251)
    return MonitorView(
        times,
        rng.normal(0, 10, (16, n)),
        freqs,
        -10 - 0.1 * freqs if psd is None else psd,
        0,
        newest,
    )


@pytest.fixture
def plots(qtbot, own_windows):
    widget = own_windows(LivePlots())
    widget.resize(1200, 800)
    widget.show()
    widget.attach(NAMES)
    return widget


def test_all_channels_are_one_curve_broken_between_channels_at_their_offsets(plots):
    traces: TracesView = plots.traces
    plots.scale_box.setCurrentText("50")
    view = _view(1000)
    plots.show_monitor(view)
    x, y = traces.curve.getData()
    assert len(x) == len(y) == 16 * 501
    rows = y.reshape(16, 501)
    # channel i is drawn around -i * scale: its own samples shifted, nothing else
    np.testing.assert_allclose(
        rows[:, :500] - view.traces, np.repeat(-50.0 * np.arange(16)[:, None], 500, 1)
    )
    np.testing.assert_allclose(x.reshape(16, 501)[3, :500], view.times - view.times[-1])
    # a gap (NaN) after each channel, and the curve breaks there: no line between channels
    assert np.isnan(rows[:, 500]).all() and np.isfinite(rows[:, :500]).all()
    assert traces.curve.opts["connect"] == "finite"
    # the y range holds every channel with half a spacing to spare, and stays fixed
    lo, hi = traces.getViewBox().viewRange()[1]
    assert lo == pytest.approx(-15.5 * 50) and hi == pytest.approx(25)
    assert not any(traces.getViewBox().autoRangeEnabled())


def test_trained_channels_are_highlighted_and_marked_on_the_axis(plots):
    plots.set_trained([2, 5])
    view = _view(1000)
    plots.show_monitor(view)
    traces = plots.traces
    _, y = traces.highlight.getData()
    rows = y.reshape(2, 501)
    np.testing.assert_allclose(rows[0, :500], view.traces[2] - 2 * traces.scale_uv)
    np.testing.assert_allclose(rows[1, :500], view.traces[5] - 5 * traces.scale_uv)
    assert (
        traces.highlight.opts["pen"].color().getRgb()[:3]
        != (traces.curve.opts["pen"].color().getRgb()[:3])
    )
    labels = dict(traces.ticks)
    assert labels[-2 * traces.scale_uv] == "▶ E2" and labels[-3 * traces.scale_uv] == "E3"
    # a device attached later (reconnect) keeps the session's highlight
    plots.attach(NAMES)
    assert plots.traces.highlighted == [2, 5]


def test_an_unchanged_monitor_view_is_not_drawn_again(plots):
    plots.show_monitor(_view(1000, seed=1))
    _x, y1 = plots.traces.curve.getData()
    first = y1.copy()
    spectrum_before = plots.spectrum.curve.getData()[1]
    # same newest sample (no new data), same spectrum: the curves keep what they hold
    same = _view(1000, seed=2, psd=plots._drawn_view.psd_db)
    plots.show_monitor(same)
    np.testing.assert_array_equal(plots.traces.curve.getData()[1], first)
    assert plots.spectrum.curve.getData()[1] is spectrum_before
    plots.show_monitor(_view(1010, seed=3))
    assert not np.array_equal(plots.traces.curve.getData()[1], first)


def test_spectrum_range_is_fixed_until_the_data_leave_it(plots):
    freqs = np.linspace(0, 125, 251)
    plots.spectrum.set_data(freqs, -10 - 0.1 * freqs)
    first = plots.spectrum.getViewBox().viewRange()[1]
    assert first[0] <= -16 and first[1] >= -10  # 0-60 Hz shown: -16 to -10 dB
    plots.spectrum.set_data(freqs, -10.5 - 0.1 * freqs)  # inside: no change
    assert plots.spectrum.getViewBox().viewRange()[1] == first
    plots.spectrum.set_data(freqs, 10 - 0.1 * freqs)  # 20 dB louder: the range follows
    lo, hi = plots.spectrum.getViewBox().viewRange()[1]
    assert hi >= 10 and lo > first[0]


def test_feature_plot_pages_its_time_axis_and_keeps_the_value_range(plots):
    t = np.arange(0, 35, 0.1)
    value = np.sin(t)
    thr = np.full_like(t, 0.2)
    reward = value > thr
    inhibited = np.zeros_like(t, dtype=bool)
    inhibited[10:20] = True
    plots.feature.set_data(t, value, thr, reward, inhibited)
    assert plots.feature.getViewBox().viewRange()[0] == pytest.approx([0, 40])
    y_range = plots.feature.getViewBox().viewRange()[1]
    assert y_range[0] <= -1 and y_range[1] >= 1
    plots.feature.set_data(t + 3, value, thr, reward, inhibited)  # 38 s: same page
    assert plots.feature.getViewBox().viewRange()[0] == pytest.approx([0, 40])
    assert plots.feature.getViewBox().viewRange()[1] == y_range
    plots.feature.set_data(t + 40, value, thr, reward, inhibited)  # 75 s: a later page
    assert plots.feature.getViewBox().viewRange()[0] == pytest.approx([20, 80])
    _x, ys = plots.feature.inhibited.getData()
    np.testing.assert_allclose(ys, value[10:20])


def test_unchanged_blocks_are_not_set_again(plots):
    blocks = [{"index": 1, "reward_rate": 0.4}, {"index": 2, "reward_rate": None}]
    plots.show_blocks(blocks)
    assert list(plots.blocks.bars.opts["height"]) == [40.0, 0.0]
    plots.blocks.bars.setOpts(height=[1, 1])  # what a redundant set would overwrite
    plots.show_blocks([dict(b) for b in blocks])
    assert list(plots.blocks.bars.opts["height"]) == [1, 1]
    plots.show_blocks([*blocks, {"index": 3, "reward_rate": 0.5}])
    assert list(plots.blocks.bars.opts["height"]) == [40.0, 0.0, 50.0]


def test_the_block_axis_shows_the_protocols_blocks_whole(plots):
    plots.set_n_blocks(2)  # a two-block protocol showed blocks 1-6 and ticks at 0.2 steps
    assert plots.blocks.viewRange()[0] == pytest.approx([0.4, 2.6])
    assert plots.blocks.ticks == [1, 2]
    plots.show_blocks([{"index": i, "reward_rate": 0.5} for i in (1, 2, 3)])  # one more run
    assert plots.blocks.viewRange()[0] == pytest.approx([0.4, 3.6])
    assert plots.blocks.ticks == [1, 2, 3]


def test_auto_scale_gives_each_of_16_channels_its_own_row(plots):
    rng = np.random.default_rng(4)
    sd = np.linspace(5, 25, 16)  # some channels busier than others, one flat
    traces = rng.normal(0, 1, (16, 500)) * sd[:, None]
    traces[7] = 0.0
    # 6 x the median SD of the live channels (15.7) = 94 µV -> the next step, 100
    assert auto_scale_uv(traces) == 100.0
    assert plots.scale_box.currentText() == "auto"  # the default
    view = _view(1000)
    plots.show_monitor(MonitorView(view.times, traces, view.freqs, view.psd_db, 0, 1000))
    assert plots.traces.scale_uv == 100.0
    rows = plots.traces.curve.getData()[1].reshape(16, 501)[:, :500]
    # the middle 99 % of each typical channel stays inside its row
    lo, hi = np.percentile(rows, [0.5, 99.5], axis=1)
    centres = -100.0 * np.arange(16)
    typical = sd <= np.median(sd)
    assert np.all((hi - centres)[typical] < 50) and np.all((centres - lo)[typical] < 50)
    plots.scale_box.setCurrentText("20")  # a fixed choice holds
    plots.show_monitor(_view(1010))
    assert plots.traces.scale_uv == 20.0 and plots.traces.auto_scale is False


def test_spectrum_shades_reward_bands_green_and_inhibit_bands_red(plots):
    plots.set_bands({"alpha": (8, 12)}, {"theta": (4, 8), "emg": (30, 45)})
    regions = {r.band: r for r in plots.spectrum.band_items}
    assert set(regions) == {"alpha", "theta", "emg"}
    assert regions["theta"].getRegion() == (4, 8) and regions["emg"].getRegion() == (30, 45)
    assert all(item in plots.spectrum.getPlotItem().items for item in regions.values())
    alpha = regions["alpha"].brush.color()
    theta = regions["theta"].brush.color()
    assert alpha.green() > alpha.red() and theta.red() > theta.green()
    plots.set_bands({"beta": (15, 20)})  # a new session replaces them all
    assert [r.band for r in plots.spectrum.band_items] == ["beta"]


def test_feature_legend_names_the_inhibit_dots(plots):
    names = {label.text: item for item, label in plots.feature.legend.items}
    assert set(names) >= {"feature", "rewarded", "threshold", "inhibited"}
    # the legend's sample is drawn in the colour of the dots on the plot
    sample = names["inhibited"].item.opts["brush"].color().getRgb()[:3]
    dots = pg.mkBrush(plots.feature.inhibited.opts["symbolBrush"]).color().getRgb()[:3]
    assert sample == dots == INHIBIT


def _frames(sample_index: np.ndarray) -> np.ndarray:
    rows = np.zeros((len(sample_index), max(COLUMN.values()) + 1))
    rows[:, COLUMN["sample_index"]] = sample_index
    rows[:, COLUMN["time_s"]] = sample_index / SFREQ
    rows[:, COLUMN["value"]] = 1.0
    rows[:, COLUMN["threshold"]] = 0.5
    return rows


def test_markers_from_the_session_thread_become_lines_at_their_frame(plots):
    feed = plots.new_session()
    worker = threading.Thread(
        target=lambda: [
            feed.on_event({"kind": "marker", "label": "m1", "sample_index": 503}),
            feed.on_event({"kind": "pause", "sample_index": 600}),  # not a marker
            feed.on_event({"kind": "marker", "label": "m2", "sample_index": 1003}),
        ]
    )
    worker.start()
    worker.join()
    plots.show_frames(_frames(np.arange(3, 800, 4)))
    # m1's frame is in, m2's not yet: it waits for its frame
    assert [(m.value(), m.label.format) for m in plots.feature.markers] == [(503 / SFREQ, "m1")]
    plots.show_frames(_frames(np.arange(3, 1200, 4)))
    assert [m.value() for m in plots.feature.markers] == [503 / SFREQ, 1003 / SFREQ]
    assert all(m in plots.feature.getPlotItem().items for m in plots.feature.markers)
    plots.new_session()  # the next session starts without them
    assert plots.feature.markers == []
