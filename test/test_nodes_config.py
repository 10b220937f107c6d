"""ROS parameters come from the config schema, and the YAML files only use the schema's names."""

import dataclasses
from pathlib import Path

import pytest
import rclpy
import yaml
from rclpy.node import Node
from rclpy.parameter import Parameter

from latent_nodes.config import InferenceConfig, NodesConfig, SimConfig, field_help
from latent_nodes.nodes.parameters import PARAMETER_SECTIONS, declare_section
from latent_nodes.nodes.runner import EXIT_CANNOT_START

ROOT = Path(__file__).resolve().parent.parent
# Set by the launch file (or the demo's options), so the YAML files must not compete with them.
FROM_LAUNCH = {"model_path", "behaviour", "target", "publish_clock", "use_sim_time", "perception_source",
               "camera.rate"}
SECTIONS = PARAMETER_SECTIONS


def flatten(mapping: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


@pytest.mark.parametrize("node", ["sim", "perception", "inference", "commander", "markers"])
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
    # Any name passes the schema (the inference node checks it against its model); a validator refuses.
    assert n.describe_parameter("behaviour").additional_constraints == "a string"
    assert n.set_parameters([Parameter("behaviour", value="reach_circle")])[0].successful
    assert section.behaviour == "reach_circle"
    assert not n.set_parameters([Parameter("behaviour", value=3)])[0].successful
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
        declare_section(node(perception_source="oracle"), NodesConfig, only=["perception_source"])


@pytest.mark.parametrize("node_name", ["sim", "perception", "inference", "commander", "markers"])
def test_shipped_parameter_files_pass_the_schema(node_name):
    from latent_nodes.nodes.parameters import check_parameters_file

    params = check_parameters_file(ROOT / "config" / f"{node_name}.yaml", node_name)
    assert params == flatten(yaml.safe_load((ROOT / "config" / f"{node_name}.yaml").read_text())[node_name]
                             ["ros__parameters"])


def test_parameter_file_refuses_what_the_node_would(tmp_path):
    from latent_nodes.config import ConfigError
    from latent_nodes.nodes.parameters import check_parameters_file

    path = tmp_path / "perception.yaml"
    path.write_text("perception:\n  ros__parameters:\n    perception_positions: [1, 2]\n")
    with pytest.raises(ConfigError, match=r"perception_positions = \[1, 2\]: .* written with a decimal point"):
        check_parameters_file(path, "perception")
    path.write_text("perception:\n  ros__parameters:\n    use_sim_time: yes please\n")
    with pytest.raises(ConfigError, match="parameter use_sim_time = 'yes please': expected true or false"):
        check_parameters_file(path, "perception")


def test_node_parameters_meet_the_schema_check(node):
    from latent_nodes.config import ConfigError
    from latent_nodes.nodes.parameters import refuse_undeclared

    with pytest.raises(ConfigError, match=r"parameter inference\.steps = -3: expected an integer >= 1"):
        declare_section(node(**{"inference.steps": -3}), InferenceConfig, prefix="inference.")
    with pytest.raises(ConfigError, match="parameter torch_threads = 'one': expected an integer >= 1"):
        declare_section(node(torch_threads="one"), NodesConfig, only=["torch_threads"])
    with pytest.raises(ConfigError, match=r"parameter sim\.physics_dt = 0\.5 exceeds parameter sim\.dt = 0\.1"):
        declare_section(node(**{"sim.physics_dt": 0.5}), SimConfig, prefix="sim.")
    with pytest.raises(ConfigError, match="parameter perception_positions: expected a list of finite numbers "
                                          r"\(x, y pairs: an even count\), written with a decimal point"):
        declare_section(node(perception_positions=[1, 2]), NodesConfig, only=["perception_positions"])
    n = node(perception_rte=1.0)
    declare_section(n, NodesConfig, only=["perception_rate"])
    with pytest.raises(ConfigError, match=r"node params_test has no parameter perception_rte \(did you mean "
                                          r"perception_rate\?\)"):
        refuse_undeclared(n)
    # Runtime changes: the same check, the same words, and the old value stays.
    n = node()
    section = declare_section(n, NodesConfig, only=["perception_rate"], dynamic=["perception_rate"])
    result = n.set_parameters([Parameter("perception_rate", value=float("nan"))])[0]
    assert not result.successful and result.reason == "parameter perception_rate = nan: expected a finite number >= 0"
    assert section.perception_rate == 0.2


def test_recognition_rule_and_its_hysteresis_are_checked(node):
    """recognition_rule is sequential or margin; the sequential rule's lower threshold may not exceed upper."""
    from latent_nodes.config import ConfigError

    assert NodesConfig().recognition_rule == "sequential"
    assert declare_section(node(recognition_rule="margin"), NodesConfig,
                           only=["recognition_rule"]).recognition_rule == "margin"
    with pytest.raises(ConfigError, match="parameter recognition_rule = 'cusum': expected one of"):
        declare_section(node(recognition_rule="cusum"), NodesConfig, only=["recognition_rule"])
    with pytest.raises(ConfigError, match=r"parameter recognition_lower = 3\.5: expected at most recognition_upper "
                                          r"\(2\.95\)"):
        declare_section(node(recognition_lower=3.5), NodesConfig, only=["recognition_lower", "recognition_upper"])


@pytest.mark.parametrize("param, expected", [
    ("perception_rate:=-1.0", "cannot start: parameter perception_rate = -1: expected a finite number >= 0"),
    ("perception_rte:=1.0", "cannot start: node perception has no parameter perception_rte (did you mean "
                            "perception_rate?)"),
])
def test_node_process_refuses_in_one_line(param, expected):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "latent_nodes.nodes.perception_node", "--ros-args", "-p", param],
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    errors = [line for line in out.splitlines() if "ERROR" in line]
    assert proc.returncode == EXIT_CANNOT_START and "Traceback" not in out, out
    assert len(errors) == 1 and expected in errors[0], out
