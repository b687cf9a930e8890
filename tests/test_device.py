"""The accelerator path: the same checks on whatever device `KDBOOK_TEST_DEVICE` names (default
cpu; `scripts/gpu-check` sets cuda on a GPU machine). bf16 autocast, torch.compile, vectorised
members, consistent teaching and DDP (NCCL on a GPU, gloo on a CPU) must agree with their plain
counterparts there."""

import os

import pytest
import torch

from kdbook.data import load_dataset
from kdbook.losses import DistillObjective
from kdbook.models import ModelConfig, build_model
from kdbook.teachers import freeze
from kdbook.train import TrainConfig, evaluate, predict_logits, train
from kdbook.vectorized import train_members

DEVICE = os.environ.get("KDBOOK_TEST_DEVICE", "cpu")
pytestmark = [pytest.mark.device,
              pytest.mark.skipif(DEVICE.startswith("cuda") and not torch.cuda.is_available(), reason="no GPU")]


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", device=DEVICE)


def _mlp(ds, seed=0, widths=(64,)):
    return build_model(ModelConfig("mlp", widths), ds.input_shape, ds.num_classes, seed=seed).to(DEVICE)


def test_bf16_autocast_keeps_accuracy(digits):
    cfg = TrainConfig(epochs=6, batch_size=32, lr=0.1)
    fp32, bf16 = _mlp(digits), _mlp(digits)
    train(fp32, digits.train, cfg)
    train(bf16, digits.train, TrainConfig(**{**cfg.__dict__, "precision": "bf16"}))
    a32, a16 = evaluate(fp32, digits.test)["accuracy"], evaluate(bf16, digits.test)["accuracy"]
    assert a16 > 0.9 and abs(a16 - a32) < 0.03


@pytest.mark.skipif(not DEVICE.startswith("cuda"), reason="compiling on a CPU takes minutes; tests/test_precision.py covers it")
def test_compiled_training_matches_eager(digits):
    cfg = TrainConfig(epochs=3, batch_size=32, lr=0.1)
    eager, compiled = _mlp(digits), _mlp(digits)
    train(eager, digits.train, cfg)
    train(compiled, digits.train, TrainConfig(**{**cfg.__dict__, "compile": True}))
    for p, q in zip(eager.parameters(), compiled.parameters()):
        assert torch.allclose(p, q, atol=1e-3)


def test_vectorised_members_match_one_by_one(digits):
    cfg = TrainConfig(epochs=2, batch_size=32, lr=0.1, augment="jitter", augment_px=1)
    together, _ = train_members(ModelConfig("mlp", (32,)), digits.train, cfg, [3, 4], digits.input_shape,
                                digits.num_classes)
    for seed, member in zip([3, 4], together):
        alone = _mlp(digits, seed, (32,))
        train(alone, digits.train, cfg.with_seed(seed))
        assert torch.allclose(predict_logits(member, digits.test.x), predict_logits(alone, digits.test.x), atol=1e-4)


def test_consistent_teaching_learns_the_teacher(digits):
    teacher = _mlp(digits, 9, (128,))
    train(teacher, digits.train, TrainConfig(epochs=5, batch_size=32, lr=0.1))
    freeze(teacher)
    student = _mlp(digits, 1, (32,))
    train(student, digits.train, TrainConfig(epochs=5, batch_size=32, lr=0.1, augment="jitter", augment_px=1),
          DistillObjective(T=4.0), teacher=teacher)
    agree = (predict_logits(student, digits.test.x).argmax(-1) == predict_logits(teacher, digits.test.x).argmax(-1))
    assert agree.float().mean() > 0.85


def _ddp_worker(rank, world, init_file, backend, device, out):
    import torch.distributed as dist

    from kdbook.distributed import train_data_parallel

    torch.set_num_threads(1)
    dist.init_process_group(backend, init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        ds = load_dataset("digits", device=device, train_limit=503)
        model = build_model(ModelConfig("mlp", (32,)), ds.input_shape, ds.num_classes, seed=7).to(device)
        train_data_parallel(model, ds.train, TrainConfig(epochs=1, batch_size=50, lr=0.05, seed=7))
        if rank == 0:
            torch.save({k: t.cpu() for k, t in model.state_dict().items()}, out)
    finally:
        dist.destroy_process_group()


def test_data_parallel_matches_one_process(tmp_path):
    import torch.multiprocessing as mp

    cuda = DEVICE.startswith("cuda")
    world = max(1, min(2, torch.cuda.device_count())) if cuda else 2
    backend = "nccl" if cuda else "gloo"
    out = tmp_path / "ddp.pt"
    mp.spawn(_ddp_worker, args=(world, str(tmp_path / "init"), backend, DEVICE, str(out)), nprocs=world, join=True)
    ds = load_dataset("digits", device=DEVICE, train_limit=503)
    single = build_model(ModelConfig("mlp", (32,)), ds.input_shape, ds.num_classes, seed=7).to(DEVICE)
    train(single, ds.train, TrainConfig(epochs=1, batch_size=50, lr=0.05, seed=7))
    ddp = torch.load(out, weights_only=True)
    for k, v in single.state_dict().items():
        assert torch.allclose(v.cpu(), ddp[k], atol=1e-4), k
