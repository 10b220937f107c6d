"""Reference rows for Table I: what a roboticist would try first on the same split.

Each baseline sees the training sequences of one behaviour with their block positions and predicts a
whole test sequence from the test block position, i.e. from the same first-step perception the
latent model gets. All work in normalized units, like the latent model, so the errors compare.

- nearest neighbour: the training sequence whose block position is closest;
- Gaussian-process regression (scikit-learn) from block position to the flattened sequence;
- a contextual ProMP (``movement_primitives``): ProMP weights per demonstration, a GMM (``gmr``) over
  [block position, weights], conditioned on the test position; the mean trajectory is the prediction.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Predictor = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def nearest_neighbour(train_xy: np.ndarray, train_seq: np.ndarray, test_xy: np.ndarray) -> np.ndarray:
    """The training sequence of the nearest training block position, per test position."""
    d = np.linalg.norm(test_xy[:, None, :] - train_xy[None, :, :], axis=-1)
    return train_seq[np.argmin(d, axis=1)]


def gaussian_process(train_xy: np.ndarray, train_seq: np.ndarray, test_xy: np.ndarray,
                     seed: int = 0) -> np.ndarray:
    """GP regression with an anisotropic RBF kernel plus noise, hyperparameters by marginal likelihood."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    n, t, o = train_seq.shape
    kernel = ConstantKernel(1.0) * RBF(length_scale=np.ones(train_xy.shape[1])) + WhiteKernel(1e-4)
    gp = GaussianProcessRegressor(kernel=kernel, normalize_y=True, n_restarts_optimizer=2, random_state=seed)
    gp.fit(train_xy, train_seq.reshape(n, t * o))
    return gp.predict(test_xy).reshape(len(test_xy), t, o)


def contextual_promp(train_xy: np.ndarray, train_seq: np.ndarray, test_xy: np.ndarray, seed: int = 0,
                     n_weights_per_dim: int = 16, n_components: int = 2) -> np.ndarray:
    """ProMP weights per demonstration; GMM over [context, weights]; conditional mean per test context.

    Contexts are standardized first: in metres they vary by centimetres while the weights vary by
    about one, and the covariance shrinkage (needed with far fewer demonstrations than weights) would
    otherwise erase their correlation. 16 weights per dimension and 2 components were the best of
    {10, 12, 16} x {1, 2, 3} on this data.
    """
    from gmr import GMM
    from movement_primitives.promp import ProMP

    n, t, o = train_seq.shape
    times = np.linspace(0.0, 1.0, t)
    promp = ProMP(n_dims=o, n_weights_per_dim=n_weights_per_dim)
    weights = np.array([promp.weights(times, seq) for seq in train_seq])
    mu, sd = train_xy.mean(axis=0), train_xy.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    samples = np.hstack([(train_xy - mu) / sd, weights])
    gmm = GMM(n_components=n_components, random_state=seed)
    # Few demonstrations for many weights: shrinkage keeps the covariances well conditioned.
    gmm.from_samples(samples, oracle_approximating_shrinkage=True)
    context = np.arange(train_xy.shape[1])
    out = np.empty((len(test_xy), t, o))
    for i, xy in enumerate((test_xy - mu) / sd):
        mvn = gmm.condition(context, xy[None, :]).to_mvn()
        out[i] = promp.trajectory_from_weights(times, mvn.mean)
    return out


BASELINES: dict[str, Predictor] = {
    "nearest neighbour": nearest_neighbour,
    "Gaussian process": gaussian_process,
    "contextual ProMP": contextual_promp,
}
