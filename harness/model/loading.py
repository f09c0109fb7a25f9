"""Load YAML files into models; every failure becomes one `InputError` line naming the field.

`nodes[2].asn: Input should be less than or equal to 4294967295 (got 99999999999)`
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from harness.errors import InputError
from harness.model.sut import (
    SUT_FILE,
    SutProfile,
    SutValues,
    frr_choice,
    is_frr_path,
    template_environment,
)
from harness.model.topology import Topology

M = TypeVar("M", bound=BaseModel)


def field_path(loc: tuple[int | str, ...]) -> str:
    """('nodes', 2, 'asn') -> 'nodes[2].asn'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def describe_validation_error(source: Path, err: ValidationError) -> str:
    errors = err.errors(include_url=False)
    first = errors[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    path = field_path(tuple(first["loc"]))
    if first["loc"] or ":" not in message:
        text = f"{path}: {message}"
        value = first.get("input")
        if first["type"] != "missing" and not isinstance(value, dict | list):
            text += f" (got {value!r})"
    else:  # cross-field rules already start with their own path
        text = message
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{source}: {text}{more}"


# libyaml's parser where PyYAML has it (several times faster); the pure-Python one otherwise.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """SafeLoader that refuses a key given twice (YAML would silently keep the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml(path: Path) -> Any:
    try:
        if path.is_dir():
            raise InputError(f"{path}: is a directory, expected a YAML file")
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        return yaml.load(path.read_text(), Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise InputError(f"{path}{where}: not valid YAML: {exc.problem}") from None
    except (yaml.YAMLError, OSError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(f"{path}: cannot read: {type(exc).__name__}: {exc}") from None


def load_model(path: Path, model: type[M]) -> M:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise InputError(describe_validation_error(path, err)) from None


def load_topology(path: Path) -> Topology:
    return load_model(Path(path), Topology)


def load_sut(directory: Path, frr: str | None = None) -> SutProfile:
    """A SUT profile; `frr` (`--frr`) overrides the FRR its sut.yaml declares. A path in
    sut.yaml is relative to the profile."""
    directory = Path(directory)
    try:
        exists = directory.is_dir()
    except OSError as exc:
        raise InputError(f"--sut {directory}: cannot read: {exc}") from None
    if not exists:
        raise InputError(f"--sut {directory}: no such directory")
    values = load_model(directory / SUT_FILE, SutValues)
    field = ""
    if frr is not None:
        values, field = values.model_copy(update={"frr": frr_choice(frr)}), "--frr"
    elif is_frr_path(values.frr):
        tree = (directory / Path(values.frr).expanduser()).resolve()
        values = values.model_copy(update={"frr": str(tree)})
    return SutProfile(
        directory=directory,
        values=values,
        environment=template_environment(directory, values.templates),
        frr_field=field,
    )
