"""Pixels and files: the leaf below sampling, export and training.

- ``pixels``: ``to_uint8(array)``: model range [-1, 1], channels first -> uint8, channels last.
- ``png``: ``write_png(path, image_u8, params)`` / ``read_png_params(path)`` / ``png_bytes``.
- ``grid``: ``make_grid(images, nrow)``, ``panel(xt, x0, show)``, ``filmstrip(clip)``.
- ``video``: ``write_video(frames_u8 (T,H,W,C), path, fps, hold_last_s=, scale=, resample=)``.

Imports numpy, Pillow and imageio-ffmpeg only (and :mod:`core.errors`, :mod:`core.fsutil`), never
torch: a torch caller converts its tensor with ``.cpu().numpy()`` first
(:func:`core.sampling.trajectory.tensor_to_uint8`). This ``__init__`` imports nothing, so importing
one module loads only what it needs.
"""
