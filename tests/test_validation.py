"""Every parameter a chapter or the library accepts is checked up front, one clear line per problem."""

import pytest

from kdbook.data import load_dataset, restrict_classes
from kdbook.errors import ConfigError
from kdbook.experiments import ch02_big_to_small as ch02
from kdbook.models import ModelConfig
from kdbook.profiles import get_profile, resolve_device
from kdbook.losses import DistillConfig
from kdbook.train import TrainConfig

SMOKE2 = ch02.SETTINGS["smoke"].__dict__

BAD_INPUTS = [
    ("zero temperature", lambda: DistillConfig(T=0), ["distill: T must be a number > 0, got 0"]),
    ("negative temperature", lambda: DistillConfig(T=-2.0), ["distill: T must be a number > 0, got -2.0"]),
    ("alpha above one", lambda: DistillConfig(alpha=1.5), ["distill: alpha must be a number in [0, 1], got 1.5"]),
    ("alpha below zero and bad T together", lambda: DistillConfig(T=0, alpha=-0.1),
     ["distill: T must be a number > 0, got 0", "distill: alpha must be a number in [0, 1], got -0.1"]),
    ("unknown soft loss", lambda: DistillConfig(soft_loss="hinge"), ["distill: soft_loss must be one of"]),
    ("empty class list", lambda: restrict_classes(load_dataset("digits"), []),
     ["restrict_classes: classes must not be empty"]),
    ("class out of range", lambda: restrict_classes(load_dataset("digits"), [3, 12]),
     ["classes must be integers in [0, 10)"]),
    ("unknown profile", lambda: get_profile("huge"), ["profile must be one of smoke, full, paper; got 'huge'"]),
    ("unknown dataset", lambda: load_dataset("imagenet"), ["dataset must be one of"]),
    ("zero width", lambda: ModelConfig("mlp", (800, 0)), ["model: widths must hold integers >= 1, got 0"]),
    ("unknown model kind", lambda: ModelConfig("transformer"), ["model: model kind must be one of cnn, convnet, mlp"]),
    ("dropout of one", lambda: ModelConfig(dropout=1.0), ["model: dropout must be"]),
    ("zero epochs", lambda: TrainConfig(epochs=0), ["train: epochs must be an integer >= 1, got 0"]),
    ("fractional seed", lambda: TrainConfig(seed=1.5), ["train: seed must be an integer >= 0, got 1.5"]),
    ("seeds that are not integers", lambda: ch02.Settings(**{**SMOKE2, "seeds": (0, "one")}),
     ["ch02 settings: seeds must hold integers only, got 'one'"]),
    ("a single seed given as a string", lambda: ch02.Settings(**{**SMOKE2, "seeds": "012"}),
     ["seeds must be a list of integers, got '012'"]),
    ("zero temperature in a sweep", lambda: ch02.Settings(**{**SMOKE2, "sweep_temperatures": (1.0, 0.0)}),
     ["ch02 settings: sweep temperature must be a number > 0, got 0.0"]),
    ("unknown device", lambda: resolve_device("tpu"), ["device must be 'auto', 'cpu' or 'cuda[:N]', got 'tpu'"]),
]


@pytest.mark.parametrize("what, make, expected", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_gives_one_clear_line_per_problem(what, make, expected):
    with pytest.raises(ConfigError) as err:
        make()
    lines = str(err.value).splitlines()
    assert len([ln for ln in lines if ln.strip()]) >= len(expected)
    for want in expected:
        assert any(want in ln for ln in lines), f"{what}: {want!r} not in {lines}"
