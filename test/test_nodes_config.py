"""ROS parameters come from the config schema, and the YAML files only use the schema's names."""

import dataclasses
from pathlib import Path

import pytest
import rclpy
import yaml
from rclpy.node import Node
from rclpy.parameter import Parameter

from latent_nodes.config import InferenceConfig, NodesConfig, SimConfig, field_help
from latent_nodes.nodes.parameters import declare_section

ROOT = Path(__file__).resolve().parent.parent
# Set by the launch file (or the demo's options), so the YAML files must not compete with them.
FROM_LAUNCH = {"model_path", "behaviour", "target", "publish_clock", "use_sim_time"}
SECTIONS = {"": NodesConfig, "sim.": SimConfig, "inference.": InferenceConfig}


def flatten(mapping: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


@pytest.mark.parametrize("node", ["sim", "perception", "inference", "commander"])
def test_yaml_files_use_schema_names_and_types(node):
    data = yaml.safe_load((ROOT / "config" / f"{node}.yaml").read_text())
    assert list(data) == [node] and list(data[node]) == ["ros__parameters"]
    params = flatten(data[node]["ros__parameters"])
    assert params, "the file sets something"
    for name, value in params.items():
        prefix = name.rsplit(".", 1)[0] + "." if "." in name else ""
        section = SECTIONS[prefix]
        field = {f.name: f for f in dataclasses.fields(section)}.get(name[len(prefix):])
        assert field is not None, f"{node}.yaml: {name} is not a field of {section.__name__}"
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        assert type(value) is type(default), f"{node}.yaml: {name} = {value!r} should be a {type(default).__name__}"
        if field.metadata.get("choices"):
            assert value in field.metadata["choices"]
        assert name not in FROM_LAUNCH, f"{node}.yaml sets {name}, which the launch arguments set"


@pytest.fixture()
def node():
    context = rclpy.Context()
    rclpy.init(context=context)
    made = []

    def make(**overrides):
        n = Node("params_test", context=context,
                 parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])
        made.append(n)
        return n

    yield make
    for n in made:
        n.destroy_node()
    rclpy.try_shutdown(context=context)


def test_declared_parameters_carry_the_schema_help(node):
    n = node(perception_rate=2)  # an integer for a float field is accepted and converted
    section = declare_section(n, NodesConfig, only=["perception_rate", "frame_id", "perception_positions"])
    assert section.perception_rate == 2.0 and isinstance(section.perception_rate, float)
    assert section.frame_id == "table" and section.perception_positions == []
    helps = field_help(NodesConfig)
    for name in ("perception_rate", "frame_id"):
        descriptor = n.describe_parameter(name)
        assert descriptor.description == helps[name] and descriptor.read_only
    assert not n.set_parameters([Parameter("frame_id", value="map")])[0].successful


def test_runtime_changes_are_validated(node):
    n = node()
    section = declare_section(n, NodesConfig, only=["behaviour", "max_joint_velocity"],
                              dynamic=["behaviour", "max_joint_velocity"],
                              validators={"max_joint_velocity": lambda v: None if v > 0 else "must be positive"})
    assert "one of: reach, reach_circle" in n.describe_parameter("behaviour").additional_constraints
    assert n.set_parameters([Parameter("behaviour", value="reach_circle")])[0].successful
    assert section.behaviour == "reach_circle"
    assert not n.set_parameters([Parameter("behaviour", value="wave")])[0].successful
    assert not n.set_parameters([Parameter("max_joint_velocity", value=-1.0)])[0].successful
    assert not n.set_parameters([Parameter("max_joint_velocity", value="fast")])[0].successful
    assert n.set_parameters([Parameter("max_joint_velocity", value=1)])[0].successful
    assert section.behaviour == "reach_circle" and section.max_joint_velocity == 1.0


def test_model_settings_are_the_defaults(node):
    n = node(**{"inference.steps": 7})
    model_settings = InferenceConfig(steps=12, n_starts=3)
    section = declare_section(n, InferenceConfig, prefix="inference.", defaults=model_settings)
    assert section.steps == 7 and section.n_starts == 3 and section.method == model_settings.method


def test_wrong_types_and_choices_fail_clearly(node):
    with pytest.raises(ValueError, match="parameter perception_rate = 'fast': expected a finite number >= 0"):
        declare_section(node(perception_rate="fast"), NodesConfig, only=["perception_rate"])
    with pytest.raises(ValueError, match="expected one of"):
        declare_section(node(perception_source="camera"), NodesConfig, only=["perception_source"])
