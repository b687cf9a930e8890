import torch

from kdbook.bench import QUICK, format_report, run_benchmarks, target_table, training_flops_per_example
from kdbook.latency import measure_latency_ms
from kdbook.models import MLP


def test_flops_of_an_mlp():
    m = MLP(784, (1200, 1200), 10)
    # no input gradient for the first layer: the data needs none
    assert training_flops_per_example(m) == 6 * (784 * 1200 + 1200 * 1200 + 1200 * 10) - 2 * 784 * 1200


def test_quick_benchmarks_run_and_report_ratios():
    from kdbook.bench import BENCHMARKS, CNN, STORED

    res = run_benchmarks("cpu", quick=True)
    assert set(res) == {"distill_epoch", "ensemble", "ensemble_narrow", "ensemble_shared_order", "mlp_throughput",
                        "cnn_epoch", "cnn_members", "consistent_mlp", "consistent_cnn", "bf16_mlp", "bf16_cnn",
                        "bf16_accuracy_mlp", "bf16_accuracy_cnn"}
    assert STORED == tuple(BENCHMARKS) and CNN.kind == "convnet"
    assert "overhead" in res["consistent_cnn"] and "speedup" in res["bf16_cnn"]
    assert res["ensemble"]["members"] == QUICK.members
    assert res["cnn_members"]["members"] == QUICK.cnn_members
    assert set(res["cnn_members"]) >= {"one_by_one_s", "together_s", "speedup"}
    accuracy = ("bf16_accuracy_mlp", "bf16_accuracy_cnn")
    for name in accuracy:
        r = res[name]
        assert r["seeds"] == len(QUICK.accuracy_seeds) and r["dataset"] == QUICK.accuracy_dataset
        assert 0 <= r["fp32_val_accuracy"] <= 1 and 0 <= r["bf16_val_accuracy"] <= 1 and r["seed_sd"] >= 0
        assert abs(r["difference"] - (r["bf16_val_accuracy"] - r["fp32_val_accuracy"])) < 1e-9
        assert r["within_noise"] in (0.0, 1.0)
    for name, r in res.items():
        if name not in accuracy:
            assert all(v > 0 for v in r.values() if isinstance(v, float)), name
    table = target_table(res)
    assert [(t["benchmark"], t["measure"], t["target"]) for t in table] == [
        ("distill_epoch", "speedup", ">= 1.5"), ("ensemble", "speedup_vs_plain", ">= 2"),
        ("ensemble", "speedup", ">= 2"),
        ("mlp_throughput", "fraction_of_peak", ">= 0.7"), ("cnn_epoch", "fraction_of_matmul_peak", ">= 0.5"),
        ("cnn_members", "speedup", ">= 1.5"), ("consistent_mlp", "overhead", "<= 1.4"),
        ("consistent_cnn", "overhead", "<= 1.4"), ("bf16_mlp", "speedup", ">= 1.8"), ("bf16_cnn", "speedup", ">= 1.25"),
        ("bf16_accuracy_mlp", "within_noise", ">= 1"), ("bf16_accuracy_cnn", "within_noise", ">= 1")]
    assert all(isinstance(t["met"], bool) for t in table)
    consistent = next(t for t in table if t["benchmark"] == "consistent_mlp")
    assert consistent["met"] == (res["consistent_mlp"]["overhead"] <= 1.4)
    assert "speedup=" in format_report(res)


def test_within_noise_is_two_standard_errors_of_the_paired_differences_at_least_half_a_point():
    from kdbook.bench import within_noise

    assert within_noise([0.0, 0.0, 0.0]) == 1.0  # identical runs
    assert within_noise([0.004, 0.004]) == 1.0  # under half a point
    assert within_noise([0.01, 0.01, 0.01]) == 0.0  # a point, every seed alike: not noise
    assert within_noise([0.03, -0.01, 0.01]) == 1.0  # mean 0.01, 2 standard errors 0.023


def test_cnn_targets_read_at_most_and_at_least():
    assert target_table({"consistent_cnn": {"overhead": 1.5}, "cnn_members": {"speedup": 1.5}}) == [
        {"benchmark": "cnn_members", "measure": "speedup", "target": ">= 1.5", "measured": 1.5, "met": True},
        {"benchmark": "consistent_cnn", "measure": "overhead", "target": "<= 1.4", "measured": 1.5, "met": False}]


def test_latency_grows_with_batch_and_model_size():
    small, big = MLP(64, (8,), 10), MLP(64, (2048, 2048), 10)
    x = torch.rand(64)
    assert measure_latency_ms(big, x, 256, repeats=5) > measure_latency_ms(small, x, 256, repeats=5)
    assert measure_latency_ms(big, x, 256, repeats=5) > measure_latency_ms(big, x, 1, repeats=5)


