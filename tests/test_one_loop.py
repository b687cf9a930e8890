"""One objective, one loop: the trainer minimises exactly `kd_loss`; single-model and vectorised
runs share consistent teaching, the fixed-teacher switch, clipping and the objective checks."""

import pytest
import torch
import torch.nn.functional as F

from kdbook import ConfigError
from kdbook.data import load_dataset
from kdbook.losses import DistillObjective, HintObjective, LabelObjective, kd_loss, kd_terms
from kdbook.models import ModelConfig, build_model
from kdbook.teachers import freeze
from kdbook.train import TrainConfig, predict_logits, train
from kdbook.vectorized import train_members


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", train_limit=256)


def _mlp(ds, widths=(16,), seed=0):
    return build_model(ModelConfig("mlp", widths), ds.input_shape, ds.num_classes, seed=seed)


class Counting(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model, self.calls, self.inputs = model, 0, []

    def forward(self, x):
        self.calls += 1
        self.inputs.append(x.clone())
        return self.model(x)


@pytest.mark.parametrize("objective", [DistillObjective(T=3.0, alpha=0.6), DistillObjective(T=2.0, scale_T2=False),
                                       DistillObjective(T=5.0, soft_loss="soft_ce"),
                                       DistillObjective(T=5.0, alpha=0.5, soft_loss="logit_mse")])
def test_the_trainer_minimises_kd_loss_itself(digits, objective):
    teacher = freeze(_mlp(digits, (32,), seed=9))
    student, manual = _mlp(digits, seed=1), _mlp(digits, seed=1)
    n = len(digits.train)
    cfg = TrainConfig(epochs=1, batch_size=n, lr=0.5, momentum=0.0, schedule="constant")
    train(student, digits.train, cfg, objective, teacher=teacher)
    x, y = digits.train.x, digits.train.y  # one full batch: the order does not matter
    loss = kd_loss(manual(x), teacher(x).detach(), objective.T, labels=y, alpha=objective.alpha,
                   soft_loss=objective.soft_loss, scale_T2=objective.scale_T2)
    grads = torch.autograd.grad(loss, list(manual.parameters()))
    with torch.no_grad():
        for p, g in zip(manual.parameters(), grads):
            p -= 0.5 * g
    for a, b in zip(student.parameters(), manual.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_objective_terms_sum_to_kd_loss():
    torch.manual_seed(0)
    z, v, y = torch.randn(6, 5), torch.randn(6, 5), torch.randint(0, 5, (6,))
    obj = DistillObjective(T=4.0, alpha=0.3)
    terms = obj(z, y, v)
    assert set(terms) == {"soft", "hard"}
    assert sum(terms.values()).item() == pytest.approx(kd_loss(z, v, 4.0, labels=y, alpha=0.3).item())
    assert kd_terms(z, v, 4.0)["soft"].item() == pytest.approx(16 * F.kl_div(
        F.log_softmax(z / 4, -1), F.softmax(v / 4, -1), reduction="batchmean").item(), rel=1e-6)


def test_label_smoothing_objective():
    z, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    assert LabelObjective(0.1)(z, y)["ce"].item() == pytest.approx(F.cross_entropy(z, y, label_smoothing=0.1).item())
    with pytest.raises(ConfigError, match="label_smoothing"):
        LabelObjective(1.0)


def test_hint_objective_validates_its_config():
    with pytest.raises(ConfigError, match="soft_weight"):
        HintObjective(10, soft_weight=1.5)


def test_mixup_with_a_label_term_is_refused(digits):
    teacher = freeze(_mlp(digits, seed=2))
    cfg = TrainConfig(epochs=1, batch_size=64, augment="mixup")
    with pytest.raises(ConfigError, match="mixes inputs but not labels"):
        train(_mlp(digits), digits.train, cfg, DistillObjective(alpha=0.5), teacher=teacher)
    with pytest.raises(ConfigError, match="mixes inputs but not labels"):
        train(_mlp(digits), digits.train, cfg, LabelObjective(), teacher=teacher)
    train(_mlp(digits), digits.train, cfg, DistillObjective(alpha=1.0), teacher=teacher)  # pure KD is fine


def test_consistent_teaching_labels_the_students_view_and_fixed_teaching_the_clean_images(digits):
    teacher = freeze(_mlp(digits, seed=2))
    live = Counting(teacher)
    cfg = TrainConfig(epochs=1, batch_size=64, augment="jitter", augment_px=2)
    train(_mlp(digits), digits.train, cfg, DistillObjective(), teacher=live)
    assert live.calls == 4 and not any(torch.equal(x, digits.train.x[:len(x)]) for x in live.inputs)
    fixed = Counting(teacher)
    train(_mlp(digits), digits.train, TrainConfig(**{**cfg.__dict__, "fixed_teacher": True}), DistillObjective(),
          teacher=fixed)
    assert fixed.calls == 1 and torch.equal(fixed.inputs[0], digits.train.x)


def test_gradient_clipping_bounds_each_step(digits):
    model, start = _mlp(digits, seed=3), _mlp(digits, seed=3)
    cfg = TrainConfig(epochs=1, batch_size=len(digits.train), lr=1.0, momentum=0.0, schedule="constant",
                      clip_grad_norm=0.01)
    train(model, digits.train, cfg)
    step = torch.cat([(a - b).flatten() for a, b in zip(model.parameters(), start.parameters())]).norm()
    assert 0 < step.item() <= 0.01 + 1e-6


def test_an_objective_that_needs_a_teacher_says_so(digits):
    with pytest.raises(ConfigError, match="needs a teacher"):
        train(_mlp(digits), digits.train, TrainConfig(epochs=1), DistillObjective())


def test_vectorised_members_with_a_live_teacher_equal_one_by_one(digits):
    teacher = freeze(_mlp(digits, (32,), seed=9))
    mcfg = ModelConfig("mlp", (16,))
    cfg = TrainConfig(epochs=2, batch_size=32, lr=0.1, augment="jitter", augment_px=1)
    together, _ = train_members(mcfg, digits.train, cfg, [4, 5], digits.input_shape, digits.num_classes,
                                DistillObjective(T=3.0, alpha=0.8), teacher=teacher)
    for seed, member in zip([4, 5], together):
        alone = _mlp(digits, seed=seed)
        train(alone, digits.train, cfg.with_seed(seed), DistillObjective(T=3.0, alpha=0.8), teacher=teacher)
        x = digits.test.x
        assert torch.allclose(predict_logits(member, x), predict_logits(alone, x), atol=1e-5)


def test_vectorised_runs_refuse_per_network_validation(digits):
    from kdbook.train import fit
    from kdbook.vectorized import StackedMembers

    members = [_mlp(digits, seed=s) for s in (0, 1)]
    cfg = TrainConfig(epochs=1, early_stopping=True)
    with pytest.raises(ConfigError, match="per network"):
        fit(StackedMembers(members, cfg, [0, 1]), digits.train, cfg, val=digits.val)


def test_infinite_temperature_is_refused():
    with pytest.raises(ConfigError, match="T must be finite"):
        DistillObjective(T=float("inf"))
    with pytest.raises(ConfigError, match="T must be finite"):
        kd_loss(torch.zeros(1, 2), torch.zeros(1, 2), float("inf"))


def test_vectorised_members_resume_from_a_checkpoint_like_an_uninterrupted_run(digits, tmp_path, monkeypatch):
    import kdbook.train as train_module

    mcfg = ModelConfig("mlp", (16,))
    cfg = TrainConfig(epochs=3, batch_size=32, lr=0.1, augment="jitter", augment_px=1)
    straight, _ = train_members(mcfg, digits.train, cfg, [1, 2], digits.input_shape, digits.num_classes)
    ckpt = tmp_path / "members.ckpt"
    real_step, calls = train_module.optimizer_step, {"n": 0}

    def interrupted_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 8 + 3:  # 8 steps per epoch: stop inside the second epoch
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(train_module, "optimizer_step", interrupted_step)
    with pytest.raises(KeyboardInterrupt):
        train_members(mcfg, digits.train, cfg, [1, 2], digits.input_shape, digits.num_classes, checkpoint=ckpt)
    assert ckpt.is_file()
    monkeypatch.setattr(train_module, "optimizer_step", real_step)
    resumed, history = train_members(mcfg, digits.train, cfg, [1, 2], digits.input_shape, digits.num_classes,
                                     checkpoint=ckpt)
    assert history.resumed_at == 1 and not ckpt.exists()
    for a, b in zip(straight, resumed):
        for pa, pb in zip(a.parameters(), b.parameters()):
            assert torch.equal(pa, pb)


def test_hint_objective_terms_by_hand():
    torch.manual_seed(5)
    out, teacher_out, y = torch.randn(4, 3 + 2), torch.randn(4, 3 + 2), torch.tensor([0, 1, 2, 0])
    terms = HintObjective(3, T=2.0, soft_weight=0.7, hint_weight=0.5)(out, y, teacher_out)
    z, t = out[:, :3], teacher_out[:, :3]
    assert terms["hard"].item() == pytest.approx(0.3 * F.cross_entropy(z, y).item())
    assert terms["soft"].item() == pytest.approx(0.7 * kd_loss(z, t, 2.0).item())
    assert terms["hint"].item() == pytest.approx(0.5 * F.mse_loss(out[:, 3:], teacher_out[:, 3:]).item())
