"""The demo graph: sim (unless CoppeliaSim plays the world), perception, inference and commander.

    ros2 launch latent_nodes demo.launch.py
    ros2 launch latent_nodes demo.launch.py sim:=coppeliasim behaviour:=reach_circle
    ros2 launch latent_nodes demo.launch.py model:=/path/to/model.pt use_sim_time:=true log_level:=debug
    ros2 launch latent_nodes demo.launch.py rviz:=true
    ros2 launch latent_nodes demo.launch.py perception:=camera camera_rate:=2.0

Each node reads its ``config/<node>.yaml``; the launch arguments fill the parameters that the files
leave out on purpose (model_path, behaviour, target, publish_clock, use_sim_time, perception_source,
camera.rate), so the two never compete. ``perception:=camera`` has the sim node render its RGB-D camera
at ``camera_rate`` and the perception node find the block in those images (docs/camera.md);
``perception:=sim`` (the default) reads the simulator's true pose and renders nothing. ``latent-nodes
demo`` starts the same nodes with the same files for pip installs.

Every node is respawned ``RESPAWN_DELAY_S`` after it dies (a crash, ``kill -9``); Ctrl-C stops them all
for good. The delay is longer than the commander's ``stale_feedback_s`` (0.5 s), so a respawned sim
finds a commander that has already stopped on the silence, and short next to a respawned inference
node's own start-up (importing torch, loading and warming up the model), so the graph serves again
within 15 s (7-9 s measured on a busy 2-core machine, docs/nodes.md).

A node that cannot start (a wrong model path, a parameter the node refuses) is not respawned: it logs
its one ``cannot start`` line and exits with status 78 (``EXIT_CANNOT_START``, sysexits.h's
``EX_CONFIG``: latent_nodes/nodes/runner.py), which a restart cannot mend, so the launch logs one error
naming the node and stops the whole graph (a ``Shutdown`` action), as a graph without one of its nodes
serves nothing. This holds for a respawned node too (a model file removed while it ran). A crash, a
``kill -9`` or a dead inference worker (status 1) is respawned as above. launch decides a respawn after
queueing the exit event and waits ``respawn_delay`` on the process's shutdown future before restarting
it (launch 3.7.1, launch/actions/execute_local.py L598-621); the ``Shutdown`` our ``OnProcessExit``
handler returns completes that future within the delay, so no second start follows.

Where the ament index has ``robot_state_publisher`` (a system ROS 2 install), it is started with the
arm's URDF and turns ``/joint_states`` into TF; elsewhere (the PyPI wheels) one info line says it was
skipped. ``rviz:=true`` adds the markers node (block and fingertip path) and RViz with the shipped
``rviz/latent_nodes.rviz``, or, without ``rviz2``, one info line saying so.
"""

# `launch` here is the ROS 2 package, not this repository's launch/ folder.
# ruff: noqa: I001
from launch import LaunchDescription
from ament_index_python.packages import PackageNotFoundError, get_package_prefix
from launch.actions import DeclareLaunchArgument, LogInfo, OpaqueFunction, RegisterEventHandler, Shutdown
from launch.conditions import UnlessCondition
from launch.event_handlers import OnProcessExit
from launch.events.process import ProcessExited
from launch.logging import get_logger
from launch.substitutions import EqualsSubstitution, LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from latent_nodes.nodes.runner import EXIT_CANNOT_START

PACKAGE = "latent_nodes"
RESPAWN_DELAY_S = 1.0
MARKERS_TOPIC = "/latent_nodes/markers"  # latent_nodes.nodes.markers_node.MARKERS


def installed(package: str) -> bool:
    """Whether the ament index (AMENT_PREFIX_PATH) has ``package``, looked up when the launch runs."""
    try:
        get_package_prefix(package)
    except PackageNotFoundError:
        return False
    return True


def ours(action) -> bool:
    """Whether ``action`` runs one of this package's node executables (those that exit EXIT_CANNOT_START)."""
    return getattr(action, "node_package", None) == PACKAGE


def stop_if_it_cannot_start(event: ProcessExited, context) -> list:
    """A node that exited ``EXIT_CANNOT_START`` ends the launch (one error line) instead of being respawned."""
    if event.returncode != EXIT_CANNOT_START:
        return []  # a crash or a dead worker: respawned
    reason = (f"{event.process_name} cannot start (exit status {EXIT_CANNOT_START}; its error line above says why): "
              f"not respawning it, stopping the launch")
    get_logger("launch").error(reason)
    return [Shutdown(reason=reason)]


