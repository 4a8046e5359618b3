"""Test harness: Qt offscreen, no network, and a throw-away workspace.

Set before any QApplication or Hugging Face import exists, so every test runs the same on a
machine with no display and no network (CI).
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["NOISEBLOOM_HOME"] = tempfile.mkdtemp(prefix="noisebloom-test-home-")
