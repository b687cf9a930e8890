"""Benchmarks: the library's training against a plain PyTorch baseline doing the same work.

Each benchmark times both sides in one run, on the same machine and data, and reports the
ratio (baseline time / ours), so that a noisy shared machine affects both alike.

* ``distill_epoch``: one distillation epoch. Baseline: a ``DataLoader`` over a
  ``TensorDataset`` (per-sample indexing and collation) and the teacher recomputed at every
  step. Ours: :func:`kdbook.train.train`, data resident on the device, batches by index
  sampling, the teacher's logits computed once for the transfer set.
* ``ensemble``: M small members. Baselines: one after another the plain way (``DataLoader``), and
  one after another with our trainer (the stricter ratio, ``speedup``). Ours:
  :func:`kdbook.vectorized.train_members` (one grouped step for all members), each member with
  its own batch order; ``ensemble_narrow`` the same with members a quarter as wide;
  ``ensemble_shared_order`` with one batch order for all members (first layers as one wide matmul).
* ``mlp_throughput``: training FLOP/s of the 2x1200 MLP against the measured peak of a large
  float32 matmul on the same device.
* ``cnn_epoch``: one label epoch of chapter 5's BatchNorm CNN (:data:`CNN`: two
  conv3x3-BatchNorm-ReLU-maxpool blocks of 16 and 32 channels, a hidden layer of 64 units) on 10k
  images, ours against a plain ``DataLoader`` loop, with the achieved training GFLOP/s (convolutions
  and linear layers counted, BatchNorm, ReLU and pooling not) against the measured peak of a large
  convolution and of a large matmul.
* ``cnn_members``: 5 members of that CNN, one epoch each on the same 10k images: one after another
  with our trainer against all together (:func:`kdbook.vectorized.train_members`, grouped
  convolutions, each member with its own seed and batch order); ``speedup`` = one by one / together.
* ``consistent_mlp`` / ``consistent_cnn``: an epoch with the teacher run on every augmented batch
  (consistent teaching) against a label-only epoch of the same student under the same
  augmentation (``overhead`` = their ratio): chapter 2's 2x1200 -> 2x800 pair, and the CNN teaching
  its own architecture under crop + flip.
* ``bf16_mlp`` / ``bf16_cnn``: an epoch under bf16 autocast against fp32 (``speedup``).
* ``bf16_accuracy_mlp`` / ``bf16_accuracy_cnn``: whether bf16 keeps accuracy. The 2x1200 MLP and the
  CNN trained on real Fashion-MNIST (5,000 training images, 3 epochs; validation accuracy on the
  dataset's fixed 5,000-image validation split, evaluated in float32 as the trainer validates),
  once in fp32 and once in bf16 from each of 3 seeds (the same seed gives both runs the same initial
  weights and batch order, so the runs are paired). ``within_noise`` is 1.0 when the mean paired
  difference (bf16 - fp32, ``difference``) is at most ``noise_bound`` in size: two standard errors
  of the paired differences (``difference_se`` = their sd / sqrt(seeds)), never less than half an
  accuracy point (0.005), so that seeds agreeing exactly, or nearly, do not make a tiny difference
  count; else 0.0. ``seed_sd`` is the sd over seeds of the fp32 accuracies. Without the
  Fashion-MNIST files these lines fail with the data module's one-line error; the quick sizes use
  scikit-learn's digits (always there), as the smoke profile does.
"""

from __future__ import annotations

import math
import operator
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import metrics
from .data import Split, load_dataset
from .errors import ConfigError
from .models import MLP, ModelConfig, build_model
from .losses import DistillConfig
from .train import TrainConfig, label_objective, predict_logits, predict_probs, train
from .vectorized import train_members


