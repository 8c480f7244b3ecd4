"""The console's live plots: raw traces, spectrum, feedback feature and reward per block.

Each view only copies given arrays into its pyqtgraph items (``setData``): no filtering, no
transforms, no I/O, no work in a paint path; the engine computes, the views draw.
:class:`LivePlots` lays the views out with their toolbar (scale, window, spectrum channel) and
is what the console's 60 Hz timer feeds: :meth:`LivePlots.show_monitor` with the
:class:`~nfb.monitor.SignalMonitor`'s newest view, :meth:`LivePlots.show_frames` with the
session's newest frame rows (and snapshot, for the per-band view), :meth:`LivePlots.show_blocks`
with its blocks. Session markers are drawn on the feature plot and on the raw traces.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtGui, QtWidgets

from ..errors import NfbError
from ..session.runner import COLUMN
from .band_view import BandView
from .lifetime import delete_now

REWARD = (60, 180, 90)
THRESHOLD = (230, 150, 40)
INHIBIT = (200, 60, 60)
TRACE = (40, 60, 110)
TRAINED = (220, 90, 0)
MARKER = (120, 40, 160)
pg.setConfigOptions(antialias=False, background="w", foreground="k")


#: The spacings the automatic scale chooses from (µV), as on the scale menu and between.
SCALE_STEPS = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


def auto_scale_uv(traces: np.ndarray) -> float:
    """A spacing between channels that keeps each in its own row.

    Six times the median channel's standard deviation (±3 SD of a typical channel inside its
    row), rounded up to the next of :data:`SCALE_STEPS`; a flat or railed channel does not
    decide it.
    """
    sd = np.nanstd(traces, axis=1) if traces.size else np.empty(0)
    sd = sd[np.isfinite(sd) & (sd > 0)]
    if not sd.size:
        return 100.0
    want = 6.0 * float(np.median(sd))
    return float(next((s for s in SCALE_STEPS if s >= want), SCALE_STEPS[-1]))


class TracesView(pg.PlotWidget):
    """Stacked traces of all channels; ``scale_uv`` is the spacing between channels.

    All channels are one curve (a NaN after each channel breaks it: pyqtgraph builds the
    path of ``connect="finite"`` some 50 times faster than that of a ``connect`` array) and the
    trained channels a second, highlighted one: two paths to draw a tick instead of one per
    channel. Buffers are allocated once per window length and the ranges are fixed, so a tick
    is two ``setData`` calls and no range or axis work.
    """

    def __init__(self, ch_names, parent=None) -> None:
        super().__init__(parent)
        self.ch_names = list(ch_names)
        self.n_channels = len(self.ch_names)
        self.scale_uv = 100.0
        self.highlighted: list[int] = []
        self.auto_scale = False
        self._auto_due = 0
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        plot = self.getPlotItem()
        plot.setLabel("bottom", "time before now", units="s")
        plot.enableAutoRange(False)
        self.curve = pg.PlotCurveItem(pen=pg.mkPen(TRACE, width=1))
        self.highlight = pg.PlotCurveItem(pen=pg.mkPen(TRAINED, width=2))
        self.addItem(self.curve)
        self.addItem(self.highlight)
        self._span = None
        self._x = self._y = np.empty((0, 0))
        self._offsets = np.zeros((self.n_channels, 1))
        self._update_ticks()
        #: session markers (stream index, label) and the lines that draw them
        self.markers: list[tuple[int, str]] = []
        self.marker_lines: list[pg.InfiniteLine] = []

    def add_marker(self, stream_index: int, label: str) -> None:
        """A session marker at the stream's sample ``stream_index``: a labelled line that
        scrolls with the traces until it leaves the window."""
        self.markers.append((int(stream_index), str(label)))

    def set_markers_at(self, newest_index: int, sfreq: float, span_s: float) -> None:
        """Place the markers for traces whose newest sample is ``newest_index``."""
        if not self.markers:
            return
        oldest = newest_index - span_s * sfreq
        self.markers = [m for m in self.markers if m[0] >= oldest]
        while len(self.marker_lines) < len(self.markers):
            line = pg.InfiniteLine(
                angle=90,
                pen=pg.mkPen(MARKER, width=2, style=QtCore.Qt.PenStyle.DashLine),
                label="",
                labelOpts={"position": 0.98, "color": MARKER},
            )
            self.addItem(line)
            self.marker_lines.append(line)
        for k, line in enumerate(self.marker_lines):
            if k < len(self.markers):
                index, label = self.markers[k]
                line.setPos((index - newest_index) / sfreq)
                if line.label.format != label:
                    line.label.setFormat(label)
                line.setVisible(True)
            elif line.isVisible():
                line.setVisible(False)

    def clear_markers(self) -> None:
        self.markers = []
        for line in self.marker_lines:
            line.setVisible(False)

    def set_scale(self, scale_uv: float) -> None:
        self.scale_uv = float(scale_uv)
        self._update_ticks()

    def set_auto_scale(self, on: bool) -> None:
        """Choose the spacing from the data (:func:`auto_scale_uv`), checked every 2 s."""
        self.auto_scale = bool(on)
        self._auto_due = 0

    def _check_auto_scale(self, traces: np.ndarray) -> None:
        self._auto_due -= 1
        if self._auto_due > 0:
            return
        self._auto_due = 120  # ticks: about 2 s at 60 Hz
        wanted = auto_scale_uv(traces)
        if wanted != self.scale_uv:
            self.set_scale(wanted)

    def set_highlight(self, channels) -> None:
        """Draw these channel indices (the trained ones) in the highlight colour."""
        self.highlighted = sorted({int(c) for c in channels if 0 <= int(c) < self.n_channels})
        self._update_ticks()

    def _update_ticks(self) -> None:
        n = self.n_channels
        self._offsets = -self.scale_uv * np.arange(n, dtype=float)[:, None]
        ticks = [
            (-i * self.scale_uv, f"▶ {name}" if i in self.highlighted else name)
            for i, name in enumerate(self.ch_names)
        ]
        self.ticks = ticks  # (position, label) of each channel on the left axis
        self.getPlotItem().getAxis("left").setTicks([ticks])
        self.setYRange(-(n - 0.5) * self.scale_uv, 0.5 * self.scale_uv, padding=0)

    def _allocate(self, n_ch: int, n: int, rel: np.ndarray) -> None:
        # one row per channel and a NaN column: no line from a channel's end to the next one
        self._x = np.empty((n_ch, n + 1))
        self._x[:, :n] = rel
        self._x[:, n] = np.nan
        self._y = np.full((n_ch, n + 1), np.nan)

    def set_data(self, times: np.ndarray, traces: np.ndarray) -> None:
        if not len(times):
            return
        n_ch, n = min(traces.shape[0], self.n_channels), traces.shape[1]
        if self.auto_scale:
            self._check_auto_scale(traces[:n_ch])
        # time relative to the newest sample: the axis stays put and is not re-laid out
        rel = times - times[-1]
        if self._y.shape != (n_ch, n + 1) or self._span != rel[0]:
            self._allocate(n_ch, n, rel)
            self._span = rel[0]
            self.setXRange(rel[0], 0, padding=0)
        np.add(traces[:n_ch], self._offsets[:n_ch], out=self._y[:, :n])
        self.curve.setData(self._x.ravel(), self._y.ravel(), connect="finite")
        hl = [i for i in self.highlighted if i < n_ch]
        if hl:
            self.highlight.setData(self._x[hl].ravel(), self._y[hl].ravel(), connect="finite")
        else:
            self.highlight.setData([], [])


class SpectrumView(pg.PlotWidget):
    """Power spectral density of one channel (dB), 0–60 Hz."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMenuEnabled(False)
        self.getPlotItem().setLabel("bottom", "frequency", units="Hz")
        self.getPlotItem().setLabel("left", "power (dB µV²/Hz)")
        self.curve = pg.PlotCurveItem(pen=pg.mkPen((40, 90, 200), width=2), skipFiniteCheck=True)
        self.addItem(self.curve)
        self.getPlotItem().enableAutoRange(False)
        self.setXRange(0, 60)
        self._yrange = _StickyRange()
        self.band_items: list[pg.LinearRegionItem] = []

    def set_bands(
        self,
        bands: dict[str, tuple[float, float]],
        inhibit_bands: dict[str, tuple[float, float]] | None = None,
    ) -> None:
        """Shade the reward feature's bands in green and the inhibited bands in red."""
        for item in self.band_items:
            self.removeItem(item)
        self.band_items = []
        shades = [(name, edges, REWARD) for name, edges in bands.items()]
        shades += [(name, edges, INHIBIT) for name, edges in (inhibit_bands or {}).items()]
        for i, (name, (lo, hi), colour) in enumerate(shades):
            region = pg.LinearRegionItem(
                (lo, hi), movable=False, brush=pg.mkBrush(*colour, 30 + 20 * (i % 2))
            )
            region.setToolTip(f"{name} {lo:g}–{hi:g} Hz")
            region.band = name  # which band it shades, for the legend and tests
            region.inhibit = colour == INHIBIT
            self.addItem(region)
            self.band_items.append(region)

    def set_data(self, freqs: np.ndarray, psd_db: np.ndarray) -> None:
        self.curve.setData(freqs, psd_db)
        shown = psd_db[(freqs <= 60) & np.isfinite(psd_db)] if len(freqs) else psd_db
        if shown.size:
            wanted = self._yrange.update(float(shown.min()), float(shown.max()))
            if wanted is not None:
                self.setYRange(*wanted, padding=0)


