"""The unlabelled transfer set: which rows keep their labels, the split that hides the others, the
objective that trains on it (soft term everywhere, labels where there are some), and a short run
on it that must learn."""

import pytest
import torch
import torch.nn.functional as F

from kdbook import ConfigError
from kdbook.data import load_dataset
from kdbook.experiments.common import run_key, trained_run
from kdbook.losses import DistillObjective
from kdbook.models import ModelConfig, build_model
from kdbook.train import TrainConfig, evaluate, train
from kdbook.transfer import UNLABELLED, TransferObjective, hide_labels, labelled_mask, labelled_rows


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_labelled_rows_are_a_seeded_sorted_sample():
    a = labelled_rows(100, 10, seed=0)
    assert a.tolist() == sorted(set(a.tolist())) and len(a) == 10 and int(a.max()) < 100
    assert torch.equal(a, labelled_rows(100, 10, seed=0))
    assert not torch.equal(a, labelled_rows(100, 10, seed=1))
    assert labelled_rows(5, 10, seed=0).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ConfigError, match="count must be an integer >= 1"):
        labelled_rows(5, 0, seed=0)


def test_hide_labels_keeps_every_image_and_only_the_chosen_labels(digits):
    rows = torch.tensor([0, 3, 7])
    hidden = hide_labels(digits.train, rows)
    assert torch.equal(hidden.x, digits.train.x) and len(hidden) == len(digits.train)
    assert torch.equal(hidden.y[rows], digits.train.y[rows])
    assert int(labelled_mask(hidden).sum()) == 3 and (hidden.y[~labelled_mask(hidden)] == UNLABELLED).all()
    # the origin names the labelled rows: another choice, or all the labels, never shares it
    assert hidden.origin != hide_labels(digits.train, torch.tensor([0, 3, 8])).origin
    assert hidden.origin is not None and digits.train.origin is None
    with pytest.raises(ConfigError, match="labelled rows must lie in"):
        hide_labels(digits.train, torch.tensor([len(digits.train)]))


def test_a_model_on_hidden_labels_keys_apart_from_one_on_all_labels(digits):
    cfg, model = TrainConfig(epochs=1), ModelConfig("mlp", (8,))
    hidden = hide_labels(digits.train, torch.arange(10))
    obj = TransferObjective(T=2.0, alpha=0.5)
    assert run_key("digits", model, cfg, objective=obj, teacher_spec="t", data=hidden) != run_key(
        "digits", model, cfg, objective=obj, teacher_spec="t", data=digits.train)
    # T and alpha always enter the key (no defaults to drop)
    assert run_key("digits", model, cfg, objective=obj, data=hidden)["objective"] == obj
    assert {"T", "alpha"} <= set(TransferObjective.__dataclass_fields__)


def test_on_fully_labelled_rows_it_is_the_distillation_objective():
    torch.manual_seed(0)
    z, v, y = torch.randn(6, 5), torch.randn(6, 5), torch.randint(0, 5, (6,))
    ours, theirs = TransferObjective(T=3.0, alpha=0.4)(z, y, v), DistillObjective(T=3.0, alpha=0.4)(z, y, v)
    assert set(ours) == set(theirs) == {"soft", "hard"}
    for k in ours:
        assert ours[k].item() == pytest.approx(theirs[k].item(), rel=1e-6)


def test_the_label_term_uses_the_labelled_rows_only():
    torch.manual_seed(1)
    z, v, y = torch.randn(6, 4), torch.randn(6, 4), torch.randint(0, 4, (6,))
    y[[1, 4, 5]] = UNLABELLED
    terms = TransferObjective(T=2.0, alpha=0.25)(z, y, v)
    keep = y != UNLABELLED
    assert terms["hard"].item() == pytest.approx(0.75 * F.cross_entropy(z[keep], y[keep]).item(), rel=1e-6)
    # the soft term is over every row, labelled or not
    assert terms["soft"].item() == pytest.approx(
        TransferObjective(T=2.0, alpha=0.25)(z, torch.zeros_like(y), v)["soft"].item(), rel=1e-6)


def test_a_batch_without_labels_gives_a_zero_label_term_and_alpha_one_needs_none():
    z, v = torch.randn(3, 4, requires_grad=True), torch.randn(3, 4)
    none = torch.full((3,), UNLABELLED)
    terms = TransferObjective(T=2.0, alpha=0.5)(z, none, v)
    assert terms["hard"].item() == 0.0 and torch.isfinite(terms["soft"])
    sum(terms.values()).backward()
    assert torch.isfinite(z.grad).all()
    assert set(TransferObjective(T=2.0, alpha=1.0)(z, none, v)) == {"soft"}
    assert not TransferObjective(T=2.0, alpha=1.0).uses_labels and TransferObjective(T=2.0, alpha=0.5).uses_labels


@pytest.mark.parametrize("kwargs, message", [({"T": 0.0, "alpha": 0.5}, "T must be a number > 0"),
                                             ({"T": 2.0, "alpha": 1.5}, "alpha")])
def test_the_objective_validates_its_config(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TransferObjective(**kwargs)


def test_labels_alone_refuse_a_split_with_hidden_labels(digits):
    student = build_model(ModelConfig("mlp", (8,)), digits.input_shape, 10, seed=0)
    with pytest.raises((IndexError, RuntimeError)):
        train(student, hide_labels(digits.train, torch.arange(5)), TrainConfig(epochs=1, batch_size=64))


def test_a_student_learns_from_soft_targets_on_images_whose_labels_it_never_sees(digits):
    teacher, _ = trained_run("teacher", digits, "digits", ModelConfig("mlp", (64,)),
                             TrainConfig(epochs=8, batch_size=64, lr=0.1), seed=0)
    few = labelled_rows(len(digits.train), 30, seed=0)
    hidden = hide_labels(digits.train, few)
    cfg = TrainConfig(epochs=8, batch_size=64, lr=0.05)
    alone = build_model(ModelConfig("mlp", (32,)), digits.input_shape, 10, seed=1)
    train(alone, digits.train.subset(few), TrainConfig(epochs=80, batch_size=64, lr=0.05),
          DistillObjective(T=2.0, alpha=0.5), teacher=teacher)
    student, history = trained_run("student", digits, "digits", ModelConfig("mlp", (32,)), cfg, seed=1,
                                   objective=TransferObjective(T=2.0, alpha=0.5), teacher=teacher, train_split=hidden)
    assert {"soft", "hard"} <= set(history["epochs"][0])
    assert evaluate(student, digits.test)["accuracy"] > 0.85
    assert evaluate(student, digits.test)["accuracy"] > evaluate(alone, digits.test)["accuracy"] + 0.03
