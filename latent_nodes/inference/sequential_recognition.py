"""Sequential recognition: decide once the accumulated evidence says so, and stay decided until it reverses.

``RecognitionMargin`` (recognition.py) judges every step afresh, and one of its parts is an absolute bound
on the best behaviour's window error. On an executed arm that bound fails: the arm lags its targets and the
node's clock starts when the block pose arrives, so the right behaviour's window error grows 10-100x over
the clean one and the margin, having decided at k = 2-4, abstains again (docs/online.md). What separates
the behaviours there is still their *relative* fit, and it keeps separating them step after step.

This rule is a CUSUM test (Page 1954) with hysteresis over that relative fit. At every step each behaviour
b gets the evidence

    m_b = min over c != b of  log((e_c + floor) / (e_b + floor))

(positive only for the best-fitting behaviour: how many e-folds the runner-up fits worse). ``floor`` keeps
two errors at the model's noise floor (every demonstration starts at home, so after one step they are
arbitrary, docs/online.md) from giving a large log-ratio. A step whose best error exceeds ``max_error``
is explained by no behaviour (an arm that stays at home, or does something else): it clears every
account (evidence -inf), so what was shown before no longer names anything. ``max_error`` is set far above
every right behaviour's error on the executed arm (2x the largest on validation), where the margin's own
``max_error`` sat at the clean errors' scale. Each behaviour accumulates

    S_b = max(0, S_b + m_b - drift)

``drift`` is what a step must give to count (a consistent lead smaller than ``exp(drift)`` accumulates
nothing), the clip at 0 lets evidence against a behaviour wipe its account without running it into debt.
The decision, with hysteresis between ``upper`` and ``lower``:

- undecided: decide the behaviour with the largest S once it reaches ``upper``;
- decided b: stay decided while S_b >= ``lower`` (a noisy step only lowers S_b by its own evidence);
  switch to another behaviour whose S reaches ``upper`` (only evidence for it, which is evidence against b,
  gets it there); abstain once S_b falls below ``lower`` with no other behaviour at ``upper``.

Equal errors give every behaviour zero evidence, so they never decide. The rule is stateful: one instance
per behaviour shown (``reset()`` between behaviours). It has ``RecognitionMargin.decide``'s call shape,
``decide(names, errors) -> Recognition``, so it is passed to ``OnlineEstimator(margin=...)`` unchanged.

The defaults (config.py ``NodesConfig.recognition_*``, read by ``default_thresholds``) were calibrated on
validation positions, neither training nor test (``sim.demonstrations.validation_positions``), clean and on
an executed arm, by ``python benchmarks/recognition_calibration.py``; ``calibrate`` is the rule that chooses
them. The test positions' scores, beside the margin's, are in docs/recognition_calibration.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from latent_nodes.inference.recognition import UNDECIDED, Recognition


@dataclass(frozen=True)
class SequentialThresholds:
    """The sequential rule's parameters (see the module docstring for what each does)."""

    upper: float  # accumulated evidence (e-folds) to decide
    lower: float  # accumulated evidence below which a decision is dropped (hysteresis: lower <= upper)
    drift: float = 0.0  # evidence a step must exceed to add to the account, e-folds
    floor: float = 2e-4  # added to every window error before the log-ratio (normalized units)
    max_error: float = float("inf")  # a step whose best error exceeds this clears every behaviour's evidence

    def __post_init__(self) -> None:
        if not (0.0 < self.upper and 0.0 <= self.lower <= self.upper and self.drift >= 0.0 and self.floor > 0.0
                and self.max_error > 0.0):
            raise ValueError(f"sequential recognition needs 0 < upper, 0 <= lower <= upper, drift >= 0, floor > 0, "
                             f"max_error > 0; got {self}")


def default_thresholds(settings=None) -> SequentialThresholds:
    """The calibrated thresholds from ``NodesConfig`` (``settings``: a NodesConfig; None: its defaults)."""
    from latent_nodes.config import NodesConfig

    s = settings or NodesConfig()
    return SequentialThresholds(upper=s.recognition_upper, lower=s.recognition_lower, drift=s.recognition_drift,
                                floor=s.recognition_floor, max_error=s.recognition_unexplained)


