"""Pieces shared by the chapters' experiments: seeded configs and cached trained models."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from ..data import Dataset, Split
from ..models import ModelConfig, build_model
from ..errors import ConfigError
from ..store import StoredResult, fit_or_load, model_path, run_or_load
from ..train import Objective, Teacher, TrainConfig, label_objective, train


def with_seed(cfg: TrainConfig, seed: int) -> TrainConfig:
    """``cfg`` with its seed replaced."""
    return TrainConfig(**{**cfg.__dict__, "seed": seed})


def trained_model(kind: str, ds: Dataset, dataset_key: str, model: ModelConfig, cfg: TrainConfig, seed: int, *,
                  device: str = "cpu", train_limit: int | None = None, objective: Objective = label_objective,
                  teacher: Teacher | None = None, teacher_logits=None,
                  extra_key: dict[str, Any] | None = None, train_split: Split | None = None) -> nn.Module:
    """A model of ``model`` trained on ``ds.train`` with ``cfg`` and ``seed`` (weights and data order),
    loaded from the model cache when the same (kind, key) was trained before.

    The cache key is the dataset name, model, training config (with the seed) and train_limit,
    plus ``extra_key``: whatever else defines the run (a teacher's key, a distillation config,
    and, with ``train_split`` (a subset of the training data used instead of ``ds.train``), how
    that subset was made). ``teacher_logits`` (the teacher's outputs on the training data,
    computed once) replace ``teacher`` when several students learn from the same teacher.
    """
    return trained_run(kind, ds, dataset_key, model, cfg, seed, device=device, train_limit=train_limit,
                       objective=objective, teacher=teacher, teacher_logits=teacher_logits,
                       extra_key=extra_key, train_split=train_split)[0]


def trained_run(kind: str, ds: Dataset, dataset_key: str, model: ModelConfig, cfg: TrainConfig, seed: int, *,
                device: str = "cpu", train_limit: int | None = None, objective: Objective = label_objective,
                teacher: Teacher | None = None, teacher_logits=None, extra_key: dict[str, Any] | None = None,
                train_split: Split | None = None, track_val: bool = False,
                build: Callable[[], nn.Module] | None = None,
                monitor: Callable[[nn.Module], dict[str, float]] | None = None) -> tuple[nn.Module, dict]:
    """:func:`trained_model` and its training history (per-epoch losses; validation accuracy when
    ``track_val`` or early stopping is on), kept with the cached model. The run checkpoints every
    epoch beside the cache entry, so an interrupted run resumes where it stopped.

    ``build`` replaces the seeded initial model (e.g. an interpolated initialisation) and
    ``monitor`` adds per-epoch measurements to the history; ``extra_key`` must then say what
    they are, since the cache key cannot see inside them."""
    tcfg = with_seed(cfg, seed)
    key = {"dataset": dataset_key, "model": model, "train": tcfg, "train_limit": train_limit, **(extra_key or {})}
    if track_val:
        key["track_val"] = True
    data = ds.train if train_split is None else train_split
    val = ds.val if (track_val or tcfg.early_stopping) else None
    checkpoint = model_path(kind, key).with_suffix(".ckpt")  # an interrupted run resumes from here
    trained, _, meta = fit_or_load(
        kind, key,
        build=build or (lambda: build_model(model, ds.input_shape, ds.num_classes, seed=seed)),
        fit=lambda m: train(m, data, tcfg, objective, teacher=teacher, teacher_logits=teacher_logits,
                            val=val, name=f"{kind} seed {seed}", checkpoint=checkpoint, monitor=monitor),
        device=device)
    return trained, meta.get("history", {})


def trained_members(kind: str, ds: Dataset, dataset_key: str, model: ModelConfig, cfg: TrainConfig,
                    seeds: Sequence[int], *, device: str = "cpu", train_limit: int | None = None,
                    extra_key: dict[str, Any] | None = None) -> list[nn.Module]:
    """Ensemble members of ``model`` trained on labels, one per seed, cached one by one like
    :func:`trained_model`; the missing ones are trained together in one vectorised run
    (:func:`kdbook.vectorized.train_members`), which gives the same members as one by one. Other
    architectures than MLPs train one at a time on a CPU, where that is faster, and random-feature
    models always do (both ways share one cache key, so a member trained either way is reused)."""
    from ..store import train_or_load
    from ..vectorized import train_members

    def key(seed: int) -> dict:
        return {"dataset": dataset_key, "model": model, "train": with_seed(cfg, seed), "train_limit": train_limit,
                "member": True, **(extra_key or {})}

    if model.kind == "rf" or (model.kind != "mlp" and not str(device).startswith("cuda")):
        # random features have frozen layers, which the vectorised path would train; and on a CPU,
        # vmap over convolutions measured about 2x slower than one member at a time
        return [trained_model(kind, ds, dataset_key, model, cfg, s, device=device, train_limit=train_limit,
                              extra_key={"member": True, **(extra_key or {})}) for s in seeds]
    missing = [s for s in seeds if not model_path(kind, key(s)).is_file()]
    fresh: dict[int, nn.Module] = {}
    if missing:
        members, _ = train_members(model, ds.train, cfg, missing, ds.input_shape, ds.num_classes,
                                   name=f"{kind} {len(missing)} members")
        fresh = dict(zip(missing, members))

    def copy_weights(seed: int):
        return lambda m: m.load_state_dict(fresh[seed].state_dict())

    return [train_or_load(kind, key(s), build=lambda s=s: build_model(model, ds.input_shape, ds.num_classes, seed=s),
                          fit=copy_weights(s), device=device)[0] for s in seeds]


# ----------------------------------------------------------------------------- parts
@dataclass(frozen=True)
class Part:
    """One stored result of a chapter: its kind (e.g. 'ch02-main'), the function computing it
    from (settings, device), and the names of the settings it reads (fields or properties).
    Its result is keyed by those settings only, so changing another part's settings leaves it valid."""

    kind: str
    compute: Callable[[Any, str], dict]
    reads: tuple[str, ...]


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
    """Settings seen through a log of the names read, so a part cannot read what its key ignores."""

    def __init__(self, settings: Any):
        object.__setattr__(self, "_settings", settings)
        object.__setattr__(self, "read", set())

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._settings, name)
        if not callable(value):
            self.read.add(name)
        return value

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
            log = _ReadLog(settings)
            value = part.compute(log, device)
            undeclared = sorted(log.read - set(part.reads))
            if undeclared:
                raise ConfigError(f"{part.kind} reads settings it does not declare in its key: {', '.join(undeclared)}")
            return value

        out[part.kind.split("-", 1)[1]] = run_or_load(part.kind, part_config(settings, part.reads), compute,
                                                      profile=profile, seeds=list(seeds), device=device,
                                                      recompute=recompute)
    return out
from ..reports.common import compare  # noqa: F401  (until the chapters' readings move to kdbook.reports)
