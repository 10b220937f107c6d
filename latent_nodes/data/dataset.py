"""The dataset: recorded behaviour sequences with their labels, block positions and train/test split.

One file holds everything training and evaluation need, so a dataset can be moved, shared and checked
on its own. The format is a NumPy ``.npz`` (a zip of ``.npy`` arrays) readable with
``allow_pickle=False``:

| entry | dtype, shape | meaning |
|---|---|---|
| ``sequences`` | float64 [N, T, O] | per step: joint angles (``joint_names`` order, rad), block x, y (m) |
| ``labels`` | int64 [N] | behaviour of each sample, an index into ``behaviour_names`` |
| ``block_xy`` | float64 [N, 2] | where the block was placed (the perception at the first step) |
| ``split`` | str [N] | ``"train"`` or ``"test"``; test samples are unseen positions, never used in training |
| ``metadata`` | str (0-d) | JSON: ``format_version``, ``joint_names``, ``behaviour_names``, ``dt``, ``settings`` |

``settings`` records how the data was made (generator, its configuration and seed), so a file explains
itself. Writes are atomic and byte-for-byte reproducible (fixed zip timestamps, sorted JSON), so the same
data gives the same file. Nothing here imports ROS or MuJoCo: training reads datasets without either.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from latent_nodes.atomic import atomic_path

FORMAT_VERSION = 1
SPLITS = ("train", "test")
_ARRAYS = ("sequences", "labels", "block_xy", "split", "metadata")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps: same data, same bytes


class DatasetError(ValueError):
    """A dataset file that is missing, truncated, corrupt or incompatible; the message names the file."""


class InconsistentDataset(ValueError):
    """Arrays that do not form a dataset; ``problem`` says what is wrong, without a prefix."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"inconsistent dataset: {problem}")
        self.problem = problem


@dataclass
class Dataset:
    """N recorded sequences of T steps and O outputs, with what is needed to interpret them."""

    sequences: np.ndarray  # float [N, T, O]
    labels: np.ndarray  # int [N], index into behaviour_names
    block_xy: np.ndarray  # float [N, 2]
    split: np.ndarray  # str [N]: "train" | "test"
    joint_names: tuple[str, ...]
    behaviour_names: tuple[str, ...]
    dt: float
    settings: dict = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels)
        if labels.size and labels.dtype.kind not in "iu":  # 0.7 would silently become behaviour 0
            raise InconsistentDataset(f"labels must be integers (behaviour indices), got {labels.dtype} values")
        self.sequences = np.asarray(self.sequences, dtype=np.float64)
        self.labels = labels.astype(np.int64)
        self.block_xy = np.asarray(self.block_xy, dtype=np.float64)
        self.split = np.asarray(self.split, dtype=str)
        self.joint_names = tuple(str(n) for n in self.joint_names)
        self.behaviour_names = tuple(str(n) for n in self.behaviour_names)
        self.dt = float(self.dt)
        problem = self.problem()
        if problem:
            raise InconsistentDataset(problem)

    def problem(self) -> str | None:
        """What is inconsistent about this dataset, or None."""
        seq = self.sequences
        if seq.ndim != 3:
            return f"sequences must be [N, T, O], got shape {seq.shape}"
        n, _, o = seq.shape
        if o != len(self.joint_names) + 2:
            return f"sequences have {o} outputs per step but {len(self.joint_names)} joints + block x, y"
        if self.labels.shape != (n,) or self.block_xy.shape != (n, 2) or self.split.shape != (n,):
            return (f"{n} sequences but labels {self.labels.shape}, block_xy {self.block_xy.shape}, "
                    f"split {self.split.shape}")
        if not np.all(np.isfinite(seq)) or not np.all(np.isfinite(self.block_xy)):
            return "sequences or block_xy contain NaN or infinite values"
        names = self.behaviour_names
        if not names or len(set(names)) != len(names) or not all(name.strip() for name in names):
            # A name picks a behaviour (the inference node's parameter): each one once, none blank.
            return f"behaviour_names must be one or more distinct, non-blank names, got {list(names)}"
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.behaviour_names)):
            return (f"labels must index behaviour_names {list(self.behaviour_names)}, "
                    f"got {np.unique(self.labels).tolist()}")
        bad = sorted(set(self.split.tolist()) - set(SPLITS))
        if bad:
            return f"split values must be {list(SPLITS)}, got {bad}"
        if not self.dt > 0:
            return f"dt must be positive, got {self.dt}"
        return None

    def __len__(self) -> int:
        return int(self.sequences.shape[0])

    @property
    def is_test(self) -> np.ndarray:
        """[N] bool: True for unseen test samples."""
        return self.split == "test"

    def subset(self, mask: np.ndarray) -> Dataset:
        """The samples selected by a boolean mask or index array, with the same metadata."""
        return Dataset(sequences=self.sequences[mask], labels=self.labels[mask], block_xy=self.block_xy[mask],
                       split=self.split[mask], joint_names=self.joint_names, behaviour_names=self.behaviour_names,
                       dt=self.dt, settings=dict(self.settings), format_version=self.format_version)

    def train(self) -> Dataset:
        """The training samples (the only ones a model may learn from)."""
        return self.subset(~self.is_test)

    def test(self) -> Dataset:
        """The unseen test samples."""
        return self.subset(self.is_test)

    def metadata(self) -> dict:
        return {"format_version": FORMAT_VERSION, "joint_names": list(self.joint_names),
                "behaviour_names": list(self.behaviour_names), "dt": self.dt, "settings": self.settings}


