"""The one configuration schema of latent_nodes, and the one check of every value against it.

Every knob lives in a dataclass here. The train command builds its arguments from these fields, the
ROS nodes declare their parameters from them (with the field's help text as the description), the
YAML files under ``config/`` hold values for them, and the tests construct them directly. A field's
``metadata["help"]`` says what it does; defaults are justified in ``docs/method.md``.

A field's metadata also carries its constraints, and ``validate_section`` (``Config.validate`` for all
sections) is the one place that enforces them, so a YAML file (``load_config``, ``Config.from_dict``),
a command-line option (``add_arguments``), a ROS parameter (``latent_nodes.nodes.parameters``) and a
model file's stored settings are refused alike, with one ``ConfigError`` line naming ``section.field``,
the value (numbers in at most six significant digits) and what is expected. What is checked:

- types: an int field takes a 64-bit integer only (not 2.7, not "one"; never a bool), a float field any
  finite number (integers too, never NaN or inf), a bool field true or false, a str field a string;
  list fields their element type and, where it matters, their length (x, y pairs; [low, high]);
- ranges (``ge``, ``gt``, ``le``, ``lt``; on every element of a list) and choices;
- rules across fields: K <= L (``local_dim <= latent_dim``); ``perception_dims`` distinct indices
  inside ``output_dim``; one time constant per PVRNN layer; tables and workspaces increasing, the
  workspace on the table; ``physics_dt <= dt``; ``recognition_lower <= recognition_upper``;
- unknown sections and keys (with the closest known name), so a typo is an error, not a default.

Nothing here imports torch or rclpy, so any layer can read the schema cheaply. (Whether a CUDA device
exists is checked when a run starts: only torch can tell.)
"""

from __future__ import annotations

import argparse
import array
import dataclasses
import difflib
import math
import numbers
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

# Cases of the paper's Table I, selected by one switch.
CASE_NO_EMBEDDING = "no-embedding"
CASE_EMBEDDING = "embedding"
CASE_REGULARIZED = "embedding+regularization"
CASES = (CASE_NO_EMBEDDING, CASE_EMBEDDING, CASE_REGULARIZED)

# The two behaviours of the paper, in label order: the default dataset's and the shipped model's. A model
# trained on other recordings has its own names (and count), which the nodes take from the model file.
BEHAVIOURS = ("reach", "reach_circle")

# Poses further than this outside the trained block positions are refused by default (metres). Chosen
# from the measured completion error against distance outside the domain (docs/results.md).
DEFAULT_DOMAIN_MARGIN = 0.02

INT64 = 2**63  # integers are 64-bit signed: what a ROS parameter, torch and numpy hold
SEED_MAX = 2**32 - 1  # the widest seed every generator used here (numpy, torch, MuJoCo noise) accepts


class ConfigError(ValueError):
    """A configuration value the schema refuses; the message names ``section.field``, the value and the rule."""


def _f(default: Any, help: str, **constraints: Any) -> Any:
    """A dataclass field with a help text (for argparse and ROS descriptors) and its constraints.

    Constraints: ``ge``/``gt``/``le``/``lt`` bounds (on each element of a list), ``choices``, ``item``
    (element type of a list whose default is empty), ``length`` (exact) and ``min_length`` (lists and
    strings), ``pairs`` (a list of x, y pairs), ``pattern`` ((regex, description) for strings).
    """
    metadata = {"help": help, **constraints}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class ModelConfig:
    """Shape of the deterministic PVRNN and the per-behaviour embeddings."""

    latent_dim: int = _f(4, "L: dimension of the shared latent z (the paper uses 4)", ge=1)
    local_dim: int = _f(2, "K: dimension of each behaviour's local coordinates xi (the paper uses 2)", ge=1)
    output_dim: int = _f(11, "O: outputs per step, 9 joint angles + block x, y", ge=1)
    perception_dims: list = _f([9, 10], "indices of the perception (block x, y) inside an output vector",
                               length=2, ge=0)
    seq_len: int = _f(20, "T: time steps per behaviour (20 at 0.1 s in the paper)", ge=1)
    layer_sizes: list = _f([64, 32, 16], "PVRNN layer widths, bottom (fast) to top (slow)", min_length=1, ge=1)
    time_constants: list = _f([2.0, 4.0, 8.0], "leaky-integrator time constant per layer, bottom to top",
                              min_length=1, ge=1.0)
    embedding_hidden: int = _f(32, "hidden width of each behaviour's embedding MLP m_p: R^K -> R^L", ge=1)
    n_patterns: int = _f(2, "number of behaviours (patterns) with their own initial states and chart", ge=1)
    case: str = _f(CASE_REGULARIZED, "Table I case: no-embedding | embedding | embedding+regularization",
                   choices=CASES)


