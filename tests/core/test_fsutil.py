from __future__ import annotations

import os

import pytest

from core.fsutil import atomic_directory, atomic_write_text, recover_directory


def test_atomic_write_replaces_and_leaves_no_temporaries(tmp_path):
    p = tmp_path / "a.json"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    assert sorted(os.listdir(tmp_path)) == ["a.json"]


def test_failed_directory_build_keeps_the_old_folder(tmp_path):
    target = tmp_path / "model"
    with atomic_directory(target) as d:
        (d / "w.txt").write_text("good")
    with pytest.raises(RuntimeError), atomic_directory(target) as d:
        (d / "w.txt").write_text("half")
        raise RuntimeError("killed")
    assert (target / "w.txt").read_text() == "good"
    assert sorted(os.listdir(tmp_path)) == ["model"]


def test_recover_after_a_kill_between_the_two_renames(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "w.txt").write_text("good")
    os.replace(target, tmp_path / ".model.old-123")  # the swap was interrupted here
    recover_directory(target)
    assert (target / "w.txt").read_text() == "good"


def test_atomic_write_gives_the_usual_file_mode(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
