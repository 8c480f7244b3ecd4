"""The console's "Find streams" control: the LSL streams on the network, to pick from.

The console resolves the streams off the GUI thread (liblsl listens for a second) and hands
the list to :meth:`StreamFinder.show_streams`; picking one emits :attr:`StreamFinder.chosen`
with what the stream field takes to name exactly that stream
(:attr:`nfb.lsl_source.StreamListing.spec`).
"""

from __future__ import annotations

from PyQt6 import QtCore, QtWidgets


class StreamFinder(QtWidgets.QWidget):
    """A "Find streams" button and the list of the streams found.

    Signals
    -------
    find_requested()
        The button was pressed: resolve the streams, then call :meth:`show_streams`.
    chosen(str)
        A stream was picked: its ``--stream`` spec (``name=...``).
    """

    find_requested = QtCore.pyqtSignal()
    chosen = QtCore.pyqtSignal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.button = QtWidgets.QPushButton("Find streams")
        self.button.setToolTip(
            "List the LSL streams on the network (name, type, channels, rate, source and "
            "computer); choosing one fills in the stream field"
        )
        self.button.clicked.connect(self._find)
        self.box = QtWidgets.QComboBox()
        self.box.setPlaceholderText("streams on the network")
        self.box.setToolTip("The LSL streams found; choose one to use it")
        self.box.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.box.setMinimumContentsLength(12)
        self.box.activated.connect(self._activated)
        self.streams: list = []
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.box, 1)
        row.addWidget(self.button)

    def _find(self) -> None:
        self.button.setEnabled(False)
        self.button.setText("Looking…")
        self.find_requested.emit()

    def show_streams(self, streams) -> None:
        """Show the streams found (:func:`nfb.lsl_source.list_streams`), or that none were."""
        self.button.setEnabled(True)
        self.button.setText("Find streams")
        self.streams = list(streams)
        self.box.clear()
        for s in self.streams:
            self.box.addItem(s.describe())
            self.box.setItemData(
                self.box.count() - 1, s.describe(), QtCore.Qt.ItemDataRole.ToolTipRole
            )
        self.box.setPlaceholderText(
            f"{len(self.streams)} stream{'s' * (len(self.streams) != 1)} found: choose one"
            if self.streams
            else "no LSL stream found on the network"
        )
        self.box.setCurrentIndex(-1)

    def search_failed(self) -> None:
        """The search ended in an error (the console shows it): the button is back."""
        self.button.setEnabled(True)
        self.button.setText("Find streams")

    def _activated(self, index: int) -> None:
        if 0 <= index < len(self.streams) and self.streams[index].spec:
            self.chosen.emit(self.streams[index].spec)