def test_flops_of_the_batchnorm_cnn_by_hand():
    from kdbook.bench import cnn_training_flops_per_example
    from kdbook.models import ConvNet

    net = ConvNet((1, 28, 28), 10, channels=(4, 8), hidden=(16,))  # BatchNorm, ReLU and pooling not counted
    conv1, conv2, fc, head = 28 * 28 * 4 * 9, 14 * 14 * 8 * 4 * 9, 8 * 7 * 7 * 16, 16 * 10
    assert cnn_training_flops_per_example(net) == 6 * (conv1 + conv2 + fc + head) - 2 * conv1


def test_flops_of_a_cnn_by_hand():
    from kdbook.bench import cnn_training_flops_per_example
    from kdbook.models import SmallCNN

    m = SmallCNN(1, 10, (4,))  # conv 1->4 3x3 on 28x28, then pooling and a 4 -> 10 head
    conv, head = 28 * 28 * 4 * 9, 4 * 10
    assert cnn_training_flops_per_example(m) == 6 * (conv + head) - 2 * conv


def test_interleaved_rounds_time_every_model_once_per_round():
    from kdbook.latency import interleaved_latency_ms

    small, big = MLP(64, (8,), 10), MLP(64, (2048, 2048), 10)
    times = interleaved_latency_ms({"small": small, "big": big}, torch.rand(64), 256, rounds=6, warmup=1)
    assert set(times) == {"small", "big"} and all(len(t) == 6 for t in times.values())
    assert sorted(times["big"])[3] > sorted(times["small"])[3]


def test_speedup_interval_is_the_median_ratio_with_a_bootstrap_interval():
    from kdbook.latency import median_interval, speedup_interval

    flat = speedup_interval([10.0] * 20, [2.0] * 20)
    assert flat == {"ratio": 5.0, "low": 5.0, "high": 5.0, "level": 0.95, "rounds": 20}
    # paired rounds: a slow moment slows both, the ratio stays 5
    assert speedup_interval([10.0, 100.0] * 10, [2.0, 20.0] * 10)["high"] == 5.0
    mixed = speedup_interval([10.0, 10.0] * 10, [2.0, 1.0] * 10)  # ratios 5 and 10, half each
    assert mixed["low"] == 5.0 and mixed["high"] == 10.0 and 5.0 <= mixed["ratio"] <= 10.0
    assert speedup_interval([1.0, 3.0, 2.0], [1.0] * 3, seed=1) == speedup_interval([1.0, 3.0, 2.0], [1.0] * 3, seed=1)
    m = median_interval([1.0, 2.0, 3.0, 4.0, 100.0])
    assert m["median"] == 3.0 and m["low"] <= 3.0 <= m["high"] and m["rounds"] == 5
    import pytest

    with pytest.raises(ValueError, match="paired"):
        speedup_interval([1.0, 2.0], [1.0])


def test_forward_macs_by_hand():
    from kdbook.latency import forward_macs
    from kdbook.models import ConvNet

    assert forward_macs(MLP(784, (100, 100), 10), torch.rand(1, 28, 28)) == 784 * 100 + 100 * 100 + 100 * 10
    net = ConvNet((1, 28, 28), 10, channels=(4, 8), hidden=(16,))
    conv1, conv2 = 28 * 28 * 4 * 9, 14 * 14 * 8 * 4 * 9  # 3x3 convolutions, padded; pooling halves
    assert forward_macs(net, torch.rand(1, 28, 28)) == conv1 + conv2 + 8 * 7 * 7 * 16 + 16 * 10


def test_the_bf16_accuracy_sentence_reads_the_stored_numbers():
    from types import SimpleNamespace

    from kdbook.reports.appendices import bf16_accuracy_sentence

    line = {"dataset": "fashion-mnist", "n_train": 5000, "epochs": 3, "seeds": 3, "seed_sd": 0.004,
            "difference_se": 0.001, "noise_bound": 0.005}
    bench = SimpleNamespace(value={
        "bf16_accuracy_mlp": {**line, "model": "2x1200 MLP", "fp32_val_accuracy": 0.85, "bf16_val_accuracy": 0.852,
                              "difference": 0.002, "within_noise": 1.0},
        "bf16_accuracy_cnn": {**line, "model": "BatchNorm CNN", "fp32_val_accuracy": 0.9, "bf16_val_accuracy": 0.88,
                              "difference": -0.02, "within_noise": 0.0}})
    text = bf16_accuracy_sentence(bench)
    assert "5,000 fashion-mnist images for 3 epochs from each of 3 seeds" in text
    assert "kept the validation accuracy of the 2x1200 MLP within seed noise (85.20% against 85.00%" in text
    assert "did not keep the validation accuracy of the BatchNorm CNN" in text and "-2.00 points" in text
