"""The per-band view, as on EEGer or BioExplorer: a bar for the reward feature and each inhibit.

Each bar shows its live value, its threshold (the reward feature) or limit (an inhibit) as a
line, and the share of the recent frames that were rewarded (the feature) or inhibited (each
inhibit), green while rewarded and red while the inhibit is on. An inhibit's limit is dragged
on its bar or typed in the spin box under it; each change is passed on as
:attr:`BandView.limit_changed`, which the console sends to the session as an
``inhibit_limit`` command (recorded, replayed). The view draws what the session gives it (its
:class:`~nfb.session.runner.Snapshot` and frame rows): no engine logic, and its refresh only
sets data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtGui, QtWidgets

from ..reward import LIMIT_UNITS

REWARD_ON = (60, 180, 90)
REWARD_OFF = (170, 200, 175)
INHIBIT_ON = (210, 50, 50)
INHIBIT_OFF = (150, 160, 190)
LINE = (230, 150, 40)
_BRUSHES = {
    c: QtGui.QBrush(QtGui.QColor(*c)) for c in (REWARD_ON, REWARD_OFF, INHIBIT_ON, INHIBIT_OFF)
}
#: Seconds of recent frames the percentages are taken over.
WINDOW_S = 10.0
#: The bars are drawn at every EVERY-th refresh of the console (30 a second at 60 Hz).
EVERY = 2
#: The numbers, shares and ranges are written at every WRITE_EVERY-th drawing (6 a second).
WRITE_EVERY = 5
#: Writings a bar's range stays too wide before it shrinks (about 3 s).
SHRINK_TICKS = 18


def inhibit_label(name: str) -> str:
    """A display name of an inhibit (``band_high_beta`` -> ``high beta``)."""
    return name.removeprefix("band_").replace("_", " ")


class _Range:
    """A bar's value range: grows at once to show its values and line, shrinks only after
    they have stayed in less than a third of it for :data:`SHRINK_TICKS` updates.

    An inhibit's range starts at 0 (a limit is a level above nothing); the reward feature's
    spans its recent values, so that a threshold a little under the feature stays visible.
    """

    def __init__(self, from_zero: bool) -> None:
        self.from_zero = from_zero
        self.lo, self.hi = 0.0, 1.0 if from_zero else 0.0
        self._small = 0

    def _fit(self, lo: float, hi: float) -> tuple[float, float]:
        margin = 0.25 * max(hi - lo, abs(hi) * 1e-3, 1e-9)
        self.lo = 0.0 if self.from_zero and lo >= 0 else lo - margin
        self.hi = hi + 1.6 * margin  # room for the text at the top
        return self.lo, self.hi

    def update(self, *values: float) -> tuple[float, float] | None:
        v = [x for x in values if x is not None and math.isfinite(x)]
        if not v:
            return None
        lo, hi = (min([0.0, *v]), max([0.0, *v])) if self.from_zero else (min(v), max(v))
        if lo < self.lo or hi > self.hi:
            self._small = 0
            return self._fit(lo, hi)
        if (hi - lo) < (self.hi - self.lo) / 3:
            self._small += 1
            if self._small >= SHRINK_TICKS:
                self._small = 0
                return self._fit(lo, hi)
        else:
            self._small = 0
        return None


@dataclass
class _Bar:
    name: str  # "reward" or the inhibit's name
    unit: str
    plot: pg.PlotWidget
    bar: QtWidgets.QGraphicsRectItem  # a plain rectangle: setRect is all a new value costs
    line: pg.InfiniteLine
    label: pg.TextItem  # the value and the share, at the top of the bar's plot
    spin: QtWidgets.QDoubleSpinBox | None
    range: _Range
    drawn: tuple = ()
    #: a limit the practitioner set that the session has not reported back yet, and for how
    #: many more refreshes it is shown instead of the session's
    wanted: float | None = None
    wanted_ticks: int = 0


class BandView(QtWidgets.QWidget):
    """Bars for the reward feature and each adjustable inhibit of a session.

    :meth:`start` builds the bars for a live session, :meth:`set_data` (the console's 60 Hz
    refresh) draws its newest snapshot and frame rows.
    """

    #: an inhibit's name and the limit the practitioner set (in its own unit)
    limit_changed = QtCore.pyqtSignal(str, float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setToolTip(
            "Per-band view: the reward feature and each inhibit, with its threshold or limit "
            f"and the share of the last {WINDOW_S:g} s rewarded or inhibited"
        )
        self.row = QtWidgets.QHBoxLayout(self)
        self.row.setContentsMargins(2, 2, 2, 2)
        self.row.setSpacing(4)
        self.placeholder = QtWidgets.QLabel("Start a session to see\nits reward and inhibits.")
        self.placeholder.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.row.addWidget(self.placeholder)
        self.bars: dict[str, _Bar] = {}
        self._flag_cols: list[int] = []
        self._value_col = 0
        self._n_recent = 1
        self._tick = 0
        #: the (snapshot, rows) the bars and their numbers show (None before the first)
        self.drawn = self.written = None

    # --- a session started -----------------------------------------------------------------
    def start(self, session) -> None:
        """Build the bars of a :class:`~nfb.session.live.LiveSession` (its reward feature and
        the inhibits whose limits it reports)."""
        runner = session.runner
        fb = session.protocol.data["feedback"]
        band_unit = "µV" if fb["measure"] == "amplitude" else "µV²"
        names = [c for c, _ in runner.columns]
        self.clear()
        self.placeholder.hide()
        arrow = "↑" if fb["direction"] == "up" else "↓"
        self._value_col = names.index("value")
        self._add_bar("reward", f"{fb['feature']} {arrow}", "", names.index("reward"))
        for name in runner.inhibit_limits:
            what, unit, side = LIMIT_UNITS["band" if name.startswith("band_") else name]
            unit = band_unit if name.startswith("band_") else unit
            bar = self._add_bar(name, inhibit_label(name), unit, names.index(f"inhibit_{name}"))
            bar.plot.setToolTip(
                f"{inhibit_label(name)} inhibit: the {what} against its limit (the line; drag "
                f"it to change the limit); inhibited {side} it"
            )
        self._n_recent = max(1, round(WINDOW_S * runner.frame_rate))

    def end(self) -> None:
        """The session has ended: the bars stay for a look, their limits no longer change."""
        for bar in self.bars.values():
            if bar.spin is not None:
                bar.spin.setEnabled(False)
                bar.spin.setToolTip("The session has ended: limits are set during a session")
            bar.line.setMovable(False)

    def clear(self) -> None:
        """Remove the bars (no session)."""
        for bar in self.bars.values():
            for w in (bar.plot, bar.spin):
                if w is not None:
                    w.setParent(None)
                    w.deleteLater()
        while self.row.count() > 1:
            self.row.takeAt(1)
        self.bars = {}
        self._flag_cols = []
        self.placeholder.show()

    def _add_bar(self, name: str, title: str, unit: str, flag_col: int) -> _Bar:
        inhibit = name != "reward"
        col = QtWidgets.QVBoxLayout()
        col.setSpacing(1)
        plot = pg.PlotWidget()
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        item = plot.getPlotItem()
        item.setTitle(title, size="8pt")
        item.hideAxis("bottom")
        item.hideAxis("left")  # narrow bars: the value is written on each
        item.enableAutoRange(False)
        plot.setXRange(-0.5, 0.5, padding=0)
        plot.setMinimumWidth(58)
        bar = QtWidgets.QGraphicsRectItem(-0.3, 0.0, 0.6, 0.0)
        pen = QtGui.QPen(QtGui.QColor(60, 60, 60))
        pen.setCosmetic(True)
        bar.setPen(pen)
        bar.setBrush(_BRUSHES[INHIBIT_OFF])
        plot.addItem(bar)
        line = pg.InfiniteLine(
            pos=0.0,
            angle=0,
            movable=inhibit,
            pen=pg.mkPen(LINE, width=3),
            hoverPen=pg.mkPen(LINE, width=5),
        )
        line.setVisible(False)
        plot.addItem(line)
        # a text item, not a QLabel: a label's new text would lay the console out again
        label = pg.TextItem("", color=(20, 20, 20), anchor=(0.5, 0.0))
        label.setFont(QtGui.QFont(label.textItem.font().family(), 8))
        label.setPos(0.0, 1.0)
        plot.addItem(label, ignoreBounds=True)
        col.addWidget(plot, 1)
        spin = None
        if inhibit:
            spin = QtWidgets.QDoubleSpinBox()
            spin.setRange(0.01, 1e5)
            spin.setDecimals(2)
            spin.setStepType(QtWidgets.QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
            spin.setKeyboardTracking(False)  # a change is sent on Enter, not at each digit
            # narrow bars: no arrows (the arrow keys step it), and it shrinks with its bar
            spin.setButtonSymbols(QtWidgets.QAbstractSpinBox.ButtonSymbols.NoButtons)
            spin.setSizePolicy(
                QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed
            )
            spin.setEnabled(False)
            spin.setToolTip(
                f"The {inhibit_label(name)} inhibit's limit ({unit or 'the band value'}): type "
                "it and press Enter, or step it with the arrow keys"
            )
            spin.valueChanged.connect(lambda v, n=name: self._spin_changed(n, v))
            col.addWidget(spin)
            line.sigPositionChangeFinished.connect(lambda ln, n=name: self._dragged(n, ln))
        else:
            plot.setToolTip(
                "The reward feature against its threshold (the line); below it the share of "
                f"the last {WINDOW_S:g} s rewarded"
            )
            holder = QtWidgets.QWidget()  # as tall as the boxes: the plots line up
            holder.setFixedHeight(QtWidgets.QDoubleSpinBox().sizeHint().height())
            col.addWidget(holder)
        self.row.addLayout(col, 1)
        b = _Bar(name, unit, plot, bar, line, label, spin, _Range(from_zero=inhibit))
        self.bars[name] = b
        self._flag_cols.append(flag_col)
        return b

    # --- the practitioner sets a limit ---------------------------------------------------
    def set_limit(self, name: str, value: float) -> None:
        """Set inhibit ``name``'s limit (> 0) as the practitioner would: shown at once and
        passed on as :attr:`limit_changed`."""
        bar = self.bars[name]
        if not (math.isfinite(value) and value > 0):
            return
        bar.wanted, bar.wanted_ticks = float(value), 60
        bar.line.setPos(float(value))
        self.limit_changed.emit(name, float(value))

    def _dragged(self, name: str, line: pg.InfiniteLine) -> None:
        value = float(line.value())
        if value <= 0:  # dragged below zero: the smallest limit the spin box allows
            value = self.bars[name].spin.minimum()
        self.set_limit(name, value)

    def _spin_changed(self, name: str, value: float) -> None:
        self.set_limit(name, value)  # the refresh sets the box with its signals blocked

    # --- the 60 Hz feed -----------------------------------------------------------------
    def set_data(self, snap, rows: np.ndarray) -> None:
        """Draw a session snapshot and its newest frame rows (``session.runner.columns``)."""
        if not self.bars or not len(rows):
            return
        self._tick += 1
        if self._tick % EVERY:
            return  # the bars move at half the console's rate: a repaint of each costs
        self.drawn = (snap, rows)  # what the bars show now
        # the numbers, shares and ranges change WRITE_EVERY times less often: a number that
        # changes 30 times a second cannot be read, and laying out a text costs
        write = self._tick % (EVERY * WRITE_EVERY) == 0
        flags = rows[-1, self._flag_cols] > 0
        shares = spread = None
        if write:
            self.written = (snap, rows)
            shares = 100.0 * rows[-self._n_recent :, self._flag_cols].mean(axis=0)
            # the feature's recent spread sets its bar's range (a few rows: cheap)
            values = rows[-self._n_recent :: 8, self._value_col]
            values = values[np.isfinite(values)]
            spread = (float(values.min()), float(values.max())) if values.size else ()
        for k, bar in enumerate(self.bars.values()):
            text = None
            if bar.name == "reward":
                value, limit = snap.value, snap.threshold
                brush = REWARD_ON if flags[k] else REWARD_OFF
                if write:
                    text = f"rew. {shares[k]:.0f} %"
            else:
                value = snap.inhibit_values.get(bar.name, math.nan)
                limit = snap.inhibit_limits.get(bar.name)
                brush = INHIBIT_ON if flags[k] else INHIBIT_OFF
                if write:
                    text = f"inh. {shares[k]:.0f} %"
                if bar.wanted is not None:
                    bar.wanted_ticks -= 1
                    if limit == bar.wanted or bar.wanted_ticks <= 0:
                        bar.wanted = None
                    else:
                        limit = bar.wanted
            limit = limit if limit is not None and math.isfinite(limit) else None
            self._draw(bar, value, limit, brush)
            if write:
                self._write(bar, value, limit, text, spread if bar.name == "reward" else ())

    def _draw(self, bar: _Bar, value: float, limit: float | None, brush) -> None:
        height = value if math.isfinite(value) else 0.0
        key = (height, limit, brush)
        if key == bar.drawn:
            return  # nothing new: no repaint
        old = bar.drawn
        bar.drawn = key
        if not old or old[0] != height:
            bar.bar.setRect(-0.3, min(0.0, height), 0.6, abs(height))  # from 0 to the value
        if not old or old[2] != brush:
            bar.bar.setBrush(_BRUSHES[brush])
        if limit is None:
            bar.line.setVisible(False)
        elif not bar.line.moving:  # never pulled from under the practitioner's mouse
            if not bar.line.isVisible():
                bar.line.setVisible(True)
            if bar.line.value() != limit:
                bar.line.setPos(limit)
        if bar.spin is not None and (not old or old[1] != limit):
            bar.spin.setEnabled(limit is not None)
            shown = round(limit, bar.spin.decimals()) if limit is not None else None
            if shown is not None and not bar.spin.hasFocus() and bar.spin.value() != shown:
                bar.spin.blockSignals(True)
                bar.spin.setValue(limit)
                bar.spin.blockSignals(False)

    def _write(self, bar: _Bar, value: float, limit: float | None, text: str, spread) -> None:
        value_text = f"{value:.3g}" if math.isfinite(value) else "—"
        full = f"{value_text} {bar.unit}".strip() + f"\n{text}"
        if bar.label.toPlainText() != full:
            bar.label.setText(full)
        wanted = bar.range.update(value if math.isfinite(value) else 0.0, limit, *spread)
        if wanted is not None:
            bar.plot.setYRange(*wanted, padding=0)
            bar.label.setPos(0.0, wanted[1])
