"""The inference node with ``behaviour: auto`` (online mode), over real DDS: recognize or abstain.

The arm is shown a demonstration whose behaviour is known (ground truth), and the node's decisions are
checked against it, with each ``recognition_rule`` (sequential, the default, and margin). The fixture model
(``tiny_model``) is used: what is under test is the node's recognition path, not the shipped model.

In a module of its own: the online module keeps an inference node alive for all its tests, and two
inference nodes on one domain would both answer every pose.
"""

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped
from ros_harness import Graph
from test_inference_online import NAMES, STEPS, FakeArm, results, run_behaviour

from latent_nodes.nodes import messages
from latent_nodes.nodes.inference_node import InferenceNode
from latent_nodes.sim import arm

from synthetic import sequence

BEHAVIOURS = ("reach", "reach_circle")  # the fixture model's names for synthetic patterns 0 and 1
RULES = ("sequential", "margin")  # the node's recognition_rule values (the default first)


def shown(pattern: int, g_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(block xy in metres, joints [T, J]) of synthetic pattern ``pattern`` at normalized position ``g_xy``,
    mapped onto the arm exactly as ``synthetic.tiny_checkpoint`` maps its training data.
    """
    seq = sequence(np.asarray(g_xy, dtype=np.float64), pattern)
    lower, upper = np.asarray(arm.JOINT_LOWER, dtype=np.float64), np.asarray(arm.JOINT_UPPER, dtype=np.float64)
    home = np.clip(np.asarray(arm.HOME, dtype=np.float64), lower, upper)
    joints = np.clip(home + 0.1 * (upper - lower) * seq[:, :9], lower, upper)
    return np.array([0.475 + 0.15 * g_xy[0], 0.25 * g_xy[1]]), joints


def play(g: Graph, joints: np.ndarray, n_before: int, dt: float = 0.1):
    """``/joint_states`` as an arm that follows ``joints`` on the behaviour's clock: step k from (k + 0.5) dt
    to (k + 1.5) dt after the behaviour's start, so the node's step k (due at (k + 1) dt) sees step k.
    """
    def message():
        new = results(g)[n_before:]
        if not new:
            return messages.joint_state(NAMES, joints[0])
        elapsed = g.probe.get_clock().now().nanoseconds * 1e-9 - new[0]["behaviour_start"]
        k = int(np.clip(round(elapsed / dt) - 1, 0, len(joints) - 1))
        return messages.joint_state(NAMES, joints[k])
    return message


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("pattern", [0, 1], ids=BEHAVIOURS)
def test_auto_recognizes_the_behaviour_shown(tiny_model, pattern, rule):
    truth = BEHAVIOURS[pattern]
    xy, joints = shown(pattern, np.array([0.3, -0.4]))  # a position between the training grid's
    with Graph() as g:
        node = g.add(InferenceNode, model_path=str(tiny_model), mode="online", behaviour="auto",
                     recognition_rule=rule)
        g.node = node
        g.arm = FakeArm(g)
        g.arm.message = lambda: messages.joint_state(NAMES, joints[0])
        g.pose = g.publisher(PoseStamped, messages.BLOCK_POSE)
        g.start()
        g.wait_for_subscribers(g.pose)
        assert g.wait(lambda: node.mode.joints is not None)
        g.arm.message = play(g, joints, len(results(g)))
        steps, sent = run_behaviour(g, xy)
    other = BEHAVIOURS[1 - pattern]
    print(rule, truth, [(r["step"], r["decision"], {k: round(v, 5) for k, v in r["errors"].items()}) for r in steps])
    assert [r["step"] for r in steps][0] == 0 and len(steps) >= STEPS // 2
    for r in steps:
        assert r["errors"].keys() == set(BEHAVIOURS)
    assert steps[1]["step"] <= 2, "the first steps were observed"
    # Step 0 is home for every behaviour: both errors sit at the model's noise floor, which for this fixture
    # model (2e-4 to 8e-4) is above the margin's min_gap (2e-4, calibrated on the shipped model), so the
    # margin's step-0 decision is not a property of the code and not checked.
    if rule == "margin":
        # Clean demonstrations (docs/online.md, "Behaviour recognition"): from two steps (k = 2, the node's
        # step 1) on the margin names the behaviour shown, at every step, and never the other. Measured here:
        # right at every step 1-19 in both behaviours.
        assert [r["decision"] for r in steps[1:]] == [truth] * (len(steps) - 1)
        # The margin behind it (measured: the shown behaviour's window error 0.0020-0.0037, the other's at
        # least 0.053, 14x): the shown one within max_error (5e-3), the other at least 4x larger (its ratio).
        for r in steps[1:]:
            assert r["errors"][truth] <= 5e-3 and r["errors"][other] >= 4 * r["errors"][truth], r["errors"]
    else:
        # The sequential rule accumulates evidence, so on clean data it decides a step later than the margin
        # (docs/online.md: k = 3, the node's step 2) and stays decided: never the other behaviour, the shown
        # one at every step from step 2 on. Measured here: decided at step 1 already in both behaviours, for
        # reach_circle by a hair (evidence 2.96 against recognition_upper 2.95), so step 1 is not pinned.
        assert all(r["decision"] in (truth, "undecided") for r in steps[:2]), steps[:2]
        assert all(r["decision"] == truth for r in steps if r["step"] >= 2), [r["decision"] for r in steps]
        # The evidence behind it: from step 1 the other behaviour's error is at least 25x the shown one's
        # (measured: 34x at reach_circle's step 1, 187x at reach's, growing to 200-900x), an e-fold lead of
        # 3.2 or more a step where the drift takes 0.5.
        for r in steps[1:]:
            assert r["errors"][other] >= 25 * r["errors"][truth], r["errors"]
    # It hands over a plan as soon as it decides the behaviour shown, and only what it decided.
    assert sent and next(r for r in steps if r["decision"] == truth)["published"]
    assert len(sent) == sum(r["published"] for r in steps)


@pytest.mark.parametrize("rule", RULES)
def test_auto_abstains_when_the_arm_shows_nothing(tiny_model, rule):
    """An arm that stays home explains neither behaviour for long: the node abstains, publishes nothing."""
    with Graph() as g:
        node = g.add(InferenceNode, model_path=str(tiny_model), mode="online", behaviour="auto",
                     recognition_rule=rule)
        g.node = node
        g.arm = FakeArm(g)
        g.pose = g.publisher(PoseStamped, messages.BLOCK_POSE)
        g.start()
        g.wait_for_subscribers(g.pose)
        assert g.wait(lambda: node.mode.joints is not None)
        steps, sent = run_behaviour(g, [0.45, 0.05])
    print(rule, "home", [(r["step"], r["decision"], {k: round(v, 5) for k, v in r["errors"].items()})
                         for r in steps])
    # Measured: from step 1 on both window errors grow together (0.013-0.30, never 4x apart, never more than
    # 1.4x: an e-fold lead of at most 0.34 a step, below the sequential rule's drift of 0.5), so neither rule
    # decides and nothing is published. (Step 0, at the fixture model's noise floor, may decide: see above.)
    assert steps[1]["step"] <= 2, "the first steps were observed"
    assert [r["decision"] for r in steps[1:]] == ["undecided"] * (len(steps) - 1)
    assert not any(r["published"] for r in steps[1:])
    assert len(sent) == sum(r["published"] for r in steps) <= 1


def test_auto_needs_online_mode(tiny_model):
    from latent_nodes.nodes.runner import StartupError

    with Graph() as g:
        with pytest.raises(StartupError, match="behaviour auto needs mode online"):
            g.add(InferenceNode, model_path=str(tiny_model), behaviour="auto")