@dataclass(frozen=True)
class BenchSizes:
    """Problem sizes; ``quick`` ones only check that everything runs."""

    n_train: int = 20000
    batch_size: int = 128
    teacher: tuple[int, ...] = (1200, 1200)
    student: tuple[int, ...] = (800, 800)
    members: int = 10
    member_widths: tuple[int, ...] = (100,)
    member_epochs: int = 1
    throughput_steps: int = 60
    throughput_batch: int = 256
    matmul_n: int = 2048
    repeats: int = 3
    cnn_n_train: int = 10000
    #: CNN members trained together in ``cnn_members``
    cnn_members: int = 5
    #: the bf16 accuracy lines: real data, its training subset, epochs and seeds (at least 2, for a spread)
    accuracy_dataset: str = "fashion-mnist"
    accuracy_n_train: int = 5000
    accuracy_epochs: int = 3
    accuracy_seeds: tuple[int, ...] = (0, 1, 2)

    def __post_init__(self) -> None:
        if len(self.accuracy_seeds) < 2:
            raise ConfigError(f"accuracy_seeds needs at least 2 seeds for a spread, got {self.accuracy_seeds!r}")


QUICK = BenchSizes(n_train=1024, teacher=(64, 64), student=(32,), members=3, member_widths=(16,),
                   throughput_steps=5, throughput_batch=64, matmul_n=256, repeats=1, cnn_n_train=256,
                   cnn_members=2, accuracy_dataset="digits", accuracy_n_train=256, accuracy_epochs=1,
                   accuracy_seeds=(0, 1))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best_time(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        t = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return best


def synthetic_data(n: int, device: torch.device, seed: int = 0) -> Split:
    """Random 28x28 images with random labels: the cost of training, not its accuracy, is measured."""
    g = torch.Generator().manual_seed(seed)
    return Split(torch.rand(n, 1, 28, 28, generator=g).to(device), torch.randint(0, 10, (n,), generator=g).to(device))


def matmul_peak_gflops(n: int, device: torch.device, repeats: int = 10) -> float:
    """Achieved GFLOP/s of an n x n float32 matmul (2 n^3 FLOPs), best of ``repeats``."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    t = _best_time(lambda: a @ b, device, repeats)
    return 2 * n ** 3 / t / 1e9


def baseline_distill_epoch(student: nn.Module, teacher: nn.Module, data: Split, batch_size: int, T: float) -> None:
    """The common way: DataLoader over a TensorDataset, teacher forward at every step."""
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data.x, data.y),
                                         batch_size=batch_size, shuffle=True)
    opt = torch.optim.SGD(student.parameters(), lr=0.01, momentum=0.9)
    teacher.eval()
    student.train()
    for x, y in loader:
        with torch.no_grad():
            t = teacher(x)
        s = student(x)
        loss = F.kl_div(F.log_softmax(s / T, -1), F.softmax(t / T, -1), reduction="batchmean") * T * T
        opt.zero_grad()
        loss.backward()
        opt.step()


def bench_distill_epoch(sizes: BenchSizes, device: torch.device) -> dict[str, float]:
    """Steady-state epoch time of both sides; ours also reports its one-time teacher pass."""
    data = synthetic_data(sizes.n_train, device)
    teacher = build_model(ModelConfig("mlp", sizes.teacher), (1, 28, 28), 10, seed=0).to(device)
    mk = lambda: build_model(ModelConfig("mlp", sizes.student), (1, 28, 28), 10, seed=1).to(device)  # noqa: E731
    objective = DistillConfig(T=4.0)

    def ours(epochs: int) -> float:
        cfg = TrainConfig(epochs=epochs, batch_size=sizes.batch_size, lr=0.01, schedule="constant")
        return _best_time(lambda: train(mk(), data, cfg, objective, teacher=teacher, progress=False),
                          device, sizes.repeats)

    base = _best_time(lambda: baseline_distill_epoch(mk(), teacher, data, sizes.batch_size, 4.0), device, sizes.repeats)
    teacher_pass = _best_time(lambda: predict_logits(teacher, data.x), device, sizes.repeats)
    epoch = (ours(3) - teacher_pass) / 3  # the teacher's one pass over the transfer set is paid once
    return {"baseline_epoch_s": base, "ours_epoch_s": epoch, "ours_teacher_pass_s": teacher_pass,
            "speedup": base / epoch}


def baseline_train_epochs(model: nn.Module, data: Split, batch_size: int, epochs: int, lr: float) -> None:
    """The common way to train one model on labels: DataLoader over a TensorDataset, SGD."""
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data.x, data.y),
                                         batch_size=batch_size, shuffle=True)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    for _ in range(epochs):
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()


def _members_problem(sizes: BenchSizes, device: torch.device) -> tuple[Split, ModelConfig, TrainConfig, list[int]]:
    """The ensemble benchmarks' data, member architecture, training config and seeds."""
    return (synthetic_data(sizes.n_train, device, seed=2), ModelConfig("mlp", sizes.member_widths),
            TrainConfig(epochs=sizes.member_epochs, batch_size=sizes.batch_size, lr=0.01), list(range(sizes.members)))


def bench_ensemble(sizes: BenchSizes, device: torch.device) -> dict[str, float]:
    """M members: one after another the plain-PyTorch way (the baseline of the targets), one after
    another with our trainer, and all together (one grouped step). Also the vectorised run's
    matmul throughput against the measured peak, which bounds how much faster it could be."""
    data, mcfg, cfg, seeds = _members_problem(sizes, device)

    def plain():
        for s in seeds:
            torch.manual_seed(s)
            baseline_train_epochs(build_model(mcfg, (1, 28, 28), 10, seed=s).to(device), data, sizes.batch_size,
                                  sizes.member_epochs, 0.01)

    def one_by_one():
        for s in seeds:
            m = build_model(mcfg, (1, 28, 28), 10, seed=s)
            train(m, data, TrainConfig(**{**cfg.__dict__, "seed": s}), label_objective, progress=False)

    def together():
        train_members(mcfg, data, cfg, seeds, (1, 28, 28), 10, progress=False)

    together()  # warm-up (first call builds the vmap'd objective)
    base_plain = _best_time(plain, device, sizes.repeats)
    base = _best_time(one_by_one, device, sizes.repeats)
    ours = _best_time(together, device, sizes.repeats)
    flops = training_flops_per_example(build_model(mcfg, (1, 28, 28), 10)) * sizes.n_train * sizes.members * sizes.member_epochs
    peak = matmul_peak_gflops(sizes.matmul_n, device)
    return {"members": sizes.members, "widths": "x".join(map(str, sizes.member_widths)),
            "plain_one_by_one_s": base_plain, "one_by_one_s": base, "vectorised_s": ours,
            "speedup_vs_plain": base_plain / ours, "speedup": base / ours,
            "vectorised_fraction_of_peak": flops / ours / 1e9 / peak,
            "speedup_bound": base / (flops / 1e9 / peak)}


def bench_ensemble_shared_order(sizes: BenchSizes, device: torch.device) -> dict[str, float]:
    """The same members, all seeing the same batch order (they differ in their initial weights):
    one by one with our trainer, then together with the first layers as one wide matmul."""
    data, mcfg, cfg, seeds = _members_problem(sizes, device)

    def one_by_one():
        for s in seeds:
            train(build_model(mcfg, (1, 28, 28), 10, seed=s), data, cfg, label_objective, progress=False)

    def together():
        train_members(mcfg, data, cfg, seeds, (1, 28, 28), 10, progress=False, shared_order=True)

    together()  # warm-up
    base = _best_time(one_by_one, device, sizes.repeats)
    ours = _best_time(together, device, sizes.repeats)
    return {"members": sizes.members, "widths": "x".join(map(str, sizes.member_widths)),
            "one_by_one_s": base, "vectorised_s": ours, "speedup": base / ours}


def bench_ensemble_tiny(sizes: BenchSizes, device: torch.device) -> dict[str, float]:
    """The same with members a quarter as wide, where per-step overhead dominates."""
    narrow = tuple(max(1, w // 4) for w in sizes.member_widths)
    return bench_ensemble(BenchSizes(**{**sizes.__dict__, "member_widths": narrow}), device)


def training_flops_per_example(model: MLP) -> float:
    """Forward + backward FLOPs of an MLP per example: 2 per multiply-add for the forward pass, the
    weight gradient and the input gradient, except the first layer's input gradient, which is
    never computed (the data needs no gradient)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    macs = [m.in_features * m.out_features for m in linears]
    return 6.0 * sum(macs) - 2.0 * macs[0]


def bench_mlp_throughput(sizes: BenchSizes, device: torch.device) -> dict[str, float]:
    n = sizes.throughput_steps * sizes.throughput_batch
    data = synthetic_data(n, device, seed=3)
    model = build_model(ModelConfig("mlp", sizes.teacher), (1, 28, 28), 10, seed=0).to(device)
    cfg = TrainConfig(epochs=1, batch_size=sizes.throughput_batch, lr=0.01, schedule="constant")
    train(model, Split(data.x[: sizes.throughput_batch * 2], data.y[: sizes.throughput_batch * 2]), cfg,
          progress=False)  # warm-up
    t = _best_time(lambda: train(model, data, cfg, progress=False), device, sizes.repeats)
    achieved = training_flops_per_example(model) * n / t / 1e9
    peak = matmul_peak_gflops(sizes.matmul_n, device)
    return {"batch_size": sizes.throughput_batch, "seconds": t, "achieved_gflops": achieved,
            "matmul_peak_gflops": peak, "fraction_of_peak": achieved / peak}


#: Chapter 5's BatchNorm CNN (its ``full`` ensemble member), benchmarked by every CNN line.
CNN = ModelConfig("convnet", (16, 32), hidden=(64,))


def cnn_training_flops_per_example(model: nn.Module, input_shape=(1, 28, 28)) -> float:
    """Forward + backward FLOPs per example of a network of convolutions and linear layers (as for
    an MLP: 6 per multiply-add, less the first layer's input gradient), counted on one forward pass;
    BatchNorm, activations and pooling are not counted (a few FLOPs per activation, no matmul)."""
    macs: list[float] = []

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            k = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            macs.append(float(output[0].numel() * k))
        elif isinstance(module, nn.Linear):
            macs.append(float(module.in_features * module.out_features))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(1, *input_shape, device=next(model.parameters()).device))
    for h in handles:
        h.remove()
    return 6.0 * sum(macs) - 2.0 * macs[0]


def conv_peak_gflops(device: torch.device, repeats: int = 5) -> float:
    """Achieved forward GFLOP/s of a large 3x3 convolution (64 -> 64 channels, 28x28, batch 128)."""
    conv = nn.Conv2d(64, 64, 3, padding=1).to(device)
    x = torch.randn(128, 64, 28, 28, device=device)
    with torch.no_grad():
        conv(x)
        t = _best_time(lambda: conv(x), device, repeats)
    return 2 * 128 * 64 * 28 * 28 * 64 * 9 / t / 1e9


def _epoch_time(model_cfg: ModelConfig, data: Split, sizes: BenchSizes, device: torch.device, *,
                teacher: nn.Module | None = None, **train_kw) -> float:
    """Best-of-``repeats`` time of one epoch of our trainer (a label epoch, or distillation from ``teacher``)."""
    cfg = TrainConfig(epochs=1, batch_size=sizes.batch_size, lr=0.01, schedule="constant", **train_kw)
    mk = lambda: build_model(model_cfg, (1, 28, 28), 10, seed=1).to(device)  # noqa: E731
    objective = DistillConfig(T=4.0) if teacher is not None else label_objective
    train(mk(), Split(data.x[:256], data.y[:256]), cfg, objective, teacher=teacher, progress=False)  # warm-up
    return _best_time(lambda: train(mk(), data, cfg, objective, teacher=teacher, progress=False), device,
                      sizes.repeats)


def bench_cnn_epoch(sizes: BenchSizes, device: torch.device) -> dict[str, float]:
    data = synthetic_data(sizes.cnn_n_train, device, seed=4)
    ours = _epoch_time(CNN, data, sizes, device)
    model = build_model(CNN, (1, 28, 28), 10, seed=1).to(device)
    base = _best_time(lambda: baseline_train_epochs(build_model(CNN, (1, 28, 28), 10, seed=1).to(device), data,
                                                    sizes.batch_size, 1, 0.01), device, sizes.repeats)
    achieved = cnn_training_flops_per_example(model) * len(data) / ours / 1e9
    conv_peak, matmul_peak = conv_peak_gflops(device), matmul_peak_gflops(sizes.matmul_n, device)
    return {"baseline_epoch_s": base, "ours_epoch_s": ours, "speedup": base / ours, "achieved_gflops": achieved,
            "conv_peak_gflops": conv_peak, "matmul_peak_gflops": matmul_peak,
            "fraction_of_conv_peak": achieved / conv_peak, "fraction_of_matmul_peak": achieved / matmul_peak}


def bench_cnn_members(sizes: BenchSizes, device: torch.device) -> dict[str, float]:
    """``cnn_members`` CNNs, one epoch each: one after another with our trainer, then together
    (:func:`kdbook.vectorized.train_members`: grouped convolutions for the book's CNN)."""
    data = synthetic_data(sizes.cnn_n_train, device, seed=7)
    cfg = TrainConfig(epochs=1, batch_size=sizes.batch_size, lr=0.01, schedule="constant")
    seeds = list(range(sizes.cnn_members))

    def one_by_one():
        for s in seeds:
            train(build_model(CNN, (1, 28, 28), 10, seed=s).to(device), data, cfg.with_seed(s), progress=False)

    def together():
        train_members(CNN, data, cfg, seeds, (1, 28, 28), 10, progress=False)

    warm = Split(data.x[:sizes.batch_size], data.y[:sizes.batch_size])  # warm-up of both sides: one step each
    train(build_model(CNN, (1, 28, 28), 10, seed=0).to(device), warm, cfg, progress=False)
    train_members(CNN, warm, cfg, seeds, (1, 28, 28), 10, progress=False)
    base = _best_time(one_by_one, device, sizes.repeats)
    ours = _best_time(together, device, sizes.repeats)
    return {"members": sizes.cnn_members, "one_by_one_s": base, "together_s": ours, "speedup": base / ours}


def _consistent(student: ModelConfig, teacher_cfg: ModelConfig, augment: str, sizes: BenchSizes,
                device: torch.device, n: int) -> dict[str, float]:
    data = synthetic_data(n, device, seed=5)
    teacher = build_model(teacher_cfg, (1, 28, 28), 10, seed=0).to(device).eval()
    label = _epoch_time(student, data, sizes, device, augment=augment)
    taught = _epoch_time(student, data, sizes, device, teacher=teacher, augment=augment)
    return {"label_epoch_s": label, "consistent_epoch_s": taught, "overhead": taught / label}


def bench_consistent_mlp(sizes: BenchSizes, device: torch.device) -> dict[str, float]:
    return _consistent(ModelConfig("mlp", sizes.student), ModelConfig("mlp", sizes.teacher), "jitter", sizes,
                       device, sizes.n_train)


def bench_consistent_cnn(sizes: BenchSizes, device: torch.device) -> dict[str, float]:
    return _consistent(CNN, CNN, "crop_flip", sizes, device, sizes.cnn_n_train)


def _bf16(model_cfg: ModelConfig, n: int, sizes: BenchSizes, device: torch.device) -> dict[str, float]:
    data = synthetic_data(n, device, seed=6)
    fp32 = _epoch_time(model_cfg, data, sizes, device)
    bf16 = _epoch_time(model_cfg, data, sizes, device, precision="bf16")
    return {"fp32_epoch_s": fp32, "bf16_epoch_s": bf16, "speedup": fp32 / bf16}


def bench_bf16_mlp(sizes: BenchSizes, device: torch.device) -> dict[str, float]:
    return _bf16(ModelConfig("mlp", sizes.teacher), sizes.n_train, sizes, device)


def bench_bf16_cnn(sizes: BenchSizes, device: torch.device) -> dict[str, float]:
    return _bf16(CNN, sizes.cnn_n_train, sizes, device)


#: The smallest bound of ``within_noise``: half an accuracy point.
NOISE_FLOOR = 0.005


def standard_error(values: list[float]) -> float:
    """The standard error of the mean of ``values`` (sample sd / sqrt(n); at least 2 values)."""
    return statistics.stdev(values) / math.sqrt(len(values))


def noise_bound(differences: list[float]) -> float:
    """Two standard errors of the mean paired difference, or :data:`NOISE_FLOOR` if that is larger."""
    return max(2 * standard_error(differences), NOISE_FLOOR)


def within_noise(differences: list[float]) -> float:
    """1.0 when the mean of the paired differences is at most :func:`noise_bound` in size, else 0.0."""
    return float(abs(statistics.fmean(differences)) <= noise_bound(differences))


def model_name(cfg: ModelConfig) -> str:
    """A short name of an MLP or the book's CNN for prose: '2x1200 MLP',
    'BatchNorm CNN (16-32 channels, 64 hidden)'."""
    w = "-".join(map(str, cfg.widths))
    if cfg.kind == "mlp":
        return f"{len(cfg.widths)}x{cfg.widths[0]} MLP" if len(set(cfg.widths)) == 1 else f"{w} MLP"
    return f"BatchNorm CNN ({w} channels, {'-'.join(map(str, cfg.hidden))} hidden)"


def _val_accuracy(model_cfg: ModelConfig, ds, sizes: BenchSizes, seed: int, precision: str) -> float:
    """Validation accuracy (evaluated in float32) of ``model_cfg`` trained from ``seed`` in ``precision``."""
    model = build_model(model_cfg, ds.input_shape, ds.num_classes, seed=seed).to(ds.train.x.device)
    cfg = TrainConfig(epochs=sizes.accuracy_epochs, batch_size=sizes.batch_size, lr=0.05, seed=seed,
                      precision=precision)
    train(model, ds.train, cfg, progress=False)
    return metrics.accuracy(predict_probs(model, ds.val.x), ds.val.y)


def _bf16_accuracy(model_cfg: ModelConfig, sizes: BenchSizes, device: torch.device) -> dict[str, float]:
    """``model_cfg`` trained in fp32 and in bf16 from each accuracy seed on real data (paired by seed)."""
    ds = load_dataset(sizes.accuracy_dataset, device=device, train_limit=sizes.accuracy_n_train)
    fp32 = [_val_accuracy(model_cfg, ds, sizes, s, "fp32") for s in sizes.accuracy_seeds]
    bf16 = [_val_accuracy(model_cfg, ds, sizes, s, "bf16") for s in sizes.accuracy_seeds]
    differences = [b - f for b, f in zip(bf16, fp32)]
    return {"model": model_name(model_cfg), "dataset": sizes.accuracy_dataset, "n_train": len(ds.train),
            "epochs": sizes.accuracy_epochs, "seeds": len(sizes.accuracy_seeds),
            "fp32_val_accuracy": statistics.fmean(fp32), "bf16_val_accuracy": statistics.fmean(bf16),
            "difference": statistics.fmean(differences), "difference_se": standard_error(differences),
            "noise_bound": noise_bound(differences), "seed_sd": statistics.stdev(fp32),
            "within_noise": within_noise(differences)}


def bench_bf16_accuracy_mlp(sizes: BenchSizes, device: torch.device) -> dict[str, float]:
    return _bf16_accuracy(ModelConfig("mlp", sizes.teacher), sizes, device)


def bench_bf16_accuracy_cnn(sizes: BenchSizes, device: torch.device) -> dict[str, float]:
    return _bf16_accuracy(CNN, sizes, device)


BENCHMARKS: dict[str, Callable[[BenchSizes, torch.device], dict[str, float]]] = {
    "distill_epoch": bench_distill_epoch,
    "ensemble": bench_ensemble,
    "ensemble_narrow": bench_ensemble_tiny,
    "ensemble_shared_order": bench_ensemble_shared_order,
    "mlp_throughput": bench_mlp_throughput,
    "cnn_epoch": bench_cnn_epoch,
    "cnn_members": bench_cnn_members,
    "consistent_mlp": bench_consistent_mlp,
    "consistent_cnn": bench_consistent_cnn,
    "bf16_mlp": bench_bf16_mlp,
    "bf16_cnn": bench_bf16_cnn,
    "bf16_accuracy_mlp": bench_bf16_accuracy_mlp,
    "bf16_accuracy_cnn": bench_bf16_accuracy_cnn,
}
#: Measured by the stored benchmark (``stored_benchmarks``): every line.
STORED = tuple(BENCHMARKS)


def run_benchmarks(device: str = "cpu", quick: bool = False, only: list[str] | None = None) -> dict[str, dict]:
    """Run the benchmarks (all, or ``only``) and return their measurements."""
    dev = torch.device(device)
    sizes = QUICK if quick else BenchSizes()
    torch.manual_seed(0)
    return {name: fn(sizes, dev) for name, fn in BENCHMARKS.items() if not only or name in only}


def format_report(results: dict[str, dict]) -> str:
    """A plain-text table of the measurements."""
    lines = []
    for name, r in results.items():
        body = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items())
        lines.append(f"{name:16s} {body}")
    return "\n".join(lines)


#: How a target's bound is read: at least (">=") or at most ("<=").
OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le}

#: The targets of the performance work, as (benchmark, measurement, op, bound).
TARGETS = (
    ("distill_epoch", "speedup", ">=", 1.5),
    ("ensemble", "speedup_vs_plain", ">=", 2.0),
    ("ensemble", "speedup", ">=", 2.0),
    ("mlp_throughput", "fraction_of_peak", ">=", 0.7),
    ("cnn_epoch", "fraction_of_matmul_peak", ">=", 0.5),
    ("cnn_members", "speedup", ">=", 1.5),
    ("consistent_mlp", "overhead", "<=", 1.4),
    ("consistent_cnn", "overhead", "<=", 1.4),
    ("bf16_mlp", "speedup", ">=", 1.8),
    ("bf16_cnn", "speedup", ">=", 1.25),
    ("bf16_accuracy_mlp", "within_noise", ">=", 1.0),
    ("bf16_accuracy_cnn", "within_noise", ">=", 1.0),
)


def stored_benchmarks(profile: str, device: str = "cpu", recompute: bool = False):
    """The benchmarks as a stored result (``full`` sizes, or quick sizes for ``smoke``)."""
    from .profiles import get_profile
    from .store import run_or_load

    get_profile(profile)
    sizes = QUICK if profile == "smoke" else BenchSizes()
    # version 2: plain one-by-one baseline for ensembles, shared-order ensembles, exact FLOP count;
    # version 3: every line stored (chapter 5's BatchNorm CNN as the CNN, CNN members together, bf16
    # accuracy on real data), so a stored result of the five MLP lines is never read as this one
    return run_or_load("bench", {"sizes": sizes, "device_type": torch.device(device).type, "version": 3},
                       lambda: {name: BENCHMARKS[name](sizes, torch.device(device)) for name in STORED},
                       profile=profile, seeds=[0], device=device, recompute=recompute)


def target_table(results: dict[str, dict]) -> list[dict]:
    """Each target with the measured value and whether it is met (``target`` as '>= 1.5' or '<= 1.4')."""
    return [{"benchmark": b, "measure": k, "target": f"{op} {bound:g}", "measured": results[b][k],
             "met": bool(OPS[op](results[b][k], bound))} for b, k, op, bound in TARGETS if b in results]
