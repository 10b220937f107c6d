"""The one configuration schema of latent_nodes.

Every knob lives in a dataclass here. The train command builds its arguments from these fields, the
ROS nodes declare their parameters from them (with the field's help text as the description), the
YAML files under ``config/`` hold values for them, and the tests construct them directly. A field's
``metadata["help"]`` says what it does; defaults are justified in ``docs/method.md``.

Nothing here imports torch or rclpy, so any layer can read the schema cheaply.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

# Cases of the paper's Table I, selected by one switch.
CASE_NO_EMBEDDING = "no-embedding"
CASE_EMBEDDING = "embedding"
CASE_REGULARIZED = "embedding+regularization"
CASES = (CASE_NO_EMBEDDING, CASE_EMBEDDING, CASE_REGULARIZED)

# The two behaviours of the paper, in label order.
BEHAVIOURS = ("reach", "reach_circle")


def _f(default: Any, help: str, **kw: Any) -> Any:
    """A dataclass field with a help text (used for argparse and ROS parameter descriptions)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class ModelConfig:
    """Shape of the deterministic PVRNN and the per-behaviour embeddings."""

    latent_dim: int = _f(4, "L: dimension of the shared latent z (the paper uses 4)")
    local_dim: int = _f(2, "K: dimension of each behaviour's local coordinates xi (the paper uses 2)")
    output_dim: int = _f(11, "O: outputs per step, 9 joint angles + block x, y")
    perception_dims: list = _f([9, 10], "indices of the perception (block x, y) inside an output vector")
    seq_len: int = _f(20, "T: time steps per behaviour (20 at 0.1 s in the paper)")
    layer_sizes: list = _f([64, 32, 16], "PVRNN layer widths, bottom (fast) to top (slow)")
    time_constants: list = _f([2.0, 4.0, 8.0], "leaky-integrator time constant per layer, bottom to top")
    embedding_hidden: int = _f(32, "hidden width of each behaviour's embedding MLP m_p: R^K -> R^L")
    n_patterns: int = _f(2, "number of behaviours (patterns) with their own initial states and chart")
    case: str = _f(CASE_REGULARIZED, "Table I case: no-embedding | embedding | embedding+regularization",
                   choices=CASES)


@dataclass
class TrainConfig:
    """Offline training: the paper's full loss with Adam on mini-batches."""

    epochs: int = _f(4000, "passes over the training set")
    batch_size: int = _f(25, "mini-batch size (samples of both behaviours mixed)")
    lr: float = _f(1e-2, "Adam learning rate for weights, embeddings and local coordinates")
    lr_final: float = _f(0.03, "cosine decay of the learning rate to lr * lr_final at the last epoch (1 = constant)")
    grad_clip: float = _f(1.0, "clip the gradient's global norm to this (0 = no clipping)")
    reg_weight: float = _f(1.0, "lambda: weight of the conformal regularizer L_perp")
    n_mc: int = _f(4, "n_MC: Monte-Carlo draws of orthogonal direction pairs per sample")
    seed: int = _f(0, "seed for initialisation, batching and the regularizer's draws")
    device: str = _f("cpu", "torch device: cpu or cuda")
    log_every: int = _f(1, "write a log row every N epochs")
    checkpoint_every: int = _f(500, "write a checkpoint every N epochs (and always at the end)")
    out_dir: str = _f("runs/latest", "directory for checkpoints, logs and plots")


@dataclass
class InferenceConfig:
    """Latent inference (the paper's Eq. 2, generalised to any observation mask)."""

    steps: int = _f(30, "fixed step budget of the descent")
    n_starts: int = _f(8, "starting points, taken from the behaviour's training coordinates, run as one batch")
    method: str = _f("gauss-newton", "gauss-newton (damped, K Jacobian-vector products a step) or adam",
                     choices=("gauss-newton", "adam"))
    lr: float = _f(0.05, "step size for the adam method")
    damping: float = _f(1e-3, "Levenberg-Marquardt damping of the gauss-newton method (relative)")
    warm_start: bool = _f(True, "one-glimpse completions start from a map of block position to xi fitted on the "
                                "training samples, with a few steps; the multi-start search only if that does not "
                                "converge (same answers within 1e-6 rad, docs/online.md)")


@dataclass
class SimConfig:
    """The embedded MuJoCo world: table, block workspace and control timing."""

    table_x: list = _f([0.20, 0.80], "table surface extent along x, metres in the table frame")
    table_y: list = _f([-0.45, 0.45], "table surface extent along y, metres in the table frame")
    workspace_x: list = _f([0.35, 0.60], "block workspace (reachable part of the table) along x")
    workspace_y: list = _f([-0.20, 0.20], "block workspace along y")
    block_size: float = _f(0.04, "edge of the red block, metres")
    dt: float = _f(0.1, "seconds between behaviour steps (the paper's 100 ms)")
    physics_dt: float = _f(0.002, "MuJoCo integration step, seconds")


@dataclass
class DataConfig:
    """Demonstrations: the paper's Fig. 3 grid of train positions with test positions in between."""

    train_grid: list = _f([5, 5], "training block positions: a grid of nx x ny over the workspace")
    test_grid: list = _f([4, 4], "unseen test positions: an nx x ny grid spanning the training grid's cell "
                                 "centres (one less than train_grid: exactly the centres); 0 0 for none")
    perturbation: float = _f(0.002, "std of the seeded perturbation of scripted waypoints, metres")
    hover_height: float = _f(0.04, "fingertip height above the block's top at the end of the approach, metres")
    circle_radius: float = _f(0.04, "radius of behaviour 2's circle around the block's vertical axis, metres")
    seed: int = _f(0, "seed of the demonstration generator")
    dataset_path: str = _f("", "dataset file; empty means generate the default dataset")


