"""The study's numbers as text: the handbook table formatted like the handbook (markdown, HTML and
plain text for the terminal) and the key findings of a study in a few sentences.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import polars as pl

from factorlab._display import data_line

if TYPE_CHECKING:  # the report sits below the northbound module: type hints only
    from factorlab.northbound.study import StudyResult

__all__ = [
    "KEY_COLUMNS",
    "MISSING",
    "TABLE_COLUMNS",
    "TERMINAL_WIDTH",
    "USER_MARK",
    "Column",
    "correlation_clusters",
    "data_line",
    "format_markdown",
    "format_table",
    "format_value",
    "handbook_table",
    "html_table",
    "key_findings",
    "markdown_table",
    "text_table",
    "user_factors",
]

#: How a missing number (null or NaN) is written in every table.
MISSING = "n/a"

ValueKind = Literal["fraction_pct", "drawdown_pct", "pct", "ratio", "count"]


@dataclass(frozen=True)
class Column:
    """One column of the handbook table: the study column, its header and how it is written."""

    name: str
    header: str
    kind: ValueKind
    net: bool = False


#: The handbook table's columns in display order (study column -> header, number format).
TABLE_COLUMNS: tuple[Column, ...] = (
    Column("long_excess_ann", "Excess ann. %", "fraction_pct"),
    Column("long_excess_sharpe", "Excess Sharpe", "ratio"),
    Column("long_excess_mdd", "Excess max DD %", "drawdown_pct"),
    Column("long_excess_ann_net", "Excess ann. % net", "fraction_pct", net=True),
    Column("long_excess_sharpe_net", "Excess Sharpe net", "ratio", net=True),
    Column("long_excess_mdd_net", "Excess max DD % net", "drawdown_pct", net=True),
    Column("long_short_ann", "L/S ann. %", "fraction_pct"),
    Column("long_short_sharpe", "L/S Sharpe", "ratio"),
    Column("long_short_mdd", "L/S max DD %", "drawdown_pct"),
    Column("long_short_ann_net", "L/S ann. % net", "fraction_pct", net=True),
    Column("long_short_sharpe_net", "L/S Sharpe net", "ratio", net=True),
    Column("long_short_mdd_net", "L/S max DD % net", "drawdown_pct", net=True),
    Column("long_ann", "Long ann. %", "fraction_pct"),
    Column("long_sharpe", "Long Sharpe", "ratio"),
    Column("coverage_pct", "Coverage %", "pct"),
    Column("rank_ic_mean_pct", "Rank IC %", "pct"),
    Column("rank_ic_ir", "IC IR", "ratio"),
    Column("rank_ic_t", "IC t", "ratio"),
    Column("turnover_pct", "Turnover %", "pct"),
    Column("periods", "Periods", "count"),
)
_KEYS = (Column("factor", "Factor", "count"), Column("pool", "Pool", "count"))
#: The columns of the default (narrow) terminal table: returns gross and net, the long-short
#: book, the rank IC, coverage and turnover; ``--wide`` / ``columns="all"`` shows every column.
KEY_COLUMNS: tuple[str, ...] = (
    "long_excess_ann",
    "long_excess_sharpe",
    "long_excess_ann_net",
    "long_excess_sharpe_net",
    "long_short_ann",
    "long_short_sharpe",
    "rank_ic_mean_pct",
    "rank_ic_t",
    "coverage_pct",
    "turnover_pct",
)
#: Width of the default terminal table, in characters.
TERMINAL_WIDTH = 120
#: Appended to a user factor's name in every table (the 14 handbook factors have none).
USER_MARK = "*"


def format_value(value: float | int | None, kind: ValueKind) -> str:
    """Write one number of the handbook table.

    Parameters
    ----------
    value
        The study's number: a fraction for ``fraction_pct`` / ``drawdown_pct`` (0.0753 is
        7.53%), already in percent for ``pct``.
    kind
        ``fraction_pct``: x 100, 2 decimals; ``drawdown_pct``: the drawdown's size in percent
        (the handbook prints max DD 6.00%, the study stores -0.06); ``pct``: 2 decimals;
        ``ratio``: 2 decimals (Sharpe, IC IR, t); ``count``: an integer.

    Nulls and NaN: both are written :data:`MISSING`; +-inf as ``inf`` / ``-inf``; a value that
    rounds to zero is written without a minus sign.

    Examples
    --------
    >>> format_value(0.07531, "fraction_pct"), format_value(-0.06, "drawdown_pct")
    ('7.53', '6.00')
    >>> format_value(99.333, "pct"), format_value(0.5812, "ratio"), format_value(None, "ratio")
    ('99.33', '0.58', 'n/a')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if kind == "count":
        return str(int(value))
    x = float(value)
    if kind == "fraction_pct":
        x *= 100.0
    elif kind == "drawdown_pct":
        x = abs(x) * 100.0
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    out = f"{x:.2f}"
    return "0.00" if out == "-0.00" else out


