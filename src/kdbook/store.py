"""Results and trained models cached on disk, keyed by a hash of their configuration.

* A *result* is a JSON document ``{kind, config, config_hash, provenance, value, checksum}``
  under ``results/<profile>/<kind>/<hash>.json``. The ``full`` results are small and kept in
  the repository; they are what the published book shows.
* A *model* is a ``state_dict`` under the model cache, loaded with ``weights_only=True``.

Files are written atomically (temporary file + rename). A damaged entry is reported with a
warning and recomputed, never loaded.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import hashlib
import io
import json
import os
import tempfile
import time
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import provenance as prov

SCHEMA = 1
#: Models trained or loaded while a result is being computed (see run_or_load's provenance).
_MODEL_LOG: contextvars.ContextVar[list | None] = contextvars.ContextVar("kdbook_model_log", default=None)
#: Inside :func:`stored_only`, a missing result raises :class:`MissingResult` instead of being computed
#: (also in every process started with ``KDBOOK_STORED_ONLY=1``, e.g. the kernels of a publish build).
_STORED_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("kdbook_stored_only", default=False)
REPO_ROOT = prov.PACKAGE_DIR.parent.parent
#: The cache key ('kind/hash') of every model trained or loaded through :func:`fit_or_load`, so a
#: student's key can name its teacher by the configuration that produced it.
_KEYS: "weakref.WeakKeyDictionary[nn.Module, str]" = weakref.WeakKeyDictionary()


def _default_results_root() -> Path:
    if "KDBOOK_RESULTS" in os.environ:
        return Path(os.environ["KDBOOK_RESULTS"])
    if (REPO_ROOT / "pyproject.toml").is_file():
        return REPO_ROOT / "results"
    return Path.home() / ".cache" / "kdbook" / "results"


@contextlib.contextmanager
def stores_at(results: Path | str | None = None, cache: Path | str | None = None):
    """Within this block, results and trained models live under ``results`` and ``cache`` (each
    left as it is when None): the ``KDBOOK_RESULTS`` / ``KDBOOK_CACHE`` settings, restored after."""
    wanted = {"KDBOOK_RESULTS": results, "KDBOOK_CACHE": cache}
    saved = {k: os.environ.get(k) for k, v in wanted.items() if v is not None}
    os.environ.update({k: str(v) for k, v in wanted.items() if v is not None})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _default_model_root() -> Path:
    if "KDBOOK_CACHE" in os.environ:
        return Path(os.environ["KDBOOK_CACHE"]) / "models"
    if (REPO_ROOT / "pyproject.toml").is_file():
        return REPO_ROOT / ".cache" / "models"
    return Path.home() / ".cache" / "kdbook" / "models"


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, tuples, tensors and numpy values turned into plain JSON types."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return to_jsonable(obj.detach().cpu().tolist())
    if hasattr(obj, "item") and hasattr(obj, "dtype"):  # numpy scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return obj


def _canonical(obj: Any) -> str:
    return json.dumps(to_jsonable(obj), sort_keys=True, separators=(",", ":"))


def _without_defaults(obj: Any) -> Any:
    """Like :func:`to_jsonable`, but dataclass fields still at their default value are left out.

    This keeps the hashes of stored results valid when a config class gains a new field whose
    default preserves the old behaviour. (The rule that follows: never change a default.)
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.default is not dataclasses.MISSING and to_jsonable(value) == to_jsonable(f.default):
                continue
            out[f.name] = _without_defaults(value)
        return out
    if isinstance(obj, dict):
        return {str(k): _without_defaults(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_without_defaults(v) for v in obj]
    return to_jsonable(obj)


def config_hash(kind: str, config: Any) -> str:
    """16 hex digits identifying (kind, config); fields left at their defaults do not count."""
    key = json.dumps(_without_defaults(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{kind}\n{key}".encode()).hexdigest()[:16]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class StoredResult:
    """A result value with its provenance; ``cached`` says whether it was loaded from disk."""

    value: dict
    provenance: dict
    config: dict
    path: Path
    cached: bool

    def describe(self) -> str:
        return prov.describe(self.provenance) + (" [stored result]" if self.cached else " [computed now]")


class ResultStore:
    """JSON results under ``root/<profile>/<kind>/<hash>.json``."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else _default_results_root()

    def path(self, profile: str, kind: str, config: Any) -> Path:
        return self.root / profile / kind / f"{config_hash(kind, config)}.json"

    def load(self, profile: str, kind: str, config: Any) -> StoredResult | None:
        """The stored result, or None if absent or damaged (damage is warned about)."""
        path = self.path(profile, kind, config)
        if not path.is_file():
            return None
        try:
            doc = json.loads(path.read_text())
            ok = (doc.get("schema") == SCHEMA and doc.get("kind") == kind
                  and doc.get("config_hash") == config_hash(kind, config)
                  and doc.get("checksum") == hashlib.sha256(_canonical(doc["value"]).encode()).hexdigest())
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            ok, doc = False, None
            reason = f"{type(exc).__name__}: {exc}"
        else:
            reason = "checksum or config mismatch"
        if not ok:
            warnings.warn(f"ignoring damaged result {path} ({reason}); it will be recomputed", stacklevel=2)
            return None
        return StoredResult(doc["value"], doc["provenance"], doc["config"], path, cached=True)

    def save(self, profile: str, kind: str, config: Any, value: dict, provenance: dict) -> StoredResult:
        value = to_jsonable(value)
        doc = {
            "schema": SCHEMA,
            "kind": kind,
            "config_hash": config_hash(kind, config),
            "config": to_jsonable(config),
            "provenance": provenance,
            "value": value,
            "checksum": hashlib.sha256(_canonical(value).encode()).hexdigest(),
        }
        path = self.path(profile, kind, config)
        atomic_write_bytes(path, (json.dumps(doc, sort_keys=True) + "\n").encode())
        return StoredResult(value, provenance, doc["config"], path, cached=False)


class MissingResult(LookupError):
    """A result that :func:`stored_only` forbade computing is not in the store."""


@contextlib.contextmanager
def stored_only():
    """Within this block, :func:`run_or_load` only loads: a missing result raises :class:`MissingResult`
    (reading a chapter, e.g. to check its claims, then never trains anything)."""
    token = _STORED_ONLY.set(True)
    try:
        yield
    finally:
        _STORED_ONLY.reset(token)


def run_or_load(kind: str, config: Any, compute: Callable[[], dict], *, profile: str,
                seeds: list[int] | tuple[int, ...], device: str | torch.device = "cpu",
                store: ResultStore | None = None, recompute: bool = False) -> StoredResult:
    """Return the stored result of (kind, config) for ``profile``, computing and storing it if missing."""
    store = store or ResultStore()
    if not recompute:
        found = store.load(profile, kind, config)
        if found is not None:
            return found
    if _STORED_ONLY.get() or os.environ.get("KDBOOK_STORED_ONLY") == "1":
        raise MissingResult(f"no stored {profile} result {kind} for this configuration "
                            f"({store.path(profile, kind, config)}); run the chapter to compute it")
    start = time.perf_counter()
    token = _MODEL_LOG.set([])
    try:
        value = compute()
        models = _MODEL_LOG.get()
    finally:
        _MODEL_LOG.reset(token)
    record = prov.collect(profile, seeds, device, time.perf_counter() - start)
    if models:
        record["models"] = {
            "count": len(models),
            "loaded_from_cache": sum(m["cached"] for m in models),
            "training_seconds": round(sum(m["train_seconds"] or 0.0 for m in models), 1),
            "training_devices": sorted({m["device"] for m in models if m["device"]}),
        }
    return store.save(profile, kind, config, value, record)


def model_path(kind: str, config: Any, root: Path | str | None = None) -> Path:
    """Where the model of (kind, config) is cached; its training checkpoint sits beside it (.ckpt)."""
    root = Path(root) if root is not None else _default_model_root()
    return root / kind / f"{config_hash(kind, config)}.pt"


def train_or_load(kind: str, config: Any, build: Callable[[], nn.Module],
                  fit: Callable[[nn.Module], Any], *, root: Path | str | None = None,
                  device: str | torch.device = "cpu") -> tuple[nn.Module, bool]:
    """A model trained by ``fit(build())``, cached as a state_dict keyed by (kind, config).

    Returns (model in eval mode on ``device``, whether it was loaded from the cache).
    """
    model, cached, _ = fit_or_load(kind, config, build, fit, root=root, device=device)
    return model, cached


def fit_or_load(kind: str, config: Any, build: Callable[[], nn.Module],
                fit: Callable[[nn.Module], Any], *, root: Path | str | None = None,
                device: str | torch.device = "cpu") -> tuple[nn.Module, bool, dict]:
    """:func:`train_or_load` that also returns the run's metadata (training seconds, device and,
    when ``fit`` returns a history with ``to_dict()``, that history under 'history')."""
    path = model_path(kind, config, root)
    model = build().to(device)
    if path.is_file():
        try:
            state = torch.load(path, map_location=device, weights_only=True)
            model.load_state_dict(state["state_dict"])
            model.eval()
            meta = json.loads(state.get("meta", "{}"))
            _log_model(kind, config, True, meta.get("train_seconds"), meta.get("device"))
            _KEYS[model] = f"{kind}/{config_hash(kind, config)}"
            return model, True, meta
        except Exception as exc:  # damaged or incompatible file: retrain
            warnings.warn(f"ignoring damaged model cache {path} ({type(exc).__name__}: {exc}); retraining",
                          stacklevel=2)
    start = time.perf_counter()
    fitted = fit(model)
    seconds = time.perf_counter() - start
    model.eval()
    meta = {"train_seconds": round(seconds, 2), "device": prov.device_name(device),
            "torch": torch.__version__, "source_hash": prov.source_hash()}
    if hasattr(fitted, "to_dict"):
        meta["history"] = fitted.to_dict()
    buf = io.BytesIO()
    torch.save({"state_dict": {k: t.detach().cpu() for k, t in model.state_dict().items()},
                "config": _canonical(config), "meta": json.dumps(meta)}, buf)
    atomic_write_bytes(path, buf.getvalue())
    _log_model(kind, config, False, seconds, meta["device"])
    _KEYS[model] = f"{kind}/{config_hash(kind, config)}"
    return model, False, meta


def key_of(model: nn.Module) -> str | None:
    """The cache key ('kind/hash') of a model that came from :func:`fit_or_load`, else None."""
    return _KEYS.get(model)


def _log_model(kind: str, config: Any, cached: bool, train_seconds: float | None, device: str | None) -> None:
    log = _MODEL_LOG.get()
    if log is not None:
        log.append({"kind": kind, "hash": config_hash(kind, config), "cached": cached,
                    "train_seconds": train_seconds, "device": device})


def list_results(root: Path | str | None = None, profile: str | None = None) -> list[dict]:
    """One row per stored result: profile, kind, hash, and its provenance (damaged files are marked)."""
    root = Path(root) if root is not None else _default_results_root()
    rows = []
    for path in sorted(root.glob("*/*/*.json")):
        prof, kind = path.parent.parent.name, path.parent.name
        if kind == "claims":  # claim outcomes (kdbook.claims), not results
            continue
        if profile is not None and prof != profile:
            continue
        try:
            doc = json.loads(path.read_text())
            p = doc["provenance"]
            rows.append({"profile": prof, "kind": kind, "hash": path.stem, "seeds": p.get("seeds"),
                         "device": p.get("device_name"), "seconds": p.get("wall_seconds"),
                         "training_seconds": (p.get("models") or {}).get("training_seconds"),
                         "torch": p.get("torch"), "source": p.get("source_hash"), "git": p.get("git"),
                         "date": p.get("date"), "uncommitted": p.get("uncommitted_source")})
        except (ValueError, KeyError, TypeError):
            rows.append({"profile": prof, "kind": kind, "hash": path.stem, "device": "DAMAGED FILE"})
    return rows
