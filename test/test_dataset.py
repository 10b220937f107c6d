"""The dataset file format: round trips, reproducible bytes, and one clear error for every bad file."""

import io
import json
import zipfile

import numpy as np
import pytest

from latent_nodes.data.dataset import FORMAT_VERSION, Dataset, DatasetError, load_dataset, save_dataset

NAMES = tuple(f"j{i}" for i in range(9))


def make(n: int = 6, t: int = 20, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-0.2, 0.6, (n, 2))
    seq = np.concatenate([rng.normal(size=(n, t, 9)), np.repeat(xy[:, None, :], t, axis=1)], axis=2)
    return Dataset(sequences=seq, labels=np.arange(n) % 2, block_xy=xy,
                   split=np.where(np.arange(n) < n - 2, "train", "test"), joint_names=NAMES,
                   behaviour_names=("reach", "reach_circle"), dt=0.1,
                   settings={"generator": "test", "seed": seed, "grid": [5, 5], "nested": {"a": 1.5}})


def test_round_trip_keeps_everything(tmp_path):
    ds = make()
    loaded = load_dataset(save_dataset(ds, tmp_path / "d.npz"))
    np.testing.assert_array_equal(loaded.sequences, ds.sequences)
    np.testing.assert_array_equal(loaded.labels, ds.labels)
    np.testing.assert_array_equal(loaded.block_xy, ds.block_xy)
    np.testing.assert_array_equal(loaded.split, ds.split)
    assert loaded.joint_names == NAMES and loaded.behaviour_names == ("reach", "reach_circle")
    assert loaded.dt == 0.1 and loaded.settings == ds.settings and loaded.format_version == FORMAT_VERSION


def test_the_file_is_plain_numpy_without_pickles(tmp_path):
    path = save_dataset(make(), tmp_path / "d.npz")
    with np.load(path, allow_pickle=False) as npz:
        assert set(npz.files) == {"sequences", "labels", "block_xy", "split", "metadata"}
        meta = json.loads(str(npz["metadata"]))
    assert meta["format_version"] == FORMAT_VERSION and meta["joint_names"] == list(NAMES)


def test_same_data_same_bytes(tmp_path):
    a = save_dataset(make(seed=1), tmp_path / "a.npz").read_bytes()
    b = save_dataset(make(seed=1), tmp_path / "b.npz").read_bytes()
    c = save_dataset(make(seed=2), tmp_path / "c.npz").read_bytes()
    assert a == b and a != c


def test_train_and_test_subsets():
    ds = make(n=8)
    train, test = ds.train(), ds.test()
    assert len(train) == 6 and len(test) == 2
    assert np.all(train.split == "train") and np.all(test.split == "test")
    np.testing.assert_array_equal(test.sequences, ds.sequences[6:])
    assert test.joint_names == ds.joint_names and test.settings == ds.settings


@pytest.mark.parametrize("change, match", [
    ({"sequences": np.zeros((6, 20, 10))}, "outputs per step"),
    ({"sequences": np.zeros((6, 20))}, r"\[N, T, O\]"),
    ({"labels": np.array([0, 1, 2, 0, 1, 0])}, "labels"),
    ({"split": np.array(["train"] * 5 + ["val"])}, "split"),
    ({"block_xy": np.zeros((5, 2))}, "block_xy"),
    ({"dt": 0.0}, "dt"),
    ({"behaviour_names": ("wipe", "wipe")}, "distinct"),
    ({"behaviour_names": ("wipe", " ")}, "non-blank"),
])
def test_inconsistent_datasets_are_refused(change, match):
    fields = make().__dict__ | change
    with pytest.raises(ValueError, match=match):
        Dataset(**fields)


def test_non_finite_data_is_refused(tmp_path):
    ds = make()
    ds.sequences[0, 3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        save_dataset(ds, tmp_path / "d.npz")
    assert not (tmp_path / "d.npz").exists()


def test_settings_must_be_plain_json(tmp_path):
    ds = make()
    ds.settings = {"array": np.zeros(3)}
    with pytest.raises(ValueError, match="JSON"):
        save_dataset(ds, tmp_path / "d.npz")
    assert not (tmp_path / "d.npz").exists()


def test_a_failed_save_leaves_the_old_file(tmp_path):
    path = save_dataset(make(seed=3), tmp_path / "d.npz")
    before = path.read_bytes()
    bad = make(seed=4)
    bad.settings = {"x": object()}
    with pytest.raises(ValueError):
        save_dataset(bad, path)
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]


def test_missing_file(tmp_path):
    with pytest.raises(DatasetError, match=r"missing\.npz does not exist"):
        load_dataset(tmp_path / "missing.npz")
    with pytest.raises(DatasetError, match="directory"):
        load_dataset(tmp_path)


@pytest.mark.parametrize("keep", [0, 10, 0.5, 0.9, -1])
def test_truncated_files_are_a_clear_error(tmp_path, keep):
    data = save_dataset(make(), tmp_path / "good.npz").read_bytes()
    cut = keep if isinstance(keep, int) and keep >= 0 else (len(data) - 1 if keep == -1 else int(len(data) * keep))
    path = tmp_path / "cut.npz"
    path.write_bytes(data[:cut])
    with pytest.raises(DatasetError, match=r"cut\.npz.*(truncated or corrupt)"):
        load_dataset(path)


def test_garbage_and_corrupted_files_are_a_clear_error(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(DatasetError, match=r"noise\.npz"):
        load_dataset(path)
    data = bytearray(save_dataset(make(), tmp_path / "good.npz").read_bytes())
    data[200:260] = bytes(60)  # inside the first member's compressed data: a CRC or inflate error
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"flipped\.npz.*truncated or corrupt"):
        load_dataset(path)


def _rewrite(src, dst, drop=(), replace=None):
    """Copy a dataset zip, dropping members or replacing one member's array."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            name = info.filename[:-4]
            if name in drop:
                continue
            if replace and name in replace:
                buf = io.BytesIO()
                np.lib.format.write_array(buf, replace[name])
                zout.writestr(info.filename, buf.getvalue())
            else:
                zout.writestr(info, zin.read(info))
    return dst


def test_other_npz_files_and_incompatible_versions_are_clear_errors(tmp_path):
    good = save_dataset(make(), tmp_path / "good.npz")
    with pytest.raises(DatasetError, match=r"lacks the entries \['split'\]"):
        load_dataset(_rewrite(good, tmp_path / "nosplit.npz", drop=("split",)))
    meta = json.loads(str(np.load(good)["metadata"]))
    meta["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(DatasetError, match="format version 2"):
        load_dataset(_rewrite(good, tmp_path / "v2.npz", replace={"metadata": np.array(json.dumps(meta))}))
    with pytest.raises(DatasetError, match="metadata"):
        load_dataset(_rewrite(good, tmp_path / "badmeta.npz", replace={"metadata": np.array("{not json")}))
    with pytest.raises(DatasetError, match=r"shape\.npz is inconsistent"):
        load_dataset(_rewrite(good, tmp_path / "shape.npz", replace={"labels": np.zeros(3, dtype=np.int64)}))
    np.savez(tmp_path / "foreign.npz", x=np.zeros(3))
    with pytest.raises(DatasetError, match="not a latent_nodes dataset"):
        load_dataset(tmp_path / "foreign.npz")
