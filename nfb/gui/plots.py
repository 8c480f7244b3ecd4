"""The console's live plots: raw traces, spectrum, feedback feature and reward per block.

Each view only copies given arrays into its pyqtgraph items (``setData``): no filtering, no
transforms, no I/O, no work in a paint path; the engine computes, the views draw.
:class:`LivePlots` lays the views out with their toolbar (scale, window, spectrum channel) and
is what the console's 60 Hz timer feeds: :meth:`LivePlots.show_monitor` with the
:class:`~nfb.monitor.SignalMonitor`'s newest view, :meth:`LivePlots.show_frames` with the
session's newest frame rows, :meth:`LivePlots.show_blocks` with its blocks.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtGui, QtWidgets

from ..session.runner import COLUMN
from .lifetime import delete_now

REWARD = (60, 180, 90)
THRESHOLD = (230, 150, 40)
pg.setConfigOptions(antialias=False, background="w", foreground="k")


class TracesView(pg.PlotWidget):
    """Stacked traces of all channels; ``scale_uv`` is the spacing between channels."""

    def __init__(self, ch_names, parent=None) -> None:
        super().__init__(parent)
        self.ch_names = list(ch_names)
        self.scale_uv = 100.0
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.getPlotItem().setLabel("bottom", "time before now", units="s")
        self._span = None
        self.curves = [
            self.plot(pen=pg.mkPen(pg.intColor(i, hues=9, values=1, maxValue=160), width=1))
            for i in range(len(self.ch_names))
        ]
        for c in self.curves:
            c.setClipToView(True)
            c.setDownsampling(auto=True, method="peak")
        self._update_ticks()

    def set_scale(self, scale_uv: float) -> None:
        self.scale_uv = float(scale_uv)
        self._update_ticks()

    def _update_ticks(self) -> None:
        n = len(self.ch_names)
        ticks = [(-(i) * self.scale_uv, name) for i, name in enumerate(self.ch_names)]
        self.getPlotItem().getAxis("left").setTicks([ticks])
        self.setYRange(-(n - 0.5) * self.scale_uv, 0.5 * self.scale_uv, padding=0)

    def set_data(self, times: np.ndarray, traces: np.ndarray) -> None:
        if not len(times):
            return
        # time relative to the newest sample: the axis stays put and is not re-laid out
        rel = times - times[-1]
        for i, curve in enumerate(self.curves[: traces.shape[0]]):
            curve.setData(rel, traces[i] - i * self.scale_uv, skipFiniteCheck=True)
        if self._span != rel[0]:
            self._span = rel[0]
            self.setXRange(rel[0], 0, padding=0)


class SpectrumView(pg.PlotWidget):
    """Power spectral density of one channel (dB), 0–60 Hz."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMenuEnabled(False)
        self.getPlotItem().setLabel("bottom", "frequency", units="Hz")
        self.getPlotItem().setLabel("left", "power (dB µV²/Hz)")
        self.curve = self.plot(pen=pg.mkPen((40, 90, 200), width=2))
        self.setXRange(0, 60)
        self.band_items: list[pg.LinearRegionItem] = []

    def set_bands(self, bands: dict[str, tuple[float, float]]) -> None:
        for item in self.band_items:
            self.removeItem(item)
        self.band_items = []
        for i, (_name, (lo, hi)) in enumerate(bands.items()):
            region = pg.LinearRegionItem(
                (lo, hi), movable=False, brush=pg.mkBrush(*REWARD, 30 + 20 * (i % 2))
            )
            self.addItem(region)
            self.band_items.append(region)

    def set_data(self, freqs: np.ndarray, psd_db: np.ndarray) -> None:
        self.curve.setData(freqs, psd_db, skipFiniteCheck=True)


class FeatureView(pg.PlotWidget):
    """The feedback feature over time, its threshold, and the rewarded stretches in green."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMenuEnabled(False)
        self.getPlotItem().setLabel("bottom", "session time", units="s")
        self.getPlotItem().setLabel("left", "feedback value")
        self.value = self.plot(pen=pg.mkPen((70, 70, 70), width=1))
        self.rewarded = self.plot(pen=pg.mkPen(REWARD, width=4), connect="finite")
        self.threshold = self.plot(
            pen=pg.mkPen(THRESHOLD, width=2, style=QtCore.Qt.PenStyle.DashLine)
        )
        self.inhibited = self.plot(
            pen=None, symbol="s", symbolSize=3, symbolBrush=(200, 60, 60), symbolPen=None
        )

    def set_data(self, t, value, threshold, reward, inhibited) -> None:
        self.value.setData(t, value)
        self.rewarded.setData(t, np.where(reward, value, np.nan))
        self.threshold.setData(t, threshold, connect="finite")
        self.inhibited.setData(t[inhibited], value[inhibited])


class BlockRewardView(pg.PlotWidget):
    """Reward % per training block, with the protocol's target as a line."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.getPlotItem().setLabel("left", "reward", units="%")
        self.getPlotItem().setLabel("bottom", "block")
        self.setYRange(0, 100)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush=pg.mkBrush(*REWARD))
        self.addItem(self.bars)
        self.target = pg.InfiniteLine(
            angle=0, pen=pg.mkPen(THRESHOLD, width=1, style=QtCore.Qt.PenStyle.DashLine)
        )
        self.addItem(self.target)

    def set_target(self, rate: float) -> None:
        self.target.setPos(100 * rate)

    def set_data(self, blocks: list[dict]) -> None:
        xs = [b["index"] for b in blocks]
        hs = [100 * (b["reward_rate"] or 0.0) for b in blocks]
        self.bars.setOpts(x=xs, height=hs)
        self.setXRange(0.4, max(6, len(xs)) + 0.6, padding=0)


