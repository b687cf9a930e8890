"""One training loop for label training and distillation: a single model, ensemble members
trained together, or data-parallel ranks, on CPU or GPU.

A run is ``fit(runner, data, TrainConfig, objective, teacher=...)``. The epoch skeleton lives in
:func:`fit` alone: draw the batches, augment them, run the teacher on the *same* augmented view
(or read its fixed logits), compute the objective's named terms (see :mod:`kdbook.losses`),
check for NaN, step, then per epoch validate, monitor, keep the best weights and checkpoint.
A :class:`Runner` says only how a batch is forwarded and reduced: :class:`SingleModel` here,
:class:`kdbook.vectorized.StackedMembers` and :class:`kdbook.distributed.DataParallel` elsewhere.
``train(model, ...)`` is ``fit(SingleModel(model), ...)``.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from . import augment as aug
from . import checkpoint as ckpt
from . import metrics
from . import validate
from .data import Split
from .errors import ConfigError, TrainingDiverged
from .losses import LabelObjective, Objective
from .teachers import freeze

Teacher = Callable[[torch.Tensor], torch.Tensor]
#: The plain label objective (cross-entropy), the default of every trainer.
label_objective = LabelObjective()
OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": lambda params, c: torch.optim.SGD(params, lr=c.lr, momentum=c.momentum,
                                            weight_decay=c.weight_decay, nesterov=c.momentum > 0),
    "adam": lambda params, c: torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay),
}
SCHEDULES = ("cosine", "constant")
#: Forward-pass precision: 'bf16' runs the model under autocast (losses stay in float32).
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16}


#: Inside :func:`trial_steps`, every run stops after this many optimisation steps.
_TRIAL_STEPS: contextvars.ContextVar[int | None] = contextvars.ContextVar("kdbook_trial_steps", default=None)


@contextlib.contextmanager
def trial_steps(n: int = 1):
    """Within this block every training run stops after ``n`` optimisation steps: a trial that walks
    every code path of a chapter (e.g. its ``paper`` settings on a tiny fixture) in seconds.
    Its numbers mean nothing; never store them as results."""
    validate.raise_if([validate.positive_int("trial steps", n)])
    token = _TRIAL_STEPS.set(n)
    try:
        yield
    finally:
        _TRIAL_STEPS.reset(token)


def trial_step_limit() -> int | None:
    """The step limit of the enclosing :func:`trial_steps` block, or None."""
    return _TRIAL_STEPS.get()


def autocast(device: torch.device, precision: str):
    """The autocast context of ``precision`` on ``device`` (a no-op for fp32)."""
    dtype = PRECISIONS[precision]
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of one run. ``augment`` names a policy of :data:`kdbook.augment.POLICIES`;
    ``augment_px`` is the shift or padding of 'jitter' and 'crop_flip' (the other policies'
    strengths are fixed in :mod:`kdbook.augment`). ``fixed_teacher`` makes a teacher label the
    un-augmented training images once (fixed targets) instead of the student's augmented view at
    every step; ``clip_grad_norm`` > 0 clips the gradient's norm at every step."""

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
    fixed_teacher: bool = False
    clip_grad_norm: float = 0.0

    def __post_init__(self) -> None:
        validate.raise_if([
            validate.positive_int("epochs", self.epochs),
            validate.positive_int("batch_size", self.batch_size),
            validate.positive("lr", self.lr),
            validate.choice("optimizer", self.optimizer, sorted(OPTIMIZERS)),
            validate.unit_interval("momentum", self.momentum),
            validate.non_negative("weight_decay", self.weight_decay),
            validate.choice("schedule", self.schedule, SCHEDULES),
            validate.choice("augment", self.augment, sorted(aug.POLICIES)),
            validate.non_negative_int("augment_px", self.augment_px),
            validate.non_negative_int("seed", self.seed),
            validate.choice("precision", self.precision, sorted(PRECISIONS)),
            validate.non_negative("clip_grad_norm", self.clip_grad_norm),
        ], "train")

    def with_seed(self, seed: int) -> "TrainConfig":
        """This config with its seed replaced."""
        return TrainConfig(**{**self.__dict__, "seed": seed})


