"""The ``evaluate`` job (the health check) in an in-process engine: figures, pairs, the kept result,
and cancel. The model is a tiny untrained UNet; the dataset holds copies of its first samples, so
those samples must come back flagged as copies beside the training picture they copy."""

from __future__ import annotations

import io
import json
import threading
import time

import numpy as np
import pytest

from core.engine import protocol as P
from core.engine.server import Engine
from tests.core.metrics.conftest import blobs, tiny_unet


class InProcessEngine:
    """An Engine with its worker and flusher threads, commands fed as lines, events read back."""

    def __init__(self, root) -> None:
        self.out = io.StringIO()
        self.engine = Engine(root, self.out)
        self._n = 0
        threading.Thread(target=self.engine._worker, daemon=True).start()
        threading.Thread(target=self.engine._flusher, daemon=True).start()

    def send(self, cmd: str, args: dict) -> str:
        self._n += 1
        cid = f"t{self._n}"
        self.engine.handle_line(P.Command(id=cid, cmd=cmd, args=args).to_json())
        return cid

    def events(self, cid: str) -> list[P.Event]:
        return [ev for ev in map(P.event_from_json, self.out.getvalue().splitlines()) if ev.id == cid]

    def wait(
        self, cid: str, until: tuple[str, ...] = ("done", "error"), timeout: float = 120
    ) -> list[P.Event]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            evs = self.events(cid)
            if evs and evs[-1].type in until:
                return evs
            time.sleep(0.02)
        raise TimeoutError(f"{cid}: no {until} in {timeout} s; got {[e.type for e in self.events(cid)]}")

    def close(self) -> None:
        self.engine._shutdown()
        self.engine._closing.set()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A catalog with a dataset, a run that trained on it (with a held-out loss curve) and its model.

    The dataset's first 4 training pictures are the model's own samples 0-3 (seed 0, 2 steps)."""
    import torch

    from core.data.prepared import PreparedDataset
    from core.models.folder import load_model_folder, save_model_folder
    from core.sampling.config import SampleConfig
    from core.sampling.sample import sample
    from core.workspace.catalog import Catalog

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("ws")
    model_dir = root / "runs" / "run-a" / "model"
    torch.manual_seed(0)
    save_model_folder(tiny_unet(), "eps", {"preset": "test", "resolution": 16, "channels": 1}, model_dir)
    copies = sample(
        load_model_folder(model_dir, "cpu"), SampleConfig(num=4, steps=2, seed=0, device="cpu")
    ).images
    array = np.concatenate([copies, blobs(26, size=16, seed=1)])
    data = PreparedDataset(
        array=array, kind="image", train_indices=np.arange(0, 26), val_indices=np.arange(26, 30)
    )
    data.save(root / "datasets" / "ds-a")
    cat = Catalog(root)
    now = time.time()
    cat.insert("datasets", id="ds-a", name="blobs", kind="image", path=str(root / "datasets" / "ds-a"),
               sources=[], settings={}, report={}, n_items=30, created=now)  # fmt: skip
    cat.insert("runs", id="run-a", name="blobs", dataset_id="ds-a", config={}, status="done",
               path=str(model_dir.parent), created=now, steps=30)  # fmt: skip
    cat.insert("models", id="model-a", name="blobs", run_id="run-a", path=str(model_dir), info={},
               created=now)  # fmt: skip
    for step, v in ((10, 0.9), (20, 0.7), (30, 0.65)):
        cat.add_metrics("run-a", step, {"loss": v, "val_loss": v, "val_loss_t0-250": v / 2})
    cat.close()
    return root


@pytest.fixture
def engine(workspace):
    eng = InProcessEngine(workspace)
    yield eng
    eng.close()


def test_evaluate_measures_the_model_flags_its_copies_and_keeps_the_result(engine, workspace):
    cid = engine.send("evaluate", {"model": "model-a", "num": 6, "steps": 2, "seed": 0})
    evs = engine.wait(cid)
    done = evs[-1]
    assert done.type == "done", done
    progress = [e for e in evs if e.type == "progress"]
    assert progress and progress[-1].done == progress[-1].total > 0
    assert any("nearest training" in e.message for e in progress)
    r = done.results
    P.EvaluateDone(**r)  # exactly the typed result's fields
    assert r["dataset"] == "ds-a"  # taken from the run the model trained on
    assert r["num_samples"] == 6 and r["verdict"]["label"] == "not_learning"
    assert r["verdict"]["message"] == "not learning — check the learning rate"
    assert r["fd_noise"] > r["fd_real"] and r["fd"] > 0 and r["kid"] is not None and r["swd"]["swd"] > 0
    assert r["heldout_series"]["val_loss"] == [[10, 0.9], [20, 0.7], [30, 0.65]]
    assert len(r["heldout_loss"]["loss"]) == 4
    # samples 0-3 are in the training pictures (rows 0-3): flagged, first, beside their original
    pairs = r["pairs"]
    assert len(pairs) == 6 and r["memorized_count"] == 4 and r["memorized_share"] == pytest.approx(4 / 6)
    assert [p["memorized"] for p in pairs] == [True] * 4 + [False] * 2
    assert sorted((p["index"], p["rows"][0]) for p in pairs[:4]) == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert all(p["d1"] == 0 and p["ratio"] == 0 for p in pairs[:4])
    assert all(len(p["nearest"]) == 3 and p["ratio"] > 0 for p in pairs[4:])
    from PIL import Image

    first = Image.open(io.BytesIO(__import__("base64").b64decode(pairs[0]["sample"])))
    assert first.size == (16, 16)
    assert "not learning — check the learning rate" in r["summary"]
    # the latest check is kept: the model's catalog row points at the file holding it
    model = engine.engine.catalog.get("models", "model-a")
    assert model["evaluation"]["path"] == r["evaluation"]
    assert model["evaluation"]["verdict"]["label"] == "not_learning"
    kept = json.loads(open(r["evaluation"]).read())
    assert kept["memorized_share"] == r["memorized_share"] and len(kept["pairs"]) == 6
    # and the model card says it (core.models.card), in the model folder only
    card = (workspace / "runs" / "run-a" / "model" / "README.md").read_text(encoding="utf-8")
    assert "- Memorised share (last health check): 66.7% of 6 samples copy a training picture" in card
    assert "memorized_share: 0.6667\n" in card


def test_evaluate_is_refused_at_once_without_a_model_or_with_too_few_samples(engine):
    err = engine.wait(engine.send("evaluate", {"model": "model-none"}))[-1]
    assert err.type == "error" and "no model 'model-none'" in err.message
    err = engine.wait(engine.send("evaluate", {"model": "model-a", "num": 1}))[-1]
    assert err.type == "error" and "at least 2 samples" in err.message


def test_cancel_ends_a_check_and_keeps_the_previous_result(engine):
    first = engine.wait(engine.send("evaluate", {"model": "model-a", "num": 2, "steps": 1, "seed": 0}))[-1]
    assert first.type == "done", first  # this test's own previous result, not another test's
    before = engine.engine.catalog.get("models", "model-a")["evaluation"]
    assert before["path"] == first.results["evaluation"]
    cid = engine.send("evaluate", {"model": "model-a", "num": 64, "steps": 400})
    deadline = time.monotonic() + 60
    while not any(e.type == "progress" and e.done > 0 for e in engine.events(cid)):
        assert time.monotonic() < deadline, "no sampling progress"
        time.sleep(0.01)
    engine.send("cancel", {"job": cid})
    last = engine.wait(cid, timeout=60)[-1]
    assert last.type == "error" and last.state == "cancelled"
    assert engine.engine.catalog.get("models", "model-a")["evaluation"] == before