def generate_launch_description() -> LaunchDescription:
    sim = LaunchConfiguration("sim")
    log_level = LaunchConfiguration("log_level")

    def use_sim_time() -> ParameterValue:
        # A bool parameter: without the type, the string "false" would reach the node as a string.
        return ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool)

    def config(node: str) -> PathJoinSubstitution:
        return PathJoinSubstitution([FindPackageShare(PACKAGE), "config", f"{node}.yaml"])

    def node(executable: str, parameters: list, **kwargs) -> Node:
        return Node(package=PACKAGE, executable=executable, name=executable, output="screen",
                    parameters=[config(executable), *parameters],
                    ros_arguments=["--log-level", log_level],
                    respawn=True, respawn_delay=RESPAWN_DELAY_S, **kwargs)

    def optional_nodes(context) -> list:
        """robot_state_publisher where installed; with rviz:=true the markers node and RViz (if installed)."""
        actions = []
        if installed("robot_state_publisher"):
            from latent_nodes.sim.urdf import build_urdf

            actions.append(Node(package="robot_state_publisher", executable="robot_state_publisher",
                                name="robot_state_publisher", output="screen",
                                parameters=[{"robot_description": build_urdf(root_frame="table"),
                                             "use_sim_time": use_sim_time()}]))
        else:
            actions.append(LogInfo(msg="robot_state_publisher is not installed here (a system ROS 2 install has "
                                       "it): skipped, so /joint_states are not turned into TF"))
        if LaunchConfiguration("rviz").perform(context) == "true":
            actions.append(node("markers", [{"use_sim_time": use_sim_time()}]))
            if installed("rviz2"):
                rviz_config = PathJoinSubstitution([FindPackageShare(PACKAGE), "rviz", "latent_nodes.rviz"])
                actions.append(Node(package="rviz2", executable="rviz2", name="rviz2", output="screen",
                                    arguments=["-d", rviz_config], parameters=[{"use_sim_time": use_sim_time()}]))
            else:
                actions.append(LogInfo(msg=f"rviz:=true: rviz2 is not installed here (a system ROS 2 desktop install "
                                           f"has it); the markers are still published on {MARKERS_TOPIC}"))
        return actions

    return LaunchDescription([
        DeclareLaunchArgument("sim", default_value="embedded", choices=["embedded", "coppeliasim"],
                              description="world behind the commander: the embedded MuJoCo arm, or CoppeliaSim "
                                          "running coppeliasim/latent_nodes_bridge.lua (docs/coppeliasim.md)"),
        DeclareLaunchArgument("model", default_value="",
                              description="model file; empty means the shipped models/latent_nodes_default.pt"),
        DeclareLaunchArgument("behaviour", default_value="",
                              description="behaviour to complete, one of the model's names (changeable later "
                                          "on /behaviour); empty: the model's first; auto: recognized from the "
                                          "observed motion, with mode:=online"),
        DeclareLaunchArgument("mode", default_value="glimpse", choices=["glimpse", "online"],
                              description="inference from one glimpse of the block, or online: re-inferred at "
                                          "every step from /block_pose and /joint_states (docs/online.md)"),
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="run the nodes on the world's /clock (the embedded sim then publishes it)"),
        DeclareLaunchArgument("log_level", default_value="info",
                              choices=["debug", "info", "warn", "error", "fatal"],
                              description="log level of every node"),
        DeclareLaunchArgument("rviz", default_value="false", choices=["true", "false"],
                              description="open RViz with rviz/latent_nodes.rviz: the arm, the block and the "
                                          "completed behaviour's fingertip path (markers node)"),
        DeclareLaunchArgument("perception", default_value="sim", choices=["sim", "camera"],
                              description="where /block_pose comes from: the simulator's true pose, or the block "
                                          "found in the RGB-D camera's images (docs/camera.md)"),
        DeclareLaunchArgument("camera_rate", default_value="2.0",
                              description="with perception:=camera, the sim node renders its camera at this "
                                          "rate, Hz (software rendering: 30-200 ms a frame, docs/camera.md)"),
        node("sim", [{"publish_clock": use_sim_time(),
                      "camera.rate": ParameterValue(PythonExpression([
                          "float('", LaunchConfiguration("camera_rate"), "') if '", LaunchConfiguration("perception"),
                          "' == 'camera' else 0.0"]), value_type=float)}],
             condition=UnlessCondition(EqualsSubstitution(sim, "coppeliasim"))),
        node("perception", [{"use_sim_time": use_sim_time(),
                             "perception_source": ParameterValue(LaunchConfiguration("perception"), value_type=str)}]),
        node("inference", [{"use_sim_time": use_sim_time(),
                            "model_path": ParameterValue(LaunchConfiguration("model"), value_type=str),
                            "behaviour": ParameterValue(LaunchConfiguration("behaviour"), value_type=str),
                            "mode": ParameterValue(LaunchConfiguration("mode"), value_type=str)}]),
        node("commander", [{"use_sim_time": use_sim_time(), "target": ParameterValue(sim, value_type=str)}]),
        OpaqueFunction(function=optional_nodes),
        RegisterEventHandler(OnProcessExit(target_action=ours, on_exit=stop_if_it_cannot_start)),
    ])
