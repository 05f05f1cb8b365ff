"""Notebook and terminal summaries of the result objects (factorlab/_display.py): every repr is
short, every ``_repr_html_`` is well-formed HTML with its names escaped, and both show the
object's own numbers."""

from __future__ import annotations

import dataclasses
import datetime as dt
from html.parser import HTMLParser

import polars as pl
import pytest

from factorlab import Market
from factorlab._display import TEXT_ROWS, Summary, format_value, frame_html, frame_text
from factorlab.backtest import backtest
from factorlab.evaluate import evaluate
from factorlab.grid import AssetGrid
from factorlab.northbound.hygiene import research_panel
from factorlab.northbound.study import factor_study

MAX_LINES, MAX_CHARS = 15, 1500
VOID = {"br", "hr", "img", "meta", "link", "input", "col", "wbr"}


class _Checker(HTMLParser):
    """Parses HTML strictly enough for a summary: every opened tag is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(markup: str) -> _Checker:
    checker = _Checker()
    checker.feed(markup)
    checker.close()
    assert not checker.errors, checker.errors
    assert not checker.stack, f"unclosed tags {checker.stack}"
    return checker


def check_short(obj) -> str:
    text = repr(obj)
    assert len(text) <= MAX_CHARS, (len(text), text)
    assert text.count("\n") + 1 <= MAX_LINES, text
    assert text.splitlines()[0].startswith(type(obj).__name__)
    return text


def check_html(obj, *numbers: str) -> str:
    markup = obj._repr_html_()
    page = parse(markup)
    assert page.tags[0] == "div" and "table" in page.tags
    text = " ".join(page.text)
    for number in numbers:
        assert number in text, (number, text[:500])
    return text


@pytest.fixture(scope="module")
def evaluation(small_market):
    px = small_market.prices.select("date", "asset", "open", "close").collect()
    frame = px.select(
        "date", "asset", mom=pl.col("close").pct_change(20).over("asset", order_by="date")
    ).filter(pl.col("date") >= pl.date(2017, 1, 1))
    pools = small_market.pools.filter(pl.col("pool") == "csi300")
    return evaluate(frame, ["mom"], prices=px, pools=pools, horizons=(5, 10))


def test_format_value_golden():
    assert format_value(1234567) == "1,234,567"
    assert format_value(0.0574512) == "0.05745"
    assert format_value(-12.5) == "-12.5"
    assert format_value(float("nan")) == "NaN"
    assert format_value(None) == "null"
    assert format_value(3.2e-7) == "3.200e-07"
    assert format_value(1592912.6) == "1,592,913"


def test_frame_text_counts_what_it_leaves_out():
    frame = pl.DataFrame({f"c{i}": list(range(100)) for i in range(20)})
    lines = frame_text(frame)
    assert len(lines) == 1 + TEXT_ROWS + 1
    assert lines[-1] == "… 94 more rows, 12 more columns"
    assert lines[1].split()[:3] == ["0", "0", "0"] and lines[TEXT_ROWS].split()[0] == "5"


def test_names_and_values_are_escaped():
    evil = "<img src=x onerror=alert(1)>"
    s = Summary(
        f"Thing {evil}",
        (f"data: {evil} & co",),
        pl.DataFrame({evil: [evil], "x": [1.5]}),
        caption=evil,
    )
    page = parse(s.html())
    assert "img" not in page.tags and "script" not in page.tags
    text = "".join(page.text)
    assert text.count(evil) == 5 and "& co" in text  # title, line, caption, column, cell
    assert "&lt;img" in frame_html(pl.DataFrame({evil: [1]}))


def test_market_repr_and_html(small_market):
    text = check_short(small_market)
    prices = small_market.prices.select(pl.len()).collect().item()
    assert f"prices {prices:,}" in text
    assert "seed 20240816" in text and "assets 400" in text and "preset small" in text
    assert small_market.content_hash[:16] in text
    html_text = check_html(small_market, f"{prices:,}")
    summary = small_market.summary()
    assert all(name in html_text for name in summary["table"])  # every table, not the first 12
    in_memory = Market({"fx": pl.DataFrame({"date": [dt.date(2020, 1, 2)], "usdcny": [6.96]})})
    assert "(in memory)" in check_short(in_memory)


def test_evaluation_repr_and_html(evaluation):
    text = check_short(evaluation)
    row = evaluation.summary.row(0, named=True)
    ic, spread = format_value(row["ic_mean"]), format_value(row["spread_mean"])
    assert ic in text and spread in text
    assert "factors: mom; pools: csi300; horizons: 5, 10" in text
    assert f"ic {evaluation.ic.height:,} x {evaluation.ic.width}" in text
    check_html(evaluation, ic, spread)
    evil = dataclasses.replace(
        evaluation, summary=evaluation.summary.with_columns(factor=pl.lit("<b>x</b>"))
    )
    assert "b" not in parse(evil._repr_html_()).tags


def test_backtest_result_repr_and_html(small_market):
    grid = AssetGrid.from_market(small_market)
    px = small_market.prices.filter(
        pl.col("date").dt.weekday() == 5, pl.col("date") >= pl.date(2022, 1, 1)
    ).collect()
    targets = (
        px.filter(pl.col("close").rank("ordinal").over("date") <= 20)
        .select("date", "asset")
        .with_columns(weight=pl.lit(0.05))
    )
    result = backtest(grid, targets)
    text = check_short(result)
    stats = result.summary()
    for key in ("total_return", "sharpe", "max_drawdown"):
        assert format_value(stats[key]) in text, key
    assert f"signals: {targets['date'].n_unique():,}" in text
    check_html(result, format_value(stats["sharpe"]))


def test_northbound_panel_repr_and_html(small_market):
    panel = research_panel(small_market)
    text = check_short(panel)
    assert f"{panel.frame.height:,} rows x {panel.frame.width} columns" in text
    first = panel.report.row(0, named=True)
    assert format_value(first["rows"]) in text
    check_html(panel, format_value(first["rows"]), first["step"])


def test_study_result_repr_and_html(small_market):
    result = factor_study(
        small_market, factors=["nb_hold_value", "nb_hold_ratio_dev20"], pools=["csi300"],
        cache=False, progress=None,
    )  # fmt: skip
    text = check_short(result)
    row = result.table.row(0, named=True)
    for key in ("long_excess_ann", "long_short_sharpe", "rank_ic_mean_pct"):
        assert format_value(row[key]) in text, key
    data = getattr(result, "data", None) or {}  # what the study ran on, where it records it
    assert all(str(v)[:16] in text for v in data.values()), (data, text)
    assert "pools: csi300; factors: nb_hold_value, nb_hold_ratio_dev20" in text
    check_html(result, format_value(row["long_excess_sharpe"]), "nb_hold_ratio_dev20")


def test_tear_sheet_repr_and_html(small_market, evaluation):
    from factorlab.evaluate import tearsheet

    px = small_market.prices.select("date", "asset", "open", "close").collect()
    frame = px.select(
        "date", "asset", mom=pl.col("close").pct_change(20).over("asset", order_by="date")
    ).filter(pl.col("date") >= pl.date(2023, 1, 1))
    pools = small_market.pools.filter(pl.col("pool") == "csi300")
    sheet = tearsheet(frame, ["mom"], prices=px, pools=pools, horizons=(5,), source=small_market)
    text = check_short(sheet)
    row = sheet.summary.row(0, named=True)
    assert format_value(row["ic_mean"]) in text
    assert "factors: mom; pools: csi300; horizons: 5" in text and "seed 20240816" in text
    check_html(sheet, format_value(row["ic_mean"]))


def test_text_stays_within_its_budget_by_showing_fewer_rows():
    lines = tuple(f"line {i} " + "x" * 120 for i in range(8))
    table = pl.DataFrame({f"column_{i}": ["v" * 50] * 40 for i in range(10)})
    text = Summary("Big", lines, table, "caption").text()
    assert text.count("\n") + 1 <= MAX_LINES and len(text) <= MAX_CHARS
    assert all(len(line) <= 110 for line in text.splitlines())
    assert text.splitlines()[-1].startswith("    … ") and "more rows" in text  # counted, not lost
