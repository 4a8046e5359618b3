"""Sampling: samplers over diffusers schedulers, a per-step callback, trajectory recording, branching.

- ``samplers``: the sampler names and how each builds its diffusers scheduler.
- ``loop``: one scheduler pass with the k-diffusion style ``StepInfo`` callback and cancellation.
- ``seeds``: per-image generators (image k of seed s is the same in any batch).
- ``trajectory``: every step's x_t and x0 as uint8 on disk.
- ``sample``: ``sample(model, SampleConfig, out_dir=..., callback=..., should_stop=...)`` and ``branch``.
- ``commands``: ``noisebloom sample``.

Importing this package is cheap: torch and diffusers load with the modules that need them.
"""
