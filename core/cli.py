"""The ``noisebloom`` command line: ``noisebloom SUBCOMMAND ...``.

Each area of the engine contributes its subcommands from a ``commands`` module with a
``register(subparsers)`` function; those modules import only ``argparse`` at the top and load
torch inside the command, so ``noisebloom --help`` answers at once. Errors a person can act on
(:class:`~core.errors.NoisebloomError`) print as one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from core import __version__
from core.errors import NoisebloomError, resource_error

# Modules with a ``register(subparsers)`` function, in the order --help lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "core.data.commands",
    "core.training.commands",
    "core.training.fewstep_commands",
    "core.sampling.commands",
    "core.export.commands",
    "core.metrics.commands",
    "core.engine.commands",
    "core.selftest",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="noisebloom",
        description=(
            "Train small diffusion models on your own pictures and clips, sample them with any "
            "number of steps, and export the results. With no subcommand, opens the app."
        ),
        epilog=(
            "`noisebloom` alone opens the app; `noisebloom screenshot OUT_DIR` saves a PNG of "
            "each area of the app (offscreen). `noisebloom SUBCOMMAND --help` explains each command."
        ),
    )
    parser.add_argument("--version", action="version", version=f"noisebloom {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:  # that area is not built yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except NoisebloomError as e:
        print(f"noisebloom: error: {e}", file=sys.stderr)
        return 2
    except (OSError, MemoryError, RuntimeError) as e:  # disk full, out of memory, no permission: one line
        where = getattr(e, "filename", None) or _output_of(args)
        err = resource_error(e, where)
        if err is None:
            raise
        print(f"noisebloom: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("noisebloom: interrupted", file=sys.stderr)
        return 130


def _output_of(args: argparse.Namespace) -> str:
    """The place a command writes, for a resource error that does not name its file."""
    for name in ("out", "video", "grid", "clips_dir", "workspace"):
        if getattr(args, name, None):
            return str(getattr(args, name))
    return "the output folder"


if __name__ == "__main__":
    raise SystemExit(main())
