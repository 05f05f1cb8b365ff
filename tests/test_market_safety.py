"""Market persistence safety: never delete what is not ours, paths stay inside, corruption is
detected, staging is atomic and cleaned, caches never lose or mis-serve a result."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl
import pytest
from _frames import valid_frame
from hypothesis import given, settings
from hypothesis import strategies as st

import factorlab as fl
from factorlab.datasets import PRESETS, synthetic_market
from factorlab.errors import DuplicateKeyError, MarketError, MissingTableError, ParameterError
from factorlab.market import (
    MANIFEST,
    WRITER_MARKER,
    Market,
    MarketWriter,
    check_keys_unique,
    remove_stale_staging,
)
from factorlab.northbound.study import factor_study

SMALL = {"n_assets": 60, "start": "2017-01-01", "end": "2017-06-30"}
STUDY = {"factors": ["nb_hold_value"], "pools": ["liq1500"]}


@pytest.fixture
def market() -> Market:
    return Market({name: valid_frame(name) for name in ("prices", "fx", "assets")})


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("synth") / "m"
    synthetic_market(**SMALL, cache=path)
    return path


def _overwrite_middle(path: Path, n: int = 64) -> None:
    """Overwrite `n` bytes in the middle of `path`: same size, different content."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(size // 2)
        old = f.read(n)
        f.seek(size // 2)
        f.write(bytes(b ^ 0xFF for b in old))
    assert path.stat().st_size == size


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


# ---- 1. nothing the user owns is deleted or overwritten --------------------------------------


def test_save_refuses_a_directory_with_a_foreign_manifest(market, tmp_path):
    webapp = tmp_path / "webapp"
    (webapp / "src").mkdir(parents=True)
    (webapp / MANIFEST).write_text('{"name": "my-web-app"}')
    (webapp / "src" / "index.js").write_text("console.log('keep')")
    before = _tree(webapp)
    with pytest.raises(MarketError, match=r"webapp.*not a factorlab market directory.*refusing"):
        market.save(webapp)
    assert _tree(webapp) == before
    assert (webapp / "src" / "index.js").read_text() == "console.log('keep')"
    assert [p.name for p in tmp_path.iterdir()] == ["webapp"]  # no staging left behind


def test_save_refuses_a_market_dir_holding_a_user_file_and_keeps_it(market, tmp_path):
    path = market.save(tmp_path / "m")
    (path / "notes.txt").write_text("mine")
    before = _tree(path)
    with pytest.raises(MarketError, match=r"`notes\.txt`.*refusing to replace"):
        market.save(path)
    assert _tree(path) == before
    # a file that is not a directory is refused too
    (tmp_path / "file").write_text("x")
    with pytest.raises(MarketError, match=r"file.*not a directory"):
        market.save(tmp_path / "file")
    assert (tmp_path / "file").read_text() == "x"


def test_our_market_is_replaced_with_normal_permissions(market, tmp_path):
    path = market.save(tmp_path / "m")
    other = Market({"fx": valid_frame("fx", seed=3)})
    other.save(path)
    loaded = Market.load(path, verify_hashes=True)
    assert loaded.names == ["fx"] and not (path / "prices.parquet").exists()
    assert loaded["fx"].collect().equals(valid_frame("fx", seed=3))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o777 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_stale_staging_of_a_dead_writer_is_removed_a_live_one_is_kept(market, tmp_path):
    target = tmp_path / "m"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()

    def staging(suffix: str, pid: int | None) -> Path:
        d = tmp_path / f".m.{suffix}"
        (d / "new").mkdir(parents=True)
        (d / "new" / "prices.parquet").write_bytes(b"x" * 100)
        if pid is not None:
            import socket

            marker = {"pid": pid, "host": socket.gethostname(), "target": "m"}
            (d / WRITER_MARKER).write_text(json.dumps(marker))
        return d

    stale = staging("dead", dead.pid)
    live = staging("live", os.getpid())
    foreign = staging("nomarker", None)  # not ours: never removed
    market.save(target)
    assert not stale.exists()
    assert live.exists() and foreign.exists()
    assert remove_stale_staging(target) == []


def test_a_killed_writer_leaves_a_staging_dir_that_the_next_writer_removes(market, tmp_path):
    target = tmp_path / "m"
    code = (
        "import os, polars as pl\n"
        "from factorlab.market import MarketWriter\n"
        f"with MarketWriter({str(target)!r}, validate='none') as w:\n"
        "    w.add('x', pl.DataFrame({'a': list(range(1000))}))\n"
        "    os._exit(9)\n"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 9
    leaked = [p for p in tmp_path.iterdir() if p.name.startswith(".m.")]
    assert len(leaked) == 1 and (leaked[0] / WRITER_MARKER).is_file()
    assert not target.exists()
    market.save(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_concurrent_writers_of_one_path_all_finish_with_a_whole_market(tmp_path):
    target = tmp_path / "m"
    errors: list[BaseException] = []

    def write(seed: int) -> None:
        try:
            Market({"fx": valid_frame("fx", seed=seed)}).save(target)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    for _ in range(3):
        threads = [threading.Thread(target=write, args=(s,)) for s in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        loaded = Market.load(target, verify_hashes=True)
        assert any(loaded["fx"].collect().equals(valid_frame("fx", seed=s)) for s in range(8))
        assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


# ---- 2. paths stay inside their directory -----------------------------------------------------


@pytest.mark.parametrize("name", ["../../x", "/abs", "a/b", "Prices", "", "1x", "a.b"])
def test_table_names_that_are_not_identifiers_are_refused_at_construction(name):
    with pytest.raises(MarketError, match=r"table name .* is not an identifier"):
        Market({name: valid_frame("fx")}, validate="none")


def test_table_names_are_refused_on_save(tmp_path):
    with pytest.raises(MarketError, match=r"'\.\./\.\./escaped' is not an identifier"):
        with MarketWriter(tmp_path / "out" / "m", validate="none") as w:
            w.add("../../escaped", valid_frame("fx"))
    assert not list(tmp_path.rglob("*.parquet"))


@pytest.mark.parametrize(
    ("table", "files"),
    [
        ("fx", ["../outside.parquet"]),
        ("fx", ["/abs.parquet"]),
        ("fx", ["a/../../b"]),
        ("fx", ["prices.parquet"]),  # another table's name
        ("../../escaped", ["../../escaped.parquet"]),
    ],
)
def test_manifest_paths_outside_the_directory_are_refused_on_load(market, tmp_path, table, files):
    path = market.save(tmp_path / "m")
    (tmp_path / "outside.parquet").write_bytes((path / "fx.parquet").read_bytes())
    manifest = json.loads((path / MANIFEST).read_text())
    entry = {"files": files, "rows": 1, "sha256": ["0" * 64] * len(files), "sizes": [1]}
    manifest["tables"] = {table: entry}
    (path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(MarketError, match=r"manifest\.json.*(not an identifier|lists file)"):
        Market.load(path)


# ---- 3. corruption is detected ----------------------------------------------------------------


def test_a_truncated_file_is_a_market_error_naming_it(market, tmp_path):
    path = market.save(tmp_path / "m")
    data = (path / "prices.parquet").read_bytes()
    (path / "prices.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(MarketError, match=r"`prices\.parquet` of table `prices` has \d+ bytes"):
        Market.load(path)


def test_an_overwrite_mid_file_is_caught_by_verify_hashes(synth_dir, tmp_path):
    copy = tmp_path / "m"
    shutil.copytree(synth_dir, copy)
    _overwrite_middle(copy / "prices.parquet")
    with pytest.raises(MarketError, match=r"`prices\.parquet` of table `prices` does not match"):
        Market.load(copy, verify_hashes=True)
    # the default load's key check of a writer-checked table is a hash check: caught too
    with pytest.raises(MarketError, match=r"`prices\.parquet` of table `prices` does not match"):
        Market.load(copy)
    assert Market.load(copy, validate="none").names  # sizes and footers only: not detected


def test_the_synthetic_cache_regenerates_a_tampered_copy(synth_dir, tmp_path):
    copy = tmp_path / "m"
    shutil.copytree(synth_dir, copy)
    _overwrite_middle(copy / "prices.parquet")
    with pytest.warns(UserWarning, match=r"failed verification.*prices\.parquet"):
        m = synthetic_market(**SMALL, cache=copy)
    fresh = pl.read_parquet(synth_dir / "prices.parquet")
    assert m.prices.collect().equals(fresh)
    assert (copy / "prices.parquet").read_bytes() == (synth_dir / "prices.parquet").read_bytes()
    Market.load(copy, verify_hashes=True)


def _manifest_cases() -> list[tuple[str, object]]:
    return [
        ("bad json", "{not json"),
        ("not an object", "[1, 2]"),
        ("no format", {"schema_version": 1, "tables": {}}),
        ("no tables", "drop:tables"),
        ("tables a list", "set:tables=[]"),
        ("entry not an object", "set:tables.fx=3"),
        ("no files", "drop:tables.fx.files"),
        ("no sha256", "drop:tables.fx.sha256"),
        ("short sha256", "set:tables.fx.sha256=['abc']"),
        ("no sizes (v2)", "drop:tables.fx.sizes"),
        ("size a string", "set:tables.fx.sizes=['12']"),
        ("rows a string", "set:tables.fx.rows='3'"),
        ("keys_unique a string", "set:tables.fx.keys_unique='yes'"),
    ]


@pytest.mark.parametrize(("case", "edit"), _manifest_cases(), ids=[c for c, _ in _manifest_cases()])
def test_malformed_manifests_are_market_errors_naming_the_file(market, tmp_path, case, edit):
    path = market.save(tmp_path / "m")
    mp = path / MANIFEST
    if isinstance(edit, dict):
        mp.write_text(json.dumps(edit))
    elif edit.startswith(("drop:", "set:")):
        manifest = json.loads(mp.read_text())
        op, _, rest = edit.partition(":")
        where, _, value = rest.partition("=")
        *parents, leaf = where.split(".")
        node = manifest
        for k in parents:
            node = node[k]
        if op == "drop":
            del node[leaf]
        else:
            node[leaf] = eval(value)  # literal test values
        mp.write_text(json.dumps(manifest))
    else:
        mp.write_text(edit)
    with pytest.raises(MarketError, match=r"manifest\.json|not a factorlab market"):
        Market.load(path)


def test_an_old_manifest_without_sizes_is_hash_checked(market, tmp_path):
    path = market.save(tmp_path / "m")
    manifest = json.loads((path / MANIFEST).read_text())
    del manifest["manifest_version"]
    for entry in manifest["tables"].values():
        del entry["sizes"]
    (path / MANIFEST).write_text(json.dumps(manifest))
    assert Market.load(path).names == market.names
    _overwrite_middle(path / "prices.parquet", n=8)
    with pytest.raises(MarketError, match=r"`prices\.parquet`.*does not match its manifest hash"):
        Market.load(path)


def test_study_cache_is_not_served_after_a_tampered_market_file(synth_dir, tmp_path):
    copy = tmp_path / "m"
    shutil.copytree(synth_dir, copy)
    m = Market.load(copy)
    first = factor_study(m, **STUDY, cache=tmp_path / "studies")
    _overwrite_middle(copy / "prices.parquet")
    # the loaded market and a fresh load both see the change: the cached result is not served
    with pytest.raises(MarketError, match=r"`prices\.parquet` of table `prices` does not match"):
        factor_study(m, **STUDY, cache=tmp_path / "studies")
    with pytest.raises(MarketError, match=r"`prices\.parquet` of table `prices` does not match"):
        factor_study(Market.load(copy), **STUDY, cache=tmp_path / "studies")
    # a tampered cached result is recomputed, with a warning
    shutil.rmtree(copy)
    shutil.copytree(synth_dir, copy)
    m = Market.load(copy)
    (entry,) = (tmp_path / "studies").iterdir()
    _overwrite_middle(entry / "daily.parquet", n=16)
    with pytest.warns(UserWarning, match=r"damaged cached study.*daily\.parquet"):
        again = factor_study(m, **STUDY, cache=tmp_path / "studies")
    assert again.table.equals(first.table) and again.daily.equals(first.daily)
    assert factor_study(m, **STUDY, cache=tmp_path / "studies").daily.equals(first.daily)


# ---- 4. cheap key check on load ---------------------------------------------------------------


def test_load_rejects_duplicate_keys_by_default(tmp_path):
    fx = valid_frame("fx")
    with MarketWriter(tmp_path / "m", validate="none") as w:
        w.add("fx", pl.concat([fx, fx.head(1)]))
    with pytest.raises(DuplicateKeyError, match=r"table `fx` has 1 duplicate \(`date`\) key"):
        Market.load(tmp_path / "m")
    assert Market.load(tmp_path / "m", validate="none")["fx"].collect().height == fx.height + 1


def test_the_writer_checks_keys_and_records_it(tmp_path):
    fx = valid_frame("fx")
    with pytest.raises(DuplicateKeyError, match=r"table `fx` has 1 duplicate"):
        with MarketWriter(tmp_path / "d", validate="schema") as w:
            w.add("fx", pl.concat([fx, fx.head(1)]).sort("usdcny"))
    assert not (tmp_path / "d").exists()
    # parts whose keys do not increase across the boundary: left for the load to check
    ph = valid_frame("participant_holdings")
    with MarketWriter(tmp_path / "m", validate="schema") as w:
        w.add("fx", fx)
        w.add("participant_holdings", ph)
        w.add("participant_holdings", ph.head(1))
    entries = json.loads((tmp_path / "m" / MANIFEST).read_text())["tables"]
    assert entries["fx"]["keys_unique"] is True
    assert entries["participant_holdings"]["keys_unique"] is False
    for verify in (False, True):
        with pytest.raises(DuplicateKeyError, match=r"`participant_holdings` has 1 duplicate"):
            Market.load(tmp_path / "m", verify_hashes=verify)


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(["a", "b", "c"]), st.sampled_from(["p", "q"])),
        max_size=12,
    ),
    cuts=st.lists(st.integers(0, 12), max_size=3),
    order=st.booleans(),
)
def test_the_cheap_key_check_equals_a_hash_count(rows, cuts, order):
    """Sorted or not, split into parts or not: duplicates are found exactly when they exist."""
    if order:
        rows = sorted(rows)
    frame = pl.DataFrame(
        {
            "date": [dt.date(2020, 1, 1) + dt.timedelta(days=d) for d, _, _ in rows],
            "asset": [a for _, a, _ in rows],
            "participant": [q for _, _, q in rows],
        },
        schema={"date": pl.Date, "asset": pl.String, "participant": pl.String},
    )
    bounds = sorted({0, len(rows), *(c for c in cuts if c <= len(rows))})
    parts = [frame.slice(a, b - a).lazy() for a, b in itertools.pairwise(bounds)]
    if len(set(rows)) == len(rows):
        check_keys_unique("participant_holdings", parts or [frame.lazy()])
    else:
        with pytest.raises(DuplicateKeyError, match=r"`participant_holdings` has \d+ duplicate"):
            check_keys_unique("participant_holdings", parts or [frame.lazy()])


def _increasing_row_by_row(frame: pl.DataFrame, keys: list[str]) -> bool:
    """The oracle: each row against the previous one in Python, lexicographic, a null key
    never greater."""
    rows = frame.select(keys).rows()
    for before, now in itertools.pairwise(rows):
        for p, c in zip(before, now, strict=True):
            if c is None or p is None or c < p:
                return False
            if c > p:
                break
        else:
            return False  # every key equal
    return True


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(0, 2)),
            st.one_of(st.none(), st.sampled_from(["a", "b", "c"])),
            st.sampled_from(["p", "q"]),
        ),
        max_size=10,
    ),
    order=st.booleans(),
    n_keys=st.integers(1, 3),
    flagged=st.booleans(),
)
def test_the_writers_key_order_check_equals_row_by_row(rows, order, n_keys, flagged):
    """``_strictly_increasing`` (the first key's ``is_sorted``, then the other keys) answers as
    comparing each row with the previous one, nulls included, and whatever Polars' sorted flag
    says (``set_sorted`` on unsorted data: ``is_sorted`` then answers from the flag)."""
    from factorlab.market import _strictly_increasing

    if order:  # nulls last
        rows = sorted(rows, key=lambda r: [(True, 0) if v is None else (False, v) for v in r])
    frame = pl.DataFrame(rows, schema={"d": pl.Int64, "a": pl.String, "p": pl.String}, orient="row")
    if flagged:
        frame = frame.with_columns(pl.col("d").set_sorted())
    keys = ["d", "a", "p"][:n_keys]
    assert _strictly_increasing(frame, keys) is _increasing_row_by_row(frame, keys)


