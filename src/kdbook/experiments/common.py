"""Pieces shared by the chapters' experiments: cached trained models keyed by what defines their
run (:func:`run_key`), and a chapter's parts, each keyed by the settings it reads (:func:`run_parts`)."""

from __future__ import annotations

import dataclasses
import inspect
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .. import metrics
from ..data import Dataset, Split
from ..errors import ConfigError
from ..models import ModelConfig, build_average, build_model, interpolate_weights
from ..store import StoredResult, fit_or_load, key_of, model_path, run_or_load
from ..teachers import Ensemble
from ..train import (
    Objective,
    Teacher,
    TrainConfig,
    label_objective,
    predict_probs,
    train,
)


def with_changes(settings: Any, changes: Mapping[str, Any] | None = None) -> Any:
    """A chapter's ``settings`` with ``changes`` applied (a reader's variation, e.g.
    ``{"T": 2.0}``), validated like the published ones; a name the settings do not have is
    refused in one line that lists the names they do have."""
    if not changes:
        return settings
    names = [f.name for f in dataclasses.fields(settings)]
    unknown = sorted(set(changes) - set(names))
    if unknown:
        raise ConfigError(f"{type(settings).__module__.rsplit('.', 1)[-1]} has no setting {', '.join(unknown)}; "
                          f"its settings are: {', '.join(names)}")
    return dataclasses.replace(settings, **changes)


def with_seed(cfg: TrainConfig, seed: int) -> TrainConfig:
    """``cfg`` with its seed replaced."""
    return cfg.with_seed(seed)


# ----------------------------------------------------------------------------- what a run's key names
def teacher_key(teacher: Teacher | None) -> Any:
    """What identifies a teacher in a student's cache key: the cache key of the model it is (it must
    come from the model cache), or, for an :class:`kdbook.teachers.Ensemble`, its members' keys and
    how they are combined. A teacher that is neither has no key, and is refused."""
    if teacher is None:
        return None
    if isinstance(teacher, Ensemble):
        return {"ensemble": [teacher_key(m) for m in teacher.members], "combine": teacher.method}
    key = key_of(teacher) if isinstance(teacher, nn.Module) else None
    if key is None:
        raise ConfigError("a cached student's teacher must itself come from the model cache "
                          "(trained_model / trained_members) so that its key can name it")
    return key


@dataclass(frozen=True)
class AverageInit:
    """Start from the average (F1 + ... + FN)/N of sub-networks with these seeds (a trained average)."""

    seeds: tuple[int, ...]

    def key(self) -> Any:
        return {"average_of": list(self.seeds)}

    def build(self, model: ModelConfig, ds: Dataset, seed: int) -> nn.Module:
        return build_average(model, ds.input_shape, ds.num_classes, self.seeds)


class Interpolated:
    """Start from ``lam * teacher + (1 - lam) * random`` (the random weights of the run's seed)."""

    def __init__(self, teacher: nn.Module, lam: float):
        self.teacher, self.lam = teacher, float(lam)

    def key(self) -> Any:
        return {"interpolate": teacher_key(self.teacher), "lambda": self.lam}

    def build(self, model: ModelConfig, ds: Dataset, seed: int) -> nn.Module:
        device = next(self.teacher.parameters()).device
        return interpolate_weights(build_model(model, ds.input_shape, ds.num_classes, seed=seed).to(device),
                                   self.teacher, self.lam)


class TeacherAgreement:
    """A per-epoch monitor: the student's top-1 agreement with ``teacher`` on ``split``, recorded
    under ``name`` (e.g. 'val_agreement' on the validation split)."""

    def __init__(self, teacher: Teacher, split: Split, name: str = "train_agreement"):
        self.teacher, self.split, self.name = teacher, split, name
        self._teacher_probs: torch.Tensor | None = None  # computed when a run is trained, not when it loads

    def key(self) -> Any:
        return {"monitor": self.name, "teacher": teacher_key(self.teacher), "rows": self.split.origin}

    def __call__(self, model: nn.Module) -> dict[str, float]:
        if self._teacher_probs is None:
            self._teacher_probs = predict_probs(self.teacher, self.split.x)
        return {self.name: metrics.agreement(self._teacher_probs, predict_probs(model, self.split.x))}


