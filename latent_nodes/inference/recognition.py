"""Behaviour recognition: which behaviour explains the observed window best, and is it clearly ahead?

With the behaviour not given, the online estimator infers xi for every behaviour of the model in one
batch, however many it has and whatever they are called (the names are the model's, from its dataset);
each behaviour's prediction error on the observed window (normalized units, squared, averaged over observed
steps) ranks them. Ranking alone would always name a winner, also when the observation cannot tell the
behaviours apart: every demonstration starts at home, so after the first step all behaviours explain the
observation to within the model's reconstruction noise, and the lower of two tiny errors is a coin toss.
The decision therefore abstains ("undecided") unless the best behaviour is clearly ahead:

- the best error is at most ``max_error`` (it actually fits the window: no behaviour is named for an
  observation that none of them explains), and
- the runner-up's error is at least ``ratio`` times the best's *and* exceeds it by ``min_gap``: the
  runner-up is relatively and absolutely worse, so two errors both at the noise floor never decide.

A model of one behaviour has no runner-up (its error counts as infinite): the behaviour is named exactly
while it fits the window (the first rule), and undecided once the motion departs from it. ``auto`` then
works as a check that the arm is doing the one behaviour the model knows.

The margin judges each step afresh. On an executed arm, whose window errors grow 10-100x over clean ones,
its ``max_error`` makes it decide and then abstain again; ``sequential_recognition.SequentialRecognition``
accumulates the relative fit over steps instead and stays decided until the evidence reverses (same
``decide`` call, calibrated on validation positions).

The defaults come from prefixes k = 1..19 of every training and test demonstration of the default
dataset with the shipped model (``benchmarks/recognition_margin.py``; the table is in docs/online.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNDECIDED = "undecided"


@dataclass(frozen=True)
class Recognition:
    """Per-behaviour window errors, the ranking and the decision (a behaviour name or ``UNDECIDED``)."""

    errors: dict[str, float]  # behaviour -> window error (normalized units)
    ranking: tuple[str, ...]  # best first
    decision: str  # the best behaviour once clearly ahead, else UNDECIDED

    @property
    def decided(self) -> bool:
        return self.decision != UNDECIDED

    @property
    def best(self) -> str:
        """The best-fitting behaviour, decided or not."""
        return self.ranking[0]


@dataclass(frozen=True)
class RecognitionMargin:
    """When the best behaviour counts as clearly ahead (see the module docstring for why each part)."""

    # Measured with the shipped model (docs/online.md): after one step the two errors differ by at most
    # 3.6e-5; from two steps on the wrong behaviour's error exceeds the right one's by at least 1.2e-3 and
    # 28 times, and the right one's error stays below 1.1e-3. Each threshold sits 5x or more from both sides.
    ratio: float = 4.0  # runner-up error / best error at least this
    min_gap: float = 2e-4  # runner-up error - best error at least this (normalized units)
    max_error: float = 5e-3  # best error at most this

    def __post_init__(self) -> None:
        if not (self.ratio >= 1.0 and self.min_gap >= 0.0 and self.max_error > 0.0):
            raise ValueError(f"recognition margin needs ratio >= 1, min_gap >= 0, max_error > 0; got {self}")

    def decide(self, names: tuple[str, ...] | list[str], errors: np.ndarray) -> Recognition:
        """Rank behaviours by their window errors and decide, or abstain."""
        errors = np.asarray(errors, dtype=np.float64).reshape(-1)
        if len(names) != errors.shape[0] or errors.shape[0] == 0:
            raise ValueError(f"{len(names)} behaviour names for {errors.shape[0]} errors")
        ranked = np.where(np.isfinite(errors), errors, np.inf)  # a failed inference ranks last
        order = np.argsort(ranked, kind="stable")
        ranking = tuple(names[i] for i in order)
        best = float(ranked[order[0]])
        second = float(ranked[order[1]]) if len(order) > 1 else np.inf
        ahead = (np.isfinite(best) and best <= self.max_error
                 and second >= self.ratio * best and second - best >= self.min_gap)
        return Recognition(errors={n: float(e) for n, e in zip(names, errors)}, ranking=ranking,
                           decision=ranking[0] if ahead else UNDECIDED)
