"""The QProcess connection to the engine: events as signals, stray output tolerated, death
detected, in-flight commands failed, and the engine restarted; an engine that cannot start is not
restarted; shutdown gives a live job time to stop and save."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from core.engine import protocol as P
from desktop import engine_client
from desktop.engine_client import RESTART_DELAY_MS, EngineClient

FAKE = [sys.executable, str(Path(__file__).with_name("fake_engine.py"))]
LOCKED = (
    "workspace /x is in use by another Noisebloom engine (process 1234); close the other Noisebloom "
    "window, or pass --workspace DIR / set NOISEBLOOM_HOME to use another workspace"
)


@pytest.fixture
def fake(qtbot):
    client = EngineClient(command=FAKE)
    with qtbot.waitSignal(client.hello_received, timeout=10_000):
        client.start()
    yield client
    client.auto_restart = False
    client.shutdown(wait_ms=2000)


def test_events_arrive_as_signals_and_stray_lines_are_skipped(fake, qtbot):
    assert fake.state == "ready" and fake.device == "fake-device"
    assert fake.bad_lines == 1
    got = []
    with qtbot.waitSignal(fake.event_received, check_params_cb=lambda e: e.type == "result", timeout=5000):
        fake.send("list", {"what": "runs"}, on_result=got.append)
    assert got == [{"echo": {"what": "runs"}}]


def test_a_crash_fails_what_was_in_flight_and_restarts_the_engine(fake, qtbot):
    errors: list[P.Error] = []
    fake.send("sample", {"model": "m"}, on_error=errors.append)
    first_pid = fake.pid
    with qtbot.waitSignal(fake.died, timeout=5000) as died:
        fake.send("get", {"what": "runs", "id": "crash"}, on_error=errors.append)
    assert (
        died.args[0] == "the engine exited with code 3: Segmentation fault in the fake engine; restarting it"
    )
    assert {e.message.split(":")[0] for e in errors} == {"sample", "get"}
    assert [e.state for e in errors if e.message.startswith("sample")] == ["failed"]
    with qtbot.waitSignal(fake.hello_received, timeout=10_000):
        pass
    assert fake.state == "ready" and fake.pid != first_pid


def test_commands_while_the_engine_is_down_get_a_readable_error(qtbot):
    client = EngineClient(command=FAKE)
    errors: list[P.Error] = []
    client.send("list", {"what": "runs"}, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=2000)
    assert errors[0].message == "list: the engine is not running (stopped); try again in a moment"


def test_restarts_stop_after_repeated_crashes(qtbot):
    client = EngineClient(command=[sys.executable, "-c", "import sys; sys.exit(5)"])
    messages: list[str] = []
    client.died.connect(messages.append)
    client.start()
    qtbot.waitUntil(lambda: len(messages) == 4, timeout=20_000)
    assert messages[-1].endswith("use Engine > Restart")
    assert all(m.startswith("the engine exited with code 5") for m in messages)


def test_an_engine_that_cannot_start_says_why_and_is_not_restarted(qtbot):
    client = EngineClient(command=[*FAKE, "--fatal", LOCKED])
    starts: list[str] = []
    client.state_changed.connect(lambda s: s == "starting" and starts.append(s))
    messages: list[str] = []
    client.died.connect(messages.append)
    with qtbot.waitSignal(client.died, timeout=10_000):
        client.start()
    qtbot.wait(3 * RESTART_DELAY_MS)  # past the delay an automatic restart would wait
    assert messages == [f"The engine could not start: {LOCKED}. Once that is fixed, use Engine > Restart"]
    assert client.state == "failed" and client.fatal == LOCKED and starts == ["starting"]
    errors: list[P.Error] = []
    client.send("list", {"what": "runs"}, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=2000)
    assert errors[0].message == (
        f"list: the engine could not start ({LOCKED}); fix that, then use Engine > Restart"
    )
    client.command = FAKE  # the person closed the other window: Engine > Restart starts it
    with qtbot.waitSignal(client.hello_received, timeout=10_000):
        client.restart()
    assert client.state == "ready" and client.fatal == ""
    client.shutdown(wait_ms=2000)


def test_shutdown_gives_a_live_job_time_to_stop_and_save(fake, qtbot, monkeypatch):
    monkeypatch.setattr(engine_client, "SHUTDOWN_IDLE_MS", 200)  # shorter than the fake's stop
    events: list[P.Event] = []
    fake.event_received.connect(events.append)
    with qtbot.waitSignal(fake.event_received, check_params_cb=lambda e: e.type == "state", timeout=5000):
        job = fake.send("sample", {"model": "m"})
    assert fake.jobs_in_flight() == [job]
    proc = fake._proc
    fake.shutdown()
    assert [(e.id, e.state) for e in events if isinstance(e, P.Done)] == [(job, "stopped")]
    assert proc.exitStatus() == proc.ExitStatus.NormalExit and proc.exitCode() == 0  # not killed
    assert fake.state == "stopped"
