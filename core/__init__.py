"""Noisebloom's engine: everything that runs headless (data, diffusion, training, sampling, export).

Nothing under ``core`` imports PySide6 or ``desktop``; the import-linter contracts in
``pyproject.toml`` enforce it. Importing ``core`` itself is cheap: heavy libraries (torch,
diffusers) are imported by the modules that need them, never here.
"""

from __future__ import annotations

import os

__version__ = "0.1.0"

# Nothing in Noisebloom downloads weights or data at run time (docs/architecture.md, "Ground
# rules"). Set before any Hugging Face library is imported, so a stray hub lookup fails fast
# instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DIFFUSERS_NO_ADVISORY_WARNINGS", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