class FeatureView(pg.PlotWidget):
    """The feedback feature over time, its threshold, and the rewarded stretches in green."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMenuEnabled(False)
        self.getPlotItem().setLabel("bottom", "session time", units="s")
        self.getPlotItem().setLabel("left", "feedback value")
        self.getPlotItem().enableAutoRange(False)
        self.value = self.plot(pen=pg.mkPen((70, 70, 70), width=1))
        self.rewarded = self.plot(pen=pg.mkPen(REWARD, width=4), connect="finite")
        self.threshold = self.plot(
            pen=pg.mkPen(THRESHOLD, width=2, style=QtCore.Qt.PenStyle.DashLine)
        )
        self.inhibited = self.plot(
            pen=None, symbol="s", symbolSize=3, symbolBrush=INHIBIT, symbolPen=None
        )
        for item in (self.value, self.rewarded, self.threshold):
            item.setClipToView(True)
            item.setDownsampling(auto=True, method="peak")
        self._yrange = _StickyRange()
        self._page = None
        legend = self.getPlotItem().addLegend(offset=(5, 5), labelTextSize="8pt")
        for item, name in (
            (self.value, "feature"),
            (self.rewarded, "rewarded"),
            (self.threshold, "threshold"),
            # the legend draws a scatter's default brush: a sample with the dots' colour
            (
                pg.ScatterPlotItem(symbol="s", size=7, brush=pg.mkBrush(INHIBIT), pen=None),
                "inhibited",
            ),
        ):
            legend.addItem(item, name)
        self.legend = legend
        self.markers: list[pg.InfiniteLine] = []

    def add_marker(self, time_s: float, label: str) -> None:
        """A vertical line at session time ``time_s``, labelled."""
        line = pg.InfiniteLine(
            pos=time_s,
            angle=90,
            pen=pg.mkPen(MARKER, width=1, style=QtCore.Qt.PenStyle.DashLine),
            label=label,
            labelOpts={"position": 0.95, "color": MARKER},
        )
        self.addItem(line)
        self.markers.append(line)

    def clear_markers(self) -> None:
        for line in self.markers:
            self.removeItem(line)
        self.markers = []

    def set_data(self, t, value, threshold, reward, inhibited) -> None:
        self.value.setData(t, value)
        self.rewarded.setData(t, np.where(reward, value, np.nan))
        self.threshold.setData(t, threshold, connect="finite")
        self.inhibited.setData(t[inhibited], value[inhibited])
        # the x axis moves in 10 s pages, not every tick: the axis is laid out 0.1 times a second
        page = (np.floor(t[-1] / 10.0) + 1) * 10.0
        if page != self._page:
            self._page = page
            self.setXRange(max(0.0, page - 60.0), page, padding=0)
        finite = np.concatenate([value, threshold])
        finite = finite[np.isfinite(finite)]
        if finite.size:
            wanted = self._yrange.update(float(finite.min()), float(finite.max()))
            if wanted is not None:
                self.setYRange(*wanted, padding=0)


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
        self._drawn = None
        self.n_blocks = 6  # the protocol's, once it is known
        self._set_range(0)

    def set_target(self, rate: float) -> None:
        self.target.setPos(100 * rate)

    def set_n_blocks(self, n: int) -> None:
        """The protocol's number of blocks: the axis shows them all, and no more."""
        self.n_blocks = max(1, int(n))
        self._set_range(len(self._drawn or ()))

    def _set_range(self, n_drawn: int) -> None:
        self.setXRange(0.4, max(self.n_blocks, n_drawn) + 0.6, padding=0)
        # whole blocks only (a 2-block protocol showed 0.2, 0.4 … 1.8)
        #: the block numbers on the axis
        self.ticks = list(range(1, max(self.n_blocks, n_drawn) + 1))
        self.getPlotItem().getAxis("bottom").setTicks([[(i, str(i)) for i in self.ticks]])

    def set_data(self, blocks: list[dict]) -> None:
        key = [(b["index"], b["reward_rate"]) for b in blocks]
        if key == self._drawn:
            return  # nothing new: no repaint
        self._drawn = key
        xs = [b["index"] for b in blocks]
        hs = [100 * (b["reward_rate"] or 0.0) for b in blocks]
        self.bars.setOpts(x=xs, height=hs)
        self._set_range(len(xs))


