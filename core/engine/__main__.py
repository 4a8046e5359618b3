"""``python -m core.engine``: the engine process (see core/engine/protocol.py)."""

from core.engine.server import main

raise SystemExit(main())
