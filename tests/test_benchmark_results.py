"""benchmarks/: every result file shares write_result's layout, and report.py builds the README's
headline (the HEADLINES entries) and table from them (one block of rows per file; the digit
classifier's cache is skipped)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import common, report  # noqa: E402


def _result(name: str, summary: dict, **machine) -> dict:
    return {
        "benchmark": name,
        "date": "2026-11-28T01:02:03+00:00",
        "machine": {"platform": "Linux-6.1-x86_64-with-glibc2.36", "cpu_count": 2, **machine},
        "commit": "abc",
        "command": f"python benchmarks/bench_{name}.py --x 1",
        "summary": summary,
        "figures": {"a": 1},
        "notes": "",
    }


def test_table_has_one_block_per_result_file_and_skips_the_classifier_cache(tmp_path):
    ok = _result(
        "scan",
        {"rescan s": 0.0291234, "files": 1000},
        processor="x86_64",
        cpu_model="Intel(R) Xeon(R) Processor",
        torch_threads=1,
        load_average_at_start=[1.234, 1.0, 0.9],
    )
    (tmp_path / "scan.json").write_text(json.dumps(ok))
    old = _result("train", {"ratio noisebloom/bare": "0.90 | 1.06"}, load_average_at_end=[9.36, 9, 8])
    (tmp_path / "train_speed.json").write_text(json.dumps(old))
    (tmp_path / "digit_classifier_32px.json").write_text(json.dumps({"version": 1, "resolution": 32}))
    (tmp_path / "broken.json").write_text("{")

    assert [p.name for p in report.result_files(tmp_path)] == ["broken.json", "scan.json", "train_speed.json"]
    assert report.rows(tmp_path) == [
        *report.HEADER,
        "| scan | rescan s | 0.02912 | 2026-11-28 | 2-core x86_64 (Intel(R) Xeon(R) Processor), 1 torch thread,"
        " load 1.2 at start"
        " | `python benchmarks/bench_scan.py --x 1` |",
        "|  | files | 1000 |  |  |  |",
        "| train_speed | ratio noisebloom/bare | 0.90 \\| 1.06 | 2026-11-28 | 2-core x86_64, load 9.4 at end"
        " | `python benchmarks/bench_train.py --x 1` |",
    ]


def test_render_replaces_only_the_text_between_the_markers():
    text = f"# B\n\nintro\n\n{report.BEGIN}\nold\n{report.END}\n\nafter\n"
    out = report.render(text, ["| a |", "| b |"])
    assert out == f"# B\n\nintro\n\n{report.BEGIN}\n| a |\n| b |\n{report.END}\n\nafter\n"


def test_headline_rows_name_their_figures_by_key_or_by_its_start_and_skip_missing_files(tmp_path):
    data = _result(
        "colour", {"300 emoji at 32 px, 1544 steps in 1092 s": "FD 649.18", "sampled with": "unipc 20"}
    )
    (tmp_path / "colour_x.json").write_text(json.dumps(data))
    entries = (
        report.Headline("emoji", "colour_x", ("300 emoji at 32 px", "sampled with", "not there")),
        report.Headline("gone", "missing", ("a",)),
    )
    assert report.headline(tmp_path, entries) == [
        *report.HEADLINE_HEADER,
        "| emoji | 300 emoji at 32 px, 1544 steps in 1092 s: FD 649.18; sampled with: unipc 20"
        " | `python benchmarks/bench_colour.py --x 1` | 2-core x86_64 | 2026-11-28 | `results/colour_x.json` |",
    ]


def test_every_headline_names_a_stored_result_and_figures_it_has():
    for h in report.HEADLINES:
        summary = json.loads((report.RESULTS / f"{h.result}.json").read_text())["summary"]
        assert all(any(k.startswith(f) for k in summary) for f in h.figures), h


def test_the_headline_markers_are_in_the_readme_above_the_table():
    text = (report.HERE / "README.md").read_text()
    assert text.index(report.HEAD_BEGIN) < text.index(report.HEAD_END) < text.index(report.BEGIN)


def test_write_result_names_sections_and_records_the_load_at_start(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    path = common.write_result(
        "train", {"x": 1}, summary={"x s": 1}, section="speed", load_at_start=[3.14159, 2, 1], command="c"
    )
    assert path == tmp_path / "train_speed.json"
    data = json.loads(path.read_text())
    assert list(data) == ["benchmark", "section", *common.COMMON_KEYS[1:]]
    assert data["machine"]["load_average_at_start"] == [3.14, 2, 1] and data["command"] == "c"
    # the older call (bench_quality.py, bench_sample.py) still works
    plain = json.loads(common.write_result("q", {"y": 2}, summary={"y": 2}, notes="n").read_text())
    assert set(common.COMMON_KEYS) <= set(plain) and "section" not in plain


@pytest.mark.parametrize("path", report.result_files(), ids=lambda p: p.name)
def test_every_stored_result_has_the_common_layout(path):
    data = json.loads(path.read_text())
    missing = [k for k in common.COMMON_KEYS if k not in data]
    assert not missing, f"{path.name} lacks {missing}"
    assert data["summary"] and isinstance(data["summary"], dict)
    assert isinstance(data["figures"], dict) and data["figures"]
    assert isinstance(data["machine"], dict) and data["machine"].get("cpu_count")
    assert str(data["date"])[:4].isdigit() and data["command"]


def test_the_classifier_cache_is_not_a_result():
    names = [p.name for p in report.result_files()]
    assert names and not any(n.startswith("digit_classifier_") for n in names)
