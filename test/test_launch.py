"""The launch file: its nodes, their executables and its arguments.

Where the ROS 2 ``launch`` packages import (a full ROS 2 install), the LaunchDescription is built and
inspected. Everywhere, the file is parsed as Python and checked against setup.py and config/, so a typo
in an executable or a parameter file name is caught even without ``launch``.
"""

import ast
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAUNCH_FILE = ROOT / "launch" / "demo.launch.py"
NODES = ["sim", "perception", "inference", "commander"]
ARGUMENTS = {"sim": "embedded", "model": "", "behaviour": "", "mode": "glimpse", "use_sim_time": "false",
             "log_level": "info", "rviz": "false", "perception": "sim", "camera_rate": "2.0"}
OPTIONAL_NODES = ["markers"]  # started by the launch file's node() helper only with rviz:=true


def console_scripts() -> dict[str, str]:
    """Executable name -> module:function, read from setup.py's entry points."""
    text = (ROOT / "setup.py").read_text()
    return dict(re.findall(r'f"(\w[\w-]*) = \{PACKAGE\}\.([\w.]+:\w+)"', text))


def test_setup_names_every_node_executable():
    scripts = console_scripts()
    for name in NODES + OPTIONAL_NODES:
        assert scripts[name] == f"nodes.{name}_node:main"
        module = importlib.import_module(f"latent_nodes.nodes.{name}_node")
        assert callable(module.main)


def test_launch_file_source_names_the_nodes_and_files():
    tree = ast.parse(LAUNCH_FILE.read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    declared = {c.args[0].value: next(k.value.value for k in c.keywords if k.arg == "default_value")
                for c in calls if getattr(c.func, "id", "") == "DeclareLaunchArgument"}
    assert declared == ARGUMENTS
    started = [c.args[0].value for c in calls if getattr(c.func, "id", "") == "node" and c.args]
    assert started == NODES + OPTIONAL_NODES
    # Every node of the package goes through the one helper, whose Node(...) respawns with a positive delay.
    (function,) = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "node"]
    (helper,) = [c for c in ast.walk(function) if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "Node"]
    keywords = {k.arg: k.value for k in helper.keywords}
    assert isinstance(keywords["respawn"], ast.Constant) and keywords["respawn"].value is True
    assert getattr(keywords["respawn_delay"], "id", "") == "RESPAWN_DELAY_S"
    delay = next(n.value.value for n in tree.body if isinstance(n, ast.Assign)
                 and getattr(n.targets[0], "id", "") == "RESPAWN_DELAY_S")
    assert 0.5 < delay < 5.0  # longer than the commander's stale_feedback_s, short next to 15 s
    for name in NODES + OPTIONAL_NODES:
        assert (ROOT / "config" / f"{name}.yaml").is_file()


def load_launch_description():
    # `launch.actions`, not `launch`: without ROS 2's package, this repository's launch/ folder would
    # import as an empty namespace package.
    pytest.importorskip("launch.actions", reason="the ROS 2 launch package is not installed here")
    pytest.importorskip("launch_ros.actions", reason="the ROS 2 launch_ros package is not installed here")
    spec = importlib.util.spec_from_file_location("demo_launch", LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


def test_launch_description():
    description = load_launch_description()
    from launch.actions import DeclareLaunchArgument
    from launch_ros.actions import Node

    arguments = {a.name: a for a in description.entities if isinstance(a, DeclareLaunchArgument)}
    assert set(arguments) == set(ARGUMENTS)
    for name, default in ARGUMENTS.items():
        assert "".join(s.perform(None) for s in arguments[name].default_value) == default
    assert set(arguments["sim"].choices) == {"embedded", "coppeliasim"}
    import dataclasses

    from latent_nodes.config import NodesConfig

    schema = {f.name: f.metadata for f in dataclasses.fields(NodesConfig)}
    # The launch file offers what the inference node accepts: its modes, and any behaviour name (the
    # model's names are checked by the node once it has loaded the model).
    assert set(arguments["mode"].choices) == set(schema["mode"]["choices"])
    assert arguments["behaviour"].choices is None and "choices" not in schema["behaviour"]

    nodes = [a for a in description.entities if isinstance(a, Node)]
    assert [n.node_executable for n in nodes] == NODES
    assert all(n.node_package == "latent_nodes" for n in nodes)
    scripts = console_scripts()
    assert all(n.node_executable in scripts for n in nodes)
    # Only the embedded sim is conditional: CoppeliaSim replaces it with sim:=coppeliasim.
    assert nodes[0].condition is not None and all(n.condition is None for n in nodes[1:])
    # Every node is respawned after a delay (launch keeps these private; there is no accessor).
    from launch.utilities.type_utils import perform_typed_substitution

    for n in nodes:
        assert perform_typed_substitution(None, vars(n)["_ExecuteLocal__respawn"], bool) is True, n.node_executable
        assert vars(n)["_ExecuteLocal__respawn_delay"] == pytest.approx(1.0), n.node_executable


def test_a_node_that_cannot_start_stops_the_launch_and_a_crash_is_respawned():
    """The exit handler: EXIT_CANNOT_START (ours only) ends the launch; any other status leaves the respawn.

    Under a real ``ros2 launch``: test_launch_startup.py.
    """
    description = load_launch_description()
    from launch.actions import RegisterEventHandler, Shutdown
    from launch.event_handlers import OnProcessExit
    from launch.events.process import ProcessExited
    from launch_ros.actions import Node

    from latent_nodes.nodes.runner import EXIT_CANNOT_START, EXIT_FAILED

    (registered,) = [e for e in description.entities if isinstance(e, RegisterEventHandler)]
    handler = registered.event_handler
    assert isinstance(handler, OnProcessExit)
    inference = next(a for a in description.entities if isinstance(a, Node) and a.node_executable == "inference")
    foreign = Node(package="robot_state_publisher", executable="robot_state_publisher")

    def exited(action, status: int) -> ProcessExited:
        return ProcessExited(action=action, name="inference-3", cmd=["inference"], cwd=None, env=None, pid=4242,
                             returncode=status)

    assert handler.matches(exited(inference, EXIT_CANNOT_START))
    assert not handler.matches(exited(foreign, EXIT_CANNOT_START))  # not ours: its status means nothing here
    from launch import LaunchContext

    stop = handler.handle(exited(inference, EXIT_CANNOT_START), LaunchContext())
    assert len(stop) == 1 and isinstance(stop[0], Shutdown)
    assert "inference-3 cannot start (exit status 78" in stop[0].event.reason
    for status in (EXIT_FAILED, -9, 0):  # a dead worker, kill -9, a clean exit: nothing added, respawn decides
        assert not handler.handle(exited(inference, status), LaunchContext())


def optional_actions(tmp_path, monkeypatch, packages: list[str], rviz: str) -> list:
    """The launch's optional actions with an ament index that has exactly ``packages`` (a prefix made here)."""
    description = load_launch_description()
    from launch.actions import OpaqueFunction

    from launch import LaunchContext

    index = tmp_path / "share" / "ament_index" / "resource_index" / "packages"
    index.mkdir(parents=True)
    for package in packages:
        (index / package).write_text("")
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path))
    (optional,) = [e for e in description.entities if isinstance(e, OpaqueFunction)]
    context = LaunchContext()
    context.launch_configurations.update({"rviz": rviz, "use_sim_time": "false", "log_level": "info"})
    return optional.execute(context)


