"""Teach the embedded arm its behaviours through ROS, recording bags: ``latent-nodes teach``.

What a person does on a real robot, over a grid of block positions: place the block
(``/sim/set_block``), bring the arm home, start an episode on the recorder (its ``behaviour``
parameter, then ``/record/start_episode``), drive the arm through the behaviour by streaming the scripted
demonstrator's joint targets on ``/joint_command`` at its control rate, stop the episode
(``/record/stop_episode``). The simulator, perception and the recorder are the package's own nodes, in
this process; the teacher only talks to them over topics and services. The world publishes ``/clock``
and the recorder and the teacher run on it (``use_sim_time``).

By default the world runs in lock step (the sim node's ``lockstep``): the arm is reset home before each
episode (``/sim/reset``), and each target advances the physics by one control period, the next one going
out only once the state it reached has arrived. The recording is then the same on any machine under any
load, and matches ``latent-nodes dataset``'s samples to rounding. ``--realtime`` instead streams the
targets to a world stepping on the wall clock, as a real arm does: a busy CPU then shows as a delay that
varies between episodes (docs/your_arm.md). The training positions go into the bag ``OUT/train``, the
unseen test positions into ``OUT/test``; convert them with::

    latent-nodes bag2dataset --bag OUT/train --bag OUT/test::test --stamps header --out dataset.npz

(``--stamps header``: joint states timed by the simulator's stamps; leave it out for ``--realtime`` bags.)

``--behaviours`` takes the demonstrator's scripts (``reach``, ``reach_circle``, ``double_tap``), each
recorded under its own name or, as ``NAME=SCRIPT``, under a name of yours (``peck=double_tap``): the name
becomes the behaviour's name in the dataset and the model, as a person's labels on a real arm do.

The lessons, their order and their perturbation are ``generate_dataset``'s (``latent_nodes.data.teaching``),
so the converted dataset can be compared sample by sample with ``latent-nodes dataset``'s.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time
from pathlib import Path

import numpy as np

# In real time the arm rests this long at home before an episode starts (as the generator's arm starts at
# rest; in lock step it is reset there), and in both the recording continues this long after the last
# target, so that an episode covers all its steps; seconds of simulated time.
SETTLE_S = 0.3
TAIL_S = 0.15


def build_parser() -> argparse.ArgumentParser:
    from latent_nodes.cli import ArgumentParser
    from latent_nodes.config import BEHAVIOURS, DataConfig
    from latent_nodes.sim.demonstrations import DEMONSTRATIONS

    d = DataConfig()
    p = ArgumentParser(prog="latent-nodes teach", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("runs/teach"), help="directory for the bags train/ and test/")
    p.add_argument("--behaviours", nargs="+", default=list(BEHAVIOURS), metavar="[NAME=]SCRIPT",
                   help=f"behaviours to teach, each a demonstrator script ({' | '.join(DEMONSTRATIONS)}), "
                        f"recorded under NAME if given (poke=double_tap); default: {' '.join(BEHAVIOURS)}")
    p.add_argument("--train-grid", type=int, nargs=2, default=list(d.train_grid), metavar=("NX", "NY"),
                   help="training positions, a grid over the workspace")
    p.add_argument("--test-grid", type=int, nargs=2, default=list(d.test_grid), metavar=("NX", "NY"),
                   help="unseen test positions between them (0 0: none)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the demonstrations' perturbation")
    p.add_argument("--realtime", action="store_true",
                   help="stream the targets to a world stepping in real time, not in lock step (see above)")
    p.add_argument("--overwrite", action="store_true", help="replace existing bags in --out")
    return p


class Teacher:
    """The teaching run's own node: places the block, marks episodes, streams joint targets."""

    def __init__(self, context, joint_names: list[str], lockstep: bool) -> None:
        from geometry_msgs.msg import PoseStamped
        from rclpy.node import Node
        from rclpy.parameter_client import AsyncParameterClient
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import JointState
        from std_srvs.srv import Trigger

        from latent_nodes.nodes import messages

        self.messages, self.names, self.Trigger = messages, joint_names, Trigger
        from rclpy.parameter import Parameter

        self.node = Node("teacher", context=context, parameter_overrides=[Parameter("use_sim_time", value=True)])
        self.lockstep = lockstep
        self.lock = threading.Lock()
        self.state_arrived = threading.Condition(self.lock)
        self.block: np.ndarray | None = None
        self.states = 0  # /joint_states received: in lock step, one per target sent
        self.state_time = 0.0  # the newest state's stamp, simulated seconds
        # Lock step: every target must reach the world (a reliable queue as deep as an episode).
        self.command_pub = self.node.create_publisher(JointState, messages.JOINT_COMMAND,
                                                      QoSProfile(depth=1000) if lockstep else 10)
        self.node.create_subscription(JointState, messages.JOINT_STATES, self.on_state, 10)
        self.block_pub = self.node.create_publisher(PoseStamped, messages.SIM_SET_BLOCK, 10)
        self.node.create_subscription(PoseStamped, messages.BLOCK_POSE, self.on_block,
                                      QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT))
        self.perceive = self.node.create_client(Trigger, "/perception/perceive")
        self.reset = self.node.create_client(Trigger, "/sim/reset")
        self.start = self.node.create_client(Trigger, "/record/start_episode")
        self.stop = self.node.create_client(Trigger, "/record/stop_episode")
        self.recorder_params = AsyncParameterClient(self.node, "record")

    def on_block(self, msg) -> None:
        with self.lock:
            self.block = self.messages.block_xy(msg)

    def on_state(self, msg) -> None:
        with self.lock:
            self.states += 1
            self.state_time = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            self.state_arrived.notify_all()

    def wait(self, predicate, timeout: float) -> bool:
        from latent_nodes.nodes.remote import wait_until

        return wait_until(predicate, timeout)

    def call(self, client, timeout: float = 5.0) -> str:
        """Call a Trigger service; its message, or RuntimeError with the reason it failed."""
        from latent_nodes.nodes.remote import call_service

        result = call_service(client, self.Trigger.Request(), timeout)
        if not result.success:
            raise RuntimeError(f"{client.srv_name}: {result.message}")
        return result.message

    def label(self, behaviour: str) -> None:
        from latent_nodes.nodes.remote import set_remote_parameter

        set_remote_parameter(self.recorder_params, "the recorder", "behaviour", behaviour,
                             f"the recorder refused the behaviour label {behaviour!r}")

    def place(self, xy: np.ndarray, timeout: float = 5.0) -> None:
        """Put the block at ``xy`` and wait until perception reports it there."""
        with self.lock:
            self.block = None
        self.block_pub.publish(self.messages.block_pose(xy, "table"))

        def seen() -> bool:
            with self.lock:
                return self.block is not None and bool(np.linalg.norm(self.block - xy) < 1e-3)

        end = time.monotonic() + timeout
        while not self.wait(seen, 0.5):
            if time.monotonic() > end:
                raise RuntimeError(f"perception did not report the block at {np.round(xy, 3).tolist()}")
            self.call(self.perceive)  # perception publishes at once only on a move it noticed

    def connect(self, timeout: float = 10.0) -> None:
        """Wait until the world answers: its /clock reaches us and (lock step) a target comes back as a state.

        In lock step a target sent before the world's subscription has matched would be lost, and the
        teacher would wait for its state forever; so home targets (where the arm rests at start) go out
        until one is answered.
        """
        from latent_nodes.sim import arm

        end = time.monotonic() + timeout
        while self.lockstep:
            try:
                self.step(arm.HOME, timeout=0.2)
                break
            except RuntimeError:
                if time.monotonic() > end:
                    raise RuntimeError("the simulator does not answer on /joint_states") from None
        if not self.wait(lambda: self.sim_now() > 0, max(0.1, end - time.monotonic())):
            raise RuntimeError("no /clock from the simulator")

    def mark(self) -> float:
        """Start the episode on the recorder; the mark's time, checked against the world's in lock step.

        The recorder reads simulated time from /clock, which arrives beside the state the teacher waited
        for; a mark before the world's time would start the episode a period early, so the teacher gives
        the recorder a moment and refuses a mark that still lags (one clear error, not a shifted episode).
        """
        if self.lockstep:
            time.sleep(0.05)
        t_mark = mark_time(self.call(self.start))
        with self.lock:
            world = self.state_time
        if self.lockstep and abs(t_mark - world) > 1e-6:
            raise RuntimeError(f"the recorder marked the episode at t={t_mark:.6f} s, but the world is at "
                               f"t={world:.6f} s: its clock lags (an overloaded machine?); run again")
        return t_mark

    def sim_now(self) -> float:
        """Simulated seconds (the world's /clock): the teacher keeps time with the arm, not the CPU."""
        return self.node.get_clock().now().nanoseconds * 1e-9

    def hold(self, q: np.ndarray, seconds: float) -> None:
        """Command ``q`` for ``seconds`` of simulated time."""
        self.stream(np.repeat(np.asarray(q)[None, :], max(1, int(round(seconds * 100))), axis=0), 100.0)

    def step(self, q: np.ndarray, timeout: float = 10.0) -> None:
        """Lock step: send target ``q`` and wait for the state the world reached with it (one period later)."""
        with self.lock:
            before = self.states
            self.command_pub.publish(self.messages.joint_state(self.names, q))
            # Woken by the state's arrival, not by polling: a lock-step episode is some 200 round trips.
            answered = self.state_arrived.wait_for(lambda: self.states > before, timeout)
        if not answered:
            raise RuntimeError(f"the simulator did not answer a lock-step target within {timeout:g} s "
                               "(is it running with lockstep?)")

    def stream(self, targets: np.ndarray, rate: float, start: float | None = None) -> None:
        """Publish target k when the world's clock reaches ``start`` + k / ``rate`` s (``start``: now).

        Paced on simulated time, a stalled teacher process does not stretch the demonstration: the world's
        clock only advances as its physics does. In lock step each target is one step of the world (at its
        ``joint_state_rate``, which must be ``rate``) and ``start`` is where it is now.
        """
        if self.lockstep:
            for q in targets:
                self.step(q)
            return
        t0 = self.sim_now() if start is None else start
        for k, q in enumerate(targets):
            due = t0 + k / rate
            while self.sim_now() < due:
                time.sleep(0.002)  # coarse enough to leave the world's thread the interpreter
            self.command_pub.publish(self.messages.joint_state(self.names, q))


