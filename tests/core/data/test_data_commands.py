"""``noisebloom dataset scan / show / list`` on real folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from core.cli import main


def test_scan_prints_the_report_and_json_on_request(make, tmp_path, capsys):
    make.image("photos/a.jpg", seed=1)
    make.image("photos/b.png", seed=2)
    make.path("photos/bad.png").write_text("nope")
    ws = tmp_path / "ws"
    assert (
        main(["dataset", "scan", str(make.root / "photos"), "--resolution", "16", "--workspace", str(ws)])
        == 0
    )
    out = capsys.readouterr().out
    assert "2 accepted, 1 rejected" in out and "16x16 RGB" in out
    assert "photos/bad.png: is not an image despite its .png extension" in out

    assert (
        main(
            [
                "dataset",
                "scan",
                str(make.root / "photos"),
                "--resolution",
                "16",
                "--crop",
                "letterbox",
                "--flip",
                "--workspace",
                str(ws),
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert (
        report["rows"] == 2
        and report["settings"]["crop"] == "letterbox"
        and report["settings"]["flip"] is True
    )
    folder = Path(report["dataset_dir"])
    assert folder.parent == ws / "datasets" and (folder / "prepared.json").is_file()

    assert main(["dataset", "show", report["dataset_id"], "--workspace", str(ws)]) == 0
    assert "2 accepted" in capsys.readouterr().out
    assert main(["dataset", "list", "--workspace", str(ws)]) == 0
    listed = capsys.readouterr().out
    assert report["dataset_id"] in listed and listed.count("photos-") == 2


def test_scan_of_an_empty_folder_fails_with_one_line_and_status_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["dataset", "scan", str(tmp_path / "empty"), "--workspace", str(tmp_path / "ws")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("noisebloom: error: ") and "no pictures or videos found" in err and "\n" not in err


def test_bad_settings_are_reported_by_field(make, tmp_path, capsys):
    make.image("p/a.png")
    assert (
        main(["dataset", "scan", str(make.root / "p"), "--resolution", "999", "--workspace", str(tmp_path)])
        == 2
    )
    assert "dataset.resolution: 999 is out of range; use 16 to 256 pixels" in capsys.readouterr().err


def test_the_command_runs_as_a_real_process_with_the_pool(make, tmp_path):
    for i in range(8):
        make.image(f"p/{i}.jpg", seed=i)
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "core.cli",
            "dataset",
            "scan",
            str(make.root / "p"),
            "--resolution",
            "16",
            "--workers",
            "2",
            "--workspace",
            str(tmp_path / "ws"),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["rows"] == 8 and report["processed"] == 8 and not report["rejected"]