@dataclass
class TrainConfig:
    """Offline training: the paper's full loss with Adam on mini-batches."""

    epochs: int = _f(4000, "passes over the training set", ge=1)
    batch_size: int = _f(25, "mini-batch size (samples of both behaviours mixed)", ge=1)
    lr: float = _f(1e-2, "Adam learning rate for weights, embeddings and local coordinates", gt=0.0)
    lr_final: float = _f(0.03, "cosine decay of the learning rate to lr * lr_final at the last epoch (1 = constant)",
                         ge=0.0, le=1.0)
    grad_clip: float = _f(1.0, "clip the gradient's global norm to this (0 = no clipping)", ge=0.0)
    reg_weight: float = _f(1.0, "lambda: weight of the conformal regularizer L_perp", ge=0.0)
    n_mc: int = _f(4, "n_MC: Monte-Carlo draws of orthogonal direction pairs per sample", ge=1)
    seed: int = _f(0, "seed for initialisation, batching and the regularizer's draws", ge=0, le=SEED_MAX)
    device: str = _f("cpu", "torch device: cpu or cuda", pattern=(r"cpu|cuda(:[0-9]+)?", "cpu, cuda or cuda:<index>"))
    log_every: int = _f(1, "write a log row every N epochs", ge=1)
    checkpoint_every: int = _f(500, "write a checkpoint every N epochs (and always at the end)", ge=1)
    out_dir: str = _f("runs/latest", "directory for checkpoints, logs and plots", min_length=1)


@dataclass
class InferenceConfig:
    """Latent inference (the paper's Eq. 2, generalised to any observation mask)."""

    steps: int = _f(30, "fixed step budget of the descent", ge=1)
    n_starts: int = _f(8, "starting points, taken from the behaviour's training coordinates, run as one batch", ge=1)
    method: str = _f("gauss-newton", "gauss-newton (damped, K Jacobian-vector products a step) or adam",
                     choices=("gauss-newton", "adam"))
    lr: float = _f(0.05, "step size for the adam method", gt=0.0)
    damping: float = _f(1e-3, "Levenberg-Marquardt damping of the gauss-newton method (relative)", ge=0.0)
    warm_start: bool = _f(True, "one-glimpse completions start from a map of block position to xi fitted on the "
                                "training samples, with a few steps; the multi-start search only if that does not "
                                "converge (same answers within 1e-6 rad, docs/online.md)")
    backend: str = _f("numpy", "gauss-newton on the float64 NumPy generator (fast at inference's small batches) or "
                               "on the float32 torch model (the reference path; docs/online.md)",
                      choices=("numpy", "torch"))


@dataclass
class SimConfig:
    """The embedded MuJoCo world: table, block workspace and control timing."""

    table_x: list = _f([0.20, 0.80], "table surface extent along x, metres in the table frame", length=2)
    table_y: list = _f([-0.45, 0.45], "table surface extent along y, metres in the table frame", length=2)
    workspace_x: list = _f([0.35, 0.60], "block workspace (reachable part of the table) along x", length=2)
    workspace_y: list = _f([-0.20, 0.20], "block workspace along y", length=2)
    block_size: float = _f(0.04, "edge of the red block, metres", gt=0.0)
    dt: float = _f(0.1, "seconds between behaviour steps (the paper's 100 ms)", gt=0.0)
    physics_dt: float = _f(0.002, "MuJoCo integration step, seconds", gt=0.0)


@dataclass
class CameraConfig:
    """The embedded world's RGB-D camera: where it is mounted, what it sees, how often the sim node renders it.

    Fixed to the world, above and in front of the arm, looking back at the block workspace, as a user
    would mount one: the arm then hides the block when it reaches it. The same pose is written into the
    MJCF (the rendered view) and the URDF (``camera_link`` and the optical frame), so what renders the
    pictures and what reads them agree on the extrinsics (docs/camera.md).
    """

    position: list = _f([0.95, 0.0, 0.85], "camera's optical centre in the table frame, metres", length=3)
    look_at: list = _f([0.475, 0.0, 0.0], "point the optical axis passes through, table frame, metres (the "
                                          "middle of the block workspace)", length=3)
    fovy: float = _f(42.0, "vertical field of view, degrees (a RealSense D435's colour camera: 42)", gt=0.0, lt=170.0)
    width: int = _f(640, "image width, pixels", ge=16, le=1280)
    height: int = _f(480, "image height, pixels", ge=16, le=960)
    rate: float = _f(0.0, "sim node renders and publishes the camera at this rate, Hz (0: no rendering; software "
                          "rendering costs 30-200 ms a frame: docs/camera.md)", ge=0.0)
    depth: bool = _f(True, "also render and publish the depth image (32FC1, metres)")
    frame_id: str = _f("camera_color_optical_frame", "optical frame of the images (z forward, x right, y down; "
                                                     "REP 103), a link of the published URDF", min_length=1)


