"""Train several networks of one architecture together, in one vectorised step.

The members' parameters are stacked and one forward pass evaluates all of them: MLPs as
grouped matmuls (``torch.baddbmm`` over an (M, in, out) weight), any other architecture with
``torch.func`` (``stack_module_state`` + ``vmap``). Each member keeps its own seed: its own
initial weights, batch order and augmentation draws, exactly as if trained alone with
:func:`kdbook.train.train`; the optimizers (SGD, Adam) update elementwise, so one optimizer
over the stacked tensors equals one optimizer per member. Dropout inside members is not
supported here (its random draws could not match one-by-one training).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from tqdm.auto import tqdm

from .data import Split
from .errors import ConfigError
from .models import MLP, ModelConfig, build_model
from .train import (AUGMENTATIONS, History, Objective, TrainConfig, label_objective, make_optimizer,
                    optimizer_step, progress_enabled, require_teacher_for_augment)


class StackedLinear(nn.Module):
    """M independent linear layers applied to M batches at once: (M, B, in) -> (M, B, out)."""

    def __init__(self, layers: Sequence[nn.Linear]):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([l.weight.detach().transpose(0, 1) for l in layers]).contiguous())
        self.bias = nn.Parameter(torch.stack([l.bias.detach() for l in layers])[:, None, :].contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)

    def copy_into(self, layers: Sequence[nn.Linear]) -> None:
        with torch.no_grad():
            for m, layer in enumerate(layers):
                layer.weight.copy_(self.weight[m].transpose(0, 1))
                layer.bias.copy_(self.bias[m, 0])


class StackedMLP(nn.Module):
    """M copies of one :class:`kdbook.models.MLP` architecture as grouped (batched) matmuls."""

    def __init__(self, members: Sequence[MLP]):
        super().__init__()
        self.members = list(members)
        linears = [[m for m in member.features if isinstance(m, nn.Linear)] + [member.head] for member in members]
        self.layers = nn.ModuleList(StackedLinear(group) for group in zip(*linears))
        self._linears = linears

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(2)
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < len(self.layers) - 1:
                h = torch.relu(h)
        return h

    def forward_shared(self, x: torch.Tensor) -> torch.Tensor:
        """All members on one shared batch (B, ...) -> (M, B, C). The first layer, where most of
        the work is, runs as one wide matmul (B, in) x (in, M * H) instead of M small ones."""
        first = self.layers[0]
        M, d_in, H = first.weight.shape
        wide = first.weight.transpose(0, 1).reshape(d_in, M * H)
        h = (x.flatten(1) @ wide).view(-1, M, H).transpose(0, 1) + first.bias  # (M, B, H)
        for layer in self.layers[1:]:
            h = layer(torch.relu(h))
        return h

    def copy_into_members(self) -> None:
        for i, layer in enumerate(self.layers):
            layer.copy_into([lin[i] for lin in self._linears])


class VmapMembers(nn.Module):
    """Any M modules of one architecture evaluated with torch.func (stacked state + vmap)."""

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        self.members = list(members)
        params, buffers = stack_module_state(self.members)
        self.params = nn.ParameterDict({k.replace(".", "__"): nn.Parameter(v.detach()) for k, v in params.items()})
        self._buffers_stacked = buffers
        base = copy.deepcopy(self.members[0]).to("meta")
        self._forward = vmap(lambda p, b, x: functional_call(base, (p, b), (x,)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        params = {k.replace("__", "."): v for k, v in self.params.items()}
        return self._forward(params, self._buffers_stacked, x)

    def copy_into_members(self) -> None:
        with torch.no_grad():
            for m, member in enumerate(self.members):
                for k, p in member.named_parameters():
                    p.copy_(self.params[k.replace(".", "__")][m])


def stack_members(members: Sequence[nn.Module]) -> nn.Module:
    """A module mapping (M, B, ...) inputs to (M, B, C) logits: grouped matmuls for MLPs, vmap otherwise."""
    fast = all(type(m) is MLP for m in members) and not any(isinstance(l, nn.Dropout)
                                                            for m in members for l in m.modules())
    return StackedMLP(members) if fast else VmapMembers(members)


def _with_seed(cfg: TrainConfig, seed: int) -> TrainConfig:
    return TrainConfig(**{**cfg.__dict__, "seed": seed})


def train_members(model_cfg: ModelConfig, data: Split, cfg: TrainConfig, seeds: Sequence[int],
                  input_shape: Sequence[int], num_classes: int, objective: Objective = label_objective, *,
                  teacher_logits: torch.Tensor | None = None, name: str = "ensemble",
                  progress: bool | None = None, shared_order: bool = False) -> tuple[list[nn.Module], History]:
    """Train one member per seed (initial weights from ``seed``, data order from ``cfg`` with that seed).

    With ``shared_order`` every member sees the same batches, in the order (and with the
    augmentation draws) of ``cfg.seed``: members then differ only in their initial weights, and
    equal members trained one by one with ``cfg`` unchanged. The data are then gathered once per
    step and, for MLPs, the members' first layers run as one wide matmul.

    Returns the trained members as ordinary modules, and one history whose losses are
    averaged over members. ``objective`` must average per-example terms over the batch (every
    objective in kdbook does). ``teacher_logits`` (N, C) are fixed targets on ``data`` (a cached
    teacher), for distilling every member from the same teacher.
    """
    if not seeds:
        raise ConfigError("seeds must not be empty")
    if model_cfg.dropout > 0 or model_cfg.input_dropout > 0:
        raise ConfigError("vectorised training does not support dropout; train such members one by one")
    require_teacher_for_augment(cfg, False, name)  # a cached teacher cannot label new mixed inputs
    device = data.x.device
    members = [build_model(model_cfg, input_shape, num_classes, seed=s).to(device) for s in seeds]
    stacked = stack_members(members)
    M = len(seeds)
    opt, sched = make_optimizer(list(stacked.parameters()), cfg, math.ceil(len(data) / cfg.batch_size))
    gens = ([torch.Generator().manual_seed(cfg.seed)] if shared_order else
            [torch.Generator().manual_seed(_with_seed(cfg, s).seed) for s in seeds])
    wide = shared_order and isinstance(stacked, StackedMLP)
    augment = AUGMENTATIONS[cfg.augment]
    history = History()
    show = progress_enabled() if progress is None else progress
    start = time.perf_counter()
    n = len(data)
    for epoch in tqdm(range(cfg.epochs), desc=name, disable=not show, leave=False):
        orders = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(device)  # (M or 1, n)
        sums: dict[str, torch.Tensor] = {}
        for step, begin in enumerate(range(0, n, cfg.batch_size)):
            idx = orders[:, begin:begin + cfg.batch_size]  # (M or 1, B)
            flat = idx.reshape(-1)
            x = data.x.index_select(0, flat).view(*idx.shape, *data.x.shape[1:])  # (M or 1, B, ...)
            if cfg.augment != "none":
                x = torch.stack([augment(x[m], cfg.augment_px, gens[m]) for m in range(len(gens))])
            if shared_order:
                idx = idx.expand(M, -1)
                flat = idx.reshape(-1)
                logits = stacked.forward_shared(x[0]) if wide else stacked(x.expand(M, *x.shape[1:]))
            else:
                logits = stacked(x)  # (M, B, C)
            y = data.y.index_select(0, flat).view(idx.shape)
            # Objectives average per-example terms over the batch, so the objective of all M x B
            # examples at once, times M, is the sum of the members' own losses: each member gets
            # exactly the gradient of its own loss.
            t = None if teacher_logits is None else teacher_logits.index_select(0, flat)
            losses = objective(logits.flatten(0, 1), y.flatten(), t)
            optimizer_step(M * sum(losses.values()), opt, sched, name, epoch, step)
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + v.detach() * idx.shape[1]
        record = {k: float(s) / n for k, s in sums.items()}
        record["loss"] = sum(record.values())
        record["epoch"] = epoch + 1
        history.epochs.append(record)
    history.seconds = time.perf_counter() - start
    stacked.copy_into_members()
    for member in members:
        member.eval()
    return members, history
