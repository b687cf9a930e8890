"""One trainer for label training and distillation, on CPU or GPU.

A training run is ``train(model, split, TrainConfig, objective, teacher=...)``. The objective
maps (student logits, labels, teacher logits) to a dict of named losses (as in mdistiller),
whose sum is minimised; the history records each named loss per epoch.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import augment as aug
from . import checkpoint as ckpt
from . import metrics
from . import validate as v
from .data import Split, batches
from .errors import ConfigError, TrainingDiverged
from .losses import SOFT_LOSSES
from .teachers import freeze

Teacher = Callable[[torch.Tensor], torch.Tensor]
AUGMENTATIONS: dict[str, Callable[[torch.Tensor, int, torch.Generator], torch.Tensor]] = {
    "none": lambda x, px, g: x,
    "jitter": aug.jitter,
    "crop_flip": aug.crop_flip,
    # strengths fixed in kdbook.augment (augment_px does not apply to these three)
    "rotate": lambda x, px, g: aug.rotate(x, aug.ROTATION_DEGREES, g),
    "noise": lambda x, px, g: aug.gaussian_noise(x, aug.NOISE_STD, g),
    "mixup": lambda x, px, g: aug.mixup_inputs(x, g),
}
#: Policies whose outputs have no label of their own: only a teacher can label them.
TEACHER_ONLY_AUGMENTATIONS = frozenset({"mixup"})


def require_teacher_for_augment(cfg: "TrainConfig", has_teacher: bool, name: str) -> None:
    """Refuse a policy of :data:`TEACHER_ONLY_AUGMENTATIONS` when no teacher labels its outputs."""
    if cfg.augment in TEACHER_ONLY_AUGMENTATIONS and not has_teacher:
        raise ConfigError(f"{name}: augment='{cfg.augment}' makes inputs without labels; it needs a teacher "
                          "to label them (and a pure distillation objective)")
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": lambda params, c: torch.optim.SGD(params, lr=c.lr, momentum=c.momentum,
                                            weight_decay=c.weight_decay, nesterov=c.momentum > 0),
    "adam": lambda params, c: torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay),
}
SCHEDULES = ("cosine", "constant")
#: Forward-pass precision: 'bf16' runs the model under autocast (losses stay in float32).
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16}


def autocast(device: torch.device, precision: str):
    """The autocast context of ``precision`` on ``device`` (a no-op for fp32)."""
    dtype = PRECISIONS[precision]
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of one run. ``augment`` names a policy of :data:`AUGMENTATIONS`;
    ``augment_px`` is the shift or padding of 'jitter' and 'crop_flip' (the other policies'
    strengths are fixed in :mod:`kdbook.augment`)."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.05
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "cosine"
    augment: str = "none"
    augment_px: int = 2
    seed: int = 0
    precision: str = "fp32"
    compile: bool = False
    #: keep the weights of the epoch with the best validation accuracy (needs a validation split)
    early_stopping: bool = False

    def __post_init__(self) -> None:
        v.raise_if([
            v.positive_int("epochs", self.epochs),
            v.positive_int("batch_size", self.batch_size),
            v.positive("lr", self.lr),
            v.choice("optimizer", self.optimizer, sorted(OPTIMIZERS)),
            v.unit_interval("momentum", self.momentum),
            v.non_negative("weight_decay", self.weight_decay),
            v.choice("schedule", self.schedule, SCHEDULES),
            v.choice("augment", self.augment, sorted(AUGMENTATIONS)),
            v.non_negative_int("augment_px", self.augment_px),
            v.non_negative_int("seed", self.seed),
            v.choice("precision", self.precision, sorted(PRECISIONS)),
        ], "train")


@dataclass(frozen=True)
class DistillConfig:
    """The distillation objective: ``alpha * soft(T) + (1 - alpha) * CE(labels)``.

    ``soft_loss`` is a key of :data:`kdbook.losses.SOFT_LOSSES`; 'kl' and 'soft_ce' include the
    T^2 factor unless ``scale_T2`` is False.
    """

    T: float = 4.0
    alpha: float = 1.0
    soft_loss: str = "kl"
    scale_T2: bool = True

    def __post_init__(self) -> None:
        v.raise_if([
            v.positive("T", self.T),
            v.unit_interval("alpha", self.alpha),
            v.choice("soft_loss", self.soft_loss, sorted(SOFT_LOSSES)),
        ], "distill")


Objective = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], dict[str, torch.Tensor]]


def label_objective(logits: torch.Tensor, labels: torch.Tensor, teacher_logits: torch.Tensor | None = None
                    ) -> dict[str, torch.Tensor]:
    """Plain cross-entropy on the labels."""
    return {"ce": F.cross_entropy(logits, labels)}


def distill_objective(cfg: DistillConfig) -> Objective:
    """The objective of ``cfg`` as named losses {'soft', 'hard'} (no 'hard' when alpha = 1)."""
    soft_fn = SOFT_LOSSES[cfg.soft_loss]
    unscale = 1.0 if cfg.scale_T2 or cfg.soft_loss == "logit_mse" else 1.0 / (cfg.T * cfg.T)

    def objective(logits, labels, teacher_logits):
        out = {"soft": cfg.alpha * unscale * soft_fn(logits, teacher_logits, cfg.T)}
        if cfg.alpha < 1:
            out["hard"] = (1 - cfg.alpha) * F.cross_entropy(logits, labels)
        return out

    return objective


def make_optimizer(params, cfg: TrainConfig, steps_per_epoch: int):
    """The optimizer of ``cfg`` over ``params`` and its per-step learning-rate schedule (or None)."""
    opt = OPTIMIZERS[cfg.optimizer](params, cfg)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs * steps_per_epoch)
             if cfg.schedule == "cosine" else None)
    return opt, sched


def optimizer_step(loss: torch.Tensor, opt: torch.optim.Optimizer, sched, name: str, epoch: int, step: int) -> None:
    """One update on ``loss``; a NaN or infinite loss raises TrainingDiverged naming the run, step and lr."""
    if not torch.isfinite(loss):
        raise TrainingDiverged(
            f"{name}: loss is {loss.item()} at epoch {epoch + 1}, step {step + 1} "
            f"(lr {opt.param_groups[0]['lr']:.3g}); lower the learning rate")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if sched is not None:
        sched.step()


@dataclass
class History:
    """Per-epoch records: mean of each named loss, optional validation accuracy, seconds."""

    epochs: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    best_epoch: int | None = None  # set by early stopping: the epoch whose weights were kept
    resumed_at: int | None = None  # epochs already done when the run resumed from a checkpoint

    def column(self, key: str) -> list[float]:
        return [e[key] for e in self.epochs if key in e]

    def to_dict(self) -> dict:
        return {"epochs": self.epochs, "seconds": self.seconds, "best_epoch": self.best_epoch,
                "resumed_at": self.resumed_at}


def progress_enabled() -> bool:
    """Progress bars are on unless ``KDBOOK_PROGRESS=0`` (the book driver sets it)."""
    return os.environ.get("KDBOOK_PROGRESS", "1") != "0"


@torch.no_grad()
def predict_logits(model: nn.Module | Teacher, x: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    """Logits of ``model`` on ``x`` in eval mode, without gradients, batch by batch."""
    was_training = getattr(model, "training", False)
    if isinstance(model, nn.Module):
        model.eval()
    out = torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
    if isinstance(model, nn.Module) and was_training:
        model.train()
    return out


def predict_probs(model: nn.Module | Teacher, x: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    """Class probabilities of ``model`` on ``x`` (eval mode, no gradients)."""
    return predict_logits(model, x, batch_size).softmax(-1)


def evaluate(model: nn.Module | Teacher, split: Split) -> dict[str, float]:
    """:func:`kdbook.metrics.summary` of ``model`` on ``split``."""
    return metrics.summary(predict_probs(model, split.x), split.y)


def train(model: nn.Module, data: Split, cfg: TrainConfig, objective: Objective = label_objective, *,
          teacher: Teacher | None = None, val: Split | None = None, name: str = "run",
          progress: bool | None = None, teacher_logits: torch.Tensor | None = None,
          checkpoint: Path | str | None = None,
          monitor: Callable[[nn.Module], dict[str, float]] | None = None) -> History:
    """Train ``model`` in place on ``data``; returns the per-epoch history.

    With a ``teacher`` (any callable from inputs to logits, used without gradients), its logits
    are computed once for the whole split when inputs are not augmented, else per batch on the
    same augmented inputs the student sees. ``teacher_logits`` (N, C), aligned with ``data``,
    give fixed targets instead of a teacher (e.g. a random forest's log-probabilities).
    With ``cfg.early_stopping`` the model ends with the weights of its best epoch on ``val``.
    With a ``checkpoint`` path the run's state is saved there after every epoch, an existing
    checkpoint is resumed from, and the file is removed when the run completes.
    ``monitor(model)`` is called after every epoch (model in eval mode, no gradients) and its
    numbers are added to that epoch's record (e.g. agreement with the teacher on the training set).
    """
    if cfg.early_stopping and val is None:
        raise ConfigError(f"{name}: early_stopping needs a validation split (val=...)")
    require_teacher_for_augment(cfg, teacher is not None, name)
    device = data.x.device
    model.to(device)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    opt, sched = make_optimizer(model.parameters(), cfg, math.ceil(len(data) / cfg.batch_size))
    augment = AUGMENTATIONS[cfg.augment]
    if isinstance(teacher, nn.Module):
        freeze(teacher)  # eval mode (no dropout), no gradients, for the whole run
    cached_teacher = (predict_logits(teacher, data.x) if teacher is not None and cfg.augment == "none"
                      else None)
    if teacher_logits is not None:
        if teacher is not None or cfg.augment != "none" or len(teacher_logits) != len(data):
            raise ConfigError("teacher_logits need one row per training example, no teacher and augment='none'")
        cached_teacher = teacher_logits.to(device)
    forward = torch.compile(model) if cfg.compile else model
    history = History()
    show = progress_enabled() if progress is None else progress
    best: tuple[float, dict[str, torch.Tensor]] | None = None
    resumed = ckpt.load_checkpoint(checkpoint, device) if checkpoint is not None else None
    if resumed is not None:
        done, best = ckpt.restore(resumed, model=model, optimizer=opt, scheduler=sched, generator=gen)
        history = History(done["epochs"], done["seconds"], done.get("best_epoch"), len(done["epochs"]))
    start = time.perf_counter() - history.seconds
    first = len(history.epochs)
    bar = tqdm(range(first, cfg.epochs), desc=name, disable=not show, leave=False, initial=first, total=cfg.epochs)
    for epoch in bar:
        model.train()
        sums: dict[str, torch.Tensor] = {}
        n_seen = 0
        for step, idx in enumerate(batches(len(data), cfg.batch_size, generator=gen, device=device)):
            x, y = data.x.index_select(0, idx), data.y.index_select(0, idx)  # much faster than x[idx]
            x = augment(x, cfg.augment_px, gen)
            t_logits = None
            if cached_teacher is not None or teacher is not None:
                t_logits = cached_teacher[idx] if cached_teacher is not None else predict_logits(teacher, x)
            with autocast(device, cfg.precision):
                logits = forward(x)
            losses = objective(logits.float(), y, t_logits)
            optimizer_step(sum(losses.values()), opt, sched, name, epoch, step)
            for k, val_ in losses.items():  # accumulated on the device: no sync per step
                sums[k] = sums.get(k, 0.0) + val_.detach() * len(idx)
            n_seen += len(idx)
        record = {k: float(s) / n_seen for k, s in sums.items()}
        record["loss"] = sum(record.values())
        record["epoch"] = epoch + 1
        if val is not None:
            record["val_accuracy"] = metrics.accuracy(predict_probs(model, val.x), val.y)
        if monitor is not None:
            model.eval()
            with torch.no_grad():
                record.update(monitor(model))
        history.epochs.append(record)
        if cfg.early_stopping and (best is None or record["val_accuracy"] > best[0]):
            best = (record["val_accuracy"], {k: t.detach().clone() for k, t in model.state_dict().items()})
            history.best_epoch = epoch + 1
        if checkpoint is not None and epoch + 1 < cfg.epochs:
            history.seconds = time.perf_counter() - start
            ckpt.save_checkpoint(Path(checkpoint), model=model, optimizer=opt, scheduler=sched, generator=gen,
                                 history=history.to_dict(), best=best)
        bar.set_postfix(loss=f"{record['loss']:.4f}",
                        **({"val": f"{record['val_accuracy']:.4f}"} if val is not None else {}))
    history.seconds = time.perf_counter() - start
    if best is not None:
        model.load_state_dict(best[1])
    if checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)
    model.eval()
    return history