def mark_time(reply: str) -> float:
    """The episode mark's time from the recorder's start reply (``... started at t=12.345000 s``).

    The arm starts moving at the mark, as the generator's step 0 is the arm at rest as the first target
    goes out; starting after the reply instead lags the motion by the service's round trip (measured
    20-30 ms, two or three control ticks).
    """
    match = re.search(r"started at t=([0-9.]+) s", reply)
    if match is None:
        raise RuntimeError(f"the recorder's reply names no mark time: {reply!r}")
    return float(match.group(1))


def teach_split(lessons, bag: Path, args, data_cfg, sim_cfg, log=print) -> int:
    """Run one graph (sim, perception, recorder, teacher) and teach ``lessons`` into ``bag``."""
    import rclpy
    from rclpy.parameter import Parameter

    from latent_nodes.nodes.perception_node import PerceptionNode
    from latent_nodes.nodes.record_node import RecordNode
    from latent_nodes.nodes.runner import ServingMultiThreadedExecutor
    from latent_nodes.nodes.sim_node import SimNode
    from latent_nodes.sim import arm
    from latent_nodes.sim.demonstrations import CONTROL_RATE

    context = rclpy.Context()
    rclpy.init(args=[], context=context)
    nodes, executor, spinner = [], None, None
    try:
        # The world publishes /clock; the recorder and the teacher run on it, so receive times, episode marks
        # and the pace of the targets follow the physics even when the CPU is busy.
        nodes = [SimNode(context=context, parameter_overrides=[Parameter("publish_clock", value=True),
                                                               Parameter("lockstep", value=not args.realtime)]),
                 PerceptionNode(context=context),
                 RecordNode(context=context, parameter_overrides=[
                     Parameter("bag", value=str(bag)), Parameter("overwrite", value=bool(args.overwrite)),
                     Parameter("use_sim_time", value=True)])]
        teacher = Teacher(context, list(arm.JOINT_NAMES), lockstep=not args.realtime)
        nodes.append(teacher.node)
        # Two threads: the world's 100 Hz tick and the recorder's callbacks keep running while a service
        # call waits on its answer. A failing callback is logged and the rest serve on, as in the node
        # processes (rclpy's MultiThreadedExecutor would end this spin, and with it the whole run's world).
        executor = ServingMultiThreadedExecutor(num_threads=2, context=context)
        for node in nodes:
            executor.add_node(node)
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()
        teacher.connect()
        for n, lesson in enumerate(lessons):
            targets = lesson.targets(data_cfg, sim_cfg)
            teacher.place(np.asarray(lesson.block_xy))
            if teacher.lockstep:
                # At rest at home, as the generator's arm starts; one period of holding it publishes that
                # state (the reset itself publishes nothing).
                teacher.call(teacher.reset)
                teacher.step(arm.HOME)
            else:
                # Every behaviour ends at home; holding home lets the arm come to rest there before the next.
                teacher.hold(arm.HOME, SETTLE_S)
            teacher.label(lesson.behaviour)
            teacher.stream(targets, CONTROL_RATE, start=teacher.mark())
            teacher.hold(targets[-1], TAIL_S)
            teacher.call(teacher.stop)
            shown = f" ({lesson.script})" if lesson.script else ""
            log(f"  {lesson.split} {n + 1}/{len(lessons)}: {lesson.behaviour}{shown} at "
                f"({lesson.block_xy[0]:.3f}, {lesson.block_xy[1]:.3f})")
        return len(lessons)
    finally:
        if executor is not None:
            executor.shutdown(timeout_sec=2.0)
        if spinner is not None:
            spinner.join(timeout=5.0)
        for node in reversed(nodes):
            close = getattr(node, "close", None)
            if close is not None:
                close()  # the recorder finishes its bag here, also on Ctrl-C or an error
            node.destroy_node()
        rclpy.try_shutdown(context=context)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # --help, or one line about a bad option
        return int(exc.code or 0)
    from latent_nodes.config import DataConfig, SimConfig
    from latent_nodes.data.teaching import lessons

    data_cfg = DataConfig(train_grid=list(args.train_grid), test_grid=list(args.test_grid), seed=args.seed)
    sim_cfg = SimConfig()
    try:
        plan = lessons(data_cfg, sim_cfg, args.behaviours)
        for split in ("train", "test"):
            if (args.out / split).exists() and not args.overwrite:
                raise ValueError(f"{args.out / split} exists already (add --overwrite to replace it)")
    except ValueError as exc:
        print(f"latent-nodes teach: {exc}", file=sys.stderr)
        return 2
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    start = time.monotonic()
    try:
        for split in ("train", "test"):
            part = [lesson for lesson in plan if lesson.split == split]
            if part:
                print(f"latent-nodes teach: {len(part)} {split} episodes into {args.out / split}")
                teach_split(part, args.out / split, args, data_cfg, sim_cfg)
    except KeyboardInterrupt:
        print("\nlatent-nodes teach: interrupted (the bag holds the episodes taught so far)", file=sys.stderr)
        return 130
    except (RuntimeError, ValueError) as exc:
        print(f"latent-nodes teach: {exc}", file=sys.stderr)
        return 1
    stamps = "" if args.realtime else " --stamps header"
    names = " ".join(dict.fromkeys(lesson.behaviour for lesson in plan))  # the labels, in the order taught
    test_bag = f" --bag {args.out / 'test'}::test" if any(lesson.split == "test" for lesson in plan) else ""
    print(f"latent-nodes teach: {len(plan)} episodes in {time.monotonic() - start:.0f} s; convert with\n"
          f"  latent-nodes bag2dataset --bag {args.out / 'train'}{test_bag}{stamps} --behaviours {names} "
          "--out DATASET.npz")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
