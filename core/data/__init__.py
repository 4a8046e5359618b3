"""core.data: a dropped folder -> a validated, cached training set (images and video clips).

- ``settings``: :class:`DatasetSettings` (resolution, crop, flip, clip frames/stride, kind rule, ...)
- ``scan``: :func:`scan_folder` — find, validate, preprocess and cache; the engine runs it as a job
- ``result``: :class:`ScanResult` — accepted, rejected with reasons, duplicates, statistics
- ``discover`` / ``decode`` / ``preprocess``: the walk, the per-file worker, the pixel operations
- ``prepared`` / ``torch_data``: the cache on disk and the torch Dataset / DataLoader over it
- ``commands``: ``noisebloom dataset scan | show | list``

Nothing is imported here, so ``import core.data`` stays cheap.
"""
