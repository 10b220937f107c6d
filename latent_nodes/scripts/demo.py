"""`latent-nodes demo`: the launch file's graph in one process, driven through trials at unseen positions.

Starts the same four nodes as ``launch/demo.launch.py`` with the same ``config/*.yaml`` (so no ``ros2``
CLI or ``launch`` package is needed), plus the ``markers`` node that ``rviz:=true`` adds, records the run
as an MCAP bag (``<out>/<scenario>_bag``, unless ``--no-bag``), then for every unseen test position and
behaviour:

1. puts the arm home (``/sim/reset``) and selects the behaviour (the inference node's parameter),
2. places the block (``/sim/set_block``) and lets perception report it on ``/block_pose``,
3. waits for the completed behaviour and for the commander to execute it on the simulated arm,
4. compares the executed end-effector path with the scripted demonstration for that position.

Then it does the same beyond the far edge of the trained region (``--outside``: 1, 3 and 8 cm by
default): within the inference node's ``domain_margin`` the behaviour is completed and measured like the
others; beyond it the node refuses the pose, and the demo shows its refusal line. ``--out-of-domain
allow`` completes those too, to see the error grow with the distance (docs/results.md has the full sweep).

That is the default scenario, ``--scenario glimpse``. ``--scenario moved`` (``demo_moved.py``) moves the
block during the approach and compares today's restart with online inference; ``--scenario recognize``
(``demo_recognize.py``) shows the arm a demonstration and measures how soon the node recognizes it.

It prints a row per trial (block x, y; xi*; inference latency; final and mean end-effector distance to
the demonstration; tracking error), writes the rows as JSON and a picture of executed versus
demonstrated paths. Everything talks over DDS exactly as the launched graph does; only the periodic
re-publication of perception is switched off, so each trial is one pose and one trajectory.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from latent_nodes.atomic import save_png, write_text_atomic

NODES = ("sim", "perception", "inference", "commander", "markers")


@dataclass
class Trial:
    """What one trial measured (distances in metres, angles in radians)."""

    behaviour: str
    block_xy: list[float]
    xi: list[float] | None = None
    latency_ms: float = math.nan
    final_distance: float = math.nan
    mean_distance: float = math.nan
    tracking_error: float = math.nan
    ok: bool = False
    note: str = ""
    outside_m: float = 0.0  # distance outside the trained region (the --outside trials)
    expect_refusal: bool = False  # what the inference node's out_of_domain policy should do with it
    refusal: str = ""  # the inference node's refusal line, if it refused the pose
    executed: list[list[float]] = field(default_factory=list, repr=False)  # end-effector path
    demonstrated: list[list[float]] = field(default_factory=list, repr=False)


def build_parser() -> argparse.ArgumentParser:
    from latent_nodes.cli import ArgumentParser

    p = ArgumentParser(prog="latent-nodes demo", description=__doc__.split("\n\n")[0],
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="", help="model file; empty means the shipped models/latent_nodes_default.pt")
    p.add_argument("--behaviours", nargs="+", metavar="NAME[=SCRIPT]",
                   help="behaviours of the model to complete at every position, compared with the demonstrator's "
                        "script of that name, or with SCRIPT (poke=double_tap, for a model with your own names); "
                        "default: all of the model's")
    p.add_argument("--positions", nargs="+", type=float, metavar="X Y",
                   help="block positions (x y pairs, metres, table frame); default: the model's unseen test positions")
    p.add_argument("--scenario", choices=["glimpse", "moved", "recognize"], default="glimpse",
                   help="glimpse: one pose, one completed behaviour per trial (and --outside); moved: the block is "
                        "moved to a second unseen position during the approach, today's restart against the "
                        "online mode; recognize: the arm is driven through a demonstration while the node "
                        "recognizes it, accuracy and completion error against the steps shown (docs/online.md)")
    p.add_argument("--trials", type=int, default=0, help="run only the first N trials (0: all)")
    p.add_argument("--seed", type=int, default=0, help="moved: seed of the second positions and move steps")
    p.add_argument("--recognition-max-error", type=float, default=None,
                   help="recognize: the inference node's recognition_max_error (default: its parameter file's)")
    p.add_argument("--outside", nargs="*", type=float, default=[0.01, 0.03, 0.08], metavar="M",
                   help="then place the block this many metres beyond the trained region's far edge, per "
                        "behaviour (none: skip)")
    p.add_argument("--out-of-domain", choices=["refuse", "warn", "allow"], default=None,
                   help="the inference node's out_of_domain policy (default: its parameter file's)")
    p.add_argument("--out", default="runs/demo", help="directory for the results (<scenario>_results.json, and "
                                                      "demo_results.json for glimpse) and pictures")
    p.add_argument("--no-bag", action="store_true",
                   help="do not record the run as an MCAP bag (<out>/<scenario>_bag: joint states, block poses, "
                        "completed behaviours, results, robot description, markers)")
    p.add_argument("--config-dir", default="",
                   help="directory of the nodes' YAML files; default: the package's config/")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds a trial may take before it is abandoned")
    p.add_argument("--log-level", default="warn", choices=["debug", "info", "warn", "error"],
                   help="log level of the nodes (info shows every pose, trajectory and refusal)")
    return p


def ros_arguments(args: argparse.Namespace, config_dir: Path) -> list[str]:
    """The command line a launch of the nodes would give them, plus the demo's overrides."""
    out = ["--ros-args", "--log-level", args.log_level]
    for name in NODES:
        out += ["--params-file", str(config_dir / f"{name}.yaml")]
    overrides = {
        "commander:target": "embedded",
        "sim:publish_clock": "false",
        # One pose per trial: the demo asks perception explicitly instead of re-publishing on a timer or
        # when the arm nudges the block.
        "perception:perception_source": "sim",
        "perception:perception_rate": "0.0",
        "perception:perception_min_change": "0.0",
    }
    if args.behaviours:  # else the node starts with the model's first
        overrides["inference:behaviour"] = args.behaviours[0]
    if args.model:
        overrides["inference:model_path"] = str(Path(args.model).resolve())
    if args.out_of_domain:
        overrides["inference:out_of_domain"] = args.out_of_domain
    for key, value in overrides.items():
        out += ["-p", f"{key}:={value}"]
    return out


