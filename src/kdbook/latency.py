"""Inference latency: median wall time of a forward pass at a given batch size."""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn


def measure_latency_ms(model: nn.Module, example: torch.Tensor, batch_size: int, *, repeats: int = 30,
                       warmup: int = 5) -> float:
    """Median milliseconds of ``model(batch)`` over ``repeats`` runs (after ``warmup``), in inference mode.

    The batch repeats ``example`` (one input, without batch dimension) ``batch_size`` times.
    """
    model.eval()
    batch = example.unsqueeze(0).expand(batch_size, *example.shape).contiguous()
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            if batch.is_cuda:
                torch.cuda.synchronize(batch.device)
            start = time.perf_counter()
            model(batch)
            if batch.is_cuda:
                torch.cuda.synchronize(batch.device)
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)
