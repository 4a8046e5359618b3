"""The ``noisebloom`` console script: the app with no arguments, the CLI with a subcommand.

``noisebloom``                      opens the app
``noisebloom screenshot OUT_DIR``   saves a PNG of each area of the app (offscreen)
``noisebloom SUBCOMMAND ...``       the command line (``core.cli``): train, sample, engine, ...

The CLI branch hands the whole process to ``core.cli`` before any Qt module is loaded, so the
GUI process itself never imports torch (the import-linter contract ignores exactly this edge).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] == "gui":
        from desktop.app import main as gui_main

        return gui_main(args[1:])
    if args[0] == "screenshot":
        from desktop.screenshot import main as screenshot_main

        return screenshot_main(args[1:])
    from core.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    raise SystemExit(main())
