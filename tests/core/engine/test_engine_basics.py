"""A real engine subprocess: greeting, queries, malformed input, throttling (no heavy jobs)."""

from __future__ import annotations

import io
import json

import pytest

from core.engine import protocol as P
from core.engine.client import EngineClient
from core.engine.server import Engine


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    with EngineClient(tmp_path_factory.mktemp("ws")) as eng:
        yield eng


def test_greets_with_protocol_version_device_and_workspace(engine):
    assert engine.hello.protocol == P.PROTOCOL_VERSION
    assert engine.hello.device.startswith(("cpu", "cuda", "mps"))
    assert engine.hello.workspace == str(engine.workspace.resolve())
    assert (engine.workspace / "catalog.sqlite").is_file()


def test_garbage_on_stdin_gets_error_events_and_the_engine_keeps_serving(engine):
    for line in [
        "hello?",
        "{",
        "[]",
        '{"id": "g1", "cmd": "explode"}',
        '{"id": "g2", "cmd": "list", "args": []}',
        "\x00\xff binary junk",
        '{"id": "g3", "cmd": "get", "args": {"what": "runs", "id": "nope"}}',
    ]:
        engine.send_raw(line)
    errs = [engine.next_event(None, 30) for _ in range(4)]
    assert all(isinstance(e, P.Error) for e in errs)
    assert "not JSON" in errs[0].message
    e1 = engine.next_event("g1", 30)
    assert isinstance(e1, P.Error) and "unknown command 'explode'" in e1.message
    assert isinstance(engine.next_event("g2", 30), P.Error)
    e3 = engine.next_event("g3", 30)
    assert isinstance(e3, P.Error) and "no run 'nope'" in e3.message
    assert engine.alive
    assert engine.request("hello")["protocol"] == P.PROTOCOL_VERSION
    assert engine.bad_lines == []  # every stdout line was a valid event


def test_queries_list_every_kind(engine):
    for what in P.LISTABLE:
        assert engine.request("list", {"what": what})["items"] == []
    cid = engine.send("list", {"what": "cats"})
    err = engine.next_event(cid, 30)
    assert isinstance(err, P.Error) and "'what' must be one of" in err.message


def test_job_with_bad_arguments_is_refused_before_queueing(engine, tmp_path):
    cid = engine.send("scan", {"sources": [str(tmp_path / "missing")]})
    err = engine.next_event(cid, 30)
    assert isinstance(err, P.Error) and "no such file or folder" in err.message
    cid = engine.send("train", {"dataset": "d-none"})
    err = engine.next_event(cid, 30)
    assert isinstance(err, P.Error) and "no dataset 'd-none'" in err.message
    cid = engine.send("pause", {"job": "j-none"})
    assert "no job" in engine.next_event(cid, 30).message


def test_previews_are_throttled_to_ten_a_second_latest_wins(tmp_path):
    """200 previews in one second of the engine's clock, with the flusher's calls every 50 ms."""
    out = io.StringIO()
    clock = [100.0]
    eng = Engine(tmp_path, out, clock=lambda: clock[0])
    for k in range(200):
        eng.emit_throttled(lambda k=k: P.Preview(id="j", step=k), key=("j", "preview"))
        clock[0] += 0.005
        if k % 10 == 9:
            eng.flush_due()
    clock[0] += 0.1
    eng.flush_due()
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert 9 <= len(lines) <= 12  # about ten a second
    assert lines[0]["step"] == 0  # the first one at once
    assert lines[-1]["step"] == 199  # the latest one is never lost
    steps = [x["step"] for x in lines]
    assert steps == sorted(steps)
