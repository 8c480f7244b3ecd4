"""Lifetimes of Qt objects: who deletes a window, its plots and its garbage, and in which thread.

PyQt wraps every Qt object in a Python object. When such wrappers become garbage in a
reference cycle, Python's cyclic collector frees them in an arbitrary order, and it runs in
whichever thread happens to allocate at that moment (the acquisition thread, a worker). For a
pyqtgraph plot that is still part of a live widget tree, that means an item deleted while its
layout still points at it: the next layout request runs on freed memory (the segfault of
issue 10: ``LabelItem.resizeEvent`` on a deleted ``QGraphicsTextItem``, then
``QGridLayoutEngine::setGeometries`` on a freed item). Two rules prevent it:

1. **Windows are torn down by Qt, not by the garbage collector.** :func:`delete_now` deletes
   a window (its plots with it, each scene deleting its own items in order) in the GUI
   thread while the caller still holds the Python references.
2. **Cyclic garbage is collected in the GUI thread only** while the app runs
   (:class:`GuiThreadCollector`), so no Qt object is ever destroyed from another thread.
"""

from __future__ import annotations

import gc

from PyQt6 import QtCore


class GuiThreadCollector(QtCore.QObject):
    """Run Python's cyclic garbage collector from a timer in the GUI thread.

    Automatic collection is switched off while this runs; every ``interval_ms`` the collector
    does what the automatic one would have done by then (the same per-generation thresholds),
    so memory is bounded exactly as before, but a collection never starts in another thread.

    Parameters
    ----------
    interval_ms : int
        How often the allocation counts are checked (cheap when nothing is due).
    parent : QObject | None
        Owner of the collector (the application).
    """

    def __init__(self, interval_ms: int = 250, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(int(interval_ms))
        self._timer.timeout.connect(self.collect_due)
        self._was_enabled = False
        self.collections = [0, 0, 0]

    @property
    def running(self) -> bool:
        """Whether collection is in the GUI thread's hands."""
        return self._timer.isActive()

    def start(self) -> None:
        """Take over collection (automatic collection off)."""
        if self.running:
            return
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        """Hand collection back to Python (automatic again, if it was before)."""
        if not self.running:
            return
        self._timer.stop()
        if self._was_enabled:
            gc.enable()

    def collect_due(self) -> None:
        """Collect the generations whose thresholds have been passed (youngest first)."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in range(3):
            if counts[generation] <= thresholds[generation]:
                break
            gc.collect(generation)
            self.collections[generation] += 1


def delete_now(*objects: QtCore.QObject | None) -> None:
    """Delete Qt objects now, in the GUI thread, with the deferred deletes they cause.

    ``deleteLater`` alone waits for the event loop, and a loop that has returned never runs
    it again: without the flush, the objects would be left to the garbage collector.
    """
    for obj in objects:
        if obj is None:
            continue
        try:
            obj.deleteLater()
        except RuntimeError:  # already deleted
            continue
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete.value)
