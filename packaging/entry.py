"""The frozen app's entry point: ``noisebloom`` in the PyInstaller bundle (packaging/noisebloom.spec).

One executable serves every role, as ``desktop.launcher.main`` does from source: no arguments opens
the window, ``noisebloom engine`` is the engine process the window starts (desktop/engine_client.py
runs ``sys.executable engine`` when frozen), ``noisebloom selftest`` / ``train`` / ... are the command
line. ``multiprocessing.freeze_support()`` comes first: the scan decodes files in "spawn" worker
processes, which a frozen app starts as ``noisebloom --multiprocessing-fork ...``; it turns those
into workers before anything else runs.

``NOISEBLOOM_STARTUP_PROBE=1`` with no arguments opens the window exactly as ``noisebloom`` does and
reports on stdout, for ``packaging/smoke.py``: ``SHOWN <s> torch|no-torch`` at the window's first
paint (seconds since this process began, and whether the GUI process loaded torch, which it must
not), then ``HELLO <s> <device>`` when the engine process it started answered, then it closes the
window (which stops the engine) and exits 0; ``NOHELLO <reason>`` and exit 1 when the engine does
not answer within ``NOISEBLOOM_STARTUP_PROBE_TIMEOUT`` seconds (default 180).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time

T0 = time.perf_counter()


def startup_probe() -> int:
    from PySide6.QtCore import QEvent, QObject, QTimer

    from desktop.app import create_application, open_window

    app = create_application()
    state: dict[str, object] = {"shown": False, "code": 1}

    def say(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    class FirstPaint(QObject):
        def eventFilter(self, obj: QObject, ev: QEvent) -> bool:  # noqa: N802 - Qt
            if ev.type() == QEvent.Type.Paint and not state["shown"]:
                state["shown"] = True
                heavy = any(m.split(".")[0] in ("torch", "diffusers", "accelerate") for m in sys.modules)
                say(f"SHOWN {time.perf_counter() - T0:.3f} {'torch' if heavy else 'no-torch'}")
            return False

    painted = FirstPaint()
    app.installEventFilter(painted)
    window = open_window(app)
    client = window.app.client

    def finish(code: int) -> None:
        state["code"] = code
        window.close()
        app.quit()

    def on_hello(hello: object) -> None:
        say(f"HELLO {time.perf_counter() - T0:.3f} {getattr(hello, 'device', '?')}")
        QTimer.singleShot(0, lambda: finish(0))

    def on_died(message: str) -> None:
        say(f"NOHELLO {message}")
        QTimer.singleShot(0, lambda: finish(1))

    client.hello_received.connect(on_hello)
    client.died.connect(on_died)
    timeout_s = float(os.environ.get("NOISEBLOOM_STARTUP_PROBE_TIMEOUT", "180"))
    QTimer.singleShot(
        int(timeout_s * 1000), lambda: (say(f"NOHELLO no answer in {timeout_s:.0f} s"), finish(1))
    )
    app.exec()
    return int(state["code"])  # type: ignore[call-overload]


def main() -> int:
    multiprocessing.freeze_support()
    if len(sys.argv) == 1 and os.environ.get("NOISEBLOOM_STARTUP_PROBE") == "1":
        return startup_probe()
    from desktop.launcher import main as launcher_main

    return launcher_main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
