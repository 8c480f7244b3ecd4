"""Session reports and client trends as self-contained HTML (``nfb report``).

- :mod:`~nfb.report.metrics`: the numbers (per block, per session, band powers), reusable.
- :mod:`~nfb.report.figures`: Matplotlib figures (Agg, never Qt) as PNG bytes.
- :mod:`~nfb.report.html`: the page, inline CSS, images as data URIs, escaped text.
- :func:`build_session_report`, :func:`build_trends_report`: the two documents;
  :func:`write_report` writes one atomically with mode 0600.
"""

from __future__ import annotations

from .course import build_course_report
from .metrics import block_metrics, session_metrics
from .session_report import build_session_report
from .trends import build_trends_report, client_trends, trend_series
from .writer import write_report

__all__ = [
    "block_metrics",
    "build_course_report",
    "build_session_report",
    "build_trends_report",
    "client_trends",
    "session_metrics",
    "trend_series",
    "write_report",
]