def test_a_wrong_sorted_flag_does_not_pass_the_key_check():
    from factorlab.market import _strictly_increasing

    frame = pl.DataFrame({"d": [2, 1, 2]}).with_columns(pl.col("d").set_sorted())
    assert frame["d"].is_sorted()  # Polars trusts the flag
    assert _strictly_increasing(frame, ["d"]) is False


# ---- 6, 7. pandas tables, parameter errors ----------------------------------------------------


def test_pandas_tables_are_accepted():
    prices = valid_frame("prices")
    m = Market({"prices": prices.to_pandas(), "extra": prices.to_pandas()})
    assert m["prices"].collect().equals(prices)  # datetime64 dates at midnight became dates
    assert m["extra"].collect().schema["date"] == pl.Datetime("ms")
    with pytest.raises(ParameterError, match=r"`tables\['fx'\]` must be a polars DataFrame"):
        Market({"fx": [1, 2]})


def test_a_typo_attribute_lists_the_tables(market):
    assert not hasattr(market, "price") and not hasattr(market, "northbound")
    with pytest.raises(MissingTableError, match=r"no attribute or table `price`.*`prices`"):
        market.price  # noqa: B018
    with pytest.raises(AttributeError, match=r"Tables present: `assets`, `fx`, `prices`"):
        market.price  # noqa: B018


