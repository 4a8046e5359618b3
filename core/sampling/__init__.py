"""Sampling: samplers over diffusers schedulers, a per-step callback, trajectory recording, branching.

- ``samplers``: the diffusers scheduler of each sampler in :mod:`core.catalogue.samplers` (which
  holds the samplers' facts, defaults and bounds).
- ``loop``: one scheduler pass with the k-diffusion style ``StepInfo`` callback and cancellation;
  it reports the steps and network evaluations it ran.
- ``seeds``: per-image generators (image k of seed s is the same in any batch).
- ``trajectory``: every step's x_t and x0 as uint8 on disk, and the torch-free reader.
- ``sample``: ``sample(model, SampleConfig, out_dir=..., callback=..., should_stop=...)`` and ``branch``.
- ``commands``: ``noisebloom sample``.

Importing this package is cheap: torch and diffusers load with the modules that need them.
"""
