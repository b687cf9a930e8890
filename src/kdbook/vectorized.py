"""Train several networks of one architecture together, in one vectorised step.

The members' parameters are stacked and one forward pass evaluates all of them: MLPs as
grouped matmuls (``torch.baddbmm`` over an (M, in, out) weight), the book's BatchNorm CNN
(``kdbook.models.ConvNet``) as grouped convolutions (``groups=M`` over the members' stacked
channels; BatchNorm's per-channel statistics are then each member's own), any other architecture
with ``torch.func`` (``stack_module_state`` + ``vmap``, measured 2x slower than one by one for
convolutions on a CPU). Each member keeps its own seed: its own
initial weights, batch order and augmentation draws, exactly as if trained alone with
:func:`kdbook.train.train`; the optimizers (SGD, Adam) update elementwise, so one optimizer
over the stacked tensors equals one optimizer per member. Dropout inside members is not
supported here (its random draws could not match one-by-one training).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .data import Split
from .errors import ConfigError
from .models import MLP, ConvNet, ModelConfig, build_model
from .train import History, Objective, Runner, Teacher, TrainConfig, fit, label_objective


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


class StackedConvNet(nn.Module):
    """M copies of one ``kdbook.models.ConvNet`` architecture (without dropout) as one network
    of grouped convolutions: member m owns channels [m * c, (m + 1) * c) of every block, so its
    convolutions, BatchNorm statistics, ReLU and pooling see only its own channels, and its fully
    connected layers run as grouped matmuls. Maps (M, B, C, H, W) to (M, B, classes)."""

    def __init__(self, members: Sequence[ConvNet]):
        super().__init__()
        self.members = list(members)
        M = len(members)
        blocks = [[m for m in member.features if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))] for member in members]
        convs = [[b for b in member_blocks if isinstance(b, nn.Conv2d)] for member_blocks in blocks]
        norms = [[b for b in member_blocks if isinstance(b, nn.BatchNorm2d)] for member_blocks in blocks]
        self.convs, self.norms = nn.ModuleList(), nn.ModuleList()
        for group_convs, group_norms in zip(zip(*convs), zip(*norms)):
            first = group_convs[0]
            conv = nn.Conv2d(M * first.in_channels, M * first.out_channels, first.kernel_size, first.stride,
                             first.padding, bias=False, groups=M)
            norm = nn.BatchNorm2d(M * first.out_channels, eps=group_norms[0].eps, momentum=group_norms[0].momentum)
            with torch.no_grad():
                conv.weight.copy_(torch.cat([c.weight for c in group_convs]))
                for name in ("weight", "bias", "running_mean", "running_var"):
                    getattr(norm, name).copy_(torch.cat([getattr(n, name) for n in group_norms]))
            self.convs.append(conv)
            self.norms.append(norm)
        linears = [[m for m in member.features if isinstance(m, nn.Linear)] + [member.head] for member in members]
        self.linears = nn.ModuleList(StackedLinear(group) for group in zip(*linears))
        self._convs, self._norms, self._linears = convs, norms, linears

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        M, B = x.shape[:2]
        h = x.transpose(0, 1).reshape(B, M * x.shape[2], *x.shape[3:])  # (B, M * C, H, W)
        for conv, norm in zip(self.convs, self.norms):
            h = F.max_pool2d(torch.relu(norm(conv(h))), 2)
        h = h.reshape(B, M, -1).transpose(0, 1)  # (M, B, c * h * w): each member's own flattening
        for i, layer in enumerate(self.linears):
            h = layer(h)
            if i < len(self.linears) - 1:
                h = torch.relu(h)
        return h

    def copy_into_members(self) -> None:
        with torch.no_grad():
            for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
                for m, (member_conv, member_norm) in enumerate(zip((c[i] for c in self._convs),
                                                                   (n[i] for n in self._norms))):
                    size = member_conv.out_channels
                    member_conv.weight.copy_(conv.weight[m * size:(m + 1) * size])
                    for name in ("weight", "bias", "running_mean", "running_var"):
                        getattr(member_norm, name).copy_(getattr(norm, name)[m * size:(m + 1) * size])
                    member_norm.num_batches_tracked.copy_(norm.num_batches_tracked)
            for i, layer in enumerate(self.linears):
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


#: Architectures with a stacked form of their own (faster than vmap), by the members' class.
STACKED = {MLP: StackedMLP, ConvNet: StackedConvNet}


def stack_members(members: Sequence[nn.Module]) -> nn.Module:
    """A module mapping (M, B, ...) inputs to (M, B, C) logits: grouped matmuls for MLPs, grouped
    convolutions for the book's CNN, vmap otherwise (and for members with dropout)."""
    kinds = {type(m) for m in members}
    dropout = any(isinstance(l, nn.Dropout) for m in members for l in m.modules())
    stacked = STACKED.get(kinds.pop()) if len(kinds) == 1 and not dropout else None
    return stacked(members) if stacked is not None else VmapMembers(members)


