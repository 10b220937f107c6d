"""Behaviours with the user's names, end to end: taught through ``record``, converted, trained, recognized.

Three behaviours named by the user (``hover``, ``orbit``, ``peck``: none of them a name of the
demonstrator's) are taught on the embedded arm through the record node, the way ``latent-nodes teach``
does it (sim node and record node over DDS, in lock step), at a 3 x 3 grid of training positions (27
episodes); ``bag2dataset --behaviours`` converts the bag in a label order of its own; a small model trains
on it for a few seconds; the inference node loads it with ``behaviour: auto`` and is shown a new
demonstration of each behaviour at unseen positions between the taught ones (``/block_pose``, then
``/joint_states`` step by step on a ``/clock`` the test advances, so the machine's load cannot shift what
the node observes). It must name each one right within a few steps and keep it. The node also takes the
model's names, and only those, for its ``behaviour`` parameter and on ``/behaviour``.

(A 2 x 2 grid teaches in half the time, but a model trained on the workspace's four corners does not
generalize to its centre well enough for the recognition margin: the right behaviour ranks first there
but only 3x ahead, where the margin asks for 4x.)
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager

import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("rosbags")

# The user's names for the demonstrator's scripts (what a person teaching a real arm would call them).
TAUGHT = {"hover": "reach", "orbit": "reach_circle", "peck": "double_tap"}
# bag2dataset's label order: not the order taught, so the labels must follow the names.
LABELS = ["peck", "hover", "orbit"]
RULES = ("sequential", "margin")  # the node's recognition_rule values (the default first)


@pytest.fixture(scope="module")
def taught(tmp_path_factory):
    """(dataset path, dataset): the three behaviours taught through ``record`` and converted (~45 s)."""
    from latent_nodes.data.dataset import load_dataset
    from latent_nodes.scripts import bag2dataset, teach

    out = tmp_path_factory.mktemp("user_behaviours")
    bags = out / "bags"
    start = time.monotonic()
    assert teach.main(["--out", str(bags), "--behaviours", *(f"{n}={s}" for n, s in TAUGHT.items()),
                       "--train-grid", *map(str, GRID), "--test-grid", "0", "0"]) == 0
    taught_s = time.monotonic() - start
    path = out / "taught.npz"
    assert bag2dataset.main(["--bag", str(bags / "train"), "--stamps", "header", "--behaviours", *LABELS,
                             "--out", str(path)]) == 0
    print(f"taught {3 * GRID[0] * GRID[1]} episodes in {taught_s:.1f} s")
    return path, load_dataset(path)


@pytest.fixture(scope="module")
def model(taught, tmp_path_factory):
    """A small model trained on the taught dataset (seconds), saved as a model file."""
    _, dataset = taught
    return train(dataset, EPOCHS, tmp_path_factory.mktemp("user_model") / "model.pt")


def train(dataset, epochs: int, path):
    """A small model trained on ``dataset`` for ``epochs``, saved to ``path``."""
    import torch

    from latent_nodes.config import Config
    from latent_nodes.model.checkpoint import save_checkpoint
    from latent_nodes.model.training import to_checkpoint, trainer_for_dataset

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a small model on a shared CPU: more threads only wait on each other
    try:
        torch.manual_seed(0)
        cfg = Config()
        cfg.model.layer_sizes, cfg.train.batch_size, cfg.train.lr = [32, 16, 8], 32, 1e-2
        cfg.inference.steps = 10
        trainer, normalizer = trainer_for_dataset(cfg, dataset)
        start = time.monotonic()
        trainer.fit(epochs)
        print(f"trained {epochs} epochs in {time.monotonic() - start:.1f} s: reconstruction "
              f"{trainer.history[0]['reconstruction']:.3g} -> {trainer.history[-1]['reconstruction']:.3g}")
    finally:
        torch.set_num_threads(threads)
    save_checkpoint(path, to_checkpoint(trainer, normalizer, dataset))
    return path


EPOCHS = 800
GRID = (3, 3)
UNSEEN = [[0.4125, -0.1], [0.5375, 0.1]]  # cell centres of the 3 x 3 grid over the default workspace


def test_the_taught_dataset_has_the_users_names_and_the_demonstrators_motions(taught):
    from latent_nodes.config import DataConfig, SimConfig
    from latent_nodes.sim.demonstrations import generate_dataset

    _, dataset = taught
    assert dataset.behaviour_names == tuple(LABELS)
    assert len(dataset) == 27 and not dataset.is_test.any()
    assert sorted(np.bincount(dataset.labels).tolist()) == [9, 9, 9]
    # Each label holds its script's motion: lock step makes the taught joints the generator's (to rounding).
    generated = generate_dataset(DataConfig(train_grid=list(GRID), test_grid=[0, 0]), SimConfig(),
                                 behaviours=list(TAUGHT.values()))
    for i in range(len(dataset)):
        script = TAUGHT[LABELS[dataset.labels[i]]]
        (j,) = np.flatnonzero((generated.labels == generated.behaviour_names.index(script))
                              & (generated.split == dataset.split[i])
                              & np.all(np.abs(generated.block_xy - dataset.block_xy[i]) < 1e-9, axis=1))
        assert np.abs(dataset.sequences[i] - generated.sequences[j]).max() < 1e-6, (LABELS[dataset.labels[i]], i)


def show(g, clock_pub, sequence: np.ndarray, start_s: float, dt: float) -> list[dict]:
    """Show one recording to the online node: the pose, then each step's joints, the clock advanced per step.

    Step k's joints are published and seen by the node before the clock reaches the time the node observes
    step k ((k + 1) dt after the behaviour's start; step 0 at once), so it observes exactly the recording.
    """
    from rosgraph_msgs.msg import Clock

    from latent_nodes.nodes import messages
    from latent_nodes.sim import arm

    node = g.node

    def set_clock(seconds: float) -> None:
        sec = int(seconds)
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = sec, int(round((seconds - sec) * 1e9))
        clock_pub.publish(msg)
        assert g.wait(lambda: abs(node.get_clock().now().nanoseconds * 1e-9 - seconds) < 1e-6, timeout=10.0)

    def joints(q: np.ndarray) -> None:
        g.arm.publish(messages.joint_state(list(arm.JOINT_NAMES), q))
        assert g.wait(lambda: node.mode.joints is not None and np.allclose(node.mode.joints[0], q, atol=1e-12),
                      timeout=10.0)

    def result(step: int) -> dict | None:
        with g.probe.lock:
            got = [json.loads(m.data) for m in g.probe.got[messages.INFERENCE_RESULT][before:]]
        return next((r for r in got if r["step"] == step), None)

    set_clock(start_s)
    joints(sequence[0, :9])
    with g.probe.lock:
        before = len(g.probe.got[messages.INFERENCE_RESULT])
    g.pose.publish(messages.block_pose(sequence[0, 9:11], "table"))
    assert g.wait(lambda: result(0) is not None, timeout=20.0), "the node started the behaviour"
    for k in range(1, len(sequence)):
        joints(sequence[k, :9])
        set_clock(start_s + (k + 1) * dt)
        assert g.wait(lambda k=k: result(k) is not None, timeout=20.0), f"step {k} observed"
    assert g.wait(lambda: not node.running, timeout=10.0)
    return [result(k) for k in range(len(sequence))]


@contextmanager
def auto_graph(model, rule: str):
    """An online inference node with ``behaviour: auto`` and ``recognition_rule`` ``rule`` on a clock the test
    sets: yields (graph, clock).
    """
    from geometry_msgs.msg import PoseStamped
    from ros_harness import Graph
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import JointState

    from latent_nodes.nodes import messages
    from latent_nodes.nodes.inference_node import InferenceNode

    with Graph() as g:
        g.node = g.add(InferenceNode, model_path=str(model), mode="online", behaviour="auto", use_sim_time=True,
                       recognition_rule=rule, recognition_max_error=MAX_ERROR)
        clock_pub = g.probe.create_publisher(Clock, "/clock", 10)
        g.arm = g.publisher(JointState, messages.JOINT_STATES)
        g.pose = g.publisher(PoseStamped, messages.BLOCK_POSE)
        g.start()
        for pub in (clock_pub, g.arm, g.pose):
            g.wait_for_subscribers(pub)
        yield g, clock_pub


def unseen_demonstrations():
    """New demonstrations of the three scripts (a perturbation stream no taught sample uses) at ``UNSEEN``."""
    from latent_nodes.sim.demonstrations import generate_samples

    return generate_samples(np.array(UNSEEN), behaviours=list(TAUGHT.values()), seed=7)


@pytest.mark.parametrize("rule", RULES)
def test_auto_recognizes_each_of_the_users_behaviours(taught, model, rule):
    _, dataset = taught
    shown = unseen_demonstrations()
    with auto_graph(model, rule) as (g, clock_pub):
        assert g.node.completer.behaviours == tuple(LABELS)
        first_right = {}
        for n, label in enumerate(shown.labels):
            name = list(TAUGHT)[label]
            steps = show(g, clock_pub, shown.sequences[n], 10.0 * (n + 1), dataset.dt)
            decisions = [r["decision"] for r in steps]
            print(rule, name, shown.block_xy[n], decisions, {k: round(v, 5) for k, v in steps[-1]["errors"].items()})
            assert set(steps[-1]["errors"]) == set(LABELS), "every one of the model's behaviours is ranked"
            # Named right from some step on, and kept to the end (before it: undecided, or noise at step 0).
            first = next(k for k in range(len(decisions)) if all(d == name for d in decisions[k:]))
            first_right[(name, tuple(shown.block_xy[n]))] = first
        print("named right from step:", first_right)
        assert max(first_right.values()) <= FIRST_RIGHT[rule], first_right


MAX_ERROR = 0.02  # the margin rule's recognition_max_error here (the sequential rule does not read it)
# The step from which each of the six demonstrations is named right to the end. Measured: margin 2 for each;
# sequential 3 (2 for one peck): it accumulates evidence, so it decides a step later (docs/online.md).
FIRST_RIGHT = {"margin": 3, "sequential": 4}
# The step from which a motion that is not the one behaviour's stays undecided. Measured: 2 with either rule
# (margin: the window error passes MAX_ERROR; sequential: it passes recognition_unexplained, 0.23, at 0.26,
# and 2.0 a step later).
DEPARTED = 3


def test_the_node_takes_the_models_names_and_only_those(model):
    from rcl_interfaces.msg import Log
    from rclpy.parameter import Parameter
    from ros_harness import Graph
    from std_msgs.msg import String

    from latent_nodes.nodes import messages
    from latent_nodes.nodes.inference_node import InferenceNode
    from latent_nodes.nodes.runner import StartupError

    with Graph() as g:
        # Left empty, the behaviour is the model's first (the paper's "reach" is no name of this model).
        node = g.add(InferenceNode, model_path=str(model))
        assert node.settings.behaviour == "peck" and node.get_parameter("behaviour").value == "peck"
        topic = g.publisher(String, messages.BEHAVIOUR)
        g.start()
        g.wait_for_subscribers(topic)
        assert node.set_parameters([Parameter("behaviour", value="orbit")])[0].successful
        assert node.settings.behaviour == "orbit"
        refused = node.set_parameters([Parameter("behaviour", value="reach")])[0]
        assert not refused.successful and "peck, hover, orbit" in refused.reason, refused.reason
        assert node.settings.behaviour == "orbit"
        # /behaviour: the same check, one warning line naming the model's behaviours.
        topic.publish(String(data="hover"))
        assert g.wait(lambda: node.settings.behaviour == "hover", timeout=10.0)
        warnings = len(g.probe.logs("inference", Log.WARN))
        topic.publish(String(data="reach_circle"))
        assert g.wait(lambda: len(g.probe.logs("inference", Log.WARN)) > warnings, timeout=10.0)
        line = g.probe.logs("inference", Log.WARN)[warnings]
        assert "refusing /behaviour: unknown behaviour 'reach_circle'" in line and "peck, hover, orbit" in line, line
        assert node.settings.behaviour == "hover"
        # A name the model lacks stops the start with the model's names.
        with pytest.raises(StartupError, match="unknown behaviour 'reach'.*knows peck, hover, orbit"):
            g.add(InferenceNode, model_path=str(model), behaviour="reach")


@pytest.mark.parametrize("rule", RULES)
def test_a_one_behaviour_model_names_it_while_the_motion_fits(taught, tmp_path, rule):
    """With one behaviour, ``auto`` has no runner-up to beat: it names the behaviour while the observed window
    fits it and abstains once the motion departs from it (margin: error above ``recognition_max_error``;
    sequential: evidence against a unit error, cleared once the error exceeds ``recognition_unexplained``).
    """
    from latent_nodes.data.dataset import Dataset

    _, dataset = taught
    peck = dataset.subset(dataset.labels == LABELS.index("peck"))
    only = Dataset(sequences=peck.sequences, labels=np.zeros(len(peck), dtype=np.int64), block_xy=peck.block_xy,
                   split=peck.split, joint_names=peck.joint_names, behaviour_names=("peck",), dt=peck.dt)
    model = train(only, EPOCHS, tmp_path / "peck.pt")
    shown = unseen_demonstrations()
    with auto_graph(model, rule) as (g, clock_pub):
        assert g.node.completer.behaviours == ("peck",)
        decisions = {}
        for name in ("peck", "hover"):
            n = int(np.flatnonzero(shown.labels == list(TAUGHT).index(name))[0])
            steps = show(g, clock_pub, shown.sequences[n], 10.0 * (len(decisions) + 1), dataset.dt)
            decisions[name] = [r["decision"] for r in steps]
            print(rule, name, decisions[name], [round(r["errors"]["peck"], 4) for r in steps])
    assert all(d == "peck" for d in decisions["peck"]), decisions["peck"]
    # The other motion starts at home like peck (so it fits at first) and is refused once it departs.
    departed = next(k for k, d in enumerate(decisions["hover"]) if d == "undecided")
    assert departed <= DEPARTED and all(d == "undecided" for d in decisions["hover"][departed:]), decisions["hover"]
