"""Members trained together in one vectorised step equal members trained one by one."""

import pytest
import torch

from kdbook import ConfigError
from kdbook.data import load_dataset
from kdbook.models import ModelConfig, build_model
from kdbook.losses import DistillConfig
from kdbook.train import TrainConfig, predict_logits, train
from kdbook.vectorized import StackedConvNet, StackedMLP, VmapMembers, stack_members, train_members


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", train_limit=400)


def _one_by_one(mcfg, ds, cfg, seeds, objective=None, teacher=None):
    out = []
    for s in seeds:
        m = build_model(mcfg, ds.input_shape, ds.num_classes, seed=s)
        kwargs = {} if objective is None else {"teacher": teacher}
        train(m, ds.train, TrainConfig(**{**cfg.__dict__, "seed": s}), *( [objective] if objective else []), **kwargs)
        out.append(m)
    return out


def _assert_same(a_list, b_list, atol):
    for a, b in zip(a_list, b_list):
        for pa, pb in zip(a.parameters(), b.parameters()):
            assert torch.allclose(pa, pb, atol=atol)
        for (name, ba), (_, bb) in zip(a.named_buffers(), b.named_buffers()):  # BatchNorm's running statistics
            assert torch.allclose(ba.float(), bb.float(), atol=atol), name


@pytest.mark.parametrize("mcfg, stacked_type", [
    (ModelConfig("mlp", (48, 24)), StackedMLP),
    (ModelConfig("cnn", (4, 8)), VmapMembers),
    (ModelConfig("convnet", (4, 8), hidden=(16,)), StackedConvNet),
])
def test_vectorised_members_match_one_by_one(digits, mcfg, stacked_type):
    cfg = TrainConfig(epochs=2, batch_size=32, lr=0.05, augment="jitter", augment_px=1)
    seeds = [0, 1, 5]
    members = [build_model(mcfg, digits.input_shape, 10, seed=s) for s in seeds]
    assert isinstance(stack_members(members), stacked_type)
    together, hist = train_members(mcfg, digits.train, cfg, seeds, digits.input_shape, 10)
    alone = _one_by_one(mcfg, digits, cfg, seeds)
    _assert_same(together, alone, atol=1e-5)
    assert len(hist.epochs) == 2 and hist.epochs[-1]["loss"] < hist.epochs[0]["loss"]
    # different seeds really give different members
    assert not torch.allclose(next(together[0].parameters()), next(together[1].parameters()))


def test_vectorised_distillation_from_cached_teacher(digits):
    teacher = build_model(ModelConfig("mlp", (64,)), digits.input_shape, 10, seed=9)
    train(teacher, digits.train, TrainConfig(epochs=3, batch_size=32, lr=0.1))
    mcfg = ModelConfig("mlp", (16,))
    cfg = TrainConfig(epochs=2, batch_size=32, lr=0.05)
    objective = DistillConfig(T=4.0, alpha=0.7)
    t_logits = predict_logits(teacher, digits.train.x)
    together, _ = train_members(mcfg, digits.train, cfg, [0, 1], digits.input_shape, 10, objective,
                                teacher_logits=t_logits)
    alone = _one_by_one(mcfg, digits, cfg, [0, 1], objective, teacher)
    _assert_same(together, alone, atol=1e-5)


def test_vectorised_training_rejects_dropout(digits):
    with pytest.raises(ConfigError, match="does not support dropout"):
        train_members(ModelConfig("mlp", (8,), dropout=0.5), digits.train, TrainConfig(epochs=1), [0],
                      digits.input_shape, 10)


@pytest.mark.parametrize("mcfg", [ModelConfig("mlp", (48, 24)), ModelConfig("mlp", (32,)), ModelConfig("cnn", (4, 8))])
def test_shared_batch_order_matches_one_by_one_with_one_data_seed(digits, mcfg):
    """shared_order: members differ only in their initial weights; each equals a member trained
    alone from its own initial weights with the common data order (cfg.seed)."""
    cfg = TrainConfig(epochs=2, batch_size=32, lr=0.05, augment="jitter", augment_px=1, seed=3)
    seeds = [0, 1, 5]
    together, hist = train_members(mcfg, digits.train, cfg, seeds, digits.input_shape, 10, shared_order=True)
    alone = []
    for s in seeds:
        m = build_model(mcfg, digits.input_shape, 10, seed=s)
        train(m, digits.train, cfg)  # cfg.seed = 3 for every member: the shared order
        alone.append(m)
    _assert_same(together, alone, atol=1e-5)
    assert hist.epochs[-1]["loss"] < hist.epochs[0]["loss"]
    assert not torch.allclose(next(together[0].parameters()), next(together[1].parameters()))


def test_grouped_convnet_members_predict_as_their_own_networks(digits):
    """The stacked CNN's logits for member m are member m's own logits (train and eval mode)."""
    mcfg = ModelConfig("convnet", (4, 8), hidden=(16,))
    members = [build_model(mcfg, digits.input_shape, 10, seed=s) for s in (0, 3)]
    stacked = stack_members(members)
    x = digits.train.x[:16]
    for mode in (True, False):
        stacked.train(mode)
        for m in members:
            m.train(mode)
        together = stacked(x.expand(2, *x.shape))
        for k, m in enumerate(members):
            assert torch.allclose(together[k], m(x), atol=1e-5)


def test_convnet_members_with_dropout_fall_back_to_vmap(digits):
    members = [build_model(ModelConfig("convnet", (4,), hidden=(8,), dropout=0.1), digits.input_shape, 10, seed=s)
               for s in (0, 1)]
    assert isinstance(stack_members(members), VmapMembers)
