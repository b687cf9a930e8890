import json

import pytest
import torch

from kdbook.models import ModelConfig, build_model
from kdbook.store import ResultStore, config_hash, list_results, run_or_load, train_or_load
from kdbook.train import TrainConfig


def test_config_hash_is_stable_and_sensitive():
    a = {"model": ModelConfig("mlp", (10,)), "train": TrainConfig(epochs=2)}
    b = {"model": ModelConfig("mlp", (10,)), "train": TrainConfig(epochs=2)}
    c = {"model": ModelConfig("mlp", (11,)), "train": TrainConfig(epochs=2)}
    assert config_hash("k", a) == config_hash("k", b) != config_hash("k", c)
    assert config_hash("k", a) != config_hash("other", a)


def test_run_or_load_computes_once_and_records_provenance(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"accuracy": torch.tensor(0.5), "curve": [1, 2, 3]}

    store = ResultStore(tmp_path)
    first = run_or_load("exp", {"x": 1}, compute, profile="smoke", seeds=[0, 1], store=store)
    second = run_or_load("exp", {"x": 1}, compute, profile="smoke", seeds=[0, 1], store=store)
    assert len(calls) == 1 and not first.cached and second.cached
    assert second.value == {"accuracy": 0.5, "curve": [1, 2, 3]}
    for key in ("profile", "seeds", "device", "torch", "source_hash", "wall_seconds", "date", "kdbook"):
        assert key in second.provenance
    assert second.provenance["seeds"] == [0, 1]
    run_or_load("exp", {"x": 2}, compute, profile="smoke", seeds=[0], store=store)
    assert len(calls) == 2
    assert {r["kind"] for r in list_results(tmp_path)} == {"exp"}
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temporary files


@pytest.mark.parametrize("damage", [
    lambda text: text[: len(text) // 2],                              # truncated
    lambda text: text.replace('"curve"', '"curve_"'),                 # edited: checksum fails
    lambda text: "",                                                  # empty
])
def test_damaged_result_is_reported_and_recomputed(tmp_path, damage):
    store = ResultStore(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"curve": [1, 2, 3]}

    res = run_or_load("exp", {"x": 1}, compute, profile="full", seeds=[0], store=store)
    res.path.write_text(damage(res.path.read_text()))
    with pytest.warns(UserWarning, match="ignoring damaged result"):
        again = run_or_load("exp", {"x": 1}, compute, profile="full", seeds=[0], store=store)
    assert len(calls) == 2 and not again.cached
    assert json.loads(again.path.read_text())["value"] == {"curve": [1, 2, 3]}


def test_train_or_load_round_trip_and_damage(tmp_path):
    cfg = ModelConfig("mlp", (8,))
    build = lambda: build_model(cfg, (1, 4, 4), 3, seed=0)  # noqa: E731
    fits = []

    def fit(model):
        fits.append(1)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)

    a, cached_a = train_or_load("m", {"cfg": cfg}, build, fit, root=tmp_path)
    b, cached_b = train_or_load("m", {"cfg": cfg}, build, fit, root=tmp_path)
    assert (cached_a, cached_b, len(fits)) == (False, True, 1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    (path,) = list(tmp_path.rglob("*.pt"))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(UserWarning, match="ignoring damaged model cache"):
        c, cached_c = train_or_load("m", {"cfg": cfg}, build, fit, root=tmp_path)
    assert not cached_c and len(fits) == 2


def test_new_config_field_at_its_default_keeps_the_hash():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Old:
        a: int = 1

    @dataclass(frozen=True)
    class New:
        a: int = 1
        b: float = 0.0  # added later; the default keeps the old behaviour

    assert config_hash("k", {"c": Old(a=2)}) == config_hash("k", {"c": New(a=2)})
    assert config_hash("k", {"c": Old(a=2)}) != config_hash("k", {"c": New(a=2, b=1.0)})


def test_provenance_counts_models_trained_and_loaded(tmp_path):
    cfg = ModelConfig("mlp", (4,))
    build = lambda: build_model(cfg, (1, 2, 2), 2, seed=0)  # noqa: E731

    def compute():
        train_or_load("m", {"cfg": cfg}, build, lambda m: None, root=tmp_path / "models")
        return {"ok": 1}

    store = ResultStore(tmp_path / "results")
    first = run_or_load("exp", {"a": 1}, compute, profile="smoke", seeds=[0], store=store)
    second = run_or_load("exp", {"a": 2}, compute, profile="smoke", seeds=[0], store=store)
    assert first.provenance["models"]["count"] == 1 and first.provenance["models"]["loaded_from_cache"] == 0
    assert second.provenance["models"]["loaded_from_cache"] == 1
    assert "trained earlier" in second.describe()


def test_nothing_in_the_library_unpickles_arbitrary_objects():
    """Every torch.load in the library passes weights_only=True, and nothing imports pickle."""
    import re

    from kdbook.store import REPO_ROOT

    for path in (REPO_ROOT / "src" / "kdbook").rglob("*.py"):
        text = path.read_text()
        for call in re.finditer(r"torch\.load\(([^)]*)\)", text):
            assert "weights_only=True" in call.group(1), f"{path.name}: {call.group(0)}"
        assert not re.search(r"^\s*(import pickle|from pickle|import dill|import joblib)", text, re.M), path.name
