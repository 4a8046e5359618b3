"""The training catalogue is the one table of presets, defaults and bounds: the builders, the
trainer's config and the window all read it."""

from __future__ import annotations

import subprocess
import sys

from core.catalogue import training as C
from core.training.config import TrainConfig


def test_every_catalogue_preset_has_a_builder_with_the_same_facts():
    from core.models.presets import BUILDERS, PRESETS

    assert set(BUILDERS) == set(C.PRESETS)
    for name, info in C.PRESETS.items():
        built = PRESETS[name]
        assert (built.network, built.data_kind, built.default_lr, built.default_optimizer) == (
            info.network,
            info.data_kind,
            info.default_lr,
            info.default_optimizer,
        )


def test_the_trainer_defaults_are_the_catalogue_and_each_kind_has_an_offered_default():
    config = TrainConfig()
    assert (config.preset, config.objective, config.schedule) == (
        C.DEFAULT_PRESET,
        C.DEFAULT_OBJECTIVE,
        C.DEFAULT_SCHEDULE,
    )
    assert (config.batch_size, config.max_minutes, config.device) == (
        C.DEFAULT_BATCH_SIZE,
        C.DEFAULT_MINUTES,
        "auto",
    )
    assert C.DEFAULT_PRESET in C.presets_for("image") and C.DEFAULT_CLIP_PRESET in C.presets_for("clip")
    assert "dit-tiny" not in C.presets_for("image")  # a test network, not offered


def test_the_catalogue_loads_no_torch():
    code = "import sys, core.catalogue.training, core.training.config; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
