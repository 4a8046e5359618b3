"""The guidance weight a model samples with by default is chosen at the end of training on the
folder's own pictures, saved with the guide, and used by sampling, the health check and the window."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.sampling.config import SampleConfig, model_guidance, resolve_guidance
from core.sampling.guidance import DEFAULT_GUIDANCE
from core.training import guidance_choice as G


def _pictures(n: int = 64, seed: int = 0) -> np.ndarray:
    """Discs of one colour on white at random places: a folder with a shape."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:16, :16]
    out = np.full((n, 16, 16, 3), 255, np.uint8)
    for i in range(n):
        cy, cx = rng.uniform(5, 11, 2)
        out[i][np.hypot(yy - cy, xx - cx) < rng.uniform(3, 5)] = (200, 40, 40)
    return out


def test_the_weight_whose_samples_are_nearest_the_folder_is_chosen(monkeypatch):
    monkeypatch.setattr(G, "SAMPLES", 48)
    folder = _pictures()
    noise = np.random.default_rng(1).integers(0, 256, (48, 16, 16, 3), dtype=np.uint8)

    def draw(weight: float, n: int) -> np.ndarray:  # weight 0 draws new discs, the others noise
        return _pictures(n, seed=7) if weight == 0 else noise[:n]

    weight, distance = G.choose_weight(draw, folder)
    assert weight == 0.0 and set(distance) == set(G.WEIGHTS)
    assert distance[0.0] < (1 - G.MARGIN) * distance[DEFAULT_GUIDANCE]


def test_the_default_stays_unless_another_weight_is_clearly_nearer(monkeypatch):
    monkeypatch.setattr(G, "SAMPLES", 48)
    folder = _pictures()

    def draw(weight: float, n: int) -> np.ndarray:  # every weight alike: nothing is clearly better
        return _pictures(n, seed=int(weight * 10) + 3)

    weight, distance = G.choose_weight(draw, folder)
    assert weight == DEFAULT_GUIDANCE
    assert min(distance.values()) > (1 - G.MARGIN) * distance[DEFAULT_GUIDANCE]


def test_a_run_chooses_its_weight_saves_it_with_the_guide_and_sampling_uses_it(tmp_path, monkeypatch):
    from core.data.prepared import PreparedDataset
    from core.models.folder import load_model_folder
    from core.training.config import TrainConfig
    from core.training.trainer import train

    monkeypatch.setattr(G, "MIN_STEPS", 4)
    monkeypatch.setattr(G, "SAMPLES", 8)
    chosen = []
    real = G.choose_weight
    monkeypatch.setattr(G, "choose_weight", lambda draw, pics: chosen.append(pics.shape) or real(draw, pics))
    config = TrainConfig(
        preset="unet-tiny",
        batch_size=4,
        max_steps=6,
        max_minutes=None,
        device="cpu",
        preview_every=0,
        val_every=0,
        checkpoint_every=6,
        memorization_every=0,
        preview_steps=2,
    )  # fmt: skip  (saved at the last step already: choosing writes the folder again)
    run = tmp_path / "run"
    train(config, PreparedDataset.from_array(_pictures(12)), run)
    assert chosen == [(12, 16, 16, 3)]  # every picture of the folder, at the run's size
    meta = json.loads((run / "model" / "noisebloom.json").read_text())
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    row = next(r for r in rows if r.get("kind") == "guidance")
    assert meta["guide"]["weight"] == row["weight"] and row["weight"] in G.WEIGHTS
    assert set(row["distance"]) == {f"{w:g}" for w in G.WEIGHTS}
    model = load_model_folder(run / "model")
    assert resolve_guidance(SampleConfig(), model) == row["weight"]
    assert resolve_guidance(SampleConfig(guidance=0.25), model) == 0.25  # asked for by name: as asked


def test_a_short_run_or_one_without_a_guide_keeps_the_default(tmp_path):
    from core.data.prepared import PreparedDataset
    from core.training.config import TrainConfig
    from core.training.trainer import train

    config = TrainConfig(
        preset="unet-tiny", batch_size=4, max_steps=3, max_minutes=None, device="cpu", preview_every=0,
        val_every=0, checkpoint_every=0, memorization_every=0,
    )  # fmt: skip
    train(config, PreparedDataset.from_array(_pictures(8)), tmp_path / "run")
    meta = json.loads((tmp_path / "run" / "model" / "noisebloom.json").read_text())
    assert "weight" not in meta["guide"] and model_guidance(meta) == DEFAULT_GUIDANCE
    assert not any(
        '"guidance"' in line for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    )


@pytest.mark.parametrize("weight", [-1, 200, "1.5", float("nan")])
def test_a_folder_with_an_impossible_weight_is_refused_by_name(tmp_path, weight):
    from core.errors import NoisebloomError
    from core.models.folder_checks import INFO_FIELDS

    class Doc:
        def refuse(self, name, value, expected):
            return NoisebloomError(f"{name}: {value!r}", fix=expected)

    with pytest.raises(NoisebloomError, match="guide.weight"):
        INFO_FIELDS["guide"].check(Doc(), "guide", {"trained_steps": 5, "weight": weight})
    assert INFO_FIELDS["guide"].check(Doc(), "guide", {"trained_steps": 5, "weight": 0}) is not None
