"""Regenerate ``factorlab/datasets/etf_reference.csv``: the shipped sector-ETF reference table.

Dev-only, offline: the rows below are the data, this script only writes them (sorted, checked)
to the CSV the package reads (``factorlab.etf.sector_etfs()`` / ``industry_etfs()``)::

    python datasets/make_etf_reference.py   # writes factorlab/datasets/etf_reference.csv

and commit the CSV. Columns: ``etf`` (normalized code: ``512480.SH``, ``3033.HK``, ``QQQ``),
``name``, ``market`` (CN / HK / US), ``currency`` (CNY / HKD / USD), ``group`` (the seed's
heading), ``sector``, ``tracks_index`` (null where the source names none), ``citic_industry``
(the CITIC level-1 industry the ETF stands for in the rotation, null otherwise), ``rule`` (which
selection rule decided an industry ETF), ``synthetic`` (True: a code that exists only in the
synthetic market) and ``source``.

Sources, row by row:

- ``seed 003``: the three tables of ``../shared/seeds/003_0260e054de2edb28.txt`` (A-share 13 with
  the index each tracks, Hong Kong 4, US 4), names and indices as the seed writes them. The seed
  gives no index for the HK / US ETFs; the US ones are filled from the issuers' fact sheets
  (Invesco QQQ: Nasdaq-100; SPDR XLF / XLE / XLV: the Select Sector indices) and 3033.HK from its
  name (Hang Seng TECH). 3022.HK / 3067.HK / 2828.HK are left without an index: the seed's names
  are kept, but note that 2828.HK is in fact Hang Seng Investment's Hang Seng China Enterprises
  Index ETF, not a financials ETF (kept because the seed lists it; flagged in docs/etf-flows.md).
- ``seed 004 §3.5``: the 24 CITIC level-1 industry ETFs of ``004_40f58320675e0974.txt`` §3.5
  (30 industries minus 商贸零售, 纺织服装, 综合, 综合金融 (no rotation) and 轻工制造, 消费者服务
  (no suitable ETF, per the seed's figure 57-58 notes)). The seed names the rules but not the
  funds. The rules, applied in order: (1) ``index``: the ETF tracks that industry's index (a CSI
  industry / theme index of the same scope); (2) ``aum``: among several, the largest fund size;
  (3) ``fee``: then the lowest management fee; (4) ``listing``: then the earliest listing. The
  ``rule`` column records the first rule that left one candidate. The selection was made from
  public fund listings as known in 2024 (fund names and tracked indices from the managers'
  names of the products; the size ranking for ``aum`` rows is an approximate public figure,
  e.g. 159870.SZ 54.65 亿份 vs 516020.SH 10.91 亿份 on 2025-07-30 for 中证细分化工). It was not
  re-verified against a live data feed here: verify before trading real money (akshare
  ``fund_etf_spot_em`` gives today's 最新份额 and price for the AUM check).
- ``synthetic``: industries the rotation rotates but without a real ETF in the table get a
  5199xx code (``synthetic`` True), which exists only in the synthetic market (factorlab's
  generator). 环保 is in the synthetic market's industry list (not a CITIC level-1 industry).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

OUTPUT = Path(__file__).resolve().parents[1] / "factorlab" / "datasets" / "etf_reference.csv"

S3 = "seed 003"
S4 = "seed 004 §3.5 rules; factorlab selection from public fund listings (2024), not live-verified"
SYN = "synthetic: no real ETF in the seed 004 §3.5 set; exists only in the synthetic market"

# etf, name, market, currency, group, sector, tracks_index, citic_industry, rule, source
SEED_003 = [
    ("512480.SH", "半导体ETF", "CN", "CNY", "科技板块", "半导体", "中华半导体指数", None),
    ("515070.SH", "人工智能ETF", "CN", "CNY", "科技板块", "人工智能", "中证人工智能", None),
    ("159995.SZ", "芯片ETF", "CN", "CNY", "科技板块", "芯片", "国证芯片指数", None),
    ("515050.SH", "5G ETF", "CN", "CNY", "科技板块", "5G", "中证5G通信", None),
    ("512690.SH", "酒ETF", "CN", "CNY", "消费板块", "白酒", "中证白酒指数", None),
    ("159928.SZ", "消费ETF", "CN", "CNY", "消费板块", "消费", "中证消费指数", None),
    ("512010.SH", "医药ETF", "CN", "CNY", "消费板块", "医药", "中证医药指数", "医药"),
    ("512880.SH", "证券ETF", "CN", "CNY", "金融板块", "证券", "中证全指证券", None),
    ("512800.SH", "银行ETF", "CN", "CNY", "金融板块", "银行", "中证银行指数", "银行"),
    ("512910.SH", "保险ETF", "CN", "CNY", "金融板块", "保险", "中证保险指数", None),
    ("515030.SH", "新能源车ETF", "CN", "CNY", "新能源板块", "新能源车", "中证新能源汽车", None),
    ("515790.SH", "光伏ETF", "CN", "CNY", "新能源板块", "光伏", "中证光伏产业", None),
    ("159755.SZ", "电池ETF", "CN", "CNY", "新能源板块", "锂电池", "中证电池指数", None),
    ("3033.HK", "南方恒生科技ETF", "HK", "HKD", "港股", "恒生科技", "恒生科技指数", None),
    ("3022.HK", "恒生互联网科技ETF", "HK", "HKD", "港股", "互联网", None, None),
    ("3067.HK", "恒生医疗保健ETF", "HK", "HKD", "港股", "医疗保健", None, None),
    ("2828.HK", "恒生金融ETF", "HK", "HKD", "港股", "金融", None, None),
    ("QQQ", "纳斯达克100 ETF", "US", "USD", "美股", "科技", "Nasdaq-100", None),
    ("XLF", "金融板块ETF", "US", "USD", "美股", "金融", "Financial Select Sector", None),
    ("XLE", "能源板块ETF", "US", "USD", "美股", "能源", "Energy Select Sector", None),
    ("XLV", "医疗保健ETF", "US", "USD", "美股", "医疗", "Health Care Select Sector", None),
]
#: Rule that decided each seed-003 ETF that is also the industry ETF.
SEED_003_RULES = {"512010.SH": "aum", "512800.SH": "aum"}

# etf, name, tracks_index, citic_industry, rule
SEED_004 = [
    ("159731.SZ", "石化ETF", "中证石化产业指数", "石油石化", "aum"),
    ("515220.SH", "煤炭ETF", "中证煤炭指数", "煤炭", "index"),
    ("512400.SH", "有色金属ETF", "中证申万有色金属指数", "有色金属", "aum"),
    ("159611.SZ", "电力ETF", "中证全指电力公用事业指数", "电力及公用事业", "index"),
    ("515210.SH", "钢铁ETF", "中证钢铁指数", "钢铁", "index"),
    ("159870.SZ", "化工ETF", "中证细分化工产业主题指数", "基础化工", "aum"),
    ("516970.SH", "基建ETF", "中证基建工程指数", "建筑", "index"),
    ("159745.SZ", "建材ETF", "中证全指建筑材料指数", "建材", "index"),
    ("516960.SH", "机械ETF", "中证细分机械产业主题指数", "机械", "index"),
    ("516160.SH", "新能源ETF", "中证新能源指数", "电力设备及新能源", "index"),
    ("512660.SH", "军工ETF", "中证军工指数", "国防军工", "aum"),
    ("516110.SH", "汽车ETF", "中证800汽车与零部件指数", "汽车", "index"),
    ("159996.SZ", "家电ETF", "中证全指家用电器指数", "家电", "index"),
    ("515170.SH", "食品饮料ETF", "中证细分食品饮料产业主题指数", "食品饮料", "index"),
    ("159825.SZ", "农业ETF", "中证农业主题指数", "农林牧渔", "index"),
    ("512070.SH", "证券保险ETF", "沪深300非银行金融指数", "非银行金融", "index"),
    ("512200.SH", "房地产ETF", "中证全指房地产指数", "房地产", "index"),
    ("159666.SZ", "交通运输ETF", "中证全指交通运输指数", "交通运输", "index"),
    ("159997.SZ", "电子ETF", "中证电子指数", "电子", "index"),
    ("515880.SH", "通信ETF", "中证全指通信设备指数", "通信", "index"),
    ("512720.SH", "计算机ETF", "中证计算机主题指数", "计算机", "aum"),
    ("512980.SH", "传媒ETF", "中证传媒指数", "传媒", "aum"),
]

# etf, citic_industry (the rotation's industries without a real ETF in the set above)
SYNTHETIC = [
    ("519901.SH", "轻工制造"),
    ("519902.SH", "消费者服务"),
    ("519903.SH", "环保"),
]

COLUMNS = [
    "etf",
    "name",
    "market",
    "currency",
    "group",
    "sector",
    "tracks_index",
    "citic_industry",
    "rule",
    "synthetic",
    "source",
]


def build() -> pl.DataFrame:
    """The reference table to ship, one row per ETF code."""
    rows = [
        (etf, name, mkt, cur, grp, sector, index, ind, SEED_003_RULES.get(etf), False, S3)
        for etf, name, mkt, cur, grp, sector, index, ind in SEED_003
    ]
    rows += [
        (etf, name, "CN", "CNY", "行业ETF", ind, index, ind, rule, False, S4)
        for etf, name, index, ind, rule in SEED_004
    ]
    rows += [
        (
            etf,
            f"{ind}ETF(合成)",
            "CN",
            "CNY",
            "行业ETF",
            ind,
            f"合成: {ind}行业成分股市值加权",
            ind,
            "synthetic",
            True,
            SYN,
        )
        for etf, ind in SYNTHETIC
    ]
    table = pl.DataFrame(rows, schema=COLUMNS, orient="row")
    dup = table.filter(pl.col("etf").is_duplicated())
    if dup.height:
        raise SystemExit(f"duplicate ETF codes: {dup['etf'].to_list()}")
    industries = table.filter(pl.col("citic_industry").is_not_null())
    if industries.filter(~pl.col("synthetic")).height != 24:
        raise SystemExit("seed 004 §3.5 maps 24 CITIC industries to real ETFs")
    if industries["citic_industry"].is_duplicated().any():
        raise SystemExit("one ETF per industry")
    return table


def main() -> None:
    table = build()
    table.write_csv(OUTPUT)
    counts = table.group_by("market").len().sort("market").rows()
    print(f"wrote {OUTPUT}: {table.height} ETFs, {counts}")


if __name__ == "__main__":
    main()
