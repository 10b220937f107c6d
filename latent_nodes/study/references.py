"""Reference rows on one dataset variant: every predictor in ``latent_nodes.baselines.BASELINES``.

Computed once per dataset variant and evaluation set (they do not depend on the model's seed: each is
deterministic or seeded), with per-sample errors in the same normalized units and test order as the
runs, so new predictors registered there appear in the study's tables without a change here.
"""

from __future__ import annotations

import time

import numpy as np

CONSTANT_INPUT = 1e-9  # an input whose std over the training samples is below this (normalized units) is constant
# With a longer observation, these regressors also get a row from the block alone (the prefix then only
# written in): with 25 demonstrations, dozens of prefix inputs can make a regressor worse than ignoring them,
# and a reference should not be weakened by the way it is handed more information.
BLOCK_INPUT_ROWS = ("polynomial ridge", "IDW k nearest neighbours", "Gaussian process")
BLOCK_INPUT = " (block input, prefix written in)"


def predictor_names(observed_steps: int = 0) -> set[str]:
    """The rows ``reference_results`` gives for an observation of ``observed_steps``."""
    from latent_nodes.baselines import BASELINES

    extra = {name + BLOCK_INPUT for name in BLOCK_INPUT_ROWS if name in BASELINES} if observed_steps else set()
    return set(BASELINES) | extra


def reference_results(dataset, perception_dims: tuple[int, ...] | list[int] | None = None, observed_steps: int = 0,
                      test_set=None) -> dict:
    """{predictor: {"errors": {behaviour: mean}, "per_sample": {behaviour: [...]}, "seconds": s}}.

    A predictor's input is what the latent model observes: the first-step perception (block x, y) in
    normalized units, exactly as ``latent-nodes table1`` gives it (``scripts/table1.baseline_rows``), and
    with ``observed_steps`` = k >= 1 every output of the first k steps too (``evaluation.prefix_mask``),
    whose observed entries are then written into every prediction (``evaluation.with_observed``), as for
    the latent model; the regressors of ``BLOCK_INPUT_ROWS`` then also get a row from the block alone.
    ``test_set`` (a Dataset of test samples) replaces the variant's own test split.
    """
    from latent_nodes.baselines import BASELINES, Observation, observed_inputs
    from latent_nodes.config import ModelConfig
    from latent_nodes.evaluation import prefix_mask, with_observed
    from latent_nodes.model.normalization import Normalizer
    from latent_nodes.model.training import reconstruction_error

    model_cfg = ModelConfig()
    if perception_dims is not None:
        model_cfg.perception_dims = list(perception_dims)
    train = dataset.train()
    test = dataset.test() if test_set is None else test_set
    model_cfg.seq_len, model_cfg.output_dim = train.sequences.shape[1:]
    mask = prefix_mask(model_cfg, observed_steps).numpy()
    normalizer = Normalizer.fit(train.sequences)  # the same statistics the model's training uses
    train_seq, test_seq = normalizer.normalize(train.sequences), normalizer.normalize(test.sequences)
    block_mask = prefix_mask(model_cfg, 0).numpy()
    rows = [(name, predict, False) for name, predict in BASELINES.items()]
    if observed_steps:
        rows += [(name + BLOCK_INPUT, BASELINES[name], True) for name in BLOCK_INPUT_ROWS if name in BASELINES]
    out: dict[str, dict] = {}
    for name, predict, block_only in rows:
        start = time.perf_counter()
        errors, per_sample = {}, {}
        for p, behaviour in enumerate(dataset.behaviour_names):
            tr, te = np.asarray(train.labels) == p, np.asarray(test.labels) == p
            if not te.any():
                continue
            kwargs = {} if observed_steps == 0 or block_only else {"observed": Observation(mask, test_seq[te])}
            inputs = block_mask if block_only else mask
            train_x, test_x = observed_inputs(train_seq[tr], inputs), observed_inputs(test_seq[te], inputs)
            # Inputs constant over the training samples (every demonstration starts at HOME: step 0's joints)
            # carry no information and break the GP's length-scale fit; they are left out.
            varies = train_x.std(axis=0) > CONSTANT_INPUT
            pred = np.asarray(predict(train_x[:, varies], train_seq[tr], test_x[:, varies], **kwargs))
            if observed_steps:
                pred = with_observed(pred, test_seq[te], mask)
            err = reconstruction_error(pred, test_seq[te])
            errors[behaviour], per_sample[behaviour] = float(err.mean()), [float(e) for e in err]
        out[name] = {"errors": errors, "per_sample": per_sample, "seconds": time.perf_counter() - start}
    return out