def test_synthetic_market_arguments(tmp_path):
    with pytest.raises(ParameterError, match=r"`seed` must be an integer; got 'abc'"):
        synthetic_market(seed="abc", cache=False)
    with pytest.raises(ParameterError, match=r"`n_assets`.*preset name.*got 'tiny'.*preset="):
        synthetic_market("tiny", cache=False)
    m = fl.synthetic_market("small", end="2016-08-31", cache=tmp_path / "m")
    params = m.meta["params"]
    assert params["n_assets"] == PRESETS["small"]["n_assets"] == 400
    assert params["start"] == str(PRESETS["small"]["start"]) and params["end"] == "2016-08-31"
    same = fl.synthetic_market(preset="small", end="2016-08-31", cache=tmp_path / "m")
    assert same.content_hash == m.content_hash
    assert (
        fl.synthetic_market(preset="small", n_assets=60, end="2016-08-31", cache=False).meta[
            "params"
        ]["n_assets"]
        == 60
    )


# ---- 8. a read-only cache never loses a computed result ---------------------------------------


def test_a_failed_cache_write_frees_the_first_attempt_before_generating_again(
    tmp_path, monkeypatch
):
    """The fallback generation starts after the failed attempt's traceback is dropped: its
    frames' grids are freed first, so the two attempts never share the peak memory."""
    import weakref

    from factorlab import datasets as ds

    class Grids:  # stands for the first attempt's arrays, held by its frames
        pass

    first: list[weakref.ref] = []

    def generate(target, p, progress):
        grids = Grids()
        if not first:
            first.append(weakref.ref(grids))
            raise OSError("No space left on device")
        assert first[0]() is None, "the failed attempt's grids are still alive"
        return grids

    monkeypatch.setattr(ds, "_generate", generate)
    monkeypatch.setattr(ds, "_cached", lambda target, p: None)
    monkeypatch.setenv("FACTORLAB_CACHE", str(tmp_path))
    with pytest.warns(UserWarning, match="could not be cached.*No space left"):
        market = ds._market_for(ds.preset_params("small"), cache=True, progress=None)
    assert isinstance(market, Grids) and first[0]() is None


