"""The round trip in miniature: teach in the sim through ROS -> bag -> bag2dataset -> train.

A 2 x 2 grid of training positions and one unseen position, both behaviours (10 episodes, about half a
minute of real time). Taught in lock step (the default), the converted dataset must equal
``generate_dataset``'s for the same configuration sample by sample, and train as well. Taught in real
time, the recording must still convert: its timing varies with the machine's load (docs/your_arm.md),
so only its shape and labels are checked. The full-size run (default grid, 4000 epochs) is in
docs/your_arm.md. A callback failing during a teaching run is logged and the run goes on.
"""

import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("rosbags")

# Joint paths of the taught episodes against the generator's, radians. In lock step the world does what the
# generator does, target for target, so only rounding separates them (measured: 2e-9 rad).
TOLERANCE = 1e-6


def matched(taught, generated):
    """``generated`` reordered to ``taught``'s samples (same behaviour, split and block position)."""
    index = []
    for label, split, xy in zip(taught.labels, taught.split, taught.block_xy):
        (j,) = np.flatnonzero((generated.labels == label) & (generated.split == split)
                              & np.all(np.abs(generated.block_xy - xy) < 1e-9, axis=1))
        index.append(j)
    return generated.subset(np.array(index))


def test_taught_bags_become_the_generated_dataset_and_train(tmp_path):
    import torch

    from latent_nodes.config import Config, DataConfig, SimConfig
    from latent_nodes.data.dataset import load_dataset
    from latent_nodes.model.training import trainer_for_dataset
    from latent_nodes.scripts import bag2dataset, teach
    from latent_nodes.sim.demonstrations import generate_dataset

    bags = tmp_path / "bags"
    assert teach.main(["--out", str(bags), "--train-grid", "2", "2", "--test-grid", "1", "1"]) == 0
    assert teach.main(["--out", str(bags), "--train-grid", "2", "2"]) == 2  # existing bags are kept
    out = tmp_path / "taught.npz"
    assert bag2dataset.main(["--bag", str(bags / "train"), "--bag", f"{bags / 'test'}::test", "--stamps", "header",
                             "--out", str(out)]) == 0
    taught = load_dataset(out)
    generated = matched(taught, generate_dataset(DataConfig(train_grid=[2, 2], test_grid=[1, 1]), SimConfig()))

    assert len(taught) == 10 and sorted(taught.split.tolist()).count("test") == 2
    assert taught.joint_names == generated.joint_names
    np.testing.assert_allclose(taught.sequences[:, :, 9:], generated.sequences[:, :, 9:], atol=1e-9)  # the block
    diff = taught.sequences[:, :, :9] - generated.sequences[:, :, :9]
    print(f"taught vs generated joints: max {np.abs(diff).max():.1e} rad")
    assert np.abs(diff).max() < TOLERANCE

    # A few epochs on each (same seed and settings): the taught data trains like the generated data.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a small model on a shared CPU: more threads only wait on each other
    try:
        final = {}
        for name, ds in (("taught", taught), ("generated", generated)):
            cfg = Config()
            cfg.model.layer_sizes, cfg.train.batch_size, cfg.train.lr = [32, 16, 8], 32, 1e-2
            trainer, _ = trainer_for_dataset(cfg, ds)
            trainer.fit(150)
            first, final[name] = (trainer.history[i]["reconstruction"] for i in (0, -1))
            assert final[name] < 0.05 * first, (name, first, final[name])
    finally:
        torch.set_num_threads(threads)
    assert final["taught"] < 1.5 * final["generated"], final


def test_a_realtime_teaching_run_converts(tmp_path):
    from latent_nodes.data.dataset import load_dataset
    from latent_nodes.scripts import bag2dataset, teach

    bags = tmp_path / "bags"
    assert teach.main(["--out", str(bags), "--behaviours", "reach", "--train-grid", "2", "2", "--test-grid", "0", "0",
                       "--realtime"]) == 0
    assert not (bags / "test").exists()
    out = tmp_path / "taught.npz"
    # Its joint states are stamped with the simulated time the world reached, so both timings convert.
    for stamps in ("receive", "header"):
        assert bag2dataset.main(["--bag", str(bags / "train"), "--stamps", stamps, "--out", str(out)]) == 0
        taught = load_dataset(out)
        assert taught.labels.tolist() == [0] * 4 and taught.split.tolist() == ["train"] * 4
        assert taught.sequences.shape == (4, 20, 11) and np.all(np.isfinite(taught.sequences))
        # Each time the arm went out to the block and was on its way home by the last step: it moved, and
        # ended nearer its start than its farthest point (how near depends on the delay, so on the load).
        q = taught.sequences[:, :, :9]
        farthest = np.linalg.norm(q - q[:, :1], axis=2).max(axis=1)
        assert np.all(farthest > 0.3), farthest
        assert np.all(np.linalg.norm(q[:, -1] - q[:, 0], axis=1) < 0.5 * farthest), farthest


def broken_description(self, msg) -> None:
    raise RuntimeError("broken on purpose by the test")


def test_a_failing_callback_is_logged_and_the_teaching_run_goes_on(tmp_path, monkeypatch, capfd):
    """The teaching run's nodes share one process and one executor: a failing callback must not end its spin."""
    from latent_nodes.data.bags import read_episodes
    from latent_nodes.nodes.record_node import RecordNode
    from latent_nodes.scripts import teach

    monkeypatch.setattr(RecordNode, "on_description", broken_description)  # fails on the sim's description
    bags = tmp_path / "bags"
    assert teach.main(["--out", str(bags), "--behaviours", "reach", "--train-grid", "2", "2", "--test-grid", "0",
                       "0"]) == 0
    err = capfd.readouterr().err
    failed = [line for line in err.splitlines() if "failed: RuntimeError" in line]
    assert len(failed) == 1, err
    assert ("callback broken_description (subscription /robot_description) failed: RuntimeError: broken on "
            "purpose by the test at test_round_trip.py:") in failed[0] and failed[0].endswith("serving on"), failed
    from latent_nodes.sim import arm

    episodes = read_episodes(bags / "train", list(arm.JOINT_NAMES), 20, 0.1, None)
    assert [e.behaviour for e in episodes] == ["reach"] * 4