class Driver:
    """The demo's own node: places blocks, asks for perception, and records what comes back."""

    def __init__(self, context) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import PoseStamped
        from rcl_interfaces.msg import Log
        from rclpy.node import Node
        from rclpy.parameter_client import AsyncParameterClient
        from rclpy.qos import QoSProfile
        from sensor_msgs.msg import JointState
        from std_msgs.msg import Float64, String
        from std_srvs.srv import Trigger
        from trajectory_msgs.msg import JointTrajectory

        from latent_nodes.nodes import messages

        self.node = Node("demo", context=context)
        self.messages = messages
        self.lock = threading.Lock()
        self.block_pub = self.node.create_publisher(PoseStamped, messages.SIM_SET_BLOCK, 10)
        self.reset_client = self.node.create_client(Trigger, "/sim/reset")
        self.perceive_client = self.node.create_client(Trigger, "/perception/perceive")
        self.inference_params = AsyncParameterClient(self.node, "inference")
        self.node.create_subscription(JointState, messages.JOINT_STATES, self.on_joint_states, 50)
        self.node.create_subscription(PoseStamped, messages.SIM_BLOCK_POSE, self.on_block, 10)
        self.node.create_subscription(String, messages.INFERENCE_RESULT, self.on_result, 10)
        self.node.create_subscription(JointTrajectory, messages.COMPLETED_BEHAVIOUR, self.on_trajectory, 10)
        self.node.create_subscription(Float64, messages.TRACKING_ERROR, self.on_tracking_error, 10)
        # A refusal shows on /diagnostics (the inference node's count) whatever the log level; its reason
        # in the node's log line, when the log level lets warnings through to /rosout.
        self.node.create_subscription(Log, "/rosout", self.on_log, QoSProfile(depth=100))
        self.node.create_subscription(DiagnosticArray, messages.DIAGNOSTICS, self.on_diagnostics, 10)
        self.refused_count = 0
        self.joint_names: list[str] = []
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.results: list[dict] = []
            self.trajectory_at: float | None = None
            self.trajectory_times: list[float] = []  # every arrival since clear(), monotonic seconds
            self.behaviour_start: float | None = None  # a stamped trajectory's start, monotonic seconds
            self.tracking_error: float | None = None
            self.samples: list[tuple[float, np.ndarray]] = []
            self.block: np.ndarray | None = None
            self.refusals: list[str] = []
            self.refused_before = getattr(self, "refused_count", 0)

    # --- callbacks (executor thread) --------------------------------------------------------------------

    def on_joint_states(self, msg) -> None:
        try:
            q = self.messages.joint_positions(msg, self.joint_names)
        except ValueError:
            return
        with self.lock:
            self.samples.append((time.monotonic(), q))
            if len(self.samples) > 5000:  # a trial is a few seconds at 100 Hz; never grow without bound
                del self.samples[:1000]

    def on_block(self, msg) -> None:
        with self.lock:
            self.block = self.messages.block_xy(msg)

    def on_result(self, msg) -> None:
        with self.lock:
            self.results.append(json.loads(msg.data))

    def on_trajectory(self, msg) -> None:
        stamp = self.messages.time_to_seconds(msg.header.stamp)
        with self.lock:
            self.trajectory_at = time.monotonic()
            self.trajectory_times.append(self.trajectory_at)
            if stamp > 0:  # timed from the behaviour's start (the nodes' clock is the system clock here)
                self.behaviour_start = self.trajectory_at - (time.time() - stamp)

    def on_log(self, msg) -> None:
        if msg.name == "inference" and "refusing block pose" in msg.msg:
            with self.lock:
                self.refusals.append(msg.msg.removeprefix("refusing block pose: "))

    def on_diagnostics(self, msg) -> None:
        for status in msg.status:
            if status.name.startswith("inference:"):
                values = {kv.key: kv.value for kv in status.values}
                with self.lock:
                    self.refused_count = sum(int(values.get(k, 0)) for k in ("refused_out_of_domain",
                                                                               "refused_invalid"))

    def refused(self) -> bool:
        """Whether the inference node refused a pose since ``clear()`` (call with the lock held)."""
        return bool(self.refusals) or self.refused_count > self.refused_before

    def on_tracking_error(self, msg) -> None:
        with self.lock:
            self.tracking_error = float(msg.data)

    # --- steps (main thread) -----------------------------------------------------------------------------

    def wait(self, predicate, timeout: float) -> bool:
        """Whether ``predicate`` (evaluated with the lock held) became true within ``timeout`` s."""
        from latent_nodes.nodes.remote import wait_until

        return wait_until(predicate, timeout, lock=self.lock, poll=0.01)

    def call(self, client, request, timeout: float = 5.0):
        from latent_nodes.nodes.remote import call_service

        return call_service(client, request, timeout)

    def set_behaviour(self, behaviour: str) -> None:
        from latent_nodes.nodes.remote import set_remote_parameter

        set_remote_parameter(self.inference_params, "the inference node", "behaviour", behaviour,
                             f"could not set the behaviour to {behaviour!r}")

    def place(self, xy: np.ndarray, timeout: float) -> bool:
        self.block_pub.publish(self.messages.block_pose(xy, "table"))
        return self.wait(lambda: self.block is not None and np.linalg.norm(self.block - xy) < 1e-3, timeout)


