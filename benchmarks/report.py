"""Regenerate the headline figures and the results table in ``benchmarks/README.md`` from
``benchmarks/results/*.json``.

    python -m benchmarks.report

The headline (between ``HEAD_BEGIN`` and ``HEAD_END``): one row per entry of ``HEADLINES``, what is
measured, the chosen figures of that result's ``summary``, the command, the machine and the file.
The table (between ``BEGIN`` and ``END``): one block of rows per result file
(``benchmarks.common.write_result``'s layout): its ``summary`` (headline figures), then, on the
block's first row, the date, the machine (cores, processor or GPU, torch threads, the 1-minute load
average at the start) and the command. The digit classifier's cache (``digit_classifier_*.json``,
read by ``benchmarks/digits.py``) is not a result and is skipped. The README text outside the
markers is left as it is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
HEAD_BEGIN, HEAD_END = "<!-- headline:begin -->", "<!-- headline:end -->"
CACHE_PREFIXES = ("digit_classifier_",)  # caches kept beside the results, not results
HEADER = [
    "| result | figure | value | date | machine | command |",
    "| --- | --- | --- | --- | --- | --- |",
]
HEADLINE_HEADER = [
    "| what is measured | figure | command | machine | date | result |",
    "| --- | --- | --- | --- | --- | --- |",
]


@dataclass(frozen=True)
class Headline:
    """One headline row: ``what`` is measured, shown by these ``figures`` of ``results/<result>.json``
    (each the first key of its ``summary`` that is or starts with that text: a key that carries its
    own figures, such as ``300 emoji at 32 px, 1544 steps in 1092 s``, is named by its start)."""

    what: str
    result: str
    figures: tuple[str, ...]


HEADLINES = (
    Headline("digits, 10 min of training on a 2-core CPU, today's defaults (bf16 where faster, the model's own "
             "guidance weight)", "quality_per_minute_noisebloom_defaults", ("noisebloom-defaults", "targets missed")),
    Headline("digits, 10 min of training on a 2-core CPU, Noisebloom's defaults", "quality_per_minute",
             ("noisebloom-defaults", "real digits, 500 of them", "targets missed")),
    Headline("digits, the same 10 min, diffusers' unconditional-training recipe", "quality_per_minute",
             ("diffusers-recipe",)),
    Headline("digits, sampling steps (the headline model)", "quality_steps_headline_xeon",
             ("unipc 8 steps,", "unipc 20 steps,", "unipc 100 steps,")),
    Headline("colour emoji, 32 px, 1,855 pictures, 10 min of training with today's defaults",
             "colour_emoji_32px_2000_defaults_10min", ("1855 emoji at 32 px", "sampled with")),
    Headline("colour emoji, 64 px, 1,855 pictures, 30 min of training with today's defaults",
             "colour_emoji_64px_2000_defaults_30min", ("1855 emoji at 64 px", "sampled with")),
    Headline("colour emoji, 32 px, 1,855 pictures, defaults", "colour_emoji_32px_2000_defaults",
             ("1855 emoji at 32 px", "sampled with")),
    Headline("colour emoji, 32 px, 300 pictures, 10 min of training with today's defaults (augment 0.25)",
             "colour_emoji_32px_300_augment025_10min", ("300 emoji at 32 px", "sampled with")),
    Headline("colour emoji, 32 px, 300 pictures, 10 min, augment 0.12 (the automatic value before)",
             "colour_emoji_32px_300_defaults_10min", ("300 emoji at 32 px", "sampled with")),
    Headline("colour emoji, 64 px, 300 pictures, 10 min of training with today's defaults (augment 0.25)",
             "colour_emoji_64px_300_augment025_10min", ("300 emoji at 64 px", "sampled with")),
    Headline("colour emoji, 64 px, 300 pictures, 10 min, augment 0.12 (before)",
             "colour_emoji_64px_300_defaults_10min", ("300 emoji at 64 px", "sampled with")),
    Headline("digits, 32 px, 300 pictures, 10 min of training with today's defaults (augment 0.25)",
             "colour_digits_32px_300_augment025_10min", ("1300 digits at 32 px", "sampled with")),
    Headline("digits, 32 px, 300 pictures, 10 min, augment 0.12 (before)",
             "colour_digits_32px_300_defaults_10min", ("1300 digits at 32 px", "sampled with")),
    Headline("colour photo crops, 32 px, 300 pictures, 10 min of training with today's defaults (augment 0.25)",
             "colour_photo_32px_300_augment025_10min", ("300 photo at 32 px", "sampled with")),
    Headline("colour photo crops, 32 px, 300 pictures, 10 min, augment 0.12 (before)",
             "colour_photo_32px_300_defaults_10min", ("300 photo at 32 px", "sampled with")),
    Headline("colour emoji, 32 px, 300 pictures, defaults (augmentation on)", "colour_emoji_32px_300_defaults",
             ("300 emoji at 32 px",)),
    Headline("colour emoji, 32 px, 300 pictures, augmentation off", "colour_emoji_32px_300_no_augment",
             ("300 emoji at 32 px",)),
    Headline("colour emoji, 32 px: autoguidance weight (judge's FD; held-out FD is what the app chooses by)",
             "colour_guidance_emoji_32px_2000_heldout",
             ("20 steps, guidance 0", "20 steps, guidance 1.5", "two artists / blurred")),
    Headline("digits, 32 px: autoguidance weight (judge's FD; held-out FD is what the app chooses by)",
             "colour_guidance_digits_32px", ("20 steps, guidance 0", "20 steps, guidance 1", "20 steps, guidance 1.5")),
    Headline("digits, 32 px, 1,544 steps: float32", "colour_digits_32px_precision_no", ("5000 digits",)),
    Headline("digits, 32 px, 1,544 steps: bf16 on the CPU", "colour_digits_32px_precision_bf16", ("5000 digits",)),
    Headline("digits, 32 px: the few-step map (Make it fast, 600 student steps) vs the model's UniPC",
             "quality_fewstep", ("teacher (", "distil (", "consistency (")),
    Headline("the window with a few-step model: a seed change to 16 new pictures shown", "slider",
             ("seed change to", "10 moves 20 ms apart")),
    Headline("colour emoji, 32 px, 1,855 pictures: the few-step map (600 student steps)", "colour_fast_emoji_32px_2000",
             ("unipc 20 steps", "fewstep 1 step", "fewstep 2 steps", "two artists / blurred")),
    Headline("colour emoji, 32 px, 300 pictures: the few-step map (600 student steps)", "colour_fast_emoji_32px_300",
             ("unipc 20 steps", "fewstep 1 step", "fewstep 2 steps")),
    Headline("colour photo crops, 32 px, defaults", "colour_photo_32px_2000_defaults", ("2000 photo at 32 px",)),
    Headline("training speed, 32 px: the trainer at every default vs the bare float32 loop", "train_speed_defaults_32px_auto",
             ("pixel-small",)),
    Headline("training speed, 32 px: the same with bf16 off", "train_speed_defaults_32px_no", ("pixel-small",)),
    Headline("training speed, 64 px: the trainer at every default vs the bare float32 loop", "train_speed_defaults_64px_auto",
             ("pixel-small",)),
    Headline("training speed, 64 px: the same with bf16 off", "train_speed_defaults_64px_no", ("pixel-small",)),
    Headline("training beside one busy program (x the idle machine's torch default)", "train_threads",
             ("32px busy auto", "32px busy all_cores", "64px busy auto", "64px busy all_cores")),
    Headline("training beside two busy programs (x the idle machine's torch default)", "train_threads_two_busy",
             ("32px busy2 auto", "32px busy2 all_cores")),
    Headline("training speed: Noisebloom's trainer vs the bare diffusers loop (unet-cpu, before)", "train_speed",
             ("preset, batch", "ratio noisebloom/bare")),
    Headline("training speed on a GPU", "gpu_speed", ("unet-gpu 32px, Noisebloom trainer", "unet-gpu 32px")),
    Headline("sampling loop vs diffusers' pipeline, and with a live preview", "sample",
             ("ddim_50 ratio", "ddim_50 preview ratio")),
    Headline("the window while training; its start-up", "gui",
             ("event-loop lateness train: p99 / max ms", "window start-up median / max s", "GUI process loaded torch")),
    Headline("first scan of 1,000 camera-sized JPEGs; re-scan", "scan", ("first scan s", "rescan unchanged s")),
    Headline("video: motion of sampled clips vs the data", "video", ("clip model error vs data, MAFD / displacement",)),
    Headline("real footage (opencv-doc's videos), 32 px, 8 frames: the real clips alone", "video_footage_32px_8f_real",
             ("real held-out MAFD", "real held-out clips memorised")),
    Headline("the built bundle: size, window start-up", "package", ("bundle MiB", "bundle window shown median / max s")),
)  # fmt: skip


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


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def headline(results: Path = RESULTS, entries: tuple[Headline, ...] = HEADLINES) -> list[str]:
    """The headline table: one row per entry whose result file is there, with the figures it has."""
    out = list(HEADLINE_HEADER)
    for h in entries:
        data = _load(results / f"{h.result}.json")
        if data is None:
            continue
        summary = data.get("summary") or {}
        keys = [next((k for k in summary if k.startswith(f)), None) for f in h.figures]
        figures = "; ".join(f"{k}: {_fmt(summary[k])}" for k in keys if k is not None)
        date = str(data.get("date") or "")[:10]
        where = describe_machine(data.get("machine") or {})
        cmd = f"`{data['command']}`" if data.get("command") else ""
        cells = [h.what, figures, cmd, where, date, f"`results/{h.result}.json`"]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return out


def render(text: str, table: list[str], begin: str = BEGIN, end: str = END) -> str:
    """``text`` with the table between the markers replaced (markers appended if missing)."""
    if begin not in text:
        text += f"\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + "\n" + "\n".join(table) + "\n" + end + tail


def main() -> int:
    readme = HERE / "README.md"
    text = (
        readme.read_text()
        if readme.exists()
        else f"# Benchmarks\n\n{HEAD_BEGIN}\n{HEAD_END}\n\n{BEGIN}\n{END}\n"
    )
    text = render(text, rows())
    if HEAD_BEGIN in text:  # the headline goes where the README puts its markers
        text = render(text, headline(), HEAD_BEGIN, HEAD_END)
    readme.write_text(text)
    print(readme)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
