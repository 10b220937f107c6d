"""Per-run metric hooks: measures of a trained model that the study records beside its errors.

A hook takes the run's context (trained model, normalizer, dataset, full config) and returns a
JSON-able value: a number, or a mapping behaviour -> number (those two shapes are aggregated like the
errors and plotted against them), or anything else JSON can hold (kept in the run file as is).

A spec selects hooks by name (``metrics: [name]``). Because every run also keeps its trained model,
a hook added after a study ran is computed from the stored models on the next ``latent-nodes study``,
without retraining. Adding one is one line in ``RUN_METRICS``, e.g.::

    "conformality": lambda ctx: conformality_per_behaviour(ctx.model, ctx.dataset),
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunContext:
    """What a hook may look at: the trained model of one run and the data it was trained on."""

    model: Any  # latent_nodes.model.latent_model.LatentModel, in eval mode
    normalizer: Any  # latent_nodes.model.normalization.Normalizer
    dataset: Any  # latent_nodes.data.dataset.Dataset
    config: Any  # latent_nodes.config.Config


def final_regularizer(ctx: RunContext) -> float:
    """L_perp of the trained chart over the training coordinates, as logged at the last epoch's draws.

    Kept as the simplest example hook; it is not comparable across runs (a collapsed chart scores 0).
    """
    import torch

    from latent_nodes.model.regularizer import conformal_regularizer

    model = ctx.model
    if model.embedding is None:
        return 0.0
    with torch.no_grad():
        g = torch.Generator(device=model.coords.device).manual_seed(0)
        value = conformal_regularizer(model.embedding, model.coords, model.sample_patterns,
                                      int(ctx.config.train.n_mc), g)
    return float(value)


def _conformality(ctx: RunContext, key: str) -> dict[str, float]:
    """One scale-free conformality figure of each behaviour's chart (model.conformality); {} without one."""
    from latent_nodes.model.conformality import model_conformality

    return {name: values[key] for name, values in model_conformality(ctx.model, ctx.dataset.behaviour_names).items()}


RUN_METRICS: dict[str, Callable[[RunContext], Any]] = {
    "final_regularizer": final_regularizer,
    # Fig. 4 quantified: median condition number of J^T J over the training xi (1 = conformal) and
    # E[(v^T J^T J w)^2] / E[||J v||^2]^2 (0 = conformal); +inf for a collapsed chart.
    "conformality_condition": lambda ctx: _conformality(ctx, "condition_median"),
    "conformality_orthogonality": lambda ctx: _conformality(ctx, "orthogonality"),
}
