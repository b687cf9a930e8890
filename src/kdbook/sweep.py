"""Spread independent runs (seeds, temperatures, ensemble members) over processes, devices or a cluster.

``run_parallel(fn, jobs, devices=["cuda:0", "cuda:1"])`` calls ``fn(**job, device=...)`` for
every job, in worker processes, one worker per device (or ``workers`` CPU processes), and
returns the results in job order. ``run_submitit(fn, jobs, folder=..., cluster="slurm")`` submits
the same calls as jobs of an existing cluster engine (Slurm through submitit; its local executor
on one machine) and returns their results in job order. ``fn`` must be importable (a
module-level function) and each job a dict of picklable arguments. On one CPU machine, two
workers rarely beat one (PyTorch already uses every core); the point is several GPUs, or
several machines' worth of independent runs submitted from one place.
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


#: The engines :func:`run_submitit` accepts: submitit's own names for them.
SUBMITIT_CLUSTERS = ("slurm", "local", "debug")


def run_submitit(fn: Callable[..., Any], jobs: Sequence[dict], *, folder: str | os.PathLike,
                 cluster: str = "slurm", device: str = "auto", timeout_min: int = 60,
                 parameters: dict[str, Any] | None = None) -> list[Any]:
    """Submit ``fn(**job, device=device)`` for each job to a cluster engine through submitit and
    return the results in job order (a failed job raises its error here).

    ``cluster``: 'slurm' (a Slurm cluster: one job per call, in one array), 'local' (submitit's
    local executor: one process per job on this machine, for testing a sweep before a cluster),
    'debug' (in this process). ``folder`` keeps each job's logs and pickled result;
    ``parameters`` go to the executor, e.g. ``{"slurm_partition": "gpu", "gpus_per_node": 1,
    "cpus_per_task": 8}``. ``device='auto'`` lets each job use a GPU where its node has one.
    """
    validate.raise_if([validate.choice("cluster", cluster, list(SUBMITIT_CLUSTERS)),
                       validate.positive_int("timeout_min", timeout_min)], "run_submitit")
    try:
        import submitit
    except ImportError:  # an optional extra
        validate.raise_if(["run_submitit needs submitit: pip install 'kdbook[cluster]'"])
    executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    executor.update_parameters(timeout_min=timeout_min, **(parameters or {}))
    with executor.batch():
        submitted = [executor.submit(_call, fn, job, device) for job in jobs]
    return [job.result() for job in submitted]


def _call(fn: Callable[..., Any], job: dict, device: str) -> Any:
    """One job on its node: resolve 'auto' there (a GPU if the node has one), then run it."""
    from .profiles import resolve_device

    return fn(**job, device=resolve_device(device))
