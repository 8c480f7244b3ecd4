"""nfb: an open neurofeedback workstation.

The engine (acquisition, DSP, protocol, reward, session) is headless and never imports Qt;
the CLI, the tests and the GUI drive the same engine. Supervised use; not a medical device.
"""

import warnings

from ._logging import set_log_level
from ._version import __version__

# BrainFlow on Python 3.11 loads its library through pkg_resources, which warns on every
# import (setuptools 80-81, the last with it: pyproject.toml); the user can do nothing about it
warnings.filterwarnings(
    "ignore", message="pkg_resources is deprecated", category=UserWarning, module=r"brainflow\."
)

__all__ = ["__version__", "list_sessions", "read_session", "set_log_level", "summary_table"]


def __getattr__(name: str):
    # Lazy so that ``import nfb`` stays cheap (MNE is slow to import).
    if name == "read_session":
        from .session.store import read_session

        return read_session
    if name == "list_sessions":
        from .session.store import list_sessions

        return list_sessions
    if name == "summary_table":
        from .session.summary import summary_table

        return summary_table
    raise AttributeError(f"module 'nfb' has no attribute {name!r}")
