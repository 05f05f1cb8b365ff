"""Market: the canonical tables of one market bundled as LazyFrames, with parquet load/save.

A market directory holds one parquet file per table (large tables as a folder of parquet parts)
and ``manifest.json`` with the format marker, schema version, generation parameters, row counts,
and the size and sha256 of every file it lists. A directory is only ever replaced if it is such a
market and holds nothing else; the new one is written beside it and renamed into place.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import importlib
import json
import logging
import os
import re
import secrets
import shutil
import socket
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import polars as pl

from factorlab._display import Summary, data_text, wrap
from factorlab._version import __version__
from factorlab.errors import MarketError, MissingTableError, ParameterError
from factorlab.frames import as_lazy, check_unique_keys
from factorlab.schema import SCHEMA_VERSION, TABLES, validate

__all__ = ["MANIFEST", "Market", "MarketWriter", "read_manifest"]

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
#: The manifest's format marker: only a directory whose manifest carries it may be replaced.
FORMAT = "factorlab-market"
#: 2: every table entry lists ``sizes`` (bytes) next to ``sha256``. 1 (no field): no sizes.
MANIFEST_VERSION = 2
#: Tables written as a folder of parts (one file per year) rather than one file.
PARTITIONED = frozenset({"participant_holdings"})
#: The file in a writer's staging directory naming its process (for stale-directory cleanup).
WRITER_MARKER = "factorlab-writer.json"

_TABLE_NAME = re.compile(r"[a-z][a-z0-9_]*")
_SHA256 = re.compile(r"[0-9a-f]{64}")

ValidateLevel = Literal["none", "schema", "full"]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def check_table_name(name: object) -> str:
    """Return `name` if it is a table identifier (``[a-z][a-z0-9_]*``), else raise MarketError.

    Table names become file names, so ``../x``, absolute paths and separators are refused.

    Examples
    --------
    >>> check_table_name("prices")
    'prices'
    >>> check_table_name("../../x")
    Traceback (most recent call last):
    ...
    factorlab.errors.MarketError: table name '../../x' is not an identifier: table names must match [a-z][a-z0-9_]* (they become file names); rename it, e.g. 'x'.
    """  # noqa: E501
    if isinstance(name, str) and _TABLE_NAME.fullmatch(name):
        return name
    fix = re.sub(r"[^a-z0-9_]+", "_", str(name).lower()).strip("_")
    fix = fix if fix and fix[0].isalpha() else f"t_{fix}".rstrip("_")
    raise MarketError(
        f"table name {name!r} is not an identifier: table names must match [a-z][a-z0-9_]* "
        f"(they become file names); rename it, e.g. {fix!r}."
    )


def _file_ok(table: str, rel: object) -> bool:
    """A manifest file name is `table`.parquet or `table`/part-NNNN.parquet: never a path out."""
    return isinstance(rel, str) and (
        rel == f"{table}.parquet"
        or re.fullmatch(rf"{table}/part-\d{{4}}\.parquet", rel) is not None
    )


def read_manifest(path: str | os.PathLike, *, check_version: bool = True) -> dict[str, Any]:
    """The checked manifest of the market directory `path`.

    Raises :class:`MarketError` naming the manifest file when it is absent, not JSON, lacks the
    ``"format": "factorlab-market"`` marker, has another schema version (if `check_version`), or
    has a malformed ``tables`` entry (table names must be identifiers; file names
    ``<table>.parquet`` or ``<table>/part-NNNN.parquet``; one sha256 and, from manifest version
    2 on, one size per file). Version-1 manifests (no sizes) come back with ``sizes`` None.
    """
    root = Path(path)
    mp = root / MANIFEST
    if not root.exists():
        raise MarketError(
            f"market directory `{root}` does not exist. Create one with "
            "`factorlab data synth --out DIR` or Market.save()."
        )
    if not mp.is_file():
        raise MarketError(
            f"`{root}` is not a factorlab market directory: no {MANIFEST}. Create one with "
            "`factorlab data synth --out DIR` or Market.save()."
        )
    try:
        manifest = json.loads(mp.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MarketError(
            f"`{mp}` cannot be read as JSON ({exc}); the manifest is damaged. Regenerate the "
            "market (factorlab data synth, Market.save)."
        ) from exc

    def bad(what: str) -> MarketError:
        return MarketError(
            f"`{mp}` is not a valid factorlab market manifest: {what}. Regenerate the market "
            "(factorlab data synth, Market.save)."
        )

    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise MarketError(
            f"`{root}` is not a factorlab market directory: its {MANIFEST} has no "
            f'"format": "{FORMAT}" marker (got {got!r}).'
        )
    version = manifest.get("schema_version")
    if check_version and version != SCHEMA_VERSION:
        raise MarketError(
            f"market `{root}` has schema version {version}; this factorlab reads version "
            f"{SCHEMA_VERSION}. Regenerate it (factorlab data synth) or convert it."
        )
    mversion = manifest.get("manifest_version", 1)
    if not isinstance(mversion, int) or isinstance(mversion, bool):
        raise bad(f"`manifest_version` must be an integer; got {mversion!r}")
    tables = manifest.get("tables")
    if not isinstance(tables, dict):
        raise bad(f"`tables` must be an object of table entries; got {type(tables).__name__}")
    if not isinstance(manifest.get("meta", {}), dict):
        raise bad("`meta` must be an object")
    for name, entry in tables.items():
        if not (isinstance(name, str) and _TABLE_NAME.fullmatch(name)):
            raise bad(f"table name {name!r} is not an identifier ([a-z][a-z0-9_]*)")
        if not isinstance(entry, dict):
            raise bad(f"the entry of table `{name}` must be an object; got {entry!r}")
        files = entry.get("files")
        if not isinstance(files, list):
            raise bad(f"table `{name}` has no `files` list")
        outside = [f for f in files if not _file_ok(name, f)]
        if outside:
            raise bad(
                f"table `{name}` lists file(s) {outside[:3]}; a table's files must be "
                f"`{name}.parquet` or `{name}/part-NNNN.parquet` inside the market directory"
            )
        hashes = entry.get("sha256")
        if not (
            isinstance(hashes, list)
            and len(hashes) == len(files)
            and all(isinstance(h, str) and _SHA256.fullmatch(h) for h in hashes)
        ):
            raise bad(
                f"table `{name}` must have one `sha256` (64 hex digits) per file "
                f"({len(files)} file(s)); got {hashes!r:.120}"
            )
        sizes = entry.get("sizes")
        if mversion >= 2 or sizes is not None:
            if not (
                isinstance(sizes, list)
                and len(sizes) == len(files)
                and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in sizes)
            ):
                raise bad(
                    f"table `{name}` must have one `sizes` entry (bytes, an integer >= 0) per "
                    f"file ({len(files)} file(s)); got {sizes!r:.120}"
                )
        else:
            entry["sizes"] = None
        if not isinstance(entry.get("keys_unique", False), bool):
            raise bad(f"table `{name}`: `keys_unique` must be true or false")
        rows = entry.get("rows", 0)
        if not isinstance(rows, int) or isinstance(rows, bool):
            raise bad(f"table `{name}`: `rows` must be an integer; got {rows!r}")
    return manifest


def _check_files(root: Path, name: str, entry: Mapping[str, Any], *, hashes: bool) -> list[Path]:
    """The files of table `name`, checked against the manifest: present, of the recorded size,
    (if `hashes`) of the recorded sha256, and with a readable parquet footer."""
    files = [root / f for f in entry["files"]]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise MarketError(f"market `{root}`: table `{name}` is missing file(s) {missing}.")
    for i, f in enumerate(files):
        rel = entry["files"][i]
        if entry["sizes"] is not None:
            size = f.stat().st_size
            if size != entry["sizes"][i]:
                raise MarketError(
                    f"market `{root}`: file `{rel}` of table `{name}` has {size} bytes; its "
                    f"manifest records {entry['sizes'][i]}, so it was truncated or rewritten. "
                    "Regenerate the market (factorlab data synth, Market.save)."
                )
        if hashes and _sha256(f) != entry["sha256"][i]:
            raise MarketError(
                f"market `{root}`: file `{rel}` of table `{name}` does not match its manifest "
                "hash (sha256); the directory was modified or corrupted. Regenerate it."
            )
        try:
            pl.read_parquet_schema(f)
        except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
            raise MarketError(
                f"market `{root}`: file `{rel}` of table `{name}` is not a readable parquet "
                f"file ({type(exc).__name__}: {exc}); it is corrupted. Regenerate the market."
            ) from exc
    return files


class Market:
    """A bundle of canonical tables as LazyFrames.

    Parameters
    ----------
    tables
        Table name -> polars DataFrame or LazyFrame, or a pandas DataFrame (converted once, a
        named index becoming columns). Names must be identifiers (``[a-z][a-z0-9_]*``: they
        become file names); names of :data:`factorlab.schema.TABLES` are validated, other names
        are kept as extra tables.
    meta
        Free-form metadata (generation parameters, source), kept in the manifest.
    validate
        ``"full"`` (default for in-memory tables) checks every value, ``"schema"`` column
        names, dtypes and key uniqueness (reads the key columns only), ``"none"`` nothing.

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> m = Market({"fx": pl.DataFrame({"date": [dt.date(2020, 1, 2)], "usdcny": [6.96]})})
    >>> m.names
    ['fx']
    >>> m["fx"].collect().height
    1
    """

    def __init__(
        self,
        tables: Mapping[str, pl.DataFrame | pl.LazyFrame],
        *,
        meta: Mapping[str, Any] | None = None,
        validate: ValidateLevel = "full",
        path: Path | None = None,
    ) -> None:
        if not isinstance(tables, Mapping):
            raise ParameterError(
                f"`tables` must be a mapping of table name -> frame; got {type(tables).__name__}."
            )
        self._tables = {
            check_table_name(name): _pandas_dates(name, frame)
            if _is_pandas(frame)
            else as_lazy(frame, name=f"tables[{name!r}]")
            for name, frame in tables.items()
        }
        self.meta: dict[str, Any] = dict(meta or {})
        # a content hash describes files on disk: only Market.load sets it
        self.meta.pop("content_hash", None)
        self.path = path
        _validate_tables(self._tables, validate)

    # ---- access -------------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """Names of the tables present, sorted."""
        return sorted(self._tables)

    def has(self, name: str) -> bool:
        return name in self._tables

    def __contains__(self, name: object) -> bool:
        return name in self._tables

    def __getitem__(self, name: str) -> pl.LazyFrame:
        return self.table(name)

    def table(self, name: str) -> pl.LazyFrame:
        """The table `name` as a LazyFrame; a clear :class:`MissingTableError` if it is absent."""
        if name not in self._tables:
            known = ", ".join(f"`{n}`" for n in self.names) or "none"
            hint = f" ({TABLES[name].description.rstrip('.')})" if name in TABLES else ""
            raise MissingTableError(
                f"this market has no table `{name}`{hint}. Tables present: "
                f"{known}. Load a market that includes it (e.g. the synthetic market, or an "
                f"adapter that produces `{name}`)."
            )
        return self._tables[name]

    def require(self, *names: str, purpose: str = "this function") -> None:
        """Raise one :class:`MarketError` naming every table `purpose` needs and lacks."""
        missing = [n for n in names if n not in self._tables]
        if missing:
            raise MarketError(
                f"{purpose} needs table(s) {', '.join(f'`{n}`' for n in missing)}, which this "
                f"market lacks (present: {', '.join(self.names) or 'none'})."
            )

    def __getattr__(self, name: str) -> pl.LazyFrame:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in TABLES or name in self._tables:
            return self.table(name)
        import difflib

        near = difflib.get_close_matches(name, [*self._tables, *TABLES], n=1)
        hint = f" Did you mean `{near[0]}`?" if near else ""
        raise MissingTableError(
            f"`Market` has no attribute or table `{name}`.{hint} Tables present: "
            f"{', '.join(f'`{n}`' for n in self.names) or 'none'}."
        )

    def _display(self, table: pl.DataFrame | None = None) -> Summary:
        where = f" at {self.path}" if self.path else " (in memory)"
        lines = []
        described = self.describe()
        described.pop("path", None)  # in the title
        # the line every result and report prints, wrapped
        lines += wrap("data:", data_text(described).removeprefix("data: ").split(", "))
        rows: dict = {}
        if self.path is not None and (Path(self.path) / MANIFEST).is_file():
            try:
                rows = {n: e.get("rows") for n, e in read_manifest(self.path)["tables"].items()}
            except (MarketError, KeyError, TypeError, AttributeError):
                rows = {}
        named = [f"{n} {rows[n]:,}" if isinstance(rows.get(n), int) else n for n in self.names]
        lines += wrap(f"tables ({'name rows' if rows else 'names'}):", named)
        return Summary(
            f"Market: {len(self.names)} tables{where}",
            tuple(lines),
            table,
            "tables (rows, columns, first / last date, assets)",
            html_rows=len(self.names),
        )

    def __repr__(self) -> str:
        return self._display().text()

    def _repr_html_(self) -> str:
        return self._display(self.summary()).html()

    def describe(self, *, presets: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, str]:
        """What this market is, for every report, table and result repr that says what data
        it ran on (the study, the strategies, the estimation, the calibration, the tear sheet).

        Parameters
        ----------
        presets
            Named generation parameters: a synthetic market whose parameters equal one of them
            is named after it (``preset``). Default: ``factorlab.datasets.PRESETS`` (so the
            repr, every report and every result name the preset alike); ``{}``: none.

        Returns
        -------
        dict
            The keys known, in this order: ``source`` (the metadata's, else "user market"),
            ``preset``, ``seed`` and ``n_assets`` (a synthetic market's parameters),
            ``liq1500`` (only for a synthetic market smaller than the reference universe,
            whose liquidity pool keeps its name but holds fewer stocks: what it holds),
            ``dates`` ("first .. last": the generation window of a synthetic market, else the
            first and last date of ``prices``, or of the first table with a date column),
            ``content_hash`` (of the saved files), ``path``.

        Examples
        --------
        >>> m = Market({"prices": pl.DataFrame({"date": [dt.date(2020, 1, 2)], "asset": ["A"],
        ...             "close": [1.0]})}, meta={"source": "my bars"}, validate="none")
        >>> m.describe()
        {'source': 'my bars', 'dates': '2020-01-02 .. 2020-01-02'}
        """
        meta = self.meta
        out: dict[str, str] = {"source": str(meta.get("source") or "user market")}
        params = meta.get("params")
        if isinstance(params, str):
            try:
                params = json.loads(params)
            except ValueError:
                params = None
        if isinstance(params, Mapping):
            for name, values in (_known_presets() if presets is None else presets).items():
                if all(str(params.get(k)) == str(v) for k, v in values.items()):
                    out["preset"] = name
                    break
            for key in ("seed", "n_assets"):
                if key in params:
                    out[key] = str(params[key])
            if (pool := _scaled_liquidity_pool(params.get("n_assets"))) is not None:
                out["liq1500"] = pool
            if params.get("start") is not None and params.get("end") is not None:
                out["dates"] = f"{params['start']} .. {params['end']}"
        if "dates" not in out and (span := self._date_span()) is not None:
            out["dates"] = f"{span[0]} .. {span[1]}"
        if self.content_hash:
            out["content_hash"] = str(self.content_hash)
        path = self.path or meta.get("path")
        if path:
            out["path"] = str(path)
        return out

    def _date_span(self) -> tuple[dt.date, dt.date] | None:
        """The first and last date of ``prices`` (else of the first table with a ``date``
        column); None when no table has dates."""
        for name in ("prices", *self.names):
            if name not in self.names:
                continue
            frame = self.table(name)
            if "date" not in frame.collect_schema().names():
                continue
            span = frame.select(lo=pl.col("date").min(), hi=pl.col("date").max()).collect()
            lo, hi = span.row(0)
            if lo is not None:
                return lo, hi
        return None

    @property
    def content_hash(self) -> str | None:
        """sha256 over the files' hashes as recorded in the manifest (None if never saved)."""
        return self.meta.get("content_hash")

    # ---- summary ------------------------------------------------------------------------------
    def summary(self) -> pl.DataFrame:
        """One row per table: rows, columns, first/last date, number of assets."""
        rows = []
        for name in self.names:
            lf = self._tables[name]
            cols = lf.collect_schema().names()
            date_col = next((c for c in ("date", "ex_date") if c in cols), None)
            aggs = [pl.len().alias("rows")]
            if date_col:
                aggs += [
                    pl.col(date_col).min().alias("first"),
                    pl.col(date_col).max().alias("last"),
                ]
            if "asset" in cols:
                aggs.append(pl.col("asset").n_unique().alias("assets"))
            out = lf.select(aggs).collect().row(0, named=True)
            rows.append(
                {
                    "table": name,
                    "rows": out["rows"],
                    "columns": len(cols),
                    "first": out.get("first"),
                    "last": out.get("last"),
                    "assets": out.get("assets"),
                }
            )
        return pl.DataFrame(
            rows,
            schema={
                "table": pl.String,
                "rows": pl.Int64,
                "columns": pl.Int64,
                "first": pl.Date,
                "last": pl.Date,
                "assets": pl.Int64,
            },
        )

    # ---- persistence --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write every table to `path` with a manifest; return the path.

        `path` must be new, empty, or a factorlab market directory holding only the files its
        manifest lists (anything else is refused with a :class:`MarketError`, nothing deleted).
        The new market is written beside it and renamed into place, so `path` never holds a
        half-written market.
        """
        with MarketWriter(path, meta=self.meta) as writer:
            for name in self.names:
                writer.add(name, self._tables[name].collect())
        return Path(path)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        *,
        validate: ValidateLevel = "schema",
        verify_hashes: bool = False,
    ) -> Market:
        """Open a market directory lazily.

        Every load checks the manifest, that each listed file exists with its recorded size and
        has a readable parquet footer. ``validate="schema"`` (default) then checks columns and
        dtypes, and that the keys of every canonical table are unique (reads the key columns
        only); ``"full"`` checks every value; ``"none"`` skips both. ``verify_hashes`` re-hashes
        every file against the manifest's sha256 (reads every byte; always done for old
        manifests without sizes). Any mismatch is a :class:`MarketError` naming the file.

        The key check of a table whose keys the writer checked (``keys_unique`` in the
        manifest) is a hash check of its files instead: verified bytes are the bytes whose keys
        were checked, and hashing reads bytes at about 1 GB/s where a key scan reads rows
        (0.4 s against 5 s on the ``large`` preset). Other tables get the key scan.
        """
        root = Path(path)
        manifest = read_manifest(root)
        hash_all = verify_hashes or manifest.get("manifest_version", 1) < 2
        tables, parts, hashed = {}, {}, set()
        for name, entry in manifest["tables"].items():
            checked = name in TABLES and entry.get("keys_unique") is True and validate == "schema"
            if hash_all or checked:
                hashed.add(name)
            files = _check_files(root, name, entry, hashes=name in hashed)
            tables[name] = pl.scan_parquet(files) if files else _empty(name)
            parts[name] = [pl.scan_parquet(f) for f in files]
        market = cls(tables, meta=manifest.get("meta", {}), validate="none", path=root)
        market.meta["content_hash"] = manifest.get("content_hash")
        for name, lf in market._tables.items():
            entry = manifest["tables"][name]
            # verified bytes are the bytes whose keys the writer checked: no need to check again
            skip_keys = name in hashed and entry.get("keys_unique") is True and validate == "schema"
            try:
                _validate_tables({name: lf}, "dtypes" if skip_keys else validate, parts)
            except pl.exceptions.PolarsError as exc:
                raise MarketError(
                    f"market `{root}`: table `{name}` ({', '.join(entry['files'])}) "
                    f"cannot be read ({type(exc).__name__}: {exc}); a file is corrupted. Check "
                    "with Market.load(path, verify_hashes=True), or regenerate the market."
                ) from exc
        return market

    def verify_files(self) -> None:
        """Re-hash this market's files against its manifest (a no-op for in-memory markets).

        Raises :class:`MarketError` naming the file if one changed since it was written, or if
        the directory now holds another market than the one loaded.
        """
        if self.path is None or not self.content_hash:
            return
        manifest = read_manifest(self.path)
        if manifest.get("content_hash") != self.content_hash:
            raise MarketError(
                f"market `{self.path}` was replaced since it was loaded (content hash "
                f"{manifest.get('content_hash')} instead of {self.content_hash}); load it again."
            )
        for name, entry in manifest["tables"].items():
            _check_files(self.path, name, entry, hashes=True)


def _is_pandas(frame: object) -> bool:
    return type(frame).__module__.startswith("pandas")


def _pandas_dates(name: str, frame: Any) -> pl.LazyFrame:
    """A pandas table as a LazyFrame (via :func:`factorlab.frames.as_lazy`). pandas has no date
    dtype, so a datetime64 column where the spec of `name` wants a Date becomes a Date when
    every value is at midnight (otherwise validation reports it with the cast to use)."""
    lf = as_lazy(frame, name=f"tables[{name!r}]")
    if name not in TABLES:
        return lf
    schema = lf.collect_schema()
    cols = [
        c
        for c, dtype in TABLES[name].columns.items()
        if dtype == pl.Date and isinstance(schema.get(c), pl.Datetime)
    ]
    if not cols:
        return lf
    df = lf.collect()
    midnight = [c for c in cols if (df[c].dt.truncate("1d") == df[c]).all()]
    return df.with_columns([pl.col(c).dt.date() for c in midnight]).lazy()


def _empty(name: str) -> pl.LazyFrame:
    from factorlab.schema import table_schema

    return pl.LazyFrame(schema=table_schema(name)) if name in TABLES else pl.LazyFrame()


def _strictly_increasing(frame: pl.DataFrame, keys: Sequence[str]) -> bool:
    """Whether every row's key is greater than the previous row's (lexicographic over `keys`;
    a null key counts as not greater): then no two rows share a key.

    The first key must not decrease: ``is_sorted`` answers that in one pass (and stops at the
    first step down, so most wrong orders cost nothing); then a row is greater where the first
    key changes, else by the other keys, compared in full. A column Polars flags as sorted is
    answered from the flag, unread, so there the first key is compared in full too: a wrong
    flag (``set_sorted`` on unsorted data) must not pass."""
    if frame.height < 2:
        return True
    lead = frame[keys[0]]
    if lead.null_count() or not lead.is_sorted():
        return False
    now, before = frame.slice(1), frame.slice(0, frame.height - 1)
    flagged = lead.flags["SORTED_ASC"] or lead.flags["SORTED_DESC"]
    greater = (now[keys[0]] > before[keys[0]]) if flagged else (now[keys[0]] != before[keys[0]])
    rest: pl.Series | None = None
    for k in reversed(keys[1:]):
        c, p = now[k], before[k]
        rest = (c > p) if rest is None else (c > p) | ((c == p) & rest)
    if rest is not None:
        greater = greater | rest
    return bool(greater.fill_null(False).all())


def _storage_orders(frame: pl.DataFrame, keys: list[str]) -> list[list[str]]:
    """Key orders the rows may be stored in: the spec's, then those led by a sorted column."""
    orders = [keys]
    if len(keys) > 1:
        from itertools import permutations

        lead = [k for k in keys if frame[k].is_sorted()]
        orders += [list(o) for o in permutations(keys) if o[0] in lead and list(o) != keys]
    return orders


class _KeyScan:
    """An incremental check that a table's key increases strictly from row to row, fed one part
    (file) at a time, in the spec's key order or another storage order of the key columns."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = list(keys)
        self.orders: list[list[str]] | None = None
        self.last: pl.DataFrame | None = None

    @property
    def increasing(self) -> bool:
        return self.orders is None or bool(self.orders)

    def feed(self, frame: pl.DataFrame) -> bool:
        """Add the key columns of the next part; return whether the key still increases."""
        if not self.increasing:
            return False
        if self.orders is None:
            self.orders = _storage_orders(frame, self.keys)
        if self.last is not None and frame.height:
            edge = pl.concat([self.last, frame.head(1)])
            self.orders = [o for o in self.orders if _strictly_increasing(edge, o)]
        first = next((o for o in self.orders if _strictly_increasing(frame, o)), None)
        self.orders = [] if first is None else [first]
        if frame.height:
            self.last = frame.tail(1)
        return bool(self.orders)


def check_keys_unique(name: str, parts: Sequence[pl.LazyFrame]) -> None:
    """The cheap key check of a loaded table: reads only the key columns of each part (file).

    Tables stored in a key order (all the writers' tables are) pass a linear scan, one part at
    a time, plus the boundary between parts; any other order falls back to a hash count.
    Duplicates raise the shared :func:`factorlab.frames.check_unique_keys` error with example
    rows.
    """
    keys = list(TABLES[name].key)
    scan = _KeyScan(keys)
    if all(scan.feed(part.select(keys).collect()) for part in parts):
        return
    lf = pl.concat(parts) if len(parts) > 1 else parts[0]
    key = pl.struct(keys) if len(keys) > 1 else pl.col(keys[0])
    if lf.select(pl.len() - key.n_unique()).collect().item():
        check_unique_keys(lf.select(keys), keys, table=name)


def _validate_tables(
    tables: Mapping[str, pl.LazyFrame],
    level: ValidateLevel | Literal["dtypes"],
    parts: Mapping[str, Sequence[pl.LazyFrame]] | None = None,
) -> None:
    if level == "none":
        return
    for name, lf in tables.items():
        if name in TABLES:
            validate(name, lf, check_values=level == "full")
            if level == "schema":
                check_keys_unique(name, (parts or {}).get(name) or [lf])


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not a process id we wrote: never treat it as dead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_staging(target: Path) -> list[Path]:
    """Remove the staging directories ``.<name>.*`` beside `target` left by dead writers.

    Only a directory holding our :data:`WRITER_MARKER` for `target`, written on this host by a
    process that no longer exists, is removed; anything else is left alone. Returns what was
    removed.
    """
    removed: list[Path] = []
    prefix = f".{target.name}."
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return removed
    host = socket.gethostname()
    for d in entries:
        if not d.name.startswith(prefix) or d.is_symlink() or not d.is_dir():
            continue
        try:
            info = json.loads((d / WRITER_MARKER).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue  # not a staging directory of ours
        if not (
            isinstance(info, dict)
            and info.get("target") == target.name
            and info.get("host") == host
            and isinstance(info.get("pid"), int)
        ) or _pid_alive(info["pid"]):
            continue
        shutil.rmtree(d, ignore_errors=True)
        log.info("removed the staging directory %s of a dead writer (pid %s)", d, info["pid"])
        removed.append(d)
    return removed


@contextmanager
def _writers_lock(parent: Path) -> Iterator[None]:
    """Held while a writer checks `target` and swaps its market in: an exclusive ``flock`` on
    the parent directory itself (no lock file is left behind), so concurrent factorlab writers
    of one path (threads or processes) look at and replace it one at a time; the tables are
    still written in parallel. Where there is no ``flock`` (Windows) or the parent does not
    exist yet, nothing is locked and the commit's retries handle a concurrent swap."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    try:
        fd = os.open(parent, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _inode(path: Path) -> tuple[int, int, int] | None:
    """The identity of what `path` names now: device, inode and change time (a rename sets
    the change time, so a new directory that reuses a deleted one's inode still differs)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_ctime_ns)


class _Staging:
    """A sibling directory ``.<name>.<random>`` of `target`: holds :data:`WRITER_MARKER` (this
    process), ``new/`` (what is being written) and, during the swap, the replaced ``old*/``.

    Created with the process umask (not mkdtemp's 0700). :meth:`commit` renames the old
    `target` into the staging directory, ``new/`` onto `target`, then removes the staging
    directory: `target` never holds a half-written directory, and a killed writer leaves only a
    marked staging directory that the next writer removes.
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(target)
        for _ in range(100):
            d = target.parent / f".{target.name}.{secrets.token_hex(6)}"
            try:
                os.mkdir(d)  # mode 0o777 & ~umask
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover - 100 collisions of 48 random bits
            raise MarketError(f"could not create a staging directory beside `{target}`.")
        self.dir = d
        marker = {"pid": os.getpid(), "host": socket.gethostname(), "target": target.name}
        (d / WRITER_MARKER).write_text(json.dumps(marker), encoding="utf-8")
        self.new = d / "new"
        os.mkdir(self.new)

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def commit(self, check_replaceable: Callable[[Path], None]) -> None:
        moved: Path | None = None
        for attempt in range(20):
            if os.path.lexists(self.target):
                before = _inode(self.target)
                try:
                    check_replaceable(self.target)
                except (MarketError, OSError):
                    if _inode(self.target) != before:
                        continue  # a concurrent writer swapped the directory while we looked
                    raise
                aside = self.dir / f"old{attempt}"
                try:
                    os.rename(self.target, aside)
                    moved = aside
                except FileNotFoundError:
                    pass  # another writer moved it away first
            try:
                os.rename(self.new, self.target)
                break
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    if moved is not None and not os.path.lexists(self.target):
                        os.rename(moved, self.target)  # put the old market back
                    raise
                # a concurrent writer renamed its market in between: move that one aside too
        else:  # pragma: no cover - 20 concurrent writers in a row
            raise MarketError(f"could not rename the new market onto `{self.target}`.")
        self.discard()


def _check_replaceable(path: Path) -> None:
    """Refuse (MarketError naming `path`) unless `path` is absent, an empty directory, or a
    factorlab market directory holding nothing but its manifest and the files it lists."""
    try:
        mode = os.lstat(path).st_mode  # one look: absent, a directory, or something else
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(mode):
        raise MarketError(
            f"`{path}` exists and is not a directory; refusing to replace it. Choose a new or "
            "empty directory."
        )
    if not any(path.iterdir()):
        return
    try:
        manifest = read_manifest(path, check_version=False)
    except MarketError as exc:
        raise MarketError(
            f"`{path}` exists and is not a factorlab market directory ({exc}); refusing to "
            "replace it. Choose a new or empty directory."
        ) from exc
    listed = {MANIFEST}
    for entry in manifest["tables"].values():
        for rel in entry["files"]:
            listed.add(rel)
            listed.update(str(p) for p in Path(rel).parents if str(p) != ".")
    extra = sorted(
        str(p.relative_to(path)) for p in path.rglob("*") if str(p.relative_to(path)) not in listed
    )
    if extra:
        shown = ", ".join(f"`{e}`" for e in extra[:5]) + (", ..." if len(extra) > 5 else "")
        raise MarketError(
            f"`{path}` is a factorlab market but also holds {len(extra)} file(s) its manifest "
            f"does not list ({shown}); refusing to replace it, they would be lost. Move them "
            "out or choose another directory."
        )


class MarketWriter:
    """Write tables one by one into a market directory (streaming: each frame can be dropped
    after :meth:`add`). The directory appears atomically when the writer closes without error.

    A table added several times (``participant_holdings`` by year) is written as parts.

    `path` must be new, empty, or a factorlab market directory (``"format":
    "factorlab-market"`` in its manifest) holding nothing but the files its manifest lists:
    anything else is refused with a :class:`MarketError` before any work, and nothing of it is
    deleted. The tables are written into a staging directory ``.<name>.<random>`` beside `path`
    and renamed into place on success; staging directories of dead writers are removed.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        meta: Mapping[str, Any] | None = None,
        validate: ValidateLevel = "full",
    ) -> None:
        self.path = Path(path)
        self.meta = dict(meta or {})
        self.meta.pop("content_hash", None)
        self.validate: ValidateLevel = validate
        self._entries: dict[str, dict[str, Any]] = {}
        self._scans: dict[str, _KeyScan] = {}
        self._stage: _Staging | None = None
        self._tmp: Path | None = None

    def __enter__(self) -> MarketWriter:
        self.path = Path(os.path.abspath(self.path))
        with _writers_lock(self.path.parent):
            _check_replaceable(self.path)
        self._stage = _Staging(self.path)
        self._tmp = self._stage.new
        return self

    def add(self, name: str, frame: pl.DataFrame) -> None:
        if self._tmp is None:
            raise MarketError("MarketWriter.add() called outside a `with` block.")
        check_table_name(name)
        if name in TABLES and self.validate != "none":
            validate(name, frame, check_values=self.validate == "full")
        entry = self._entries.setdefault(name, {"files": [], "rows": 0, "sha256": [], "sizes": []})
        if name in TABLES and self.validate != "none":
            entry["keys_unique"] = self._check_keys(name, frame, first=not entry["files"])
        if name in PARTITIONED:
            (self._tmp / name).mkdir(exist_ok=True)
            rel = f"{name}/part-{len(entry['files']):04d}.parquet"
        else:
            if entry["files"]:
                raise MarketError(
                    f"table `{name}` was added twice; only {sorted(PARTITIONED)} may come in parts."
                )
            rel = f"{name}.parquet"
        target = self._tmp / rel
        frame.write_parquet(target, compression="zstd", statistics=True)
        entry["files"].append(rel)
        entry["rows"] += frame.height
        entry["sha256"].append(_sha256(target))
        entry["sizes"].append(target.stat().st_size)

    def _check_keys(self, name: str, frame: pl.DataFrame, *, first: bool) -> bool:
        """Check the keys of a part being added; return whether the whole table's keys are known
        unique so far (recorded as ``keys_unique``, so that a hash-verified load may skip its
        key check)."""
        keys = list(TABLES[name].key)
        scan = self._scans.setdefault(name, _KeyScan(keys))
        if scan.feed(frame.select(keys)):
            return True
        if first:  # one part in no key order: a hash check (validate="full" made it already)
            if self.validate == "schema":
                check_unique_keys(frame.select(keys), keys, table=name)
            return True
        return False  # parts in no common key order: Market.load checks the whole table

    def add_all(self, tables: Iterable[tuple[str, pl.DataFrame]]) -> None:
        for name, frame in tables:
            self.add(name, frame)

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._stage is not None and self._tmp is not None
        if exc_type is not None:
            self._stage.discard()
            return
        try:
            digest = hashlib.sha256()
            for name in sorted(self._entries):
                for h in self._entries[name]["sha256"]:
                    digest.update(f"{name}:{h}".encode())
            manifest = {
                "format": FORMAT,
                "manifest_version": MANIFEST_VERSION,
                "schema_version": SCHEMA_VERSION,
                "factorlab_version": __version__,
                "polars_version": pl.__version__,
                "written": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "meta": self.meta,
                "content_hash": digest.hexdigest(),
                "tables": self._entries,
            }
            (self._tmp / MANIFEST).write_text(
                json.dumps(manifest, indent=2, default=str), encoding="utf-8"
            )
            with _writers_lock(self.path.parent):
                self._stage.commit(_check_replaceable)
        except BaseException:
            self._stage.discard()
            raise


def iter_market_files(path: str | os.PathLike) -> Iterator[Path]:
    """Every data file of a market directory, per its (checked) manifest."""
    root = Path(path)
    for entry in read_manifest(root, check_version=False)["tables"].values():
        for f in entry["files"]:
            yield root / f


def _datasets(name: str = "factorlab.datasets") -> Any:
    """The generator's module `name`, imported on first use: it sits above this module (a
    module-level import would be a cycle), and only a market that carries the generator's
    parameters asks for it, to name its preset and its scaled pool."""
    return sys.modules.get(name) or importlib.import_module(name)


def _scaled_liquidity_pool(n_assets: Any) -> str | None:
    """What a synthetic market's ``liq1500`` pool holds when the generator scaled it down with
    the universe (``liquidity_pool_size``: 120 of 400 on ``small``); None for a full-size pool
    or a size that is not a number."""
    try:
        n = int(n_assets)
    except (TypeError, ValueError):
        return None
    synthetic = _datasets("factorlab.datasets.synthetic")
    if (size := synthetic.liquidity_pool_size(n)) >= synthetic.LIQUIDITY_SIZE:
        return None
    return f"top {size:,} of {n:,} (scaled)"


def _known_presets() -> Mapping[str, Mapping[str, Any]]:
    """``factorlab.datasets.PRESETS`` (the generator's named parameter sets)."""
    return getattr(_datasets(), "PRESETS", None) or {}
