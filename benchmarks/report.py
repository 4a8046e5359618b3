"""Regenerate the results table in ``benchmarks/README.md`` from ``benchmarks/results/*.json``.

    python -m benchmarks.report

Each result file's ``summary`` (headline figures) becomes rows of the table; files without one
show their top-level numbers. The README text outside the markers is left as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x) for x in v)
    return str(v)


def rows() -> list[str]:
    out = [
        "| benchmark | figure | value | date | machine | command |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for path in sorted((HERE / "results").glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(data, dict):
            continue
        summary = data.get("summary") or {
            k: v for k, v in data.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        if not summary:
            continue
        machine = data.get("machine") or {}
        where = (
            machine.get("gpu")
            or f"{machine.get('cpu_count', '?')}-core {machine.get('processor', '')}".strip()
        )
        date = str(data.get("date", ""))[:10]
        cmd = f"`{data.get('command', '')}`" if data.get("command") else ""
        first = True
        for k, v in summary.items():
            name = data.get("benchmark", path.stem) if first else ""
            out.append(
                f"| {name} | {k} | {_fmt(v)} | {date if first else ''} | {where if first else ''} | {cmd if first else ''} |"
            )
            first = False
    return out


def main() -> int:
    readme = HERE / "README.md"
    text = readme.read_text() if readme.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + BEGIN + "\n" + "\n".join(rows()) + "\n" + END + tail)
    print(readme)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
