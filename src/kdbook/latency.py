"""Inference latency: wall time of a forward pass at a given batch size, measured so that a
speed-up between two models comes with a confidence interval.

* :func:`measure_latency_ms`: the median of repeated forward passes of one model;
* :func:`interleaved_latency_ms`: several models measured in rounds, each model once per round in
  a rotating order, so that whatever else the machine does at a moment slows every model alike;
* :func:`speedup_interval` and :func:`median_interval`: a point estimate from those rounds with a
  percentile bootstrap interval over rounds (seeded, so the same measurements always give the
  same interval);
* :func:`forward_macs`: the multiply-accumulates of one forward pass on one input, the arithmetic
  a large batch is dominated by.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn


def _batch(example: torch.Tensor, batch_size: int) -> torch.Tensor:
    return example.unsqueeze(0).expand(batch_size, *example.shape).contiguous()


def _timed_ms(model: nn.Module, batch: torch.Tensor) -> float:
    if batch.is_cuda:
        torch.cuda.synchronize(batch.device)
    start = time.perf_counter()
    model(batch)
    if batch.is_cuda:
        torch.cuda.synchronize(batch.device)
    return (time.perf_counter() - start) * 1e3


def measure_latency_ms(model: nn.Module, example: torch.Tensor, batch_size: int, *, repeats: int = 30,
                       warmup: int = 5) -> float:
    """Median milliseconds of ``model(batch)`` over ``repeats`` runs (after ``warmup``), in inference mode.

    The batch repeats ``example`` (one input, without batch dimension) ``batch_size`` times.
    """
    model.eval()
    batch = _batch(example, batch_size)
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            ms = _timed_ms(model, batch)
            if i >= warmup:
                times.append(ms)
    return statistics.median(times)


def interleaved_latency_ms(models: Mapping[str, nn.Module], example: torch.Tensor, batch_size: int, *,
                           rounds: int = 30, warmup: int = 3) -> dict[str, list[float]]:
    """Milliseconds of one forward pass of every model of ``models`` on a batch of ``batch_size``
    copies of ``example``, per round: each round runs every model once, starting from a different
    model each round, so that the machine's state at a moment affects all of them alike and the
    ratio of two models' times in one round is a fair comparison. ``warmup`` untimed rounds come
    first. Models run in eval and inference mode."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    names = list(models)
    for model in models.values():
        model.eval()
    batch = _batch(example, batch_size)
    times: dict[str, list[float]] = {name: [] for name in names}
    with torch.inference_mode():
        for r in range(warmup + rounds):
            for k in range(len(names)):
                name = names[(r + k) % len(names)]
                ms = _timed_ms(models[name], batch)
                if r >= warmup:
                    times[name].append(ms)
    return times


def _bootstrap(values: np.ndarray, level: float, resamples: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    medians = np.median(values[rng.integers(0, len(values), size=(resamples, len(values)))], axis=1)
    tail = 100 * (1 - level) / 2
    return float(np.percentile(medians, tail)), float(np.percentile(medians, 100 - tail))


def median_interval(times: Sequence[float], *, level: float = 0.95, resamples: int = 2000,
                    seed: int = 0) -> dict[str, float]:
    """The median of ``times`` with a percentile bootstrap interval at ``level``:
    ``{"median", "low", "high", "level", "rounds"}``."""
    values = np.asarray(times, dtype=float)
    if len(values) == 0:
        raise ValueError("median_interval needs at least one time")
    low, high = _bootstrap(values, level, resamples, seed)
    return {"median": float(np.median(values)), "low": low, "high": high, "level": level, "rounds": len(values)}


def speedup_interval(slow: Sequence[float], fast: Sequence[float], *, level: float = 0.95,
                     resamples: int = 2000, seed: int = 0) -> dict[str, float]:
    """How many times faster ``fast`` is than ``slow``, from paired rounds (the same round of
    :func:`interleaved_latency_ms` for both): the median of the per-round ratios ``slow / fast``
    with a percentile bootstrap interval over rounds at ``level``:
    ``{"ratio", "low", "high", "level", "rounds"}``."""
    a, b = np.asarray(slow, dtype=float), np.asarray(fast, dtype=float)
    if len(a) != len(b) or len(a) == 0:
        raise ValueError(f"a speed-up needs paired rounds of the same number, got {len(a)} and {len(b)}")
    ratios = a / b
    low, high = _bootstrap(ratios, level, resamples, seed)
    return {"ratio": float(np.median(ratios)), "low": low, "high": high, "level": level, "rounds": len(ratios)}


def forward_macs(model: nn.Module, example: torch.Tensor) -> int:
    """Multiply-accumulates of one forward pass of ``model`` on one input ``example`` (without
    batch dimension), counted over its Linear and Conv2d layers (normalisation, activations and
    pooling are left out: they are elementwise and small beside these)."""
    total = 0

    def count(module: nn.Module, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Linear):
            total += module.in_features * module.out_features
        elif isinstance(module, nn.Conv2d):
            per_output = (module.in_channels // module.groups) * module.kernel_size[0] * module.kernel_size[1]
            total += per_output * output[0].numel()

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            model(example.unsqueeze(0))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return int(total)
