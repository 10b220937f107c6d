"""ROS parameters from the config schema: declared with the field's help text, read back into the dataclass.

A node never spells out its parameters by hand. It names a section of ``latent_nodes.config`` (and the
fields it uses); each field becomes a parameter of the same name and type, its ``help`` becomes the
descriptor's description (what ``ros2 param describe`` shows), its ``choices`` the constraint text.
Parameters are read-only unless a node lists them as runtime-changeable; changes to those are validated
(choices, the node's own checks) before they are accepted, and the node's dataclass follows them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.exceptions import ParameterUninitializedException
from rclpy.node import Node
from rclpy.parameter import Parameter

from latent_nodes.config import field_default

# A check for a runtime change: returns an error message, or None to accept the value.
Validator = Callable[[Any], "str | None"]


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
    after ``validators`` (and the field's choices) accepted the new value. ``defaults`` (an instance of
    ``section_cls``) replaces the schema's defaults, e.g. with the settings a model was trained with.
    """
    dynamic = set(dynamic)
    validators = dict(validators or {})
    fields = _fields(section_cls, only)
    for f in fields:
        default = _default(f, defaults)
        choices = f.metadata.get("choices")
        descriptor = ParameterDescriptor(
            description=f.metadata.get("help", ""),
            read_only=f.name not in dynamic,
            additional_constraints=f"one of: {', '.join(choices)}" if choices else "",
            # Floats accept integers too (a YAML "2" or "-p rate:=1" is a float to a person); the value
            # is converted and checked on reading.
            dynamic_typing=isinstance(default, float) and not isinstance(default, bool),
        )
        if isinstance(default, list) and not default:
            value: Any = Parameter.Type.DOUBLE_ARRAY  # an empty list has no element type to infer
        else:
            value = default
        node.declare_parameter(prefix + f.name, value, descriptor)
    section = read_section(node, section_cls, only=[f.name for f in fields], prefix=prefix, defaults=defaults)
    if dynamic:
        watch(node, section, prefix, dynamic, validators)
    return section


def _convert(section_cls: type, f: dataclasses.Field, value: Any) -> Any:
    """A parameter value as the dataclass field's type; ValueError naming the field if it cannot be."""
    default = _default(f)
    name = f"{section_cls.__name__}.{f.name}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"parameter {f.name} ({name}) must be true or false, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"parameter {f.name} ({name}) must be a number, got {value!r}")
        return float(value)
    if isinstance(default, list):
        return list(value)
    choices = f.metadata.get("choices")
    if choices and value not in choices:
        raise ValueError(f"parameter {f.name} = {value!r}; expected one of {list(choices)}")
    return value


def read_section(node: Node, section_cls: type, only: Iterable[str] | None = None, prefix: str = "",
                 defaults: Any = None) -> Any:
    """The declared parameters as a ``section_cls``; fields not read keep ``defaults``' or the schema's values."""
    values = {} if defaults is None else dataclasses.asdict(defaults)
    for f in _fields(section_cls, only):
        try:
            value = node.get_parameter(prefix + f.name).value
        except ParameterUninitializedException:
            value = _default(f, defaults)
        values[f.name] = _convert(section_cls, f, value)
    return section_cls(**values)


def watch(node: Node, section: Any, prefix: str, names: Iterable[str], validators: dict[str, Validator]) -> None:
    """Keep ``section`` in step with runtime changes of ``names``, refusing invalid values with a reason."""
    by_name = {prefix + f.name: f for f in dataclasses.fields(section) if f.name in set(names)}

    def on_set(params: list[Parameter]) -> SetParametersResult:
        accepted = {}
        for param in params:
            f = by_name.get(param.name)
            if f is None:
                continue  # another parameter (read-only ones are refused by rclpy itself)
            try:
                value = _convert(type(section), f, param.value)
            except ValueError as exc:
                reason = str(exc)
            else:
                check = validators.get(f.name)
                reason = check(value) if check else None
            if reason:
                node.get_logger().warning(f"refusing parameter {param.name}: {reason}")
                return SetParametersResult(successful=False, reason=reason)
            accepted[f.name] = value
        for key, value in accepted.items():
            setattr(section, key, value)
            node.get_logger().info(f"parameter {prefix}{key} set to {value!r}")
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(on_set)
