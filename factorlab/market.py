"""Market: the canonical tables of one market bundled as LazyFrames, with parquet load/save.

A market directory holds one parquet file per table (large tables as a folder of parquet parts)
and ``manifest.json`` with the schema version, generation parameters, row counts and content
hashes (sha256 of every file).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import polars as pl

from factorlab._version import __version__
from factorlab.errors import MarketError
from factorlab.schema import SCHEMA_VERSION, TABLES, validate

__all__ = ["MANIFEST", "Market", "MarketWriter"]

MANIFEST = "manifest.json"
#: Tables written as a folder of parts (one file per year) rather than one file.
PARTITIONED = frozenset({"participant_holdings"})

ValidateLevel = Literal["none", "schema", "full"]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


class Market:
    """A bundle of canonical tables as LazyFrames.

    Parameters
    ----------
    tables
        Table name -> DataFrame or LazyFrame. Names of :data:`factorlab.schema.TABLES` are
        validated; other names are kept as extra tables.
    meta
        Free-form metadata (generation parameters, source), kept in the manifest.
    validate
        ``"full"`` (default for in-memory tables) checks every value, ``"schema"`` only column
        names and dtypes, ``"none"`` nothing.

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
        self._tables = {name: frame.lazy() for name, frame in tables.items()}
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
        """The table `name` as a LazyFrame; a clear :class:`MarketError` if it is absent."""
        if name not in self._tables:
            known = ", ".join(f"`{n}`" for n in self.names) or "none"
            hint = TABLES[name].description if name in TABLES else ""
            raise MarketError(
                f"this market has no table `{name}` ({hint.rstrip('.')}). Tables present: "
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
        if name.startswith("_") or name not in TABLES:
            raise AttributeError(name)
        return self.table(name)

    def __repr__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"Market({', '.join(self.names)}){where}"

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
        """Write every table to `path` (replaced atomically) with a manifest; return the path."""
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

        ``validate="schema"`` (default) checks columns and dtypes of every table without reading
        data; ``"full"`` checks every value. ``verify_hashes`` re-hashes the files against the
        manifest (reads every byte).
        """
        root = Path(path)
        manifest_path = root / MANIFEST
        if not manifest_path.is_file():
            raise MarketError(
                f"`{root}` is not a factorlab market directory: no {MANIFEST}. Create one with "
                "`factorlab data synth --out DIR` or Market.save()."
            )
        manifest = json.loads(manifest_path.read_text())
        version = manifest.get("schema_version")
        if version != SCHEMA_VERSION:
            raise MarketError(
                f"market `{root}` has schema version {version}; this factorlab reads version "
                f"{SCHEMA_VERSION}. Regenerate it (factorlab data synth) or convert it."
            )
        tables = {}
        for name, entry in manifest["tables"].items():
            files = [root / f for f in entry["files"]]
            missing = [str(f) for f in files if not f.is_file()]
            if missing:
                raise MarketError(f"market `{root}`: table `{name}` is missing file(s) {missing}.")
            if verify_hashes:
                for f, digest in zip(files, entry["sha256"], strict=True):
                    if _sha256(f) != digest:
                        raise MarketError(
                            f"market `{root}`: file `{f.name}` of table `{name}` does not match "
                            "its manifest hash; the directory was modified. Regenerate it."
                        )
            tables[name] = pl.scan_parquet(files) if files else _empty(name)
        market = cls(tables, meta=manifest.get("meta", {}), validate=validate, path=root)
        market.meta["content_hash"] = manifest.get("content_hash")
        return market


def _empty(name: str) -> pl.LazyFrame:
    from factorlab.schema import table_schema

    return pl.LazyFrame(schema=table_schema(name))


def _validate_tables(tables: Mapping[str, pl.LazyFrame], level: ValidateLevel) -> None:
    if level == "none":
        return
    for name, lf in tables.items():
        if name in TABLES:
            validate(name, lf, check_values=level == "full")


class MarketWriter:
    """Write tables one by one into a market directory (streaming: each frame can be dropped
    after :meth:`add`). The directory appears atomically when the writer closes without error.

    A table added several times (``participant_holdings`` by year) is written as parts.
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
        self._tmp: Path | None = None

    def __enter__(self) -> MarketWriter:
        self.path = self.path.resolve()
        if self.path.exists() and not (
            (self.path / MANIFEST).is_file()
            or (self.path.is_dir() and not any(self.path.iterdir()))
        ):
            raise MarketError(
                f"`{self.path}` exists and is not a factorlab market directory (no {MANIFEST}); "
                "refusing to replace it. Choose a new or empty directory."
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent))
        return self

    def add(self, name: str, frame: pl.DataFrame) -> None:
        if self._tmp is None:
            raise MarketError("MarketWriter.add() called outside a `with` block.")
        if name in TABLES and self.validate != "none":
            validate(name, frame, check_values=self.validate == "full")
        entry = self._entries.setdefault(name, {"files": [], "rows": 0, "sha256": []})
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

    def add_all(self, tables: Iterable[tuple[str, pl.DataFrame]]) -> None:
        for name, frame in tables:
            self.add(name, frame)

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._tmp is not None
        if exc_type is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            return
        digest = hashlib.sha256()
        for name in sorted(self._entries):
            for h in self._entries[name]["sha256"]:
                digest.update(f"{name}:{h}".encode())
        manifest = {
            "format": "factorlab-market",
            "schema_version": SCHEMA_VERSION,
            "factorlab_version": __version__,
            "polars_version": pl.__version__,
            "written": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "meta": self.meta,
            "content_hash": digest.hexdigest(),
            "tables": self._entries,
        }
        (self._tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
        if self.path.exists():
            shutil.rmtree(self.path)
        os.replace(self._tmp, self.path)


def iter_market_files(path: str | os.PathLike) -> Iterator[Path]:
    """Every data file of a market directory, per its manifest."""
    root = Path(path)
    manifest = json.loads((root / MANIFEST).read_text())
    for entry in manifest["tables"].values():
        for f in entry["files"]:
            yield root / f