@dataclass
class DataConfig:
    """Demonstrations: the paper's Fig. 3 grid of train positions with test positions in between."""

    train_grid: list = _f([5, 5], "training block positions: a grid of nx x ny over the workspace", length=2, ge=2)
    test_grid: list = _f([4, 4], "unseen test positions: an nx x ny grid spanning the training grid's cell "
                                 "centres (one less than train_grid: exactly the centres); 0 0 for none",
                         length=2, ge=0)
    perturbation: float = _f(0.002, "std of the seeded perturbation of scripted waypoints, metres", ge=0.0)
    hover_height: float = _f(0.04, "fingertip height above the block's top at the end of the approach, metres",
                             ge=0.0)
    circle_radius: float = _f(0.04, "radius of behaviour 2's circle around the block's vertical axis, metres",
                              ge=0.0)
    seed: int = _f(0, "seed of the demonstration generator", ge=0, le=SEED_MAX)
    dataset_path: str = _f("", "dataset file; empty means generate the default dataset")
    train_layout: str = _f("grid", "training positions: grid (train_grid's regular grid) | random (the workspace's "
                                   "4 corners plus nx * ny - 4 seeded uniform draws; test positions as for grid)",
                           choices=("grid", "random"))


@dataclass
class NodesConfig:
    """Runtime settings of the ROS 2 graph."""

    model_path: str = _f("", "checkpoint to load; empty means the shipped model in models/")
    # Not a fixed list: the names are the loaded model's (its dataset's labels), so the inference node checks
    # a value against the model it loaded (nodes/inference_node.py, check_behaviour).
    behaviour: str = _f("", "behaviour to complete: one of the loaded model's behaviour names, or auto (online "
                            "mode: recognized among all of them from the observed prefix); empty: the model's "
                            "first behaviour")
    mode: str = _f("glimpse", "inference from the first block pose only (glimpse) or re-inferred at every step "
                              "from /block_pose and /joint_states while the behaviour runs (online)",
                   choices=("glimpse", "online"))
    online_tolerance: float = _f(0.01, "online mode: publish an updated trajectory when its remaining points "
                                       "move by more than this, rad (any joint)", gt=0.0)
    online_window: int = _f(0, "online mode: infer from the last this many observed steps (0: all so far)", ge=0)
    recognition_rule: str = _f("sequential", "behaviour auto: how a behaviour is named. margin: judged afresh at every "
                                         "step, named while its window error is at most recognition_max_error and "
                                         "clearly below the others' (inference/recognition.py); sequential: "
                                         "log-ratio evidence accumulated over steps, named once it reaches "
                                         "recognition_upper and kept until it falls below recognition_lower "
                                         "(inference/sequential_recognition.py; docs/online.md)",
                               choices=("sequential", "margin"))
    recognition_max_error: float = _f(5e-3, "behaviour auto: the best behaviour's window error (normalized) must "
                                            "be at most this to be named (inference/recognition.py; 5e-3 fits clean "
                                            "demonstrations, an executed arm needs more: docs/online.md)", gt=0.0)
    # The sequential rule (inference/sequential_recognition.py). Calibrated on validation positions (neither
    # training nor test), clean and on a simulated executed arm, by `python benchmarks/recognition_calibration.py`
    # (docs/recognition_calibration.json); scored once on the test positions there.
    recognition_upper: float = _f(2.95, "behaviour auto, sequential rule: accumulated log-ratio evidence (e-folds) "
                                        "at which a behaviour is named; 2x the most any wrong behaviour reached on "
                                        "validation positions (benchmarks/recognition_calibration.py)", gt=0.0)
    recognition_lower: float = _f(1.48, "behaviour auto, sequential rule: a named behaviour stays named while its "
                                        "evidence is at least this (hysteresis, <= recognition_upper); calibrated on "
                                        "validation positions (benchmarks/recognition_calibration.py)", ge=0.0)
    recognition_drift: float = _f(0.5, "behaviour auto, sequential rule: e-folds of lead a step must exceed to add "
                                       "evidence; chosen on validation positions "
                                       "(benchmarks/recognition_calibration.py)", ge=0.0)
    recognition_floor: float = _f(9.8e-5, "behaviour auto, sequential rule: added to each window error (normalized) "
                                          "before the log-ratio, so noise-floor errors give little evidence; 2x the "
                                          "largest one-step error on validation positions "
                                          "(benchmarks/recognition_calibration.py)", gt=0.0)
    recognition_unexplained: float = _f(0.23, "behaviour auto, sequential rule: a window whose best error "
                                              "(normalized) exceeds this is explained by no behaviour and clears all "
                                              "evidence; 2x the largest right-behaviour error on validation positions, "
                                              "executed arm included (benchmarks/recognition_calibration.py)", gt=0.0)
    frame_id: str = _f("table", "frame of block poses: the table plane the model was trained in", min_length=1)
    target: str = _f("embedded", "where the commander sends joints: embedded | coppeliasim (JointState targets "
                                 "on /joint_command) | ros2_control (JointTrajectory to the controllers below)",
                     choices=("embedded", "coppeliasim", "ros2_control"))
    max_joint_velocity: float = _f(2.0, "commander's velocity limit, rad/s, per joint", gt=0.0)
    stale_feedback_s: float = _f(0.5, "commander stops, and online inference stops observing the joints, if "
                                      "/joint_states is older than this, s", gt=0.0)
    command_rate: float = _f(50.0, "commander's rate of joint targets on /joint_command, Hz", gt=0.0)
    settle_s: float = _f(0.5, "commander holds the last point this long, then checks goal_tolerance and reports the "
                              "tracking error", ge=0.0)
    max_joint_acceleration: float = _f(30.0, "commander's acceleration limit, rad/s^2, per joint: on the streamed "
                                             "targets (embedded, coppeliasim) and in the timing of the trajectories "
                                             "sent to ros2_control", gt=0.0)
    joint_max_acceleration: list = _f([], "commander: per-joint acceleration limits as joint_name:rad/s^2 entries "
                                          "(ros2_control's joint_limits.<joint>.max_acceleration; a URDF has none), "
                                          "each capped by max_joint_acceleration", item=str)
    joint_limits_file: str = _f("", "commander: a joint_limits.yaml as robot description packages ship it "
                                    "(ros2_control's joint_limits.<joint>.has_acceleration_limits / max_acceleration, "
                                    "has_velocity_limits / max_velocity, robot joint names): its acceleration limits "
                                    "apply, and its velocity limits where tighter; empty: none")
    max_future_start_s: float = _f(1.0, "commander refuses a stamped trajectory that starts more than this far in "
                                         "the future, s (one ending in the past is always refused)", ge=0.0)
    path_tolerance: float = _f(0.3, "commander stops and holds when a joint stays further than this from the "
                                    "streamed target for path_tolerance_time_s, rad (0: not enforced)", ge=0.0)
    path_tolerance_time_s: float = _f(0.25, "how long a joint may be outside path_tolerance before the commander "
                                            "stops, s", ge=0.0)
    goal_tolerance: float = _f(0.05, "commander reports an ERROR and holds when a joint ends further than this from "
                                     "the last point after settle_s, rad (0: not enforced)", ge=0.0)
    joint_path_tolerance: list = _f([], "commander: per-joint path tolerances as joint_name:rad entries (JTC's "
                                        "constraints.<joint>.trajectory); others use path_tolerance", item=str)
    joint_goal_tolerance: list = _f([], "commander: per-joint goal tolerances as joint_name:rad entries (JTC's "
                                        "constraints.<joint>.goal); others use goal_tolerance", item=str)
    arm_controller_topic: str = _f("/arm_controller/joint_trajectory", "ros2_control target: the arm's "
                                   "joint_trajectory_controller topic (every joint but gripper_joints)", min_length=1)
    gripper_controller_topic: str = _f("/gripper_controller/joint_trajectory", "ros2_control target: the gripper "
                                       "controller's JointTrajectory topic for gripper_joints; empty: they are not "
                                       "sent")
    gripper_joints: list = _f(["finger_joint_left", "finger_joint_right"], "ros2_control target: model joints "
                              "sent to the gripper controller, not the arm controller", item=str)
    model_joints: list = _f([], "ros2_control target: the model's joint names, as its trajectories name them; "
                                "empty: the embedded arm's (another robot's model: its dataset's joint names)",
                            item=str)
    joint_name_map: list = _f([], "ros2_control target: model_name:robot_name entries renaming the model's joints "
                                  "for the robot (trajectories, /joint_states, limits); unlisted joints keep their "
                                  "names", item=str)
    joint_limits_lower: list = _f([], "ros2_control target: lower position limit per model joint, rad; empty: "
                                      "limits come from /robot_description", item=float)
    joint_limits_upper: list = _f([], "ros2_control target: upper position limit per model joint, rad (with "
                                      "joint_limits_lower and joint_limits_velocity)", item=float)
    joint_limits_velocity: list = _f([], "ros2_control target: velocity limit per model joint, rad/s (with "
                                         "joint_limits_lower and joint_limits_upper)", item=float, gt=0.0)
    trajectory_interface: str = _f("topic", "ros2_control target: the arm controller's topic, or its "
                                            "FollowJointTrajectory action (needs control_msgs)",
                                   choices=("topic", "action"))
    arm_controller_action: str = _f("/arm_controller/follow_joint_trajectory", "ros2_control target with "
                                    "trajectory_interface action: the arm controller's action", min_length=1)
    action_timeout_s: float = _f(2.0, "ros2_control target with trajectory_interface action: how long the "
                                      "controller has to answer a goal, and to send its result after the "
                                      "trajectory's end and settle_s, s; then the goal counts as unanswered "
                                      "(and is cancelled)", gt=0.0)
    joint_state_rate: float = _f(100.0, "sim's /joint_states rate, Hz", gt=0.0)
    block_pose_rate: float = _f(10.0, "sim's /sim/block_pose rate, Hz", gt=0.0)
    publish_clock: bool = _f(False, "sim publishes /clock from simulated time (pair with use_sim_time elsewhere)")
    lockstep: bool = _f(False, "sim steps its physics by one 1/joint_state_rate period per /joint_command "
                               "received, not in real time: reproducible teaching runs (latent-nodes teach)")
    perception_source: str = _f("sim", "where perception reads the block: sim (/sim/block_pose, the truth) | list | "
                                       "camera (finds it in /camera/color/image_raw: docs/camera.md)",
                                choices=("sim", "list", "camera"))
    perception_use_depth: bool = _f(False, "source camera: place the block from /camera/depth/image_raw when a depth "
                                          "image with the colour image's stamp has arrived (else the ray meets the "
                                          "block-top plane)")
    perception_min_visible: float = _f(0.9, "source camera: refuse a block whose visible area is below this "
                                             "fraction of a fully visible block's at its place (docs/camera.md)",
                                       gt=0.0, le=1.0)
    perception_camera_pose: list = _f([], "source camera: the optical frame's pose in frame_id, [x, y, z, roll, "
                                          "pitch, yaw] (metres, radians; e.g. from a hand-eye calibration); empty: "
                                          "read from /robot_description", item=float)
    perception_positions: list = _f([], "source list: block positions to cycle, flat [x0, y0, x1, y1, ...] "
                                        "metres in the table frame; empty means the unseen test positions",
                                    item=float, pairs=True)
    perception_noise: float = _f(0.0, "std of seeded noise on perceived block positions, metres", ge=0.0)
    perception_rate: float = _f(0.2, "perception re-publishes the block pose at this rate, Hz (0: never)", ge=0.0)
    perception_min_change: float = _f(0.005, "perception publishes at once when the block moved more than "
                                             "this, metres (0: only at perception_rate)", ge=0.0)
    torch_threads: int = _f(1, "torch threads for inference (1 keeps latency steady on a busy CPU)", ge=1)
    out_of_domain: str = _f("refuse", "a block pose further than domain_margin outside the positions the model "
                                      "was trained on: refuse (nothing published) | warn (complete, log a warning) "
                                      "| allow", choices=("refuse", "warn", "allow"))
    domain_margin: float = _f(DEFAULT_DOMAIN_MARGIN, "metres a block pose may lie outside the trained block "
                                                     "positions before out_of_domain applies", ge=0.0)
    seed: int = _f(0, "seed of perception noise", ge=0, le=SEED_MAX)


