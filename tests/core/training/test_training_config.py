"""Bad training configurations fail with one line naming the field and the fix."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.training.config import TrainConfig


@pytest.mark.parametrize(
    ("changes", "field", "fix"),
    [
        ({"resolution": 7}, "train.resolution: 7 is not a multiple of 8", "use 16..256 in steps of 8"),
        ({"resolution": 512}, "train.resolution: 512 is outside 16..256", "use 16..256 in steps of 8"),
        ({"batch_size": 0}, "train.batch_size: 0 is outside 1..4096", "use 1 to 4096 (default 64)"),
        ({"batch_size": 10**6}, "train.batch_size: 1000000 is outside 1..4096", "use 1 to 4096 (default 64)"),
        (
            {"max_minutes": float("nan")},
            "train.max_minutes: nan is not a finite number",
            "use a finite number",
        ),
        ({"seed": -1}, "train.seed: -1 is out of range", "use 0 to 9223372036854775807"),
        ({"preset": "unet-huge"}, "train.preset: unknown preset 'unet-huge'", "unet-cpu"),
        ({"lr": 0.0}, "train.lr: 0.0 is outside (0, 1)", "1e-3"),
        ({"max_steps": None, "max_minutes": None}, "train.max_steps: no budget is set", "max_minutes"),
        ({"objective": "score"}, "train.objective: 'score' is not a valid value", "'flow'"),
        ({"ema_decay": 1.0}, "train.ema_decay: 1.0 is outside [0, 1)", "0.999"),
        ({"adam_beta2": 1.0}, "train.adam_beta2: 1.0 is outside (0, 1)", "0.99"),
        ({"ema_power": 0.0}, "train.ema_power: 0.0 is outside (0, 1]", "2/3"),
        ({"optimizer": "sgd"}, "train.optimizer: 'sgd' is not a valid value", "'muon'"),
        ({"memorization_every": -1}, "train.memorization_every: -1 is negative", "use 0 or more"),
    ],
)
def test_bad_config_gives_one_line_error_with_field_and_fix(changes, field, fix):
    with pytest.raises(ConfigError) as e:
        TrainConfig(**changes)
    message = str(e.value)
    assert message.startswith(field), message
    assert fix in message and "\n" not in message


def test_config_round_trips_through_json(tmp_path):
    c = TrainConfig(preset="unet-tiny", resolution=24, max_steps=5, preview_seeds=(3, 4))
    c.save(tmp_path / "config.json")
    assert TrainConfig.load(tmp_path / "config.json") == c


def test_default_learning_rate_is_lower_for_fine_tuning():
    assert TrainConfig().peak_lr() == pytest.approx(2e-3)  # pixel-small's rate (issue 8's benchmarks)
    assert TrainConfig(init_from="some/model").peak_lr() == pytest.approx(2e-4)
    assert TrainConfig(preset="unet-cpu").peak_lr() == pytest.approx(1e-3)
    assert TrainConfig(init_from="some/model", lr=5e-4).peak_lr() == 5e-4


def test_the_optimizer_is_the_presets_unless_set():
    assert TrainConfig().optimizer is None and TrainConfig().optimizer_kind() == "muon"  # pixel-small
    assert TrainConfig(preset="unet-cpu").optimizer_kind() == "adamw"
    assert TrainConfig(optimizer="adamw").optimizer_kind() == "adamw"
    assert TrainConfig(preset="unet-tiny", optimizer="muon").optimizer_kind() == "muon"
    assert (
        TrainConfig().ema_power_value() == 0.85 and TrainConfig(preset="unet-cpu").ema_power_value() == 2 / 3
    )
    assert TrainConfig(ema_power=0.75).ema_power_value() == 0.75
