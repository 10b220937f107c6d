"""Reference rows on one dataset variant: every predictor in ``latent_nodes.baselines.BASELINES``.

Computed once per dataset variant (they do not depend on the model's seed: each is deterministic or
seeded), with per-sample errors in the same normalized units and test order as the runs, so new
predictors registered there appear in the study's tables without a change here.
"""

from __future__ import annotations

import time

import numpy as np


def reference_results(dataset, perception_dims: tuple[int, ...] | list[int] | None = None) -> dict:
    """{predictor: {"errors": {behaviour: mean}, "per_sample": {behaviour: [...]}, "seconds": s}}.

    A predictor's input is what the latent model observes: the first-step perception (block x, y) in
    normalized units, exactly as ``latent-nodes table1`` gives it (``scripts/table1.baseline_rows``).
    """
    from latent_nodes.baselines import BASELINES
    from latent_nodes.config import ModelConfig
    from latent_nodes.normalization import Normalizer
    from latent_nodes.training import reconstruction_error

    dims = list(ModelConfig().perception_dims if perception_dims is None else perception_dims)
    train, test = dataset.train(), dataset.test()
    normalizer = Normalizer.fit(train.sequences)  # the same statistics the model's training uses
    train_seq, test_seq = normalizer.normalize(train.sequences), normalizer.normalize(test.sequences)
    out: dict[str, dict] = {}
    for name, predict in BASELINES.items():
        start = time.perf_counter()
        errors, per_sample = {}, {}
        for p, behaviour in enumerate(dataset.behaviour_names):
            tr, te = np.asarray(train.labels) == p, np.asarray(test.labels) == p
            if not te.any():
                continue
            pred = predict(train_seq[tr][:, 0, dims], train_seq[tr], test_seq[te][:, 0, dims])
            err = reconstruction_error(np.asarray(pred), test_seq[te])
            errors[behaviour], per_sample[behaviour] = float(err.mean()), [float(e) for e in err]
        out[name] = {"errors": errors, "per_sample": per_sample, "seconds": time.perf_counter() - start}
    return out