@dataclass
class Config:
    """All sections together; what a checkpoint and the YAML files store."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    nodes: NodesConfig = field(default_factory=NodesConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)

    def to_dict(self) -> dict:
        """Plain nested dict (lists, numbers, strings) fit for YAML, JSON and torch checkpoints."""
        return dataclasses.asdict(self)

    def validate(self) -> Config:
        """Check every section against the schema (``validate_section``); returns self, values normalized."""
        for f in fields(self):
            validate_section(getattr(self, f.name), f"{f.name}.")
        return self

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Config:
        """Build and validate from a nested dict; unknown sections or keys are errors, missing ones keep defaults."""
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"a configuration is a mapping of sections ({', '.join(section_names())}), "
                              f"got {show(data)}")
        kwargs = {}
        known = {f.name: f for f in fields(cls)}
        for name, values in data.items():
            if name not in known:
                raise ConfigError(f"unknown config section {name!r}{did_you_mean(name, known)}; "
                                  f"known: {sorted(known)}")
            kwargs[name] = section_from_dict(known[name].default_factory, values, f"{name}.")
        return cls(**kwargs)


def section_names() -> list[str]:
    """The sections of ``Config`` in order (model, train, inference, sim, data, nodes, camera)."""
    return [f.name for f in fields(Config)]


def section_label(section_cls: type) -> str:
    """``"train."`` for TrainConfig: the prefix of its fields' names in messages."""
    for f in fields(Config):
        if f.default_factory is section_cls:
            return f"{f.name}."
    return f"{section_cls.__name__}."


