"""Online latent inference: the latent is re-inferred at every step from everything observed so far.

While a behaviour runs, ``OnlineEstimator.observe(block_xy, joints)`` takes the step's observation at
the model's dt (the block's (x, y) from perception, the joint angles from proprioception, either may be
missing), adds it to a window of observed steps and re-solves Eq. (2) on that window with
``infer_latent``: its mask covers exactly the observed values of the window, so the paper's one-glimpse
inference is the special case of a window holding only the first step's perception. Each re-inference
starts from the previous estimate and takes a bounded number of Gauss-Newton steps: between two steps
the answer moves little, so a few steps track it (the PV-RNN line's error regression, with a fixed
budget so that one update has a bounded cost). The first inference, and the one after the block moved,
has no usable previous estimate; it starts from the block-position map (``warm_start``) and the best
training coordinates with the model's full step budget.

The window is every observed step of the behaviour, or the last ``window`` of them. When the block is
seen more than ``move_threshold`` from where it was when the window started (``window_block``: the first
block position observed in it) the window restarts at that step, from the new position: what was
observed before describes a world that no longer exists, and a single latent cannot explain both. The
distance is measured from the window's start, not from the previous step, so a block that drifts slowly
(2 mm a step) restarts the window once it is a threshold away instead of mixing old and new positions
in one fit. At that step only the
block counts (the arm cannot have reacted to the move yet); joints count again from the next step, so a
node whose arm is still finishing the old plan after a move may pass ``joints=None`` meanwhile.

A step whose block was not seen passes ``block_xy=None``: the block stays unobserved at that step (a
camera sees nothing while the arm hides it; re-sending the last pose as new would weigh one old sighting
as many fresh ones), the joints still count. A block seen again where it was continues the window; seen
again more than ``move_threshold`` from the window's start it has moved, like any move. With a window of
the last ``window`` steps, the block's latest observation stays in it when none of those steps saw the
block: the block has not moved since (the window would have restarted), and without it the fit would be
the joints' alone. A step with nothing new at all (no block, no joints) refines the estimate on the
window as it stands, with the same bounded budget, so every step still has an estimate; only before
anything was observed is it refused. ``OnlineEstimate.block_steps`` and ``joint_steps`` say which of the
window's steps saw which part: the observation mask the latent was inferred from.

With ``behaviour=None`` every behaviour is inferred in the same batch and ranked by its window error
(``recognition``); the completion is the best one's, and ``recognition.decision`` says whether it
is clearly ahead. Everything runs in normalized units, converted at the edge with the checkpoint's
``Normalizer`` exactly as ``BehaviourCompleter.complete`` does; the completion comes back in radians and
metres. A refused observation (``InvalidObservation``) leaves the estimator as it was. With the default
``InferenceConfig.backend`` the whole update stays in NumPy (``infer_latent_numpy``), which is what makes
it cheap (docs/online.md, "Cost of one online update"); ``torch`` runs the reference path.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from latent_nodes.inference.completion import Assessment, BehaviourCompleter, Completion, InvalidObservation
from latent_nodes.inference.domain import DomainReport
from latent_nodes.inference.recognition import Recognition, RecognitionMargin
from latent_nodes.inference.search import (
    InferenceArrays,
    infer_latent,
    infer_latent_numpy,
    select_starts,
    select_starts_numpy,
)
from latent_nodes.inference.sequential_recognition import SequentialRecognition
from latent_nodes.inference.warm_start import WarmStart
from latent_nodes.model.numpy_generator import NumpyGenerator


@dataclass(frozen=True)
class OnlineEstimate:
    """The estimate after one observed step.

    ``completion.sequence`` is the whole behaviour (T steps, radians and metres) for the latent that
    fits the window; what remains to be executed is ``remaining``, from the step just observed to T.
    ``completion.error`` is the window error.
    """

    step: int  # the step just observed, 0-based
    completion: Completion
    window_error: float  # squared error over the window's observed values, per observed step (normalized)
    joint_rms: float | None  # RMS joint error over the window's observed joint angles, radians (None: none)
    window: tuple[int, ...]  # the observed steps the latent was inferred from
    recognition: Recognition | None  # per-behaviour errors and decision (only when recognizing)
    block_steps: tuple[int, ...] = ()  # the window's steps at which the block was observed
    joint_steps: tuple[int, ...] = ()  # the window's steps at which the joints were observed

    @property
    def block_observed(self) -> bool:
        """Whether this step observed the block (False: unobserved, e.g. hidden by the arm)."""
        return self.step in self.block_steps

    @property
    def remaining(self) -> np.ndarray:
        """[T - step, O] the completed behaviour from the step just observed to the end, raw units."""
        return self.completion.sequence[self.step:]

    @property
    def remaining_joints(self) -> np.ndarray:
        """[T - step, n_joints] joint angles in radians from the step just observed to the end."""
        return self.completion.joints[self.step:]

    def change_from(self, published: np.ndarray | None) -> float:
        """How far the remaining joints lie from those of ``published`` ([T, n_joints] radians, the last
        trajectory sent): the largest difference of any joint at any remaining step; inf without one.
        An online node sends an update only when this exceeds its tolerance.
        """
        if published is None:
            return float("inf")
        return float(np.max(np.abs(self.remaining_joints - np.asarray(published)[self.step:])))


class OnlineEstimator:
    """Re-infers the latent after every observed step of one behaviour; ``reset()`` for the next one."""

    def __init__(self, completer: BehaviourCompleter, behaviour: str | None = None, *, window: int | None = None,
                 steps: int = 1, n_starts: int = 4, move_threshold: float = 0.01,
                 margin: RecognitionMargin | SequentialRecognition | None = None) -> None:
        """``behaviour`` None recognizes it; ``window`` None keeps every observed step; ``steps`` is the
        Gauss-Newton budget of an update from the previous estimate; ``n_starts`` the training coordinates
        added to the block-position map's start when there is no previous estimate; ``move_threshold``
        (metres) the block displacement that restarts the window; ``margin`` the recognition rule for
        ``behaviour`` None (``RecognitionMargin``, the default, or ``SequentialRecognition``, which keeps its
        evidence across steps: one per behaviour shown).
        """
        if window is not None and window < 1:
            raise ValueError(f"window must be None (all observed steps) or >= 1, got {window}")
        if steps < 1 or n_starts < 1:
            raise ValueError(f"steps and n_starts must be >= 1, got {steps} and {n_starts}")
        if not move_threshold > 0:
            raise ValueError(f"move_threshold must be positive (metres), got {move_threshold}")
        self.completer = completer
        self.names = completer.behaviours if behaviour is None else (behaviour,)
        self.patterns_np = np.array([completer.behaviour_index(n) for n in self.names], dtype=np.int64)
        self.patterns = torch.as_tensor(self.patterns_np, device=completer.device)
        cfg = completer.inference_cfg
        # The NumPy path (float64, InferenceConfig.backend) unless the model is on a GPU or the search is adam.
        self.numpy = cfg.backend == "numpy" and cfg.method == "gauss-newton" and str(completer.device) == "cpu"
        self.recognizing = behaviour is None
        self.window, self.steps, self.n_starts = window, int(steps), int(n_starts)
        self.move_threshold = float(move_threshold)
        self.margin = margin or RecognitionMargin()
        self._assessed: tuple[np.ndarray, Assessment] | None = None  # the last block judged, and the judgement
        self._pose_distance: tuple[tuple, float] | None = None  # (behaviour, block) -> metres outside the domain
        mc = completer.config.model
        self.seq_len, self.output_dim = int(mc.seq_len), int(mc.output_dim)
        self.perception_dims = list(mc.perception_dims)
        self.joint_dims = [i for i in range(self.output_dim) if i not in self.perception_dims]
        if len(self.joint_dims) != len(completer.joint_names):
            raise ValueError(f"the model outputs {len(self.joint_dims)} joints but names {len(completer.joint_names)}")
        self.reset()

    def reset(self) -> None:
        """Forget everything observed: the next observation starts a new behaviour."""
        self._values = np.zeros((self.seq_len, self.output_dim))  # normalized units
        self._observed = np.zeros((self.seq_len, self.output_dim), dtype=bool)
        self._steps: list[int] = []  # observed steps since the window last restarted
        self._block: np.ndarray | None = None  # last observed block position, metres
        self._window_block: np.ndarray | None = None  # the first block position observed in the window, metres
        self._coords: np.ndarray | None = None  # [P, D] current estimate per behaviour
        self.estimate: OnlineEstimate | None = None
        self.last_step = -1

    @property
    def window_block(self) -> np.ndarray | None:
        """Where the block was when the window started (metres), or None before a block was observed.

        A block observed more than ``move_threshold`` from here has moved: the window restarts there.
        """
        return None if self._window_block is None else self._window_block.copy()

    def moved(self, block_xy: Sequence[float]) -> bool:
        """Whether a block at ``block_xy`` lies more than ``move_threshold`` from the window's start position."""
        anchor = self._window_block
        return anchor is not None and float(np.linalg.norm(np.asarray(block_xy, dtype=np.float64) - anchor)) \
            > self.move_threshold

    # --- input checks: all before any state changes -----------------------------------------------------

    def _check_step(self, step: int | None) -> int:
        t = self.last_step + 1 if step is None else int(step)
        if t >= self.seq_len:
            raise InvalidObservation(f"step {t} is past the behaviour's last step {self.seq_len - 1}; "
                                     f"reset() before a new behaviour")
        if t <= self.last_step or t < 0:
            raise InvalidObservation(f"step {t} does not follow the last observed step {self.last_step}")
        return t

    def _check_joints(self, joints: Sequence[float]) -> np.ndarray:
        q = np.asarray(joints, dtype=np.float64).reshape(-1)
        if q.shape[0] != len(self.joint_dims):
            raise InvalidObservation(f"expected {len(self.joint_dims)} joint angles "
                                     f"({', '.join(self.completer.joint_names)}), got {q.shape[0]}")
        if not np.all(np.isfinite(q)):
            bad = [n for n, v in zip(self.completer.joint_names, q) if not math.isfinite(v)]
            raise InvalidObservation(f"joint angles are not finite: {', '.join(bad)}")
        return q

    # --- the domain, judged once per block position -------------------------------------------------------

    def _assess(self, block_xy: Sequence[float]) -> Assessment:
        """``completer.assess`` of the block, reused while the block keeps exactly the same position.

        A block that does not move is reported with the same coordinates step after step (perception
        publishes on change), and judging it means a hull distance (a small least-squares solve) each time.
        """
        raw = np.array(block_xy, dtype=np.float64)  # a copy: the caller may reuse its buffer
        last = self._assessed
        if last is not None and raw.shape == last[0].shape and np.array_equal(raw, last[0]):
            return last[1]
        # Recognizing: against the region of the behaviour trained nearest the block (they may differ).
        behaviour = self.completer.nearest_region(raw) if self.recognizing else self.names[0]
        assessment = self.completer.assess(raw, behaviour)  # raises for a bad block: nothing is kept
        self._assessed = (raw, assessment)
        return assessment

    def _domain_report(self, block: np.ndarray | None, coords: np.ndarray, pattern: int) -> DomainReport:
        """``completer.domain_report`` with the block's pose distance computed once per position and behaviour."""
        report = self.completer.domain_report(None, coords, pattern)  # the chart distance changes every step
        if block is None:
            return report
        key = (pattern, block.tobytes())
        if self._pose_distance is None or self._pose_distance[0] != key:
            self._pose_distance = (key, self.completer.pose_distance(block, pattern))
        return dataclasses.replace(report, pose_distance=self._pose_distance[1])

    # --- one step -------------------------------------------------------------------------------------

    def observe(self, block_xy: Sequence[float] | None = None, joints: Sequence[float] | None = None,
                step: int | None = None) -> OnlineEstimate:
        """Add one step's observation (either part may be None) and re-infer; ``step`` None: the next one.

        A node that missed steps passes ``step`` (0-based since the behaviour began); the skipped steps
        stay unobserved. Both parts None: nothing new at this step, the estimate is refined on the window
        as it stands. Raises ``InvalidObservation`` for a bad observation, and for nothing observed before
        anything was, leaving the state unchanged.
        """
        started = time.perf_counter()
        t = self._check_step(step)
        # The block is judged as a glimpse's would be, the domain policy included (when recognizing, against
        # the region of the behaviour trained nearest it: ``_assess``).
        assessment = None if block_xy is None else self._assess(block_xy)
        xy = None if assessment is None else assessment.xy
        q = None if joints is None else self._check_joints(joints)
        if xy is None and q is None and self._coords is None:
            raise InvalidObservation(f"step {t}: nothing observed yet; give the block position, the joint angles "
                                     f"or both")

        norm = self.completer.ckpt.normalizer
        values, observed, steps = self._values.copy(), self._observed.copy(), list(self._steps)
        moved = xy is not None and self.moved(xy)
        if moved:  # the world changed: restart the window, and the arm cannot have reacted yet
            observed[:] = False
            steps, q = [], None
        if xy is not None:
            values[t, self.perception_dims] = norm.normalize(xy, self.perception_dims)
            observed[t, self.perception_dims] = True
        if q is not None:
            values[t, self.joint_dims] = norm.normalize(q, self.joint_dims)
            observed[t, self.joint_dims] = True
        if xy is not None or q is not None:  # a step with nothing new is not part of the window
            steps.append(t)
        window = self._window(steps, observed)
        mask = np.zeros_like(observed)
        mask[window] = observed[window]

        fresh = self._coords is None or moved
        result = self._infer(values, mask, None if fresh else self._coords, xy)
        estimate = self._estimate(t, result, values, mask, window, xy if xy is not None else self._block, started,
                                  None if assessment is None else assessment.warning)

        # Commit only now: a failed inference (FloatingPointError) leaves the estimator as it was.
        self._values, self._observed, self._steps = values, observed, steps
        self._block = xy if xy is not None else self._block
        if xy is not None and (moved or self._window_block is None):
            self._window_block = xy
        self._coords = result.coords
        self.last_step, self.estimate = t, estimate
        return estimate

    def _window(self, steps: list[int], observed: np.ndarray) -> list[int]:
        """The window's steps: all observed since the restart, or the last ``window`` of them plus the block's
        latest observation when none of those saw the block (it has not moved since, or the window would
        have restarted).
        """
        if not self.window or len(steps) <= self.window:
            return list(steps)
        window = steps[-self.window:]
        block = self.perception_dims[0]
        if not observed[window, block].any():
            seen = [s for s in steps if observed[s, block]]
            if seen:
                window = [seen[-1], *window]
        return window

    def _infer(self, values: np.ndarray, mask: np.ndarray, previous: np.ndarray | None,
               xy: np.ndarray | None) -> InferenceArrays:
        """All behaviours of this estimator in one batch: from the previous estimate, or from fresh starts."""
        cfg, p = self.completer.inference_cfg, self.patterns.shape[0]
        if previous is not None:
            cfg, starts = dataclasses.replace(cfg, steps=self.steps), previous[:, None]
        else:
            starts = None
        warm = self.completer.warm_start if xy is not None else None
        if self.numpy:
            gen = NumpyGenerator.of(self.completer.model)
            obs, msk = np.broadcast_to(values, (p, *values.shape)), np.broadcast_to(mask, (p, *mask.shape))
            if starts is None:
                horizon = int(np.nonzero(mask.any(axis=1))[0].max()) + 1
                starts = select_starts_numpy(gen, self.patterns_np, obs, msk, horizon, self.n_starts)
                if warm is not None:
                    starts = np.concatenate([self._warm_guess(warm, xy, p)[:, None], starts], axis=1)
            return infer_latent_numpy(gen, self.patterns_np, obs, msk, cfg, starts)
        # The reference path: the same search on the float32 torch model.
        model, device = self.completer.model, self.completer.device
        obs = torch.as_tensor(values, dtype=torch.float32, device=device).expand(p, -1, -1)
        msk = torch.as_tensor(mask, device=device).expand(p, -1, -1)
        if starts is None:
            horizon = int(np.nonzero(mask.any(axis=1))[0].max()) + 1
            starts = select_starts(model, self.patterns, obs, msk.to(obs.dtype), horizon, self.n_starts)
            if warm is not None:
                guess = torch.as_tensor(self._warm_guess(warm, xy, p), dtype=starts.dtype, device=device)
                starts = torch.cat([guess.unsqueeze(1), starts], 1)
        result = infer_latent(model, self.patterns, obs, msk, cfg, starts=starts)
        return InferenceArrays(*(t.cpu().double().numpy() for t in (result.coords, result.z, result.sequence,
                                                                    result.error)))

    def _warm_guess(self, warm: WarmStart, xy: np.ndarray, p: int) -> np.ndarray:
        """[P, D] the block-position map's coordinates for every behaviour of the batch."""
        xy_norm = self.completer.ckpt.normalizer.normalize(xy, self.perception_dims)
        return warm.predict(np.broadcast_to(xy_norm, (p, 2)), self.patterns_np)

    def _estimate(self, t: int, result: InferenceArrays, values: np.ndarray, mask: np.ndarray,
                  window: list[int], block: np.ndarray | None, started: float,
                  warning: str | None = None) -> OnlineEstimate:
        """Pick the behaviour (given or best), convert to raw units, measure the window error."""
        errors = result.error
        recognition = self.margin.decide(self.names, errors) if self.recognizing else None
        k = self.names.index(recognition.best) if recognition is not None else 0
        norm = self.completer.ckpt.normalizer
        sequence = norm.denormalize(result.sequence[k])
        if not math.isfinite(errors[k]) or not np.all(np.isfinite(sequence)):
            raise FloatingPointError(f"online inference produced non-finite values at step {t}")
        joint_mask = mask[:, self.joint_dims]
        joint_rms = None
        if joint_mask.any():
            seen = norm.denormalize(values[:, self.joint_dims], self.joint_dims)
            joint_rms = float(np.sqrt(np.mean((sequence[:, self.joint_dims] - seen)[joint_mask] ** 2)))
        seen_block = block
        if block is None:  # no block seen yet: report where the completion puts it
            block = sequence[t, self.perception_dims]
        uses_embedding = self.completer.model.uses_embedding
        coords, pattern = result.coords[k], int(self.patterns_np[k])
        block = np.asarray(block, dtype=np.float64)
        completion = Completion(
            behaviour=self.names[k], block_xy=block, xi=coords if uses_embedding else None,
            z=result.z[k], sequence=sequence, error=float(errors[k]),
            latency_s=time.perf_counter() - started, dt=self.completer.dt,
            # The window error is the third signal of trust (docs/online.md); these are the other two. A
            # block never observed has no pose distance (NaN), only the chart's.
            domain=self._domain_report(seen_block, coords, pattern), warning=warning)
        block_dim, joint_dim = self.perception_dims[0], self.joint_dims[0]
        return OnlineEstimate(step=t, completion=completion, window_error=float(errors[k]), joint_rms=joint_rms,
                              window=tuple(window), recognition=recognition,
                              block_steps=tuple(s for s in window if mask[s, block_dim]),
                              joint_steps=tuple(s for s in window if mask[s, joint_dim]))
