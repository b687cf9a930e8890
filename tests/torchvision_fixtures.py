"""Tiny datasets written in torchvision's own on-disk formats (MNIST idx files, CIFAR-10/100 pickle
batches), generated at test time so the `paper` profile's loaders and code paths can run without
the real files. Random pixels and labels: they stand in for nothing outside the tests."""

from __future__ import annotations

import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np

#: Small copies: the loaders keep a tenth of the training images for validation (CIFAR-100: ten
#: about three training images per class, so that every class the chapters pick has examples).
N_TRAIN, N_TEST = {"mnist": 200, "cifar10": 200, "cifar100": 330}, 64


def _idx(path: Path, array: np.ndarray) -> None:
    """An idx file (the MNIST format): magic (0, 0, dtype 0x08, ndim), big-endian sizes, then the bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist(root: Path, seed: int = 0) -> None:
    """``root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` as torchvision's MNIST reads them."""
    g = np.random.default_rng(seed)
    raw = Path(root) / "MNIST" / "raw"
    for prefix, n in (("train", N_TRAIN["mnist"]), ("t10k", N_TEST)):
        _idx(raw / f"{prefix}-images-idx3-ubyte", g.integers(0, 256, (n, 28, 28)))
        _idx(raw / f"{prefix}-labels-idx1-ubyte", g.integers(0, 10, n))


def _pickle(path: Path, obj: dict) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj))
    return hashlib.md5(path.read_bytes()).hexdigest()


def write_cifar(root: Path, classes: int, seed: int = 0) -> dict:
    """CIFAR-10 (five data batches, test batch, batches.meta) or CIFAR-100 (train, test, meta) pickles
    under ``root``; returns the md5 table torchvision checks them against, to install in its classes."""
    g = np.random.default_rng(seed)
    folder, label_key = ("cifar-10-batches-py", "labels") if classes == 10 else ("cifar-100-python", "fine_labels")
    base = Path(root) / folder

    def batch(n: int) -> dict:
        return {"data": g.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8), label_key: g.integers(0, classes, n).tolist()}

    if classes == 10:
        train = [[f"data_batch_{i}", _pickle(base / f"data_batch_{i}", batch(N_TRAIN["cifar10"] // 5))]
                 for i in range(1, 6)]
        test = [["test_batch", _pickle(base / "test_batch", batch(N_TEST))]]
        meta = {"filename": "batches.meta", "key": "label_names",
                "md5": _pickle(base / "batches.meta", {"label_names": [f"class {i}" for i in range(10)]})}
    else:
        train = [["train", _pickle(base / "train", batch(N_TRAIN["cifar100"]))]]
        test = [["test", _pickle(base / "test", batch(N_TEST))]]
        meta = {"filename": "meta", "key": "fine_label_names",
                "md5": _pickle(base / "meta", {"fine_label_names": [f"class {i}" for i in range(100)]})}
    return {"train_list": train, "test_list": test, "meta": meta}