# --- the check ---------------------------------------------------------------------------------------------

_BAD = object()  # what a conversion returns for a value the field refuses
_TYPE_TEXT = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}
_PLURAL = {bool: "booleans", int: "integers", float: "finite numbers", str: "strings"}


def show(value: Any) -> str:
    """A value as a message shows it: numbers in at most six significant digits, long text and lists cut."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        if abs(int(value)) < 10**9:
            return str(int(value))
        try:
            return format(float(value), ".6g")
        except OverflowError:  # beyond a float: say its size, never print its digits
            return f"{'-' if value < 0 else ''}1e+{int(abs(int(value)).bit_length() * math.log10(2))} (about)"
    if isinstance(value, numbers.Real):
        return format(float(value), ".6g")
    if isinstance(value, str):
        return repr(value if len(value) <= 120 else value[:117] + "...")
    if isinstance(value, (list, tuple, array.array)):
        items = [show(v) for v in list(value)[:8]] + (["..."] if len(value) > 8 else [])
        return "[" + ", ".join(items) + "]"
    if value is None:
        return "nothing (null)"
    if isinstance(value, Mapping):
        return "a mapping {" + ", ".join(str(k) for k in list(value)[:4]) + (", ...}" if len(value) > 4 else "}")
    return f"a {type(value).__name__}"


def _kind(f: dataclasses.Field) -> type:
    """The field's value type: bool, int, float, str or list (from its default)."""
    default = field_default(f)
    return list if isinstance(default, list) else type(default)