def _table_of(result: StudyResult | pl.DataFrame) -> pl.DataFrame:
    return result if isinstance(result, pl.DataFrame) else result.table


def user_factors(result: StudyResult | pl.DataFrame) -> dict[str, str]:
    """User factor name -> its definition (expression, or "column `x` of a user frame"), in
    the study's order; empty for a bare table or a study of handbook factors only."""
    params = getattr(result, "params", None)
    return {u.name: u.definition for u in getattr(params, "user_factors", ())}


def estimated_line(result: StudyResult) -> str | None:
    """The note of a study run with estimated holdings past the disclosure change
    (``result.estimated_from``): "Holdings after D are estimated (seed 002 two-step
    estimator)."; else None."""
    from factorlab.northbound.estimated import estimated_note

    note = estimated_note(getattr(result, "estimated_from", None), getattr(result, "data", {}))
    return None if note is None else note[:1].upper() + note[1:] + "."


def data_sentence(result: StudyResult) -> str:
    """:func:`data_line` as a sentence start ("Data: ..."); the rest keeps its case (paths)."""
    line = data_line(result)
    return line[:1].upper() + line[1:]


def handbook_table(
    result: StudyResult | pl.DataFrame,
    *,
    net: bool = True,
    columns: Literal["all", "key"] = "all",
) -> pl.DataFrame:
    """The handbook table as strings with display headers, one row per factor x pool.

    Parameters
    ----------
    result
        A :class:`~factorlab.northbound.study.StudyResult` or its ``table``.
    net
        Include the net-of-cost columns (after each gross block).
    columns
        ``"all"`` (default) or ``"key"``: only :data:`KEY_COLUMNS` (the terminal's default).

    Returns
    -------
    pl.DataFrame
        String columns ``Factor``, ``Pool`` and the headers of :data:`TABLE_COLUMNS` present in
        the table, rows in the study's order. Percentages as in the handbook: annual excess
        return, max drawdown (its size), coverage, rank IC and turnover in percent with 2
        decimals; Sharpe, IC IR and t with 2 decimals. A user factor's name ends in
        :data:`USER_MARK` (a :class:`StudyResult` knows its user factors).

    Examples
    --------
    >>> t = pl.DataFrame({"factor": ["nb_hold_value"], "pool": ["csi300"],
    ...                   "long_excess_ann": [0.0753], "long_excess_sharpe": [0.58],
    ...                   "long_excess_mdd": [-0.06], "coverage_pct": [99.33]})
    >>> print(text_table(handbook_table(t)))
    Factor         Pool    Excess ann. %  Excess Sharpe  Excess max DD %  Coverage %
    -------------  ------  -------------  -------------  ---------------  ----------
    nb_hold_value  csi300           7.53           0.58             6.00       99.33
    """
    if columns not in ("all", "key"):
        raise ValueError(f"`columns` must be 'all' or 'key'; got {columns!r}.")
    table = _table_of(result)
    cols = [c for c in TABLE_COLUMNS if c.name in table.columns and (net or not c.net)]
    if columns == "key":
        cols = [c for c in cols if c.name in KEY_COLUMNS]
    user = user_factors(result)
    out: dict[str, list[str]] = {
        "Factor": [f"{v}{USER_MARK}" if v in user else str(v) for v in table["factor"]],
        "Pool": [str(v) for v in table["pool"]],
    }
    for c in cols:
        out[c.header] = [format_value(v, c.kind) for v in table[c.name].to_list()]
    return pl.DataFrame(out, schema={k: pl.String for k in out})


