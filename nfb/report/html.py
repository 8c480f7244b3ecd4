"""The report's HTML: one self-contained page (inline CSS, images as data URIs, no script).

Every piece of text that comes from a session (client id, notes, marker notes, protocol
names) goes through :func:`esc`; the helpers below take plain text and escape it, and take
already-built HTML only through arguments named ``html``.
"""

from __future__ import annotations

import base64
import html as _html
import math
from collections.abc import Iterable, Sequence
from typing import Any

from .._version import __version__
from .figures import COLORS

FOOTER = (
    "nfb is not a medical device. This report supports supervised neurofeedback sessions; "
    "it is not a diagnosis and not a basis for treatment decisions."
)

#: Colours shared with the figures, as CSS variables.
_ROOT = (
    ":root { --text: #2b2f36; --muted: #6b7280; --line: #e3e6ea; --card: #f7f8fa; "
    f"--accent: #2f4b7c; --reward: {COLORS['reward']}; --inhibit: {COLORS['inhibit']}; "
    f"--threshold: {COLORS['threshold']}; }}"
)
CSS = (
    _ROOT
    + """
* { box-sizing: border-box; }
body { margin: 0; background: #eef0f3; color: var(--text);
  font: 15px/1.5 -apple-system, "Segoe UI", "Helvetica Neue", "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1080px; margin: 24px auto; background: #fff; padding: 32px 40px 24px;
  border-radius: 10px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
h1 { font-size: 24px; margin: 0 0 2px; letter-spacing: -.01em; }
h2 { font-size: 18px; margin: 0 0 10px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 14px 0 6px; }
.subtitle { color: var(--muted); margin: 0 0 18px; }
section { margin: 26px 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 16px 20px; display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px 24px; }
.card div { min-width: 0; overflow-wrap: anywhere; }
.card .k { display: block; font-size: 12px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .04em; }
.card .v { font-size: 16px; font-weight: 600; }
.stat-good { color: var(--reward); }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; margin: 6px 0; }
table.kv { width: auto; min-width: 45%; }
table.kv tbody th { background: none; font-weight: 500; color: var(--muted); }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
.scroll { overflow-x: auto; }
td:first-child { white-space: nowrap; }
th { background: var(--card); font-weight: 600; color: #3d434c; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; display: block; margin: 6px 0; }
.note { background: #fff8ec; border-left: 4px solid var(--threshold); padding: 8px 12px;
  margin: 8px 0; border-radius: 4px; }
.missing { color: var(--muted); font-style: italic; }
.legend span { display: inline-block; margin-right: 16px; font-size: 13px; color: var(--muted); }
.legend i { display: inline-block; width: 14px; height: 10px; margin-right: 5px;
  vertical-align: baseline; border-radius: 2px; }
.tag { display: inline-block; font-size: 12px; padding: 0 7px; border-radius: 9px;
  background: #e9ecef; color: #3d434c; }
.tag.flagged { background: #6b7280; color: #fff; }
.status-complete { background: #e3f4ea; color: #1e6b3e; }
.status-stopped, .status-recovered, .status-interrupted { background: #fff1dc; color: #8a5300; }
.status-failed { background: #fde4e4; color: #9b1c1c; }
footer { margin-top: 30px; padding-top: 12px; border-top: 1px solid var(--line);
  font-size: 12.5px; color: var(--muted); }
.notes { white-space: pre-wrap; background: var(--card); border: 1px solid var(--line);
  border-radius: 6px; padding: 10px 14px; }
"""
)


def esc(text: Any) -> str:
    """HTML-escape any value's text (quotes too, so it is safe inside attributes)."""
    return _html.escape(str(text), quote=True)


def fmt(value: Any, digits: int = 1, unit: str = "") -> str:
    """Format a number for a table (``—`` when missing); returns escaped text."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return esc(f"{value}{unit}")
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 10 ** -(digits + 1)):
            return esc(f"{value:.{digits + 1}g}{unit}")
        return esc(f"{value:.{digits}f}{unit}")
    return esc(f"{value}{unit}")


def duration(seconds: float | None) -> str:
    """``12 min 05 s`` / ``45 s``."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    seconds = round(seconds)
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


def img(png: bytes, alt: str) -> str:
    """An ``<img>`` with the PNG embedded as a base64 data URI."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    numeric: Sequence[int] = (),
    table_id: str | None = None,
    row_attrs: Sequence[str] | None = None,
    compact: bool = False,
) -> str:
    """A table from escaped cell HTML (use :func:`fmt`/:func:`esc` to build the cells).

    ``row_attrs`` holds extra attribute HTML per row (``data-...``), already escaped;
    ``compact`` sizes the table to its content (key/value lists).
    """
    num = set(numeric)
    head = "".join(
        f'<th class="num">{esc(h)}</th>' if i in num else f"<th>{esc(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = []
    for r, cells in enumerate(rows):
        attrs = f" {row_attrs[r]}" if row_attrs is not None and row_attrs[r] else ""
        tds = "".join(
            f'<td class="num">{c}</td>' if i in num else f"<td>{c}</td>"
            for i, c in enumerate(cells)
        )
        body.append(f"<tr{attrs}>{tds}</tr>")
    ident = f' id="{esc(table_id)}"' if table_id else ""
    cls = ' class="kv"' if compact else ""
    return (
        f'<div class="scroll"><table{ident}{cls}><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def kv_table(rows: Iterable[tuple[str, str]], *, table_id: str | None = None) -> str:
    """A two-column key/value table, sized to its content: ``(label, value_html)`` rows."""
    ident = f' id="{esc(table_id)}"' if table_id else ""
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table{ident} class="kv"><tbody>{body}</tbody></table>'


def card(items: Sequence[tuple[str, str]]) -> str:
    """The summary card: ``(label, value_html)`` pairs."""
    cells = "".join(
        f'<div><span class="k">{esc(k)}</span><span class="v">{v}</span></div>' for k, v in items
    )
    return f'<div class="card">{cells}</div>'


def section(ident: str, title: str, body_html: str) -> str:
    """A ``<section id=...>`` with a heading."""
    return f'<section id="{esc(ident)}"><h2>{esc(title)}</h2>{body_html}</section>'


def missing(text: str) -> str:
    """A paragraph saying what is missing."""
    return f'<p class="missing">{esc(text)}</p>'


def note(text: str) -> str:
    """A highlighted note."""
    return f'<p class="note">{esc(text)}</p>'


def legend(items: Sequence[tuple[str, str]]) -> str:
    """A colour legend: ``(colour, label)`` pairs."""
    spans = "".join(
        f'<span><i style="background:{esc(c)}"></i>{esc(label)}</span>' for c, label in items
    )
    return f'<p class="legend">{spans}</p>'


def page(title: str, subtitle: str, body_html: str, *, generated: str) -> str:
    """The whole document."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="nfb {esc(__version__)}">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>\n"
        f"<body><main><header><h1>{esc(title)}</h1>"
        f'<p class="subtitle">{esc(subtitle)}</p></header>\n{body_html}\n'
        f'<footer id="footer"><p>{esc(FOOTER)}</p>'
        f"<p>Generated by nfb {esc(__version__)} on {esc(generated)}.</p></footer>"
        "</main></body></html>\n"
    )
