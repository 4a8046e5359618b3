"""The workspace catalog: one SQLite file (WAL) listing datasets, runs, models, metrics, sample
sets and exports.

The engine is its only writer. Readers (other processes, tests) may open it at any time: WAL
lets them read while the engine writes. The schema is versioned by ``schema_version``;
``MIGRATIONS[i]`` upgrades version ``i`` to ``i + 1`` inside one transaction, so an old
workspace opens in a new Noisebloom and a crash mid-upgrade leaves the old schema intact.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CATALOG_NAME = "catalog.sqlite"

MIGRATIONS: list[str] = [
    # 0 -> 1
    """
    CREATE TABLE datasets (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, path TEXT NOT NULL,
        sources TEXT NOT NULL, settings TEXT NOT NULL, report TEXT NOT NULL,
        n_items INTEGER NOT NULL, created REAL NOT NULL
    );
    CREATE TABLE runs (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, dataset_id TEXT, parent_model_id TEXT,
        config TEXT NOT NULL, status TEXT NOT NULL, path TEXT NOT NULL, error TEXT,
        created REAL NOT NULL, started REAL, finished REAL, steps INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE models (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, run_id TEXT, path TEXT NOT NULL,
        info TEXT NOT NULL, created REAL NOT NULL
    );
    CREATE TABLE metrics (
        run_id TEXT NOT NULL, step INTEGER NOT NULL, name TEXT NOT NULL, value REAL NOT NULL,
        time REAL NOT NULL
    );
    CREATE INDEX metrics_run ON metrics (run_id, name, step);
    CREATE TABLE sample_sets (
        id TEXT PRIMARY KEY, model_id TEXT, model_path TEXT NOT NULL, config TEXT NOT NULL,
        path TEXT NOT NULL, n_images INTEGER NOT NULL, created REAL NOT NULL
    );
    CREATE TABLE exports (
        id TEXT PRIMARY KEY, source_kind TEXT NOT NULL, source_id TEXT, path TEXT NOT NULL,
        format TEXT NOT NULL, created REAL NOT NULL
    );
    """,
    # 1 -> 2: the latest health check of a model (verdict, memorised share, the full result's file)
    """
    ALTER TABLE models ADD COLUMN evaluation TEXT;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
TABLES = ("datasets", "runs", "models", "sample_sets", "exports")
_JSON_COLUMNS = {"sources", "settings", "report", "config", "info", "evaluation"}
LIVE_RUN_STATES = ("queued", "running", "paused")


def new_id(prefix: str) -> str:
    return f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


class Catalog:
    """Thread-safe access to ``catalog.sqlite`` (one connection, one lock)."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / CATALOG_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        existed = self.path.exists()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        try:
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except BaseException:
            self._db.close()
            if not existed:  # leave no empty catalog behind for the next start to trip over
                for suffix in ("", "-wal", "-shm", "-journal"):
                    p = self.path.with_name(self.path.name + suffix)
                    if p.exists() and (suffix or p.stat().st_size == 0):
                        p.unlink()
            raise

    # --- schema ----------------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self._lock:
            self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = self._db.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                self._db.execute("INSERT INTO schema_version VALUES (0)")
                version = 0
            else:
                version = row[0]
            while version < SCHEMA_VERSION:
                with self.transaction():
                    for statement in MIGRATIONS[version].split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    version += 1
                    self._db.execute("UPDATE schema_version SET version = ?", (version,))

    @property
    def schema_version(self) -> int:
        return self._db.execute("SELECT version FROM schema_version").fetchone()[0]

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def integrity_check(self) -> str:
        with self._lock:
            return self._db.execute("PRAGMA integrity_check").fetchone()[0]

    # --- generic rows ------------------------------------------------------------------------------
    def insert(self, table: str, **values: Any) -> None:
        assert table in TABLES
        cols = list(values)
        row = [json.dumps(v) if c in _JSON_COLUMNS else v for c, v in values.items()]
        with self.transaction() as db:
            db.execute(
                f"INSERT OR REPLACE INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                row,
            )

    def update(self, table: str, id: str, **values: Any) -> None:
        assert table in TABLES
        sets = ", ".join(f"{c} = ?" for c in values)
        row = [json.dumps(v) if c in _JSON_COLUMNS else v for c, v in values.items()]
        with self.transaction() as db:
            db.execute(f"UPDATE {table} SET {sets} WHERE id = ?", [*row, id])

    def get(self, table: str, id: str) -> dict[str, Any] | None:
        assert table in TABLES
        with self._lock:
            r = self._db.execute(f"SELECT * FROM {table} WHERE id = ?", (id,)).fetchone()
        return _row(r) if r else None

    def list(self, table: str, where: str = "", params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        assert table in TABLES
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM {table} {where} ORDER BY created DESC", tuple(params)
            ).fetchall()
        return [_row(r) for r in rows]

    def delete(self, table: str, id: str) -> bool:
        assert table in TABLES
        with self.transaction() as db:
            n = db.execute(f"DELETE FROM {table} WHERE id = ?", (id,)).rowcount
            if table == "runs":
                db.execute("DELETE FROM metrics WHERE run_id = ?", (id,))
        return n > 0

    # --- runs and metrics --------------------------------------------------------------------------
    def mark_interrupted(self, skip: Callable[[str], bool] = lambda path: False) -> list[str]:
        """Runs left queued/running/paused by an engine that died are marked ``interrupted``;
        ``skip(run_path)`` says which live process still trains a run (those are left alone)."""
        with self.transaction() as db:
            ids = [
                r[0]
                for r in db.execute(
                    f"SELECT id, path FROM runs WHERE status IN ({', '.join('?' * len(LIVE_RUN_STATES))})",
                    LIVE_RUN_STATES,
                )
                if not skip(r[1])
            ]
            db.executemany("UPDATE runs SET status = 'interrupted' WHERE id = ?", [(i,) for i in ids])
        return ids

    def add_metrics(self, run_id: str, step: int, values: dict[str, float]) -> None:
        now = time.time()
        rows = [(run_id, int(step), k, float(v), now) for k, v in values.items() if _finite_number(v)]
        if not rows:
            return
        with self.transaction() as db:
            db.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)", rows)

    def truncate_metrics(self, run_id: str, after_step: int) -> None:
        """A resumed run continues from its checkpoint: drop points logged after it."""
        with self.transaction() as db:
            db.execute("DELETE FROM metrics WHERE run_id = ? AND step > ?", (run_id, after_step))

    def metrics(
        self, run_id: str, names: Iterable[str] | None = None, since_step: int = -1
    ) -> dict[str, list[list[float]]]:
        q = "SELECT name, step, value FROM metrics WHERE run_id = ? AND step > ?"
        params: list[Any] = [run_id, since_step]
        names = list(names or [])
        if names:
            q += f" AND name IN ({', '.join('?' * len(names))})"
            params += names
        q += " ORDER BY name, step"
        with self._lock:
            rows = self._db.execute(q, params).fetchall()
        out: dict[str, list[list[float]]] = {}
        for name, step, value in rows:
            out.setdefault(name, []).append([step, value])
        return out


def _finite_number(v: Any) -> bool:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return False
    return f == f and abs(f) != float("inf")


def _row(r: sqlite3.Row) -> dict[str, Any]:
    d = dict(r)
    for k in _JSON_COLUMNS & d.keys():
        d[k] = json.loads(d[k]) if d[k] is not None else None
    return d
