"""The model card: its text and front matter, the card and grid a training run saves, the health
check's memorised share written into it, and a failed save that leaves neither card nor folder."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from core.data.prepared import PreparedDataset
from core.models import card as card_mod
from core.models import folder as folder_mod
from core.models.card import (
    CARD_NAME,
    SAMPLES_NAME,
    CardFacts,
    render_card,
    update_memorized_share,
)
from core.models.folder import load_model_folder, save_model_folder
from core.models.presets import build
from core.training.config import TrainConfig
from core.training.trainer import train


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    head, _, _ = text[4:].partition("\n---\n")
    return yaml.safe_load(head)


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return build("unet-tiny", 1, 16).eval()


def test_card_front_matter_is_yaml_with_the_facts_and_the_body_names_them():
    facts = CardFacts(
        preset="unet-tiny", objective="flow", resolution=16, channels=1, trained_steps=1234, images=24,
        elapsed_s=192.4, device="cuda (NVIDIA H200)", guide_steps=300, samples_step=1200,
    )  # fmt: skip
    text = render_card(facts, path="runs/a/model")
    meta = _front_matter(text)
    assert meta["library_name"] == "diffusers"
    assert meta["pipeline_tag"] == "unconditional-image-generation"
    assert meta["tags"] == ["noisebloom", "unconditional-image-generation", "flow-matching", "objective-flow"]
    assert meta["training_images"] == 24 and meta["resolution"] == 16 and meta["training_steps"] == 1234
    assert meta["training_time_s"] == 192.4 and meta["training_device"] == "cuda (NVIDIA H200)"
    assert meta["memorized_share"] is None
    assert "- Size: 24 pictures" in text and "- Resolution: 16×16 px, grayscale" in text
    assert "- Steps: 1,234" in text and "- Time: 3 min 12 s" in text and "- Objective: flow matching" in text
    assert f"![Samples at step 1,200]({SAMPLES_NAME})" in text
    assert "noisebloom sample runs/a/model --out samples --steps 20" in text
    # a diffusers UNet: stock classes, no remote code; Noisebloom's own networks ship theirs
    assert "import diffusers\npipe = diffusers.DiffusionPipeline.from_pretrained('runs/a/model')\n" in text
    pixel = render_card(CardFacts(preset="pixel-small", network="pixel-unet"), path="m")
    assert "from_pretrained('m', trust_remote_code=True)\nimages = pipe(" in pixel
    clip = render_card(CardFacts(preset="clip-tiny", network="video", kind="clip"), path="m")
    assert "frames = pipe(batch_size=4, num_inference_steps=50).frames" in clip
    assert "`guide/` holds the same network from step 300" in text and "Plain diffusers ignores" in text
    assert "- Memorised share (last health check): not checked yet" in text


def test_card_without_a_grid_or_guide_says_so_and_a_clip_model_is_tagged_video():
    text = render_card(CardFacts(kind="clip", frames=8, fps=12.0, objective="eps", schedule="cosine"))
    assert "No sample grid was saved" in text and SAMPLES_NAME not in text
    assert "no guide network" in text and "8 frames at 12 fps" in text and "cosine noise schedule" in text
    assert "- Size: not recorded" in text and "- Device: not recorded" in text
    assert _front_matter(text)["tags"][-2:] == ["objective-eps", "video"]


def test_a_trained_model_folder_has_a_card_with_its_facts_and_a_grid_that_decodes(tmp_path):
    rng = np.random.default_rng(0)
    data = PreparedDataset.from_array((rng.random((12, 16, 16, 1)) * 255).astype(np.uint8))
    config = TrainConfig(
        preset="unet-tiny", batch_size=4, max_steps=2, max_minutes=None, device="cpu", preview_every=2,
        preview_seeds=(0, 1, 2), preview_steps=2, val_every=0, checkpoint_every=0, guide_at=0.5,
    )  # fmt: skip
    result = train(config, data, tmp_path / "run")
    model_dir = result.model_dir
    text = (model_dir / CARD_NAME).read_text(encoding="utf-8")
    meta = _front_matter(text)
    assert meta["training_images"] == 12 and meta["training_steps"] == 2 and meta["resolution"] == 16
    assert meta["training_device"] == "cpu" and 0 < meta["training_time_s"] < 600
    assert meta["preset"] == "unet-tiny" and meta["objective"] == config.objective
    assert "- Size: 12 pictures" in text and "`guide/` holds the same network from step 1" in text
    grid = Image.open(io.BytesIO((model_dir / SAMPLES_NAME).read_bytes()))
    grid.load()
    assert grid.size == (3 * 16, 16)  # the final preview: three seeds in one row
    assert (model_dir / SAMPLES_NAME).read_bytes() == (
        tmp_path / "run" / "samples" / "step_0000002.png"
    ).read_bytes()
    assert "![Samples at step 2](samples.png)" in text
    assert load_model_folder(model_dir).info["trained_steps"] == 2  # the card changes nothing loaded
    assert not list(tmp_path.glob("**/.*.tmp")) and not list(tmp_path.glob(CARD_NAME))


def test_the_health_check_rewrites_only_the_memorised_share(tmp_path):
    save_model_folder(_net(), "eps", {"preset": "unet-tiny", "trained_steps": 5}, tmp_path / "m")
    card = tmp_path / "m" / CARD_NAME
    before = card.read_text(encoding="utf-8")
    assert update_memorized_share(tmp_path / "m", 0.125, 32)
    after = card.read_text(encoding="utf-8")
    assert _front_matter(after)["memorized_share"] == 0.125
    assert "- Memorised share (last health check): 12.5% of 32 samples copy a training picture" in after
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert len(changed) == 2  # the front-matter key and the body line, nothing else
    assert update_memorized_share(tmp_path / "m", None, 4)
    assert "not measured (4 samples" in card.read_text(encoding="utf-8")
    assert sorted(p.name for p in (tmp_path / "m").iterdir() if p.name.startswith(".")) == []


def test_a_folder_without_our_card_keeps_loading_and_the_health_check_leaves_it_alone(tmp_path):
    save_model_folder(_net(), "eps", {"preset": "unet-tiny"}, tmp_path / "old")
    (tmp_path / "old" / CARD_NAME).unlink()
    (tmp_path / "old" / SAMPLES_NAME).unlink(missing_ok=True)
    assert load_model_folder(tmp_path / "old").info["preset"] == "unet-tiny"
    assert not update_memorized_share(tmp_path / "old", 0.5, 8)
    assert not (tmp_path / "old" / CARD_NAME).exists()
    foreign = "# Someone's own card\n\nmemorized_share: keep me\n"
    (tmp_path / "old" / CARD_NAME).write_text(foreign, encoding="utf-8")
    assert not update_memorized_share(tmp_path / "old", 0.5, 8)
    assert (tmp_path / "old" / CARD_NAME).read_text(encoding="utf-8") == foreign


def test_a_save_that_fails_while_writing_the_card_leaves_no_card_and_no_half_folder(tmp_path, monkeypatch):
    real = card_mod.write_card

    def fails_midway(folder, meta, training=None):
        real(folder, meta, training)
        assert (folder / CARD_NAME).is_file()  # the card was in the temporary folder
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(folder_mod, "write_card", fails_midway)
    with pytest.raises(OSError):
        save_model_folder(_net(), "eps", {"preset": "unet-tiny"}, tmp_path / "new")
    assert list(tmp_path.iterdir()) == []  # no folder, no card, no temporary folder

    monkeypatch.setattr(folder_mod, "write_card", real)
    save_model_folder(_net(), "eps", {"preset": "unet-tiny", "trained_steps": 1}, tmp_path / "m")
    monkeypatch.setattr(folder_mod, "write_card", fails_midway)
    with pytest.raises(OSError):
        save_model_folder(_net(), "eps", {"preset": "unet-tiny", "trained_steps": 2}, tmp_path / "m")
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # the old folder, whole, with its own card
    assert _front_matter((tmp_path / "m" / CARD_NAME).read_text(encoding="utf-8"))["training_steps"] == 1
    assert load_model_folder(tmp_path / "m").info["trained_steps"] == 1
