"""Data-parallel training with ``torch.distributed`` (DDP), on CPUs (gloo) or GPUs (nccl).

Every rank builds the same model from the same seed and draws the same batch order and
augmentations; each takes its share of every global batch. The loss on a share is scaled so
that DDP's average of the ranks' gradients equals the gradient of the global batch's mean
loss: the run matches single-process :func:`kdbook.train.train` with the same settings, up to
floating-point summation order.

Launch on one machine with N processes (N GPUs, or N CPU processes)::

    torchrun --nproc_per_node=N -m kdbook.distributed --dataset fashion-mnist --widths 1200 1200 --epochs 5

On a cluster, start the same command on every node with ``--nnodes``, ``--node_rank`` and a
rendezvous address (see ``torchrun --help``).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Sequence

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .data import Split
from .train import (AUGMENTATIONS, History, Objective, TrainConfig, label_objective, make_optimizer, optimizer_step,
                    require_teacher_for_augment)


def train_data_parallel(model: nn.Module, data: Split, cfg: TrainConfig, objective: Objective = label_objective,
                        *, teacher: nn.Module | None = None, name: str = "ddp") -> History:
    """Train ``model`` in place across the ranks of the initialised default process group.

    ``data`` must be the same full split on every rank; the model must start from identical
    weights on every rank (build it with the same seed). Dropout draws differ per rank.
    """
    require_teacher_for_augment(cfg, teacher is not None, "ddp")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = data.x.device
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    ddp = DistributedDataParallel(model.to(device), device_ids=[device.index] if device.type == "cuda" else None)
    n = len(data)
    steps = math.ceil(n / cfg.batch_size)
    opt, sched = make_optimizer(ddp.parameters(), cfg, steps)
    augment = AUGMENTATIONS[cfg.augment]
    if teacher is not None:
        teacher.eval()
    history = History()
    start = time.perf_counter()
    for epoch in range(cfg.epochs):
        ddp.train()
        order = torch.randperm(n, generator=gen).to(device)
        total_loss = torch.zeros((), device=device)
        for step in range(steps):
            idx = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            x = augment(data.x[idx], cfg.augment_px, gen)  # every rank draws the same augmentations
            share = torch.tensor_split(torch.arange(len(idx), device=device), world)[rank]
            xs, ys = x[share], data.y[idx][share]
            t_logits = None
            if teacher is not None:
                with torch.no_grad():
                    t_logits = teacher(xs)
            losses = objective(ddp(xs), ys, t_logits)
            # mean over the share -> contribution to the global mean, times world (DDP averages)
            loss = sum(losses.values()) * (len(share) * world / len(idx))
            optimizer_step(loss, opt, sched, f"{name} rank {rank}", epoch, step)
            total_loss += loss.detach() * len(idx) / world
        dist.all_reduce(total_loss)
        history.epochs.append({"epoch": epoch + 1, "loss": float(total_loss) / n})
    history.seconds = time.perf_counter() - start
    model.eval()
    return history


def _main(argv: Sequence[str] | None = None) -> int:
    from .data import load_dataset
    from .models import ModelConfig, build_model
    from .train import evaluate

    p = argparse.ArgumentParser(prog="torchrun --nproc_per_node=N -m kdbook.distributed",
                                description="Data-parallel label training of one model (DDP).")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--model", default="mlp")
    p.add_argument("--widths", type=int, nargs="*", default=[64])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128, help="global batch size (split across ranks)")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-limit", type=int, default=None)
    p.add_argument("--out", default=None, help="rank 0 saves the trained state_dict here")
    args = p.parse_args(argv)
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank()
    device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if cuda else "cpu"
    try:
        ds = load_dataset(args.dataset, device=device, train_limit=args.train_limit)
        model = build_model(ModelConfig(args.model, tuple(args.widths)), ds.input_shape, ds.num_classes, seed=args.seed)
        cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
        hist = train_data_parallel(model, ds.train, cfg)
        if rank == 0:
            print(f"{dist.get_world_size()} ranks, {hist.seconds:.1f} s, test {evaluate(model, ds.test)}")
            if args.out:
                torch.save(model.state_dict(), args.out)
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(_main())
