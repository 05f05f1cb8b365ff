"""The shipped sector-ETF reference table, the industry mapping and ETF code normalization."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import polars as pl
import pytest

from factorlab.datasets.synthetic import CITIC_INDUSTRIES, SECTOR_ETF_CODES
from factorlab.errors import AssetCodeError, FactorLabError, ParameterError
from factorlab.etf import (
    ROTATION_EXCLUDED,
    etf_info,
    industry_etfs,
    normalize_etf_code,
    normalize_etf_codes,
    sector_etfs,
)

ROOT = Path(__file__).resolve().parents[2]

SEED_003_CN = {
    "512480.SH": ("半导体", "中华半导体指数"),
    "515070.SH": ("人工智能", "中证人工智能"),
    "159995.SZ": ("芯片", "国证芯片指数"),
    "515050.SH": ("5G", "中证5G通信"),
    "512690.SH": ("白酒", "中证白酒指数"),
    "159928.SZ": ("消费", "中证消费指数"),
    "512010.SH": ("医药", "中证医药指数"),
    "512880.SH": ("证券", "中证全指证券"),
    "512800.SH": ("银行", "中证银行指数"),
    "512910.SH": ("保险", "中证保险指数"),
    "515030.SH": ("新能源车", "中证新能源汽车"),
    "515790.SH": ("光伏", "中证光伏产业"),
    "159755.SZ": ("锂电池", "中证电池指数"),
}
CITIC_LEVEL1 = (
    "石油石化 煤炭 有色金属 电力及公用事业 钢铁 基础化工 建筑 建材 轻工制造 机械 电力设备及新能源 "
    "国防军工 汽车 商贸零售 消费者服务 家电 纺织服装 医药 食品饮料 农林牧渔 银行 非银行金融 房地产 "
    "交通运输 电子 通信 计算机 传媒 综合 综合金融"
).split()


def test_seed_003_tables_are_all_there_with_the_index_each_tracks():
    t = sector_etfs()
    cn = {
        e: (s, i)
        for e, s, i in t.filter(pl.col("source") == "seed 003", pl.col("market") == "CN")
        .select("etf", "sector", "tracks_index")
        .iter_rows()
    }
    assert cn == SEED_003_CN
    assert sector_etfs("HK")["etf"].to_list() == ["3033.HK", "3022.HK", "3067.HK", "2828.HK"]
    assert sector_etfs("US")["etf"].to_list() == ["QQQ", "XLF", "XLE", "XLV"]
    assert set(sector_etfs("HK")["currency"]) == {"HKD"}
    assert set(sector_etfs("US")["currency"]) == {"USD"}
    assert set(sector_etfs("CN")["currency"]) == {"CNY"}
    assert t["etf"].is_unique().all()
    # every code is already in canonical form
    assert [normalize_etf_code(c) for c in t["etf"]] == t["etf"].to_list()


def test_industry_etfs_are_seed_004s_24_with_their_rule():
    ind = industry_etfs()
    assert ind.columns == ["citic_industry", "etf", "name", "tracks_index", "rule"]
    assert ind.height == 24
    rotated = [i for i in CITIC_LEVEL1 if i not in ROTATION_EXCLUDED]
    assert len(rotated) == 26
    # the 24 are the 26 rotated industries minus the two the seed leaves without an ETF
    assert sorted(ind["citic_industry"]) == sorted(set(rotated) - {"轻工制造", "消费者服务"})
    assert set(ind["rule"]) <= {"index", "aum", "fee", "listing"}
    assert ind["tracks_index"].null_count() == 0
    assert ind["etf"].is_unique().all()
    # the industry ETFs are rows of the sector table, citic_industry set
    t = sector_etfs().filter(pl.col("citic_industry").is_not_null(), ~pl.col("synthetic"))
    assert sorted(t["etf"]) == sorted(ind["etf"])


def test_synthetic_industry_etfs_are_labelled_and_cover_the_rest():
    syn = industry_etfs(synthetic=True).filter(pl.col("rule") == "synthetic")
    assert sorted(syn["citic_industry"]) == sorted(["轻工制造", "消费者服务", "环保"])
    rows = sector_etfs().filter(pl.col("etf").is_in(syn["etf"].implode()))
    assert rows["synthetic"].all()
    assert rows["name"].str.contains("合成").all()
    assert rows["source"].str.starts_with("synthetic").all()


def test_the_generator_carries_an_etf_for_every_rotated_industry_with_the_reference_codes():
    rotated = [i for i in CITIC_INDUSTRIES if i not in ROTATION_EXCLUDED]
    mapping = dict(industry_etfs(synthetic=True).select("citic_industry", "etf").iter_rows())
    assert {i: SECTOR_ETF_CODES[i] for i in rotated} == {i: mapping[i] for i in rotated}


def test_the_shipped_csv_equals_its_generating_script():
    spec = importlib.util.spec_from_file_location("mk", ROOT / "datasets" / "make_etf_reference.py")
    mk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mk)
    built = mk.build()
    shipped = sector_etfs()
    assert built.columns == shipped.columns
    assert built.rows() == shipped.rows()


@pytest.mark.parametrize(
    ("raw", "region", "want"),
    [
        ("SH.512480", None, "512480.SH"),
        ("sh512480", None, "512480.SH"),
        ("512480.SH", None, "512480.SH"),
        ("512480.XSHG", None, "512480.SH"),
        ("512480", None, "512480.SH"),
        ("159995.SZ", None, "159995.SZ"),
        ("sz.159995", None, "159995.SZ"),
        ("159995", None, "159995.SZ"),
        ("3033.HK", None, "3033.HK"),
        ("03033.hk", None, "3033.HK"),
        ("HK.2828", None, "2828.HK"),
        ("3033", "HK", "3033.HK"),
        (3033, None, "3033.HK"),
        (512480, None, "512480.SH"),
        ("QQQ", None, "QQQ"),
        (" us.xlf ", None, "XLF"),
        ("XLV.US", None, "XLV"),
        ("QQQ", "US", "QQQ"),
    ],
)
def test_codes_normalize_like_stock_codes(raw, region, want):
    assert normalize_etf_code(raw, region=region) == want


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("612345", None),
        ("12345678", None),
        ("", None),
        ("QQQ", "HK"),
        ("3033.HK", "US"),
        ("5124.80", None),
        (None, None),
        (True, None),
    ],
)
def test_bad_codes_raise_asset_code_error(raw, region):
    with pytest.raises(AssetCodeError, match=r"not recognised|must be a string"):
        normalize_etf_code(raw, region=region)


def test_bad_codes_in_a_list_are_all_named():
    with pytest.raises(AssetCodeError, match=r"2 ETF code\(s\).*'xx1'.*'612345'"):
        normalize_etf_codes(["512480", "xx1", "612345"])


def test_unknown_but_well_formed_code_names_the_table():
    assert etf_info("hk.3033")["name"] == "南方恒生科技ETF"
    with pytest.raises(AssetCodeError, match=r"ETF 510999\.SH .*not in the sector-ETF reference"):
        etf_info("510999")
    with pytest.raises(FactorLabError, match="known US ETFs include QQQ"):
        etf_info("SPY")


def test_bad_parameters():
    with pytest.raises(ParameterError, match="`market` must be one of CN, HK, US"):
        sector_etfs("JP")
    with pytest.raises(ParameterError, match="`region`"):
        normalize_etf_code("QQQ", region="EU")
