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
import os
import sys
from collections.abc import Sequence

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .data import Split
from .train import History, Objective, Runner, TrainConfig, fit, label_objective


class DataParallel(Runner):
    """A :class:`kdbook.train.Runner` for one rank of a DDP run: every rank draws the same batch
    order and augmentations and trains on its share of each global batch; the loss on a share is
    scaled so that DDP's average of the ranks' gradients is the gradient of the global batch's mean."""

    def __init__(self, model: nn.Module, cfg: TrainConfig, name: str = "ddp"):
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        self.model, self.name = model, f"{name} rank {self.rank}"
        device = next(model.parameters()).device
        self.module = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        self.generators = [torch.Generator().manual_seed(cfg.seed)]
        self.writes_checkpoints = self.rank == 0

    def view(self, x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor):
        share = torch.tensor_split(torch.arange(idx.shape[1], device=idx.device), self.world)[self.rank]
        return x[:, share], y[:, share], idx[:, share]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x[0]).unsqueeze(0)

    def scale(self, replicas: int, batch: int, kept: int) -> float:
        return kept * self.world / batch  # mean over the share -> its part of the global mean, x world

    def reduce(self, sums: dict[str, torch.Tensor], seen: int) -> tuple[dict[str, torch.Tensor], int]:
        keys = sorted(sums)
        device = next(self.model.parameters()).device
        packed = torch.stack([torch.as_tensor(sums[k], device=device, dtype=torch.float32) for k in keys]
                             + [torch.tensor(float(seen), device=device)])
        dist.all_reduce(packed)
        return dict(zip(keys, packed[:-1])), int(packed[-1].item())

    def eval_model(self) -> nn.Module:
        return self.model


def train_data_parallel(model: nn.Module, data: Split, cfg: TrainConfig, objective: Objective = label_objective,
                        *, teacher: nn.Module | None = None, val: Split | None = None, name: str = "ddp",
                        checkpoint=None) -> History:
    """Train ``model`` in place across the ranks of the initialised default process group, in the
    one training loop (:func:`kdbook.train.fit`).

    ``data`` must be the same full split on every rank; the model must start from identical
    weights on every rank (build it with the same seed). Dropout draws differ per rank.
    """
    return fit(DataParallel(model.to(data.x.device), cfg, name), data, cfg, objective, teacher=teacher, val=val,
               progress=False, checkpoint=checkpoint)


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
