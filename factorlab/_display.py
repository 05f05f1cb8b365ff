"""Notebook and terminal summaries of result objects: one short text ``repr`` and one small HTML
block (``_repr_html_``), built from the same :class:`Summary`.

Every result class (``Market``, ``Evaluation``, ``BacktestResult``, ``NorthboundPanel``,
``StudyResult``, the tear sheet) describes itself as a :class:`Summary` -- a title, a few lines
(what it is, the data it ran on, sizes) and a small table of headline numbers -- and delegates::

    def __repr__(self) -> str:
        return self._summary().text()

    def _repr_html_(self) -> str:
        return self._summary().html()

The text form is at most ``TEXT_ROWS`` table rows and ``MAX_LINE`` characters a line; the frames
themselves stay one attribute away (``result.table``). Everything shown in HTML is escaped.
Depends on polars only (no pandas, no matplotlib).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

__all__ = [
    "HTML_ROWS",
    "MAX_LINE",
    "TEXT_ROWS",
    "Summary",
    "data_line",
    "format_value",
    "frame_html",
    "frame_text",
    "join_names",
    "sizes",
    "wrap",
]

#: Table rows shown in the text repr (more are counted in a "... N more rows" line).
TEXT_ROWS = 6
#: Table rows shown in the HTML summary.
HTML_ROWS = 12
#: Longest line of the text repr; longer lines are cut with an ellipsis.
MAX_LINE = 110
#: Columns shown at most (text and HTML); the rest are counted.
MAX_COLUMNS = 8
#: Longest cell of the text repr.
MAX_CELL = 36
#: The text repr stays within this many lines and characters (fewer table rows if need be).
MAX_TEXT_LINES = 15
MAX_TEXT_CHARS = 1500


def format_value(value: Any) -> str:
    """One cell as text: integers (and floats of a million or more) with thousands separators,
    other floats with 4 significant digits (``NaN``, ``inf``), dates in ISO form, ``None`` as
    ``null``.

    >>> [format_value(v) for v in (1234567, 0.0123456, float("nan"), None, True)]
    ['1,234,567', '0.01235', 'NaN', 'null', 'True']
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if abs(value) >= 1e6:
            return f"{value:,.0f}"
        if value != 0 and abs(value) < 1e-4:
            return f"{value:.3e}"
        return f"{value:.4g}"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def join_names(names: Iterable[Any], limit: int = 4) -> str:
    """``a, b, c`` or ``a, b, c, ... (12)`` when there are more than `limit` names.

    >>> join_names(["a", "b", "c", "d", "e"], limit=2)
    'a, b, … (5)'
    """
    items = [str(n) for n in names]
    if len(items) <= limit:
        return ", ".join(items) if items else "none"
    return ", ".join(items[:limit]) + f", … ({len(items)})"


def wrap(prefix: str, items: Iterable[str], width: int = MAX_LINE - 2) -> list[str]:
    """`items` joined by ``, `` after `prefix`, wrapped into lines of at most `width` characters
    (continuation lines indented).

    >>> wrap("tables: ", ["a", "b", "c"], width=14)
    ['tables: a, b,', '  c']
    """
    pieces = list(items)
    pieces = [p + "," for p in pieces[:-1]] + pieces[-1:]
    lines, line = [], prefix.rstrip()
    for piece in pieces:
        if len(line) + 1 + len(piece) > width and line.strip() != prefix.strip():
            lines.append(line)
            line = " "
        line += " " + piece
    lines.append(line)
    return lines


def sizes(frames: Mapping[str, pl.DataFrame]) -> str:
    """``name rows x columns`` for each frame, one line.

    >>> sizes({"ic": pl.DataFrame({"a": [1, 2]})})
    'ic 2 x 1'
    """
    return ", ".join(f"{name} {f.height:,} x {f.width}" for name, f in frames.items())


def _columns(frame: pl.DataFrame) -> tuple[list[str], int]:
    cols = frame.columns[:MAX_COLUMNS]
    return cols, frame.width - len(cols)


def frame_text(frame: pl.DataFrame, *, rows: int = TEXT_ROWS, width: int = MAX_LINE) -> list[str]:
    """A frame as a few aligned text lines: a header, at most `rows` rows, and a count of the
    rows (and columns) left out. Lines are cut at `width` characters.

    >>> print("\\n".join(frame_text(pl.DataFrame({"x": [1.5, 2.25], "name": ["a", "b"]}))))
    x     name
    1.5   a
    2.25  b
    """
    cols, more_cols = _columns(frame)
    body = [
        [_cut(format_value(v), MAX_CELL) for v in row]
        for row in frame.select(cols).head(rows).iter_rows()
    ]
    widths = [max([len(c)] + [len(r[i]) for r in body]) for i, c in enumerate(cols)]

    def line(cells: Sequence[str]) -> str:
        padded = (c.ljust(w) for c, w in zip(cells, widths, strict=True))
        return _cut("  ".join(padded).rstrip(), width)

    out = [line(cols), *(line(r) for r in body)]
    left = [
        f"{n:,} more {what}"
        for n, what in ((frame.height - len(body), "rows"), (more_cols, "columns"))
        if n > 0
    ]
    if left:
        out.append(f"… {', '.join(left)}")
    return out


