from __future__ import annotations

import json

import pytest

from core.engine import protocol as P


def test_command_round_trip():
    c = P.Command(id="c1", cmd="scan", args={"sources": ["/a"]})
    assert P.Command.from_json(c.to_json()) == c


@pytest.mark.parametrize(
    ("line", "needle", "cid"),
    [
        ("not json", "not JSON", None),
        ("[1, 2]", "JSON object", None),
        ('{"cmd": "list"}', "no 'id'", None),
        ('{"id": "x", "cmd": "launch"}', "unknown command 'launch'", "x"),
        ('{"id": "x", "cmd": "list", "args": 3}', "'args' of list", "x"),
        ('{"id": "x", "v": 9, "cmd": "list"}', "protocol version 9", "x"),
    ],
)
def test_malformed_commands_raise_with_the_id_when_readable(line, needle, cid):
    with pytest.raises(P.ProtocolError) as e:
        P.Command.from_json(line)
    assert needle in str(e.value)
    assert e.value.command_id == cid


def test_every_event_type_round_trips_and_is_tagged():
    samples = [
        P.Hello(id=None, version="1", device="cpu", workspace="/w", interrupted=["r1"]),
        P.Accepted(id="j", job="j", kind="train", position=1),
        P.State(id="j", state="paused"),
        P.Progress(id="j", done=3, total=10, unit="steps", rate=2.5, eta_s=2.8),
        P.Metric(id="j", step=3, values={"loss": 0.5}),
        P.Preview(id="j", step=3, images=["aGk="]),
        P.Step(id="j", i=1, n=10, t=999.0, sigma=None, xt=["aGk="], x0=["aGk="]),
        P.Log(id="j", message="hi"),
        P.Result(id="q", data={"items": []}),
        P.Done(id="j", results={"model": "m1"}),
        P.Error(id="j", message="boom", detail="tb", state="failed"),
    ]
    assert {type(e).type for e in samples} == set(P.EVENT_TYPES)
    for ev in samples:
        wire = json.loads(ev.to_json())
        assert wire["type"] == type(ev).type and wire["v"] == P.PROTOCOL_VERSION
        assert P.event_from_json(ev.to_json()) == ev


def test_unknown_event_fields_are_ignored_for_forward_compatibility():
    ev = P.event_from_json('{"v": 1, "type": "log", "id": "j", "message": "m", "future": 1}')
    assert isinstance(ev, P.Log) and ev.message == "m"


def test_clip_previews_are_filmstrips_and_images_stay_as_they_are():
    import base64
    import io

    import numpy as np
    from PIL import Image

    from core.engine.jobs.common import png_b64, preview_image

    clip = np.zeros((4, 8, 6, 3), np.uint8)
    clip[2] = 255  # the third frame is white
    strip = np.asarray(Image.open(io.BytesIO(base64.b64decode(png_b64(preview_image(clip))))))
    assert strip.shape == (8, 4 * 6, 3)
    assert strip[:, 12:18].min() == 255 and strip[:, :12].max() == 0
    image = np.full((8, 6, 3), 7, np.uint8)
    assert preview_image(image) is image


def test_every_job_has_an_argument_type_and_a_result_type_and_they_round_trip():
    from core.engine.jobs import JOBS

    assert set(P.JOB_ARGS) == set(P.JOB_RESULTS) == set(P.JOB_COMMANDS) == set(JOBS)
    done = P.SampleDone(sample_set="s1", out_dir="/ws/samples/s1", images=["/a.png"])
    assert done.to_dict() == {"sample_set": "s1", "out_dir": "/ws/samples/s1", "images": ["/a.png"]}
    assert P.SampleDone.from_dict(done.to_dict()) == done
    args = P.BranchArgs(sample_set="s1", step=3)
    assert args.to_dict() == {
        "sample_set": "s1",
        "step": 3,
    }  # None fields stay out: the engine's defaults apply
    assert (
        P.BranchArgs.from_dict({"sample_set": "s1", "step": 3, "later": 1}) == args
    )  # newer keys are ignored
    with pytest.raises(P.ProtocolError, match="'run'"):
        P.TrainDone.from_dict({"model": "m"})