def matching_result(driver: Driver, xy: np.ndarray, behaviour: str) -> dict | None:
    """The newest inference result for this block position and behaviour (perception noise allowed)."""
    for r in reversed(driver.results):
        if r["behaviour"] == behaviour and np.linalg.norm(np.asarray(r["block_xy"]) - xy) < 0.02:
            return r
    return None


def run_trials(driver: Driver, trials: list[Trial], demonstrate, kinematics, dt: float, steps: int,
               timeout: float) -> None:
    """Run each trial through the graph; fills in the Trial records as results arrive."""
    from std_srvs.srv import Trigger

    header = (f"{'#':>3} {'behaviour':<13} {'block x':>7} {'block y':>7} {'xi*':>17} {'latency':>8} "
              f"{'final':>8} {'mean':>8} {'tracking':>9}")
    print(header + "\n" + f"{'':>3} {'':<13} {'m':>7} {'m':>7} {'':>17} {'ms':>8} {'mm':>8} {'mm':>8} {'rad RMS':>9}")
    behaviour = None
    for i, trial in enumerate(trials, 1):
        xy = np.asarray(trial.block_xy)
        try:
            driver.call(driver.reset_client, Trigger.Request())
            if trial.behaviour != behaviour:
                driver.set_behaviour(trial.behaviour)
                behaviour = trial.behaviour
            driver.clear()
            if not driver.place(xy, timeout=2.0):
                raise RuntimeError("the simulator did not report the block at its new position")
            result = None
            for _ in range(3):  # perception may answer with the previous position if it has not caught up
                driver.call(driver.perceive_client, Trigger.Request())
                found = partial(matching_result, driver, xy, trial.behaviour)
                if driver.wait(lambda: found() is not None or driver.refused(), 5.0):  # noqa: B023 - called here
                    result = found()
                    break
            if result is None and driver.refused():
                trial.refusal = driver.refusals[0] if driver.refusals else "refused (counted on /diagnostics)"
                trial.ok = trial.expect_refusal
                print(f"{i:>3} {trial.behaviour:<13} {xy[0]:7.3f} {xy[1]:7.3f}  refused: {trial.refusal}", flush=True)
                continue
            if result is None:
                raise RuntimeError("no completed behaviour for this pose")
            if not driver.wait(lambda: driver.tracking_error is not None, timeout):
                raise RuntimeError("the commander did not finish executing")
            with driver.lock:
                start, samples, tracking = driver.trajectory_at, list(driver.samples), driver.tracking_error
        except RuntimeError as exc:
            trial.note = str(exc)
            print(f"{i:>3} {trial.behaviour:<13} {xy[0]:7.3f} {xy[1]:7.3f}  trial failed: {exc}")
            continue
        times = np.array([t for t, _ in samples])
        qs = np.array([q for _, q in samples])
        # Trajectory point k is due (k + 1) * dt after receipt; compare it with demonstration step k.
        picks = [int(np.argmin(np.abs(times - (start + (k + 1) * dt)))) for k in range(steps)]
        executed = np.array([kinematics(qs[j]) for j in picks])
        demo = np.array([kinematics(q) for q in demonstrate(trial.behaviour, xy)])
        final = float(np.linalg.norm(kinematics(qs[-1]) - demo[-1]))
        trial.xi = None if result["xi"] is None else list(result["xi"])
        trial.latency_ms = 1e3 * result["latency_s"]
        trial.final_distance = final
        trial.mean_distance = float(np.linalg.norm(executed - demo, axis=1).mean())
        trial.tracking_error = tracking
        trial.executed, trial.demonstrated = executed.tolist(), demo.tolist()
        trial.ok = not trial.expect_refusal
        xi = "-" if trial.xi is None else "(" + ", ".join(f"{v:+.3f}" for v in trial.xi) + ")"
        print(f"{i:>3} {trial.behaviour:<13} {xy[0]:7.3f} {xy[1]:7.3f} {xi:>17} {trial.latency_ms:8.1f} "
              f"{1e3 * final:8.1f} {1e3 * trial.mean_distance:8.1f} {tracking:9.4f}", flush=True)