def _item_kind(f: dataclasses.Field) -> type:
    default = field_default(f)
    return f.metadata.get("item") or (type(default[0]) if default else float)


def _bounds_text(meta: Mapping[str, Any]) -> str:
    parts = [f"{op} {show(meta[key])}" for key, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
             if key in meta]
    return " and ".join(parts)


def expected(f: dataclasses.Field) -> str:
    """What a field accepts, in words (also the ROS descriptor's constraint text)."""
    meta, kind = f.metadata, _kind(f)
    if meta.get("choices"):
        return "one of: " + ", ".join(meta["choices"])
    bounds = _bounds_text(meta)
    if kind is list:
        words = _PLURAL.get(_item_kind(f), "values")
        if "length" in meta:
            text = f"a list of {meta['length']} {words}"
        elif meta.get("min_length"):
            text = f"a non-empty list of {words}"
        else:
            text = f"a list of {words}"
        if meta.get("pairs"):
            text += " (x, y pairs: an even count)"
        return f"{text}, each {bounds}" if bounds else text
    if "pattern" in meta:
        return meta["pattern"][1]
    if kind is str and meta.get("min_length"):
        return "a non-empty string"
    text = _TYPE_TEXT.get(kind, f"a {kind.__name__}")
    return f"{text} {bounds}" if bounds else text


def _scalar(kind: type, value: Any, meta: Mapping[str, Any]) -> Any:
    """``value`` as ``kind`` within the field's bounds and choices, or ``_BAD``."""
    if kind not in _TYPE_TEXT:
        return value  # a kind the schema does not describe (a mapping, say): its users check it
    if kind is bool:
        return value if isinstance(value, bool) else _BAD
    if kind is str:
        if not isinstance(value, str):
            return _BAD
        if meta.get("choices") and value not in meta["choices"]:
            return _BAD
        if len(value) < meta.get("min_length", 0):
            return _BAD
        if "pattern" in meta and not re.fullmatch(meta["pattern"][0], value):
            return _BAD
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return _BAD
    if kind is int:
        if not isinstance(value, numbers.Integral):
            return _BAD  # 2.7 and 3.0 alike: a count is written as an integer
        value = int(value)
        if not -INT64 <= value < INT64:
            return _BAD  # what a ROS parameter, torch and numpy can hold
    else:
        try:
            value = float(value)
        except OverflowError:
            return _BAD
        if not math.isfinite(value):
            return _BAD
    if (("ge" in meta and value < meta["ge"]) or ("gt" in meta and value <= meta["gt"])
            or ("le" in meta and value > meta["le"]) or ("lt" in meta and value >= meta["lt"])):
        return _BAD
    return value


def _convert(f: dataclasses.Field, value: Any) -> Any:
    """The field's value normalized (float for float fields, list for sequences), or ``_BAD``."""
    meta, kind = f.metadata, _kind(f)
    if kind is not list:
        return _scalar(kind, value, meta)
    if not isinstance(value, (list, tuple, array.array)):
        return _BAD
    items = [_scalar(_item_kind(f), v, meta) for v in value]
    if any(v is _BAD for v in items):
        return _BAD
    if ("length" in meta and len(items) != meta["length"]) or len(items) < meta.get("min_length", 0):
        return _BAD
    if meta.get("pairs") and len(items) % 2:
        return _BAD
    return items


def schema_field(section_cls: type, name: str, where: str | None = None) -> dataclasses.Field:
    """The field ``name`` of a section; ``ConfigError`` (with the closest name) if there is none."""
    known = {f.name: f for f in fields(section_cls)}
    if name not in known:
        where = section_label(section_cls) if where is None else where
        hint = did_you_mean(name, known)
        raise ConfigError(f"{where}{name} is unknown" + (hint or f"; known: {', '.join(known)}"))
    return known[name]