def step_evidence(errors: np.ndarray, floor: float, max_error: float = float("inf")) -> np.ndarray:
    """[B] this step's evidence for each behaviour: its log-ratio lead over its closest rival (<= 0 unless best).

    A step with a failed inference (non-finite error) is no evidence at all: an infinite log-ratio would
    decide at once and could never be outweighed. One behaviour (no rival) gets ``log((1 + floor) /
    (e + floor))`` -- a unit window error is the rival -- so it is named while it fits. A best error above
    ``max_error`` gives every behaviour -inf (the accounts are cleared).
    """
    e = np.asarray(errors, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(e)):
        return np.zeros(len(e))
    logs = np.log(np.maximum(e, 0.0) + floor)
    if len(e) == 1:
        rival = np.array([np.log(1.0 + floor)])
    else:
        rival = np.array([np.min(np.delete(logs, b)) for b in range(len(e))])
    m = rival - logs
    if not np.min(e) <= max_error:
        m = np.full(len(e), -np.inf)  # no behaviour explains this window: every account is cleared
    return m


@dataclass
class SequentialRecognition:
    """A stateful CUSUM test with hysteresis over the behaviours' window errors; ``decide`` once per step."""

    thresholds: SequentialThresholds
    evidence: np.ndarray | None = field(default=None, init=False)  # [B] accumulated S_b
    decision: str = field(default=UNDECIDED, init=False)
    _names: tuple[str, ...] | None = field(default=None, init=False)

    def reset(self) -> None:
        """Forget everything: the next behaviour starts undecided with no evidence."""
        self.evidence, self.decision, self._names = None, UNDECIDED, None

    def decide(self, names: tuple[str, ...] | list[str], errors: np.ndarray) -> Recognition:
        """Add this step's window errors to the evidence; rank, and decide, stay, switch or abstain."""
        names = tuple(names)
        errors = np.asarray(errors, dtype=np.float64).reshape(-1)
        if len(names) != errors.shape[0] or errors.shape[0] == 0:
            raise ValueError(f"{len(names)} behaviour names for {errors.shape[0]} errors")
        if self._names is not None and names != self._names:
            raise ValueError(f"behaviours changed from {list(self._names)} to {list(names)} without reset()")
        th = self.thresholds
        m = step_evidence(errors, th.floor, th.max_error)
        previous = np.zeros(len(names)) if self.evidence is None else self.evidence
        self.evidence, self._names = np.maximum(0.0, previous + m - th.drift), names
        ranked = np.where(np.isfinite(errors), errors, np.inf)
        ranking = tuple(names[i] for i in np.argsort(ranked, kind="stable"))
        lead = int(np.argmax(self.evidence))
        leader_in = self.evidence[lead] >= th.upper and np.sum(self.evidence == self.evidence[lead]) == 1
        if self.decision != UNDECIDED and self.evidence[names.index(self.decision)] >= th.lower:
            if leader_in and names[lead] != self.decision:
                self.decision = names[lead]  # evidence reversed past the other threshold: switch
        else:
            self.decision = names[lead] if leader_in else UNDECIDED
        return Recognition(errors={n: float(e) for n, e in zip(names, errors)}, ranking=ranking,
                           decision=self.decision)


def replay(thresholds: SequentialThresholds, names: tuple[str, ...], errors: np.ndarray) -> list[str]:
    """The decisions after each step of one behaviour, from its per-step window errors [K, B]."""
    rule = SequentialRecognition(thresholds)
    return [rule.decide(names, row).decision for row in np.asarray(errors, dtype=np.float64)]


def accumulated(thresholds: SequentialThresholds, errors: np.ndarray) -> np.ndarray:
    """[K, B] the accumulated evidence S after each step of one behaviour's window errors [K, B]."""
    s = np.zeros(np.asarray(errors).shape[1])
    out = []
    for row in np.asarray(errors, dtype=np.float64):
        s = np.maximum(0.0, s + step_evidence(row, thresholds.floor, thresholds.max_error) - thresholds.drift)
        out.append(s.copy())
    return np.array(out)