def save_dataset(ds: Dataset, path: str | Path) -> Path:
    """Write ``ds`` to ``path`` (a .npz) atomically; the same dataset always gives the same bytes."""
    path = Path(path)
    problem = ds.problem()
    if problem:
        raise ValueError(f"refusing to save an inconsistent dataset to {path}: {problem}")
    try:
        meta = json.dumps(ds.metadata(), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"dataset settings must be plain JSON (numbers, strings, lists, dicts): {exc}") from None
    arrays = {"sequences": ds.sequences, "labels": ds.labels, "block_xy": ds.block_xy,
              "split": ds.split.astype("<U5"), "metadata": np.array(meta)}
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in _ARRAYS:
                buf = io.BytesIO()
                array = arrays[name]  # (np.ascontiguousarray would turn the 0-d metadata into 1-d)
                np.lib.format.write_array(buf, array if array.flags.c_contiguous else array.copy(order="C"),
                                          allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, buf.getvalue())
    return path


def load_dataset(path: str | Path) -> Dataset:
    """Read a dataset file; any problem is one ``DatasetError`` naming the file and what is wrong."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"dataset file {path} does not exist (generate one with `latent-nodes dataset`)")
    if path.is_dir():
        raise DatasetError(f"dataset file {path} is a directory, not a .npz file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [n for n in _ARRAYS if n not in npz.files]
            if missing:
                raise DatasetError(f"dataset file {path} lacks the entries {missing}; "
                                   f"it holds {sorted(npz.files)} (not a latent_nodes dataset?)")
            arrays = {n: npz[n] for n in _ARRAYS}
    except DatasetError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, zipfile.LargeZipFile) as exc:
        raise DatasetError(f"dataset file {path} is truncated or corrupt and cannot be read "
                           f"({type(exc).__name__}: {exc})") from None
    try:
        if arrays["metadata"].shape != () or arrays["metadata"].dtype.kind != "U":
            raise TypeError(f"metadata must be one string, got {arrays['metadata'].dtype} {arrays['metadata'].shape}")
        meta = json.loads(str(arrays["metadata"].item()))
        version = meta["format_version"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"dataset file {path} has unreadable metadata ({type(exc).__name__}: {exc})") from None
    if version != FORMAT_VERSION:
        raise DatasetError(f"dataset file {path} has format version {version!r}; this version of latent_nodes "
                           f"reads version {FORMAT_VERSION} (regenerate it with `latent-nodes dataset`)")
    try:
        return Dataset(sequences=arrays["sequences"], labels=arrays["labels"], block_xy=arrays["block_xy"],
                       split=arrays["split"], joint_names=meta["joint_names"],
                       behaviour_names=meta["behaviour_names"], dt=meta["dt"], settings=meta.get("settings", {}),
                       format_version=version)
    except InconsistentDataset as exc:
        raise DatasetError(f"dataset file {path} is inconsistent: {exc.problem}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"dataset file {path} is inconsistent: {exc}") from None