class EventFeed:
    """A session observer that passes the session's markers to the plots.

    ``on_event`` runs in the session's thread; a deque's append and popleft are atomic, so
    the GUI thread takes them without a lock.
    """

    KINDS = ("marker", "stream_marker")

    def __init__(self) -> None:
        self._new: deque[dict] = deque()

    def on_event(self, event: dict) -> None:
        if event.get("kind") in self.KINDS:
            self._new.append(event)

    def take(self) -> list[dict]:
        """The markers that came since the last call."""
        out = []
        while self._new:
            out.append(self._new.popleft())
        return out


class _StickyRange:
    """A plot's value range that follows the data with slack, so that it rarely changes.

    It grows at once to show new extremes (with 10 % of margin) and shrinks only when the
    data fill less than half of it: the axis is laid out again a few times, not every tick.
    """

    def __init__(self) -> None:
        self.lo = self.hi = None

    def update(self, lo: float, hi: float) -> tuple[float, float] | None:
        """The new range if it must change for data spanning ``lo``–``hi``, else None."""
        span = max(hi - lo, abs(hi) * 1e-3, 1e-9)
        inside = self.lo is not None and self.lo <= lo and hi <= self.hi
        if inside and (hi - lo) >= 0.5 * (self.hi - self.lo):
            return None
        self.lo, self.hi = lo - 0.1 * span, hi + 0.1 * span
        return self.lo, self.hi


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
    #: a command the practitioner gave in the plots (an inhibit limit) was refused: its text
    error = QtCore.pyqtSignal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        rv = QtWidgets.QVBoxLayout(self)
        rv.setContentsMargins(0, 0, 0, 0)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("scale"))
        self.scale_box = QtWidgets.QComboBox()
        self.scale_box.addItems(["auto", "20", "50", "100", "200", "500", "1000"])
        self.scale_box.setToolTip(
            "µV between channels; auto: from the channels' spread, so that each has its own row"
        )
        self.scale_box.setCurrentText("auto")
        self.scale_box.currentTextChanged.connect(self._scale_changed)
        top.addWidget(self.scale_box)
        top.addWidget(QtWidgets.QLabel("µV   window"))
        self.window_box = QtWidgets.QSpinBox()
        self.window_box.setRange(5, 10)
        self.window_box.setValue(8)
        self.window_box.setSuffix(" s")
        self.window_box.valueChanged.connect(self.window_changed)
        self.window_box.setToolTip("Seconds of signal shown in the traces")
        top.addWidget(self.window_box)
        top.addWidget(QtWidgets.QLabel("   spectrum of"))
        self.spectrum_box = QtWidgets.QComboBox()
        self.spectrum_box.currentIndexChanged.connect(self._spectrum_index_changed)
        self.spectrum_box.setToolTip(
            "The channel whose spectrum is drawn (reward bands green, inhibit bands red)"
        )
        top.addWidget(self.spectrum_box)
        top.addStretch(1)
        rv.addLayout(top)
        self.splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        self.traces_holder = QtWidgets.QStackedWidget()
        self.traces_holder.addWidget(QtWidgets.QLabel("Connect a device to see its signal."))
        self.traces: TracesView | None = None
        # the per-band view beside the traces: tall bars, and the bottom row keeps its width
        top = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        top.addWidget(self.traces_holder)
        self.band_view = BandView()
        self.band_view.limit_changed.connect(self._limit_changed)
        top.addWidget(self.band_view)
        top.setSizes([850, 380])
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 1)
        self.splitter.addWidget(top)
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
        self._trained: list[int] = []
        self.events = EventFeed()
        self._pending_markers: list[dict] = []
        self.session = None

    # --- a device attached ----------------------------------------------------------------
    def attach(self, ch_names) -> TracesView:
        """Show the traces of a newly connected device's channels (and offer its spectra)."""
        self.detach()
        self.traces = TracesView(ch_names)
        self._scale_changed(self.scale_box.currentText())
        self.traces.set_highlight(self._trained)
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
    def set_bands(self, bands, inhibit_bands=None) -> None:
        """The feature's bands and the inhibited bands ({name: (lo, hi) Hz}) on the spectrum."""
        self.spectrum.set_bands(bands, inhibit_bands)

    def new_session(self) -> EventFeed:
        """Clear the markers of the last session; the feed to observe the new one with."""
        self.feature.clear_markers()
        if self.traces is not None:
            self.traces.clear_markers()
        self._pending_markers = []
        self.events = EventFeed()
        return self.events

    def set_session(self, session) -> None:
        """The started :class:`~nfb.session.live.LiveSession` the plots show: its bars on the
        per-band view, whose inhibit limits go to it as ``inhibit_limit`` commands."""
        self.session = session
        self.band_view.start(session)

    def end_session(self) -> None:
        """The session has stopped: its per-band view takes no more limits."""
        self.session = None
        self.band_view.end()

    def _limit_changed(self, name: str, value: float) -> None:
        session = self.session
        if session is None or session.finished:
            self.error.emit("The session has ended: inhibit limits are set during a session.")
            return
        try:
            session.command("inhibit_limit", inhibit=name, value=value)
        except NfbError as err:
            self.error.emit(str(err))

    def set_trained(self, channels) -> None:
        """Highlight the trained channels (indices) on the traces."""
        self._trained = list(channels)
        if self.traces is not None:
            self.traces.set_highlight(self._trained)

    def set_spectrum_channel(self, index: int) -> None:
        """Show the spectrum of channel ``index`` (the one being trained)."""
        self.spectrum_box.setCurrentIndex(index)

    def set_target(self, rate: float) -> None:
        """The protocol's target reward rate (0–1), a line on the block view."""
        self.blocks.set_target(rate)

    def set_n_blocks(self, n: int) -> None:
        """The protocol's number of training blocks, the block view's axis."""
        self.blocks.set_n_blocks(n)

    # --- the 60 Hz feed -------------------------------------------------------------------
    def show_monitor(self, view) -> None:
        """Draw a :class:`~nfb.monitor.MonitorView` (traces and spectrum), once per view."""
        if view is None or self.traces is None or view is self._drawn_view:
            return
        drawn, self._drawn_view = self._drawn_view, view  # redraw only what changed
        if drawn is None or view.newest_index != drawn.newest_index:
            self.traces.set_data(view.times, view.traces)
            if self.traces.markers and len(view.times) > 1:
                dt = float(view.times[1] - view.times[0])
                span = float(view.times[-1] - view.times[0])
                self.traces.set_markers_at(view.newest_index, 1.0 / dt, span)
        if drawn is None or view.psd_db is not drawn.psd_db:  # a new spectrum 4 times a second
            self.spectrum.set_data(view.freqs, view.psd_db)

    def show_frames(self, rows: np.ndarray, snap=None) -> None:
        """Draw the session's newest frame rows (the frame-history columns) on the feature,
        and with its snapshot on the per-band view."""
        if not len(rows):
            return
        if snap is not None:
            self.band_view.set_data(snap, rows)
        col = COLUMN
        self._pending_markers += self.events.take()
        if self._pending_markers:
            self._place_markers(rows)
        value = rows[:, col["value"]]
        self.feature.set_data(
            rows[:, col["time_s"]],
            value,
            rows[:, col["threshold"]],
            rows[:, col["reward"]] > 0,
            rows[:, col["inhibited"]] > 0,
        )

    def _place_markers(self, rows: np.ndarray) -> None:
        # a marker is drawn at the session time of the frame it was recorded at
        index = rows[:, COLUMN["sample_index"]]
        waiting = []
        for event in self._pending_markers:
            at = event.get("sample_index")
            if at is None or at > index[-1]:
                waiting.append(event)  # its frame is not in the history yet
                continue
            i = min(int(np.searchsorted(index, at)), len(index) - 1)
            label = event.get("label") or event.get("kind", "")
            self.feature.add_marker(float(rows[i, COLUMN["time_s"]]), str(label))
            first = self.session.first_stream_index if self.session is not None else None
            if self.traces is not None and first is not None:
                self.traces.add_marker(first + int(at), str(label))
        self._pending_markers = waiting

    def show_blocks(self, blocks: list[dict]) -> None:
        """Draw the reward rate of each training block so far."""
        self.blocks.set_data(blocks)

    def _scale_changed(self, text: str) -> None:
        if self.traces is None:
            return
        if text == "auto":
            self.traces.set_auto_scale(True)
        else:
            self.traces.set_auto_scale(False)
            self.traces.set_scale(float(text))

    def _spectrum_index_changed(self, index: int) -> None:
        if index >= 0:
            self.spectrum_channel_changed.emit(index)
