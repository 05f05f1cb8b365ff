"""Market: bundle, save/load round trip with manifest and hashes, clear errors for absent tables."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from _frames import valid_frame

from factorlab.errors import DuplicateKeyError, MarketError
from factorlab.market import Market


@pytest.fixture
def small_market() -> Market:
    return Market({name: valid_frame(name) for name in ("prices", "fx", "assets")})


def test_tables_are_lazy_and_named(small_market):
    assert small_market.names == ["assets", "fx", "prices"]
    assert isinstance(small_market.prices, pl.LazyFrame)
    assert small_market["fx"].collect().equals(valid_frame("fx"))
    assert "fx" in small_market and not small_market.has("northbound")


def test_missing_table_is_a_clear_error(small_market):
    with pytest.raises(MarketError, match=r"no table `northbound`.*Tables present: `assets`"):
        small_market.northbound  # noqa: B018
    with pytest.raises(MarketError, match=r"the study needs table\(s\) `northbound`, `quotas`"):
        small_market.require("prices", "northbound", "quotas", purpose="the study")


def test_invalid_table_is_rejected_at_construction():
    bad = pl.concat([valid_frame("fx"), valid_frame("fx").head(1)])
    with pytest.raises(DuplicateKeyError, match="fx"):
        Market({"fx": bad})


def test_save_load_round_trip_with_manifest(small_market, tmp_path):
    path = small_market.save(tmp_path / "m")
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["schema_version"] == 1
    assert manifest["tables"]["prices"]["rows"] == valid_frame("prices").height
    assert len(manifest["tables"]["prices"]["sha256"][0]) == 64
    loaded = Market.load(path, validate="full", verify_hashes=True)
    for name in small_market.names:
        assert loaded[name].collect().equals(small_market[name].collect())
    assert loaded.content_hash == manifest["content_hash"]
    # identical content gives an identical hash
    again = Market.load(small_market.save(tmp_path / "m2"))
    assert again.content_hash == loaded.content_hash


def test_load_detects_tampering_and_non_market_dirs(small_market, tmp_path):
    path = small_market.save(tmp_path / "m")
    with pytest.raises(MarketError, match=r"no manifest\.json"):
        Market.load(tmp_path)
    pl.DataFrame({"date": [dt.date(2020, 1, 2)], "usdcny": [7.0]}).write_parquet(
        path / "fx.parquet"
    )
    # a file of another size is caught by the size check on every load
    with pytest.raises(MarketError, match=r"`fx\.parquet` of table `fx` has \d+ bytes"):
        Market.load(path)
    (path / "fx.parquet").unlink()
    with pytest.raises(MarketError, match=r"missing file"):
        Market.load(path)


def test_summary_counts_rows_dates_and_assets(small_market):
    s = small_market.summary()
    row = s.filter(pl.col("table") == "prices").row(0, named=True)
    prices = valid_frame("prices")
    assert row["rows"] == prices.height
    assert row["first"] == prices["date"].min() and row["last"] == prices["date"].max()
    assert row["assets"] == prices["asset"].n_unique()


def test_writer_never_replaces_a_directory_that_is_not_a_market(small_market, tmp_path):
    precious = tmp_path / "data"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(MarketError, match="refusing to replace"):
        small_market.save(precious)
    assert (precious / "notes.txt").read_text() == "keep me"
    # an existing market directory is replaced
    path = small_market.save(tmp_path / "m")
    assert Market.load(small_market.save(path)).names == small_market.names


def test_a_new_market_has_no_content_hash_until_saved(small_market, tmp_path):
    loaded = Market.load(small_market.save(tmp_path / "m"))
    assert loaded.content_hash
    derived = Market({n: loaded[n] for n in loaded.names}, meta=loaded.meta)
    assert derived.content_hash is None