def test_an_unwritable_cache_under_a_file_warns_and_returns_results(
    synth_dir, tmp_path, monkeypatch
):
    blocker = tmp_path / "somefile"
    blocker.write_text("not a directory")
    monkeypatch.setenv("FACTORLAB_CACHE", str(blocker / "sub"))
    with pytest.warns(UserWarning, match=r"could not be cached.*somefile"):
        m = synthetic_market(**SMALL)
    assert m.prices.collect().equals(pl.read_parquet(synth_dir / "prices.parquet"))
    with pytest.warns(UserWarning, match=r"study result could not be cached.*somefile"):
        r = factor_study(m, **STUDY)
    assert r.table.equals(factor_study(m, **STUDY, cache=False).table)
    # an explicit directory the user asked for is an error, not a silent fallback
    with pytest.raises(MarketError, match=r"cannot write the synthetic market to .*somefile"):
        synthetic_market(**SMALL, cache=blocker / "m")


def test_an_unwritable_cache_by_monkeypatch_warns_and_returns_results(
    synth_dir, tmp_path, monkeypatch
):
    import factorlab.market as market_module

    def refuse(self, target):
        raise PermissionError(13, "Permission denied", str(target.parent))

    monkeypatch.setenv("FACTORLAB_CACHE", str(tmp_path / "cache"))
    m = Market.load(synth_dir)
    monkeypatch.setattr(market_module._Staging, "__init__", refuse)
    with pytest.warns(UserWarning, match=r"study result could not be cached.*Permission denied"):
        r = factor_study(m, **STUDY)
    assert r.table.height == 1
    # synthetic_market: the cache and the temporary fallback both refuse here, so patch only
    # the first writer
    calls = []
    original = market_module.MarketWriter.__enter__

    def first_refuses(self):
        calls.append(self.path)
        if len(calls) == 1:
            raise PermissionError(13, "Permission denied", str(self.path))
        return original(self)

    monkeypatch.undo()
    monkeypatch.setenv("FACTORLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(market_module.MarketWriter, "__enter__", first_refuses)
    with pytest.warns(UserWarning, match=r"could not be cached.*Permission denied"):
        m2 = synthetic_market(**SMALL)
    assert m2.content_hash == Market.load(synth_dir).content_hash
    assert len(calls) == 2 and not (tmp_path / "cache" / "synthetic").exists()


def test_the_market_on_disk_holds_no_leftovers(synth_dir):
    assert not [p for p in synth_dir.parent.iterdir() if p.name.startswith(".")]
    assert dt.date(2017, 1, 3) <= Market.load(synth_dir).prices.collect()["date"].min()


def test_an_uncached_synthetic_market_leaves_no_temporary_directory(tmp_path, monkeypatch):
    import gc
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    m = fl.synthetic_market(n_assets=50, start="2017-01-01", end="2017-02-28", cache=False)
    assert m.prices.collect().height > 0
    assert len(list(tmp_path.glob("factorlab-synth-*"))) == 1
    del m
    gc.collect()
    assert list(tmp_path.glob("factorlab-synth-*")) == []
