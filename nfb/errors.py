"""User-facing errors.

Every problem a user can cause (a bad file, an unknown name, a value out of range, a missing
device) is raised as an :class:`NfbError` whose message is one line naming the thing and what
is allowed. The CLI prints that line and exits non-zero, never a traceback.
"""

from __future__ import annotations


class NfbError(Exception):
    """Base class of errors whose message is meant for the user, one line."""

    exit_code = 2


class ConfigError(NfbError):
    """A device profile, protocol or override is invalid."""


class DeviceError(NfbError):
    """A board cannot be opened, or stopped responding."""

    exit_code = 3


class SessionError(NfbError):
    """A session folder is missing, malformed, or cannot be written."""

    exit_code = 4


def one_line(text: object) -> str:
    """``text`` on one line (newlines and runs of spaces collapsed): how a message is shown."""
    return " ".join(str(text).split())


def quoted(text: str, limit: int = 60) -> str:
    """``text`` quoted for a one-line message, cut to its first ``limit`` characters."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"