@dataclass
class NodesConfig:
    """Runtime settings of the ROS 2 graph."""

    model_path: str = _f("", "checkpoint to load; empty means the shipped model in models/")
    behaviour: str = _f(BEHAVIOURS[0], "behaviour to complete: reach | reach_circle", choices=BEHAVIOURS)
    frame_id: str = _f("table", "frame of block poses: the table plane the model was trained in")
    target: str = _f("embedded", "where the commander sends joints: embedded | coppeliasim",
                     choices=("embedded", "coppeliasim"))
    max_joint_velocity: float = _f(2.0, "commander's velocity limit, rad/s, per joint")
    stale_feedback_s: float = _f(0.5, "commander stops if /joint_states is older than this")
    command_rate: float = _f(50.0, "commander's rate of joint targets on /joint_command, Hz")
    settle_s: float = _f(0.5, "commander holds the last point this long, then reports the tracking error")
    joint_state_rate: float = _f(100.0, "sim's /joint_states rate, Hz")
    block_pose_rate: float = _f(10.0, "sim's /sim/block_pose rate, Hz")
    publish_clock: bool = _f(False, "sim publishes /clock from simulated time (pair with use_sim_time elsewhere)")
    perception_source: str = _f("sim", "where perception reads the block: sim (/sim/block_pose) | list",
                                choices=("sim", "list"))
    perception_positions: list = _f([], "source list: block positions to cycle, flat [x0, y0, x1, y1, ...] "
                                        "metres in the table frame; empty means the unseen test positions")
    perception_noise: float = _f(0.0, "std of seeded noise on perceived block positions, metres")
    perception_rate: float = _f(0.2, "perception re-publishes the block pose at this rate, Hz (0: never)")
    perception_min_change: float = _f(0.005, "perception publishes at once when the block moved more than "
                                             "this, metres (0: only at perception_rate)")
    torch_threads: int = _f(1, "torch threads for inference (1 keeps latency steady on a busy CPU)")
    seed: int = _f(0, "seed of perception noise")


@dataclass
class Config:
    """All sections together; what a checkpoint and the YAML files store."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    nodes: NodesConfig = field(default_factory=NodesConfig)

    def to_dict(self) -> dict:
        """Plain nested dict (lists, numbers, strings) fit for YAML, JSON and torch checkpoints."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        """Build from a nested dict; unknown sections or keys are errors, missing ones keep defaults."""
        kwargs = {}
        known = {f.name: f for f in fields(cls)}
        for name, values in (data or {}).items():
            if name not in known:
                raise ValueError(f"unknown config section {name!r}; known: {sorted(known)}")
            kwargs[name] = section_from_dict(known[name].default_factory, values or {})
        return cls(**kwargs)


def section_from_dict(section_cls: type, values: Mapping[str, Any]) -> Any:
    """Build one section, checking key names and choices so a typo is an error, not a silent default."""
    names = {f.name: f for f in fields(section_cls)}
    unknown = set(values) - set(names)
    if unknown:
        raise ValueError(f"unknown {section_cls.__name__} keys {sorted(unknown)}; known: {sorted(names)}")
    for key, value in values.items():
        choices = names[key].metadata.get("choices")
        if choices and value not in choices:
            raise ValueError(f"{section_cls.__name__}.{key} = {value!r}; expected one of {list(choices)}")
    return section_cls(**values)


def load_config(path: str | Path | None = None) -> Config:
    """Read a YAML config (sections as keys); None gives the defaults."""
    if path is None:
        return Config()
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"config file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"config file {path} is not valid YAML: {exc}") from None
    if data is not None and not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a mapping of sections, got {type(data).__name__}")
    return Config.from_dict(data or {})


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


def add_arguments(parser, section_cls: type, prefix: str = "", aliases: Mapping[str, list[str]] | None = None,
                  only: list[str] | None = None) -> None:
    """Add one ``--<prefix><field>`` option per field of a config section, with its help text.

    Options default to None, meaning "keep the value from the config file or the schema's default", so a
    YAML file and the command line compose. ``aliases`` maps a field to extra option strings.
    """
    aliases = aliases or {}
    group = parser.add_argument_group(section_cls.__name__)
    for f in fields(section_cls):
        if only is not None and f.name not in only:
            continue
        default = field_default(f)
        names = [f"--{prefix}{f.name}".replace("_", "-")] + list(aliases.get(f.name, []))
        kw: dict[str, Any] = {"dest": f"{prefix}{f.name}", "default": None,
                              "help": f"{f.metadata.get('help', '')} (default: {default})"}
        if isinstance(default, list):
            kw.update(nargs="+", type=type(default[0]) if default else str)
        elif isinstance(default, bool):
            kw.update(type=lambda s: s.lower() in ("1", "true", "yes", "on"))
        else:
            kw.update(type=type(default))
        if f.metadata.get("choices"):
            kw["choices"] = list(f.metadata["choices"])
        group.add_argument(*names, **kw)


def apply_arguments(section: Any, args: Any, prefix: str = "") -> None:
    """Copy the options given on the command line (not None) into a config section."""
    for f in fields(section):
        value = getattr(args, f"{prefix}{f.name}", None)
        if value is not None:
            setattr(section, f.name, value)