def verdict_colour(verdict: str) -> QtGui.QColor:
    """The background of a signal-check verdict ("good", "check", "bad")."""
    return QtGui.QColor(
        {"good": "#c8ecc8", "check": "#fbe3a6", "bad": "#f4b6b0"}.get(verdict, "#ffffff")
    )


class LivePlots(QtWidgets.QWidget):
    """The live views and their toolbar, as the console shows them.

    The traces view exists while a device is attached (:meth:`attach`, :meth:`detach`); the
    spectrum, feature and block views always. The toolbar's window and spectrum-channel
    choices are for the signal monitor, which the console owns: they are passed on as
    :attr:`window_changed` and :attr:`spectrum_channel_changed`.
    """

    window_changed = QtCore.pyqtSignal(int)
    spectrum_channel_changed = QtCore.pyqtSignal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        rv = QtWidgets.QVBoxLayout(self)
        rv.setContentsMargins(0, 0, 0, 0)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("scale"))
        self.scale_box = QtWidgets.QComboBox()
        self.scale_box.addItems(["20", "50", "100", "200", "500", "1000"])
        self.scale_box.setCurrentText("100")
        self.scale_box.currentTextChanged.connect(self._scale_changed)
        top.addWidget(self.scale_box)
        top.addWidget(QtWidgets.QLabel("µV   window"))
        self.window_box = QtWidgets.QSpinBox()
        self.window_box.setRange(5, 10)
        self.window_box.setValue(8)
        self.window_box.setSuffix(" s")
        self.window_box.valueChanged.connect(self.window_changed)
        top.addWidget(self.window_box)
        top.addWidget(QtWidgets.QLabel("   spectrum of"))
        self.spectrum_box = QtWidgets.QComboBox()
        self.spectrum_box.currentIndexChanged.connect(self._spectrum_index_changed)
        top.addWidget(self.spectrum_box)
        top.addStretch(1)
        rv.addLayout(top)
        self.splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.traces_holder = QtWidgets.QStackedWidget()
        self.traces_holder.addWidget(QtWidgets.QLabel("Connect a device to see its signal."))
        self.traces: TracesView | None = None
        self.splitter.addWidget(self.traces_holder)
        bottom = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.spectrum = SpectrumView()
        self.feature = FeatureView()
        self.blocks = BlockRewardView()
        bottom.addWidget(self.spectrum)
        bottom.addWidget(self.feature)
        bottom.addWidget(self.blocks)
        bottom.setSizes([300, 600, 250])
        self.splitter.addWidget(bottom)
        self.splitter.setSizes([520, 300])
        rv.addWidget(self.splitter, 1)
        self._drawn_view = None

    # --- a device attached ----------------------------------------------------------------
    def attach(self, ch_names) -> TracesView:
        """Show the traces of a newly connected device's channels (and offer its spectra)."""
        self.detach()
        self.traces = TracesView(ch_names)
        self.traces.set_scale(float(self.scale_box.currentText()))
        self.traces_holder.addWidget(self.traces)
        self.traces_holder.setCurrentWidget(self.traces)
        self.spectrum_box.blockSignals(True)
        self.spectrum_box.clear()
        self.spectrum_box.addItems(list(ch_names))
        self.spectrum_box.blockSignals(False)
        self._drawn_view = None
        return self.traces

    def detach(self) -> None:
        """Drop the traces of a disconnected device."""
        if self.traces is None:
            return
        self.traces_holder.removeWidget(self.traces)
        # deleted by Qt now, while this reference holds it: never left to the collector
        delete_now(self.traces)
        self.traces = None
        self._drawn_view = None

    # --- a session started ----------------------------------------------------------------
    def set_bands(self, bands: dict[str, tuple[float, float]]) -> None:
        """The protocol's bands, shaded on the spectrum."""
        self.spectrum.set_bands(bands)

    def set_spectrum_channel(self, index: int) -> None:
        """Show the spectrum of channel ``index`` (the one being trained)."""
        self.spectrum_box.setCurrentIndex(index)

    def set_target(self, rate: float) -> None:
        """The protocol's target reward rate (0–1), a line on the block view."""
        self.blocks.set_target(rate)

    # --- the 60 Hz feed -------------------------------------------------------------------
    def show_monitor(self, view) -> None:
        """Draw a :class:`~nfb.monitor.MonitorView` (traces and spectrum), once per view."""
        if view is None or self.traces is None or view is self._drawn_view:
            return
        self._drawn_view = view  # redraw only what changed
        self.traces.set_data(view.times, view.traces)
        self.spectrum.set_data(view.freqs, view.psd_db)

    def show_frames(self, rows: np.ndarray) -> None:
        """Draw the session's newest frame rows (the frame-history columns) on the feature."""
        if not len(rows):
            return
        col = COLUMN
        value = rows[:, col["value"]]
        self.feature.set_data(
            rows[:, col["time_s"]],
            value,
            rows[:, col["threshold"]],
            rows[:, col["reward"]] > 0,
            rows[:, col["inhibited"]] > 0,
        )

    def show_blocks(self, blocks: list[dict]) -> None:
        """Draw the reward rate of each training block so far."""
        self.blocks.set_data(blocks)

    def _scale_changed(self, text: str) -> None:
        if self.traces is not None:
            self.traces.set_scale(float(text))

    def _spectrum_index_changed(self, index: int) -> None:
        if index >= 0:
            self.spectrum_channel_changed.emit(index)
