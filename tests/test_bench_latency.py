import pytest
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
                        "cnn_epoch", "cnn_members", "consistent_mlp", "consistent_cnn", "bf16_mlp", "bf16_cnn",
                        "bf16_accuracy_mlp", "bf16_accuracy_cnn"}
    assert "overhead" in res["consistent_cnn"] and "speedup" in res["bf16_cnn"] and "speedup" in res["cnn_members"]
    assert res["ensemble"]["members"] == QUICK.members and res["cnn_members"]["members"] == QUICK.cnn_members
    for name, r in res.items():
        times = {k: v for k, v in r.items() if isinstance(v, float) and k != "difference"}
        assert all(v > 0 for v in times.values()), name
    acc = res["bf16_accuracy_cnn"]
    assert acc["difference"] == pytest.approx(acc["bf16_val_accuracy"] - acc["fp32_val_accuracy"], abs=1e-6)
    assert acc["within_noise"] == (abs(acc["difference"]) <= acc["fp32_seed_std"])
    table = target_table(res)
    assert [(t["benchmark"], t["measure"], t["target"]) for t in table] == [
        ("distill_epoch", "speedup", ">= 1.5"), ("ensemble", "speedup_vs_plain", ">= 2"), ("ensemble", "speedup", ">= 2"),
        ("mlp_throughput", "fraction_of_peak", ">= 0.7"), ("cnn_epoch", "fraction_of_matmul_peak", ">= 0.5"),
        ("cnn_members", "speedup", ">= 1.5"), ("consistent_mlp", "overhead", "<= 1.4"),
        ("consistent_cnn", "overhead", "<= 1.4"), ("bf16_mlp", "speedup", ">= 1.8"), ("bf16_cnn", "speedup", ">= 1.25")]
    assert all(isinstance(t["met"], bool) for t in table)
    overhead = next(t for t in table if t["benchmark"] == "consistent_cnn")
    assert overhead["met"] == (res["consistent_cnn"]["overhead"] <= 1.4)  # a bound from above
    report = format_report(res)
    assert "speedup=" in report and "overhead=" in report


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
