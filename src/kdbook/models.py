"""Model builders: an MLP of given widths and a small CNN, chosen by a validated ModelConfig."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from . import validate
from .errors import ConfigError


class MLP(nn.Module):
    """Flatten, then ReLU hidden layers of the given widths, each optionally followed by dropout."""

    def __init__(self, in_features: int, hidden: Sequence[int], num_classes: int,
                 dropout: float = 0.0, input_dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        if input_dropout > 0:
            layers.append(nn.Dropout(input_dropout))
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class SmallCNN(nn.Module):
    """Two or more conv-ReLU-maxpool blocks, global average pooling and a linear head."""

    def __init__(self, in_channels: int, num_classes: int, channels: Sequence[int] = (32, 64),
                 dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for out in channels:
            layers += [nn.Conv2d(c, out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True)]
            c = out
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class ConvNet(nn.Module):
    """Conv3x3-BatchNorm-ReLU-maxpool blocks, then flattened features through ReLU hidden layers
    (each followed by dropout) and a linear head: the classic small image classifier that fits its
    training data, used as a teacher for MLP students (Ba & Caruana 2014; Urban et al. 2017)."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, channels: Sequence[int] = (32, 64),
                 hidden: Sequence[int] = (128,), dropout: float = 0.0):
        super().__init__()
        c, h, w = input_shape
        layers: list[nn.Module] = []
        for out in channels:
            layers += [nn.Conv2d(c, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)]
            c, h, w = out, h // 2, w // 2
        layers.append(nn.Flatten())
        width = c * h * w
        for units in hidden:
            layers += [nn.Linear(width, units), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = units
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class RandomFeatures(nn.Module):
    """A random-feature model: a frozen random ReLU layer (never trained) and a trained linear head."""

    def __init__(self, in_features: int, width: int, num_classes: int):
        super().__init__()
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(in_features, width), nn.ReLU())
        self.features.requires_grad_(False)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class PreActBlock(nn.Module):
    """Pre-activation residual block: BN-ReLU-conv3x3-BN-ReLU-conv3x3, plus a (1x1 conv) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(c_in), nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(c_out), nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.shortcut = (nn.Conv2d(c_in, c_out, 1, stride, bias=False) if stride != 1 or c_in != c_out
                         else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(x))
        out = self.conv2(torch.relu(self.bn2(self.conv1(h))))
        return out + (self.shortcut(h) if not isinstance(self.shortcut, nn.Identity) else x)


class PreActResNet(nn.Module):
    """The CIFAR pre-activation ResNet of He et al. (2016): depth 6n+2, three stages of n blocks
    with ``channels`` (16, 32, 64 for ResNet-56), global average pooling and a linear head."""

    def __init__(self, in_channels: int, num_classes: int, channels: Sequence[int] = (16, 32, 64), depth: int = 56):
        super().__init__()
        n = (depth - 2) // 6
        layers: list[nn.Module] = [nn.Conv2d(in_channels, channels[0], 3, 1, 1, bias=False)]
        c = channels[0]
        for i, out in enumerate(channels):
            for j in range(n):
                layers.append(PreActBlock(c, out, 2 if (i > 0 and j == 0) else 1))
                c = out
        layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class AverageOf(nn.Module):
    """One model whose output is the average of its sub-networks' logits, trained as a whole."""

    def __init__(self, nets: Sequence[nn.Module]):
        super().__init__()
        self.nets = nn.ModuleList(nets)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([net(x) for net in self.nets]).mean(dim=0)


