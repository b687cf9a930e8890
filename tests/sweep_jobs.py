"""A small job for the tests of :mod:`kdbook.sweep` (importable by spawned worker processes)."""

from __future__ import annotations


def train_digits_member(seed: int, width: int, epochs: int, device: str = "cpu") -> dict:
    """Train one MLP on digits with ``seed``; return its test accuracy, a weight checksum and the process id."""
    import os

    from kdbook.data import load_dataset
    from kdbook.models import ModelConfig, build_model
    from kdbook.train import TrainConfig, evaluate, train

    ds = load_dataset("digits", device=device)
    model = build_model(ModelConfig("mlp", (width,)), ds.input_shape, ds.num_classes, seed=seed)
    train(model, ds.train, TrainConfig(epochs=epochs, batch_size=32, lr=0.1, seed=seed), progress=False)
    return {"seed": seed, "accuracy": evaluate(model, ds.test)["accuracy"],
            "checksum": float(sum(p.detach().double().sum() for p in model.parameters())), "pid": os.getpid()}
