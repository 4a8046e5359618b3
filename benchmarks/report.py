"""Regenerate the results table in ``benchmarks/README.md`` from ``benchmarks/results/*.json``.

    python -m benchmarks.report

One block of rows per result file (``benchmarks.common.write_result``'s layout): its ``summary``
(headline figures), then, on the block's first row, the date, the machine (cores, processor or GPU,
torch threads, the 1-minute load average at the start) and the command. The digit classifier's cache
(``digit_classifier_*.json``, read by ``benchmarks/digits.py``) is not a result and is skipped. The
README text outside the markers is left as it is.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
CACHE_PREFIXES = ("digit_classifier_",)  # caches kept beside the results, not results
HEADER = [
    "| result | figure | value | date | machine | command |",
    "| --- | --- | --- | --- | --- | --- |",
]


def is_result(path: Path) -> bool:
    return path.suffix == ".json" and not path.name.startswith(CACHE_PREFIXES)


def result_files(results: Path = RESULTS) -> list[Path]:
    return sorted(p for p in results.glob("*.json") if is_result(p))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x) for x in v)
    if v is None:
        return "-"
    return str(v)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def describe_machine(machine: dict[str, Any]) -> str:
    """E.g. ``2-core x86_64 (Intel(R) Xeon(R) Processor), 1 torch thread, load 1.2 at start`` (the
    1-minute load average; the processor's name where the run recorded it)."""
    arch = machine.get("processor")
    if not arch:
        m = re.search(r"x86_64|aarch64|arm64|AMD64|i[3-6]86", str(machine.get("platform", "")))
        arch = m.group(0) if m else ""
    parts = [f"{machine.get('cpu_count', '?')}-core {arch}".strip()]
    if machine.get("cpu_model"):
        parts[0] += f" ({machine['cpu_model']})"
    if machine.get("gpu"):
        parts.append(str(machine["gpu"]))
    threads = machine.get("torch_threads")
    if threads:
        parts.append(f"{threads} torch thread{'s' if threads != 1 else ''}")
    for when in ("start", "end"):  # older runs recorded the load only when writing, at the end
        load = machine.get(f"load_average_at_{when}")
        if load:
            parts.append(f"load {float(load[0]):.1f} at {when}")
            break
    return ", ".join(parts)


def block(name: str, data: dict[str, Any]) -> list[str]:
    """The table rows of one result file."""
    summary = data.get("summary") or {"(no summary)": ""}
    date = str(data.get("date") or "")[:10]
    where = describe_machine(data.get("machine") or {})
    cmd = f"`{data['command']}`" if data.get("command") else ""
    out = []
    for i, (k, v) in enumerate(summary.items()):
        first = i == 0
        cells = [name if first else "", k, _fmt(v), date, where, cmd]
        if not first:
            cells[3:] = ["", "", ""]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return out


def rows(results: Path = RESULTS) -> list[str]:
    """The whole table: a header, then one block of rows per result file."""
    out = list(HEADER)
    for path in result_files(results):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(data, dict):
            out.extend(block(path.stem, data))
    return out


def render(text: str, table: list[str]) -> str:
    """``text`` with the table between the markers replaced (markers appended if missing)."""
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + BEGIN + "\n" + "\n".join(table) + "\n" + END + tail


def main() -> int:
    readme = HERE / "README.md"
    text = readme.read_text() if readme.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    readme.write_text(render(text, rows()))
    print(readme)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