def check_field(section_cls: type, name: str, value: Any, where: str | None = None) -> Any:
    """``value`` checked against the schema's field ``section_cls.name``; returns it normalized.

    ``where`` prefixes the name in messages (default ``"<section>."``; the ROS layer passes
    ``"parameter <prefix>"``). Raises ``ConfigError``: ``train.epochs = 2.7: expected an integer >= 1``.
    """
    where = section_label(section_cls) if where is None else where
    f = schema_field(section_cls, name, where)
    converted = _convert(f, value)
    if converted is _BAD:
        rule = expected(f)
        if isinstance(value, numbers.Integral) and not isinstance(value, bool) and abs(int(value)) >= INT64:
            rule += " (a 64-bit integer)"
        raise ConfigError(f"{where}{name} = {show(value)}: expected {rule}")
    return converted


def _increasing(pair: list, name: str) -> str | None:
    if pair[0] >= pair[1]:
        return f"{name} = {show(pair)}: expected [low, high] with low < high"
    return None


def _model_rules(m: ModelConfig, w: str) -> str | None:
    if m.local_dim > m.latent_dim:
        return (f"{w}local_dim = {m.local_dim} exceeds {w}latent_dim = {m.latent_dim}: expected K <= L "
                f"(each behaviour's chart maps R^K into the latent R^L)")
    if any(d >= m.output_dim for d in m.perception_dims):
        return f"{w}perception_dims = {show(m.perception_dims)}: expected indices below {w}output_dim = {m.output_dim}"
    if len(set(m.perception_dims)) != len(m.perception_dims):
        return f"{w}perception_dims = {show(m.perception_dims)}: expected distinct indices (block x, y)"
    if len(m.layer_sizes) != len(m.time_constants):
        return (f"{w}layer_sizes has {len(m.layer_sizes)} layers but {w}time_constants has "
                f"{len(m.time_constants)}: expected one time constant per layer")
    return None


def _sim_rules(s: SimConfig, w: str) -> str | None:
    for name in ("table_x", "table_y", "workspace_x", "workspace_y"):
        problem = _increasing(getattr(s, name), w + name)
        if problem:
            return problem
    for axis in ("x", "y"):
        (lo, hi), (t0, t1) = getattr(s, f"workspace_{axis}"), getattr(s, f"table_{axis}")
        if lo < t0 or hi > t1:
            return (f"{w}workspace_{axis} = {show([lo, hi])} reaches off {w}table_{axis} = {show([t0, t1])}: "
                    f"expected the workspace on the table")
    if s.physics_dt > s.dt:
        return f"{w}physics_dt = {show(s.physics_dt)} exceeds {w}dt = {show(s.dt)}: expected physics_dt <= dt"
    return None


def _camera_rules(c: CameraConfig, w: str) -> str | None:
    forward = [b - a for a, b in zip(c.position, c.look_at)]
    norm = math.sqrt(sum(v * v for v in forward))
    if norm < 1e-3:
        return f"{w}look_at = {show(c.look_at)} is at {w}position: expected a point the camera looks at"
    if math.hypot(forward[0], forward[1]) < 1e-3 * norm:
        return (f"{w}look_at = {show(c.look_at)} is straight above or below {w}position = {show(c.position)}: "
                f"expected a tilted view (the image's up is the table's z)")
    return None


def _nodes_rules(n: NodesConfig, w: str) -> str | None:
    if n.recognition_lower > n.recognition_upper:
        return (f"{w}recognition_lower = {show(n.recognition_lower)}: expected at most recognition_upper "
                f"({show(n.recognition_upper)}): the hysteresis keeps a decision down to lower, never above upper")
    if len(n.perception_camera_pose) not in (0, 6):
        return (f"{w}perception_camera_pose = {show(n.perception_camera_pose)}: expected [] or "
                f"[x, y, z, roll, pitch, yaw]")
    return None


# Rules across the fields of one section: (section, where) -> the problem, or None.
_RULES: dict[type, Callable[[Any, str], str | None]] = {ModelConfig: _model_rules, SimConfig: _sim_rules,
                                                        CameraConfig: _camera_rules, NodesConfig: _nodes_rules}


def validate_section(section: Any, where: str | None = None) -> Any:
    """Check every field of ``section`` (types, ranges, choices) and the rules across its fields.

    Normalizes values in place (an integer in a float field becomes a float, a tuple a list) and
    returns the section; the first problem is a ``ConfigError`` naming the field, its value and the rule.
    """
    section_cls = type(section)
    where = section_label(section_cls) if where is None else where
    for f in fields(section):
        setattr(section, f.name, check_field(section_cls, f.name, getattr(section, f.name), where))
    rule = _RULES.get(section_cls)
    problem = rule(section, where) if rule else None
    if problem:
        raise ConfigError(problem)
    return section