def _is_text_column(frame: pl.DataFrame, name: str) -> bool:
    """A column is left-aligned when any of its cells is not a number (or a missing mark)."""
    for v in frame[name].to_list():
        if v in (None, MISSING, "inf", "-inf"):
            continue
        try:
            float(str(v))
        except ValueError:
            return True
    return False


def _cells(frame: pl.DataFrame) -> list[list[str]]:
    return [["" if v is None else str(v) for v in row] for row in frame.iter_rows()]


def markdown_table(frame: pl.DataFrame) -> str:
    """A GitHub-flavoured markdown table of ``frame``; numeric columns are right-aligned.

    Examples
    --------
    >>> print(markdown_table(pl.DataFrame({"Pool": ["csi300"], "IC %": ["2.11"]})))
    | Pool | IC % |
    |:---|---:|
    | csi300 | 2.11 |
    """

    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    align = ["---" if _is_text_column(frame, c) else "---:" for c in frame.columns]
    align = [":---" if a == "---" else a for a in align]
    lines = [
        "| " + " | ".join(esc(c) for c in frame.columns) + " |",
        "|" + "|".join(align) + "|",
    ]
    lines += ["| " + " | ".join(esc(v) for v in row) + " |" for row in _cells(frame)]
    return "\n".join(lines)


def _wrap(header: str, width: int) -> list[str]:
    """`header` in lines of at most `width` characters, broken at spaces (a longer word keeps
    its own line)."""
    lines: list[str] = []
    for word in header.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def text_table(frame: pl.DataFrame, *, gap: int = 2, wrap_headers: bool = False) -> str:
    """A fixed-width plain-text table of ``frame`` for a terminal; numbers right-aligned.

    ``wrap_headers``: break each header at spaces so that no column is wider than its widest
    cell (or its header's longest word); the narrow terminal table uses it.

    Examples
    --------
    >>> print(text_table(pl.DataFrame({"Pool": ["csi300"], "Excess ann. %": ["7.53"]}),
    ...                  wrap_headers=True))
            Excess
    Pool    ann. %
    ------  ------
    csi300    7.53
    """
    rows = _cells(frame)
    cell_widths = [max([0, *(len(r[i]) for r in rows)]) for i in range(len(frame.columns))]
    if wrap_headers:
        heads = [
            _wrap(h, max(w, *(len(x) for x in h.split() or [""])))
            for h, w in zip(frame.columns, cell_widths, strict=True)
        ]
    else:
        heads = [[h] for h in frame.columns]
    widths = [max([w, *(len(x) for x in hs)]) for hs, w in zip(heads, cell_widths, strict=True)]
    left = [_is_text_column(frame, c) for c in frame.columns]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.ljust(w) if is_left else c.rjust(w)
            for c, w, is_left in zip(cells, widths, left, strict=True)
        ]
        return (" " * gap).join(parts).rstrip()

    depth = max(len(hs) for hs in heads) if heads else 1
    # a wrapped header sits on its bottom lines, next to the numbers
    padded = [[""] * (depth - len(hs)) + hs for hs in heads]
    out = [line([p[k] for p in padded]) for k in range(depth)]
    out.append(line(["-" * w for w in widths]))
    out += [line(r) for r in rows]
    return "\n".join(out)


