"""A stand-in engine process for the client tests (no torch, starts at once).

Prints a stray non-JSON line, then the ``hello`` event; answers every command with a ``result``
echoing its args; ``{"cmd": "shutdown"}`` exits 0; a ``get`` whose id is "crash" writes a line to
stderr and exits 3 (a crash); a ``sample`` job emits accepted/state and then waits until shutdown,
which stops it the way the engine does (after ``STOP_S`` seconds, as a checkpoint save takes: a
``done`` with state "stopped"). ``--fatal MESSAGE``: an engine that cannot start, which writes its
fatal ``error`` event (``data.fatal``) and exits 3 without a ``hello``.
"""

import json
import sys
import time

STOP_S = 1.0


def emit(**event) -> None:
    print(json.dumps({"v": 1, **event}), flush=True)


if "--fatal" in sys.argv:
    message = sys.argv[sys.argv.index("--fatal") + 1]
    print(f"noisebloom engine: {message}", file=sys.stderr, flush=True)
    emit(id=None, type="error", message=message, data={"fatal": True})
    sys.exit(3)

print("a stray line a library printed", flush=True)
emit(
    id=None,
    type="hello",
    protocol=1,
    version="fake",
    device="fake-device",
    workspace="/nowhere",
    interrupted=[],
)
running: list[str] = []
for line in sys.stdin:
    cmd = json.loads(line)
    cid = cmd["id"]
    if cmd["cmd"] == "shutdown":
        if running:
            time.sleep(STOP_S)
        for job in running:
            emit(id=job, type="done", state="stopped", results={})
        emit(id=cid, type="result", data={"ok": True})
        sys.exit(0)
    if cmd["cmd"] == "get" and cmd["args"].get("id") == "crash":
        print("Segmentation fault in the fake engine", file=sys.stderr, flush=True)
        sys.exit(3)
    if cmd["cmd"] == "sample":
        emit(id=cid, type="accepted", job=cid, kind="sample", position=0)
        emit(id=cid, type="state", state="running")
        running.append(cid)
        continue
    emit(id=cid, type="result", data={"echo": cmd["args"]})
