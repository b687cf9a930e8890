import gzip
import shutil

import pytest
import torch

from kdbook import ConfigError, DatasetUnavailable, data
from kdbook.augment import crop_flip, jitter


def test_digits_splits_are_disjoint_and_deterministic():
    a = data.load_dataset("digits")
    b = data.load_dataset("digits")
    assert (len(a.train), len(a.val), len(a.test)) == (1258, 180, 359)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.val.y, b.val.y)
    flat = lambda s: {tuple(r.tolist()) for r in s.x.flatten(1)}  # noqa: E731
    # digits has a few duplicate images; the splits must still be different examples
    assert len(flat(a.train) & flat(a.val)) < 5 and len(flat(a.val) & flat(a.test)) < 5
    assert a.train.x.min() >= 0 and a.train.x.max() <= 1 and a.input_shape == (1, 8, 8)


def test_split_indices_partition_and_depend_on_seed():
    tr, va = data.split_indices(100, 10, seed=0)
    assert sorted(tr.tolist() + va.tolist()) == list(range(100))
    tr2, va2 = data.split_indices(100, 10, seed=1)
    assert not torch.equal(va, va2)


def test_train_limit_keeps_a_fixed_subset():
    a = data.load_dataset("digits", train_limit=100)
    b = data.load_dataset("digits", train_limit=100)
    assert len(a.train) == 100 and torch.equal(a.train.y, b.train.y)
    assert len(a.val) == 180  # the validation split does not shrink


@pytest.mark.skipif(data._fashion_folder() is None, reason="Fashion-MNIST files not installed")
def test_fashion_mnist_from_files():
    ds = data.load_dataset("fashion-mnist", train_limit=1000)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (1000, 5000, 10000)
    assert ds.input_shape == (1, 28, 28) and ds.num_classes == 10
    assert torch.bincount(ds.test.y).tolist() == [1000] * 10


@pytest.mark.skipif(data._fashion_folder() is None, reason="Fashion-MNIST files not installed")
def test_damaged_fashion_mnist_file_is_named(tmp_path, monkeypatch):
    src = data._fashion_folder()
    for name in data.FASHION_MNIST_SHA256:
        shutil.copy(src / name, tmp_path / name)
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(b"\x00\x00\x08\x01" + (10).to_bytes(4, "big") + bytes(3))  # truncated
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path)
    with pytest.raises(DatasetUnavailable, match="t10k-labels-idx1-ubyte.gz is damaged"):
        data.load_dataset("fashion-mnist")


@pytest.mark.parametrize("name", ["mnist", "cifar10", "cifar100"])
def test_missing_torchvision_dataset_fails_clearly(name, tmp_path, monkeypatch):
    monkeypatch.setenv("KDBOOK_DATA", str(tmp_path))
    with pytest.raises(DatasetUnavailable) as err:
        data.load_dataset(name)
    assert str(tmp_path) in str(err.value) and name in str(err.value)


def test_unknown_dataset_is_a_config_error():
    with pytest.raises(ConfigError, match="dataset must be one of"):
        data.load_dataset("imagenet")


def test_batches_cover_every_index_once(gen):
    seen = torch.cat(list(data.batches(103, 10, generator=gen)))
    assert sorted(seen.tolist()) == list(range(103))
    assert [len(b) for b in data.batches(103, 10, shuffle=False)][-1] == 3


def test_jitter_shifts_within_range(gen):
    x = torch.zeros(200, 1, 9, 9)
    x[:, 0, 4, 4] = 1.0
    out = jitter(x, 2, gen)
    pos = out[:, 0].flatten(1).argmax(1)
    rows, cols = pos // 9, pos % 9
    assert out.shape == x.shape and torch.all(out.sum((1, 2, 3)) == 1)
    assert rows.min() == 2 and rows.max() == 6 and cols.min() == 2 and cols.max() == 6
    assert torch.equal(jitter(x, 0, gen), x)


def test_crop_flip_is_seeded():
    x = torch.rand(8, 3, 6, 6)
    a = crop_flip(x, 2, torch.Generator().manual_seed(5))
    b = crop_flip(x, 2, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.shape == x.shape
    flipped_only = crop_flip(x, 0, torch.Generator().manual_seed(1))
    same = (flipped_only == x).flatten(1).all(1)
    mirrored = (flipped_only == x.flip(-1)).flatten(1).all(1)
    assert torch.all(same | mirrored) and same.any() and mirrored.any()