def html_table(frame: pl.DataFrame, *, css_class: str = "table") -> str:
    """An HTML ``<table>`` of ``frame`` (escaped); numeric cells carry class ``num`` and
    negative ones ``num neg`` so a stylesheet can right-align and colour them."""
    numeric = [not _is_text_column(frame, c) for c in frame.columns]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    body = []
    for row in _cells(frame):
        tds = []
        for v, is_num in zip(row, numeric, strict=True):
            cls = ("num neg" if v.startswith("-") else "num") if is_num else "txt"
            tds.append(f'<td class="{cls}">{html.escape(v)}</td>')
        body.append("<tr>" + "".join(tds) + "</tr>")
    return (
        f'<table class="{html.escape(css_class)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def format_table(
    result: StudyResult | pl.DataFrame,
    *,
    net: bool = True,
    wide: bool = False,
    width: int = TERMINAL_WIDTH,
) -> str:
    """The handbook table as plain text for a terminal, one row per factor x pool.

    By default the :data:`KEY_COLUMNS` with headers wrapped onto lines, at most `width`
    characters wide: factor names that would not fit are shortened with ``~`` (the HTML and
    markdown reports carry them in full). ``wide=True``: every column, one header line, no
    width limit. See :func:`handbook_table` for the number formats; ``net=False`` drops the
    net-of-cost columns.
    """
    if wide:
        return text_table(handbook_table(result, net=net))
    table = handbook_table(result, net=net, columns="key")
    text = text_table(table, wrap_headers=True)
    over = max(len(ln) for ln in text.splitlines()) - width
    if over > 0:
        names = table["Factor"].to_list()
        keep = max(8, max(len(n) for n in names) - over)
        short = [n if len(n) <= keep else n[: keep - 2] + "~" + n[-1] for n in names]
        text = text_table(table.with_columns(Factor=pl.Series(short)), wrap_headers=True)
    return text


def format_markdown(result: StudyResult | pl.DataFrame, *, net: bool = True) -> str:
    """The handbook table as a markdown table, one row per factor x pool."""
    return markdown_table(handbook_table(result, net=net))


# --- key findings -------------------------------------------------------------------------------


