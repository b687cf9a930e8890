"""bf16 autocast and torch.compile are switches that leave results equal within tolerance."""

import pytest
import torch

from kdbook import ConfigError
from kdbook.data import load_dataset
from kdbook.models import ModelConfig, build_model
from kdbook.train import TrainConfig, evaluate, train


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _fit(ds, **kw):
    model = build_model(ModelConfig("mlp", (64,)), ds.input_shape, ds.num_classes, seed=0)
    hist = train(model, ds.train, TrainConfig(epochs=6, batch_size=32, lr=0.1, **kw))
    return model, hist


def test_bf16_autocast_matches_fp32_within_tolerance(digits):
    fp32, h32 = _fit(digits)
    bf16, h16 = _fit(digits, precision="bf16")
    assert h16.epochs[0]["loss"] == pytest.approx(h32.epochs[0]["loss"], rel=0.02)
    a32, a16 = evaluate(fp32, digits.test)["accuracy"], evaluate(bf16, digits.test)["accuracy"]
    assert a16 > 0.9 and abs(a16 - a32) < 0.03
    assert not all(torch.equal(p, q) for p, q in zip(fp32.parameters(), bf16.parameters()))  # it did run in bf16


@pytest.mark.slow
def test_compiled_training_matches_eager(digits):
    eager, _ = _fit(digits)
    compiled, _ = _fit(digits, compile=True)
    for p, q in zip(eager.parameters(), compiled.parameters()):
        assert torch.allclose(p, q, atol=1e-4)


def test_unknown_precision_is_rejected():
    with pytest.raises(ConfigError, match="precision must be one of bf16, fp32"):
        TrainConfig(precision="fp8")


def test_a_bf16_run_runs_its_live_teacher_in_bf16_and_still_learns(digits):
    from kdbook.losses import DistillObjective

    teacher, _ = _fit(digits)
    dtypes = []
    hook = teacher.head.register_forward_hook(lambda m, i, out: dtypes.append(out.dtype))
    student = build_model(ModelConfig("mlp", (32,)), digits.input_shape, digits.num_classes, seed=1)
    cfg = TrainConfig(epochs=4, batch_size=32, lr=0.1, precision="bf16", augment="jitter", augment_px=1)
    train(student, digits.train, cfg, DistillObjective(T=4.0, alpha=0.5), teacher=teacher, progress=False)
    hook.remove()
    assert dtypes and set(dtypes) == {torch.bfloat16}  # the teacher labelled every augmented batch in bf16
    assert evaluate(student, digits.test)["accuracy"] > 0.85
