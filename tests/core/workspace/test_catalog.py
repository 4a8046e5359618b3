from __future__ import annotations

import sqlite3
import threading

from core.workspace.catalog import MIGRATIONS, SCHEMA_VERSION, Catalog, new_id
from core.workspace.paths import workspace_root


def test_new_catalog_is_wal_and_at_the_latest_schema(tmp_path):
    cat = Catalog(tmp_path)
    assert cat.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
    mode = sqlite3.connect(tmp_path / "catalog.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert cat.integrity_check() == "ok"


def test_reopening_does_not_migrate_twice_and_keeps_rows(tmp_path):
    cat = Catalog(tmp_path)
    cat.insert(
        "datasets",
        id="d1",
        name="cats",
        kind="image",
        path="/x",
        sources=["/a"],
        settings={"r": 32},
        report={"accepted": 3},
        n_items=3,
        created=1.0,
    )
    cat.close()
    again = Catalog(tmp_path)
    row = again.get("datasets", "d1")
    assert row["settings"] == {"r": 32} and row["sources"] == ["/a"] and row["n_items"] == 3


def test_runs_left_running_are_marked_interrupted(tmp_path):
    cat = Catalog(tmp_path)
    for rid, status in [("r1", "running"), ("r2", "done"), ("r3", "paused"), ("r4", "queued")]:
        cat.insert("runs", id=rid, name=rid, config={}, status=status, path="/r", created=1.0)
    assert sorted(cat.mark_interrupted()) == ["r1", "r3", "r4"]
    assert cat.get("runs", "r1")["status"] == "interrupted"
    assert cat.get("runs", "r2")["status"] == "done"
    assert cat.mark_interrupted() == []


def test_metrics_series_filter_and_truncate(tmp_path):
    cat = Catalog(tmp_path)
    for step in range(1, 6):
        cat.add_metrics("r", step, {"loss": 1.0 / step, "lr": 0.1, "bad": float("nan")})
    s = cat.metrics("r", ["loss"])
    assert list(s) == ["loss"] and [p[0] for p in s["loss"]] == [1, 2, 3, 4, 5]
    cat.truncate_metrics("r", 3)
    assert [p[0] for p in cat.metrics("r")["loss"]] == [1, 2, 3]
    assert "bad" not in cat.metrics("r")
    assert [p[0] for p in cat.metrics("r", since_step=2)["lr"]] == [3]


def test_concurrent_writers_keep_the_database_intact(tmp_path):
    cat = Catalog(tmp_path)

    def write(k: int) -> None:
        for step in range(100):
            cat.add_metrics(f"run{k}", step, {"loss": step})
            cat.insert(
                "exports", id=new_id("e"), source_kind="x", path="/p", format="gif", created=float(step)
            )

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(v["loss"]) for v in [cat.metrics(f"run{k}") for k in range(4)]) == 400
    assert cat.integrity_check() == "ok"


def test_workspace_root_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISEBLOOM_HOME", str(tmp_path / "env"))
    assert workspace_root() == (tmp_path / "env").resolve()
    assert workspace_root(tmp_path / "flag") == (tmp_path / "flag").resolve()
    assert (tmp_path / "flag" / "datasets").is_dir()
    monkeypatch.delenv("NOISEBLOOM_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert workspace_root(create=False) == (tmp_path / "xdg" / "noisebloom").resolve()