def check_objective(cfg: TrainConfig, objective: Objective, has_teacher: bool, name: str) -> None:
    """Refuse what cannot be trained: a teacher-only augmentation (mixup) without a teacher to label
    its outputs, or with a label term that would be trained on the un-mixed labels."""
    if cfg.augment not in aug.TEACHER_ONLY:
        return
    if not has_teacher:
        raise ConfigError(f"{name}: augment='{cfg.augment}' makes inputs without labels; it needs a teacher "
                          "to label them (and a pure distillation objective)")
    if getattr(objective, "uses_labels", True):
        raise ConfigError(f"{name}: augment='{cfg.augment}' mixes inputs but not labels; use a pure distillation "
                          "objective (alpha = 1) so that only the teacher labels the mixed inputs")
    if cfg.fixed_teacher:
        raise ConfigError(f"{name}: augment='{cfg.augment}' with fixed_teacher: fixed targets cannot label mixed inputs")


def make_optimizer(params, cfg: TrainConfig, steps_per_epoch: int):
    """The optimizer of ``cfg`` over ``params`` and its per-step learning-rate schedule (or None)."""
    opt = OPTIMIZERS[cfg.optimizer](params, cfg)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs * steps_per_epoch)
             if cfg.schedule == "cosine" else None)
    return opt, sched


def optimizer_step(loss: torch.Tensor, opt: torch.optim.Optimizer, sched, name: str, epoch: int, step: int,
                   clip_grad_norm: float = 0.0) -> None:
    """One update on ``loss``; a NaN or infinite loss raises TrainingDiverged naming the run, step and lr."""
    if not torch.isfinite(loss):
        raise TrainingDiverged(
            f"{name}: loss is {loss.item()} at epoch {epoch + 1}, step {step + 1} "
            f"(lr {opt.param_groups[0]['lr']:.3g}); lower the learning rate")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if clip_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], clip_grad_norm)
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



# ----------------------------------------------------------------------------- runners
class Runner:
    """How one kind of training forwards a batch and reduces its loss; :func:`fit` does the rest.

    A runner draws from ``streams`` generators (one batch order and augmentation stream each).
    Batches reach it as inputs (S, B, ...), labels (S, B) and indices (S, B), one row per stream.
    ``view`` keeps the examples this process trains on; ``forward`` maps them to logits
    (R, b, C), R = S or, when every replica sees the same examples, the number of replicas.
    ``scale`` turns the objective (a mean over all R x b rows) into the loss whose gradient each
    trained network should get.
    """

    name: str = "run"
    module: nn.Module       # what is optimised and checkpointed
    writes_checkpoints: bool = True  # False on all but one process of a multi-process run
    generators: list[torch.Generator]

    def parameters(self):
        return self.module.parameters()

    def view(self, x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor):
        return x, y, idx

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def scale(self, replicas: int, batch: int, kept: int) -> float:
        return float(replicas)

    def reduce(self, sums: dict[str, torch.Tensor], seen: int) -> tuple[dict[str, torch.Tensor], int]:
        """Sums of the epoch's per-example losses over every process (identity on one process)."""
        return sums, seen

    def eval_model(self) -> nn.Module | None:
        """The single network to validate, monitor and early-stop, or None if the runner has several."""
        return None

    def finish(self) -> None:
        """Called once after the last epoch (e.g. copy stacked weights back into the members)."""


class SingleModel(Runner):
    """One model, one batch order: the ordinary run."""

    def __init__(self, model: nn.Module, cfg: "TrainConfig", name: str = "run"):
        self.model, self.name = model, name
        self.module = model
        self.generators = [torch.Generator().manual_seed(cfg.seed)]
        self._forward = torch.compile(model) if cfg.compile else model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(x[0]).unsqueeze(0)

    def eval_model(self) -> nn.Module:
        return self.model


def _teacher_logits(teacher: Teacher, x: torch.Tensor, precision: str = "fp32") -> torch.Tensor:
    """The teacher's logits on a batch (S, B, ...) -> (S, B, C), without gradients, its forward pass
    in the run's ``precision`` (a bf16 run's teacher runs in bf16 too; its logits return as float32)."""
    with autocast(x.device, precision):
        return predict_logits(teacher, x.flatten(0, 1)).float().view(*x.shape[:2], -1)