def summarize(trials: list[Trial]) -> None:
    inside = [t for t in trials if t.outside_m == 0]
    done = [t for t in inside if t.ok]
    print(f"\n{len(done)} of {len(inside)} trials completed")
    for behaviour in sorted({t.behaviour for t in done}):
        rows = [t for t in done if t.behaviour == behaviour]
        mean = {key: float(np.mean([getattr(t, key) for t in rows]))
                for key in ("latency_ms", "final_distance", "mean_distance", "tracking_error")}
        print(f"  {behaviour:<13} mean: latency {mean['latency_ms']:.1f} ms, final distance "
              f"{1e3 * mean['final_distance']:.1f} mm, path distance {1e3 * mean['mean_distance']:.1f} mm, "
              f"tracking error {mean['tracking_error']:.4f} rad RMS")
    outside = [t for t in trials if t.outside_m > 0]
    if outside:
        print("  beyond the trained region (docs/results.md, 'Outside the trained region', has the full sweep):")
    for t in outside:
        outcome = ("refused" if t.refusal else
                   f"completed, path distance {1e3 * t.mean_distance:.1f} mm" if not np.isnan(t.mean_distance)
                   else f"failed: {t.note}")
        verdict = "as the policy says" if t.ok else "NOT as the policy says"
        print(f"  {t.behaviour:<13} {100 * t.outside_m:4.1f} cm outside: {outcome} ({verdict})")


