"""Bad input, tried as a new user would: each case is one clear line and an exit status, and nothing is lost.

One test per kind of mistake: replacing a run, unsafe model files, tracebacks where one line is due,
values accepted silently, ``--resume`` with settings, unclear messages, and temporary files left by a
killed writer.
"""

import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from latent_nodes.config import default_model_path
from latent_nodes.data.dataset import Dataset, DatasetError, load_dataset, save_dataset
from latent_nodes.model.checkpoint import CheckpointError, load_checkpoint
from latent_nodes.nodes.runner import EXIT_CANNOT_START

ROOT = Path(__file__).resolve().parent.parent


def one_line(text: str) -> str:
    """The single line of ``text``; fails if there are more lines or a traceback."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


def run_command(capsys, command: str, *argv: str) -> tuple[int, str]:
    """A ``latent-nodes`` command run in this process: (exit status, its one stderr line)."""
    from latent_nodes import cli

    status = cli.main([command, *argv])
    captured = capsys.readouterr()
    return status, one_line(captured.err)


@pytest.fixture()
def existing_run(tmp_path) -> Path:
    """A directory holding a run's files (contents are irrelevant: they must only survive untouched)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.pt").write_bytes(b"trained weights")
    (run / "log.jsonl").write_text('{"epoch": 1}\n')
    return run


def files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def shipped_payload() -> dict:
    """The shipped model's saved entries, to damage one at a time."""
    return torch.load(default_model_path(), weights_only=True)


def write_model(path: Path, payload: dict) -> Path:
    torch.save(payload, path)
    return path


# 1. A run is never replaced without --overwrite --------------------------------------------------------------

@pytest.mark.parametrize("epochs", ["3", "0", "-5"])
def test_train_refuses_to_replace_an_existing_run(capsys, existing_run, epochs):
    before = files(existing_run)
    status, line = run_command(capsys, "train", "--epochs", epochs, "--out-dir", str(existing_run))
    assert status == 2
    if epochs == "3":
        assert f"--out-dir {existing_run} already holds a run (model.pt)" in line
        assert "--resume" in line and "--overwrite" in line
    else:
        assert f"train.epochs = {epochs}: expected an integer >= 1" in line
    assert files(existing_run) == before, "nothing in the run was touched"


# 2. A crafted or foreign pickle is refused without suggesting unsafe loading -----------------------------------

