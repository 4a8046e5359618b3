"""Noisebloom's PySide6 front end. Talks to the engine process only through
``desktop/engine_client.py``; never imports torch (import-linter contract in pyproject.toml)."""
