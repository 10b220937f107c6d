"""Another robot: a 6-joint arm with its own joint names trains, and inference speaks its joints.

Nothing below knows the embedded 9-joint arm: the joint count and names come from the dataset into the
model, and from the model into the completion and the inference node's trajectories.
"""

import numpy as np
import pytest

from latent_nodes.dataset import Dataset, load_dataset, save_dataset

NAMES = ("shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3")
T = 20


def six_joint_dataset() -> Dataset:
    """A synthetic 6-joint arm: each behaviour's joint paths are smooth functions of the block position."""
    t = np.linspace(0.0, 1.0, T)
    # Its own workspace, on the table but beside the embedded arm's (x 0.35-0.60, y -0.20-0.20 m).
    xs, ys = np.linspace(0.22, 0.40, 4), np.linspace(-0.42, -0.18, 4)
    train = [(x, y) for x in xs for y in ys]
    test = [((a + b) / 2, (c + d) / 2) for a, b in zip(xs[:-1], xs[1:]) for c, d in zip(ys[:-1], ys[1:])]
    seqs, labels, xys, split = [], [], [], []
    for b in (0, 1):
        for name, positions in (("train", train), ("test", test)):
            for x, y in positions:
                bump = np.sin(np.pi * t) if b == 0 else np.sin(2 * np.pi * t) * np.sin(np.pi * t)
                q = np.stack([np.arctan2(y, x) * bump, (x - 0.2) * 2 * bump, -(x - 0.2) * 3 * bump,
                              0.5 * y * bump, 0.2 * bump, (0.3 * b + y) * bump], axis=1)
                seqs.append(np.concatenate([q, np.tile([x, y], (T, 1))], axis=1))
                labels.append(b)
                xys.append((x, y))
                split.append(name)
    return Dataset(sequences=np.array(seqs), labels=np.array(labels), block_xy=np.array(xys), split=np.array(split),
                   joint_names=NAMES, behaviour_names=("reach", "reach_circle"), dt=0.1,
                   settings={"generator": "test_other_robot"})


@pytest.fixture(scope="module")
def six_joint_model(tmp_path_factory):
    """Trained as ``latent-nodes train`` trains (trainer_for_dataset, to_checkpoint), small and briefly."""
    import torch

    from latent_nodes.checkpoint import save_checkpoint
    from latent_nodes.config import Config
    from latent_nodes.training import to_checkpoint, trainer_for_dataset

    tmp = tmp_path_factory.mktemp("six")
    save_dataset(six_joint_dataset(), tmp / "six.npz")
    ds = load_dataset(tmp / "six.npz")
    cfg = Config()
    cfg.model.layer_sizes, cfg.train.batch_size, cfg.train.lr = [32, 16, 8], 32, 1e-2
    assert cfg.model.output_dim == 11  # the embedded arm's, until the dataset says otherwise
    trainer, normalizer = trainer_for_dataset(cfg, ds)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a small model on a shared CPU: more threads only wait on each other
    try:
        trainer.fit(150)
    finally:
        torch.set_num_threads(threads)
    save_checkpoint(tmp / "model.pt", to_checkpoint(trainer, normalizer, ds))
    return tmp / "model.pt", ds


def test_a_six_joint_arm_trains_and_completes_with_its_own_joints(six_joint_model):
    from latent_nodes.completion import BehaviourCompleter

    path, ds = six_joint_model
    completer = BehaviourCompleter.from_checkpoint(path)
    assert completer.joint_names == NAMES
    assert completer.config.model.output_dim == 8 and list(completer.config.model.perception_dims) == [6, 7]
    test = ds.test()
    errors = []
    for seq, label, xy in zip(test.sequences, test.labels, test.block_xy):
        done = completer.complete(xy, ds.behaviour_names[label])
        assert done.joints.shape == (T, 6)
        errors.append(np.sqrt(np.mean((done.joints - seq[:, :6]) ** 2)))
    # Learned, not merely shaped right: far closer to the demonstrations than their mean path is.
    mean_path = ds.train().sequences[:, :, :6].mean(axis=0)
    baseline = np.mean([np.sqrt(np.mean((mean_path - s[:, :6]) ** 2)) for s in test.sequences])
    print(f"six-joint arm: completion RMS {np.mean(errors):.4f} rad, mean path {baseline:.4f} rad")
    assert np.mean(errors) < 0.5 * baseline, (np.mean(errors), baseline)


def test_the_inference_node_publishes_the_six_joints(six_joint_model):
    """The node starts (its warm-up pose lies in this arm's workspace) and speaks the model's joints."""
    pytest.importorskip("rclpy")
    from geometry_msgs.msg import PoseStamped
    from ros_harness import Graph

    from latent_nodes.nodes import messages
    from latent_nodes.nodes.inference_node import InferenceNode

    path, _ = six_joint_model
    with Graph() as graph:
        graph.add(InferenceNode, model_path=str(path))
        pub = graph.publisher(PoseStamped, messages.BLOCK_POSE)
        graph.start()
        graph.wait_for_subscribers(pub)
        assert graph.wait(lambda: (pub.publish(messages.block_pose((0.3, -0.3), "table")) or
                                   graph.probe.count(messages.COMPLETED_BEHAVIOUR) > 0), timeout=20.0)
        trajectory = graph.probe.last(messages.COMPLETED_BEHAVIOUR)
    assert list(trajectory.joint_names) == list(NAMES)
    assert len(trajectory.points) == T and all(len(p.positions) == 6 for p in trajectory.points)
