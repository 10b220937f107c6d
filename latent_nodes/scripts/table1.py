"""Reproduce the paper's Table I: ``latent-nodes table1``.

Protocol (Sec. IV-C): the three cases (no embedding; embedding; embedding + regularization), each
trained with several independent seeds for the same number of epochs; then every unseen test sample
is reconstructed from its first-step perception alone with the same fixed inference step budget for
all cases. Reported: the per-behaviour average squared error as mean +- std over the seeds, in
normalized units (each dimension scaled to [-1, 1] over the training set; the paper does not state
its scale), with the paper's figures beside and reference rows (polynomial ridge, inverse-distance
k nearest neighbours, nearest neighbour, Gaussian process, contextual ProMP: ``latent_nodes.baselines``)
on the same split. Runs go to a process pool, one torch thread each. ``--reference-only`` computes the
reference rows alone, without training.

Writes ``<out>/table1.md``, ``<out>/table1.json`` and, for the first seed, the learned coordinates of
each embedding case (``<out>/coords_<case>.png``, the paper's Fig. 4).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np

from latent_nodes.atomic import check_target, write_text_atomic
from latent_nodes.cli import ArgumentParser
from latent_nodes.config import CASES, Config, InferenceConfig, TrainConfig, argument_type, load_config

PAPER = {  # Table I of the paper: (mean, std) per behaviour
    "no-embedding": ((0.0032, 0.0025), (0.0015, 0.0009)),
    "embedding": ((0.0045, 0.0034), (0.0037, 0.0037)),
    "embedding+regularization": ((0.0004, 0.0001), (0.0009, 0.0002)),
}
CASE_TITLES = {"no-embedding": "No embedding", "embedding": "Embedding, no regularization",
               "embedding+regularization": "Embedding, regularization"}


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="latent-nodes table1", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, help="YAML config; its model/train/inference sections are the base")
    p.add_argument("--dataset", type=Path, help="dataset file (default: generate or reuse data/demonstrations.npz)")
    p.add_argument("--seeds", type=argument_type(TrainConfig, "seed"), nargs="+", default=[0, 1, 2],
                   help="independent seeds per case")
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    p.add_argument("--epochs", type=argument_type(TrainConfig, "epochs"),
                   help="epochs for every case (default: the config's)")
    p.add_argument("--inference-steps", type=argument_type(InferenceConfig, "steps"),
                   help="fixed inference step budget (default: the config's)")
    p.add_argument("--jobs", type=_positive_int, default=2, help="parallel training processes")
    p.add_argument("--no-baselines", action="store_true", help="skip the reference rows")
    p.add_argument("--reference-only", action="store_true",
                   help="only the reference rows (no training): <out>/reference_rows.{md,json}")
    p.add_argument("--out", type=Path, default=Path("runs/table1"), help="output directory")
    return p


def _positive_int(text: str) -> int:
    """argparse type: a count of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an integer >= 1")
    return value


def train_and_evaluate(job: tuple[dict, str, int, str | None]) -> dict:
    """One (case, seed) run in a worker process: train, then first-step reconstruction of the test set."""
    import torch

    from latent_nodes.data.dataset import load_dataset
    from latent_nodes.evaluation import test_split_errors
    from latent_nodes.model.training import trainer_for_dataset

    cfg_dict, case, seed, dataset_path = job
    torch.set_num_threads(1)
    cfg = Config.from_dict(cfg_dict)
    cfg.model.case, cfg.train.seed = case, seed
    dataset = load_dataset(dataset_path)
    trainer, normalizer = trainer_for_dataset(cfg, dataset)
    start = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - start
    train = dataset.train()
    return {"case": case, "seed": seed, "train_seconds": seconds, "final": trainer.history[-1],
            "errors": test_split_errors(trainer.model, normalizer, dataset, cfg.inference),
            "coords": trainer.model.coords.detach().cpu().numpy().tolist(),
            "train_labels": np.asarray(train.labels).tolist(), "train_xy": np.asarray(train.block_xy).tolist()}


