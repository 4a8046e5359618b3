"""What every benchmark result records: date, machine, commit, command, summary, figures, notes.

Every script writes through :func:`write_result`, so ``benchmarks/results/<name>[_<section>].json``
all look alike::

    {"benchmark": ..., "section": ... (only when given), "date": ..., "machine": {...},
     "commit": ..., "command": ..., "summary": {...}, "figures": {...}, "notes": ...}

``summary`` holds the few headline figures the README table shows (``python -m benchmarks.report``);
``figures`` holds everything measured. ``machine["load_average_at_start"]`` is the load when the run
began: pass what :func:`load_average` returned at the start of the run (a 10-minute run's load at
the end says little about the run); without it, the load when this module was first imported is
used. ``machine["load_average_at_end"]`` is the load when the result is written.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS = Path(os.environ.get("NOISEBLOOM_BENCH_RESULTS") or Path(__file__).resolve().parent / "results")
"""Where results are written: ``benchmarks/results/``, or the folder ``NOISEBLOOM_BENCH_RESULTS`` names (a
lent GPU machine's script writes into the folder that comes back, a try-out on the CPU into a scratch one)."""
COMMON_KEYS = ("benchmark", "date", "machine", "commit", "command", "summary", "figures", "notes")


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, rounded; None where the OS has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


LOAD_AT_IMPORT = load_average()  # a script importing this module at its top: the load at its start


def commit() -> str | None:
    try:
        r = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() or None if r.returncode == 0 else None


def cpu_model() -> str | None:
    """The processor's name (``Intel(R) Xeon(R) Processor``, ``Apple M2``), or None where the system does
    not say: "x86_64" alone cannot tell two machines apart, and speed figures depend on which it was."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model") and value.strip():
                return value.strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            r = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5
            )
            return r.stdout.strip() or None if r.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            return None
    return None


def machine(load_at_start: Sequence[float] | None = None) -> dict[str, Any]:
    """The machine and the load on it. torch's thread count is recorded only where this process has
    imported torch (a GUI or client process that never does is not made to load it here)."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    model = cpu_model()
    if model:
        info["cpu_model"] = model
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            info["torch"] = torch.__version__
            info["torch_threads"] = torch.get_num_threads()
            if torch.cuda.is_available():
                info["gpu"] = torch.cuda.get_device_name(0)
        except Exception:
            pass
    else:
        try:
            info["torch"] = metadata.version("torch")
        except metadata.PackageNotFoundError:
            pass
    start = list(load_at_start) if load_at_start is not None else LOAD_AT_IMPORT
    if start is not None:
        info["load_average_at_start"] = [round(float(x), 2) for x in start]
    end = load_average()
    if end is not None:
        info["load_average_at_end"] = end
    return info


def command_line() -> str:
    """This process's command line, e.g. ``python benchmarks/bench_scan.py --count 1000``."""
    return " ".join([Path(sys.executable).name, *sys.argv])


command = command_line  # the older name


def result_path(name: str, section: str | None = None) -> Path:
    return RESULTS / (f"{name}_{section}.json" if section else f"{name}.json")


def write_result(
    name: str,
    figures: dict[str, Any],
    *,
    summary: dict[str, Any] | None = None,
    notes: str = "",
    section: str | None = None,
    load_at_start: Sequence[float] | None = None,
    command: str | None = None,
    machine_extra: dict[str, Any] | None = None,
    machine_info: dict[str, Any] | None = None,
) -> Path:
    """Write ``results/<name>.json`` (``results/<name>_<section>.json`` for one section of a script
    with several). ``summary`` holds the few headline figures the README table shows (name, with its
    unit, -> number or short text); ``figures`` holds everything measured. ``load_at_start``: the
    :func:`load_average` taken when the run began; ``command``: the command line to show (default:
    this process's); ``machine_extra``: more about the machine (e.g. the Qt platform);
    ``machine_info``: the whole machine record, for figures measured on another machine (a lent GPU)
    and recorded here from its logs."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {"benchmark": name}
    if section:
        payload["section"] = section
    payload |= {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info or {**machine(load_at_start), **(machine_extra or {})},
        "commit": commit(),
        "command": command if command is not None else command_line(),
        "summary": summary or {},
        "figures": figures,
        "notes": notes,
    }
    path = result_path(name, section)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    tmp.replace(path)
    return path
