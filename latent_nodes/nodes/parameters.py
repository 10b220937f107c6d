"""ROS parameters from the config schema: declared with the field's help text, read back into the dataclass.

A node never spells out its parameters by hand. It names a section of ``latent_nodes.config`` (and the
fields it uses); each field becomes a parameter of the same name, its ``help`` becomes the descriptor's
description (what ``ros2 param describe`` shows), what it accepts the constraint text. Every value goes
through the schema's one check (``latent_nodes.config.validate_section``): at start-up (an invalid value
is a ``ConfigError``, which the runner turns into one "cannot start" line) and on every runtime change
(refused with the same reason). Parameters are read-only unless a node lists them as runtime-changeable.
Parameters the node never declares (a misspelt name in a parameter file) are refused too
(``refuse_undeclared``), and ``check_parameters_file`` checks a parameter file before any node starts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.exceptions import InvalidParameterTypeException, ParameterUninitializedException
from rclpy.node import Node
from rclpy.parameter import Parameter

from latent_nodes.config import (
    CameraConfig,
    ConfigError,
    InferenceConfig,
    NodesConfig,
    SimConfig,
    check_field,
    did_you_mean,
    expected,
    field_default,
    schema_field,
    show,
    validate_section,
    yaml_problem,
)

# Where each schema section lives among a node's parameters: its own settings at the top, the
# simulator's, the search's and the camera's under ``sim.``, ``inference.`` and ``camera.`` (nested mappings in
# a parameter file).
PARAMETER_SECTIONS: dict[str, type] = {"": NodesConfig, "sim.": SimConfig, "inference.": InferenceConfig,
                                        "camera.": CameraConfig}
# Parameters every rclpy node declares itself.
BUILTIN_PARAMETERS = {"use_sim_time": bool, "start_type_description_service": bool}

# What an empty-list parameter (declared as a double array: nothing to infer a type from) also needs.
DOUBLES = ", written with a decimal point (0.5, 1.0): a ROS double array"

# A check for a runtime change: returns an error message, or None to accept the value.
Validator = Callable[[Any], "str | None"]


def _where(prefix: str) -> str:
    """How messages name a parameter: ``parameter inference.steps``."""
    return f"parameter {prefix}"


def _default(f: dataclasses.Field, defaults: Any = None) -> Any:
    """The value a parameter starts from: ``defaults``' field (e.g. a model's own settings) or the schema's."""
    if defaults is not None:
        return getattr(defaults, f.name)
    return field_default(f)


def _fields(section_cls: type, only: Iterable[str] | None) -> list[dataclasses.Field]:
    fields = dataclasses.fields(section_cls)
    if only is None:
        return list(fields)
    known = {f.name for f in fields}
    unknown = sorted(set(only) - known)
    if unknown:
        raise ValueError(f"{section_cls.__name__} has no fields {unknown}")
    return [f for f in fields if f.name in set(only)]


def declare_section(node: Node, section_cls: type, only: Iterable[str] | None = None, prefix: str = "",
                    dynamic: Iterable[str] = (), validators: dict[str, Validator] | None = None,
                    defaults: Any = None) -> Any:
    """Declare one parameter per field of ``section_cls`` and return the section filled from them.

    ``prefix`` namespaces the names (``"sim."`` gives ``sim.physics_dt``, a nested mapping in YAML).
    Fields in ``dynamic`` may change at run time; the returned dataclass is updated in place when they do,
    after the schema and ``validators`` accepted the new value. ``defaults`` (an instance of
    ``section_cls``) replaces the schema's defaults, e.g. with the settings a model was trained with.
    Raises ``ConfigError`` for a value the schema refuses.
    """
    dynamic = set(dynamic)
    validators = dict(validators or {})
    fields = _fields(section_cls, only)
    for f in fields:
        default = _default(f, defaults)
        empty_list = isinstance(default, list) and not default
        descriptor = ParameterDescriptor(
            description=f.metadata.get("help", ""),
            read_only=f.name not in dynamic,
            additional_constraints=expected(f),
            # Any type is let in and the schema judges it, so a wrong type gets the same one-line
            # refusal as a wrong value (and a float field takes a YAML "2"). An empty list has no
            # element type to infer, so that one parameter is declared with its type instead.
            dynamic_typing=not empty_list,
        )
        strings = f.metadata.get("item") is str
        value: Any = default
        if empty_list:
            value = Parameter.Type.STRING_ARRAY if strings else Parameter.Type.DOUBLE_ARRAY
        try:
            node.declare_parameter(prefix + f.name, value, descriptor)
        except InvalidParameterTypeException:  # only the empty-list parameters have a fixed type
            raise ConfigError(f"{_where(prefix)}{f.name}: expected {expected(f)}{'' if strings else DOUBLES}") from None
    section = read_section(node, section_cls, only=[f.name for f in fields], prefix=prefix, defaults=defaults)
    if dynamic:
        watch(node, section, prefix, dynamic, validators)
    return section