def log_lines(actions) -> list[str]:
    from launch.actions import LogInfo

    return ["".join(s.perform(None) for s in a.msg) for a in actions if isinstance(a, LogInfo)]


def started(actions) -> list[tuple[str, str]]:
    from launch_ros.actions import Node

    return [(a.node_package, a.node_executable) for a in actions if isinstance(a, Node)]


def test_robot_state_publisher_and_rviz_start_where_installed(tmp_path, monkeypatch):
    actions = optional_actions(tmp_path, monkeypatch, ["robot_state_publisher", "rviz2", "latent_nodes"], rviz="true")
    assert started(actions) == [("robot_state_publisher", "robot_state_publisher"), ("latent_nodes", "markers"),
                                ("rviz2", "rviz2")]
    assert log_lines(actions) == []
    from latent_nodes.sim.urdf import build_urdf

    rsp = actions[0]
    from launch_ros.utilities import evaluate_parameters

    from launch import LaunchContext

    context = LaunchContext()
    context.launch_configurations["use_sim_time"] = "false"
    (given,) = evaluate_parameters(context, vars(rsp)["_Node__parameters"])  # as the node will get them
    assert given["robot_description"] == build_urdf(root_frame="table")

    flag, path = vars(actions[2])["_Node__arguments"]
    assert flag == "-d" and path.perform(LaunchContext()) == str(tmp_path / "share" / "latent_nodes" / "rviz" /
                                                                 "latent_nodes.rviz")


def test_without_them_each_is_one_info_line(tmp_path, monkeypatch):
    actions = optional_actions(tmp_path, monkeypatch, [], rviz="false")
    assert started(actions) == []
    (line,) = log_lines(actions)
    assert line.startswith("robot_state_publisher is not installed here") and "skipped" in line
    actions = optional_actions(tmp_path / "again", monkeypatch, [], rviz="true")
    assert started(actions) == [("latent_nodes", "markers")]  # Foxglove can still show the markers
    rsp_line, rviz_line = log_lines(actions)
    assert rviz_line.startswith("rviz:=true: rviz2 is not installed here") and "/latent_nodes/markers" in rviz_line


def test_the_rviz_config_shows_the_arm_and_the_markers():
    import yaml

    from latent_nodes.nodes.markers_node import BLOCK_NS, MARKERS, PATH_NS, POINTS_NS

    config = yaml.safe_load((ROOT / "rviz" / "latent_nodes.rviz").read_text())
    manager = config["Visualization Manager"]
    assert manager["Global Options"]["Fixed Frame"] == "table"  # the URDF's root and the markers' frame
    displays = {d["Class"]: d for d in manager["Displays"]}
    robot = displays["rviz_default_plugins/RobotModel"]
    assert robot["Description Source"] == "Topic" and robot["Description Topic"]["Value"] == "/robot_description"
    assert robot["Description Topic"]["Durability Policy"] == "Transient Local"
    markers = displays["rviz_default_plugins/MarkerArray"]
    assert markers["Topic"]["Value"] == MARKERS and set(markers["Namespaces"]) == {BLOCK_NS, PATH_NS, POINTS_NS}
    launch_text = LAUNCH_FILE.read_text()
    assert f'MARKERS_TOPIC = "{MARKERS}"' in launch_text and '"rviz", "latent_nodes.rviz"' in launch_text
    assert 'glob("rviz/*.rviz")' in (ROOT / "setup.py").read_text()