class StackedMembers(Runner):
    """A :class:`kdbook.train.Runner` for M members trained together: each member's own batch order
    and augmentation stream (S = M), or, with ``shared_order``, one stream that every member sees
    (S = 1, R = M replicas; for MLPs the first layers then run as one wide matmul). The objective's
    mean over all M x B rows, times M, is the sum of the members' own losses, so each member gets
    exactly the gradient it would get alone."""

    def __init__(self, members: Sequence[nn.Module], cfg: TrainConfig, seeds: Sequence[int], *,
                 shared_order: bool = False, name: str = "ensemble"):
        self.members, self.name = list(members), name
        self.module = stack_members(self.members)
        self.shared = shared_order
        self.generators = ([torch.Generator().manual_seed(cfg.seed)] if shared_order else
                           [torch.Generator().manual_seed(s) for s in seeds])
        self._wide = shared_order and isinstance(self.module, StackedMLP)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.shared:
            return self.module(x)  # (M, B, C)
        if self._wide:
            return self.module.forward_shared(x[0])
        return self.module(x.expand(len(self.members), *x.shape[1:]))

    def finish(self) -> None:
        self.module.copy_into_members()
        for member in self.members:
            member.eval()


def train_members(model_cfg: ModelConfig, data: Split, cfg: TrainConfig, seeds: Sequence[int],
                  input_shape: Sequence[int], num_classes: int, objective: Objective = label_objective, *,
                  teacher: Teacher | None = None, teacher_logits: torch.Tensor | None = None,
                  name: str = "ensemble", progress: bool | None = None, shared_order: bool = False,
                  checkpoint: Path | str | None = None) -> tuple[list[nn.Module], History]:
    """Train one member per seed (initial weights from ``seed``, data order from ``cfg`` with that seed)
    in the one training loop (:func:`kdbook.train.fit`).

    With ``shared_order`` every member sees the same batches, in the order (and with the
    augmentation draws) of ``cfg.seed``: members then differ only in their initial weights, and
    equal members trained one by one with ``cfg`` unchanged.

    Returns the trained members as ordinary modules, and one history whose losses are averaged
    over members. ``teacher`` (labelling every member's augmented view) or ``teacher_logits``
    (N, C, fixed targets on ``data``) distil every member from the same teacher.
    """
    if not seeds:
        raise ConfigError("seeds must not be empty")
    if model_cfg.dropout > 0 or model_cfg.input_dropout > 0:
        raise ConfigError("vectorised training does not support dropout; train such members one by one")
    members = [build_model(model_cfg, input_shape, num_classes, seed=s).to(data.x.device) for s in seeds]
    runner = StackedMembers(members, cfg, seeds, shared_order=shared_order, name=name)
    history = fit(runner, data, cfg, objective, teacher=teacher, teacher_logits=teacher_logits,
                  progress=progress, checkpoint=checkpoint)
    return members, history
