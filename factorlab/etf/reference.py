"""The shipped sector-ETF reference table (seed 003's A-share / Hong Kong / US sector ETFs and seed
004 §3.5's CITIC industry ETFs) and ETF code normalization across the three markets.

The data is ``factorlab/datasets/etf_reference.csv``; ``datasets/make_etf_reference.py`` writes it
and documents where every row comes from. See ``docs/etf-flows.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from typing import Literal

import polars as pl

from factorlab.errors import AssetCodeError, ParameterError

__all__ = [
    "ETF_MARKETS",
    "MARKET_CURRENCY",
    "ROTATION_EXCLUDED",
    "etf_info",
    "industry_etfs",
    "normalize_etf_code",
    "normalize_etf_codes",
    "sector_etfs",
]

EtfMarket = Literal["CN", "HK", "US"]
#: Markets of the reference table and the currency each trades in.
ETF_MARKETS: tuple[str, ...] = ("CN", "HK", "US")
MARKET_CURRENCY: dict[str, str] = {"CN": "CNY", "HK": "HKD", "US": "USD"}
#: CITIC level-1 industries seed 004 leaves out of the rotation (little northbound money).
ROTATION_EXCLUDED: tuple[str, ...] = ("商贸零售", "纺织服装", "综合", "综合金融")

_DATA_FILE = "etf_reference.csv"
_SCHEMA = {
    "etf": pl.String,
    "name": pl.String,
    "market": pl.String,
    "currency": pl.String,
    "group": pl.String,
    "sector": pl.String,
    "tracks_index": pl.String,
    "citic_industry": pl.String,
    "rule": pl.String,
    "synthetic": pl.Boolean,
    "source": pl.String,
}

_CN = re.compile(
    r"^(?:(?P<prefix>SH|SZ)\.?)?(?P<digits>[0-9]{6})(?:\.(?P<suffix>SH|SZ|SS|XSHG|XSHE))?$"
)
_HK = re.compile(r"^(?:HK\.?)?(?P<digits>[0-9]{1,5})(?:\.(?:HK|XHKG))?$")
_US = re.compile(r"^(?:US\.)?(?P<ticker>[A-Z][A-Z.\-]{0,5}?)(?:\.US)?$")
_EXPECTED = (
    "expected an A-share ETF (512480.SH, SH.512480, sh512480, 159995.SZ or a bare 6-digit code "
    "starting 5 (Shanghai) or 1 (Shenzhen)), a Hong Kong code (3033.HK, HK.3033, 03033) or a US "
    "ticker (QQQ, US.QQQ)"
)


@lru_cache(maxsize=1)
def _table() -> pl.DataFrame:
    source = resources.files("factorlab").joinpath("datasets", _DATA_FILE)
    with resources.as_file(source) as path:
        return pl.read_csv(path, schema=_SCHEMA)


def normalize_etf_code(code: str | int, *, region: EtfMarket | None = None) -> str:
    """One ETF code in canonical form: ``512480.SH`` / ``159995.SZ`` (A-shares, as stock codes),
    ``3033.HK`` (Hong Kong: no leading zeros, at least 4 digits) or ``QQQ`` (US ticker).

    Parameters
    ----------
    code
        Any common spelling, case and surrounding whitespace ignored: ``SH.512480``,
        ``sh512480``, ``512480.XSHG``, ``512480``; ``3033.HK``, ``HK.3033``, ``03033``; ``QQQ``,
        ``US.QQQ``, ``qqq``. An integer is a Hong Kong code when `region` is ``"HK"`` or it has
        at most 5 digits, else an A-share code (zero-padded to 6 digits).
    region
        ``"CN"``, ``"HK"`` or ``"US"`` to read a bare code in that market (seed 003's
        ``{"region": "HK", "code": "3033"}``); None infers it from the code's shape.

    Raises
    ------
    AssetCodeError
        The code fits none of the three shapes, or contradicts `region`.

    Examples
    --------
    >>> [normalize_etf_code(c) for c in ["SH.512480", "159995", "03033", "hk.2828", "us.qqq"]]
    ['512480.SH', '159995.SZ', '3033.HK', '2828.HK', 'QQQ']
    """
    if region is not None and region not in ETF_MARKETS:
        raise ParameterError(f"`region` must be one of {', '.join(ETF_MARKETS)}; got {region!r}.")
    if isinstance(code, bool) or not isinstance(code, str | int):
        raise AssetCodeError(f"ETF code must be a string or an integer; got {code!r}.")
    if isinstance(code, int):
        text = str(code) if region == "HK" or (region is None and code < 100_000) else f"{code:06d}"
    else:
        text = code.strip().upper()
    out = _parse(text, region)
    if out is None:
        where = f" in region {region}" if region else ""
        raise AssetCodeError(f"ETF code {code!r} is not recognised{where}; {_EXPECTED}.")
    return out


def _parse(text: str, region: str | None) -> str | None:
    if region in (None, "CN") and (m := _CN.match(text)):
        named = m["prefix"] or m["suffix"]
        if named is None:
            head = m["digits"][0]
            named = "SH" if head == "5" else "SZ" if head == "1" else None
            if named is None:
                return None
        return f"{m['digits']}.{'SH' if named in ('SH', 'SS', 'XSHG') else 'SZ'}"
    if region in (None, "HK") and (m := _HK.match(text)):
        if region is None and len(m["digits"]) == 6:
            return None
        return f"{int(m['digits']):04d}.HK"
    if region in (None, "US") and not text[:1].isdigit() and (m := _US.match(text)):
        ticker = m["ticker"]
        if region is None and ticker in ("SH", "SZ", "HK"):
            return None
        return ticker
    return None


def normalize_etf_codes(
    codes: Iterable[str | int], *, region: EtfMarket | None = None
) -> list[str]:
    """:func:`normalize_etf_code` over a sequence; the error names every bad code (up to five).

    Examples
    --------
    >>> normalize_etf_codes(["512480", "3033.HK", "XLF"])
    ['512480.SH', '3033.HK', 'XLF']
    """
    out, bad = [], []
    for code in codes:
        try:
            out.append(normalize_etf_code(code, region=region))
        except AssetCodeError:
            bad.append(code)
    if bad:
        shown = ", ".join(repr(b) for b in bad[:5])
        raise AssetCodeError(f"{len(bad)} ETF code(s) not recognised, e.g. {shown}; {_EXPECTED}.")
    return out


def sector_etfs(market: EtfMarket | None = None) -> pl.DataFrame:
    """The reference table: one row per sector ETF, across the A-share, Hong Kong and US markets.

    Parameters
    ----------
    market
        ``"CN"``, ``"HK"`` or ``"US"`` to keep one market; None for all.

    Returns
    -------
    pl.DataFrame
        ``etf`` (normalized code), ``name``, ``market`` (CN / HK / US), ``currency`` (CNY / HKD /
        USD), ``group`` (the seed's heading), ``sector``, ``tracks_index`` (null where the source
        names none), ``citic_industry`` (null unless the ETF is a rotation industry ETF),
        ``rule``, ``synthetic`` (True: the code exists only in the synthetic market) and
        ``source``. Seed 003's 21 ETFs and seed 004 §3.5's 24 industry ETFs (two are both), plus
        the synthetic industry ETFs.

    Examples
    --------
    >>> sector_etfs("HK").select("etf", "sector").rows()[:2]
    [('3033.HK', '恒生科技'), ('3022.HK', '互联网')]
    """
    table = _table()
    if market is None:
        return table
    if market not in ETF_MARKETS:
        raise ParameterError(f"`market` must be one of {', '.join(ETF_MARKETS)}; got {market!r}.")
    return table.filter(pl.col("market") == market)


def industry_etfs(*, synthetic: bool = False) -> pl.DataFrame:
    """The CITIC level-1 industry -> ETF mapping of seed 004 §3.5 (24 industries).

    The seed's rules, in order: the ETF tracks that industry's index; then the largest fund
    size; then the lowest fee; then the earliest listing. ``rule`` records the first rule that
    left one candidate (``index``, ``aum``, ``fee``, ``listing``); see
    ``datasets/make_etf_reference.py`` for the candidates and sources.

    Parameters
    ----------
    synthetic
        True adds the synthetic market's ETFs for the rotation industries without a real one
        (轻工制造, 消费者服务 and the synthetic market's 环保; ``rule`` ``"synthetic"``, codes
        5199xx that exist only in the synthetic market).

    Returns
    -------
    pl.DataFrame
        ``citic_industry``, ``etf``, ``name``, ``tracks_index``, ``rule``; one row per industry.

    Examples
    --------
    >>> industry_etfs().filter(pl.col("citic_industry") == "银行").row(0)
    ('银行', '512800.SH', '银行ETF', '中证银行指数', 'aum')
    >>> industry_etfs().height, industry_etfs(synthetic=True).height
    (24, 27)
    """
    rows = _table().filter(pl.col("citic_industry").is_not_null())
    if not synthetic:
        rows = rows.filter(~pl.col("synthetic"))
    return rows.select("citic_industry", "etf", "name", "tracks_index", "rule")


def etf_info(code: str | int, *, region: EtfMarket | None = None) -> dict:
    """The reference row of one ETF, from any spelling of its code.

    Raises
    ------
    AssetCodeError
        The code is malformed, or well-formed but not in the reference table (the message lists
        the table's codes of that market).

    Examples
    --------
    >>> etf_info("SH.512480")["sector"]
    '半导体'
    """
    etf = normalize_etf_code(code, region=region)
    row = _table().filter(pl.col("etf") == etf)
    if row.height == 0:
        mkt = "HK" if etf.endswith(".HK") else "CN" if etf[:1].isdigit() else "US"
        known = ", ".join(sector_etfs(mkt)["etf"].head(12).to_list())  # type: ignore[arg-type]
        raise AssetCodeError(
            f"ETF {etf} (from {code!r}) is not in the sector-ETF reference table "
            f"(factorlab.etf.sector_etfs()); known {mkt} ETFs include {known}. Pass a sector "
            "name or an ETF that your market's `etfs` table holds."
        )
    return row.row(0, named=True)