def baseline_rows(dataset, normalizer, perception_dims: list[int] | tuple[int, ...] = (9, 10),
                  baselines: dict | None = None) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, dict]]]:
    """Error per behaviour of each reference predictor (normalized units, same split), and what each chose.

    A predictor's input is the first-step perception (block x, y) in normalized units, the latent model's
    observation; hyperparameters are chosen on the training positions only (``latent_nodes.baselines``).
    """
    from latent_nodes.baselines import BASELINES
    from latent_nodes.model.training import reconstruction_error

    train, test = dataset.train(), dataset.test()
    train_seq, test_seq = normalizer.normalize(train.sequences), normalizer.normalize(test.sequences)
    dims = list(perception_dims)
    rows: dict[str, dict[str, float]] = {}
    choices: dict[str, dict[str, dict]] = {}
    for name, predict in (BASELINES if baselines is None else baselines).items():
        rows[name], choices[name] = {}, {}
        for p, behaviour in enumerate(dataset.behaviour_names):
            tr, te = np.asarray(train.labels) == p, np.asarray(test.labels) == p
            if not te.any():
                continue
            info: dict = {}
            pred = predict(train_seq[tr][:, 0, dims], train_seq[tr], test_seq[te][:, 0, dims], info=info)
            rows[name][behaviour] = float(reconstruction_error(pred, test_seq[te]).mean())
            choices[name][behaviour] = info
    return rows, choices


def reference_markdown(baselines: dict, choices: dict, names: list[str], n_test: int) -> str:
    """The reference rows alone, with the hyperparameters each chose per behaviour."""
    lines = ["| | " + " | ".join(names) + " | chosen on the training positions |", "|---" * (len(names) + 2) + "|"]
    for name, row in baselines.items():
        chosen = "; ".join(f"{b}: " + ", ".join(f"{k} {v}" for k, v in choices[name].get(b, {}).items())
                           for b in names if choices[name].get(b))
        lines.append(f"| {name} | " + " | ".join(f"{row[b]:.5f}" for b in names) + f" | {chosen} |")
    lines += ["", f"Error: (1/T) sum_t ||x^t - x_hat^t||^2 per unseen test sample ({n_test}), averaged per "
              f"behaviour, normalized units (each dimension scaled to [-1, 1] over the training set)."]
    return "\n".join(lines) + "\n"


def summarize(results: list[dict], names: list[str]) -> dict[str, dict[str, tuple[float, float]]]:
    """mean and (population) std over seeds, per case and behaviour."""
    table: dict[str, dict[str, tuple[float, float]]] = {}
    for case in dict.fromkeys(r["case"] for r in results):
        runs = [r for r in results if r["case"] == case]
        errors = {b: [r["errors"][b] for r in runs] for b in names}
        table[case] = {b: (float(np.mean(e)), float(np.std(e))) for b, e in errors.items()}
    return table


