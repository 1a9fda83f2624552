"""Loading validated configuration (pydantic models) from YAML, with errors people can act on."""

from __future__ import annotations

import hashlib
import json
import reprlib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

#: Most YAML nodes a config may expand to, aliases counted at every use. Real configs have a
#: few hundred; a "billion laughs" of nested anchors expands a 1 KB file to 10^8 and more,
#: which validating or printing would take minutes (or all memory) to walk.
MAX_CONFIG_NODES = 100_000
#: Most characters of an offending value that an error message quotes.
MAX_INPUT_REPR = 200
#: Most problems listed in one error message; the rest are counted.
MAX_ERROR_LINES = 20


def _input_repr() -> reprlib.Repr:
    """A repr that looks at a bounded part of a value (Python 3.11's Repr takes no kwargs)."""
    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict, r.maxset = 3, 8, 8, 8, 8
    r.maxstring = r.maxother = MAX_INPUT_REPR
    return r


_INPUT_REPR = _input_repr()


class ConfigError(ValueError):
    """A configuration file is unreadable, or a key or value in it is not allowed."""


class _TooManyNodes(yaml.YAMLError):
    """Raised while composing: the document expands past the node budget."""


def _expanded_size(node: yaml.Node, sizes: dict[int, int], budget: int) -> int:
    """Nodes in ``node`` with every alias expanded, computed once per distinct node.

    An alias is the very node object of its anchor, so memoising by identity keeps this
    linear in the file's size while the total counts each alias at every use. Raises
    _TooManyNodes as soon as the running total passes ``budget``."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    else:
        children = []
    total = 1
    for child in children:
        total += _expanded_size(child, sizes, budget)
        if total > budget:
            raise _TooManyNodes(f"more than {budget:,} nodes")
    sizes[id(node)] = total
    return total


class BoundedSafeLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a document expanding past ``max_nodes`` nodes.

    The check runs on the composed node graph, before any Python object is built, so an
    alias bomb costs a walk over the file's distinct nodes, not over its expansion."""

    max_nodes = MAX_CONFIG_NODES

    def compose_document(self) -> yaml.Node | None:
        node = super().compose_document()
        if node is not None:
            _expanded_size(node, {}, self.max_nodes)
        return node


def safe_load_bounded(text: str, max_nodes: int = MAX_CONFIG_NODES) -> Any:
    """Parse YAML like yaml.safe_load, refusing documents over ``max_nodes`` expanded nodes."""
    loader_cls = type("_Loader", (BoundedSafeLoader,), {"max_nodes": max_nodes})
    loader = loader_cls(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _clip(text: str, limit: int = MAX_INPUT_REPR) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short_repr(value: Any) -> str:
    """A repr of ``value`` cut to about MAX_INPUT_REPR characters, cheap even for huge values."""
    return _clip(_INPUT_REPR.repr(value))


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
    """One line per problem: the dotted key, what is wrong, and what is allowed.

    At most MAX_ERROR_LINES problems are listed and each quoted value is cut to
    MAX_INPUT_REPR characters, so a huge or repetitive config cannot flood the terminal."""
    lines = [f"invalid configuration in {source}:"]
    errors = err.errors(include_url=False)
    for e in errors[:MAX_ERROR_LINES]:
        loc = tuple(e["loc"])
        key = _clip(".".join(str(p) for p in loc) or "(top level)")
        if e["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc)
            lines.append(f"  {key}: unknown key; allowed keys here: {', '.join(allowed)}")
        else:
            lines.append(f"  {key}: {_clip(e['msg'])} (got {_short_repr(e.get('input'))})")
    if len(errors) > MAX_ERROR_LINES:
        lines.append(f"  ... and {len(errors) - MAX_ERROR_LINES} more problems; fix these first")
    return "\n".join(lines)


def load_model(model: type[M], path: str | Path) -> M:
    """Read YAML at ``path`` and validate it as ``model``; raise ConfigError on any problem."""
    return validate_model(model, read_yaml(path), str(path))


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML config file within the node budget; raise ConfigError on any problem."""
    path = Path(path)
    try:
        raw = safe_load_bounded(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except _TooManyNodes:
        raise ConfigError(
            f"config {path} expands to more than {MAX_CONFIG_NODES:,} nodes (YAML aliases?); "
            "a config is refused before it is built when its anchors (&name) and aliases "
            "(*name) multiply it this much: write the values out or use fewer nested aliases"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"config {path} nests lists or mappings too deeply to read; "
                          "flatten it") from None
    return raw or {}


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
