"""A stand-in engine process for the client tests (no torch, starts at once).

Prints a stray non-JSON line, then the ``hello`` event; answers every command with a ``result``
echoing its args; ``{"cmd": "shutdown"}`` exits 0; a ``get`` whose id is "crash" writes a line to
stderr and exits 3 (a crash); a ``sample`` job emits accepted/state and then waits forever.
"""

import json
import sys

print("a stray line a library printed", flush=True)
print(
    json.dumps(
        {
            "v": 1,
            "id": None,
            "type": "hello",
            "protocol": 1,
            "version": "fake",
            "device": "fake-device",
            "workspace": "/nowhere",
            "interrupted": [],
        }
    ),
    flush=True,
)
for line in sys.stdin:
    cmd = json.loads(line)
    cid = cmd["id"]
    if cmd["cmd"] == "shutdown":
        print(json.dumps({"id": cid, "type": "result", "data": {"ok": True}}), flush=True)
        sys.exit(0)
    if cmd["cmd"] == "get" and cmd["args"].get("id") == "crash":
        print("Segmentation fault in the fake engine", file=sys.stderr, flush=True)
        sys.exit(3)
    if cmd["cmd"] == "sample":
        print(
            json.dumps({"id": cid, "type": "accepted", "job": cid, "kind": "sample", "position": 0}),
            flush=True,
        )
        print(json.dumps({"id": cid, "type": "state", "state": "running"}), flush=True)
        continue
    print(json.dumps({"id": cid, "type": "result", "data": {"echo": cmd["args"]}}), flush=True)
