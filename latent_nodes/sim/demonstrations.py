"""Scripted demonstrations of the paper's two behaviours and a third, run and recorded in the simulator.

For a block position and a behaviour, a script lays out the fingertip's path (home -> approach -> [a full
circle around the block, for ``reach_circle``; two taps, for ``double_tap``] -> home) and the gripper's
opening, turns it into joint targets with inverse kinematics at the control rate, streams those to the
simulated arm's servos, and records what the arm *actually* did: 9 joint angles plus the block's (x, y) every
``SimConfig.dt`` seconds, T = 20 steps. The recorded angles therefore carry the servo's real lag and
smoothing, like the paper's recordings of a Torobo Arm in CoppeliaSim.

Timeline over the 1.9 s between the first and last recorded step (fractions of it in ``PHASES``):

- ``reach``: approach along an arc to hover ``hover_height`` above the block with the fingers opening,
  dwell, return home in joint space with the fingers closing, hold.
- ``reach_circle``: approach to the circle's start (the side of the block facing the arm), one full
  counter-clockwise turn of radius ``circle_radius`` around the block's vertical axis at hover height,
  return home, hold.
- ``double_tap``: approach to hover above the block with the fingers nearly closed, dip twice to
  ``MIN_CLEARANCE`` above its top (a tap that never touches it, so the block stays where perception saw
  it), return home, hold. Not one of the paper's behaviours: a third one, so that datasets of more than
  two (and user-named) behaviours can be made and taught (``latent-nodes teach --behaviours NAME=SCRIPT``).

Every behaviour starts at ``arm.HOME`` and ends there. ``generate_dataset`` makes the paper's two
(``config.BEHAVIOURS``) unless given others of ``DEMONSTRATIONS``; a sample's seed holds its behaviour's
index in ``DEMONSTRATIONS``, so adding a behaviour leaves the others' samples as they were.

A seeded perturbation (sigma = ``DataConfig.perturbation``, metres; normal draws truncated at 2 sigma) moves
the approach arc's via point (2 sigma per axis, 1 sigma vertically), the hover height (sigma / 2), the hover
point (sigma / 2 per axis), and the circle's centre and radius (sigma / 4), so that no two samples are
perfectly regular; ``rng=None`` gives the clean script. ``double_tap`` draws the same numbers as ``reach``.

Block positions follow the paper's Fig. 3: a grid of training positions over the workspace and unseen
test positions in between (``train_test_positions``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import mujoco
import numpy as np

from latent_nodes.config import BEHAVIOURS, DataConfig, SimConfig
from latent_nodes.data.dataset import FORMAT_VERSION, Dataset
from latent_nodes.sim import arm, kinematics
from latent_nodes.sim.simulator import ArmSimulator

STEPS = 20  # T: recorded steps per demonstration (the paper's 20 at 100 ms; ModelConfig.seq_len)
CONTROL_RATE = 100.0  # Hz: joint targets streamed to the servos while a script runs
VIA_LIFT = 0.02  # the approach arc's control point sits this far above the straight line's midpoint, metres
MIN_CLEARANCE = 0.015  # the fingertips never go lower than this above the block's top, metres

# Phase boundaries as fractions of the scripted duration (T - 1) * dt.
PHASES = {
    "reach": {"approach": (0.0, 0.45), "return": (0.52, 0.96)},
    "reach_circle": {"approach": (0.0, 0.28), "circle": (0.28, 0.68), "return": (0.68, 0.97)},
    "double_tap": {"approach": (0.0, 0.30), "tap": (0.32, 0.66), "return": (0.70, 0.97)},
}
# Finger opening (rad) at the block: wide for the pre-grasp of ``reach``, half open while circling,
# nearly closed to tap with the fingertips.
FINGER_OPEN = {"reach": 0.45, "reach_circle": 0.30, "double_tap": 0.12}
# Every behaviour the demonstrator can script, in the order of their seed index (``sample_rng``).
DEMONSTRATIONS = (*BEHAVIOURS, "double_tap")


def cruise(s: float, ramp: float = 0.3) -> float:
    """Time scaling on [0, 1]: speed rises smoothly (raised cosine) over the first ``ramp``, stays constant,
    falls over the last ``ramp``; zero speed and acceleration at both ends.

    Its peak speed is 1/(1 - ramp) = 1.4x the mean, where a minimum-jerk profile needs 1.9x: the
    paper's behaviours fit approach, circle and return into 2 s, and this keeps the joints' peak speeds
    a quarter lower for the same path.
    """
    s = min(max(s, 0.0), 1.0)
    v = 1.0 / (1.0 - ramp)  # cruise speed, so that the whole profile covers exactly 1
    if s < ramp:  # speed rises as v (1 - cos(pi s / ramp)) / 2
        return v / 2 * (s - ramp / math.pi * math.sin(math.pi * s / ramp))
    if s > 1.0 - ramp:
        return 1.0 - cruise(1.0 - s, ramp)
    return v * (s - ramp / 2)


def _phase(t: float, span: tuple[float, float]) -> float:
    """Progress 0..1 of a phase at time fraction ``t`` (0 before it, 1 after it)."""
    a, b = span
    return cruise((t - a) / (b - a))


def train_test_positions(data_cfg: DataConfig | None = None, sim_cfg: SimConfig | None = None
                         ) -> tuple[np.ndarray, np.ndarray]:
    """(train_xy [Ntr, 2], test_xy [Nte, 2]) block positions, metres in the table frame (Fig. 3).

    Training positions form a ``train_grid`` nx x ny grid spanning the whole workspace (corners
    included). Test positions form a ``test_grid`` grid spanning the training grid's cell centres: with
    one less per axis (the default 4 x 4 for 5 x 5) they are exactly the cell centres, each equally far
    from its four training neighbours. Rows run along x (away from the arm), then y.
    """
    data_cfg = data_cfg or DataConfig()
    sim_cfg = sim_cfg or SimConfig()
    nx, ny = _grid(data_cfg.train_grid, "train_grid", minimum=2)
    mx, my = _grid(data_cfg.test_grid, "test_grid", minimum=0)
    (x0, x1), (y0, y1) = sim_cfg.workspace_x, sim_cfg.workspace_y
    if not (x0 < x1 and y0 < y1):
        raise ValueError(f"workspace must be increasing, got workspace_x={sim_cfg.workspace_x}, "
                         f"workspace_y={sim_cfg.workspace_y}")
    xs, ys = np.linspace(x0, x1, nx), np.linspace(y0, y1, ny)
    train = np.stack(np.meshgrid(xs, ys, indexing="ij"), axis=-1).reshape(-1, 2)
    hx, hy = (x1 - x0) / (nx - 1), (y1 - y0) / (ny - 1)
    if mx == 0 or my == 0:
        test = np.zeros((0, 2))
        return (random_layout(len(train), test, sim_cfg, data_cfg.seed) if _layout(data_cfg) == "random"
                else train), test

    def inner(lo: float, hi: float, n: int) -> np.ndarray:
        return np.array([(lo + hi) / 2]) if n == 1 else np.linspace(lo, hi, n)

    tx, ty = inner(x0 + hx / 2, x1 - hx / 2, mx), inner(y0 + hy / 2, y1 - hy / 2, my)
    test = np.stack(np.meshgrid(tx, ty, indexing="ij"), axis=-1).reshape(-1, 2)
    if _layout(data_cfg) == "random":
        train = random_layout(len(train), test, sim_cfg, data_cfg.seed)
    gap = np.min(np.linalg.norm(test[:, None, :] - train[None, :, :], axis=-1))
    if gap < 1e-3:
        raise ValueError(f"test_grid {data_cfg.test_grid} puts a test position on a training position of "
                         f"train_grid {data_cfg.train_grid}; unseen positions must lie between training "
                         f"positions (use one less than train_grid per axis, or an even number)")
    return train, test


# A random layout keeps its draws this far from the test positions and from each other, metres: a
# draw on top of a test position would make that position seen, and two coinciding draws one sample.
LAYOUT_MIN_GAP = 0.01


def _layout(data_cfg: DataConfig) -> str:
    layout = getattr(data_cfg, "train_layout", "grid")
    if layout not in ("grid", "random"):
        raise ValueError(f"DataConfig.train_layout must be grid or random, got {layout!r}")
    return layout


def random_layout(count: int, test_xy: np.ndarray, sim_cfg: SimConfig, seed: int) -> np.ndarray:
    """[count, 2] training positions: the workspace's 4 corners, then seeded uniform draws over it.

    The corners keep the training region (the hull) the grid's, so the grid's test positions stay
    interpolation and the layouts differ only inside. Draws closer than ``LAYOUT_MIN_GAP`` to a test
    position or an earlier position are redrawn. Rows are in draw order (corners first).
    """
    (x0, x1), (y0, y1) = sim_cfg.workspace_x, sim_cfg.workspace_y
    if count < 4:
        raise ValueError(f"a random layout needs at least the 4 workspace corners, got {count} positions")
    rng = np.random.default_rng([int(seed), 3])  # its own stream: the samples' draws are untouched
    points = [np.array(c, dtype=np.float64) for c in ((x0, y0), (x0, y1), (x1, y0), (x1, y1))]
    taken = list(points) + [np.asarray(p, dtype=np.float64) for p in np.asarray(test_xy).reshape(-1, 2)]
    for _ in range(1000 * count):
        if len(points) == count:
            break
        p = rng.uniform((x0, y0), (x1, y1))
        if min(np.linalg.norm(p - q) for q in taken) >= LAYOUT_MIN_GAP:
            points.append(p)
            taken.append(p)
    if len(points) < count:
        raise ValueError(f"cannot place {count} positions {LAYOUT_MIN_GAP} m apart in the workspace")
    return np.stack(points)


def hull_positions(train_xy: np.ndarray, count: int, seed: int) -> np.ndarray:
    """[count, 2] positions drawn uniformly over the convex hull of the training positions (seeded).

    Rejection from the bounding box with a Delaunay triangulation as the inside test: an unseen
    position anywhere inside the trained region, not a grid's cell centre.
    """
    from scipy.spatial import Delaunay

    train_xy = np.asarray(train_xy, dtype=np.float64)
    tri = Delaunay(train_xy)
    lo, hi = train_xy.min(axis=0), train_xy.max(axis=0)
    rng = np.random.default_rng([int(seed), 4])
    out: list[np.ndarray] = []
    while len(out) < count:
        p = rng.uniform(lo, hi, size=(4 * count, 2))
        out += list(p[tri.find_simplex(p) >= 0])
    return np.stack(out[:count])


# Validation positions keep this far from every training and test position, metres: thresholds chosen on
# them must not have seen the positions they are scored on (nor the ones the model was fitted to).
VALIDATION_MIN_GAP = 0.01


def validation_positions(count: int, seed: int, data_cfg: DataConfig | None = None, sim_cfg: SimConfig | None = None,
                         min_gap: float = VALIDATION_MIN_GAP) -> np.ndarray:
    """[count, 2] seeded positions inside the training hull, at least ``min_gap`` m from training and test.

    Neither training nor test positions: what a threshold is calibrated on (e.g. recognition's,
    ``benchmarks/recognition_calibration.py``), so the test positions stay unseen until scored once.
    Drawn uniformly over the hull (``hull_positions``'s way) and from each other ``min_gap`` apart.
    """
    from scipy.spatial import Delaunay

    if count < 1 or min_gap < 0:
        raise ValueError(f"validation positions need count >= 1 and min_gap >= 0, got {count}, {min_gap}")
    train_xy, test_xy = train_test_positions(data_cfg, sim_cfg)
    tri = Delaunay(train_xy)
    lo, hi = train_xy.min(axis=0), train_xy.max(axis=0)
    rng = np.random.default_rng([int(seed), 6])  # its own stream, apart from the layouts' (3, 4, 5)
    taken = np.concatenate([train_xy, test_xy.reshape(-1, 2)])
    out: list[np.ndarray] = []
    for _ in range(1000 * count):
        if len(out) == count:
            break
        p = rng.uniform(lo, hi)
        others = np.concatenate([taken, np.reshape(out, (-1, 2))])
        if tri.find_simplex(p[None])[0] >= 0 and np.min(np.linalg.norm(others - p, axis=1)) >= min_gap:
            out.append(p)
    if len(out) < count:
        raise ValueError(f"cannot place {count} validation positions {min_gap} m from training, test and each other")
    return np.stack(out)


def band_positions(train_xy: np.ndarray, count: int, inner: float, outer: float, seed: int) -> np.ndarray:
    """[count, 2] positions whose distance to the training positions' hull lies in [inner, outer] metres.

    Drawn uniformly over that band (rejection from the hull's bounding box grown by ``outer``;
    ``latent_nodes.inference.domain.hull_distance`` measures the distance): extrapolation just outside the region.
    """
    from latent_nodes.inference.domain import hull_distance

    if not 0 <= inner < outer:
        raise ValueError(f"band needs 0 <= inner < outer, got inner={inner}, outer={outer}")
    train_xy = np.asarray(train_xy, dtype=np.float64)
    lo, hi = train_xy.min(axis=0) - outer, train_xy.max(axis=0) + outer
    rng = np.random.default_rng([int(seed), 5])
    out: list[np.ndarray] = []
    while len(out) < count:
        p = rng.uniform(lo, hi)
        if inner <= hull_distance(train_xy, p) <= outer:
            out.append(p)
    return np.stack(out)


def _grid(value, name: str, minimum: int) -> tuple[int, int]:
    try:
        nx, ny = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"DataConfig.{name} must be two integers nx ny, got {value!r}") from None
    if nx < minimum or ny < minimum or (nx == 0) != (ny == 0):
        raise ValueError(f"DataConfig.{name} must be two integers >= {minimum}"
                         f"{' (or 0 0)' if minimum == 0 else ''}, got {list(value)}")
    return nx, ny


@dataclasses.dataclass(frozen=True)
class Script:
    """Waypoints of one scripted demonstration (after perturbation), table frame, metres."""

    behaviour: str
    home: np.ndarray  # [3] fingertip at HOME
    via: np.ndarray  # [3] control point of the approach arc
    hover: np.ndarray  # [3] end of the approach: above the block, or the circle's start
    centre: np.ndarray  # [3] circle centre (at hover height)
    radius: float
    start_angle: float  # circle start, radians about +z from the table's x axis
    duration: float  # seconds from the first to the last recorded step
    tap_depth: float = 0.0  # how far each tap dips below the hover point (double_tap), metres

    def fingertip(self, t: float) -> np.ndarray | None:
        """Cartesian fingertip target at time ``t`` (seconds), or None in the joint-space return phase."""
        f = t / self.duration
        phases = PHASES[self.behaviour]
        a, _ = phases["return"]
        if f >= a:
            return None
        s = _phase(f, phases["approach"])
        point = (1 - s) ** 2 * self.home + 2 * (1 - s) * s * self.via + s**2 * self.hover  # quadratic Bezier
        if "circle" in phases and f >= phases["circle"][0]:
            angle = self.start_angle + 2 * math.pi * _phase(f, phases["circle"])
            point = self.centre + self.radius * np.array([math.cos(angle), math.sin(angle), 0.0])
        if "tap" in phases and f >= phases["tap"][0]:
            # Two dips of depth ``tap_depth``: (1 - cos 4 pi s) / 2 is 0 at hover, 1 at s = 1/4 and 3/4.
            s = _phase(f, phases["tap"])
            point = self.hover - np.array([0.0, 0.0, self.tap_depth * (1 - math.cos(4 * math.pi * s)) / 2])
        return point

    def fingers(self, t: float) -> float:
        """Finger angle target (both fingers) at time ``t``: open on the approach, closed on the return."""
        f = t / self.duration
        phases = PHASES[self.behaviour]
        opening = _phase(f, phases["approach"]) - _phase(f, phases["return"])
        return float(arm.HOME[7] + (FINGER_OPEN[self.behaviour] - arm.HOME[7]) * opening)


def make_script(behaviour: str, block_xy: np.ndarray, rng: np.random.Generator | None, sim_cfg: SimConfig,
                data_cfg: DataConfig, steps: int = STEPS) -> Script:
    """Waypoints for ``behaviour`` at ``block_xy``, perturbed by ``rng`` (None: the clean script)."""
    if behaviour not in DEMONSTRATIONS:
        raise ValueError(f"unknown behaviour {behaviour!r}; the demonstrator scripts {list(DEMONSTRATIONS)}")
    if data_cfg.perturbation < 0 or data_cfg.circle_radius <= 0 or data_cfg.hover_height < MIN_CLEARANCE:
        raise ValueError(f"need perturbation >= 0, circle_radius > 0 and hover_height >= {MIN_CLEARANCE} m, got "
                         f"{data_cfg.perturbation}, {data_cfg.circle_radius}, {data_cfg.hover_height}")
    bx, by = (float(v) for v in block_xy)
    sigma = data_cfg.perturbation

    def noise(*scale: float) -> np.ndarray:
        # Normal draws truncated at 2 sigma, so that no sample is an outlier of the behaviour. Always
        # drawn, so the stream of draws (and every later sample) does not depend on sigma.
        draw = rng.standard_normal(len(scale)) if rng is not None else np.zeros(len(scale))
        return sigma * np.asarray(scale) * np.clip(draw, -2.0, 2.0)

    home = kinematics.forward_kinematics(arm.HOME)
    top = sim_cfg.block_size
    height = max(top + data_cfg.hover_height + float(noise(0.5)[0]), top + MIN_CLEARANCE)
    centre = np.array([bx, by, height])
    centre[:2] += noise(0.25, 0.25)
    hover_reach = np.array([bx, by, height]) + np.r_[noise(0.5, 0.5), 0.0]
    radius = max(data_cfg.circle_radius + float(noise(0.25)[0]), 0.5 * data_cfg.circle_radius)
    # The circle starts on the side of the block facing the arm's base (-x), a direction fixed in the
    # table frame. (Facing the home fingertip instead flips by up to 180 degrees between neighbouring
    # block positions under home, which makes the behaviour a discontinuous function of the position.)
    start_angle = math.pi
    hover = (centre + radius * np.array([math.cos(start_angle), math.sin(start_angle), 0.0])
             if behaviour == "reach_circle" else hover_reach)
    # The approach bows slightly upwards: its via point is lifted above the midpoint.
    via = (home + hover) / 2 + np.array([0.0, 0.0, VIA_LIFT]) + noise(1.0, 1.0, 1.0)
    # A tap comes down to MIN_CLEARANCE above the block's top: close, never touching it.
    tap_depth = max(0.0, float(hover[2]) - (top + MIN_CLEARANCE)) if behaviour == "double_tap" else 0.0
    return Script(behaviour=behaviour, home=home, via=via, hover=hover, centre=centre, radius=radius,
                  start_angle=start_angle, duration=(steps - 1) * sim_cfg.dt, tap_depth=tap_depth)


def joint_references(script: Script) -> np.ndarray:
    """[K + 1, 9] joint targets at the control rate over the script's duration (IK along the path)."""
    ticks = int(round(script.duration * CONTROL_RATE))
    refs = np.zeros((ticks + 1, len(arm.JOINT_NAMES)))
    q = arm.HOME.copy()
    q_return: np.ndarray | None = None
    t_return = PHASES[script.behaviour]["return"]
    for k in range(ticks + 1):
        t = k / CONTROL_RATE
        point = script.fingertip(t)
        if point is not None:
            q = kinematics.inverse_kinematics(point, q)
        else:
            # Home in joint space: a natural stowing motion that ends exactly at HOME.
            if q_return is None:
                q_return = q.copy()
            s = _phase(t / script.duration, t_return)
            q = (1 - s) * q_return + s * arm.HOME
        q[7:] = script.fingers(t)
        refs[k] = q
    return refs


def generate_demonstration(behaviour: str, block_xy, rng: np.random.Generator | None = None,
                           sim_cfg: SimConfig | None = None, data_cfg: DataConfig | None = None, *,
                           steps: int = STEPS, simulator: ArmSimulator | None = None,
                           on_step: Callable[[int, ArmSimulator], None] | None = None) -> np.ndarray:
    """[T, 11] one recorded demonstration: 9 joint angles then block (x, y), every ``sim_cfg.dt`` seconds.

    Runs the script in ``simulator`` (a fresh one if None; reusing one saves the model build) from HOME
    with the block placed at ``block_xy``; ``on_step(k, sim)`` is called at each recorded step, e.g.
    to render a frame. ``rng`` draws the waypoint perturbation (None: none).
    """
    sim_cfg = sim_cfg or SimConfig()
    data_cfg = data_cfg or DataConfig()
    if steps < 2:
        raise ValueError(f"a demonstration needs at least 2 steps, got {steps}")
    xy = np.asarray(block_xy, dtype=np.float64).reshape(-1)
    if xy.shape != (2,):
        raise ValueError(f"block_xy must be (x, y), got {block_xy!r}")
    record_every = sim_cfg.dt * CONTROL_RATE
    if abs(record_every - round(record_every)) > 1e-9:
        raise ValueError(f"SimConfig.dt = {sim_cfg.dt} s must be a multiple of the {1 / CONTROL_RATE} s control period")
    record_every = int(round(record_every))
    sim = simulator or ArmSimulator(sim_cfg)
    sim.reset()
    sim.set_block(xy[0], xy[1])  # raises a clear ValueError for an off-table position
    refs = joint_references(make_script(behaviour, xy, rng, sim_cfg, data_cfg, steps))
    out = np.zeros((steps, len(arm.JOINT_NAMES) + 2))
    for k, target in enumerate(refs):
        if k % record_every == 0:
            out[k // record_every] = np.concatenate([sim.joint_positions, sim.block_xy])
            if on_step is not None:
                on_step(k // record_every, sim)
        if k < len(refs) - 1:
            sim.set_targets(target)
            sim.step(1.0 / CONTROL_RATE)
    return out


def sample_rng(seed: int, behaviour: int, is_test: bool, index: int) -> np.random.Generator:
    """The generator of one sample: independent of the order or number of other samples."""
    return np.random.default_rng([int(seed), int(behaviour), int(is_test), int(index)])


def demonstration_names(behaviours: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``behaviours`` checked against ``DEMONSTRATIONS`` (each scripted, none twice, at least one)."""
    behaviours = tuple(behaviours)
    unknown = [b for b in behaviours if b not in DEMONSTRATIONS]
    if not behaviours or unknown or len(set(behaviours)) != len(behaviours):
        raise ValueError(f"behaviours {list(behaviours)}: expected one or more distinct names of the "
                         f"demonstrator's scripts {list(DEMONSTRATIONS)}")
    return behaviours


def generate_dataset(data_cfg: DataConfig | None = None, sim_cfg: SimConfig | None = None, *,
                     steps: int = STEPS, progress: Callable[[int, int], None] | None = None,
                     behaviours: tuple[str, ...] | list[str] = BEHAVIOURS) -> Dataset:
    """Every behaviour at every training and test position (``train_test_positions``), one sample each.

    ``behaviours``: the paper's two by default, or any of ``DEMONSTRATIONS`` (labels in that order).
    Samples are ordered behaviour by behaviour, training positions first; test samples come from the same
    process (same script, same perturbation) at the unseen positions. ``progress(done, total)`` is
    called after each sample. Same configuration and seed, same arrays.
    """
    data_cfg = data_cfg or DataConfig()
    sim_cfg = sim_cfg or SimConfig()
    behaviours = demonstration_names(behaviours)
    train_xy, test_xy = train_test_positions(data_cfg, sim_cfg)
    sim = ArmSimulator(sim_cfg)
    jobs = [(b, is_test, i, xy) for b in range(len(behaviours))
            for is_test, positions in ((False, train_xy), (True, test_xy)) for i, xy in enumerate(positions)]
    sequences, labels, block_xy, split = [], [], [], []
    for n, (b, is_test, i, xy) in enumerate(jobs):
        rng = sample_rng(data_cfg.seed, DEMONSTRATIONS.index(behaviours[b]), is_test, i)
        sequences.append(generate_demonstration(behaviours[b], xy, rng, sim_cfg, data_cfg, steps=steps,
                                                simulator=sim))
        labels.append(b)
        block_xy.append(xy)
        split.append("test" if is_test else "train")
        if progress is not None:
            progress(n + 1, len(jobs))
    sim.close()
    # train_layout came later; left out at its default, the grid datasets keep their bytes.
    data = {k: v for k, v in dataclasses.asdict(data_cfg).items()
            if k != "dataset_path" and not (k == "train_layout" and v == "grid")}
    settings = {
        "generator": "latent_nodes.sim.demonstrations",
        "format_version": FORMAT_VERSION,
        "data": data,
        "sim": dataclasses.asdict(sim_cfg),
        "steps": steps,
        "control_rate_hz": CONTROL_RATE,
        "phases": {b: PHASES[b] for b in behaviours},
        "finger_open": {b: FINGER_OPEN[b] for b in behaviours},
        "seeding": "numpy default_rng([seed, behaviour index, is_test, position index]) per sample",
        "mujoco_version": mujoco.__version__,
    }
    return Dataset(sequences=np.asarray(sequences, dtype=np.float64), labels=np.asarray(labels, dtype=np.int64),
                   block_xy=np.asarray(block_xy, dtype=np.float64), split=np.asarray(split),
                   joint_names=tuple(arm.JOINT_NAMES), behaviour_names=behaviours, dt=float(sim_cfg.dt),
                   settings=settings)


def generate_samples(positions: np.ndarray, data_cfg: DataConfig | None = None, sim_cfg: SimConfig | None = None,
                     *, seed: int = 0, steps: int = STEPS,
                     behaviours: tuple[str, ...] | list[str] = BEHAVIOURS) -> Dataset:
    """Every behaviour at each of ``positions``, as a dataset of test samples only (an evaluation set).

    Same scripts and perturbation as ``generate_dataset`` (``behaviours`` as there); each sample's draws
    come from ``default_rng([seed, behaviour, 2, index])`` (the behaviour's index in ``DEMONSTRATIONS``), a
    stream no training or test sample of a dataset uses.
    """
    data_cfg = data_cfg or DataConfig()
    sim_cfg = sim_cfg or SimConfig()
    behaviours = demonstration_names(behaviours)
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    sim = ArmSimulator(sim_cfg)
    sequences, labels, block_xy = [], [], []
    try:
        for b, behaviour in enumerate(behaviours):
            for i, xy in enumerate(positions):
                rng = np.random.default_rng([int(seed), DEMONSTRATIONS.index(behaviour), 2, i])
                sequences.append(generate_demonstration(behaviour, xy, rng, sim_cfg, data_cfg, steps=steps,
                                                        simulator=sim))
                labels.append(b)
                block_xy.append(xy)
    finally:
        sim.close()
    settings = {"generator": "latent_nodes.sim.demonstrations.generate_samples", "format_version": FORMAT_VERSION,
                "data": {k: v for k, v in dataclasses.asdict(data_cfg).items() if k != "dataset_path"},
                "sim": dataclasses.asdict(sim_cfg), "steps": steps, "seed": int(seed),
                "seeding": "numpy default_rng([seed, behaviour index, 2, position index]) per sample",
                "mujoco_version": mujoco.__version__}
    n = len(sequences)
    return Dataset(sequences=np.asarray(sequences, dtype=np.float64).reshape(n, steps, len(arm.JOINT_NAMES) + 2),
                   labels=np.asarray(labels, dtype=np.int64), block_xy=np.asarray(block_xy).reshape(n, 2),
                   split=np.full(n, "test"), joint_names=tuple(arm.JOINT_NAMES), behaviour_names=behaviours,
                   dt=float(sim_cfg.dt), settings=settings)
