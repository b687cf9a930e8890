"""The appendices' reading: the benchmark tables and glued numbers of the performance appendix,
and the tables and sentence of the reproducibility appendix, from stored results only.

The benchmarks themselves are computed (or loaded) by :func:`kdbook.bench.stored_benchmarks`,
which the page calls; the functions here read the :class:`~kdbook.store.StoredResult` it returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ..glue import Plain
from ..store import StoredResult, list_results
from .common import plural

#: The columns of the stored-results table when nothing is stored.
EMPTY_RESULT_COLUMNS = ["profile", "kind", "hash"]
#: Folders under ``results/<profile>/`` that hold no stored results: the claims' outcomes
#: (``results/full/claims/chNN.json``, see :mod:`kdbook.claims`), which ``list_results`` would
#: otherwise list as damaged results.
NOT_RESULTS = ("claims",)


# ----------------------------------------------------------------------------- performance
def benchmark_table(bench: StoredResult) -> pd.DataFrame:
    """Every measurement of every benchmark, one row each (benchmark, measure, value as text:
    three significant digits), so no benchmark leaves empty cells for another's measures."""
    from .tables import cell

    rows = [{"benchmark": name.replace("_", " "), "measure": measure.replace("_", " "),
             "value": cell(value, "{:.3g}")}
            for name, measures in bench.value.items() for measure, value in measures.items()]
    return pd.DataFrame(rows).set_index(["benchmark", "measure"])


#: How a target's operator reads on the page (a bare '<' in the table's HTML would start a tag).
TARGET_SIGNS = {">=": "≥", "<=": "≤"}


def targets_table(targets: Sequence[Mapping]):
    """The performance targets with the measured value and whether each is met, for the page."""
    from .tables import styled

    shown = [{**t, "target": " ".join(TARGET_SIGNS.get(w, w) for w in t["target"].split())} for t in targets]
    return styled(pd.DataFrame(shown), "{:.3g}", truth=("met", "not met"), hide_index=True)


def performance_values(bench: StoredResult, targets: Sequence[Mapping]) -> dict[str, object]:
    """The numbers the performance appendix glues, under their ``perf_`` names."""
    r = bench.value
    return {
        "perf_distill": r["distill_epoch"]["speedup"], "perf_ensemble": r["ensemble"]["speedup"],
        "perf_ensemble_narrow": r["ensemble_narrow"]["speedup"],
        "perf_ensemble_plain": r["ensemble"]["speedup_vs_plain"],
        "perf_ensemble_peak": 100 * r["ensemble"]["vectorised_fraction_of_peak"],
        "perf_ensemble_bound": r["ensemble"]["speedup_bound"],
        "perf_ensemble_shared": r["ensemble_shared_order"]["speedup"],
        "perf_members": r["ensemble"]["members"], "perf_widths": r["ensemble"]["widths"],
        "perf_narrow_widths": r["ensemble_narrow"]["widths"],
        "perf_fraction": 100 * r["mlp_throughput"]["fraction_of_peak"],
        "perf_gflops": r["mlp_throughput"]["achieved_gflops"],
        "perf_peak": r["mlp_throughput"]["matmul_peak_gflops"],
        "perf_cnn_speedup": r["cnn_epoch"]["speedup"], "perf_cnn_gflops": r["cnn_epoch"]["achieved_gflops"],
        "perf_cnn_fraction": 100 * r["cnn_epoch"]["fraction_of_matmul_peak"],
        "perf_cnn_conv_fraction": 100 * r["cnn_epoch"]["fraction_of_conv_peak"],
        "perf_cnn_members": r["cnn_members"]["speedup"], "perf_cnn_members_n": r["cnn_members"]["members"],
        "perf_consistent_mlp": r["consistent_mlp"]["overhead"], "perf_consistent_cnn": r["consistent_cnn"]["overhead"],
        "perf_bf16_mlp": r["bf16_mlp"]["speedup"], "perf_bf16_cnn": r["bf16_cnn"]["speedup"],
        "perf_bf16_accuracy": bf16_accuracy_sentence(bench),
        "perf_met": sum(bool(t["met"]) for t in targets), "perf_targets": len(targets),
    }


