"""Datasets as in-memory tensors with fixed train / validation / test splits.

Every loader returns a :class:`Dataset` of float images in [0, 1] shaped (N, C, H, W) and
integer labels. The validation split is carved from the official training split with a fixed
seed, so it is the same on every machine and never overlaps the test split.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import validate
from .errors import ConfigError, DatasetUnavailable

#: Where the Debian package ``dataset-fashion-mnist`` puts its files.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

#: sha256 of the four Fashion-MNIST files (the same bytes as the upstream release).
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


def data_root() -> Path:
    """Folder where torchvision datasets are looked for (``KDBOOK_DATA`` or ~/.cache/kdbook/data)."""
    return Path(os.environ.get("KDBOOK_DATA", Path.home() / ".cache" / "kdbook" / "data"))


@dataclass
class Split:
    """Inputs ``x`` (N, C, H, W) float32 and labels ``y`` (N,) int64, on one device."""

    x: torch.Tensor
    y: torch.Tensor
    #: which rows of its parent split this is (None for a dataset's own split): part of the cache
    #: key of a model trained on it, so a model trained on a subset is never mistaken for another
    origin: str | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def to(self, device: str | torch.device) -> "Split":
        return Split(self.x.to(device), self.y.to(device), self.origin)

    def subset(self, index: torch.Tensor) -> "Split":
        """The examples at ``index`` (a long tensor or boolean mask); its ``origin`` names those rows."""
        rows = index.nonzero().flatten() if index.dtype == torch.bool else index
        digest = hashlib.sha256((self.origin or "").encode() + rows.cpu().to(torch.int64).numpy().tobytes())
        return Split(self.x[index], self.y[index], f"{len(rows)} rows {digest.hexdigest()[:16]}")


@dataclass
class Dataset:
    """A dataset with its three splits and what the book needs to know about it."""

    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    class_names: tuple[str, ...]
    source: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    def to(self, device: str | torch.device) -> "Dataset":
        return Dataset(self.name, self.train.to(device), self.val.to(device), self.test.to(device),
                       self.num_classes, self.class_names, self.source, dict(self.meta))

    def describe(self) -> str:
        return (f"{self.name}: {len(self.train)} train / {len(self.val)} val / {len(self.test)} test, "
                f"{self.num_classes} classes, inputs {'×'.join(str(d) for d in self.input_shape)} ({self.source})")


# --------------------------------------------------------------------------- registry
Loader = Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[str, ...], str]]
_LOADERS: dict[str, Loader] = {}
_VAL_SIZE: dict[str, int] = {}
_VAL_SHARE: dict[str, float | None] = {}


def register(name: str, val_size: int, at_most_share: float | None = None) -> Callable[[Loader], Loader]:
    """Register a loader returning (x_train, y_train, x_test, y_test, class_names, source).

    Images are uint8 (N, H, W) or (N, H, W, C) arrays; ``val_size`` examples of the official
    training split become the validation split, or ``at_most_share`` of it if that is fewer (a
    partial copy of a dataset keeps a training split; the full datasets are far above it).
    """

    def deco(fn: Loader) -> Loader:
        _LOADERS[name] = fn
        _VAL_SIZE[name] = val_size
        _VAL_SHARE[name] = at_most_share
        return fn

    return deco


def available() -> list[str]:
    """Names of all registered datasets."""
    return sorted(_LOADERS)


def _to_nchw(images: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.array(images, dtype=np.uint8, copy=True))
    if x.ndim == 3:
        x = x.unsqueeze(1)
    elif x.ndim == 4 and x.shape[-1] in (1, 3):
        x = x.permute(0, 3, 1, 2)
    return x.float().div_(255.0).contiguous()


def split_indices(n: int, val_size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic (train, val) index tensors partitioning range(n)."""
    if not 0 <= val_size < n:
        raise ConfigError(f"val_size must be in [0, {n}), got {val_size}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[val_size:].sort().values, perm[:val_size].sort().values


def load_dataset(name: str, *, device: str | torch.device = "cpu", train_limit: int | None = None,
                 val_size: int | None = None, split_seed: int = 0) -> Dataset:
    """Load ``name`` with fixed splits; ``train_limit`` keeps a seeded subset of the training split."""
    validate.raise_if([validate.choice("dataset", name, available()),
                None if train_limit is None else validate.positive_int("train_limit", train_limit)])
    x_tr, y_tr, x_te, y_te, classes, source = _LOADERS[name]()
    n_val = _VAL_SIZE[name] if val_size is None else val_size
    if val_size is None and _VAL_SHARE[name] is not None:
        n_val = min(n_val, int(_VAL_SHARE[name] * len(y_tr)))
    tr_idx, va_idx = split_indices(len(y_tr), n_val, split_seed)
    if train_limit is not None and train_limit < len(tr_idx):
        keep = torch.randperm(len(tr_idx), generator=torch.Generator().manual_seed(split_seed + 1))
        tr_idx = tr_idx[keep[:train_limit].sort().values]
    x_all, y_all = _to_nchw(x_tr), torch.tensor(np.array(y_tr, dtype=np.int64))
    ds = Dataset(
        name=name,
        train=Split(x_all[tr_idx], y_all[tr_idx]),
        val=Split(x_all[va_idx], y_all[va_idx]),
        test=Split(_to_nchw(x_te), torch.tensor(np.array(y_te, dtype=np.int64))),
        num_classes=len(classes),
        class_names=tuple(classes),
        source=source,
        meta={"split_seed": split_seed, "val_size": n_val, "train_limit": train_limit},
    )
    return ds.to(device)


def restrict_classes(ds: Dataset, classes) -> Dataset:
    """The examples of ``classes`` only, relabelled 0..len(classes)-1 in the given order."""
    classes = list(classes)
    validate.raise_if([
        validate.non_empty("classes", classes),
        None if all(isinstance(c, int) and 0 <= c < ds.num_classes for c in classes)
        else f"classes must be integers in [0, {ds.num_classes}), got {classes!r}",
        None if len(set(classes)) == len(classes) else f"classes must be distinct, got {classes!r}",
    ], "restrict_classes")
    lookup = torch.full((ds.num_classes,), -1, dtype=torch.long)
    lookup[torch.tensor(classes)] = torch.arange(len(classes))

    def keep(split: Split) -> Split:
        new = lookup.to(split.y.device)[split.y]
        mask = new >= 0
        return Split(split.x[mask], new[mask])

    return Dataset(ds.name, keep(ds.train), keep(ds.val), keep(ds.test), len(classes),
                   tuple(ds.class_names[c] for c in classes), ds.source, {**ds.meta, "classes": classes})


# --------------------------------------------------------------------------- file helpers
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_idx_gz(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed, into a uint8 array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DatasetUnavailable(f"{path} is truncated: expected {shape}, got {data.size} bytes of data")
    return data.reshape(shape)


def _check_files(folder: Path, expected: dict[str, str]) -> None:
    for fname, digest in expected.items():
        path = folder / fname
        if not path.is_file():
            raise DatasetUnavailable(f"missing file {path}")
        got = sha256_file(path)
        if got != digest:
            raise DatasetUnavailable(
                f"{path} is damaged (sha256 {got[:12]}... instead of {digest[:12]}...); "
                "reinstall it (apt-get install --reinstall dataset-fashion-mnist) or delete it")


def _fashion_folder() -> Path | None:
    for folder in (DEBIAN_FASHION_MNIST, data_root() / "fashion-mnist"):
        if all((folder / f).is_file() for f in FASHION_MNIST_SHA256):
            return folder
    return None


_CHECKED: set[Path] = set()


@register("fashion-mnist", val_size=5000)
def _fashion_mnist():
    folder = _fashion_folder()
    if folder is None:
        return _torchvision_loader("FashionMNIST", "fashion-mnist")()
    if folder not in _CHECKED:
        _check_files(folder, FASHION_MNIST_SHA256)
        _CHECKED.add(folder)
    x_tr = read_idx_gz(folder / "train-images-idx3-ubyte.gz")
    y_tr = read_idx_gz(folder / "train-labels-idx1-ubyte.gz")
    x_te = read_idx_gz(folder / "t10k-images-idx3-ubyte.gz")
    y_te = read_idx_gz(folder / "t10k-labels-idx1-ubyte.gz")
    return x_tr, y_tr, x_te, y_te, FASHION_MNIST_CLASSES, f"Fashion-MNIST files in {folder}"


@register("digits", val_size=180)
def _digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    images = (d.images * (255.0 / 16.0)).round().astype(np.uint8)
    # scikit-learn ships no test split: hold out a fixed 20% (seed 0) as the test split.
    perm = np.random.default_rng(0).permutation(len(d.target))
    n_test = len(perm) // 5
    te, tr = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    names = tuple(str(i) for i in range(10))
    return images[tr], d.target[tr], images[te], d.target[te], names, "scikit-learn load_digits (8x8)"


def download_allowed() -> bool:
    """Whether torchvision may try to download (``KDBOOK_DOWNLOAD=0`` forbids it)."""
    return os.environ.get("KDBOOK_DOWNLOAD", "1") != "0"


def _torchvision_loader(cls_name: str, name: str) -> Loader:
    def load():
        import torchvision

        root = data_root()
        cls = getattr(torchvision.datasets, cls_name)
        try:
            try:
                train, test = cls(str(root), train=True, download=False), cls(str(root), train=False, download=False)
            except RuntimeError:
                if not download_allowed():
                    raise
                train, test = cls(str(root), train=True, download=True), cls(str(root), train=False, download=True)
        except Exception as exc:  # torchvision raises RuntimeError, URLError, OSError...
            raise DatasetUnavailable(
                f"dataset '{name}' is not available under {root} and could not be downloaded "
                f"({type(exc).__name__}). Put torchvision's {cls_name} files in {root} "
                f"(or set KDBOOK_DATA to the folder that holds them) on a machine with internet, "
                f"e.g. python -c \"import torchvision; torchvision.datasets.{cls_name}('{root}', download=True)\""
            ) from None
        x_tr, x_te = np.asarray(train.data), np.asarray(test.data)
        y_tr, y_te = np.asarray(train.targets), np.asarray(test.targets)
        return x_tr, y_tr, x_te, y_te, tuple(train.classes), f"torchvision {cls_name} in {root}"

    return load


# 5,000 of 50,000-60,000 images; a partial copy of the files keeps 90% of its images for training.
register("mnist", val_size=5000, at_most_share=0.1)(_torchvision_loader("MNIST", "mnist"))
register("cifar10", val_size=5000, at_most_share=0.1)(_torchvision_loader("CIFAR10", "cifar10"))
register("cifar100", val_size=5000, at_most_share=0.1)(_torchvision_loader("CIFAR100", "cifar100"))


# --------------------------------------------------------------------------- iteration
def batches(n: int, batch_size: int, *, shuffle: bool = True, generator: torch.Generator | None = None,
            device: str | torch.device = "cpu") -> Iterator[torch.Tensor]:
    """Yield index tensors covering range(n) in batches (a fresh permutation when ``shuffle``)."""
    order = torch.randperm(n, generator=generator).to(device) if shuffle else torch.arange(n, device=device)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]
