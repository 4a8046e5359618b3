"""The model card: ``README.md`` in a model folder, in the Hugging Face model-card layout.

YAML front matter (``library_name: diffusers``, tags, ``pipeline_tag`` and the training facts),
then Markdown: what the model is, its training data and training, the sample grid
(``samples.png`` beside it), how to load it, autoguidance, and the memorised share from the last
health check. :func:`write_card` writes both files into the folder being saved (inside
:func:`core.models.folder.save_model_folder`'s atomic save); :func:`update_memorized_share`
rewrites the share's two lines in place when a health check finishes. Nothing here loads torch.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.fsutil import atomic_write_text
from core.models.shipped import load_lines
from core.words import count, format_duration

CARD_NAME = "README.md"
SAMPLES_NAME = "samples.png"

NOISEBLOOM_LOAD = "noisebloom sample {path} --out samples --steps 20"

# The memorised share's two lines, found again by these prefixes when a health check rewrites them.
SHARE_KEY = "memorized_share: "
SHARE_LINE = "- Memorised share (last health check): "

OBJECTIVES = {
    "eps": "DDPM noise prediction (ε)",
    "v": "v-prediction",
    "x0": "clean-image prediction (x0)",
    "flow": "flow matching (velocity = noise − x0)",
}
NETWORKS = {
    "unet": "a UNet (diffusers UNet2DModel)",
    "pixel-unet": "a pixel-unshuffled UNet",
    "dit": "a diffusion transformer (DiT)",
    "video": "a space-time video network",
}


@dataclass(frozen=True)
class CardFacts:
    """What a card says: the folder's ``noisebloom.json`` fields plus what the trainer knew."""

    preset: str = "custom"
    network: str = "unet"
    objective: str = "eps"
    schedule: str | None = None
    kind: str = "image"
    resolution: int = 32
    channels: int = 3
    frames: int | None = None
    fps: float | None = None
    trained_steps: int = 0
    fine_tuned: bool = False
    images: int | None = None
    """How many pictures (or clips) the model was trained on."""
    elapsed_s: float | None = None
    device: str | None = None
    guide_steps: int | None = None
    """The step the autoguidance guide (``guide/``) was kept at; None without a guide."""
    samples_step: int | None = None
    """The training step of the sample grid ``samples.png``; None without one."""
    memorized_share: float | None = None
    checked_samples: int | None = None
    """How many samples the last health check drew; None when there was none."""

    @classmethod
    def from_info(cls, meta: dict[str, Any], training: dict[str, Any] | None = None) -> CardFacts:
        """The facts of ``noisebloom.json``'s fields ``meta`` and the trainer's ``training`` ones
        (``images``, ``elapsed_s``, ``device``, ``samples_step``)."""
        training = training or {}
        guide = meta.get("guide")
        return cls(
            preset=str(meta.get("preset") or "custom"),
            network=str(meta.get("network") or "unet"),
            objective=str(meta.get("objective") or "eps"),
            schedule=meta.get("schedule"),
            kind=str(meta.get("kind") or "image"),
            resolution=int(meta.get("resolution") or 32),
            channels=int(meta.get("channels") or 3),
            frames=meta.get("frames"),
            fps=meta.get("fps"),
            trained_steps=int(meta.get("trained_steps") or 0),
            fine_tuned=bool(meta.get("parent")),
            images=training.get("images"),
            elapsed_s=training.get("elapsed_s"),
            device=training.get("device"),
            guide_steps=int(guide["trained_steps"]) if isinstance(guide, dict) else None,
            samples_step=training.get("samples_step"),
        )


def _yaml(value: Any) -> str:
    """A YAML scalar: JSON's spelling of numbers, strings and null is valid YAML."""
    if isinstance(value, float):
        return repr(round(value, 4))
    return json.dumps(value, ensure_ascii=False)


def share_text(share: float | None, samples: int | None) -> str:
    """The body's share, after :data:`SHARE_LINE`."""
    if samples is None:
        return "not checked yet"
    if share is None:
        return f"not measured ({count(samples, 'sample')}, no training pictures to compare with)"
    return (
        f"{share:.1%} of {count(samples, 'sample')} copy a training picture "
        "(nearest training picture under 1/3 of the second nearest)"
    )


def _share_lines(share: float | None, samples: int | None) -> tuple[str, str]:
    return SHARE_KEY + _yaml(None if share is None else float(share)), SHARE_LINE + share_text(share, samples)


def diffusers_lines(facts: CardFacts, path: str) -> str:
    """How plain diffusers loads and samples the folder: :func:`core.models.shipped.load_lines`
    (remote code only for Noisebloom's own networks, ``.frames`` for a clip model)."""
    return "import diffusers\n" + load_lines({"network": facts.network, "kind": facts.kind}, path).rstrip(
        "\n"
    )


