"""Reference rows for Table I: what a roboticist would try first on the same split.

Each baseline sees the training sequences of one behaviour with their block positions and predicts a
whole test sequence from the test block position, i.e. from the same first-step perception the latent
model gets. Positions and sequences are in normalized units, like the latent model's: the position is
the block's (x, y) output at the first step, so the errors compare and a predictor can write the
observed position into the sequence it returns.

- polynomial ridge regression (scikit-learn) from position to the flattened sequence, degree and
  ridge weight chosen by cross-validation over the training positions;
- inverse-distance-weighted k nearest neighbours (scikit-learn), k chosen the same way;
- nearest neighbour: the training sequence whose block position is closest, with the observed block
  coordinates written over the neighbour's (the block does not move during a behaviour);
- Gaussian-process regression (scikit-learn) from position to the flattened sequence;
- a contextual ProMP (``movement_primitives``): ProMP weights per demonstration, a GMM (``gmr``) over
  [block position, weights], conditioned on the test position; the mean trajectory is the prediction.

The observation may be longer than the block (``Observation``: the first k steps' joint angles too). The
regressors then take every observed value as their input (the same values the latent model observes);
nearest neighbour writes them over the neighbour's; the ProMP keeps the block as its context and is
conditioned on the observed steps as via points (``ProMP.condition_position``).

Hyperparameters are never chosen on test positions: the cross-validated ones use ``VALIDATION_FOLDS``
shuffled folds of the training positions (seeded) and the Eq. (1) error (a mean squared error over all
outputs, the same ranking). Every predictor takes an optional ``info`` dict and records its choices there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

# (train_x [N, d], train_seq [N, T, O], test_x [M, d], info=dict | None, observed=Observation | None)
#   -> predicted sequences [M, T, O]; x is the observed values (the block's x, y for the paper's observation)
Predictor = Callable[..., np.ndarray]

VALIDATION_FOLDS = 5
PERCEPTION_DIMS = (9, 10)  # where the block's (x, y) sits in an output vector (ModelConfig.perception_dims)
MAX_POLYNOMIAL_FEATURES = 20000  # degrees whose feature count exceeds this are not tried (long prefixes)
VIA_POINT_VARIANCE = 1e-6  # variance of a ProMP via point (normalized units): the prefix, kept well conditioned


@dataclass(frozen=True)
class Observation:
    """What was observed of each test sequence: ``mask`` [T, O] (True = observed) and ``values`` [M, T, O]."""

    mask: np.ndarray
    values: np.ndarray


def observed_inputs(sequences: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """[N, n_observed] the observed entries of each sequence, in (step, output) order: a predictor's input."""
    return np.asarray(sequences)[:, np.asarray(mask, dtype=bool)]


def _cross_validated(estimator, grid: dict, train_xy: np.ndarray, train_seq: np.ndarray, seed: int):
    """``estimator`` refit on all training positions with the grid point of lowest validation error."""
    from sklearn.model_selection import GridSearchCV, KFold

    n = len(train_xy)
    folds = KFold(n_splits=min(VALIDATION_FOLDS, n), shuffle=True, random_state=seed)
    search = GridSearchCV(estimator, grid, cv=folds, scoring="neg_mean_squared_error")
    search.fit(train_xy, train_seq.reshape(n, -1))
    return search


def polynomial_ridge(train_xy: np.ndarray, train_seq: np.ndarray, test_xy: np.ndarray, seed: int = 0,
                     degrees: Sequence[int] = (1, 2, 3, 4, 5), alphas: Sequence[float] = (1e-6, 1e-3, 1.0),
                     info: dict | None = None, observed: Observation | None = None) -> np.ndarray:
    """Ridge regression on polynomial features of the (standardized) inputs; degree and weight by validation.

    With a long prefix as input, degrees of more than ``MAX_POLYNOMIAL_FEATURES`` features are skipped.
    """
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    d = train_xy.shape[1]
    degrees = [g for g in degrees if math.comb(d + g, g) <= MAX_POLYNOMIAL_FEATURES] or [1]
    pipeline = make_pipeline(StandardScaler(), PolynomialFeatures(), Ridge())
    search = _cross_validated(pipeline, {"polynomialfeatures__degree": list(degrees), "ridge__alpha": list(alphas)},
                              train_xy, train_seq, seed)
    if info is not None:
        info.update(degree=search.best_params_["polynomialfeatures__degree"], alpha=search.best_params_["ridge__alpha"])
    return search.predict(test_xy).reshape(len(test_xy), *train_seq.shape[1:])


