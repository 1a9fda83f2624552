"""Loading validated configuration (pydantic models) from YAML, with errors people can act on."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file is unreadable, or a key or value in it is not allowed."""


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names allowed at ``loc`` (the parent of an unknown key), best effort."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        for candidate in (ann, *getattr(ann, "__args__", ())):
            for inner in (candidate, *getattr(candidate, "__args__", ())):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    current = inner
                    break
    return sorted(getattr(current, "model_fields", {}))


def format_validation_error(model: type[BaseModel], err: ValidationError, source: str) -> str:
    """One line per problem: the dotted key, what is wrong, and what is allowed."""
    lines = [f"invalid configuration in {source}:"]
    for e in err.errors():
        loc = tuple(e["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        if e["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc)
            lines.append(f"  {key}: unknown key; allowed keys here: {', '.join(allowed)}")
        else:
            lines.append(f"  {key}: {e['msg']} (got {e.get('input')!r})")
    return "\n".join(lines)


def load_model(model: type[M], path: str | Path) -> M:
    """Read YAML at ``path`` and validate it as ``model``; raise ConfigError on any problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return validate_model(model, raw or {}, str(path))


def validate_model(model: type[M], raw: Any, source: str = "<config>") -> M:
    """Validate already-parsed data as ``model``."""
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(format_validation_error(model, err, source)) from None


def config_hash(model: BaseModel) -> str:
    """A stable hash of a validated config, recorded in each version's manifest."""
    blob = json.dumps(model.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()
