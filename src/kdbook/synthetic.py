"""Structure-free synthetic tasks generated from a seed (no files needed)."""

from __future__ import annotations

import torch

from . import validate
from .data import Dataset, Split


def gaussian_teacher_task(*, dim: int = 50, num_classes: int = 10, width: int = 100, n_train: int = 5000,
                          n_val: int = 1000, n_test: int = 10000, seed: int = 0) -> Dataset:
    """Standard Gaussian inputs in R^dim labelled by the argmax of a fixed random two-layer ReLU
    network (its logits centred per class on the training inputs so that classes are roughly
    balanced). The inputs have no features, let alone several views of one."""
    validate.raise_if([validate.positive_int("dim", dim), validate.positive_int("width", width), validate.positive_int("n_train", n_train),
                validate.positive_int("n_val", n_val), validate.positive_int("n_test", n_test),
                None if isinstance(num_classes, int) and num_classes >= 2 else "num_classes must be an integer >= 2"],
               "gaussian task")
    g = torch.Generator().manual_seed(seed)
    w1 = torch.randn(dim, width, generator=g) / dim ** 0.5
    w2 = torch.randn(width, num_classes, generator=g) / width ** 0.5
    x = torch.randn(n_train + n_val + n_test, dim, generator=g)
    logits = torch.relu(x @ w1) @ w2
    logits = logits - logits[:n_train].median(dim=0).values
    y = logits.argmax(dim=1)
    cut = (n_train, n_train + n_val)
    return Dataset(
        name="gaussian-teacher", train=Split(x[:cut[0]], y[:cut[0]]), val=Split(x[cut[0]:cut[1]], y[cut[0]:cut[1]]),
        test=Split(x[cut[1]:], y[cut[1]:]), num_classes=num_classes,
        class_names=tuple(str(c) for c in range(num_classes)),
        source=f"synthetic: N(0, I_{dim}) inputs, labels from a random 2-layer ReLU net of width {width}, seed {seed}",
        meta={"dim": dim, "width": width, "seed": seed})
