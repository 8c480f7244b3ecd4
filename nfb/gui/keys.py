"""Session keys that work whatever has focus, without getting in the way of typing.

Qt gives a key to the focused widget first: after Tab from a rating box Space went to the
spin box (and on a focused button it would *click* that button), and in a text field M typed
an "m". :class:`SessionKeys` is an application-wide event filter for the single-key session
shortcuts (Space: pause/resume, M: marker). It takes them from every widget of the app except
where the practitioner is typing text (a line edit, an editable combo box, a text area),
where the key keeps its meaning. The modified shortcuts (F5, Ctrl+N, Ctrl+.) never collide
with typing and stay ordinary application shortcuts. A modal dialog keeps every key.
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt6 import QtCore, QtGui, QtWidgets

_TEXT_WIDGETS = (QtWidgets.QLineEdit, QtWidgets.QTextEdit, QtWidgets.QPlainTextEdit)


def is_typing_in(widget: QtWidgets.QWidget | None) -> bool:
    """Whether ``widget`` takes free text (a spin box's own line edit does not count)."""
    if isinstance(widget, QtWidgets.QComboBox):
        # an editable combo box (the client's name) has the focus and hands the keys to its
        # line edit: the key is delivered to the combo box itself
        return widget.isEditable()
    if not isinstance(widget, _TEXT_WIDGETS):
        return False
    if isinstance(widget, QtWidgets.QLineEdit) and isinstance(
        widget.parent(), QtWidgets.QAbstractSpinBox
    ):
        return False
    return not getattr(widget, "isReadOnly", lambda: False)()


class SessionKeys(QtCore.QObject):
    """Route single-key session shortcuts to their actions, whatever has focus.

    Parameters
    ----------
    actions : dict
        Key (``QtCore.Qt.Key``) -> callable run on its press (not on auto-repeat).
    parent : QObject
        Owner; the filter is installed on the running QApplication and removed by
        :meth:`remove` (or when the owner is destroyed).
    """

    def __init__(
        self, actions: dict[QtCore.Qt.Key, Callable[[], None]], parent: QtCore.QObject
    ) -> None:
        super().__init__(parent)
        self.actions = dict(actions)
        self._by_code = {int(key.value): fn for key, fn in self.actions.items()}
        self._app = QtWidgets.QApplication.instance()
        self._app.installEventFilter(self)

    def remove(self) -> None:
        """Stop routing keys (the console is closing)."""
        if self._app is not None:
            self._app.removeEventFilter(self)
            self._app = None

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:
        kind = event.type()
        if kind not in (QtCore.QEvent.Type.KeyPress, QtCore.QEvent.Type.KeyRelease):
            return False
        if not isinstance(obj, QtWidgets.QWidget) or not isinstance(event, QtGui.QKeyEvent):
            return False
        # an int, not Qt.Key(...): a dead key or an input method's event has key() 0, which
        # is no member of the enum
        action = self._by_code.get(event.key())
        if action is None:
            return False
        if event.modifiers() & ~QtCore.Qt.KeyboardModifier.KeypadModifier:
            return False
        if QtWidgets.QApplication.activeModalWidget() is not None:
            return False  # a dialog's own buttons answer to Space
        # the widget the key is delivered to (the focused one, or the one a test or an
        # accessibility tool sends it to) decides whether it is typing
        if is_typing_in(obj):
            return False
        # the release is taken too: a focused button clicks on Space's release
        if kind == QtCore.QEvent.Type.KeyPress and not event.isAutoRepeat():
            action()
        return True