@dataclass(frozen=True)
class ModelConfig:
    """What network to build: ``kind`` is 'mlp', 'cnn', 'rf' (random features: one frozen random
    layer of ``widths[0]`` units and a trained head), 'convnet' (conv-BatchNorm blocks of ``widths``
    channels, then hidden layers of ``hidden`` units) or 'resnet' (pre-activation ResNet of
    ``depth`` = 6n+2 layers, ``widths`` its stages' channels); ``widths`` are hidden sizes or conv
    channels."""

    kind: str = "mlp"
    widths: tuple[int, ...] = (800, 800)
    dropout: float = 0.0
    input_dropout: float = 0.0
    #: layers of a 'resnet' (56 for the ResNet-56 of the CIFAR papers); ignored by other kinds
    depth: int = 56
    #: hidden layers after a 'convnet''s convolutions; ignored by other kinds
    hidden: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(self.widths))
        object.__setattr__(self, "hidden", tuple(self.hidden))
        validate.raise_if([
            validate.choice("model kind", self.kind, sorted(BUILDERS)),
            validate.widths("widths", self.widths),
            None if self.widths or self.kind == "mlp" else f"widths must not be empty for a {self.kind}",
            None if self.kind != "rf" or len(self.widths) == 1 else "a random-feature model ('rf') has one width",
            None if not self.hidden else validate.widths("hidden", self.hidden),
            None if not self.hidden or self.kind == "convnet" else f"hidden layers are for a 'convnet', not a {self.kind}",
            validate.probability_open("dropout", self.dropout),
            validate.probability_open("input_dropout", self.input_dropout),
            None if self.kind != "resnet" or (isinstance(self.depth, int) and self.depth >= 8 and (self.depth - 2) % 6 == 0)
            else f"a resnet's depth must be 6n+2 with n >= 1 (20, 32, 56, ...), got {self.depth!r}",
        ], "model")


def _build_mlp(cfg: ModelConfig, input_shape: Sequence[int], num_classes: int) -> nn.Module:
    return MLP(math.prod(input_shape), cfg.widths, num_classes, cfg.dropout, cfg.input_dropout)


def _build_cnn(cfg: ModelConfig, input_shape: Sequence[int], num_classes: int) -> nn.Module:
    return SmallCNN(input_shape[0], num_classes, cfg.widths, cfg.dropout)


def _build_convnet(cfg: ModelConfig, input_shape: Sequence[int], num_classes: int) -> nn.Module:
    if len(input_shape) != 3:
        raise ConfigError(f"a 'convnet' needs images (channels, height, width), got inputs of shape {tuple(input_shape)}")
    return ConvNet(input_shape, num_classes, cfg.widths, cfg.hidden, cfg.dropout)


def _build_rf(cfg: ModelConfig, input_shape: Sequence[int], num_classes: int) -> nn.Module:
    return RandomFeatures(math.prod(input_shape), cfg.widths[0], num_classes)


def _build_resnet(cfg: ModelConfig, input_shape: Sequence[int], num_classes: int) -> nn.Module:
    return PreActResNet(input_shape[0], num_classes, cfg.widths, cfg.depth)


BUILDERS: dict[str, Callable[[ModelConfig, Sequence[int], int], nn.Module]] = {
    "mlp": _build_mlp,
    "cnn": _build_cnn,
    "convnet": _build_convnet,
    "rf": _build_rf,
    "resnet": _build_resnet,
}


def build_model(cfg: ModelConfig, input_shape: Sequence[int], num_classes: int, seed: int | None = None) -> nn.Module:
    """Instantiate ``cfg`` for inputs of ``input_shape``; ``seed`` fixes the initial weights."""
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return BUILDERS[cfg.kind](cfg, input_shape, num_classes)
    return BUILDERS[cfg.kind](cfg, input_shape, num_classes)


def build_average(cfg: ModelConfig, input_shape: Sequence[int], num_classes: int, seeds: Sequence[int]) -> AverageOf:
    """An :class:`AverageOf` sub-networks of ``cfg``, one per seed (their initial weights)."""
    return AverageOf([build_model(cfg, input_shape, num_classes, seed=s) for s in seeds])


@torch.no_grad()
def interpolate_weights(start: nn.Module, target: nn.Module, lam: float) -> nn.Module:
    """``start`` with every parameter and float buffer set to ``lam * target + (1 - lam) * start``
    (same architecture): lam = 0 leaves ``start``, lam = 1 copies ``target``."""
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must lie in [0, 1], got {lam}")
    tgt = target.state_dict()
    for name, value in start.state_dict().items():
        if value.is_floating_point():
            value.mul_(1 - lam).add_(tgt[name].to(value.device, value.dtype), alpha=lam)
    return start


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (frozen ones included)."""
    return sum(p.numel() for p in model.parameters())
