"""Chapter 7: the new augmentation policies, the per-epoch monitor, interpolated initialisation,
the pre-activation ResNet, the chapter's settings and seeds, its readings on hand-made results and its
smoke run (the independent baseline, teacher reports, students, long runs, starting points)."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from kdbook import augment as aug
from kdbook import claims, metrics
from kdbook.data import Split
from kdbook.errors import ConfigError
from kdbook.experiments import ch07_fidelity as ch07
from kdbook.reports import ch07_fidelity as report
from kdbook.store import StoredResult
from kdbook.models import ModelConfig, PreActResNet, build_model, count_parameters, interpolate_weights
from kdbook.losses import DistillConfig
from kdbook.train import TrainConfig, predict_probs, train


def test_rotation_by_90_degrees_is_rot90_and_by_0_is_identity():
    x = torch.rand(3, 1, 6, 6)
    assert torch.allclose(aug.rotate_by(x, torch.full((3,), 90.0)), torch.rot90(x, 1, (2, 3)), atol=1e-5)
    assert torch.allclose(aug.rotate_by(x, torch.zeros(3)), x, atol=1e-5)


def test_random_rotation_stays_within_its_range_and_follows_the_generator():
    x = torch.zeros(64, 1, 9, 9)
    x[:, :, 4, :] = 1.0  # a horizontal bar through the centre
    a = aug.rotate(x, 15.0, torch.Generator().manual_seed(1))
    b = aug.rotate(x, 15.0, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    # a rotation of at most 15 degrees keeps the bar's centre pixel and never reaches the corners
    assert (a[:, 0, 4, 4] > 0.9).all() and a[:, 0, 0, 0].abs().max() < 1e-6
    assert not torch.allclose(a[0], a[1])  # angles differ per image


def test_noise_has_the_stated_scale_and_is_seeded():
    x = torch.zeros(200, 1, 10, 10)
    a = aug.gaussian_noise(x, 0.1, torch.Generator().manual_seed(0))
    assert a.std().item() == pytest.approx(0.1, rel=0.05)
    assert torch.equal(a, aug.gaussian_noise(x, 0.1, torch.Generator().manual_seed(0)))


def test_mixup_makes_convex_combinations_of_two_images():
    n = 50
    x = torch.arange(n, dtype=torch.float32)[:, None, None, None].expand(n, 1, 4, 4).contiguous()
    out = aug.mixup_inputs(x, torch.Generator().manual_seed(0))
    assert torch.allclose(out, out[:, :, :1, :1].expand_as(out))  # each output is one constant image
    values = out[:, 0, 0, 0]
    assert (values >= -1e-6).all() and (values <= n - 1 + 1e-6).all()
    assert not torch.allclose(values, x[:, 0, 0, 0])  # images were actually mixed


def test_mixup_needs_a_teacher():
    data = Split(torch.rand(32, 1, 4, 4), torch.randint(0, 3, (32,)))
    model = build_model(ModelConfig("mlp", (8,)), (1, 4, 4), 3, seed=0)
    with pytest.raises(ConfigError, match="needs a teacher"):
        train(model, data, TrainConfig(epochs=1, batch_size=16, augment="mixup"))


def test_monitor_adds_a_number_per_epoch():
    data = Split(torch.rand(64, 1, 4, 4), torch.randint(0, 3, (64,)))
    model = build_model(ModelConfig("mlp", (8,)), (1, 4, 4), 3, seed=0)
    seen = []

    def monitor(m):
        seen.append(m.training)
        return {"probe": float(len(seen))}

    hist = train(model, data, TrainConfig(epochs=3, batch_size=16), monitor=monitor)
    assert hist.column("probe") == [1.0, 2.0, 3.0] and seen == [False, False, False]


def test_interpolated_weights_are_linear_in_lambda():
    cfg = ModelConfig("cnn", (4, 8))
    a, b = build_model(cfg, (1, 8, 8), 3, seed=0), build_model(cfg, (1, 8, 8), 3, seed=1)
    wa, wb = a.head.weight.clone(), b.head.weight.clone()
    interpolate_weights(a, b, 0.375)
    assert torch.allclose(a.head.weight, 0.625 * wa + 0.375 * wb)
    c = interpolate_weights(build_model(cfg, (1, 8, 8), 3, seed=0), b, 1.0)
    assert all(torch.equal(p, q) for p, q in zip(c.state_dict().values(), b.state_dict().values()))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        interpolate_weights(a, b, 1.5)


def test_interpolation_leaves_integer_buffers_alone():
    cfg = ModelConfig("resnet", (4, 8, 8), depth=8)
    a, b = build_model(cfg, (3, 16, 16), 5, seed=0), build_model(cfg, (3, 16, 16), 5, seed=1)
    b.train()
    b(torch.rand(4, 3, 16, 16))  # moves b's BN statistics and counters
    interpolate_weights(a, b, 0.5)
    counters = [t for k, t in a.state_dict().items() if k.endswith("num_batches_tracked")]
    assert counters and all(int(t) == 0 for t in counters)


def test_preact_resnet56_has_the_papers_size():
    model = build_model(ModelConfig("resnet", (16, 32, 64), depth=56), (3, 32, 32), 100, seed=0)
    assert isinstance(model, PreActResNet)
    # the CIFAR ResNet-56 has about 0.86 M parameters (He et al. 2016: 0.85 M)
    assert 0.80e6 < count_parameters(model) < 0.90e6
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 100)
    with pytest.raises(ConfigError, match="6n\\+2"):
        ModelConfig("resnet", (16, 32, 64), depth=55)


def test_self_distillation_from_the_teacher_start_keeps_agreement():
    """lambda = 1 starts the student at the teacher: agreement is 100% before training."""
    torch.manual_seed(0)
    data = Split(torch.rand(128, 1, 6, 6), torch.randint(0, 4, (128,)))
    cfg = ModelConfig("cnn", (4, 8))
    teacher = build_model(cfg, (1, 6, 6), 4, seed=0)
    train(teacher, data, TrainConfig(epochs=3, batch_size=32, lr=0.01, optimizer="adam"))
    student = interpolate_weights(build_model(cfg, (1, 6, 6), 4, seed=5), teacher, 1.0)
    assert metrics.agreement(predict_probs(teacher, data.x), predict_probs(student, data.x)) == 1.0
    train(student, data, TrainConfig(epochs=2, batch_size=32, lr=1e-4, optimizer="adam"),
          DistillConfig(T=4), teacher=teacher)
    assert metrics.agreement(predict_probs(teacher, data.x), predict_probs(student, data.x)) > 0.95


@pytest.mark.parametrize("change, message", [
    ({"policies": ("none", "cutout")}, "policies must be among"),
    ({"policies": ("crop_flip",)}, "include 'none'"),
    ({"lambdas": (0.0, 1.5)}, "lambdas must lie in"),
    ({"teacher_sizes": (3, 5)}, "must include 1"),
    ({"patience": 0.5}, "at least as long as their teachers"),
    ({"long_patience": 1.0}, "long_patience"),
    ({"teachers_from": "tiny"}, "chapter 5's profiles"),
    ({"student_grid": ()}, "student_grid"),
    ({"other_T": (4.0,)}, "other_T"),
])
def test_settings_are_validated(change, message):
    with pytest.raises(ConfigError, match=message):
        replace(ch07.SETTINGS["smoke"], **change)


def test_student_seeds_never_meet_chapter_5s():
    from kdbook.experiments import ch05_three_mysteries as ch05

    s = ch07.settings("full")
    ch05_seeds = set(s.ch05.deep.member_seeds) | {seed for i in range(s.ch05.deep.ensembles)
                                                   for seed in s.ch05.deep.student_seeds(i)}
    ch05_seeds |= {ch05.SELF_SEED + i for i in range(3)} | {ch05.AVERAGE_SEED + k for k in range(3000)}
    assert not ch05_seeds & {s.student_seed(i) for i in s.seeds}
    assert s.seeds == [0, 1, 2] and s.teacher_spec == ch05.deep_spec(ch05.settings("full"))


def test_convergence_verdict_reads_the_last_tenth():
    flat_end = [0.5 + 0.01 * e for e in range(50)] + [1.0] * 50
    assert ch07.converged(flat_end, 0.5)
    climbing = [0.01 * e for e in range(100)]  # one point per epoch: 10 points over the last tenth
    assert not ch07.converged(climbing, 0.5)
    assert not ch07.converged([0.9], 0.5)  # too short to say
    assert report.tail_rise(climbing) == pytest.approx(10.0)


def test_paired_differences_use_the_paired_rule():
    p = report.paired([91.0, 92.0, 93.0], [90.0, 90.5, 91.0])
    assert p["mean"] == pytest.approx(1.5) and p["std"] == pytest.approx(0.5) and p["relation"] == "higher than"
    assert report.paired([90.0, 92.0], [91.0, 91.0])["relation"] == "indistinguishable from"


def _init_result(curve: dict[float, list[float]]) -> dict:
    """A hand-made ``init`` part: per lambda, the train agreement (fractions) of each seed."""
    rows = [{"seed": i, "lambda": lam, "initial_train_agreement": lam, "train_agreement": a, "test_agreement": a,
             "train_kl": 0.0, "accuracy": 0.8, "converged": True, "train_agreement_curve": [a, a, a]}
            for lam, per_seed in curve.items() for i, a in enumerate(per_seed)]
    return {"init": StoredResult(value={"rows": rows}, provenance={}, config={}, path=Path("x"), cached=True)}


def _claim(cid):
    return next(c for c in report.CLAIMS if c.id == cid)


def test_lambda_claims_on_a_smooth_and_on_a_jumping_curve():
    smooth = _init_result({0.0: [0.80, 0.81, 0.82], 0.5: [0.90, 0.91, 0.915], 1.0: [0.99, 1.00, 1.00]})
    steps = report.lambda_steps(smooth["init"])
    assert steps["rise"].tolist() == pytest.approx([9.83333, 8.83333], abs=1e-4) and steps["clear"].all()
    assert _claim("ch07.agreement_rises_with_lambda").evaluate(smooth).holds
    assert _claim("ch07.lambda_curve_without_jump").evaluate(smooth).holds
    # flat, then a jump of 19 points between 0.375 and 0.5 (slope 152 against an average of 20)
    jump = _init_result({0.0: [0.80, 0.80, 0.80], 0.375: [0.80, 0.81, 0.79], 0.5: [0.99, 0.99, 0.99],
                         1.0: [1.00, 1.00, 1.00]})
    out = _claim("ch07.lambda_curve_without_jump").evaluate(jump)
    assert not out.holds and out.numbers["steepest_slope"] == pytest.approx(152.0)
    assert not _claim("ch07.agreement_rises_with_lambda").evaluate(jump).holds  # 0 -> 0.375 is not clear


def test_correlation_interval_is_fishers_and_includes_zero_for_weak_correlations():
    low, high = report.correlation_interval(0.33, 30)
    assert low < 0 < high and (low, high) == pytest.approx((-0.0365, 0.6166), abs=0.01)
    assert report.correlation_interval(0.9, 30)[0] > 0.7
    assert all(x != x for x in report.correlation_interval(0.5, 3))  # too few points: nan


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("ch07")
    mp.setenv("KDBOOK_RESULTS", str(root / "results"))
    mp.setenv("KDBOOK_CACHE", str(root / "cache"))
    try:
        yield ch07.run("smoke")
    finally:
        mp.undo()


def test_smoke_baseline_has_every_pair_twins_and_teacher_reports(smoke):
    s = ch07.settings("smoke")
    base = smoke["baseline"].value
    n = len(s.ch05.deep.member_seeds)
    assert len(base["pairs"]) == n * (n - 1) // 2
    assert [r["members"] for r in base["teacher_reports"]] == list(s.teacher_sizes)
    assert all({"train_accuracy", "val_accuracy", "val_advantage", "has_advantage"} <= set(r)
               for r in base["teacher_reports"])
    assert len(base["twins"]) == len(s.seeds) and base["twin_lr"] in s.student_grid
    table = report.baseline_table(smoke["baseline"])
    assert len(table) == 1 + len(s.teacher_sizes) and (table["test"].between(0, 100)).all()


def test_smoke_run_measures_every_student(smoke):
    s = ch07.settings("smoke")
    fid = smoke["fidelity"].value
    students = fid["students"]
    assert len(students) == len(s.seeds) * len(s.teacher_sizes)
    assert fid["epochs"]["students"] >= 1.5 * fid["epochs"]["members"] - 1
    for r in students:
        assert 0 <= r["test_agreement"] <= 1 and 0 <= r["train_agreement"] <= 1 and 0 <= r["val_agreement"] <= 1
        assert r["test_kl"] >= 0 and r["train_kl"] >= 0 and 0 <= r["ece"] <= 1
        assert len(r["val_agreement_curve"]) == fid["epochs"]["students"]
    table = report.student_table(smoke["fidelity"])
    assert list(table.index) == list(s.teacher_sizes)
    assert {"teacher accuracy", "train_agreement", "test_kl", "ece std"} <= set(table.columns)
    aug_table = report.augmentation_table(smoke["augmentation"])
    assert set(aug_table.index) == set(s.policies)
    # each teacher was trained under the policy it labels, except mixup's (its inputs have no label)
    assert aug_table.loc["crop_flip", "teacher trained under"] == "crop_flip"
    assert aug_table.loc["mixup", "teacher trained under"] == "none"


def test_smoke_temperature_students_pair_with_the_first_table(smoke):
    s = ch07.settings("smoke")
    rows = smoke["temperature"].value["rows"]
    assert sorted({r["T"] for r in rows}) == sorted(s.other_T) and len(rows) == len(s.seeds) * len(s.other_T)
    table = report.temperature_table(smoke)
    assert sorted(table.index) == sorted([s.T, *s.other_T])
    assert "T = 1" in report.readings(smoke)["reading_temperature"]


def test_smoke_long_runs_and_interpolation(smoke):
    s = ch07.settings("smoke")
    long = smoke["long"].value
    assert long["epochs"] >= smoke["fidelity"].value["epochs"]["students"]
    assert all(len(r["train_agreement_curve"]) == long["epochs"] for r in long["rows"])
    init = report.init_table(smoke["init"])
    assert list(init.index) == list(s.lambdas) and "converged runs" in init
    # lambda = 1 starts at the teacher; lambda = 0 at a random net
    assert init.loc[1.0, "initial_train_agreement"] == pytest.approx(100.0)
    assert init.loc[0.0, "initial_train_agreement"] < 60


def test_smoke_readings_claims_and_paper_table(smoke):
    h = report.headline(smoke)
    texts = report.readings(smoke)
    assert all(isinstance(t, str) and t for t in texts.values()) and "nan" not in texts["reading_m1"]
    table = report.ours_vs_paper(h)
    assert table.loc["test agreement, mixup (CIFAR-100 in the paper)", "paper"] == report.PAPER["test_agreement_mixup"]
    assert table.loc["test agreement, crop + flip (CIFAR-100 in the paper)", "ours"] == pytest.approx(
        h["aug_crop_flip_test_agreement"])
    assert table.loc["test agreement, teacher of 1 (ImageNet in the paper)", "ours minus independent twin"] == \
        pytest.approx(h["m1_test_agreement"] - h["twin_m1_test_agreement"], abs=1e-6)
    outcomes = claims.evaluate(report.CLAIMS, smoke)
    assert len(outcomes) == len(report.CLAIMS) and {o.source for o in outcomes} == {"paper", "prose"}
    assert "ch07.student_beats_independent_agreement" in {o.id for o in outcomes}
    values = report.glue_values(smoke)
    assert values["ch07_paper_claims"] == sum(o.source == "paper" for o in outcomes)


def test_vectorised_members_refuse_mixup():
    from kdbook.vectorized import train_members

    data = Split(torch.rand(32, 1, 4, 4), torch.randint(0, 3, (32,)))
    with pytest.raises(ConfigError, match="needs a teacher"):
        train_members(ModelConfig("mlp", (8,)), data, TrainConfig(epochs=1, augment="mixup"), [0, 1], (1, 4, 4), 3)
