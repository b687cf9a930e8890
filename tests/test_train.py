import pytest
import torch

from kdbook import ConfigError, TrainingDiverged
from kdbook.data import load_dataset
from kdbook.models import ModelConfig, build_model
from kdbook.teachers import Ensemble, freeze
from kdbook.losses import DistillConfig
from kdbook.train import TrainConfig, evaluate, label_objective, predict_logits, train


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _mlp(ds, widths=(64,), seed=0):
    return build_model(ModelConfig("mlp", widths), ds.input_shape, ds.num_classes, seed=seed)


def test_short_training_run_learns(digits):
    model = _mlp(digits)
    before = evaluate(model, digits.test)["accuracy"]
    hist = train(model, digits.train, TrainConfig(epochs=8, batch_size=32, lr=0.1), val=digits.val)
    after = evaluate(model, digits.test)["accuracy"]
    assert before < 0.3 and after > 0.9
    assert hist.column("loss")[-1] < hist.column("loss")[0] / 3
    assert len(hist.epochs) == 8 and "val_accuracy" in hist.epochs[-1]


def test_training_is_deterministic_on_cpu(digits):
    cfg = TrainConfig(epochs=2, batch_size=32, lr=0.05, augment="jitter", augment_px=1, seed=3)
    a, b = _mlp(digits, seed=3), _mlp(digits, seed=3)
    train(a, digits.train, cfg)
    train(b, digits.train, cfg)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    c = _mlp(digits, seed=3)
    train(c, digits.train, TrainConfig(**{**cfg.__dict__, "seed": 4}))
    assert not torch.equal(next(a.parameters()), next(c.parameters()))


class CountingTeacher(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model, self.calls = model, 0

    def forward(self, x):
        self.calls += 1
        return self.model(x)


def test_distillation_keeps_teacher_frozen_and_caches_its_outputs(digits):
    teacher = _mlp(digits, (128,), seed=1)
    train(teacher, digits.train, TrainConfig(epochs=5, batch_size=32, lr=0.1))
    freeze(teacher)
    before = [p.clone() for p in teacher.parameters()]
    counting = CountingTeacher(teacher)
    student = _mlp(digits, (32,), seed=2)
    cfg = TrainConfig(epochs=4, batch_size=32, lr=0.1)
    train(student, digits.train, cfg, DistillConfig(T=4.0), teacher=counting)
    assert counting.calls == 1  # one pass over the transfer set, not one per step
    assert not teacher.training and all(not p.requires_grad for p in teacher.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.parameters()))
    t_pred = predict_logits(teacher, digits.test.x).argmax(-1)
    s_pred = predict_logits(student, digits.test.x).argmax(-1)
    assert (t_pred == s_pred).float().mean() > 0.85  # the student learned the teacher's function

    augmented = CountingTeacher(teacher)
    train(_mlp(digits, (32,), seed=2), digits.train, TrainConfig(epochs=1, batch_size=32, augment="jitter"),
          DistillConfig(T=4.0), teacher=augmented)
    assert augmented.calls == (len(digits.train) + 31) // 32  # augmented inputs: per batch


def test_distill_objective_returns_named_losses(digits):
    z, v, y = torch.randn(4, 10), torch.randn(4, 10), torch.tensor([0, 1, 2, 3])
    assert set(DistillConfig(alpha=1.0)(z, y, v)) == {"soft"}
    assert set(DistillConfig(alpha=0.7)(z, y, v)) == {"soft", "hard"}
    assert set(label_objective(z, y)) == {"ce"}


def test_ensemble_teacher_combines_members(digits):
    members = [freeze(_mlp(digits, seed=s)) for s in range(3)]
    ens = Ensemble(members)
    x = digits.test.x[:5]
    expected = torch.stack([m(x).softmax(-1) for m in members]).mean(0)
    assert torch.allclose(ens(x).softmax(-1), expected, atol=1e-6)


def test_nan_loss_stops_with_a_message(digits):
    model = _mlp(digits)

    def exploding(logits, labels, t):
        return {"ce": logits.sum() * float("nan")}

    with pytest.raises(TrainingDiverged, match=r"exp-nan: loss is nan at epoch 1, step 1 \(lr 0\.05"):
        train(model, digits.train, TrainConfig(epochs=1, lr=0.05), exploding, name="exp-nan")


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, "epochs must be an integer >= 1"),
    ({"lr": -0.1}, "lr must be a number > 0"),
    ({"optimizer": "lbfgs"}, "optimizer must be one of adam, sgd"),
    ({"seed": 1.5}, "seed must be an integer >= 0"),
    ({"augment": "cutout"}, "augment must be one of"),
])
def test_train_config_validation(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"T": 0}, "T must be a number > 0"),
    ({"T": -2.0}, "T must be a number > 0"),
    ({"alpha": -0.1}, r"alpha must be a number in \[0, 1\]"),
    ({"soft_loss": "mse"}, "soft_loss must be one of"),
    ({"T": float("inf")}, "T must be finite"),
])
def test_distill_config_validation(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        DistillConfig(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"widths": (0, 10)}, "widths must hold integers >= 1"),
    ({"kind": "transformer"}, "model kind must be one of cnn, convnet, mlp"),
    ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\)"),
])
def test_model_config_validation(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig(**kwargs)


def test_small_cnn_learns_digits(digits):
    model = build_model(ModelConfig("cnn", (16, 32)), digits.input_shape, digits.num_classes, seed=0)
    train(model, digits.train, TrainConfig(epochs=6, batch_size=32, lr=0.1))
    assert evaluate(model, digits.test)["accuracy"] > 0.8
