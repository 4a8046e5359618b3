"""Export: recorded trajectories, sampled clips and training timelapses out as MP4 / WebM / GIF.

- ``trajectory``: ``export_trajectory(trajectory_dir, out_path, show=, fps=, scale=, indices=)``.
- ``clips``: ``export_clips(samples_dir, fmt)``, ``export_clip_denoising(trajectory_dir, out_path)``.
- ``timelapse``: ``export_timelapse(run_dir, out_path)``.
- ``commands``: ``noisebloom export``.

Reads trajectories through :mod:`core.sampling.trajectory` (numpy only) and writes through
:mod:`core.media` (PNG, grid, video writers); sampling never imports export.
"""
