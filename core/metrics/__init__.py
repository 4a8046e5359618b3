"""core.metrics: sample quality and memorisation measures, for the GUI, the CLI and the benchmarks.

- :mod:`~core.metrics.swd`: sliced Wasserstein distance on Laplacian-pyramid patches (ProGAN).
- :mod:`~core.metrics.frechet`: Frechet distance and KID over any feature extractor.
- :mod:`~core.metrics.features`: the ``FeatureExtractor`` protocol and a fixed random-conv default.
- :mod:`~core.metrics.classifier`: a small classifier (features, confident share, class entropy).
- :mod:`~core.metrics.memorization`: nearest training images and Gu et al.'s ratio test.
- :mod:`~core.metrics.validation`: the held-out denoising loss by timestep band that the trainer logs.
- :mod:`~core.metrics.heldout`: that loss for a saved model, beside its baseline.
- :mod:`~core.metrics.metrics_log`: a run's ``metrics.jsonl`` (the trainer writes it, reports read it).
- :mod:`~core.metrics.verdict`: learning / copying / not learning, by a documented rule.
- :mod:`~core.metrics.evaluate`: all of it for a model and a dataset (``noisebloom evaluate``).

Nothing here downloads weights. Import the submodules; this package imports nothing heavy.
"""
