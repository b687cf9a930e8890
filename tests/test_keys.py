"""Keys and staleness: each part's result is keyed by the settings it reads, a model's cache key is
derived from what defines its run, and `kdbook verify` tells stored results from current ones."""

import dataclasses
import subprocess
import sys
from dataclasses import dataclass

import pytest
import torch

from kdbook import ConfigError
from kdbook.data import Split, load_dataset
from kdbook.experiments import CHAPTERS, chapter
from kdbook.experiments.common import Part, part_config, run_key, run_parts, teacher_key, trained_members, trained_model
from kdbook.losses import DistillObjective
from kdbook.models import ModelConfig, build_model
from kdbook.store import config_hash
from kdbook.teachers import Ensemble
from kdbook.train import TrainConfig
from kdbook.verify import compare_values


@dataclass(frozen=True)
class Toy:
    a: int
    b: int
    c: int = 3


def test_a_part_is_keyed_by_the_settings_it_reads_only():
    part_a = ("a",)
    assert config_hash("k", part_config(Toy(1, 2), part_a)) == config_hash("k", part_config(Toy(1, 99), part_a))
    assert config_hash("k", part_config(Toy(1, 2), part_a)) != config_hash("k", part_config(Toy(5, 2), part_a))


def test_a_part_reading_every_field_keys_like_the_whole_settings():
    for s in (Toy(1, 2), Toy(1, 2, c=4)):
        every = tuple(f.name for f in dataclasses.fields(Toy))
        assert config_hash("k", part_config(s, every)) == config_hash("k", s)


def test_a_part_that_reads_an_undeclared_setting_fails():
    sneaky = Part("toy-x", lambda s, device: {"value": s.a + s.b}, ("a",))
    with pytest.raises(ConfigError, match="toy-x reads settings it does not declare in its key: b"):
        run_parts([sneaky], Toy(1, 2), profile="smoke", device="cpu", recompute=True, seeds=[0])
    honest = Part("toy-y", lambda s, device: {"value": s.a + s.b}, ("a", "b"))
    assert run_parts([honest], Toy(1, 2), profile="smoke", device="cpu", recompute=True, seeds=[0])["y"].value == {
        "value": 3}


@pytest.mark.parametrize("name", list(CHAPTERS))
def test_every_chapter_part_declares_data_settings_that_exist(name):
    mod = chapter(name)
    for profile in ("smoke", "full", "paper"):
        s = mod.settings(profile)
        for part in mod.PARTS:
            part_config(s, part.reads)  # raises on a method or a missing name


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", train_limit=200)


def test_a_students_key_names_its_teacher_by_the_teachers_own_key(digits):
    cfg = TrainConfig(epochs=1, batch_size=50)
    mcfg = ModelConfig("mlp", (8,))
    t0, t1 = (trained_model("toy-teacher", digits, "digits", mcfg, cfg, s) for s in (0, 1))
    k0 = run_key("digits", mcfg, cfg, objective=DistillObjective(), teacher=t0)
    k1 = run_key("digits", mcfg, cfg, objective=DistillObjective(), teacher=t1)
    assert k0["teacher"].startswith("toy-teacher/") and k0["teacher"] != k1["teacher"]
    assert k0["objective"] == DistillObjective() and "objective" not in run_key("digits", mcfg, cfg)
    members = trained_members("toy-member", digits, "digits", mcfg, cfg, [3, 4])
    ens = run_key("digits", mcfg, cfg, teacher=Ensemble(members, "geometric"))["teacher"]
    assert ens["combine"] == "geometric" and len(ens["ensemble"]) == 2
    with pytest.raises(ConfigError, match="must itself come from the model cache"):
        teacher_key(build_model(mcfg, digits.input_shape, digits.num_classes, seed=0))


def test_a_subset_has_its_own_origin_so_models_on_it_key_apart(digits):
    a = digits.train.subset(torch.arange(50))
    b = digits.train.subset(torch.arange(50, 100))
    mask = torch.zeros(len(digits.train), dtype=torch.bool)
    mask[:50] = True
    assert a.origin != b.origin and a.origin == digits.train.subset(mask).origin
    assert digits.train.origin is None and Split(a.x, a.y).origin is None
    cfg, mcfg = TrainConfig(epochs=1), ModelConfig("mlp", (8,))
    assert run_key("digits", mcfg, cfg, data=a) != run_key("digits", mcfg, cfg, data=b)


def test_fixed_teacher_logits_without_a_spec_are_refused(digits):
    with pytest.raises(ConfigError, match="teacher_spec"):
        trained_model("toy", digits, "digits", ModelConfig("mlp", (8,)), TrainConfig(epochs=1), 0,
                      objective=DistillObjective(), teacher_logits=torch.zeros(len(digits.train), 10))


def test_compare_values_reports_numbers_beyond_tolerance_and_ignores_timings():
    stored = {"rows": [{"acc": 0.5, "seconds": 3.0}], "name": "a", "nan": float("nan")}
    same = {"rows": [{"acc": 0.5 + 1e-6, "seconds": 9.0}], "name": "a", "nan": float("nan")}
    assert compare_values(stored, same) == []
    other = {"rows": [{"acc": 0.6, "seconds": 3.0}], "name": "b", "extra": 1}
    assert compare_values(stored, other) == ["extra: only in the recomputed result", "nan: only in the stored result",
                                             "name: stored 'a', recomputed 'b'",
                                             "rows[0].acc: stored 0.5, recomputed 0.6"]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "kdbook", *args], capture_output=True, text=True, timeout=300)


def test_verify_lists_the_stored_results_with_their_status(monkeypatch):
    from kdbook.store import REPO_ROOT

    monkeypatch.setenv("KDBOOK_RESULTS", str(REPO_ROOT / "results"))
    out = _cli("verify")
    assert out.returncode == 0, out.stderr
    assert "ch02-main" in out.stdout and "stored full results" in out.stdout
    assert "orphan" not in out.stdout  # every stored result is reachable from the current settings


def test_profiles_lists_each_chapters_own_seeds():
    out = _cli("profiles")
    assert out.returncode == 0 and "ch02 seeds [0, 1]" in out.stdout.split("full:")[0]


def test_kdbook_train_refuses_an_infinite_temperature():
    out = _cli("train", "--teacher-widths", "16", "--T", "inf", "--epochs", "1")
    assert out.returncode == 2 and "T must be finite, got inf" in out.stderr


def test_recomputing_a_stored_result_from_scratch_reproduces_it():
    from kdbook.verify import recompute_and_compare

    stored = chapter("ch06").run("smoke", "cpu")["multiview"]
    [(kind, problems, seconds)] = list(recompute_and_compare(["ch06-multiview"], "smoke"))
    assert kind == "ch06-multiview" and problems == [] and seconds > 0
    assert stored.path.is_file()  # the stored result is left alone without store_if_same
    with pytest.raises(KeyError, match="unknown result kind"):
        list(recompute_and_compare(["ch99-nothing"], "smoke"))