class _Payload:
    """Unpickling this would run a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_crafted_pickle_is_not_a_model_and_never_runs(tmp_path):
    from latent_nodes.inference.completion import BehaviourCompleter

    marker = tmp_path / "ran"
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps(_Payload(marker)))
    saved = write_model(tmp_path / "saved.pt", {"format": "latent_nodes.model", "x": _Payload(marker)})
    random_bytes = tmp_path / "random.pt"
    random_bytes.write_bytes(np.random.default_rng(0).bytes(4096))
    for path in (raw, saved, random_bytes):
        for load in (load_checkpoint, BehaviourCompleter.from_checkpoint):
            with pytest.raises(CheckpointError) as info:
                load(path)
            message = one_line(str(info.value))
            assert f"model file {path} is not a loadable latent_nodes model" in message
            assert "weights_only" not in message and "trust" not in message, message
    assert "imports or runs code" in str(pytest.raises(CheckpointError, load_checkpoint, saved).value)
    assert not marker.exists(), "nothing in the file was executed"


# 3. One line where a traceback was ---------------------------------------------------------------------------

def test_damaged_model_files_are_one_line(tmp_path, shipped_payload, capsys):
    from latent_nodes.inference.completion import BehaviourCompleter
    from latent_nodes.scripts import demo

    no_dt = write_model(tmp_path / "no_dt.pt", {k: v for k, v in shipped_payload.items() if k != "dt"})
    state = {k: v.clone() for k, v in shipped_payload["state_dict"].items()}
    name = next(k for k, v in state.items() if v.is_floating_point())
    state[name].view(-1)[0] = float("nan")
    nan = write_model(tmp_path / "nan.pt", {**shipped_payload, "state_dict": state})
    inf_dt = write_model(tmp_path / "inf_dt.pt", {**shipped_payload, "dt": float("inf")})
    for path, reason in ((no_dt, "lacks the entries dt"), (nan, f"has NaN or infinite weights in {name}"),
                         (inf_dt, "has dt = inf: expected a positive number of seconds")):
        for load in (load_checkpoint, BehaviourCompleter.from_checkpoint):
            with pytest.raises(CheckpointError, match="model file .* " + reason.replace("(", r"\(")):
                load(path)
    # The demo and the node say the same in one line (the demo starts the graph's nodes in-process).
    assert demo.main(["--model", str(no_dt), "--out", str(tmp_path / "demo")]) == 1
    err = capsys.readouterr().err
    assert f"cannot start the graph: model file {no_dt} lacks the entries dt" in one_line(err)
    node = subprocess.run([sys.executable, "-m", "latent_nodes.nodes.inference_node", "--ros-args",
                           "-p", f"model_path:={nan}"], capture_output=True, text=True, timeout=120)
    assert node.returncode == EXIT_CANNOT_START
    errors = [line for line in (node.stdout + node.stderr).splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "Traceback" not in node.stderr, node.stderr
    assert f"cannot start: model file {nan} has NaN or infinite weights" in errors[0]


@pytest.mark.parametrize("argv, expected", [
    (["train", "-K", "0"], "model.local_dim = 0: expected an integer >= 1"),
    (["train", "--checkpoint-every", "0"], "train.checkpoint_every = 0: expected an integer >= 1"),
    (["train", "--perception-dims", "20", "21"], "model.perception_dims = [20, 21]: expected indices below "
                                                 "model.output_dim = 11"),
    (["train", "--layer-sizes", "0", "0", "0"], "model.layer_sizes holds 0: expected a non-empty list of "
                                                "integers, each >= 1"),
    (["train", "--lambda", "nan"], "train.reg_weight = nan: expected a finite number >= 0"),
    (["train", "--out-dir", "{file}"], "cannot write {file}/model.pt: {file} is a file, not a directory"),
    (["train", "--config", "{wrong_type}"], "config file {wrong_type}: train.lr = 'fast': expected a finite "
                                            "number > 0"),
    (["table1", "--epochs", "-1"], "train.epochs = -1: expected an integer >= 1"),
    (["dataset", "--out", "{file}/demonstrations.npz"], "cannot write {file}/demonstrations.npz: {file} is a "
                                                        "file, not a directory"),
])
def test_command_mistakes_are_one_line(capsys, tmp_path, argv, expected):
    names = {"file": tmp_path / "a_file", "wrong_type": tmp_path / "wrong.yaml"}
    names["file"].write_text("precious")
    names["wrong_type"].write_text("train:\n  lr: fast\n")
    argv = [a.format(**names) for a in argv]
    status, line = run_command(capsys, *argv, *(["--out-dir", str(tmp_path / "run")] if argv[0] == "train"
                                                  and "--out-dir" not in argv else []))
    assert status == 2 and expected.format(**names) in line, line
    assert names["file"].read_text() == "precious"
    assert not (tmp_path / "run").exists(), "nothing was written"


def test_cuda_without_a_gpu_is_one_line(capsys, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    status, line = run_command(capsys, "train", "--device", "cuda", "--out-dir", str(tmp_path / "run"))
    assert status == 2 and "train.device = 'cuda', but torch" in line and "finds no CUDA GPU" in line
    assert not (tmp_path / "run").exists()


def test_console_command_exit_status_and_no_traceback(tmp_path):
    """The same through the installed entry point, as a person types it."""
    proc = subprocess.run([sys.executable, "-m", "latent_nodes.cli", "train", "-K", "0", "--out-dir",
                           str(tmp_path / "run")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert one_line(proc.stderr).startswith("latent-nodes train: argument --local-dim/-K: model.local_dim = 0")


# 4. Values accepted silently before ----------------------------------------------------------------------------

@pytest.mark.parametrize("node, old, new, expected", [
    ("inference", "steps: 10", "steps: -3", "parameter inference.steps = -3: expected an integer >= 1"),
    ("inference", "steps: 10", "steps: 2.5", "parameter inference.steps = 2.5: expected an integer >= 1"),
    ("inference", "torch_threads: 1", 'torch_threads: "one"', "parameter torch_threads = 'one': expected an "
                                                             "integer >= 1"),
    ("perception", "perception_min_visible: 0.9", "perception_min_visible: 1.5",
     "parameter perception_min_visible = 1.5: expected a finite number > 0 and <= 1"),
    ("perception", "perception_rate: 0.2", "perception_rate: -1", "parameter perception_rate = -1: expected a "
                                                                  "finite number >= 0"),
    ("perception", "perception_rate: 0.2", "perception_rte: 0.2", "parameter perception_rte is unknown (did you "
                                                                  "mean perception_rate?)"),
    ("commander", "settle_s: 0.5", "settle_s: [0.5", "is not valid YAML"),
])
def test_demo_refuses_bad_parameter_files(capsys, tmp_path, node, old, new, expected):
    from latent_nodes.scripts import demo

    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    path = config / f"{node}.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    status = demo.main(["--config-dir", str(config), "--out", str(tmp_path / "out")])
    line = one_line(capsys.readouterr().err)
    assert status == 2 and f"latent-nodes demo: parameter file {path}" in line and expected in line, line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, expected", [
    (["--lambda", "-1"], "train.reg_weight = -1: expected a finite number >= 0"),
    (["-K", "5", "-L", "4"], "model.local_dim = 5 exceeds model.latent_dim = 4: expected K <= L"),
    (["--batch-size", "0"], "train.batch_size = 0: expected an integer >= 1"),
    (["--epochs", "2.7"], "train.epochs = 2.7: expected an integer >= 1"),
])
def test_train_refuses_values_it_used_to_accept(capsys, tmp_path, argv, expected):
    status, line = run_command(capsys, "train", *argv, "--out-dir", str(tmp_path / "run"))
    assert status == 2 and expected in line
    assert not (tmp_path / "run").exists()


def test_config_file_and_dataset_values_accepted_silently_before(tmp_path):
    from latent_nodes.config import ConfigError, load_config

    path = tmp_path / "c.yaml"
    path.write_text("train:\n  epochs: 2.7\n")
    with pytest.raises(ConfigError, match=r"train\.epochs = 2\.7: expected an integer >= 1"):
        load_config(path)
    # Float labels: 0.7 used to become behaviour 0 without a word.
    ds = Dataset(sequences=np.zeros((2, 3, 11)), labels=[0, 1], block_xy=np.zeros((2, 2)), split=["train", "test"],
                 joint_names=[f"j{i}" for i in range(9)], behaviour_names=["reach", "reach_circle"], dt=0.1)
    data = save_dataset(ds, tmp_path / "d.npz")
    with np.load(data) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["labels"] = np.array([0.0, 0.7])
    np.savez(tmp_path / "float_labels.npz", **arrays)
    with pytest.raises(DatasetError) as info:
        load_dataset(tmp_path / "float_labels.npz")
    assert one_line(str(info.value)).endswith("is inconsistent: labels must be integers (behaviour indices), "
                                              "got float64 values")
    with pytest.raises(ValueError, match="labels must be integers"):
        Dataset(**{**ds.__dict__, "labels": [0.0, 0.7]})


# 5. --resume with settings says it cannot take them --------------------------------------------------------------

def test_resume_refuses_settings_it_would_ignore(capsys, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(default_model_path(), run / "model.pt")  # a finished run: settings of the shipped model
    before = files(run)
    config = tmp_path / "c.yaml"
    config.write_text("inference:\n  steps: 5\n")
    status, line = run_command(capsys, "train", "--resume", "--out-dir", str(run), "--epochs", "9", "-L", "5",
                               "--lr", "0.1", "--seed", "3", "--dataset", str(tmp_path / "d.npz"), "--n-mc", "4",
                               "--config", str(config))
    assert status == 2
    assert line.startswith(f"latent-nodes train: --resume continues the run in {run} with its own settings, so "
                           f"it cannot take ")
    for said in ("--latent-dim = 5 (the run has 4)", "--lr = 0.1 (the run has 0.01)", "--seed = 3 (the run has 0)",
                 f"--dataset = '{tmp_path / 'd.npz'}' (the run has '')",
                 f"inference.steps in --config {config} = 5 (the run has 30)", "only --epochs may grow"):
        assert said in line, said
    assert "--n-mc" not in line and "--epochs =" not in line, "an unchanged setting is not a conflict"
    status, line = run_command(capsys, "train", "--resume", "--overwrite", "--out-dir", str(run))
    assert status == 2 and "give one of them" in line
    assert files(run) == before


# 6. Clear messages ---------------------------------------------------------------------------------------------

def test_messages_say_what_is_wrong(capsys, tmp_path, shipped_payload):
    from latent_nodes.inference.completion import BehaviourCompleter, InvalidObservation

    config = {**shipped_payload["config"], "model": {**shipped_payload["config"]["model"], "layer_sizes": [8, 8, 8]}}
    mismatch = write_model(tmp_path / "mismatch.pt", {**shipped_payload, "config": config})
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(mismatch)
    message = one_line(str(info.value))
    assert "does not fit its own settings: wrong size" in message and "(config: [8" in message
    assert not message.rstrip().endswith(":") and "Error(s) in loading" not in message

    with pytest.raises(CheckpointError, match=f"model file {tmp_path} is a directory, not a model file"):
        load_checkpoint(tmp_path)

    completer = BehaviourCompleter.from_checkpoint()
    with pytest.raises(InvalidObservation) as info:
        completer.complete((1e308, 0.0), "reach")
    assert "(1e+308, 0) m is off the table" in str(info.value) and len(str(info.value)) < 200

    ds = Dataset(sequences=np.zeros((1, 3, 11)), labels=[0], block_xy=np.zeros((1, 2)), split=["train"],
                 joint_names=[f"j{i}" for i in range(9)], behaviour_names=["reach"], dt=0.1)
    with np.load(save_dataset(ds, tmp_path / "d.npz")) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["split"] = np.array(["val"])
    np.savez(tmp_path / "bad_split.npz", **arrays)
    with pytest.raises(DatasetError) as info:
        load_dataset(tmp_path / "bad_split.npz")
    assert str(info.value).count("inconsistent") == 1 and "is inconsistent: split values" in str(info.value)

    from latent_nodes.scripts import train

    assert train.main(["--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines anywhere
    assert "(default: 4)" in help_text and "(default: None)" not in help_text
    assert not re.search(r"\(default: [^)]*\) \(default:", help_text), "each default is said once"


# 7. A killed writer's temporary file is cleaned up by the next write ---------------------------------------------

WRITER = """
import sys, time
from latent_nodes.atomic import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    tmp.write_bytes(b"half a checkpoint")
    print("writing", flush=True)
    time.sleep(60)
