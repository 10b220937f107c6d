"""Model files round-trip and fail clearly; the deployment call validates and completes."""

import numpy as np
import pytest
import torch

from latent_nodes.inference.completion import BehaviourCompleter, InvalidObservation
from latent_nodes.model.checkpoint import FORMAT_VERSION, Checkpoint, CheckpointError, load_checkpoint, save_checkpoint

from synthetic import tiny_checkpoint

JOINTS = [f"j{i}" for i in range(9)]


@pytest.fixture(scope="module")
def ckpt() -> Checkpoint:
    ckpt = tiny_checkpoint(JOINTS)
    ckpt.metrics = {"note": "test"}
    return ckpt


def test_round_trip(tmp_path, ckpt):
    path = tmp_path / "m.pt"
    save_checkpoint(path, ckpt)
    back = load_checkpoint(path)
    assert back.config == ckpt.config
    assert back.behaviour_names == ckpt.behaviour_names and back.joint_names == JOINTS and back.dt == 0.1
    np.testing.assert_array_equal(back.normalizer.center, ckpt.normalizer.center)
    np.testing.assert_allclose(back.sample_block_xy, ckpt.sample_block_xy)
    assert back.metrics == {"note": "test"} and back.train_state["epoch"] == 150
    idx = torch.arange(4)
    with torch.no_grad():
        assert torch.equal(back.model(idx), ckpt.model(idx))
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file is left behind"


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"nope\.pt does not exist"):
        load_checkpoint(tmp_path / "nope.pt")


def test_truncated_file(tmp_path, ckpt):
    path = tmp_path / "m.pt"
    save_checkpoint(path, ckpt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"m\.pt is corrupt or truncated"):
        load_checkpoint(path)
    path.write_bytes(b"not a model at all")
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)


def test_foreign_and_incompatible_files(tmp_path, ckpt):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="not a latent_nodes model"):
        load_checkpoint(path)
    save_checkpoint(path, ckpt)
    data = torch.load(path, weights_only=True)
    data["format_version"] = FORMAT_VERSION + 1
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="format version"):
        load_checkpoint(path)
    data["format_version"] = FORMAT_VERSION
    data["config"]["model"]["layer_sizes"] = [8, 8, 8]
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="incompatible"):
        load_checkpoint(path)


def test_failed_save_keeps_the_old_file(tmp_path, ckpt):
    path = tmp_path / "m.pt"
    save_checkpoint(path, ckpt)
    before = path.read_bytes()
    broken = Checkpoint(**{**ckpt.__dict__, "metrics": {"bad": object()}})  # not serializable
    with pytest.raises(CheckpointError, match="would not load with weights_only"):
        save_checkpoint(path, broken)
    assert path.read_bytes() == before


def test_completion(ckpt):
    completer = BehaviourCompleter(ckpt)
    out = completer.complete([0.50, 0.05], "reach_circle")
    assert out.sequence.shape == (20, 11) and out.joints.shape == (20, 9)
    assert out.xi.shape == (2,) and out.z.shape == (4,)
    # The generated perception should echo the observed block position (raw metres).
    assert np.abs(out.sequence[0, 9:] - [0.50, 0.05]).max() < 0.01
    assert out.error < 1e-3 and out.latency_s > 0 and out.dt == 0.1


@pytest.mark.parametrize("xy, behaviour, message", [
    ([float("nan"), 0.0], "reach", "not finite"),
    ([0.5, float("inf")], "reach", "not finite"),
    ([2.0, 0.0], "reach", "off the table"),
    ([0.5, 0.0, 0.1], "reach", "must be"),
    ([0.5, 0.0], "wave", "unknown behaviour"),
])
def test_completion_rejects_bad_queries(ckpt, xy, behaviour, message):
    with pytest.raises(InvalidObservation, match=message):
        BehaviourCompleter(ckpt).complete(xy, behaviour)
