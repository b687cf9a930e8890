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