def run_key(dataset_key: str, model: ModelConfig, cfg: TrainConfig, *, train_limit: int | None = None,
            objective: Objective = label_objective, teacher: Teacher | None = None, teacher_spec: Any = None,
            data: Split | None = None, init=None, monitor=None, track_val: bool = False,
            member: bool = False) -> dict[str, Any]:
    """A trained model's cache key, built from what defines its run: data (the dataset, its size and
    which rows), model, training config (with its seed), objective, teacher, start and monitor."""
    key: dict[str, Any] = {"dataset": dataset_key, "model": model, "train": cfg, "train_limit": train_limit}
    optional = {
        "member": member or None,
        "rows": data.origin if data is not None else None,
        "objective": objective if objective != label_objective else None,
        "teacher": teacher_key(teacher) if teacher is not None else teacher_spec,
        "init": init.key() if init is not None else None,
        "monitor": monitor.key() if monitor is not None else None,
        "track_val": track_val or None,
    }
    key.update({k: v for k, v in optional.items() if v is not None})
    return key


# ----------------------------------------------------------------------------- cached runs
def trained_model(kind: str, ds: Dataset, dataset_key: str, model: ModelConfig, cfg: TrainConfig, seed: int,
                  **kwargs: Any) -> nn.Module:
    """:func:`trained_run`'s model alone."""
    return trained_run(kind, ds, dataset_key, model, cfg, seed, **kwargs)[0]


def trained_run(kind: str, ds: Dataset, dataset_key: str, model: ModelConfig, cfg: TrainConfig, seed: int, *,
                device: str = "cpu", train_limit: int | None = None, objective: Objective = label_objective,
                teacher: Teacher | None = None, teacher_logits=None, teacher_spec: Any = None,
                train_split: Split | None = None, track_val: bool = False, init=None,
                monitor=None, member: bool = False) -> tuple[nn.Module, dict]:
    """A model of ``model`` trained on ``ds.train`` (or ``train_split``, a subset of it) with ``cfg``
    and ``seed`` (weights and data order), loaded from the model cache when the same run was
    trained before; and its training history (per-epoch losses; validation accuracy when
    ``track_val`` or early stopping is on). The run checkpoints every epoch beside its cache
    entry, so an interrupted run resumes where it stopped.

    The cache key is :func:`run_key` of the arguments: a ``teacher`` must come from the model cache
    (or be an Ensemble of such models) and is named by its own key. Fixed ``teacher_logits`` from
    something that is not a network (e.g. trees) need ``teacher_spec``, the config that made them.
    ``init`` (:class:`AverageInit`, :class:`Interpolated`) replaces the seeded initial model and
    ``monitor`` (:class:`TeacherAgreement`) adds per-epoch measurements to the history."""
    if teacher_logits is not None and teacher_spec is None:
        raise ConfigError(f"{kind}: fixed teacher_logits need teacher_spec (what produced them) for the cache key")
    tcfg = cfg.with_seed(seed)
    data = ds.train if train_split is None else train_split
    key = run_key(dataset_key, model, tcfg, train_limit=train_limit, objective=objective, teacher=teacher,
                  teacher_spec=teacher_spec, data=data, init=init, monitor=monitor, track_val=track_val,
                  member=member)
    val = ds.val if (track_val or tcfg.early_stopping) else None
    checkpoint = model_path(kind, key).with_suffix(".ckpt")  # an interrupted run resumes from here
    trained, _, meta = fit_or_load(
        kind, key,
        build=(lambda: init.build(model, ds, seed)) if init is not None else
        (lambda: build_model(model, ds.input_shape, ds.num_classes, seed=seed)),
        fit=lambda m: train(m, data, tcfg, objective, teacher=teacher, teacher_logits=teacher_logits,
                            val=val, name=f"{kind} seed {seed}", checkpoint=checkpoint, monitor=monitor),
        device=device)
    return trained, meta.get("history", {})


