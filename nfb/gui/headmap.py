"""A head seen from above with each electrode at its 10-20 place, coloured by its impedance.

The positions are those of the montage nfb uses for 10-20 labels (:mod:`nfb.montage`, MNE's
template), projected as MNE's topomaps do (azimuthal equidistant: the angle from the top of
the head becomes the distance from the centre; the ring through Fpz, T7, Oz and T8 is the
head's outline). A label without a 10-20 position (a Ganglion's reference, an EOG channel)
is drawn in a row under the head. Each electrode shows its verdict as its colour (good /
check / bad, the thresholds of :mod:`nfb.impedance`; grey before it is measured) and its kΩ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PyQt6 import QtCore, QtGui, QtWidgets

from .. import montage

#: Fill colour of each verdict; ``None`` is an electrode not measured.
VERDICT_COLOURS = {"good": "#2e9e4f", "check": "#e8a317", "bad": "#d23c32", None: "#b4b4b4"}
#: Text of each verdict in the map's legend.
VERDICT_NAMES = {"good": "good", "check": "check", "bad": "bad", None: "not measured"}


@dataclass(frozen=True)
class MapElectrode:
    """One electrode as the map draws it.

    Attributes
    ----------
    name : str
        Its label.
    xy : tuple of float | None
        Position on the unit head (x to the right ear, y to the nose; the outline has radius
        1), None without a 10-20 position.
    kohm : float | None
        Impedance in kΩ (``inf`` without contact), None if not measured.
    verdict : str | None
        ``good``, ``check``, ``bad``, or None if not measured.
    """

    name: str
    xy: tuple[float, float] | None
    kohm: float | None = None
    verdict: str | None = None

    @property
    def text(self) -> str:
        """The value under the electrode: ``"4.0 kΩ"``, ``"∞"`` without contact, ``"—"``."""
        if self.kohm is None:
            return "—"
        return "∞" if math.isinf(self.kohm) else f"{self.kohm:.1f} kΩ"


@lru_cache(maxsize=1)
def _projected() -> dict[str, tuple[float, float]]:
    pos = montage.standard_montage().get_positions()["ch_pos"]
    p = {name.lower(): np.asarray(v, dtype=float) for name, v in pos.items()}
    ring = [p["fpz"], p["oz"], p["t7"], p["t8"]]
    centre = np.array(
        [
            (p["t7"][0] + p["t8"][0]) / 2,
            (p["fpz"][1] + p["oz"][1]) / 2,
            np.mean([q[2] for q in ring]),
        ]
    )
    out = {}
    for name, v in p.items():
        d = v - centre
        theta = math.acos(max(-1.0, min(1.0, d[2] / np.linalg.norm(d))))  # from the top
        phi = math.atan2(d[1], d[0])
        r = theta / (math.pi / 2)
        out[name] = (r * math.cos(phi), r * math.sin(phi))
    return out


def head_position(label: str) -> tuple[float, float] | None:
    """Where a 10-20 label sits on the unit head (see :class:`MapElectrode`), or None."""
    return _projected().get(label.strip().lower())


class HeadMap(QtWidgets.QWidget):
    """The head map of the console's impedance panel.

    :meth:`set_electrodes` places a device's electrodes (all grey: not measured);
    :meth:`set_impedance` colours them with a result (and adds electrodes the result has
    beyond them, such as a Ganglion's reference). :attr:`electrodes` is what is drawn.
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._electrodes: list[MapElectrode] = []
        self.setMinimumSize(200, 240)
        self.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Expanding
        )
        self.setToolTip("Electrodes from above (nose at the top), coloured by impedance")

    @property
    def electrodes(self) -> list[MapElectrode]:
        """The electrodes drawn, in order."""
        return list(self._electrodes)

    def electrode(self, name: str) -> MapElectrode:
        """The electrode of that label (KeyError if it is not on the map)."""
        for e in self._electrodes:
            if e.name == name:
                return e
        raise KeyError(name)

    def set_electrodes(self, names) -> None:
        """Show these electrodes, not measured."""
        self._electrodes = [MapElectrode(n, head_position(n)) for n in names]
        self.update()

    def set_impedance(self, result, names=None) -> None:
        """Colour the electrodes with an impedance result.

        Parameters
        ----------
        result : list of ElectrodeImpedance
            What :func:`nfb.impedance.measure` returned.
        names : sequence of str | None
            The device's electrodes (those not in ``result`` stay grey); default the
            electrodes on the map, else those of ``result``.
        """
        by_name = {r.name: r for r in result}
        order = list(names) if names is not None else [e.name for e in self._electrodes]
        order += [r.name for r in result if r.name not in order]
        self._electrodes = [
            MapElectrode(
                n,
                head_position(n),
                by_name[n].kohm if n in by_name else None,
                by_name[n].verdict if n in by_name else None,
            )
            for n in order
        ]
        self.update()

    # --- geometry -----------------------------------------------------------------------------
    def _head(self) -> tuple[QtCore.QPointF, float, float]:
        """Centre and radius of the head's outline, and the y of the row of other labels."""
        w, h = self.width(), self.height()
        legend = 36.0
        others = any(e.xy is None for e in self._electrodes)
        below = 46.0 if others else 0.0
        r = max(20.0, min(w / 2 - 34, (h - legend - below - 30) / 2.2))
        centre = QtCore.QPointF(w / 2, 14 + 1.1 * r)
        return centre, r, centre.y() + 1.1 * r + 26

    def electrode_centre(self, name: str) -> QtCore.QPointF:
        """The centre of an electrode's dot, in widget pixels."""
        centre, r, row_y = self._head()
        e = self.electrode(name)
        if e.xy is not None:
            return QtCore.QPointF(centre.x() + e.xy[0] * r, centre.y() - e.xy[1] * r)
        others = [o.name for o in self._electrodes if o.xy is None]
        step = min(70.0, (self.width() - 20) / max(1, len(others)))
        x0 = self.width() / 2 - step * (len(others) - 1) / 2
        return QtCore.QPointF(x0 + step * others.index(name), row_y)

    def dot_radius(self) -> float:
        """Radius of an electrode's dot, in pixels."""
        _, r, _ = self._head()
        return max(6.0, min(11.0, r / 9))

    # --- drawing ------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        painter = QtGui.QPainter(self)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QtGui.QColor("white"))
        centre, r, _ = self._head()
        outline = QtGui.QPen(QtGui.QColor("#555555"), 2)
        painter.setPen(outline)
        painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        cx, cy = centre.x(), centre.y()
        nose = QtGui.QPolygonF(
            [
                QtCore.QPointF(cx - 0.12 * r, cy - 0.99 * r),
                QtCore.QPointF(cx, cy - 1.12 * r),
                QtCore.QPointF(cx + 0.12 * r, cy - 0.99 * r),
            ]
        )
        painter.drawPolyline(nose)
        for side in (-1, 1):  # the ears
            painter.drawEllipse(
                QtCore.QRectF(cx + side * 1.04 * r - 0.07 * r, cy - 0.2 * r, 0.14 * r, 0.4 * r)
            )
        painter.setBrush(QtGui.QColor("white"))
        painter.drawEllipse(centre, r, r)
        dot = self.dot_radius()
        font = painter.font()
        font.setPointSizeF(max(6.5, min(9.0, dot * 0.8)))
        painter.setFont(font)
        metrics = QtGui.QFontMetricsF(font)
        for e in self._electrodes:
            p = self.electrode_centre(e.name)
            painter.setPen(QtGui.QPen(QtGui.QColor("#333333"), 1))
            painter.setBrush(QtGui.QColor(VERDICT_COLOURS[e.verdict]))
            painter.drawEllipse(p, dot, dot)
            painter.setPen(QtGui.QColor("black"))
            for text, dy in ((e.name, -dot - 2), (e.text, dot + 2 + metrics.ascent())):
                width = metrics.horizontalAdvance(text)
                painter.drawText(QtCore.QPointF(p.x() - width / 2, p.y() + dy), text)
        self._draw_legend(painter, metrics)
        painter.end()

    def _draw_legend(self, painter: QtGui.QPainter, metrics: QtGui.QFontMetricsF) -> None:
        widths = [13 + metrics.horizontalAdvance(n) + 12 for n in VERDICT_NAMES.values()]
        two_rows = 8 + sum(widths) > self.width()
        y = self.height() - (24.0 if two_rows else 10.0)
        x = 8.0
        for (verdict, name), width in zip(VERDICT_NAMES.items(), widths, strict=True):
            if two_rows and x > 8 and x + width > self.width():
                x, y = 8.0, y + 15
            painter.setPen(QtGui.QPen(QtGui.QColor("#333333"), 1))
            painter.setBrush(QtGui.QColor(VERDICT_COLOURS[verdict]))
            painter.drawEllipse(QtCore.QPointF(x + 5, y - 4), 5, 5)
            painter.setPen(QtGui.QColor("black"))
            painter.drawText(QtCore.QPointF(x + 13, y), name)
            x += width