def plot(trials: list[Trial], path: Path) -> None:
    """Executed (solid) versus demonstrated (dashed) end-effector paths, from above and from the side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    behaviours = sorted({t.behaviour for t in trials if t.ok})
    if not behaviours:
        return
    fig, axes = plt.subplots(len(behaviours), 2, figsize=(11, 4.6 * len(behaviours)), squeeze=False)
    for row, behaviour in zip(axes, behaviours):
        done = [t for t in trials if t.ok and t.behaviour == behaviour]
        colours = plt.cm.viridis(np.linspace(0, 0.9, max(2, len(done))))
        for k, t in enumerate(done):
            ex, dm = np.array(t.executed), np.array(t.demonstrated)
            for ax, (a, b) in zip(row, ((0, 1), (0, 2))):
                ax.plot(dm[:, a], dm[:, b], "--", color=colours[k], lw=1.0)
                ax.plot(ex[:, a], ex[:, b], "-", color=colours[k], lw=1.6)
            row[0].plot(*t.block_xy, "s", color="tab:red", ms=6)
        row[0].set(title=f"{behaviour}: from above", xlabel="x (m)", ylabel="y (m)", aspect="equal")
        row[1].set(title=f"{behaviour}: from the side", xlabel="x (m)", ylabel="z (m)")
    handles = [plt.Line2D([], [], color="k", ls="-", label="executed"),
               plt.Line2D([], [], color="k", ls="--", label="demonstrated"),
               plt.Line2D([], [], color="tab:red", marker="s", ls="", label="block")]
    fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False)
    fig.suptitle("End-effector paths at unseen block positions: executed vs. demonstrated")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    save_png(fig, path, dpi=120)
    plt.close(fig)


def outside_trials(inference, behaviours: list[str], distances: list[float]) -> list[Trial]:
    """Trials beyond the far edge of each behaviour's trained region (x beyond its maximum, y at its middle)."""
    from latent_nodes.scripts.domain import outside_positions

    completer, settings = inference.completer, inference.settings
    if completer.ckpt.domain is None:
        return []
    trials = []
    for behaviour in behaviours:
        bounds = completer.ckpt.domain.bounds(completer.behaviour_index(behaviour))
        for d in distances:
            far_middle = outside_positions(bounds, d)[4]  # the sweep's positions: [3:6] lie beyond the far edge
            refuse = settings.out_of_domain == "refuse" and d > settings.domain_margin
            trials.append(Trial(behaviour=behaviour, block_xy=far_middle.tolist(), outside_m=d,
                                expect_refusal=refuse))
    return trials


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # --help, or one line about a bad option
        return int(exc.code or 0)
    if args.positions is not None and len(args.positions) % 2:
        print("latent-nodes demo: --positions needs x y pairs", file=sys.stderr)
        return 2
    if any(not (math.isfinite(d) and 0 < d <= 0.15) for d in args.outside):
        print("latent-nodes demo: --outside takes distances in metres, above 0 and at most 0.15", file=sys.stderr)
        return 2
    if args.behaviours is not None:
        from latent_nodes.data.teaching import parse_behaviours

        try:
            args.scripts = parse_behaviours(args.behaviours)  # NAME=SCRIPT; the names are checked on the model
        except ValueError as exc:
            print(f"latent-nodes demo: {exc}", file=sys.stderr)
            return 2
        args.behaviours = list(args.scripts)
    from latent_nodes.config import package_share

    config_dir = Path(args.config_dir) if args.config_dir else package_share() / "config"
    missing = [str(config_dir / f"{n}.yaml") for n in NODES if not (config_dir / f"{n}.yaml").is_file()]
    if missing:
        print(f"latent-nodes demo: missing parameter files {missing}", file=sys.stderr)
        return 2

    # A demo in one process has nobody to talk to on the network; keep discovery on this machine unless
    # the user asked for more.
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    from latent_nodes.nodes.parameters import check_parameters_file

    # The parameter files against the schema, before any node starts: a typo or a bad value is one line
    # here, not a traceback (or a silently ignored setting) once the graph runs.
    try:
        for name in NODES:
            check_parameters_file(config_dir / f"{name}.yaml", name)
    except ValueError as exc:
        print(f"latent-nodes demo: {exc}", file=sys.stderr)
        return 2

    try:
        if args.scenario == "moved":
            from latent_nodes.scripts.demo_moved import run_moved

            return run_moved(args, config_dir)
        if args.scenario == "recognize":
            from latent_nodes.scripts.demo_recognize import run_recognize

            return run_recognize(args, config_dir)
        with running_graph(args, config_dir, bag="glimpse_bag") as (inference, driver):
            return run_glimpse(args, inference, driver)
    except GraphError as exc:
        print(f"latent-nodes demo: cannot start the graph: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nlatent-nodes demo: interrupted", file=sys.stderr)
        return 130