def step_targets(x: torch.Tensor, idx: torch.Tensor, live_teacher: Teacher | None, fixed: torch.Tensor | None,
                 precision: str = "fp32") -> torch.Tensor | None:
    """The teacher's targets for one training step: its logits on the very (augmented) batch the
    student sees (consistent teaching), or the fixed targets of these examples (computed once on
    the training images), or None when the student learns from labels alone."""
    if live_teacher is not None:
        return _teacher_logits(live_teacher, x, precision)
    if fixed is not None:
        return fixed.index_select(0, idx.reshape(-1)).view(*idx.shape, -1)
    return None


def fit(runner: Runner, data: Split, cfg: TrainConfig, objective: Objective = label_objective, *,
        teacher: Teacher | None = None, teacher_logits: torch.Tensor | None = None, val: Split | None = None,
        progress: bool | None = None, checkpoint: Path | str | None = None,
        monitor: Callable[[nn.Module], dict[str, float]] | None = None) -> History:
    """Train ``runner``'s networks in place on ``data``; returns the per-epoch history.

    With a ``teacher`` (any callable from inputs to logits, used without gradients) the student's
    targets are the teacher's logits on the same augmented inputs the student sees at that step
    (consistent teaching); with ``cfg.fixed_teacher``, or when inputs are not augmented (where both
    are the same), they are computed once on the training images. ``teacher_logits`` (N, C),
    aligned with ``data``, give fixed targets instead of a teacher (e.g. a random forest's
    log-probabilities). With ``cfg.early_stopping`` the model ends with the weights of its best epoch
    on ``val``. With a ``checkpoint`` path the run's state is saved there after every epoch, an
    existing checkpoint is resumed from, and the file is removed when the run completes.
    ``monitor(model)`` is called after every epoch (model in eval mode, no gradients) and its numbers
    are added to that epoch's record. Validation, monitoring and early stopping need a runner with
    one network (:meth:`Runner.eval_model`).
    """
    name = runner.name
    if cfg.early_stopping and val is None:
        raise ConfigError(f"{name}: early_stopping needs a validation split (val=...)")
    if (val is not None or monitor is not None) and runner.eval_model() is None:
        raise ConfigError(f"{name}: validation, monitoring and early stopping are per network; "
                          "train these networks one by one to use them")
    if teacher is not None and teacher_logits is not None:
        raise ConfigError(f"{name}: give a teacher or fixed teacher_logits, not both")
    check_objective(cfg, objective, teacher is not None, name)
    if getattr(objective, "needs_teacher", False) and teacher is None and teacher_logits is None:
        raise ConfigError(f"{name}: this objective needs a teacher (teacher=...) or its logits (teacher_logits=...)")
    device = data.x.device
    runner.module.to(device)
    torch.manual_seed(cfg.seed)
    n = len(data)
    opt, sched = make_optimizer(runner.parameters(), cfg, math.ceil(n / cfg.batch_size))
    augment = aug.POLICIES[cfg.augment]
    if isinstance(teacher, nn.Module):
        freeze(teacher)  # eval mode (no dropout), no gradients, for the whole run
    fixed = None  # (N, C) targets looked up by example index
    if teacher_logits is not None:
        if cfg.augment != "none" and not cfg.fixed_teacher or len(teacher_logits) != n:
            raise ConfigError(f"{name}: teacher_logits need one row per training example, and augment='none' "
                              "or fixed_teacher=True (fixed targets cannot label new augmented views)")
        fixed = teacher_logits.to(device)
    elif teacher is not None and (cfg.augment == "none" or cfg.fixed_teacher):
        fixed = predict_logits(teacher, data.x).float()
    live_teacher = teacher if fixed is None else None
    history = History()
    show = progress_enabled() if progress is None else progress
    best: tuple[float, dict[str, torch.Tensor]] | None = None
    resumed = ckpt.load_checkpoint(checkpoint, device) if checkpoint is not None else None
    if resumed is not None:
        done, best = ckpt.restore(resumed, model=runner.module, optimizer=opt, scheduler=sched,
                                  generators=runner.generators)
        history = History(done["epochs"], done["seconds"], done.get("best_epoch"), len(done["epochs"]))
    start = time.perf_counter() - history.seconds
    first = len(history.epochs)
    bar = tqdm(range(first, cfg.epochs), desc=name, disable=not show, leave=False, initial=first, total=cfg.epochs)
    step_limit, steps_done = trial_step_limit(), 0
    for epoch in bar:
        runner.module.train()
        orders = torch.stack([torch.randperm(n, generator=g) for g in runner.generators]).to(device)  # (S, n)
        sums: dict[str, torch.Tensor] = {}
        seen = 0
        for step, begin in enumerate(range(0, n, cfg.batch_size)):
            idx = orders[:, begin:begin + cfg.batch_size]  # (S, B)
            flat = idx.reshape(-1)
            x = data.x.index_select(0, flat).view(*idx.shape, *data.x.shape[1:])  # much faster than x[idx]
            y = data.y.index_select(0, flat).view(idx.shape)
            if cfg.augment != "none":  # each stream draws its own augmentations, in stream order
                x = torch.stack([augment(x[s], cfg.augment_px, g) for s, g in enumerate(runner.generators)])
            batch = idx.shape[1]
            x, y, idx = runner.view(x, y, idx)
            t = step_targets(x, idx, live_teacher, fixed, cfg.precision)
            with autocast(device, cfg.precision):
                logits = runner.forward(x)  # (R, b, C)
            replicas = logits.shape[0]
            if y.shape[0] != replicas:  # every replica trains on the same examples
                y = y.expand(replicas, -1)
                t = None if t is None else t.expand(replicas, -1, -1)
            losses = objective(logits.float().flatten(0, 1), y.reshape(-1),
                               None if t is None else t.reshape(-1, t.shape[-1]))
            loss = sum(losses.values())
            factor = runner.scale(replicas, batch, idx.shape[1])
            optimizer_step(loss if factor == 1.0 else factor * loss, opt, sched, name, epoch, step,
                           cfg.clip_grad_norm)
            for k, val_ in losses.items():  # accumulated on the device: no sync per step
                sums[k] = sums.get(k, 0.0) + val_.detach() * idx.shape[1]
            seen += idx.shape[1]
            steps_done += 1
            if step_limit is not None and steps_done >= step_limit:
                break
        sums, seen = runner.reduce(sums, seen)
        record = {k: float(s) / seen for k, s in sums.items()}
        record["loss"] = sum(record.values())
        record["epoch"] = epoch + 1
        single = runner.eval_model()
        if val is not None:
            record["val_accuracy"] = metrics.accuracy(predict_probs(single, val.x), val.y)
        if monitor is not None:
            single.eval()
            with torch.no_grad():
                record.update(monitor(single))
        history.epochs.append(record)
        if cfg.early_stopping and (best is None or record["val_accuracy"] > best[0]):
            best = (record["val_accuracy"], {k: t_.detach().clone() for k, t_ in runner.module.state_dict().items()})
            history.best_epoch = epoch + 1
        if checkpoint is not None and runner.writes_checkpoints and epoch + 1 < cfg.epochs:
            history.seconds = time.perf_counter() - start
            ckpt.save_checkpoint(Path(checkpoint), model=runner.module, optimizer=opt, scheduler=sched,
                                 generators=runner.generators, history=history.to_dict(), best=best)
        bar.set_postfix(loss=f"{record['loss']:.4f}",
                        **({"val": f"{record['val_accuracy']:.4f}"} if val is not None else {}))
        if step_limit is not None and steps_done >= step_limit:
            break
    history.seconds = time.perf_counter() - start
    if best is not None:
        runner.module.load_state_dict(best[1])
    if checkpoint is not None and runner.writes_checkpoints:
        Path(checkpoint).unlink(missing_ok=True)
    runner.finish()
    runner.module.eval()
    return history


def train(model: nn.Module, data: Split, cfg: TrainConfig, objective: Objective = label_objective, *,
          teacher: Teacher | None = None, val: Split | None = None, name: str = "run",
          progress: bool | None = None, teacher_logits: torch.Tensor | None = None,
          checkpoint: Path | str | None = None,
          monitor: Callable[[nn.Module], dict[str, float]] | None = None) -> History:
    """Train ``model`` in place on ``data`` (see :func:`fit`, of which this is the one-model case)."""
    return fit(SingleModel(model, cfg, name), data, cfg, objective, teacher=teacher, teacher_logits=teacher_logits,
               val=val, progress=progress, checkpoint=checkpoint, monitor=monitor)
