"""The generator (chart m_p and PVRNN) in float64 NumPy, with its Jacobian, for inference's small batches.

Latent inference rolls the generator out for one to a few dozen sequences at a time: one query, one or
two behaviours, a handful of starting points. At that size the cost is the number of operations times
their per-call overhead, which for NumPy on small arrays is a fraction of torch's
(``benchmarks/online_update.py`` and ``benchmarks/latency.py`` time both paths in one run). Two choices
keep the operation count low:

- Value and tangents travel together. The step u_t = (1 - 1/tau) u_{t-1} + (1/tau) R d_{t-1} + drive_t
  is linear, and its tangent is the same linear map of the tangents, so the value and its D tangents
  are rows of one array: a step is one matrix product, two adds and a tanh for all of them, plus
  d_dot = (1 - d^2) u_dot for the tangent rows.
- As in ``pvrnn.py``, the layers run top first, each over all steps, so each layer's top-down drive
  W(z) d^{l+1}_t for all steps (and its tangent) is one batched product before the layer's loop.

It computes exactly ``LatentModel.generate`` (with ``coords_dot`` the unit vectors: the whole Jacobian
with respect to the coordinates), in float64 instead of float32; the tests hold the two to float32
rounding. A ``NumpyGenerator`` is a snapshot of the weights: ``NumpyGenerator.of(model)`` keeps one per
model and takes a new one whenever a parameter has been changed in place (an optimizer step, a load).
"""

from __future__ import annotations

import weakref

import numpy as np
import torch

from latent_nodes.model.latent_model import LatentModel

# model -> (its weight tensors, their in-place versions when the snapshot was taken, the snapshot)
_CACHE: weakref.WeakKeyDictionary[LatentModel, tuple[list, list, NumpyGenerator]] = weakref.WeakKeyDictionary()


