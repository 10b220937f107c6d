"""The study's pictures, drawn from its summary (``aggregate``), never from anything else.

- ``errors_<dataset>.png``: per behaviour, every run's error (one dot per seed) per arm and inference
  method on a log scale, the mean with its bootstrap 95 % interval, the reference predictors as
  dashed lines and the failure threshold as a red line;
- ``metric_<name>_<dataset>.png``: per behaviour, a hook metric against the error of every run (the
  first inference method), one colour per arm: does the metric predict the error?
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latent_nodes.atomic import save_png
from latent_nodes.model.training_plots import _pyplot


def plot_errors(summary: dict, out: Path) -> list[Path]:
    plt = _pyplot()
    written = []
    columns = [(ds, ts) for ds in summary["datasets"] for ts in [None, *summary.get("test_sets", {})]]
    for ds, ts in columns:
        all_rows = [r for r in summary["rows"] if r["dataset"] == ds and r.get("test_set") == ts]
        behaviours = [b for b in summary["behaviours"] if any(r["behaviour"] == b and r["values"] for r in all_rows)]
        if not behaviours:
            continue
        groups = list(dict.fromkeys((r["arm"], r["inference"]) for r in all_rows))
        fig, axes = plt.subplots(len(behaviours), 1, figsize=(max(6.0, 0.55 * len(groups) + 2), 3.6 * len(behaviours)),
                                 squeeze=False)
        for ax, behaviour in zip(axes[:, 0], behaviours):
            rows = {(r["arm"], r["inference"]): r for r in all_rows if r["behaviour"] == behaviour}
            for i, key in enumerate(groups):
                r = rows.get(key)
                if r is None or not r["values"]:
                    continue
                jitter = np.linspace(-0.15, 0.15, len(r["values"])) if len(r["values"]) > 1 else [0.0]
                ax.scatter(i + np.asarray(jitter), r["values"], s=12, alpha=0.7, color="tab:blue")
                lo, hi = r["ci95"]
                ax.errorbar([i], [r["mean"]], yerr=[[r["mean"] - lo], [hi - r["mean"]]], fmt="D", color="k",
                            ms=5, capsize=4)
            refs = [r for r in summary["references"]
                    if r["dataset"] == ds and r.get("test_set") == ts and r["behaviour"] == behaviour]
            for j, ref in enumerate(refs):
                ax.axhline(ref["error"], ls="--", lw=1, color=f"C{(j + 2) % 10}", label=ref["predictor"])
            ax.axhline(summary["failure_threshold"], color="tab:red", lw=1, label="failure threshold")
            ax.set_yscale("log")
            ax.set_xticks(range(len(groups)))
            ax.set_xticklabels([f"{a}\n{m}" for a, m in groups], rotation=60, ha="right", fontsize=7)
            ax.set_ylabel("error (normalized units)")
            ax.set_title(f"{summary['study']}: dataset {ds}{'' if ts is None else ', test set ' + ts}, {behaviour}")
            ax.grid(alpha=0.3, axis="y")
            ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        path = Path(out) / (f"errors_{ds}.png" if ts is None else f"errors_{ds}__{ts}.png")
        save_png(fig, path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def plot_metrics(summary: dict, records: list[dict], out: Path) -> list[Path]:
    """Scatter of each numeric metric hook against the error of the first inference method."""
    plt = _pyplot()
    names = sorted({r["metric"] for r in summary["metrics"]})
    method = next(iter(summary["inference"]))
    written = []
    for name in names:
        for ds in summary["datasets"]:
            runs = [r for r in records if r["dataset"] == ds and name in r["results"]["metrics"]
                    and method in r["results"]["inference"]]
            if not runs:
                continue
            fig, axes = plt.subplots(1, len(summary["behaviours"]), figsize=(5 * len(summary["behaviours"]), 4),
                                     squeeze=False)
            arms = list(dict.fromkeys(r["arm"] for r in runs))
            for ax, behaviour in zip(axes[0], summary["behaviours"]):
                for k, arm in enumerate(arms):
                    xs, ys = [], []
                    for r in runs:
                        value = r["results"]["metrics"][name]
                        value = value.get(behaviour) if isinstance(value, dict) else value
                        err = r["results"]["inference"][method]["errors"].get(behaviour)
                        if r["arm"] == arm and isinstance(value, (int, float)) and err is not None:
                            xs.append(value)
                            ys.append(err)
                    ax.scatter(xs, ys, s=16, color=f"C{k % 10}", label=arm)
                ax.set_yscale("log")
                ax.set_xlabel(name)
                ax.set_ylabel(f"error, {method}")
                ax.set_title(f"{ds}, {behaviour}")
                ax.grid(alpha=0.3)
                ax.legend(fontsize=7)
            fig.tight_layout()
            path = Path(out) / f"metric_{name}_{ds}.png"
            save_png(fig, path, dpi=110)
            plt.close(fig)
            written.append(path)
    return written
