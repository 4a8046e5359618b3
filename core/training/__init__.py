"""Training: ``TrainConfig``, the trainer on HF accelerate (EMA, checkpoints, exact resume,
fine-tune, previews, held-out losses) and ``noisebloom train``.

Public API: :class:`core.training.config.TrainConfig`, :func:`core.training.trainer.train`,
:class:`core.training.trainer.TrainResult`, :func:`core.training.trainer.adopt_parent`.
Imports nothing heavy here; import the submodules.
"""