def _array(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().double().numpy().copy()


def _weights(model: LatentModel) -> list[torch.Tensor]:
    return list(model.parameters()) + list(model.buffers())


class NumpyGenerator:
    """``LatentModel.generate`` for coordinates [B, D] and behaviours [B], optionally with the Jacobian."""

    def __init__(self, model: LatentModel) -> None:
        pv = model.pvrnn
        self.sizes = list(pv.sizes)
        self.seq_len, self.latent_dim = int(pv.seq_len), int(pv.latent_dim)
        self.coord_dim = int(model.coord_dim)
        rates = list(pv.rates)
        # Per layer: u_t = keep u_{t-1} + d_{t-1} rec + bias + top-down drive (1/tau folded in).
        self.keep = [1.0 - r for r in rates]
        self.rec = [r * _array(lin.weight).T for r, lin in zip(rates, pv.recurrent)]
        self.bias = [r * _array(lin.bias) for r, lin in zip(rates, pv.recurrent)]
        # Top-down into layer l from l+1, with 1/tau_l folded in: M flat [L, n_l * n_{l+1}] and B [n_l, n_{l+1}].
        self.down_m = [rates[level] * _array(m).reshape(self.latent_dim, -1) for level, m in enumerate(pv.topdown_M)]
        self.down_b = [rates[level] * _array(b) for level, b in enumerate(pv.topdown_B)]
        self.initial = _array(pv.initial_state)
        ends = np.cumsum(self.sizes)
        self.offsets = [(int(e - n), int(e)) for e, n in zip(ends, self.sizes)]  # each layer's slice of the state
        self.readout_w, self.readout_b = _array(pv.readout.weight).T, _array(pv.readout.bias)
        emb = model.embedding
        self.embedding = None if emb is None else tuple(_array(t) for t in (emb.w1, emb.b1, emb.w2, emb.b2))
        self.sample_coords = _array(model.coords)
        self.sample_patterns = model.sample_patterns.cpu().numpy().copy()

    @classmethod
    def of(cls, model: LatentModel) -> NumpyGenerator:
        """The snapshot of ``model``'s current weights, taken again when one of them has changed in place.

        Every optimizer step, ``load_state_dict`` and ``copy_`` changes a tensor in place (and its version
        counter); a model whose parameters are swapped for new tensor objects needs a new snapshot by hand.
        """
        cached = _CACHE.get(model)
        if cached is None or [t._version for t in cached[0]] != cached[1]:
            weights = _weights(model)
            cached = (weights, [t._version for t in weights], cls(model))
            _CACHE[model] = cached
        return cached[2]

    def pattern_coords(self, pattern: int) -> np.ndarray:
        """Learned coordinates of the training samples of one behaviour [N_p, D]."""
        return self.sample_coords[self.sample_patterns == pattern]

    def to_latent(self, coords: np.ndarray, pattern: np.ndarray, jacobian: bool = False
                  ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """z [B, L] for coordinates [B, D]; with ``jacobian`` also dz/dcoords as [B, D, L] (one row per direction)."""
        if self.embedding is None:
            if not jacobian:
                return coords
            return coords, np.broadcast_to(np.eye(self.latent_dim), (coords.shape[0], self.latent_dim, self.latent_dim))
        w1, b1, w2, b2 = (a[pattern] for a in self.embedding)  # [B, H, K], [B, H], [B, L, H], [B, L]
        h = np.tanh((w1 @ coords[:, :, None])[:, :, 0] + b1)
        z = (w2 @ h[:, :, None])[:, :, 0] + b2
        if not jacobian:
            return z
        return z, ((w2 * (1.0 - h * h)[:, None, :]) @ w1).transpose(0, 2, 1)

    def generate(self, coords: np.ndarray, pattern: np.ndarray, steps: int | None = None, jacobian: bool = False
                 ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Outputs x [B, steps, O] (normalized units); with ``jacobian`` also dx/dcoords [B, steps, O, D]."""
        coords = np.asarray(coords, dtype=np.float64)
        pattern = np.asarray(pattern, dtype=np.int64).reshape(-1)
        if jacobian:
            z, z_dot = self.to_latent(coords, pattern, jacobian=True)
        else:
            z, z_dot = self.to_latent(coords, pattern), None
        return self.generate_from_latent(z, pattern, self.seq_len if steps is None else int(steps), z_dot)

    def generate_from_latent(self, z: np.ndarray, pattern: np.ndarray, steps: int, z_dot: np.ndarray | None = None
                             ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Outputs for latents z [B, L]; with tangents ``z_dot`` [B, D, L] also their derivatives [B, steps, O, D].

        Rows are laid out value first, then one block of B rows per tangent direction, so that the value's
        rows are contiguous and a step is one matrix product over all rows.
        """
        b = z.shape[0]
        rows = 1 if z_dot is None else 1 + z_dot.shape[1]
        initial = self.initial[pattern]
        above = None  # [steps, rows * B, n_{l+1}]: the finished layer above, d_1..d_steps and their tangents
        for level in range(len(self.sizes) - 1, -1, -1):
            n, (first, last) = self.sizes[level], self.offsets[level]
            if above is None:  # the top layer: its only drive is the bias, and tangents have none
                drive = np.zeros((steps, rows * b, n))
                drive[:, :b] = self.bias[level]
            else:
                # (1/tau) W(z) d^{l+1}_t per sample for all steps; its tangent is bilinear in (z, d^{l+1}).
                down = ((z @ self.down_m[level]).reshape(b, n, -1) + self.down_b[level]).transpose(0, 2, 1)
                per_sample = above.reshape(steps * rows, b, -1).transpose(1, 0, 2)  # [B, steps * rows, n_{l+1}]
                drive = (per_sample @ down).transpose(1, 0, 2).reshape(steps, rows, b, n)
                drive[:, 0] += self.bias[level]
                if z_dot is not None:
                    down_dot = (z_dot @ self.down_m[level]).reshape(b, rows - 1, n, -1)  # [B, D, n_l, n_{l+1}]
                    value = above[:, :b].transpose(1, 0, 2)[:, None]  # [B, 1, steps, n_{l+1}]
                    drive[:, 1:] += (value @ down_dot.transpose(0, 1, 3, 2)).transpose(2, 1, 0, 3)
                drive = drive.reshape(steps, rows * b, n)
            rec, keep = self.rec[level], self.keep[level]
            # u and d of every row; tangents of the initial state are zero.
            d = np.zeros((steps + 1, rows * b, n))
            u = np.zeros((rows * b, n))
            u[:b] = initial[:, first:last]
            np.tanh(u[:b], out=d[0, :b])
            product = np.empty((rows * b, n))
            slope = np.empty((b, n))
            for t in range(steps):
                np.dot(d[t], rec, out=product)
                product += drive[t]
                u *= keep
                u += product
                now = d[t + 1]
                np.tanh(u[:b], out=now[:b])
                if rows > 1:  # d_dot = (1 - d^2) u_dot
                    np.multiply(now[:b], now[:b], out=slope)
                    np.subtract(1.0, slope, out=slope)
                    np.multiply(u[b:].reshape(rows - 1, b, n), slope, out=now[b:].reshape(rows - 1, b, n))
            above = d[1:]
        out = above @ self.readout_w  # [steps, rows * B, O]
        x = (out[:, :b] + self.readout_b).transpose(1, 0, 2)
        if z_dot is None:
            return x
        return x, out[:, b:].reshape(steps, rows - 1, b, -1).transpose(2, 0, 3, 1)