def run_glimpse(args: argparse.Namespace, inference, driver: Driver) -> int:
    """Today's demo: one pose, one completed behaviour per trial, then the trials beyond the trained region."""
    from latent_nodes.sim import kinematics
    from latent_nodes.sim.demonstrations import train_test_positions

    cfg = inference.completer.config
    scripts = model_behaviours(args, inference.completer)
    if args.positions is not None:
        positions = np.asarray(args.positions, dtype=np.float64).reshape(-1, 2)
    else:
        positions = np.asarray(train_test_positions(cfg.data, cfg.sim)[1], dtype=np.float64)
    trials = [Trial(behaviour=b, block_xy=xy.tolist()) for b in args.behaviours for xy in positions]
    if args.trials > 0:
        trials = trials[: args.trials]
    trials += outside_trials(inference, args.behaviours, args.outside)
    demonstrate = demonstrator(cfg, len(driver.joint_names), scripts)
    print(f"latent-nodes demo: {len(trials)} trials ({', '.join(args.behaviours)}) at {len(positions)} "
          f"unseen positions; model {args.model or 'shipped default'}\n")
    run_trials(driver, trials, demonstrate, kinematics.forward_kinematics, inference.dt,
               cfg.model.seq_len, args.timeout)
    summarize(trials)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [asdict(t) for t in trials]
    write_text_atomic(out / "demo_results.json", json.dumps(rows, indent=1))
    write_text_atomic(out / "glimpse_results.json",
                      json.dumps({"summary": glimpse_summary(trials), "trials": rows}, indent=1))
    plot([t for t in trials if t.outside_m == 0], out / "demo_paths.png")
    print(f"wrote {out / 'demo_results.json'}, {out / 'glimpse_results.json'} and {out / 'demo_paths.png'}")
    return 0 if all(t.ok for t in trials) else 1


def glimpse_summary(trials: list[Trial]) -> dict:
    """Per behaviour, the means over the completed trials inside the trained region (what summarize prints)."""
    summary: dict = {"trials": len(trials), "completed": sum(t.ok for t in trials)}
    for behaviour in sorted({t.behaviour for t in trials if t.ok and t.outside_m == 0}):
        rows = [t for t in trials if t.ok and t.outside_m == 0 and t.behaviour == behaviour]
        summary[behaviour] = {key: float(np.mean([getattr(t, key) for t in rows]))
                              for key in ("latency_ms", "final_distance", "mean_distance", "tracking_error")}
    return summary


def model_behaviours(args: argparse.Namespace, completer) -> dict[str, str]:
    """The behaviours to run, each the model's, with the demonstrator script it is compared with.

    ``--behaviours`` (parsed in ``main``: ``args.scripts``) or else every behaviour of the loaded model,
    whatever its names; sets ``args.behaviours`` to the names. A name the model does not know, or one that
    is no script and names none, is a ``GraphError`` line.
    """
    from latent_nodes.sim.demonstrations import DEMONSTRATIONS

    names = list(completer.behaviours)
    scripts = getattr(args, "scripts", None) or {name: name for name in (args.behaviours or names)}
    unknown = [name for name in scripts if name not in names]
    if unknown:
        raise GraphError(f"--behaviours {unknown}: the model {args.model or 'shipped default'} knows {names}")
    unscripted = [name for name, script in scripts.items() if script not in DEMONSTRATIONS]
    if unscripted:
        raise GraphError(f"the model's behaviours {unscripted} have no demonstrator script to show and compare "
                         f"with; name one for each ({unscripted[0]}=SCRIPT, SCRIPT one of {list(DEMONSTRATIONS)})")
    args.behaviours = list(scripts)
    return scripts


