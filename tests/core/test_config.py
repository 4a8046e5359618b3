from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from core.config import Config
from core.errors import ConfigError


@dataclass(frozen=True)
class Toy(Config):
    kind = "toy"
    size: int = 32
    mode: Literal["a", "b"] = "a"
    rate: float = 0.5
    tags: tuple[str, ...] = ()

    def validate(self) -> None:
        if self.size < 1:
            raise ConfigError(f"toy.size: {self.size} is too small", fix="use 1 or more")


def test_round_trip_through_json_file(tmp_path):
    c = Toy(size=8, mode="b", rate=1, tags=["x", "y"])
    c.save(tmp_path / "c.json")
    assert Toy.load(tmp_path / "c.json") == c
    assert c.to_dict()["version"] == 1 and c.to_dict()["kind"] == "toy"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"size": "big"}, "toy.size"),
        ({"mode": "c"}, "toy.mode"),
        ({"colour": 1}, "unknown field 'colour'"),
        ({"size": 0}, "toy.size: 0 is too small; use 1 or more"),
        ({"size": True}, "toy.size"),
        ({"kind": "train"}, "holds a 'train' config"),
        ({"version": 99}, "newer than this Noisebloom"),
    ],
)
def test_bad_values_name_the_field(data, needle):
    with pytest.raises(ConfigError) as e:
        Toy.from_dict(data)
    assert needle in str(e.value)
    assert "\n" not in str(e.value)
