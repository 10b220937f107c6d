"""The inference node with ``behaviour: auto`` (online mode), over real DDS: recognize or abstain.

In a module of its own: the online module keeps an inference node alive for all its tests, and two
inference nodes on one domain would both answer every pose.
"""

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped
from ros_harness import Graph
from test_inference_online import FakeArm, run_behaviour

from latent_nodes.inference.recognition import RecognitionMargin
from latent_nodes.nodes import messages
from latent_nodes.nodes.inference_node import InferenceNode


def test_auto_recognizes_or_abstains_and_publishes_only_a_decision(tiny_model):
    with Graph() as g:
        node = g.add(InferenceNode, model_path=str(tiny_model), mode="online", behaviour="auto")
        g.node = node
        g.arm = FakeArm(g)
        g.pose = g.publisher(PoseStamped, messages.BLOCK_POSE)
        g.start()
        g.wait_for_subscribers(g.pose)
        assert g.wait(lambda: node.joints is not None)
        steps, sent = run_behaviour(g, [0.45, 0.05])
        margin = RecognitionMargin()
        for r in steps:  # every step: both behaviours ranked, and the decision is the margin's on those errors
            assert r["errors"].keys() == {"reach", "reach_circle"}
            names = tuple(r["errors"])
            assert r["decision"] == margin.decide(names, np.array([r["errors"][n] for n in names])).decision
        assert len(sent) == sum(r["published"] for r in steps)
        assert not any(r["published"] for r in steps if r["decision"] == "undecided"), "abstaining publishes nothing"
        # The arm never moves here, so neither behaviour explains the observation for long: it abstains.
        assert any(r["decision"] == "undecided" for r in steps)


def test_auto_needs_online_mode(tiny_model):
    from latent_nodes.nodes.runner import StartupError

    with Graph() as g:
        with pytest.raises(StartupError, match="behaviour auto needs mode online"):
            g.add(InferenceNode, model_path=str(tiny_model), behaviour="auto")
