"""Export: PNGs with their sampling parameters, grids, and MP4 / WebM / GIF writers.

- ``png``: ``write_png(path, image_u8, params)`` / ``read_png_params(path)``.
- ``grid``: ``make_grid(images, nrow)``.
- ``video``: ``write_video(frames_u8 (T,H,W,C), path, fps, hold_last_s=, scale=, resample=)``.
- ``trajectory``: ``export_trajectory(trajectory_dir, out_path, show=, fps=, scale=, indices=)``.
- ``commands``: ``noisebloom export``.
"""