def render_card(facts: CardFacts, path: str = ".") -> str:
    """The card's text; ``path`` is what the loading lines call the folder."""
    f = facts
    what = "clips" if f.kind == "clip" else "images"
    unit = "clip" if f.kind == "clip" else "picture"
    family = "flow-matching" if f.objective == "flow" else "diffusion"
    tags = ["noisebloom", "unconditional-image-generation", family, f"objective-{f.objective}"]
    if f.kind == "clip":
        tags.append("video")
    share_key, share_line = _share_lines(f.memorized_share, f.checked_samples)
    front = [
        "---",
        "library_name: diffusers",
        "pipeline_tag: unconditional-image-generation",
        "tags:",
        *(f"- {t}" for t in tags),
        f"preset: {_yaml(f.preset)}",
        f"objective: {_yaml(f.objective)}",
        f"resolution: {f.resolution}",
        f"training_images: {_yaml(f.images)}",
        f"training_steps: {f.trained_steps}",
        f"training_time_s: {_yaml(None if f.elapsed_s is None else float(f.elapsed_s))}",
        f"training_device: {_yaml(f.device)}",
        share_key,
        "---",
    ]
    colour = "grayscale" if f.channels == 1 else "colour" if f.channels == 3 else f"{f.channels}-channel"
    size = f"{f.resolution}×{f.resolution} px"
    if f.kind == "clip":
        size += f", {count(int(f.frames or 1), 'frame')}" + (f" at {f.fps:g} fps" if f.fps else "")
    data = count(int(f.images), unit) if f.images is not None else "not recorded"
    body = [
        f"# Noisebloom {f.preset} model",
        "",
        f"An unconditional {family} model made with Noisebloom: it draws "
        f"new {colour} {what} like the ones it was trained on, from noise. The network is "
        f"{NETWORKS.get(f.network, f.network)}"
        + (", fine-tuned from another Noisebloom model." if f.fine_tuned else ", trained from scratch."),
        "",
        "## Training data",
        "",
        f"- Size: {data}",
        f"- Resolution: {size}, {colour}",
        f"- Kind: {what}",
        "",
        "## Training",
        "",
        f"- Preset: {f.preset}",
        f"- Objective: {OBJECTIVES.get(f.objective, f.objective)}"
        + (f", {f.schedule} noise schedule" if f.schedule else ""),
        f"- Steps: {f.trained_steps:,}",
        f"- Time: {format_duration(f.elapsed_s) if f.elapsed_s is not None else 'not recorded'}",
        f"- Device: {f.device or 'not recorded'}",
        "",
        "## Samples",
        "",
    ]
    if f.samples_step is not None:
        body.append(f"![Samples at step {f.samples_step:,}]({SAMPLES_NAME})")
        body += ["", f"The training preview at step {f.samples_step:,}, one fixed seed per tile."]
    else:
        body.append("No sample grid was saved with this model.")
    body += [
        "",
        "## How to load it",
        "",
        "With Noisebloom (`MODEL_DIR` is this folder):",
        "",
        "```sh",
        NOISEBLOOM_LOAD.format(path=path),
        "```",
        "",
        "With plain diffusers:",
        "",
        "```python",
        diffusers_lines(f, path),
        "```",
        "",
        "## Autoguidance",
        "",
    ]
    if f.guide_steps is not None:
        body.append(
            f"`guide/` holds the same network from step {f.guide_steps:,}, less trained: Noisebloom "
            "steers each sample away from what that weaker copy would draw (autoguidance, Karras et al. "
            "2024); `--guidance 0` turns that off. Plain diffusers ignores `guide/` and samples the main "
            "network alone."
        )
    else:
        body.append("This folder has no guide network, so it samples without autoguidance.")
    body += ["", "## Health check", "", share_line, ""]
    return "\n".join(front + body)


def write_card(folder: str | Path, meta: dict[str, Any], training: dict[str, Any] | None = None) -> None:
    """Write ``README.md`` (and ``samples.png`` from ``training["samples_png"]``, PNG bytes) into
    ``folder``, the temporary folder of an atomic save: plain writes suffice there."""
    folder = Path(folder)
    training = dict(training or {})
    png = training.pop("samples_png", None)
    if png is None:
        training.pop("samples_step", None)
    else:
        (folder / SAMPLES_NAME).write_bytes(png)
    text = render_card(CardFacts.from_info(meta, training), path="MODEL_DIR")
    (folder / CARD_NAME).write_text(text, encoding="utf-8")


def update_memorized_share(folder: str | Path, share: float | None, samples: int) -> bool:
    """Rewrite the memorised-share lines of ``folder``'s card (atomically: a temporary file, then
    ``os.replace``). False, and nothing written, when the folder has no card of Noisebloom's (an old
    folder, a card written by hand or by another tool)."""
    path = Path(folder) / CARD_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    key, line = _share_lines(share, samples)
    new, n_key = re.subn(rf"^{re.escape(SHARE_KEY)}.*$", lambda _m: key, text, count=1, flags=re.M)
    new, n_line = re.subn(rf"^{re.escape(SHARE_LINE)}.*$", lambda _m: line, new, count=1, flags=re.M)
    if not (n_key and n_line):
        return False
    if new != text:
        atomic_write_text(path, new)
    return True