def idw_nearest_neighbours(train_xy: np.ndarray, train_seq: np.ndarray, test_xy: np.ndarray, seed: int = 0,
                           ks: Sequence[int] = (1, 2, 3, 4, 5, 6, 8), info: dict | None = None,
                           observed: Observation | None = None) -> np.ndarray:
    """The k nearest training sequences weighted by inverse distance (a training position returns its own)."""
    from sklearn.neighbors import KNeighborsRegressor

    n = len(train_xy)
    smallest_fold = n - int(np.ceil(n / min(VALIDATION_FOLDS, n)))  # every validation fit needs k samples
    candidates = [k for k in ks if k <= smallest_fold] or [1]
    search = _cross_validated(KNeighborsRegressor(weights="distance"), {"n_neighbors": candidates},
                              train_xy, train_seq, seed)
    if info is not None:
        info.update(k=search.best_params_["n_neighbors"])
    return search.predict(test_xy).reshape(len(test_xy), *train_seq.shape[1:])


def nearest_neighbour(train_xy: np.ndarray, train_seq: np.ndarray, test_xy: np.ndarray,
                      perception_dims: Sequence[int] = PERCEPTION_DIMS, info: dict | None = None,
                      observed: Observation | None = None) -> np.ndarray:
    """The nearest training input's sequence with the observed block position at ``perception_dims``.

    Nothing is chosen, so ``info`` stays empty. Copying the neighbour's own block coordinates instead
    would add the distance between the two positions to the error at every step. Given an
    ``observed`` prefix, every observed value is written over the neighbour's too.
    """
    from sklearn.neighbors import NearestNeighbors

    index = NearestNeighbors(n_neighbors=1).fit(train_xy).kneighbors(test_xy, return_distance=False)[:, 0]
    out = train_seq[index].copy()
    dims = list(perception_dims)
    if observed is None:
        out[:, :, dims] = test_xy[:, None, :]
        return out
    out[:, :, dims] = observed.values[:, :1, dims]  # the block does not move during a behaviour
    return np.where(observed.mask, observed.values, out)


def gaussian_process(train_xy: np.ndarray, train_seq: np.ndarray, test_xy: np.ndarray,
                     seed: int = 0, info: dict | None = None, observed: Observation | None = None) -> np.ndarray:
    """GP regression with an anisotropic RBF kernel plus noise, hyperparameters by marginal likelihood."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    n, t, o = train_seq.shape
    kernel = ConstantKernel(1.0) * RBF(length_scale=np.ones(train_xy.shape[1])) + WhiteKernel(1e-4)
    gp = GaussianProcessRegressor(kernel=kernel, normalize_y=True, n_restarts_optimizer=2, random_state=seed)
    gp.fit(train_xy, train_seq.reshape(n, t * o))
    if info is not None:
        info.update(kernel=str(gp.kernel_))
    return gp.predict(test_xy).reshape(len(test_xy), t, o)


def contextual_promp(train_xy: np.ndarray, train_seq: np.ndarray, test_xy: np.ndarray, seed: int = 0,
                     n_weights_per_dim: int = 16, n_components: int = 2, info: dict | None = None,
                     observed: Observation | None = None,
                     perception_dims: Sequence[int] = PERCEPTION_DIMS) -> np.ndarray:
    """ProMP weights per demonstration; GMM over [context, weights]; conditional mean per test context.

    Contexts are standardized first: they vary by a fraction of a unit while the weights vary by about
    one, and the covariance shrinkage (needed with far fewer demonstrations than weights) would
    otherwise erase their correlation. 16 weights per dimension and 2 components were the best of
    {10, 12, 16} x {1, 2, 3} on this data. The context is the block position; with an ``observed``
    prefix, the conditional weight distribution is further conditioned on every fully observed step
    as a via point (variance ``VIA_POINT_VARIANCE``), the ProMP's own way of completing a prefix.
    """
    from gmr import GMM
    from movement_primitives.promp import ProMP

    n, t, o = train_seq.shape
    times = np.linspace(0.0, 1.0, t)
    via_steps: list[int] = []
    if observed is not None:
        dims = list(perception_dims)
        train_xy, test_xy = train_seq[:, 0, dims], observed.values[:, 0, dims]
        via_steps = [k for k in range(t) if np.asarray(observed.mask)[k].all()]
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
        conditional = ProMP(n_dims=o, n_weights_per_dim=n_weights_per_dim)
        conditional.from_weight_distribution(mvn.mean, mvn.covariance)
        for k in via_steps:
            conditional = conditional.condition_position(observed.values[i, k], VIA_POINT_VARIANCE * np.eye(o),
                                                         t=times[k], t_max=1.0)
        out[i] = conditional.mean_trajectory(times)
    if info is not None:
        info.update(n_weights_per_dim=n_weights_per_dim, n_components=n_components, via_steps=via_steps)
    return out


BASELINES: dict[str, Predictor] = {
    "polynomial ridge": polynomial_ridge,
    "IDW k nearest neighbours": idw_nearest_neighbours,
    "nearest neighbour, observed block": nearest_neighbour,
    "Gaussian process": gaussian_process,
    "contextual ProMP": contextual_promp,
}
