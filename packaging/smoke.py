"""Smoke test of the built bundle: its self-test, and how fast its window appears.

    .venv/bin/python packaging/smoke.py [--bundle dist/noisebloom] [--runs 3] [--no-write]

(``make package-smoke`` runs this after building the bundle if needed.) The frozen app runs as a
person's would: from a temporary folder, with no ``PYTHONPATH`` / ``VIRTUAL_ENV`` and without the
venv on ``PATH``, with a throw-away workspace (``NOISEBLOOM_HOME``) and settings folder
(``XDG_CONFIG_HOME``), offscreen (``QT_QPA_PLATFORM=offscreen`` unless ``DISPLAY`` is given with
``--display``).

1. ``noisebloom --version`` answers.
2. ``noisebloom selftest`` (scan a generated folder in worker processes, train 5 steps, sample 5
   steps, export a GIF and an MP4) exits 0.
3. Start-up: one warm-up launch, then ``--runs`` launches of ``noisebloom`` with
   ``NOISEBLOOM_STARTUP_PROBE=1`` (packaging/entry.py): the time from launching the executable to
   the window's first paint, measured here from ``Popen`` (so it includes the bootloader, every
   import and building the window), whether the GUI process loaded torch (it must not), and the
   time until the engine process the window started from the same bundle said hello.

Prints a summary and writes ``benchmarks/results/package.json`` through
``benchmarks.common.write_result`` (date, machine, commit, command, summary, figures).
Exits 1 when the self-test or a launch fails; a start-up time above the 3 s target is reported,
not failed (this machine's 2 cores are shared, so the figure moves with the load).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import load_average, result_path, write_result  # noqa: E402

RESULTS = result_path("package")
TARGET_S = 3.0


def du_bytes(path: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(path):
        for f in files:
            p = os.path.join(folder, f)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def clean_env(tmp: Path, display: str | None) -> dict[str, str]:
    venv_bin = str(ROOT / ".venv" / "bin")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
    env["NOISEBLOOM_HOME"] = str(tmp / "workspace")
    env["XDG_CONFIG_HOME"] = str(tmp / "config")
    if display:
        env["DISPLAY"] = display
        env.pop("QT_QPA_PLATFORM", None)
    else:
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def launch_probe(cmd: list[str], env: dict[str, str], cwd: Path, timeout_s: float) -> dict[str, object]:
    """One launch of the window with the start-up probe; times in seconds from Popen."""
    env = dict(env, NOISEBLOOM_STARTUP_PROBE="1", NOISEBLOOM_STARTUP_PROBE_TIMEOUT=str(timeout_s))
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run: dict[str, object] = {"shown_s": None, "hello_s": None, "gui_loaded_torch": None, "device": None}
    assert p.stdout is not None
    for line in p.stdout:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "SHOWN":
            run["shown_s"] = round(time.perf_counter() - t0, 3)
            run["shown_in_process_s"] = float(parts[1])
            run["gui_loaded_torch"] = parts[2] == "torch"
        elif parts[0] == "HELLO":
            run["hello_s"] = round(time.perf_counter() - t0, 3)
            run["device"] = parts[2] if len(parts) > 2 else "?"
        elif parts[0] == "NOHELLO":
            run["error"] = line.strip()
    try:
        _out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        _out, err = p.communicate()
    run["exit_code"] = p.returncode
    run["exit_s"] = round(time.perf_counter() - t0, 3)
    if p.returncode != 0:
        run["stderr_tail"] = err.strip().splitlines()[-5:]
    return run


def _startup_figures(runs: list[dict[str, object]], args: argparse.Namespace) -> dict[str, object]:
    shown = [float(r["shown_s"]) for r in runs if r["shown_s"] is not None]  # type: ignore[arg-type]
    hello = [float(r["hello_s"]) for r in runs if r["hello_s"] is not None]  # type: ignore[arg-type]
    return {
        "platform": f"xcb {args.display}" if args.display else "offscreen",
        "window_shown_s": shown,
        "window_shown_median_s": round(statistics.median(shown), 3) if shown else None,
        "window_shown_max_s": round(max(shown), 3) if shown else None,
        "engine_hello_s": hello,
        "engine_hello_median_s": round(statistics.median(hello), 3) if hello else None,
        "target_s": TARGET_S,
        "target_met": bool(shown) and max(shown) <= TARGET_S,
        "runs": runs,
    }


def summarize(figures: dict) -> dict:
    """The README table's rows for one smoke run's figures."""
    out: dict[str, object] = {"bundle MiB": figures["bundle_mib"]}
    if "tarball" in figures:
        out["tarball MiB"] = figures["tarball"]["mib"]
    st = figures.get("selftest")
    if st:
        out["selftest"] = f"{'passed' if st['exit_code'] == 0 else 'FAILED'} in {st['wall_s']} s"
    for key, label in (("startup", "bundle"), ("startup_from_source", "from source")):
        s = figures.get(key)
        if s:
            out[f"{label} window shown median / max s"] = (
                f"{s['window_shown_median_s']} / {s['window_shown_max_s']}"
            )
            out[f"{label} engine hello median s"] = s["engine_hello_median_s"]
    if "startup" in figures:
        out[f"start-up target {figures['startup']['target_s']:g} s met"] = figures["startup"]["target_met"]
    out["failures"] = "; ".join(figures.get("failures", [])) or "none"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path, default=ROOT / "dist" / "noisebloom")
    ap.add_argument("--runs", type=int, default=3, help="measured launches after one warm-up (default 3)")
    ap.add_argument("--display", help="an X display (e.g. :99 from Xvfb) instead of offscreen")
    ap.add_argument("--skip-selftest", action="store_true")
    ap.add_argument(
        "--compare-source", action="store_true", help="also time the same launch from source, interleaved"
    )
    ap.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.relative_to(ROOT)}")
    args = ap.parse_args(argv)
    load0 = load_average()
    exe = args.bundle.resolve() / "noisebloom"
    if not exe.is_file():
        print(f"smoke: {exe} is missing; run `make package` first", file=sys.stderr)
        return 1
    failures: list[str] = []
    figures: dict[str, object] = {"bundle_mib": round(du_bytes(args.bundle) / 2**20, 1)}
    tars = sorted((args.bundle.parent).glob("noisebloom-*-linux-*.tar.gz"))
    if tars:
        figures["tarball"] = {"name": tars[-1].name, "mib": round(tars[-1].stat().st_size / 2**20, 1)}
    print(f"bundle: {args.bundle} ({figures['bundle_mib']} MiB)", flush=True)

    with tempfile.TemporaryDirectory(prefix="noisebloom-smoke-") as tmp_s:
        tmp = Path(tmp_s)
        env = clean_env(tmp, args.display)

        out = subprocess.run(
            [str(exe), "--version"], cwd=tmp, env=env, capture_output=True, text=True, timeout=120
        )
        print(f"--version: {out.stdout.strip() or out.stderr.strip()[-300:]}", flush=True)
        if out.returncode != 0:
            failures.append(f"--version exited {out.returncode}")

        if not args.skip_selftest:
            t0 = time.perf_counter()
            st = subprocess.run(
                [str(exe), "selftest", "--workspace", str(tmp / "selftest-ws")],
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            wall = time.perf_counter() - t0
            print(st.stdout.rstrip())
            if st.returncode != 0:
                print(st.stderr.rstrip()[-3000:], file=sys.stderr)
                failures.append(f"selftest exited {st.returncode}")
            figures["selftest"] = {
                "exit_code": st.returncode,
                "wall_s": round(wall, 1),
                "stdout": st.stdout.strip().splitlines(),
            }

        # The same launch from source (the venv's python running packaging/entry.py), interleaved
        # with the bundle's so both see the same load, for comparison.
        source_cmd = [sys.executable, str(ROOT / "packaging" / "entry.py")]
        source_env = dict(env, PYTHONPATH=str(ROOT))
        kinds = [("bundle", [str(exe)], env)] + (
            [("source", source_cmd, source_env)] if args.compare_source else []
        )
        runs: dict[str, list[dict[str, object]]] = {name: [] for name, _, _ in kinds}
        for k in range(args.runs + 1):
            for name, cmd, kind_env in kinds:
                r = launch_probe(cmd, kind_env, tmp, timeout_s=180)
                label = f"{name} " + ("warm-up" if k == 0 else f"run {k}")
                print(
                    f"start-up {label}: window shown {r['shown_s']} s, engine hello {r['hello_s']} s "
                    f"({r.get('device')}), GUI process loaded torch: {r['gui_loaded_torch']}, exit {r['exit_code']}",
                    flush=True,
                )
                if r["shown_s"] is None or r["hello_s"] is None or r["exit_code"] != 0:
                    failures.append(
                        f"start-up {label}: {r.get('error') or r.get('stderr_tail') or 'no window'}"
                    )
                if r["gui_loaded_torch"]:
                    failures.append(f"start-up {label}: the GUI process imported torch")
                if k > 0:
                    runs[name].append(r)
        for name, _, _ in kinds:
            figures["startup" if name == "bundle" else "startup_from_source"] = _startup_figures(
                runs[name], args
            )
        shown = figures["startup"]["window_shown_s"]  # type: ignore[index]

    src = figures.get("startup_from_source")
    if src:
        print(
            f"from source: window visible median {src['window_shown_median_s']} s, max {src['window_shown_max_s']} s"
        )  # type: ignore[index]
    if shown:
        verdict = "met" if figures["startup"]["target_met"] else "MISSED"  # type: ignore[index]
        print(
            f"window visible: median {statistics.median(shown):.2f} s, max {max(shown):.2f} s "
            f"over {len(shown)} launches (target {TARGET_S:.0f} s: {verdict})"
        )
    figures["failures"] = failures
    if not args.no_write:
        write_result(
            "package",
            figures,
            summary=summarize(figures),
            load_at_start=load0,
            command=" ".join(["python packaging/smoke.py", *(argv if argv is not None else sys.argv[1:])]),
        )
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    if failures:
        print("smoke FAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    print("smoke passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
