"""Frozen, versioned configuration dataclasses (the diffusers ``register_to_config`` idea, in plain
dataclasses).

A config subclass is a ``@dataclass(frozen=True)`` inheriting :class:`Config`. It gets
``to_dict`` / ``from_dict`` / ``save`` / ``load`` and a ``version``. ``from_dict`` refuses unknown
fields and wrong types with a :class:`~core.errors.ConfigError` that names the field and the fix;
subclasses add range checks in ``validate()``, which runs on construction.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from core.errors import ConfigError
from core.fsutil import atomic_write_text

C = TypeVar("C", bound="Config")


def _type_ok(value: Any, annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if origin is typing.Literal:
        return value in typing.get_args(annotation)
    if origin in (tuple, list):
        return isinstance(value, (tuple, list))
    if origin is dict:
        return isinstance(value, dict)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True


@dataclasses.dataclass(frozen=True)
class Config:
    """Base for every configuration. Subclasses set ``kind`` and ``VERSION``."""

    VERSION: ClassVar[int] = 1
    kind: ClassVar[str] = "config"

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not _type_ok(value, hints[f.name]):
                raise ConfigError(
                    f"{self.kind}.{f.name}: {value!r} is not a valid value",
                    fix=f"use a value of type {_describe(hints[f.name])}",
                )
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(
                    f"{self.kind}.{f.name}: {value!r} is not a finite number", fix="use a finite number"
                )
            if isinstance(value, list):  # keep frozen configs hashable and immutable
                object.__setattr__(self, f.name, tuple(value))
        self.validate()

    def validate(self) -> None:
        """Range checks; raise ConfigError naming the field and the fix."""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "version": self.VERSION}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            d[f.name] = list(v) if isinstance(v, tuple) else v
        return d

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        if not isinstance(data, dict):
            raise ConfigError(f"{cls.kind}: expected a JSON object, got {type(data).__name__}")
        data = dict(data)
        kind = data.pop("kind", cls.kind)
        version = data.pop("version", cls.VERSION)
        if kind != cls.kind:
            raise ConfigError(
                f"{cls.kind}: this file holds a '{kind}' config", fix=f"pass a {cls.kind} config"
            )
        if not isinstance(version, int) or version > cls.VERSION:
            raise ConfigError(
                f"{cls.kind}.version: {version!r} is newer than this Noisebloom understands ({cls.VERSION})",
                fix="update Noisebloom",
            )
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(
                f"{cls.kind}: unknown field '{unknown[0]}'",
                fix=f"remove it; known fields are {', '.join(sorted(names))}",
            )
        return cls(**data)

    def replace(self: C, **changes: Any) -> C:
        return dataclasses.replace(self, **changes)

    def save(self, path: str | Path) -> None:
        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls: type[C], path: str | Path) -> C:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: file not found") from None
        except json.JSONDecodeError as e:
            raise ConfigError(
                f"{path}: not valid JSON (line {e.lineno})", fix="fix or delete the file"
            ) from None
        return cls.from_dict(data)


def _describe(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " or ".join(repr(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):  # e.g. Literal["a", "b"] | None: 'a' or 'b' or None
        return " or ".join(_describe(a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))
