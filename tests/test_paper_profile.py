"""The `paper` profile proven without the papers' datasets: tiny MNIST and CIFAR trees in
torchvision's formats (generated here) go through the real loaders, and every chapter's `paper`
settings run one optimisation step per training run of every part, so a reader with the real files
meets no untried code path."""

import pytest
import torchvision

from kdbook.data import load_dataset
from kdbook.experiments import CHAPTERS, chapter
from kdbook.train import trial_steps
from torchvision_fixtures import N_TEST, N_TRAIN, write_cifar, write_mnist


@pytest.fixture
def paper_data(tmp_path, monkeypatch):
    """A data root holding MNIST, CIFAR-10 and CIFAR-100 in torchvision's formats (random content)."""
    root = tmp_path / "data"
    write_mnist(root)
    for cls, classes in ((torchvision.datasets.CIFAR10, 10), (torchvision.datasets.CIFAR100, 100)):
        for name, value in write_cifar(root, classes).items():
            monkeypatch.setattr(cls, name, value)  # torchvision checks its files against these md5 sums
    monkeypatch.setenv("KDBOOK_DATA", str(root))
    monkeypatch.setenv("KDBOOK_DOWNLOAD", "0")
    return root


@pytest.mark.parametrize("name, shape, classes", [("mnist", (1, 28, 28), 10), ("cifar10", (3, 32, 32), 10),
                                                  ("cifar100", (3, 32, 32), 100)])
def test_the_real_loaders_read_the_fixture(paper_data, name, shape, classes):
    ds = load_dataset(name)
    assert ds.input_shape == shape and ds.num_classes == classes
    assert len(ds.train) + len(ds.val) == N_TRAIN[name] and len(ds.test) == N_TEST
    assert len(ds.val) == N_TRAIN[name] // 10  # full copies: 5,000
    assert 0.0 <= float(ds.train.x.min()) and float(ds.train.x.max()) <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CHAPTERS))
def test_every_part_of_the_paper_settings_runs(paper_data, name):
    with trial_steps(1):
        results = chapter(name).run("paper", "cpu", recompute=True)
    assert set(results) == {p.name or p.kind.split("-", 1)[1] for p in chapter(name).PARTS}
    assert all(r.value for r in results.values())