def section_from_dict(section_cls: type, values: Mapping[str, Any] | None, where: str | None = None) -> Any:
    """Build one section from a mapping and validate it; a misspelt key is an error, not a silent default."""
    where = section_label(section_cls) if where is None else where
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise ConfigError(f"section {where.rstrip('.')} is a mapping of its fields, got {show(values)}")
    for key in values:
        schema_field(section_cls, str(key), where)
    return validate_section(section_cls(**values), where)


def did_you_mean(name: Any, known: Any) -> str:
    """`` (did you mean epochs?)`` for the closest of ``known`` names, or nothing."""
    close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML parse error in one line: what and where (PyYAML's own text spans several lines)."""
    mark = getattr(exc, "problem_mark", None)
    what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{what} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else what


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate a YAML config (sections as keys); None gives the defaults."""
    if path is None:
        return Config()
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"config file {path} is a directory, not a YAML file")
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read ({type(exc).__name__}: {exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML ({yaml_problem(exc)})") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections, got {type(data).__name__}")
    try:
        return Config.from_dict(data or {})
    except ConfigError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None


def field_default(f: dataclasses.Field) -> Any:
    """A schema field's default value (a fresh copy for list fields)."""
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


def field_help(section_cls: type) -> dict[str, str]:
    """Field name -> help text, for argparse and ROS parameter descriptors."""
    return {f.name: f.metadata.get("help", "") for f in fields(section_cls)}


def package_share() -> Path:
    """Where the package's data (models/, config/, launch/) lives: the ament share dir or the source tree."""
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("latent_nodes"))
    except (ImportError, LookupError, OSError):  # no ament index, no AMENT_PREFIX_PATH, or not registered
        pass
    installed = Path(sys.prefix) / "share" / "latent_nodes"  # pip install puts data_files here
    if (installed / "models").is_dir():
        return installed
    return Path(__file__).resolve().parent.parent  # a source checkout


def default_model_path() -> Path:
    """The shipped model that the demo and the nodes load when no path is given."""
    return package_share() / "models" / "latent_nodes_default.pt"


# --- the command line --------------------------------------------------------------------------------------

_WORDS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


def argument_type(section_cls: type, name: str, where: str | None = None) -> Callable[[str], Any]:
    """An argparse ``type`` for a field (an element of it, for lists) that refuses what the schema refuses."""
    where = section_label(section_cls) if where is None else where
    f = schema_field(section_cls, name, where)
    kind = _item_kind(f) if _kind(f) is list else _kind(f)

    def parse(text: str) -> Any:
        value: Any = text
        try:
            if kind is bool:
                value = _WORDS.get(text.lower(), text)
            elif kind in (int, float):
                value = kind(text)
        except ValueError:
            pass  # stays a string: refused below with the field's expectation
        checked = _scalar(kind, value, f.metadata)
        if checked is _BAD:
            shown = show(value) if value is not text else text
            verb = "holds" if _kind(f) is list else "="
            raise argparse.ArgumentTypeError(f"{where}{name} {verb} {shown}: expected {expected(f)}")
        return checked

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def add_arguments(parser, section_cls: type, prefix: str = "", aliases: Mapping[str, list[str]] | None = None,
                  only: list[str] | None = None) -> None:
    """Add one ``--<prefix><field>`` option per field of a config section, with its help text.

    An option given on the command line sets its attribute; one not given leaves none (argparse's
    SUPPRESS), meaning "keep the value from the config file or the schema's default", so a YAML file and
    the command line compose, and the help shows each default once. Values are checked by the schema as
    they are parsed (``argument_type``); rules across fields by ``Config.validate`` once all are in.
    ``aliases`` maps a field to extra option strings.
    """
    aliases = aliases or {}
    group = parser.add_argument_group(section_cls.__name__)
    for f in fields(section_cls):
        if only is not None and f.name not in only:
            continue
        default = field_default(f)
        names = [f"--{prefix}{f.name}".replace("_", "-")] + list(aliases.get(f.name, []))
        kw: dict[str, Any] = {"dest": f"{prefix}{f.name}", "default": argparse.SUPPRESS,
                              "help": f"{f.metadata.get('help', '')} (default: {default})",
                              "type": argument_type(section_cls, f.name)}
        if isinstance(default, list):
            kw["nargs"] = "+"
        if f.metadata.get("choices"):
            kw["choices"] = list(f.metadata["choices"])
        group.add_argument(*names, **kw)


def apply_arguments(section: Any, args: Any, prefix: str = "") -> None:
    """Copy the options given on the command line into a config section (validate the whole config after)."""
    for f in fields(section):
        value = getattr(args, f"{prefix}{f.name}", None)
        if value is not None:
            setattr(section, f.name, value)
