"""The torch-free catalogue: names, defaults and bounds that the engine and the window both read.

- ``samplers``: each sampler's facts (family, title, order, VE scaling, whether it can continue
  from a step), the default sampler and step count, the step and seed bounds.
- ``training``: the presets' names, kinds and descriptions (the builders stay in
  :mod:`core.models.presets`), objectives, devices, the training defaults and bounds.

Nothing here imports torch, diffusers or accelerate: ``desktop/`` imports it instead of keeping
copies (``tests/test_architecture.py`` proves the window's process never loads torch).
"""
