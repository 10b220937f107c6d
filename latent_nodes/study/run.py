"""One run of a study: train one model, evaluate it with every inference method, measure it.

A run is a pure function of its job and dataset: torch uses one thread and every random stream comes
from the seed (``latent_nodes.model.training``), so the same job gives the same ``results`` on the same
machine, whether it ran first, last, or after an interrupted study was resumed. What does vary
(timings, host, versions) is kept apart under ``timings`` and ``environment``.

The trained model is returned as checkpoint bytes beside the record, so that the driver stores it
(a cluster worker's disk is not the driver's) and metric hooks added later can measure it.
"""

from __future__ import annotations

import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

RUN_FORMAT_VERSION = 1


def environment() -> dict:
    """Versions and host of the process that ran a job: results may differ between machines."""
    import torch

    from latent_nodes import __version__ as version

    return {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "latent_nodes": version, "host": platform.node(), "torch_threads": torch.get_num_threads()}


def measure(model, normalizer, dataset, config, hooks: dict[str, Callable]) -> tuple[dict, dict]:
    """Run metric hooks (name -> function of a RunContext) on a trained model: (values, seconds per hook).

    The driver passes the functions themselves, not their names, so a hook registered in the driver's
    process reaches workers that never imported the module registering it.
    """
    from latent_nodes.study.metrics import RunContext

    ctx = RunContext(model=model, normalizer=normalizer, dataset=dataset, config=config)
    values, seconds = {}, {}
    for name, hook in hooks.items():
        start = time.perf_counter()
        values[name] = hook(ctx)
        seconds[name] = time.perf_counter() - start
    return values, seconds


def evaluate_test_sets(model, normalizer, dataset, test_sets, methods: dict[str, dict]) -> tuple[dict, dict]:
    """Every (TestSet, evaluation key, samples or None for the variant's test split) of ``test_sets``.

    Returns ({name: {"key", "inference"}}, {name: seconds per method}).
    """
    from latent_nodes.study.test_sets import evaluate

    results, seconds = {}, {}
    for ts, key, samples in test_sets:
        result, seconds[ts.name] = evaluate(model, normalizer, dataset.test() if samples is None else samples, ts,
                                            methods, dataset.behaviour_names)
        results[ts.name] = {"key": key, **result}
    return results, seconds


def execute_run(job, dataset, hooks: dict[str, Callable], test_sets=()) -> tuple[dict, bytes | None]:
    """Train and evaluate ``job`` (a RunJob) on ``dataset`` and measure it with the metric ``hooks``.

    ``test_sets`` are extra evaluation columns (``evaluate_test_sets``). Returns the run's record and
    the trained model's checkpoint bytes (None if training diverged).
    """
    import torch

    from latent_nodes.config import Config, InferenceConfig
    from latent_nodes.evaluation import reconstruct_from_first_step
    from latent_nodes.model.checkpoint import save_checkpoint
    from latent_nodes.model.training import to_checkpoint, trainer_for_dataset

    torch.set_num_threads(1)  # runs are parallel processes; more threads per run only contend
    begin = time.perf_counter()
    cfg = Config.from_dict(job.config)
    trainer, normalizer = trainer_for_dataset(cfg, dataset)
    start = time.perf_counter()
    training: dict = {"epochs": int(cfg.train.epochs)}
    try:
        trainer.fit()
    except FloatingPointError as exc:  # a diverged run is a result of the study (counted as failed)
        training["diverged"] = str(exc)
    timings: dict = {"train_s": time.perf_counter() - start}
    training["final"] = trainer.history[-1] if trainer.history else None
    record = {"format_version": RUN_FORMAT_VERSION, "id": job.id, "dataset": job.dataset,
              "dataset_key": job.dataset_key, "arm": job.arm, "case": cfg.model.case, "seed": job.seed,
              "config": job.config}
    results: dict = {"training": training, "inference": {}, "metrics": {}}
    if "diverged" in training:
        record.update(results=results, timings=timings, environment=environment())
        return record, None

    model = trainer.model.eval()
    test = dataset.test()
    names = list(dataset.behaviour_names)
    labels = np.asarray(test.labels)
    truth = normalizer.normalize(test.sequences)
    timings["inference_s"] = {}
    for method, inf_cfg in job.inference:
        start = time.perf_counter()
        rec = reconstruct_from_first_step(model, truth, labels, InferenceConfig(**inf_cfg))
        timings["inference_s"][method] = time.perf_counter() - start
        results["inference"][method] = {
            "config": inf_cfg, "errors": rec.per_behaviour(names),
            "per_sample": {b: [float(e) for e in rec.errors[labels == p]] for p, b in enumerate(names)
                           if np.any(labels == p)}}
    results["metrics"], timings["metrics_s"] = measure(model, normalizer, dataset, cfg, hooks)
    if test_sets:
        results["test_sets"], timings["test_sets_s"] = evaluate_test_sets(model, normalizer, dataset, test_sets,
                                                                          dict(job.inference))
    timings["total_s"] = time.perf_counter() - begin
    record.update(results=results, timings=timings, environment=environment())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.pt"
        save_checkpoint(path, to_checkpoint(trainer, normalizer, dataset, with_train_state=False))
        return record, path.read_bytes()


def backfill_metrics(record: dict, model_bytes: bytes, dataset, hooks: dict[str, Callable], test_sets=()) -> dict:
    """Add metric hooks and test sets a spec names but a finished run lacks, from its stored model (no retraining)."""
    import torch

    from latent_nodes.model.checkpoint import load_checkpoint

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.pt"
        path.write_bytes(model_bytes)
        ckpt = load_checkpoint(path)
    values, seconds = measure(ckpt.model.eval(), ckpt.normalizer, dataset, ckpt.config, hooks)
    record["results"]["metrics"].update(values)
    record["timings"].setdefault("metrics_s", {}).update(seconds)
    if test_sets:
        methods = {name: res["config"] for name, res in record["results"]["inference"].items()}
        results, seconds = evaluate_test_sets(ckpt.model.eval(), ckpt.normalizer, dataset, test_sets, methods)
        record["results"].setdefault("test_sets", {}).update(results)
        record["timings"].setdefault("test_sets_s", {}).update(seconds)
    return record