def frame_html(frame: pl.DataFrame, *, rows: int = HTML_ROWS) -> str:
    """A frame as an HTML ``<table>`` (header, at most `rows` rows, numbers right-aligned,
    every name and value escaped), with a note of the rows and columns left out."""
    cols, more_cols = _columns(frame)
    numeric = [frame.schema[c].is_numeric() for c in cols]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for row in frame.select(cols).head(rows).iter_rows():
        cells = "".join(
            f'<td style="text-align:right">{html.escape(format_value(v))}</td>'
            if num
            else f"<td>{html.escape(format_value(v))}</td>"
            for v, num in zip(row, numeric, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    left = [
        f"{n:,} more {what}"
        for n, what in ((frame.height - min(rows, frame.height), "rows"), (more_cols, "columns"))
        if n > 0
    ]
    note = f"<p><small>… {html.escape(', '.join(left))}</small></p>" if left else ""
    return (
        f'<table class="factorlab-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>{note}"
    )


@dataclass(frozen=True)
class Summary:
    """What a result object shows of itself.

    ``title``: what it is (the class, with a few words). ``lines``: the data it ran on, the
    parameters and the sizes, one fact a line. ``table``: a small frame of headline numbers
    (optional) under ``caption``.

    >>> s = Summary("Thing", ("data: synthetic", "rows: 3"), pl.DataFrame({"a": [1]}), "head")
    >>> print(s.text())
    Thing
      data: synthetic
      rows: 3
      head:
        a
        1
    """

    title: str
    lines: tuple[str, ...] = ()
    table: pl.DataFrame | None = None
    caption: str = ""
    html_rows: int = HTML_ROWS

    def text(self) -> str:
        """The short ``repr``: the title, the lines, and the table's first rows -- as many as
        keep it within ``MAX_TEXT_LINES`` lines and ``MAX_TEXT_CHARS`` characters (at least
        one)."""
        head = [_cut(self.title, MAX_LINE)]
        head += [_cut(f"  {line}", MAX_LINE) for line in self.lines]
        if self.table is None:
            return "\n".join(head)
        if self.caption:
            head.append(_cut(f"  {self.caption}:", MAX_LINE))
        for rows in range(TEXT_ROWS, 0, -1):
            lines = frame_text(self.table, rows=rows, width=MAX_LINE - 4)
            table = [f"    {line}" for line in lines]
            text = "\n".join([*head, *table])
            if len(head) + len(table) <= MAX_TEXT_LINES and len(text) <= MAX_TEXT_CHARS:
                break
        return text

    def html(self) -> str:
        """The notebook summary: a header line, the lines as a list, the table."""
        parts = [
            '<div class="factorlab-summary">',
            f"<p><strong>{html.escape(self.title)}</strong></p>",
        ]
        if self.lines:
            items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines)
            parts.append(f"<ul>{items}</ul>")
        if self.table is not None:
            if self.caption:
                parts.append(f"<p>{html.escape(self.caption)}</p>")
            parts.append(frame_html(self.table, rows=self.html_rows))
        parts.append("</div>")
        return "".join(parts)


def data_line(result: Any) -> str:
    """What data a result ran on, in one line: source, synthetic preset and seed, assets,
    content hash, dates and path (the result's ``data`` mapping: ``Market.describe()``). Every
    report and result repr of the study, the strategies, the estimation and the calibration
    uses it."""
    return data_text(getattr(result, "data", {}) or {})


def data_text(described: Mapping[str, str]) -> str:
    """:func:`data_line` of a :meth:`Market.describe` mapping (the Market repr's first line)."""
    data = dict(described)
    if not data:
        return "data: not recorded"
    parts = [data.pop("source", "user market")]
    for key, label in (("preset", "preset"), ("seed", "seed"), ("n_assets", "assets")):
        if key in data:
            parts.append(f"{label} {data.pop(key)}")
    if "content_hash" in data:
        parts.append(f"content hash {data.pop('content_hash')[:16]}")
    if "dates" in data:
        parts.append(f"dates {data.pop('dates')}")
    if "liq1500" in data:
        parts.append(f"liq1500 = {data.pop('liq1500')}")
    if "path" in data:
        parts.append(f"at {data.pop('path')}")
    parts += [f"{k} {v}" for k, v in data.items()]
    return "data: " + ", ".join(parts)
