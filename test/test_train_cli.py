"""The training and Table I commands end to end on a miniature dataset (few epochs, small model)."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from latent_nodes.config import DataConfig
from latent_nodes.data.dataset import save_dataset
from latent_nodes.model.checkpoint import load_checkpoint
from latent_nodes.sim.demonstrations import generate_dataset

SMALL = ["--layer-sizes", "16", "8", "--time-constants", "2", "4", "--embedding-hidden", "8", "--no-progress"]


@pytest.fixture(scope="module")
def dataset_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "mini.npz"
    save_dataset(generate_dataset(DataConfig(train_grid=[3, 3], test_grid=[2, 2])), path)
    return path


def test_train_writes_checkpoint_log_metrics_and_plots(tmp_path, dataset_path):
    from matplotlib.image import imread

    from latent_nodes.scripts.train import main

    out = tmp_path / "run"
    assert main(["--dataset", str(dataset_path), "--epochs", "6", "--checkpoint-every", "2",
                 "--out-dir", str(out), "--lambda", "0.5", "-K", "2", *SMALL]) == 0
    ckpt = load_checkpoint(out / "model.pt")
    assert ckpt.config.train.reg_weight == 0.5 and ckpt.config.model.layer_sizes == [16, 8]
    assert ckpt.train_state["epoch"] == 6 and ckpt.behaviour_names == ["reach", "reach_circle"]
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, 7))
    assert all({"loss", "reconstruction", "regularizer"} <= set(r) for r in rows)
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["test_error_first_step"]) == {"reach", "reach_circle"}
    for name in ("losses.png", "local_coordinates.png"):
        image = imread(out / name)
        assert image.shape[0] > 100 and image[..., :3].std() > 0.05, f"{name} looks blank"


def test_missing_dataset_is_one_clear_error(tmp_path, capsys):
    from latent_nodes.scripts.train import main

    assert main(["--dataset", str(tmp_path / "none.npz"), "--out-dir", str(tmp_path), *SMALL]) == 2
    err = capsys.readouterr().err
    assert "none.npz does not exist" in err and "Traceback" not in err


def test_resume_after_ctrl_c_ends_like_an_uninterrupted_run(tmp_path, dataset_path):
    cmd = [sys.executable, "-m", "latent_nodes.cli", "train", "--dataset", str(dataset_path), "--epochs", "1200",
           "--checkpoint-every", "100000", *SMALL]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    subprocess.run(cmd + ["--out-dir", str(straight)], check=True, env=env, capture_output=True)
    proc = subprocess.Popen(cmd + ["--out-dir", str(broken)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    log = broken / "log.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 50):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted at epoch" in out and "Traceback" not in err
    stopped_at = load_checkpoint(broken / "model.pt").train_state["epoch"]
    assert 50 <= stopped_at < 1200
    subprocess.run(cmd + ["--out-dir", str(broken), "--resume"], check=True, env=env, capture_output=True)
    a, b = load_checkpoint(straight / "model.pt"), load_checkpoint(broken / "model.pt")
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[key]), key
    assert a.train_state["history"] == b.train_state["history"]
    assert len((broken / "log.jsonl").read_text().splitlines()) == 1200


def test_table1_miniature(tmp_path, dataset_path):
    from latent_nodes.scripts.table1 import main

    out = tmp_path / "t1"
    cfg = tmp_path / "small.yaml"
    cfg.write_text("model:\n  layer_sizes: [16, 8]\n  time_constants: [2.0, 4.0]\n  embedding_hidden: 8\n")
    assert main(["--config", str(cfg), "--dataset", str(dataset_path), "--epochs", "3", "--seeds", "0", "1",
                 "--jobs", "1", "--inference-steps", "3", "--out", str(out)]) == 0
    result = json.loads((out / "table1.json").read_text())
    assert set(result["table"]) == {"no-embedding", "embedding", "embedding+regularization"}
    for row in result["table"].values():
        for mean, std in row.values():
            assert np.isfinite(mean) and mean > 0 and std >= 0
    assert set(result["baselines"]) == {"polynomial ridge", "IDW k nearest neighbours",
                                        "nearest neighbour, observed block", "Gaussian process", "contextual ProMP"}
    assert len(result["runs"]) == 6 and result["meta"]["epochs"] == 3
    text = (out / "table1.md").read_text()
    assert "Embedding, regularization" in text and "0.0004 ± 0.0001" in text  # the paper's row beside ours
    assert (out / "coords_embedding_regularization.png").stat().st_size > 1000


def test_ros_parameters_under_ros2_run(tmp_path, dataset_path):
    pytest.importorskip("rclpy")
    cmd = [sys.executable, "-m", "latent_nodes.scripts.train", "--dataset", str(dataset_path), "--no-progress",
           "--out-dir", str(tmp_path / "run"), "--ros-args", "-p", "epochs:=3", "-p", "layer_sizes:=[16, 8]",
           "-p", "time_constants:=[2.0, 4.0]", "-p", "reg_weight:=0.5"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    ckpt = load_checkpoint(tmp_path / "run" / "model.pt")
    assert ckpt.train_state["epoch"] == 3 and ckpt.config.model.layer_sizes == [16, 8]
    assert ckpt.config.train.reg_weight == 0.5
    typo = subprocess.run(cmd[:-8] + ["-p", "epoch:=3"], capture_output=True, text=True, timeout=120)
    assert typo.returncode == 2 and "unknown ROS parameter 'epoch'" in typo.stderr
