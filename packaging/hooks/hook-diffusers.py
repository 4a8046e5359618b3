"""PyInstaller hook for diffusers: its lazily imported modules and the metadata it checks at import.

``import diffusers`` defines a ``_LazyModule``: ``diffusers.UNet2DModel`` or ``DDPMPipeline`` import
their modules only when first touched, and ``DiffusionPipeline.from_pretrained`` finds scheduler and
pipeline classes by the names in ``model_index.json`` / ``scheduler_config.json``. PyInstaller's
static analysis sees none of those imports, so they are listed here: every model, scheduler, hook,
loader and utility module, and the pipelines a Noisebloom model folder (or a small diffusers
unconditional model) can name. The hundreds of text-to-image pipelines, which need transformers, are
left out. ``dependency_versions_check`` and ``is_torch_available()`` read package metadata at import,
so that is copied too (recursively: torch, safetensors, huggingface_hub, numpy, ...).
The ``.py`` sources go in beside the bytecode (``pyz+py``) for TorchScript and ``inspect.getsource``.
"""

from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

module_collection_mode = "pyz+py"

PIPELINES = ("ddpm", "ddim", "dit", "consistency_models")  # class names a model_index.json here can hold
HELPERS = ("pipeline_utils", "pipeline_loading_utils", "free_init_utils", "free_noise_utils")
SUBPACKAGES = ("models", "schedulers", "utils", "hooks", "loaders", "quantizers", "guiders")


def _wanted(name: str) -> bool:
    parts = name.split(".")
    return len(parts) < 3 or parts[2] in PIPELINES + HELPERS


hiddenimports = collect_submodules("diffusers.pipelines", filter=_wanted)
for sub in SUBPACKAGES:
    hiddenimports += collect_submodules(f"diffusers.{sub}")
hiddenimports += [
    "diffusers.callbacks",
    "diffusers.configuration_utils",
    "diffusers.dependency_versions_check",
    "diffusers.dependency_versions_table",
    "diffusers.image_processor",
    "diffusers.optimization",
    "diffusers.training_utils",
    "diffusers.video_processor",
]
datas = collect_data_files("diffusers") + copy_metadata("diffusers", recursive=True)