def check_disjoint(positions: np.ndarray, forbidden: np.ndarray, min_distance: float, what: str) -> None:
    """ValueError unless every position lies at least ``min_distance`` metres from every forbidden one."""
    positions, forbidden = np.asarray(positions, dtype=np.float64).reshape(-1, 2), np.asarray(forbidden).reshape(-1, 2)
    if len(positions) == 0 or len(forbidden) == 0:
        return
    d = np.linalg.norm(positions[:, None, :] - forbidden[None, :, :], axis=-1)
    i, j = np.unravel_index(np.argmin(d), d.shape)
    if d[i, j] < min_distance:
        raise ValueError(f"calibration position ({positions[i, 0]:.3f}, {positions[i, 1]:.3f}) lies "
                         f"{d[i, j] * 1e3:.1f} mm from {what} position ({forbidden[j, 0]:.3f}, "
                         f"{forbidden[j, 1]:.3f}); calibrate only on positions at least "
                         f"{min_distance * 1e3:.0f} mm from those")


@dataclass(frozen=True)
class Calibration:
    """The chosen thresholds and what they were chosen from."""

    thresholds: SequentialThresholds
    wrong_max: float  # the largest accumulated evidence any wrong behaviour reached on validation
    right_min_held: float  # the smallest the right behaviour's evidence fell to once past upper on validation
    accuracy: np.ndarray  # [K] validation accuracy per k with these thresholds
    wrong: np.ndarray  # [K] validation wrong decisions per k


def score(thresholds: SequentialThresholds, names: tuple[str, ...], errors: np.ndarray, truth: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(accuracy, abstained, wrong) [K] over trials: ``errors`` [N, K, B] window errors, ``truth`` [N] indices."""
    decisions = np.array([replay(thresholds, names, e) for e in errors])
    right = decisions == np.array([names[t] for t in truth])[:, None]
    undecided = decisions == UNDECIDED
    return right.mean(axis=0), undecided.mean(axis=0), (~right & ~undecided).mean(axis=0)


def calibrate(names: tuple[str, ...], errors: np.ndarray, truth: np.ndarray, *, positions: np.ndarray,
              held_out: np.ndarray, floor: float, min_distance: float = 0.01,
              drifts: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0), safety: float = 2.0, hold: float = 0.5,
              max_error: float | None = None, target: float = 0.95) -> Calibration:
    """Choose upper, lower and drift from validation window errors [N, K, B] (truth [N] behaviour indices).

    ``max_error`` (None) is ``safety`` times the largest window error the right behaviour had on validation
    at any k. For each drift: ``upper`` is ``safety`` times the largest accumulated evidence a wrong behaviour reached
    on validation (so no validation trial is ever decided wrong, with that factor to spare); ``lower`` is
    ``hold`` times the smallest the right behaviour's evidence fell to after first reaching ``upper`` (capped
    at ``upper``), so no validation decision is dropped. The drift kept is the one whose validation accuracy
    reaches ``target`` at the smallest k and stays there at every later k (ties: the higher mean accuracy).
    ``positions`` [N, 2] are the trials' block positions, ``held_out`` [M, 2] the positions the thresholds
    will be scored on (and the training ones): any trial within ``min_distance`` of them is refused, so a
    threshold is never chosen on the positions it is judged by.
    """
    check_disjoint(positions, held_out, min_distance, "a held-out (test or training)")
    errors = np.asarray(errors, dtype=np.float64)
    truth = np.asarray(truth)
    if max_error is None:
        max_error = safety * float(np.max(errors[np.arange(len(truth)), :, truth]))
    best: tuple | None = None
    for drift in drifts:
        probe = SequentialThresholds(upper=1.0, lower=0.0, drift=drift, floor=floor, max_error=max_error)
        s = np.array([accumulated(probe, e) for e in errors])  # [N, K, B]
        wrong_mask = np.ones(s.shape, dtype=bool)
        wrong_mask[np.arange(len(truth)), :, truth] = False
        wrong_max = float(np.max(s[wrong_mask])) if wrong_mask.any() else 0.0
        upper = max(safety * wrong_max, 1e-3)
        right = s[np.arange(len(truth)), :, truth]  # [N, K]
        held = [r[np.argmax(r >= upper):].min() for r in right if np.any(r >= upper)]
        right_min = float(min(held)) if held else 0.0
        lower = min(upper, hold * right_min)
        th = SequentialThresholds(upper=upper, lower=lower, drift=drift, floor=floor, max_error=max_error)
        acc, _, wrong = score(th, names, errors, truth)
        ok = [k for k in range(len(acc)) if np.all(acc[k:] >= target)]
        key = (-(ok[0] if ok else len(acc)), float(acc.mean()))
        if best is None or key > best[0]:
            best = (key, Calibration(th, wrong_max, right_min, acc, wrong))
    return best[1]