"""


def test_next_write_removes_temporaries_of_killed_writers(tmp_path):
    from latent_nodes.atomic import atomic_path, write_bytes_atomic

    target = tmp_path / "model.pt"
    target.write_bytes(b"old")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "writing"
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    writer.stdout.close()
    left = list(tmp_path.glob(".model.pt.*.tmp"))
    assert len(left) == 1 and target.read_bytes() == b"old", "atomicity held; the temporary file stayed"
    old_style = tmp_path / ".model.pt.a1b2c3d4.tmp"  # no writer pid, two hours old
    old_style.write_bytes(b"older")
    os.utime(old_style, (old_style.stat().st_mtime - 7200,) * 2)
    other = tmp_path / ".log.jsonl.1.abcd.tmp"  # another file's: not this write's business
    other.write_bytes(b"x")
    # A recent write from another host sharing the directory: its pid means nothing here, so it stays.
    foreign = tmp_path / ".model.pt.999999999@another-host.abcd.tmp"
    foreign.write_bytes(b"theirs")
    with atomic_path(target) as live:  # a write in progress in this process must survive the next one
        live.write_bytes(b"in progress")
        write_bytes_atomic(target, b"new")
        assert live.exists() and not left[0].exists() and not old_style.exists() and other.exists()
        assert foreign.exists()
        assert target.read_bytes() == b"new"
    assert target.read_bytes() == b"in progress" and not live.exists()