def markdown(table: dict, baselines: dict, names: list[str], meta: dict) -> str:
    head = "| | " + " | ".join(f"{b} (ours)" for b in names) + " | " + " | ".join(
        f"paper pattern {i + 1}" for i in range(len(names))) + " |"
    lines = [head, "|---" * (1 + 2 * len(names)) + "|"]
    for case, row in table.items():
        ours = " | ".join(f"{m:.5f} ± {s:.5f}" for m, s in (row[b] for b in names))
        paper = " | ".join(f"{m:.4f} ± {s:.4f}" for m, s in PAPER[case])
        lines.append(f"| {CASE_TITLES[case]} | {ours} | {paper} |")
    for name, row in baselines.items():
        ours = " | ".join(f"{row[b]:.5f}" for b in names)
        lines.append(f"| {name} (reference) | {ours} |" + " |" * len(names))
    lines += ["", f"Error: (1/T) sum_t ||x^t - x_hat^t||^2 per unseen test sample, averaged per behaviour, in "
              f"normalized units (each dimension scaled to [-1, 1] over the training set); mean ± std over seeds "
              f"{meta['seeds']}. {meta['epochs']} epochs for every case; {meta['inference_steps']} inference steps "
              f"({meta['method']}) from the first-step perception only. {meta['n_test']} test samples. "
              f"Wall time {meta['wall_seconds']:.0f} s with {meta['jobs']} processes."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or one line about a bad option
        return int(exc.code or 0)
    from latent_nodes.data.dataset import load_dataset
    from latent_nodes.model.normalization import Normalizer
    from latent_nodes.scripts.train import check_device, load_or_generate_dataset

    try:
        cfg = load_config(args.config)
        if args.dataset is not None:
            cfg.data.dataset_path = str(args.dataset)
        if args.epochs is not None:
            cfg.train.epochs = args.epochs
        if args.inference_steps is not None:
            cfg.inference.steps = args.inference_steps
        cfg.validate()
        check_device(cfg.train.device)
        check_target(args.out / "table1.json")  # --out a file, or under one: say so before hours of training
        dataset = load_or_generate_dataset(cfg)
    except (ValueError, OSError) as exc:
        print(f"latent-nodes table1: {exc}", file=sys.stderr)
        return 2
    if args.reference_only:
        return _reference_only(dataset, cfg, args.out)
    dataset_path = cfg.data.dataset_path or "data/demonstrations.npz"
    load_dataset(dataset_path)  # fail here, not in a worker, if the file is unusable
    names = list(dataset.behaviour_names)
    jobs = [(cfg.to_dict(), case, seed, dataset_path) for case in args.cases for seed in args.seeds]
    start = time.perf_counter()
    print(f"table1: {len(jobs)} runs of {cfg.train.epochs} epochs on {args.jobs} processes", flush=True)
    with mp.get_context("spawn").Pool(args.jobs) as pool:
        results = []
        for r in pool.imap_unordered(train_and_evaluate, jobs):
            results.append(r)
            errs = ", ".join(f"{b} {e:.5f}" for b, e in r["errors"].items())
            print(f"  {r['case']:<26} seed {r['seed']}: {errs}  ({r['train_seconds']:.0f} s)", flush=True)
    results.sort(key=lambda r: (args.cases.index(r["case"]), r["seed"]))
    normalizer = Normalizer.fit(dataset.train().sequences)
    baselines, choices = ({}, {}) if args.no_baselines else baseline_rows(dataset, normalizer,
                                                                           cfg.model.perception_dims)
    wall = time.perf_counter() - start
    table = summarize(results, names)
    meta = {"seeds": args.seeds, "epochs": cfg.train.epochs, "inference_steps": cfg.inference.steps,
            "method": cfg.inference.method, "n_test": int(len(dataset.test().labels)), "wall_seconds": wall,
            "jobs": args.jobs, "config": cfg.to_dict()}
    text = markdown(table, baselines, names, meta)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / "table1.md", text)
    write_text_atomic(args.out / "table1.json", json.dumps(
        {"table": table, "baselines": baselines, "baseline_choices": choices, "paper": PAPER, "meta": meta,
         "runs": [{k: v for k, v in r.items() if k not in ("coords", "train_labels", "train_xy")} for r in results]},
        indent=2) + "\n")
    _plot_coords(results, names, args.out)
    print(text)
    return 0


def _reference_only(dataset, cfg: Config, out: Path) -> int:
    """The reference rows alone: seconds, not the minutes of the full table."""
    from latent_nodes.model.normalization import Normalizer

    names = list(dataset.behaviour_names)
    start = time.perf_counter()
    rows, choices = baseline_rows(dataset, Normalizer.fit(dataset.train().sequences), cfg.model.perception_dims)
    text = reference_markdown(rows, choices, names, int(len(dataset.test().labels)))
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "reference_rows.md", text)
    write_text_atomic(out / "reference_rows.json", json.dumps(
        {"baselines": rows, "baseline_choices": choices, "seconds": time.perf_counter() - start}, indent=2) + "\n")
    print(text)
    return 0


def _plot_coords(results: list[dict], names: list[str], out: Path) -> None:
    from latent_nodes.model.training_plots import plot_local_coordinates

    first_seed = min(r["seed"] for r in results)
    for r in results:
        if r["seed"] == first_seed and r["case"] != "no-embedding":
            plot_local_coordinates(np.array(r["coords"]), np.array(r["train_labels"]), np.array(r["train_xy"]),
                                   names, out / f"coords_{r['case'].replace('+', '_')}.png",
                                   f"{CASE_TITLES[r['case']]} (seed {first_seed})")


if __name__ == "__main__":
    sys.exit(main())
