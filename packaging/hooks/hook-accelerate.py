"""PyInstaller hook for accelerate: its submodules (imported by name in places) and its metadata.

``accelerate`` compares package versions through ``importlib.metadata`` (``is_torch_version`` and
friends), so the metadata of accelerate and everything it requires (torch included) is copied.
Its test utilities are left out (``accelerate.commands`` stays: ``accelerate.utils`` imports it).
"""

from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules(
    "accelerate", filter=lambda name: not name.startswith("accelerate.test_utils")
)
datas = copy_metadata("accelerate", recursive=True)