def demonstrator(cfg, n_joints: int, scripts: dict[str, str] | None = None):
    """``demonstrate(behaviour, xy)``: the scripted demonstration's joints at that position, the reference.

    Without the training set's perturbation, recorded in a simulator of its own. ``scripts`` maps the
    model's behaviour names to the demonstrator's scripts (none: the same names).
    """
    from latent_nodes.sim.demonstrations import generate_demonstration
    from latent_nodes.sim.simulator import ArmSimulator

    reference_world = ArmSimulator(cfg.sim)
    scripts = dict(scripts or {})

    def demonstrate(behaviour: str, xy: np.ndarray) -> np.ndarray:
        sequence = generate_demonstration(scripts.get(behaviour, behaviour), xy, None, cfg.sim, cfg.data,
                                          simulator=reference_world)
        return np.asarray(sequence)[:, :n_joints]

    return demonstrate


class GraphError(RuntimeError):
    """The graph could not start (a bad parameter, a missing model): one line for the user."""


@contextmanager
def running_graph(args: argparse.Namespace, config_dir: Path, remaps: tuple[str, ...] = (), bag: str | None = None,
                  **overrides: str):
    """The launch file's nodes (and markers) and the demo's driver, spun on a thread: yields (inference, driver).

    ``overrides`` are extra node parameters (``{"inference:mode": "online"}`` as ``inference__mode``),
    ``remaps`` topic remappings (``"inference:/completed_behaviour:=/elsewhere"``). ``bag`` names an MCAP
    bag under ``args.out`` that records the run (``TopicRecorder.record_standard``'s topics), unless
    ``--no-bag``: it can be replayed with ``ros2 bag play`` or opened in Foxglove.
    """
    import rclpy
    import rclpy.logging
    from rclpy.exceptions import ParameterException

    from latent_nodes.nodes.commander_node import CommanderNode
    from latent_nodes.nodes.inference_node import InferenceNode
    from latent_nodes.nodes.markers_node import MarkersNode
    from latent_nodes.nodes.parameters import refuse_undeclared
    from latent_nodes.nodes.perception_node import PerceptionNode
    from latent_nodes.nodes.runner import ServingExecutor, StartupError
    from latent_nodes.nodes.sim_node import SimNode

    ros_args = ros_arguments(args, config_dir)
    for key, value in overrides.items():
        ros_args += ["-p", f"{key.replace('__', ':')}:={value}"]
    for remap in remaps:
        ros_args += ["-r", remap]
    # ``--log-level`` sets the process-wide default level; put it back afterwards, so that a demo run inside
    # a longer process (the tests, a second graph) does not silence that process's later nodes.
    default_level = rclpy.logging.get_logger_effective_level("")
    context = rclpy.Context()
    rclpy.init(args=ros_args, context=context)
    nodes, executor, spinner, recorder = [], None, None, None
    try:
        try:
            nodes = [SimNode(context=context), PerceptionNode(context=context)]
            inference = InferenceNode(context=context)
            commander = CommanderNode(context=context)
            nodes += [inference, commander, MarkersNode(context=context)]
            for node in nodes:
                refuse_undeclared(node)
        except (StartupError, ValueError, ParameterException) as exc:
            raise GraphError(str(exc)) from None
        driver = Driver(context)
        driver.joint_names = list(commander.names)
        nodes.append(driver.node)
        if bag is not None and not args.no_bag:
            from latent_nodes.nodes.topic_recorder import TopicRecorder

            recorder = TopicRecorder(driver.node, Path(args.out) / bag, overwrite=True)
            recorder.record_standard()
        executor = ServingExecutor(context=context)  # as the executables: a failing callback is logged, no more
        for node in nodes:
            executor.add_node(node)
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()
        yield inference, driver
    finally:
        if executor is not None:
            executor.shutdown(timeout_sec=2.0)
        if spinner is not None:  # let a callback still running finish before its node is destroyed under it
            spinner.join(timeout=5.0)
        if recorder is not None:  # no callback writes any more; the bag is complete when this returns
            print(f"wrote the run's bag {recorder.close()}")
        for node in reversed(nodes):
            close = getattr(node, "close", None)
            if close is not None:
                close()
            node.destroy_node()
        rclpy.try_shutdown(context=context)
        rclpy.logging.set_logger_level("", default_level)
        if spinner is not None:
            spinner.join(timeout=2.0)

if __name__ == "__main__":
    raise SystemExit(main())
