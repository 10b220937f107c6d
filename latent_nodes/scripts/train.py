"""Offline training: ``latent-nodes train`` (pip) or ``ros2 run latent_nodes train`` (colcon).

Data in, loop, checkpoint out. Every option comes from the config schema (``--help`` lists them with
their defaults); ``--config`` reads a YAML file first and options override it. Under ``ros2 run`` the
same names are also accepted as ROS parameters (``--ros-args -p epochs:=500``).

Written to ``--out-dir``: ``model.pt`` (checkpoint, atomically, every ``--checkpoint-every`` epochs and
at the end), ``log.jsonl`` (every loss term per epoch), ``config.yaml``, ``metrics.json`` (first-step
reconstruction of the unseen test samples), ``losses.png`` and ``local_coordinates.png`` (Fig. 4).
``--resume`` continues from ``model.pt`` to the same result as an uninterrupted run (with the run's own
settings: only ``--epochs`` may change, to grow it); Ctrl-C or SIGTERM saves a checkpoint and exits
cleanly. A directory that already holds a run is never replaced without ``--overwrite``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import yaml

from latent_nodes.atomic import check_target, write_text_atomic
from latent_nodes.cli import ArgumentParser
from latent_nodes.config import (
    Config,
    ConfigError,
    DataConfig,
    ModelConfig,
    TrainConfig,
    add_arguments,
    apply_arguments,
    load_config,
    show,
)

DEFAULT_DATASET = Path("data/demonstrations.npz")
MODEL_ALIASES = {"local_dim": ["-K"], "latent_dim": ["-L"]}
TRAIN_ALIASES = {"reg_weight": ["--lambda"], "out_dir": ["--out"]}
# What a resumed run may be given besides its own settings: where the run is and how long it runs.
RESUME_SETTINGS = ("train.epochs", "train.out_dir")


def build_parser() -> argparse.ArgumentParser:
    # Each schema option states its default in its help (add_arguments); the others have none worth saying.
    parser = ArgumentParser(prog="latent-nodes train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, help="YAML config file (sections model, train, data, ...)")
    parser.add_argument("--dataset", type=Path, default=None,
                        help=f"dataset file; if absent, the default dataset is generated at {DEFAULT_DATASET}")
    parser.add_argument("--resume", action="store_true",
                        help="continue from <out-dir>/model.pt with its own settings (only --epochs may change)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the run already in --out-dir (without it, train refuses to)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (log lines instead)")
    add_arguments(parser, ModelConfig, aliases=MODEL_ALIASES)
    add_arguments(parser, TrainConfig, aliases=TRAIN_ALIASES)
    add_arguments(parser, DataConfig, prefix="data_", only=["train_grid", "perturbation", "seed"])
    return parser


def config_from_args(args: argparse.Namespace, ros_overrides: dict[str, dict] | None = None) -> Config:
    """The config file, then the options, then ROS parameters; validated as a whole (``ConfigError``)."""
    cfg = load_config(args.config)
    apply_arguments(cfg.model, args)
    apply_arguments(cfg.train, args)
    apply_arguments(cfg.data, args, prefix="data_")
    if args.dataset is not None:
        cfg.data.dataset_path = str(args.dataset)
    for section, values in (ros_overrides or {}).items():
        for key, value in values.items():
            setattr(getattr(cfg, section), key, value)
    return cfg.validate()


def explicit_settings(args: argparse.Namespace, ros_overrides: dict[str, dict]) -> dict[str, str]:
    """The settings this command line gives explicitly: ``section.field`` -> how it was given (for messages).

    Schema options are in ``args`` only when given (``add_arguments`` leaves the others out); a config file
    gives the keys it holds. With ``--resume`` these must agree with the run's own settings.
    """
    sections = {"model": ModelConfig, "train": TrainConfig, "data": DataConfig}
    given: dict[str, str] = {}
    if args.config is not None:
        data = yaml.safe_load(Path(args.config).read_text()) or {}  # load_config has read it without fault
        for section, values in data.items():
            for key in values or {}:
                given[f"{section}.{key}"] = f"{section}.{key} in --config {args.config}"
    if args.dataset is not None:
        given["data.dataset_path"] = "--dataset"
    for section, cls in sections.items():
        prefix = "data_" if section == "data" else ""
        for f in fields(cls):
            if f"{prefix}{f.name}" in vars(args):
                given[f"{section}.{f.name}"] = f"--{prefix}{f.name}".replace("_", "-")
    for section, values in ros_overrides.items():
        for key in values:
            given[f"{section}.{key}"] = f"ROS parameter {key}"
    for key in RESUME_SETTINGS:
        given.pop(key, None)
    return given


def check_device(device: str) -> None:
    """A CUDA device must exist here; one ``ConfigError`` line instead of torch's traceback mid-run."""
    if not device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise ConfigError(f"train.device = {device!r}, but torch {torch.__version__} finds no CUDA GPU on this "
                          f"machine: use --device cpu")
    index = int(device.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise ConfigError(f"train.device = {device!r}, but this machine has {torch.cuda.device_count()} CUDA GPU(s)")


def load_or_generate_dataset(cfg: Config, log=print):
    """The dataset named in the config, or the default one (generated in the simulator if missing)."""
    from latent_nodes.data.dataset import load_dataset, save_dataset

    if cfg.data.dataset_path:
        return load_dataset(cfg.data.dataset_path)
    if DEFAULT_DATASET.exists():
        return load_dataset(DEFAULT_DATASET)
    from latent_nodes.sim.demonstrations import generate_dataset

    log(f"generating the default dataset at {DEFAULT_DATASET} (MuJoCo demonstrations)")
    dataset = generate_dataset(cfg.data, cfg.sim)
    save_dataset(dataset, DEFAULT_DATASET)
    return dataset


def run(cfg: Config, resume: bool = False, progress: bool = True, log=print, overwrite: bool = False,
        given: dict[str, str] | None = None) -> Path:
    """Train (or resume) with ``cfg``; returns the checkpoint path. Library entry for scripts and nodes.

    Without ``resume``, a directory that already holds a model is refused unless ``overwrite``: a run
    (hours of training, its log) is never replaced by accident. A resumed run continues with its own
    settings; ``given`` (``section.field`` -> how it was given, see ``explicit_settings``) names the
    settings the caller asked for, and any that differ from the run's are refused rather than ignored.
    """
    from latent_nodes.evaluation import test_split_errors
    from latent_nodes.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
    from latent_nodes.model.training import to_checkpoint, trainer_for_dataset
    from latent_nodes.model.training_plots import plot_local_coordinates, plot_losses

    cfg.validate()
    out = Path(cfg.train.out_dir)
    ckpt_path, log_path = out / "model.pt", out / "log.jsonl"
    check_target(ckpt_path)  # --out-dir a file, or under one: say so now, not after training
    if resume and overwrite:
        raise ValueError(f"--resume continues the run in {out} and --overwrite replaces it: give one of them")
    check_device(cfg.train.device)
    if resume:
        if not ckpt_path.exists():
            raise CheckpointError(f"cannot resume: {ckpt_path} does not exist")
        previous = load_checkpoint(ckpt_path, cfg.train.device)
        if previous.train_state is None:
            raise CheckpointError(f"cannot resume: {ckpt_path} holds no training state")
        changed = [f"{label} = {show(_setting(cfg, key))} (the run has {show(_setting(previous.config, key))})"
                   for key, label in (given or {}).items() if _setting(cfg, key) != _setting(previous.config, key)]
        if changed:
            raise ValueError(f"--resume continues the run in {out} with its own settings, so it cannot take "
                             f"{'; '.join(changed)}: drop them (only --epochs may grow), or start a new run with "
                             f"--overwrite")
        epochs = cfg.train.epochs
        cfg = previous.config  # the run continues with its own settings; only the epoch target may grow
        cfg.train.epochs = max(epochs, previous.train_state["epoch"])
        check_device(cfg.train.device)
    elif ckpt_path.exists() and not overwrite:
        raise ValueError(f"--out-dir {out} already holds a run ({ckpt_path.name}): continue it with --resume, "
                         f"or replace it with --overwrite")
    dataset = load_or_generate_dataset(cfg, log)
    trainer, normalizer = trainer_for_dataset(cfg, dataset)
    if resume:
        trainer.model.load_state_dict(previous.model.state_dict())
        trainer.load_state_dict(previous.train_state)
        log(f"resuming {ckpt_path} at epoch {trainer.epoch} of {cfg.train.epochs}")
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    # The log always matches the checkpoint's history, also after an interrupted run is resumed.
    write_text_atomic(log_path, "".join(json.dumps(h) + "\n" for h in trainer.history))

    def save() -> None:
        save_checkpoint(ckpt_path, to_checkpoint(trainer, normalizer, dataset))

    # Ctrl-C and SIGTERM ask for a stop at the end of the current epoch, so the checkpoint holds a whole
    # number of epochs and --resume continues bit for bit; a second Ctrl-C gives up at once, unsaved.
    stop: dict[str, int | None] = {"signal": None}

    def request_stop(signum, frame):  # noqa: ARG001
        if stop["signal"] is not None:
            raise KeyboardInterrupt
        stop["signal"] = signum
        log("stopping after this epoch (Ctrl-C again to abort without saving)")

    handlers = ({sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
                if _main_thread() else {})
    bar = _progress(trainer.epoch, cfg.train.epochs, progress)
    start = time.perf_counter()
    try:
        with open(log_path, "a") as log_file:
            while trainer.epoch < cfg.train.epochs:
                rec = trainer.run_epoch()
                if rec.epoch % cfg.train.log_every == 0:
                    log_file.write(json.dumps(rec.to_dict()) + "\n")
                    log_file.flush()
                bar.update(1)
                bar.set_postfix(loss=f"{rec.loss:.2e}", recon=f"{rec.reconstruction:.2e}",
                                reg=f"{rec.regularizer:.2e}", refresh=False)
                if stop["signal"] is not None:
                    bar.close()
                    save()
                    log(f"interrupted at epoch {trainer.epoch}: saved {ckpt_path}; continue with --resume")
                    raise SystemExit(130)
                if rec.epoch % cfg.train.checkpoint_every == 0 and rec.epoch < cfg.train.epochs:
                    save()
    except KeyboardInterrupt:
        bar.close()
        log(f"aborted during epoch {trainer.epoch + 1}: not saved; {ckpt_path} holds the last checkpoint")
        raise SystemExit(130) from None
    finally:
        bar.close()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    train_seconds = time.perf_counter() - start

    # Evaluation on the unseen test positions: the paper's protocol (first-step perception only).
    metrics = {"epochs": trainer.epoch, "train_seconds_this_run": round(train_seconds, 2),
               "final": trainer.history[-1] if trainer.history else {}}
    errors = test_split_errors(trainer.model, normalizer, dataset, cfg.inference)
    if errors:
        metrics["test_error_first_step"] = errors
        metrics["test_error_units"] = "(1/T) sum_t ||x - x_hat||^2, each dimension scaled to [-1, 1] on train"
    # How conformal each behaviour's chart is at its training xi; {} without an embedding.
    from latent_nodes.model.conformality import model_conformality

    metrics["chart_conformality"] = model_conformality(trainer.model, list(dataset.behaviour_names))
    ckpt = to_checkpoint(trainer, normalizer, dataset, metrics)
    save_checkpoint(ckpt_path, ckpt)
    write_text_atomic(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    plot_losses(trainer.history, out / "losses.png", f"{cfg.model.case}, seed {cfg.train.seed}")
    train = dataset.train()
    plot_local_coordinates(trainer.model.coords.detach().cpu().numpy(), np.asarray(train.labels),
                           np.asarray(train.block_xy), list(dataset.behaviour_names), out / "local_coordinates.png",
                           f"learned coordinates ({cfg.model.case})")
    log(f"saved {ckpt_path}; test error (first-step perception): {metrics.get('test_error_first_step')}")
    return ckpt_path


def _setting(cfg: Config, key: str):
    section, name = key.split(".", 1)
    return getattr(getattr(cfg, section), name)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _progress(done: int, total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=done, disable=not enabled, unit="epoch", dynamic_ncols=True)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        ros_overrides = _ros_parameters(argv)
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help, or one line about a bad option
            return int(exc.code or 0)
        cfg = config_from_args(args, ros_overrides)
        run(cfg, resume=args.resume, progress=not args.no_progress, overwrite=args.overwrite,
            given=explicit_settings(args, ros_overrides))
    except (ValueError, OSError) as exc:  # dataset, checkpoint and config errors are ValueErrors
        print(f"latent-nodes train: {exc}", file=sys.stderr)
        return 2
    return 0


def _ros_parameters(argv: list[str]) -> dict[str, dict]:
    """Under ``ros2 run``: read ``--ros-args -p name:=value`` as config fields, and strip them from argv.

    A field name is looked up in the model, train and data sections (in that order); an unknown
    parameter name is an error, so a typo is not silently ignored.
    """
    if "--ros-args" not in argv:
        return {}
    import rclpy
    from rclpy.utilities import remove_ros_args

    rclpy.init(args=argv)
    try:
        node = rclpy.create_node("train", automatically_declare_parameters_from_overrides=True)
        bare = rclpy.create_node("train_builtin_parameters")  # what every node has (use_sim_time, ...)
        builtin = set(bare.get_parameters_by_prefix(""))
        params = {name: p.value for name, p in node.get_parameters_by_prefix("").items() if name not in builtin}
        bare.destroy_node()
        node.destroy_node()
    finally:
        rclpy.shutdown()
    sections = {"model": ModelConfig, "train": TrainConfig, "data": DataConfig}
    overrides: dict[str, dict] = {}
    for name, value in params.items():
        section = next((s for s, cls in sections.items() if name in {f.name for f in fields(cls)}), None)
        if section is None:
            raise ValueError(f"unknown ROS parameter {name!r}: parameters are the fields of the model, train "
                             f"and data config sections (latent-nodes train --help lists them)")
        overrides.setdefault(section, {})[name] = list(value) if isinstance(value, (list, tuple)) else value
    argv[:] = remove_ros_args(argv)
    return overrides


if __name__ == "__main__":
    sys.exit(main())
