"""pyqtgraph views of the console. Each only copies given arrays into its items (setData);
no filtering, no transforms, no I/O: the engine computes, the views draw."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtGui

REWARD = (60, 180, 90)
THRESHOLD = (230, 150, 40)
pg.setConfigOptions(antialias=False, background="w", foreground="k")


class RawTraces(pg.PlotWidget):
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
    return QtGui.QColor(
        {"good": "#c8ecc8", "check": "#fbe3a6", "bad": "#f4b6b0"}.get(verdict, "#ffffff")
    )
