import torch

from kdbook.bench import QUICK, format_report, run_benchmarks, target_table, training_flops_per_example
from kdbook.latency import measure_latency_ms
from kdbook.models import MLP


def test_flops_of_an_mlp():
    m = MLP(784, (1200, 1200), 10)
    # no input gradient for the first layer: the data needs none
    assert training_flops_per_example(m) == 6 * (784 * 1200 + 1200 * 1200 + 1200 * 10) - 2 * 784 * 1200


def test_quick_benchmarks_run_and_report_ratios():
    res = run_benchmarks("cpu", quick=True)
    assert set(res) == {"distill_epoch", "ensemble", "ensemble_narrow", "ensemble_shared_order", "mlp_throughput",
                        "cnn_epoch", "consistent_mlp", "consistent_cnn", "bf16_mlp", "bf16_cnn"}
    assert "overhead" in res["consistent_cnn"] and "speedup" in res["bf16_cnn"]
    assert res["ensemble"]["members"] == QUICK.members
    for r in res.values():
        assert all(v > 0 for v in r.values() if isinstance(v, float))
    table = target_table(res)
    assert [(t["benchmark"], t["measure"]) for t in table] == [
        ("distill_epoch", "speedup"), ("ensemble", "speedup_vs_plain"), ("ensemble", "speedup"),
        ("mlp_throughput", "fraction_of_peak")]
    assert all(isinstance(t["met"], bool) for t in table)
    assert "speedup=" in format_report(res)


def test_latency_grows_with_batch_and_model_size():
    small, big = MLP(64, (8,), 10), MLP(64, (2048, 2048), 10)
    x = torch.rand(64)
    assert measure_latency_ms(big, x, 256, repeats=5) > measure_latency_ms(small, x, 256, repeats=5)
    assert measure_latency_ms(big, x, 256, repeats=5) > measure_latency_ms(big, x, 1, repeats=5)


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