def read_section(node: Node, section_cls: type, only: Iterable[str] | None = None, prefix: str = "",
                 defaults: Any = None) -> Any:
    """The declared parameters as a validated ``section_cls``; fields not read keep ``defaults``' or the schema's.

    Raises ``ConfigError`` (``parameter inference.steps = -3: expected an integer >= 1``).
    """
    values = {} if defaults is None else dataclasses.asdict(defaults)
    for f in _fields(section_cls, only):
        try:
            values[f.name] = node.get_parameter(prefix + f.name).value
        except ParameterUninitializedException:
            values[f.name] = _default(f, defaults)
    return validate_section(section_cls(**values), _where(prefix))


def watch(node: Node, section: Any, prefix: str, names: Iterable[str], validators: dict[str, Validator]) -> None:
    """Keep ``section`` in step with runtime changes of ``names``, refusing invalid values with a reason."""
    by_name = {prefix + f.name: f for f in dataclasses.fields(section) if f.name in set(names)}

    def on_set(params: list[Parameter]) -> SetParametersResult:
        changed = {by_name[p.name].name: p.value for p in params if p.name in by_name}
        if not changed:
            return SetParametersResult(successful=True)  # others (read-only ones are refused by rclpy itself)
        reason = None
        try:
            candidate = validate_section(dataclasses.replace(section, **changed), _where(prefix))
        except ConfigError as exc:
            reason = str(exc)
        else:
            for key in changed:
                check = validators.get(key)
                reason = check(getattr(candidate, key)) if check else None
                if reason:
                    break
        if reason:
            node.get_logger().warning(f"refusing {', '.join(prefix + k for k in changed)}: {reason}")
            return SetParametersResult(successful=False, reason=reason)
        for key in changed:
            setattr(section, key, getattr(candidate, key))
            node.get_logger().info(f"parameter {prefix}{key} set to {getattr(candidate, key)!r}")
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(on_set)


def refuse_undeclared(node: Node) -> None:
    """Refuse parameters given to ``node`` (a parameter file, ``-p``) that it never declared.

    rclpy keeps such values aside silently, so a misspelt name would leave the setting at its default;
    call this once the node has declared everything. Raises ``ConfigError``.
    """
    # rclpy has no public accessor for a node's overrides; _parameter_overrides has held them since Foxy.
    given = getattr(node, "_parameter_overrides", {})
    unknown = sorted(name for name in given if not node.has_parameter(name))
    if unknown:
        declared = list(node.get_parameters_by_prefix(""))
        raise ConfigError(f"node {node.get_name()} has no parameter {', '.join(unknown)}"
                          f"{did_you_mean(unknown[0], declared)}")


def _flatten(mapping: Mapping, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def check_parameters_file(path: str | Path, node: str) -> dict[str, Any]:
    """Check a ROS parameter file for ``node`` against the schema; returns its parameters by name.

    What rclpy would take silently or report with a traceback is one ``ConfigError`` naming the file:
    malformed YAML, an entry for another node, a name that is no schema field (``perception_rte``), a
    value the schema refuses (``torch_threads: "one"``, ``inference.steps: -3``).
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"parameter file {path} cannot be read ({type(exc).__name__}: {exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"parameter file {path} is not valid YAML ({yaml_problem(exc)})") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"parameter file {path} must map the node name {node} to its ros__parameters, "
                          f"got {show(data)}")
    params: dict[str, Any] = {}
    for key, entry in data.items():
        if key not in (node, f"/{node}", "/**"):
            raise ConfigError(f"parameter file {path}: entry {key!r} is not the node {node!r} this file is for")
        if not isinstance(entry, Mapping) or set(entry) != {"ros__parameters"} \
                or not isinstance(entry["ros__parameters"], Mapping | None):
            raise ConfigError(f"parameter file {path}: {key} must hold only ros__parameters, a mapping of "
                              f"parameter names to values")
        params.update(_flatten(entry["ros__parameters"] or {}))
    try:
        by_section: dict[str, dict[str, Any]] = {}
        for name, value in params.items():
            if name in BUILTIN_PARAMETERS:
                if not isinstance(value, BUILTIN_PARAMETERS[name]):
                    raise ConfigError(f"parameter {name} = {show(value)}: expected true or false")
                continue
            prefix = name.rsplit(".", 1)[0] + "." if "." in name else ""
            if prefix not in PARAMETER_SECTIONS:
                raise ConfigError(f"parameter {name} is unknown (parameters are the fields of "
                                  f"{', '.join(f'{p}*' if p else 'nodes' for p in PARAMETER_SECTIONS)})")
            section_cls, field_name = PARAMETER_SECTIONS[prefix], name[len(prefix):]
            values = by_section.setdefault(prefix, {})
            values[field_name] = check_field(section_cls, field_name, value, _where(prefix))
            f = schema_field(section_cls, field_name)
            if field_default(f) == [] and f.metadata.get("item") is not str and isinstance(value, list) \
                    and not all(isinstance(v, float) for v in value):
                raise ConfigError(f"{_where(prefix)}{name[len(prefix):]} = {show(value)}: expected {expected(f)}"
                                  f"{DOUBLES}")
        for prefix, values in by_section.items():  # the rules across fields, with the schema's other defaults
            validate_section(PARAMETER_SECTIONS[prefix](**values), _where(prefix))
    except ConfigError as exc:
        raise ConfigError(f"parameter file {path}: {exc}") from None
    return params