#: The bf16 accuracy lines, in the order the sentence gives them.
BF16_ACCURACY_LINES = ("bf16_accuracy_mlp", "bf16_accuracy_cnn")


def _bf16_accuracy_clause(r: Mapping) -> str:
    kept = "kept" if r["within_noise"] >= 1 else "did not keep"
    return (f"{kept} the validation accuracy of the {r['model']} within seed noise "
            f"({100 * r['bf16_val_accuracy']:.2f}% against {100 * r['fp32_val_accuracy']:.2f}% in fp32: a paired "
            f"difference of {100 * r['difference']:+.2f} points against a bound of {100 * r['noise_bound']:.2f}; "
            f"the fp32 seeds' sd is {100 * r['seed_sd']:.2f} points)")


def bf16_accuracy_sentence(bench: StoredResult) -> str:
    """Whether bf16 kept the validation accuracy within seed noise, per model, from the stored numbers."""
    r = bench.value
    first = r[BF16_ACCURACY_LINES[0]]
    clauses = " and ".join(_bf16_accuracy_clause(r[name]) for name in BF16_ACCURACY_LINES)
    epochs, seeds = plural(first["epochs"], "epoch", "epochs"), plural(first["seeds"], "seed")
    return (f"Trained on {first['n_train']:,} {first['dataset']} images for {epochs} from each of {seeds}, "
            f"bf16 {clauses}; the bound is two standard errors of the paired differences (the same seed gives "
            f"both precisions the same initial weights and batch order), or half a point if that is larger.")


# ----------------------------------------------------------------------------- reproducibility
def stored_results_table(root=None) -> pd.DataFrame:
    """One row per stored result under ``root`` (default: the repository's ``results/``)."""
    rows = [row for row in list_results(root) if row["kind"] not in NOT_RESULTS]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=EMPTY_RESULT_COLUMNS)


def stored_results_sentence(table: pd.DataFrame, profile: str) -> str:
    """How many results are stored and which profile the page ran with."""
    return f"{plural(len(table), 'stored result')}; this page was executed with profile {profile!r}"


def time_per_chapter(table: pd.DataFrame) -> pd.DataFrame:
    """Per profile and chapter: how many experiments, their wall minutes summed, the device, the latest date."""
    if not len(table) or "seconds" not in table:
        return pd.DataFrame()
    training = table["training_seconds"] if "training_seconds" in table else pd.Series(float("nan"), index=table.index)
    t = table.assign(chapter=table["kind"].str.split("-").str[0], minutes=table["seconds"].astype(float) / 60,
                     training_minutes=training.astype(float) / 60)
    return t.groupby(["profile", "chapter"]).agg(
        experiments=("kind", "count"), minutes=("minutes", "sum"),
        training_minutes=("training_minutes", lambda m: m.sum(min_count=1)), device=("device", "first"),
        date=("date", "max"))


def time_per_chapter_display(table: pd.DataFrame):
    """The time-per-chapter table for the page (minutes to one decimal), or a line saying there is none."""
    per_chapter = time_per_chapter(table)
    if per_chapter.empty:
        return Plain("No stored results yet.")
    from .tables import styled

    shown = per_chapter.rename(columns={"minutes": "wall minutes",
                                        "training_minutes": "training minutes (cached models included)"})
    return styled(shown, "{:.1f}", {"date": lambda v: str(v)[:10]})


def stored_results_display(table: pd.DataFrame):
    """Every stored result for the page: every row shown (none elided), dates to the day, seconds
    to one decimal."""
    from .tables import styled

    if not len(table):
        return Plain("No stored results yet.")
    cols = [c for c in ("profile", "kind", "hash", "seeds", "device", "seconds", "training_seconds", "date", "git")
            if c in table]
    return styled(table[cols], "{:.1f}", {"date": lambda v: str(v)[:10]}, hide_index=True)