def correlation_clusters(corr: pl.DataFrame, *, threshold: float = 0.7) -> list[list[str]]:
    """Groups of factors linked by ``|correlation| >= threshold`` (single linkage: connected
    components of that graph), groups of two or more only, in the frame's factor order.

    Parameters
    ----------
    corr
        A study correlation matrix: a ``factor`` column and one column per factor.
    threshold
        Absolute correlation that makes two factors "the same bet" (a strongly negative
        correlation is the same information with the sign flipped).

    Nulls and NaN: a missing correlation links nothing.

    Examples
    --------
    >>> c = pl.DataFrame({"factor": ["a", "b", "c"], "a": [1.0, 0.9, 0.1],
    ...                   "b": [0.9, 1.0, 0.2], "c": [0.1, 0.2, 1.0]})
    >>> correlation_clusters(c)
    [['a', 'b']]
    """
    names = [str(n) for n in corr["factor"]]
    names = [n for n in names if n in corr.columns]
    parent = {n: n for n in names}

    def root(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    values = {n: corr[n].to_list() for n in names}
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            v = values[a][j]
            if v is not None and not math.isnan(v) and abs(v) >= threshold:
                parent[root(names[j])] = root(a)
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(root(n), []).append(n)
    return [g for g in groups.values() if len(g) > 1]


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _names(items: Sequence[str]) -> str:
    return ", ".join(items) if items else "none"


def key_findings(
    result: StudyResult,
    *,
    recommended: Sequence[str] = (),
    top_n: int = 3,
    cluster_threshold: float = 0.7,
    min_coverage_pct: float = 50.0,
) -> list[str]:
    """The study's headline facts, one sentence each, pool by pool.

    Per pool: the ``top_n`` factors by long-excess Sharpe (gross, with the net Sharpe); how the
    ``recommended`` factors (e.g. the handbook's seven,
    :data:`~factorlab.northbound.factors.HANDBOOK_RECOMMENDED`) fared against the others;
    what costs took from the long excess; factors that could not be tested (coverage below
    ``min_coverage_pct`` or no rebalance); and clusters of factors whose daily long-short returns
    correlate at ``|rho| >= cluster_threshold``.

    Nulls and NaN: rows with a missing Sharpe are left out of rankings and averages.
    """
    table = result.table
    pools = table["pool"].unique(maintain_order=True).to_list()
    wanted = set(recommended)
    out: list[str] = []
    for pool in pools:
        t = table.filter(pl.col("pool") == pool)
        rows = t.to_dicts()
        testable = [
            r
            for r in rows
            if (r.get("periods") or 0) > 0
            and _finite(r.get("coverage_pct"))
            and r["coverage_pct"] >= min_coverage_pct
            and _finite(r.get("long_excess_sharpe"))
        ]
        ranked = sorted(testable, key=lambda r: r["long_excess_sharpe"], reverse=True)
        if ranked:
            best = "; ".join(
                f"{r['factor']} (Sharpe {format_value(r['long_excess_sharpe'], 'ratio')}, "
                f"{format_value(r['long_excess_ann'], 'fraction_pct')}% a year, net Sharpe "
                f"{format_value(r.get('long_excess_sharpe_net'), 'ratio')})"
                for r in ranked[:top_n]
            )
            out.append(f"{pool}: best long excess by Sharpe: {best}.")
        rec = [r for r in testable if r["factor"] in wanted]
        other = [r for r in testable if r["factor"] not in wanted]
        if rec:
            positive = sum(
                1
                for r in rec
                if _finite(r.get("long_excess_ann_net")) and r["long_excess_ann_net"] > 0
            )
            mean_rec = sum(r["long_excess_sharpe"] for r in rec) / len(rec)
            line = (
                f"{pool}: handbook-recommended factors ({len(rec)} tested): {positive} with a "
                f"positive net long excess; mean long-excess Sharpe "
                f"{format_value(mean_rec, 'ratio')}"
            )
            if other:
                mean_other = sum(r["long_excess_sharpe"] for r in other) / len(other)
                line += f" vs {format_value(mean_other, 'ratio')} for the other {len(other)}"
            out.append(line + ".")
        drag = [
            r["long_excess_ann"] - r["long_excess_ann_net"]
            for r in testable
            if _finite(r.get("long_excess_ann_net"))
        ]
        turnover = [r["turnover_pct"] for r in testable if _finite(r.get("turnover_pct"))]
        if drag:
            line = (
                f"{pool}: costs take {format_value(sum(drag) / len(drag), 'fraction_pct')} pp a "
                "year from the long excess on average"
            )
            if turnover:
                line += (
                    f" (long-leg turnover {format_value(sum(turnover) / len(turnover), 'pct')}% "
                    "per rebalance)"
                )
            out.append(line + ".")
        tested = {r["factor"] for r in testable}
        untested = [r["factor"] for r in rows if r["factor"] not in tested]
        if untested:
            out.append(
                f"{pool}: not testable (coverage below {min_coverage_pct:g}%, no rebalance or "
                f"no Sharpe): {_names(untested)}."
            )
        corr = result.correlation.get(pool)
        if corr is not None and len(corr) > 1:
            clusters = correlation_clusters(corr, threshold=cluster_threshold)
            text = "; ".join("{" + ", ".join(c) + "}" for c in clusters) or "none"
            out.append(
                f"{pool}: correlation clusters (|rho| >= {cluster_threshold:g} of daily "
                f"long-short returns): {text}."
            )
    return out
