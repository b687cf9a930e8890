"""Spread independent runs (seeds, temperatures, ensemble members) over processes and devices.

``run_parallel(fn, jobs, devices=["cuda:0", "cuda:1"])`` calls ``fn(**job, device=...)`` for
every job, in worker processes, one worker per device (or ``workers`` CPU processes), and
returns the results in job order. ``fn`` must be importable (a module-level function) and
each job a dict of picklable arguments. On one CPU machine, two workers rarely beat one
(PyTorch already uses every core); the point is several GPUs, or several machines' worth of
independent runs submitted from one place.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from typing import Any

from . import validate


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def available_devices() -> list[str]:
    """Every visible GPU ('cuda:0', ...), else ['cpu']."""
    import torch

    return [f"cuda:{i}" for i in range(torch.cuda.device_count())] or ["cpu"]


def run_parallel(fn: Callable[..., Any], jobs: Sequence[dict], *, devices: Sequence[str] | None = None,
                 workers: int | None = None) -> list[Any]:
    """Run ``fn(**job, device=d)`` for each job over worker processes; results in job order.

    Job i runs on ``devices[i % len(devices)]``; ``workers`` defaults to the number of devices.
    """
    devices = list(devices or available_devices())
    workers = workers or len(devices)
    validate.raise_if([validate.positive_int("workers", workers), validate.non_empty("devices", devices)], "run_parallel")
    if workers == 1:
        return [fn(**job, device=devices[i % len(devices)]) for i, job in enumerate(jobs)]
    threads = max(1, (os.cpu_count() or 1) // workers)
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                initializer=_init_worker, initargs=(threads,)) as pool:
        futures = [pool.submit(fn, **job, device=devices[i % len(devices)]) for i, job in enumerate(jobs)]
        return [f.result() for f in futures]
