"""``noisebloom engine``: run the engine process on stdin/stdout."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "engine",
        help="run the engine process (JSON lines on stdin/stdout; the app starts it)",
        description="Read JSON commands on stdin and write JSON events on stdout (core/engine/protocol.py).",
    )
    p.add_argument("--workspace", type=Path, default=None, help="workspace folder")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from core.engine.server import main

    return main(["--workspace", str(args.workspace)] if args.workspace else [])
