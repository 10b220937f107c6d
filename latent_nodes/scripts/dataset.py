"""Generate the demonstration dataset in the embedded simulator: ``latent-nodes dataset``.

The paper's two behaviours (or, with ``--behaviours``, any of the demonstrator's, e.g. the third,
``double_tap``) at every training and unseen test block position (the paper's Fig. 3 grid), recorded
from the simulated arm and written as one file (format in ``latent_nodes/data/dataset.py``). Options come
from the config schema (``DataConfig``, and ``SimConfig`` under ``--sim-``); ``--config`` reads a YAML
file first. The same options and seed always give the same file, byte for byte.

    latent-nodes dataset                                   # data/demonstrations.npz
    latent-nodes dataset --train-grid 6 6 --test-grid 5 5 --seed 3 --out data/grid6.npz
    latent-nodes dataset --behaviours reach reach_circle double_tap --out data/three.npz
    latent-nodes dataset --info data/demonstrations.npz    # describe an existing file
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from latent_nodes.atomic import check_target
from latent_nodes.cli import ArgumentParser
from latent_nodes.config import BEHAVIOURS, DataConfig, SimConfig, add_arguments, apply_arguments, load_config

DEFAULT_PATH = Path("data/demonstrations.npz")


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="latent-nodes dataset", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="examples:\n" + __doc__.split("\n\n")[-1])
    p.add_argument("--config", type=Path, help="YAML config file (sections data, sim, ...) read before the options")
    p.add_argument("--out", type=Path, default=None,
                   help=f"dataset file to write (default: data.dataset_path from --config, else {DEFAULT_PATH})")
    p.add_argument("--info", type=Path, metavar="PATH", help="only describe an existing dataset file and exit")
    add_arguments(p, DataConfig, only=["train_grid", "test_grid", "perturbation", "hover_height", "circle_radius",
                                       "seed"])
    add_arguments(p, SimConfig, prefix="sim_")
    from latent_nodes.sim.demonstrations import DEMONSTRATIONS

    p.add_argument("--behaviours", nargs="+", default=list(BEHAVIOURS), metavar="SCRIPT",
                   help=f"the demonstrator's behaviours to record, in label order: any of {' '.join(DEMONSTRATIONS)} "
                        f"(default: the paper's {' '.join(BEHAVIOURS)})")
    return p


def describe(ds, path: Path) -> str:
    """A few lines a person can check a dataset by."""
    counts = ", ".join(f"{name} {np.sum((ds.labels == i) & ~ds.is_test)}/{np.sum((ds.labels == i) & ds.is_test)}"
                       for i, name in enumerate(ds.behaviour_names))
    n, t, o = ds.sequences.shape
    seed = ds.settings.get("data", {}).get("seed", "?")
    return (f"{path}: {n} sequences of {t} steps x {o} outputs (dt {ds.dt:g} s), format version {ds.format_version}\n"
            f"  train/test samples per behaviour: {counts}\n"
            f"  joints: {', '.join(ds.joint_names)}\n"
            f"  block x in [{ds.block_xy[:, 0].min():.3f}, {ds.block_xy[:, 0].max():.3f}] m, "
            f"y in [{ds.block_xy[:, 1].min():.3f}, {ds.block_xy[:, 1].max():.3f}] m; "
            f"generator {ds.settings.get('generator', '?')}, seed {seed}")


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # --help, or one line about a bad option
        return int(exc.code or 0)
    from latent_nodes.data.dataset import load_dataset, save_dataset

    try:
        if args.info is not None:
            print(describe(load_dataset(args.info), args.info))
            return 0
        cfg = load_config(args.config)
        apply_arguments(cfg.data, args)
        apply_arguments(cfg.sim, args, prefix="sim_")
        cfg.validate()
        out = args.out or Path(cfg.data.dataset_path or DEFAULT_PATH)
        check_target(out)  # a directory, or a path under a file: say so before generating
        from latent_nodes.sim.demonstrations import generate_dataset

        start = time.perf_counter()
        dataset = generate_dataset(cfg.data, cfg.sim, behaviours=args.behaviours)
        save_dataset(dataset, out)
    except (ValueError, OSError) as exc:  # DatasetError, IKError and config errors are ValueErrors
        print(f"latent-nodes dataset: {exc}", file=sys.stderr)
        return 2
    print(describe(dataset, out))
    print(f"  generated in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
