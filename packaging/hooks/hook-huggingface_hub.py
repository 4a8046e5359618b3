"""PyInstaller hook for huggingface_hub: ``huggingface_hub/__init__.py`` loads its API lazily
(``__getattr__`` over a table of names), which static analysis cannot follow. Noisebloom never
downloads anything (``HF_HUB_OFFLINE=1``), but diffusers imports these names when it loads a folder.
"""

from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules(
    "huggingface_hub",
    filter=lambda name: not name.startswith(("huggingface_hub.cli", "huggingface_hub.commands")),
)
datas = copy_metadata("huggingface_hub")