def trained_members(kind: str, ds: Dataset, dataset_key: str, model: ModelConfig, cfg: TrainConfig,
                    seeds: Sequence[int], *, device: str = "cpu", train_limit: int | None = None,
                    track_val: bool = False) -> list[nn.Module]:
    """Ensemble members of ``model`` trained on labels, one per seed, cached one by one like
    :func:`trained_model`; the missing ones are trained together in one vectorised run
    (:func:`kdbook.vectorized.train_members`), which gives the same members as one by one. Other
    architectures than MLPs train one at a time on a CPU, where that is faster, and random-feature
    models always do (both ways share one cache key, so a member trained either way is reused).
    With ``track_val`` every member keeps its validation curve (trained one by one)."""
    from ..vectorized import train_members

    def key(seed: int) -> dict:
        return run_key(dataset_key, model, cfg.with_seed(seed), train_limit=train_limit, member=True)

    def build(seed: int):
        return lambda: build_model(model, ds.input_shape, ds.num_classes, seed=seed)

    if track_val or model.kind == "rf" or (model.kind != "mlp" and not str(device).startswith("cuda")):
        # validation curves are per network; random features have frozen layers, which the
        # vectorised path would train; and on a CPU, vmap over convolutions measured about 2x
        # slower than one member at a time
        return [trained_model(kind, ds, dataset_key, model, cfg, s, device=device, train_limit=train_limit,
                              member=True, track_val=track_val) for s in seeds]
    missing = [s for s in seeds if not model_path(kind, key(s)).is_file()]
    fresh: dict[int, nn.Module] = {}
    if missing:
        members, _ = train_members(model, ds.train, cfg, missing, ds.input_shape, ds.num_classes,
                                   name=f"{kind} {len(missing)} members")
        fresh = dict(zip(missing, members))

    def copy_weights(seed: int):
        return lambda m: m.load_state_dict(fresh[seed].state_dict())

    return [fit_or_load(kind, key(s), build=build(s), fit=copy_weights(s), device=device)[0] for s in seeds]


# ----------------------------------------------------------------------------- parts
@dataclass(frozen=True)
class Part:
    """One stored result of a chapter: its kind (e.g. 'ch02-main'), the function computing it
    from (settings, device), and the names of the settings it reads (fields or properties).
    Its result is keyed by those settings only, so changing another part's settings leaves it valid."""

    kind: str
    compute: Callable[[Any, str], dict]
    reads: tuple[str, ...]
    #: the part's name in the mapping ``run()`` returns (default: the kind without its chapter prefix)
    name: str | None = None


def part_config(settings: Any, reads: Sequence[str]) -> dict[str, Any]:
    """The settings a part reads, as its result's configuration: each named field or property with
    its value, except fields still at their default (the store's rule, so that a part reading every
    field keys exactly as the whole settings object did)."""
    defaults = {f.name: f.default for f in dataclasses.fields(settings) if f.default is not dataclasses.MISSING}
    config = {}
    for name in reads:
        value = getattr(settings, name)
        if callable(value):
            raise ConfigError(f"part settings must be data, but {name!r} is a method")
        if name in defaults and value == defaults[name]:
            continue
        config[name] = value
    return config


class _ReadLog:
    """Settings seen through a log of the fields read, so a part cannot read what its key ignores.
    Properties and methods of the settings run against the log too, so the fields they read count."""

    def __init__(self, settings: Any, declared: Sequence[str] = ()):
        object.__setattr__(self, "_settings", settings)
        object.__setattr__(self, "_declared", frozenset(declared))  # a declared property counts as a whole
        object.__setattr__(self, "read", set())

    def __getattr__(self, name: str) -> Any:
        static = inspect.getattr_static(type(self._settings), name, None)
        if isinstance(static, property) and name not in self._declared:
            return static.fget(self)
        if inspect.isfunction(static):
            return types.MethodType(static, self)
        self.read.add(name)
        return getattr(self._settings, name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("settings are read-only")


def run_parts(parts: Sequence[Part], settings: Any, *, profile: str, device: str, recompute: bool,
              seeds: Sequence[int], only: Sequence[str] | None = None) -> dict[str, StoredResult]:
    """Each part's stored result (computed when missing), by kind without the chapter prefix.

    A part that reads a setting it does not declare fails with a ConfigError naming it (its key
    would not see a change there)."""
    out = {}
    for part in parts:
        if only is not None and part.kind not in only:
            continue

        def compute(part: Part = part) -> dict:
            log = _ReadLog(settings, part.reads)
            value = part.compute(log, device)
            undeclared = sorted(log.read - set(part.reads))
            if undeclared:
                raise ConfigError(f"{part.kind} reads settings it does not declare in its key: {', '.join(undeclared)}")
            return value

        out[part.name or part.kind.split("-", 1)[1]] = run_or_load(part.kind, part_config(settings, part.reads), compute,
                                                      profile=profile, seeds=list(seeds), device=device,
                                                      recompute=recompute)
    return out
