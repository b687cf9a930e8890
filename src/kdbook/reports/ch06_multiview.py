"""Chapter 6 read from its stored result: accuracy by kind of example, which views each net
learned, the control and the sweep, the chapter's claims and the sentences its page glues.

Everything here reads the value that ``kdbook.experiments.ch06_multiview.run`` stores under the
part ``multiview``; nothing is trained.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .. import plots
from ..claims import Claim, Outcome, Results, evaluate
from ..store import StoredResult
from .common import clearly_greater, compare, paired_relation, run_time_sentence

#: Allen-Zhu & Li (2020) prove statements, not measurements; the one number they give for the
#: chapter's setting: a single model's accuracy on single-view test data (%).
PAPER = {"single_model_single_view_accuracy": 50.0}

#: A (net, class) pair "relies on one view" when that view carries more than this share of the
#: class's alignment (the other less than 1 - this).
DOMINANT_SHARE = 0.8
#: "Right on" a kind of example: at least this test accuracy (%).
RIGHT = 99.0


# ----------------------------------------------------------------------------- small readers
def _mean_sd(values) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    return float(a.mean()), (float(a.std(ddof=1)) if len(a) > 1 else 0.0)


def _accuracies(nets: list[dict], kind: str) -> list[float]:
    return [100 * n["accuracy"][kind] for n in nets]


def _views_learned(nets: list[dict]) -> list[float]:
    return [100 * n["views_learned"] for n in nets]


def _learned(nets: list[dict]) -> np.ndarray:
    """(nets, classes, views) booleans: which views each net learned."""
    return np.array([n["learned"] for n in nets], dtype=bool)


def alignment_matrix(nets: list[dict], view: int) -> np.ndarray:
    """(nets, classes) alignment of each net's best channel with each class's view ``view``."""
    return np.array([[cls[view] for cls in n["alignment"]] for n in nets])


def view_share(nets: list[dict]) -> np.ndarray:
    """(nets, classes) share of view 1 in a class's alignment: 1 = only view 1, 0 = only view 2,
    0.5 = both equally (two-view data)."""
    a = np.clip(np.stack([alignment_matrix(nets, 0), alignment_matrix(nets, 1)]), 0, None)
    return a[0] / np.maximum(a.sum(0), 1e-9)


def one_view_share(nets: list[dict]) -> float:
    """Share (%) of (net, class) pairs for which the net learned exactly one of the class's views."""
    return 100 * float((_learned(nets).sum(-1) == 1).mean())


def dominant_view_share(nets: list[dict]) -> float:
    """Share (%) of (net, class) pairs in which one view carries more than :data:`DOMINANT_SHARE`
    of the class's alignment."""
    share = view_share(nets)
    return 100 * float(np.mean((share > DOMINANT_SHARE) | (share < 1 - DOMINANT_SHARE)))


def split_classes(nets: list[dict]) -> int:
    """How many classes some net learned with view 1 only and another with view 2 only."""
    learned = _learned(nets)
    only_first = learned[..., 0] & ~learned[..., 1]
    only_second = learned[..., 1] & ~learned[..., 0]
    return int((only_first.any(0) & only_second.any(0)).sum())


def views_beyond_teacher(result: StoredResult) -> list[int]:
    """For each self-distilled student: how many views it learned that its teacher had not."""
    r = result.value
    teachers = {n["seed"]: np.array(n["learned"], dtype=bool) for n in r["members"]}
    return [int((np.array(student["learned"], dtype=bool) & ~teachers[seed]).sum())
            for student, seed in zip(r["self_kd"], r["self_kd_teachers"])]


def views_dropped_from_teacher(result: StoredResult) -> list[int]:
    """For each self-distilled student: how many of its teacher's views it did not learn."""
    r = result.value
    teachers = {n["seed"]: np.array(n["learned"], dtype=bool) for n in r["members"]}
    return [int((teachers[seed] & ~np.array(student["learned"], dtype=bool)).sum())
            for student, seed in zip(r["self_kd"], r["self_kd_teachers"])]


# ----------------------------------------------------------------------------- tables
def parameters_table(config) -> pd.DataFrame:
    """Every field of a settings dataclass (e.g. the generator's) with its value, for display."""
    from .tables import cell

    return pd.DataFrame({"value": {f.name.replace("_", " "): cell(getattr(config, f.name), "{:g}")
                                   for f in dataclasses.fields(config)}}).rename_axis("parameter")


def accuracy_table(result: StoredResult) -> pd.DataFrame:
    """Accuracy (%) on multi-view and single-view test examples: mean and std over nets for single
    models and students, one number for the ensemble."""
    r = result.value
    rows = []
    for name, nets in (("single model", r["members"]), ("distilled from the ensemble", r["kd"]),
                       ("self-distilled", r["self_kd"])):
        row = {"model": name, "nets": len(nets)}
        for kind in ("multi-view", "single-view"):
            row[kind], row[kind + " std"] = _mean_sd(_accuracies(nets, kind))
        row["views learned (%)"] = float(np.mean(_views_learned(nets)))
        rows.append(row)
    e = r["ensemble"]
    rows.insert(1, {"model": f"ensemble of {len(r['members'])}", "nets": len(r["members"]),
                    "multi-view": 100 * e["accuracy"]["multi-view"], "multi-view std": 0.0,
                    "single-view": 100 * e["accuracy"]["single-view"], "single-view std": 0.0,
                    "views learned (%)": 100 * e["views_covered"]})
    return pd.DataFrame(rows).set_index("model")


def sweep_table(result: StoredResult) -> pd.DataFrame:
    """Per share of single-view training data: single models' and the ensemble's single-view
    accuracy (%) and share of views learned."""
    rows = []
    for entry in result.value["sweep"]:
        m, sd = _mean_sd(_accuracies(entry["members"], "single-view"))
        rows.append({"single-view share of training data": entry["single_view_fraction"],
                     "single model, single-view acc.": m, "std": sd,
                     "ensemble, single-view acc.": 100 * entry["ensemble"]["accuracy"]["single-view"],
                     "views learned by one net (%)": float(np.mean(_views_learned(entry["members"]))),
                     "views covered by the ensemble (%)": 100 * entry["ensemble"]["views_covered"]})
    df = pd.DataFrame(rows).set_index("single-view share of training data")
    df["ensemble gain"] = df["ensemble, single-view acc."] - df["single model, single-view acc."]
    return df


def control_table(result: StoredResult) -> pd.DataFrame:
    """Test accuracy (%) of single models and of their ensemble, on the chapter's two-view data and
    on the control whose classes have a single view each (first data seed)."""
    r = result.value
    rows = []
    for name, part in (("two views per class", r), ("one view per class (control)", r["control"])):
        m, sd = _mean_sd(_accuracies(part["members"], "all"))
        rows.append({"data": name, "members": len(part["members"]), "single model": m, "std": sd,
                     "ensemble": 100 * part["ensemble"]["accuracy"]["all"]})
    df = pd.DataFrame(rows).set_index("data")
    df["ensemble gain"] = df["ensemble"] - df["single model"]
    return df


def control_grid_table(result: StoredResult) -> pd.DataFrame:
    """The control's noise levels with its single nets' mean validation accuracy (%), the one
    nearest the two-view nets' marked: how its difficulty was matched."""
    r = result.value
    grid = pd.DataFrame(r.get("control_grid", []))
    if grid.empty:
        return grid
    grid["val_accuracy"] *= 100
    grid["chosen"] = grid["noise_std"] == r["control"]["noise_std"]
    return grid.rename(columns={"noise_std": "noise std", "val_accuracy": "single nets, validation accuracy (%)"}
                       ).set_index("noise std")


def _runs(result: StoredResult) -> list[dict]:
    return result.value.get("runs", [result.value])


def _gain(part: dict) -> float:
    """The ensemble's test accuracy minus its members' mean (points)."""
    return 100 * part["ensemble"]["accuracy"]["all"] - float(np.mean(_accuracies(part["members"], "all")))


def runs_table(result: StoredResult) -> pd.DataFrame:
    """Per data seed: single nets and their ensemble on the two-view data and on the matched
    control, the trained average against an ensemble of as many members, and the distilled
    students against their twins on single-view examples (all test accuracy, %, or points)."""
    rows = []
    for run in _runs(result):
        row = {"data seed": run["data_seed"],
               "single nets": float(np.mean(_accuracies(run["members"], "all"))),
               "ensemble gain": _gain(run), "control: single nets": float(np.mean(_accuracies(run["control"]["members"], "all"))),
               "control: ensemble gain": _gain(run["control"])}
        if "average" in run:
            row["trained average - ensemble"] = 100 * (run["average"]["accuracy"]["all"]
                                                       - run["average"]["members_ensemble"]["accuracy"]["all"])
        row["distilled - twin, single-view"] = float(np.mean(_kd_minus_twin(run)))
        rows.append(row)
    return pd.DataFrame(rows).set_index("data seed")


def _kd_minus_twin(run: dict) -> list[float]:
    return [100 * (k["accuracy"]["single-view"] - t["accuracy"]["single-view"]) for k, t in zip(run["kd"], run["twins"])]


def _average_minus_ensemble(run: dict) -> list[float]:
    if "average" not in run:
        return []
    a = run["average"]
    return [100 * (a["accuracy"]["all"] - a["members_ensemble"]["accuracy"]["all"])]


#: the chapter's paired differences, per data seed's run (points of test accuracy)
_PAIRS = {
    "control_gain": lambda run: [_gain(run["control"])] if "control" in run else [],
    "gain_minus_control": lambda run: [_gain(run) - _gain(run["control"])] if "control" in run else [],
    "average_minus_ensemble": _average_minus_ensemble,
    "kd_minus_twin": lambda run: _kd_minus_twin(run) if "twins" in run else [],
}


def paired_differences(result: StoredResult, name: str) -> np.ndarray:
    """The chapter's paired differences over data seeds (points of test accuracy): 'control_gain'
    (the control's ensemble gain per data seed), 'gain_minus_control' (the two-view gain minus the
    control's, per data seed), 'average_minus_ensemble' (per data seed) and 'kd_minus_twin'
    (single-view accuracy, every student of every data seed)."""
    pairs = _PAIRS[name]
    return np.array([d for run in _runs(result) for d in pairs(run)])


def class_outcomes(result: StoredResult) -> pd.DataFrame:
    """Per class (first data seed), over the members: how many learned both views, only view 1,
    only view 2 or neither, and which views it ever misses: none, always the same one (the data
    fixes which; the seed only decides whether), or either (the seed decides which)."""
    learned = _learned(result.value["members"])  # (nets, classes, views)
    rows = []
    for c in range(learned.shape[1]):
        both = int((learned[:, c, 0] & learned[:, c, 1]).sum())
        first = int((learned[:, c, 0] & ~learned[:, c, 1]).sum())
        second = int((learned[:, c, 1] & ~learned[:, c, 0]).sum())
        neither = learned.shape[0] - both - first - second
        counts = {"both views": both, "view 1 only": first, "view 2 only": second, "neither": neither}
        missed = [j + 1 for j in range(learned.shape[2]) if not learned[:, c, j].all()]
        outcome = ("never misses a view" if not missed else
                   f"only ever misses view {missed[0]} (the data fixes which)" if len(missed) == 1 else
                   "misses either view (the seed decides which)")
        rows.append({"class": c, **counts, "outcome": outcome})
    return pd.DataFrame(rows).set_index("class")


# ----------------------------------------------------------------------------- headline numbers
def headline(result: StoredResult) -> dict[str, float]:
    """The chapter's findings as numbers (accuracies and shares in %)."""
    r = result.value
    t = accuracy_table(result)
    ens_name = t.index[1]
    member_single = _accuracies(r["members"], "single-view")
    share_err = [n["error_share_single"] for n in r["members"] if n["error_share_single"] == n["error_share_single"]]
    control = control_table(result)
    ctrl, two = control.loc["one view per class (control)"], control.loc["two views per class"]
    return {
        "n_members": len(r["members"]), "n_students": len(r["kd"]), "n_classes": len(r["members"][0]["learned"]),
        "single_multi": t.loc["single model", "multi-view"], "single_single": t.loc["single model", "single-view"],
        "single_single_std": t.loc["single model", "single-view std"],
        "single_single_min": min(member_single), "single_single_max": max(member_single),
        "ens_multi": t.loc[ens_name, "multi-view"], "ens_single": t.loc[ens_name, "single-view"],
        "kd_single": t.loc["distilled from the ensemble", "single-view"],
        "kd_single_std": t.loc["distilled from the ensemble", "single-view std"],
        "self_single": t.loc["self-distilled", "single-view"],
        "self_single_std": t.loc["self-distilled", "single-view std"],
        "single_views": t.loc["single model", "views learned (%)"],
        "single_views_std": _mean_sd(_views_learned(r["members"]))[1],
        "ens_views": t.loc[ens_name, "views learned (%)"],
        "kd_views": t.loc["distilled from the ensemble", "views learned (%)"],
        "kd_views_std": _mean_sd(_views_learned(r["kd"]))[1],
        "self_views": t.loc["self-distilled", "views learned (%)"],
        "error_share_single": 100 * float(np.mean(share_err)) if share_err else float("nan"),
        "single_view_fraction": 100 * r["test_single_count"] / r["test_count"],
        "one_view_classes": dominant_view_share(r["members"]),
        "one_view_learned": one_view_share(r["members"]),
        "both_views_learned": 100 * float(_learned(r["members"]).all(-1).mean()),
        "split_classes": split_classes(r["members"]),
        "single_all": two["single model"], "single_all_std": two["std"], "ens_all": two["ensemble"],
        "two_view_gain": two["ensemble gain"],
        "control_single": ctrl["single model"], "control_single_std": ctrl["std"], "control_ens": ctrl["ensemble"],
        "control_gain": ctrl["ensemble gain"],
    }


def _h(results: Results) -> dict[str, float]:
    return headline(results["multiview"])


# ----------------------------------------------------------------------------- claims
def _one_view_for_most_classes(results: Results):
    h = _h(results)
    return h["one_view_learned"] > 50, {"pairs_with_one_view_learned_pct": h["one_view_learned"],
                                         "pairs_relying_on_one_view_pct": h["one_view_classes"],
                                         "views_learned_pct": h["single_views"]}


def _single_fails_on_single_view(results: Results):
    h = _h(results)
    holds = h["single_multi"] >= RIGHT and clearly_greater(h["single_multi"], 0.0, h["single_single"],
                                                           h["single_single_std"])
    return holds, {"multi_view_pct": h["single_multi"], "single_view_pct": h["single_single"],
                   "single_view_std": h["single_single_std"]}


def _ensemble_right_on_both(results: Results):
    h = _h(results)
    holds = (min(h["ens_multi"], h["ens_single"]) >= RIGHT
             and clearly_greater(h["ens_single"], 0.0, h["single_single"], h["single_single_std"]))
    return holds, {"ensemble_multi_view_pct": h["ens_multi"], "ensemble_single_view_pct": h["ens_single"],
                   "single_model_single_view_pct": h["single_single"], "members": h["n_members"]}


def _distilled_matches_ensemble(results: Results):
    h = _h(results)
    holds = compare(h["kd_single"], h["kd_single_std"], h["ens_single"], 0.0) != "lower than"
    return holds, {"distilled_single_view_pct": h["kd_single"], "distilled_std": h["kd_single_std"],
                   "ensemble_single_view_pct": h["ens_single"], "students": h["n_students"]}


def _self_distilled_between(results: Results):
    h = _h(results)
    holds = (clearly_greater(h["self_single"], h["self_single_std"], h["single_single"], h["single_single_std"])
             and clearly_greater(h["ens_single"], 0.0, h["self_single"], h["self_single_std"]))
    return holds, {"single_model_pct": h["single_single"], "self_distilled_pct": h["self_single"],
                   "self_distilled_std": h["self_single_std"], "ensemble_pct": h["ens_single"]}


def _no_gain_without_views(results: Results):
    h = _h(results)
    holds = not clearly_greater(h["control_ens"], 0.0, h["control_single"], h["control_single_std"])
    return holds, {"control_single_model_pct": h["control_single"], "control_ensemble_pct": h["control_ens"],
                   "control_gain_points": h["control_gain"]}


def _seed_picks_the_view(results: Results):
    h = _h(results)
    return h["split_classes"] >= h["n_classes"] / 2, {"classes_split_between_seeds": h["split_classes"],
                                                      "classes": h["n_classes"]}


def _members_cover_every_view(results: Results):
    h = _h(results)
    return h["ens_views"] >= 100 - 1e-6, {"views_covered_by_members_pct": h["ens_views"],
                                          "views_learned_by_one_net_pct": h["single_views"]}


def _errors_on_single_view(results: Results):
    h = _h(results)
    return h["error_share_single"] > 50, {"single_view_share_of_errors_pct": h["error_share_single"],
                                          "single_view_share_of_test_pct": h["single_view_fraction"]}


def _distilled_beats_single(results: Results):
    h = _h(results)
    holds = clearly_greater(h["kd_single"], h["kd_single_std"], h["single_single"], h["single_single_std"])
    return holds, {"distilled_single_view_pct": h["kd_single"], "distilled_std": h["kd_single_std"],
                   "single_model_single_view_pct": h["single_single"], "single_model_std": h["single_single_std"]}


def _distilled_learns_more_views(results: Results):
    h = _h(results)
    holds = clearly_greater(h["kd_views"], h["kd_views_std"], h["single_views"], h["single_views_std"])
    return holds, {"distilled_views_pct": h["kd_views"], "distilled_std": h["kd_views_std"],
                   "single_model_views_pct": h["single_views"], "single_model_std": h["single_views_std"]}


def _self_distilled_learns_new_views(results: Results):
    beyond = views_beyond_teacher(results["multiview"])
    dropped = views_dropped_from_teacher(results["multiview"])
    return bool(beyond) and min(beyond) >= 1, {"fewest_new_views": min(beyond, default=0),
                                               "new_views_in_all": sum(beyond),
                                               "teacher_views_dropped_in_all": sum(dropped)}


def _gain_shrinks_with_single_view_share(results: Results):
    t = sweep_table(results["multiview"])
    gains, views = t["ensemble gain"].to_numpy(), t["views learned by one net (%)"].to_numpy()
    steady = bool(np.all(np.diff(gains) <= 0) and np.all(np.diff(views) >= 0))
    clear = gains[0] - gains[-1] > t["std"].iloc[0] + t["std"].iloc[-1]
    return steady and bool(clear), {"gain_at_smallest_share_points": gains[0],
                                    "gain_at_largest_share_points": gains[-1],
                                    "views_one_net_smallest_pct": views[0], "views_one_net_largest_pct": views[-1],
                                    "shares": len(gains)}


def _ensemble_gain_needs_views(results: Results):
    h = _h(results)
    two_view = clearly_greater(h["ens_all"], 0.0, h["single_all"], h["single_all_std"])
    control = clearly_greater(h["control_ens"], 0.0, h["control_single"], h["control_single_std"])
    return two_view and not control, {"two_view_gain_points": h["two_view_gain"], "two_view_std": h["single_all_std"],
                                      "control_gain_points": h["control_gain"],
                                      "control_std": h["control_single_std"]}


def _paired_verdict(name: str, expected: str):
    def predicate(results: Results):
        d = paired_differences(results["multiview"], name)
        m, s = _mean_sd(d) if len(d) else (float("nan"), float("nan"))
        holds = paired_relation(d) == expected
        return holds, {"mean_difference_points": m, "difference_std": s, "pairs": len(d)}
    return predicate


def _control_no_gain(results: Results):
    d = paired_differences(results["multiview"], "control_gain")
    m, s = _mean_sd(d) if len(d) else (float("nan"), float("nan"))
    return paired_relation(d) != "higher than", {"control_gain_points": m, "control_gain_std": s,
                                                 "data_seeds": len(d),
                                                 "control_noise_std": results["multiview"].value["control"]["noise_std"]}


def _single_beats_theorem(results: Results):
    h = _h(results)
    paper = PAPER["single_model_single_view_accuracy"]
    return clearly_greater(h["single_single"], h["single_single_std"], paper, 0.0), {
        "single_view_pct": h["single_single"], "std": h["single_single_std"], "theorem_pct": paper}


CLAIMS: tuple[Claim, ...] = (
    Claim("ch06.single_model_learns_one_view_for_most_classes",
          "A single net trained on the labels learns only one of a class's two views for most (net, class) pairs.",
          "A single net trained on the labels does not learn only one view for most classes: it does so for at "
          "most half of the (net, class) pairs.",
          _one_view_for_most_classes, source="paper"),
    Claim("ch06.single_model_fails_on_single_view",
          "A single net is right on the multi-view test examples and clearly less accurate on the single-view ones.",
          "A single net is not both right on the multi-view test examples and clearly less accurate on the "
          "single-view ones.",
          _single_fails_on_single_view, source="paper"),
    Claim("ch06.ensemble_right_on_both",
          "The ensemble of independently seeded nets is right on both kinds of test example, clearly above a "
          "single net on the single-view ones.",
          "The ensemble of independently seeded nets is not right on both kinds of test example, or not clearly "
          "above a single net on the single-view ones.",
          _ensemble_right_on_both, source="paper"),
    Claim("ch06.distilled_matches_ensemble",
          "Students distilled from the ensemble are not clearly below it on single-view test examples.",
          "Students distilled from the ensemble are clearly below it on single-view test examples.",
          _distilled_matches_ensemble, source="paper"),
    Claim("ch06.self_distilled_between",
          "Self-distilled students sit between a single net and the ensemble on single-view test examples "
          "(clearly above the one, clearly below the other).",
          "Self-distilled students do not sit clearly between a single net and the ensemble on single-view "
          "test examples.",
          _self_distilled_between, source="paper"),
    Claim("ch06.no_gain_without_views",
          "On data whose classes have a single view, the ensemble is not clearly more accurate than its members.",
          "On data whose classes have a single view, the ensemble is still clearly more accurate than its members.",
          _no_gain_without_views, source="paper"),
    Claim("ch06.seed_picks_the_view",
          "Which view a net learns depends on its seed: for at least half of the classes, some net learned only "
          "view 1 and another only view 2.",
          "For fewer than half of the classes did some net learn only view 1 and another only view 2.",
          _seed_picks_the_view),
    Claim("ch06.members_cover_every_view",
          "Together the members have learned every view of every class.",
          "Together the members still miss some views.",
          _members_cover_every_view),
    Claim("ch06.errors_on_single_view",
          "Most of a single net's test errors fall on single-view examples.",
          "Most of a single net's test errors fall on multi-view examples.",
          _errors_on_single_view),
    Claim("ch06.distilled_beats_single_on_single_view",
          "Students distilled from the ensemble are clearly more accurate than single nets on single-view examples.",
          "Students distilled from the ensemble are not clearly more accurate than single nets on single-view "
          "examples.",
          _distilled_beats_single),
    Claim("ch06.distilled_learns_more_views",
          "Students distilled from the ensemble learn clearly more views than single nets trained on the labels.",
          "Students distilled from the ensemble do not learn clearly more views than single nets trained on the "
          "labels.",
          _distilled_learns_more_views),
    Claim("ch06.self_distilled_learns_views_its_teacher_lacks",
          "Every self-distilled student learned at least one view that its teacher had not learned.",
          "Some self-distilled student learned no view beyond its teacher's.",
          _self_distilled_learns_new_views),
    Claim("ch06.gain_shrinks_with_single_view_share",
          "As the share of single-view training examples grows, single nets learn more views and the ensemble's "
          "single-view gain shrinks, at every step of the sweep.",
          "As the share of single-view training examples grows, the ensemble's single-view gain does not shrink "
          "steadily, or single nets do not learn steadily more views.",
          _gain_shrinks_with_single_view_share),
    Claim("ch06.ensemble_gain_needs_views",
          "The ensemble is clearly more accurate than its members on the two-view data and not on the "
          "one-view control.",
          "The ensemble's gain does not separate the two-view data from the one-view control.",
          _ensemble_gain_needs_views),
    Claim("ch06.control_shows_no_gain_at_matched_difficulty",
          "On data whose classes have a single view, with the noise set so that single nets are as accurate as "
          "on the two-view data, the ensemble shows no clear gain over its members (paired over data seeds).",
          "On data whose classes have a single view, at matched difficulty, the ensemble is still clearly more "
          "accurate than its members (paired over data seeds): averaging gains without multi-view structure.",
          _control_no_gain, source="paper"),
    Claim("ch06.ensemble_gain_exceeds_control",
          "The ensemble's gain on the two-view data is clearly larger than on the matched one-view control "
          "(paired over data seeds).",
          "The ensemble's gain on the two-view data is not clearly larger than on the matched one-view control "
          "(paired over data seeds).", _paired_verdict("gain_minus_control", "higher than")),
    Claim("ch06.trained_average_below_ensemble",
          "Training the average of the nets directly as one model gives a clearly less accurate model than "
          "ensembling as many independently trained nets (paired over data seeds).",
          "Training the average of the nets directly is not clearly less accurate than ensembling as many "
          "independently trained nets (paired over data seeds).",
          _paired_verdict("average_minus_ensemble", "lower than"), source="paper"),
    Claim("ch06.distilled_beats_twins_on_single_view",
          "Each distilled student is clearly more accurate on single-view examples than its own initialisation "
          "trained on the labels (paired over students and data seeds).",
          "The distilled students are not clearly more accurate on single-view examples than their own "
          "initialisations trained on the labels (paired over students and data seeds).",
          _paired_verdict("kd_minus_twin", "higher than")),
    Claim("ch06.single_net_beats_the_theorems_half",
          "A single net is clearly better on single-view test examples than the theorem's "
          f"{PAPER['single_model_single_view_accuracy']:g}%.",
          "A single net is not clearly better on single-view test examples than the theorem's "
          f"{PAPER['single_model_single_view_accuracy']:g}%.",
          _single_beats_theorem),
)


# ----------------------------------------------------------------------------- page
def outcomes(results: Results) -> list[Outcome]:
    """The chapter's claims evaluated on ``results``."""
    return evaluate(CLAIMS, results)


def claim_sentences(results: Results, prefix: str = "ch06_claim_") -> dict[str, str]:
    """Each claim's sentence (its statement if it holds, else its negation), keyed by the part of
    its id after the chapter, with ``prefix``."""
    return {prefix + o.id.split(".", 1)[1]: o.sentence() for o in outcomes(results)}


def teacher_report_table(result: StoredResult) -> pd.DataFrame:
    """The teacher's (the ensemble's) report over data seeds: train / val / test accuracy (%), the
    students' label-trained twins' validation accuracy and the teacher's advantage over them (points)."""
    r = result.value["teacher_report"]
    rows = {"train accuracy": 100 * r["train_accuracy"], "validation accuracy": 100 * r["val_accuracy"],
            "test accuracy": 100 * r["test_accuracy"], "twins' validation accuracy": 100 * r["student_val_accuracy"],
            "validation advantage (points)": 100 * r["val_advantage"]}
    stds = {"train accuracy": r["train_accuracy_std"], "validation accuracy": r["val_accuracy_std"],
            "test accuracy": r["test_accuracy_std"], "twins' validation accuracy": r["student_val_accuracy_std"],
            "validation advantage (points)": r["val_advantage_std"]}
    return pd.DataFrame({"mean": rows, "std over data seeds": {k: 100 * v for k, v in stds.items()}})


def teacher_sentence(result: StoredResult) -> str:
    """The teacher's report in a sentence, with the book's cautious reading of its advantage."""
    r = result.value["teacher_report"]
    verdict = ("clearly ahead of them: it has something to pass on" if r["has_advantage"] else
               "not clearly ahead of them")
    return (f"The teacher (the ensemble) fits {100 * r['train_accuracy']:.2f}% of its training examples and reaches "
            f"{100 * r['val_accuracy']:.2f}% on validation and {100 * r['test_accuracy']:.2f}% on test (over "
            f"{r['seeds']} data seeds); the students' label-trained twins reach {100 * r['student_val_accuracy']:.2f}% "
            f"on validation, so the teacher is {100 * r['val_advantage']:+.2f} ± {100 * r['val_advantage_std']:.2f} "
            f"points {verdict}.")


def glue_values(results: Mapping[str, StoredResult]) -> dict[str, float | str]:
    """Every number and sentence the page glues, named ``ch06_*``."""
    h = headline(results["multiview"])
    sentences = claim_sentences(results)
    beyond = views_beyond_teacher(results["multiview"])
    return {**{f"ch06_{k}": v for k, v in h.items()}, **sentences, **sweep_ends(results["multiview"]),
            "ch06_self_new_views": sum(beyond), "ch06_right": RIGHT, "ch06_dominant_share": 100 * DOMINANT_SHARE,
            "ch06_paper_single_view": PAPER["single_model_single_view_accuracy"],
            "ch06_run_time": run_time_sentence(results), "ch06_teacher": teacher_sentence(results["multiview"])}


def sweep_ends(result: StoredResult, prefix: str = "ch06_sweep_") -> dict[str, float]:
    """The sweep's smallest and largest share of single-view training data, with the ensemble's
    single-view gain (points) and one net's views learned (%) at each."""
    t = sweep_table(result)
    first, last = t.iloc[0], t.iloc[-1]
    return {f"{prefix}share_first": 100 * float(t.index[0]), f"{prefix}share_last": 100 * float(t.index[-1]),
            f"{prefix}gain_first": float(first["ensemble gain"]), f"{prefix}gain_last": float(last["ensemble gain"]),
            f"{prefix}views_first": float(first["views learned by one net (%)"]),
            f"{prefix}views_last": float(last["views learned by one net (%)"])}


# ----------------------------------------------------------------------------- figures
def example_figure(result: StoredResult, *, num_classes: int, views: int, patches: int):
    """One multi-view and one single-view example, projected on every class's views (a heatmap each)."""
    cols = [f"{c}:{j + 1}" for c in range(num_classes) for j in range(views)]
    fig, axes = plots.figure(ncols=2, width=12, height=4.2)
    for ax, (name, e) in zip(axes, result.value["example"].items()):
        only = f" (view {e['strong_view'] + 1} only)" if e["strong_view"] >= 0 else ""
        plots.heatmap(np.array(e["projection"]), row_labels=[str(p) for p in range(patches)], col_labels=cols,
                      title=f"{name} example of class {e['label']}{only}", vmin=-1.2, vmax=1.2,
                      label="projection on the feature", ax=ax)
        ax.set_xlabel("feature (class:view)")
        ax.set_ylabel("patch")
        ax.tick_params(axis="x", labelsize=7, rotation=90)
    return fig


def view_share_figure(result: StoredResult):
    """Per net and class, the share of view 1 in the class's alignment: single nets, distilled and
    self-distilled students side by side."""
    r = result.value
    classes = [str(c) for c in range(len(r["members"][0]["alignment"]))]
    fig, axes = plots.figure(ncols=3, width=13, height=3.8, gridspec_kw={"width_ratios": [1.3, 1, 1]})
    for ax, nets, title, prefix in ((axes[0], r["members"], "single nets (labels)", "seed"),
                                    (axes[1], r["kd"], "distilled from the ensemble", "student"),
                                    (axes[2], r["self_kd"], "self-distilled", "student")):
        plots.heatmap(view_share(nets), row_labels=[f"{prefix} {n['seed']}" for n in nets], col_labels=classes,
                      vmin=0, vmax=1, cmap="RdBu_r", title=title, label="share of view 1",
                      colorbar=ax is axes[2], ax=ax)
        ax.set_xlabel("class")
    return fig


def accuracy_figure(table: pd.DataFrame):
    """Bars of :func:`accuracy_table`: test accuracy per model on multi-view and on single-view examples."""
    names = list(table.index)
    fig, axes = plots.figure(ncols=2, width=11, height=3.4, sharey=True)
    low = max(0, table[["multi-view", "single-view"]].to_numpy().min() - 10)
    for ax, kind in zip(axes, ("multi-view", "single-view")):
        plots.bars(names, table[kind], errors=table[kind + " std"], ylabel="test accuracy (%)",
                   title=f"{kind} test examples", ax=ax)
        ax.tick_params(axis="x", rotation=20, labelsize=8)
        ax.set_ylim(low, 100.5)
    return fig


def sweep_figure(sweep: pd.DataFrame):
    """Lines of :func:`sweep_table`: single-view accuracy and views learned against the share of
    single-view training examples."""
    fig, axes = plots.figure(ncols=2, width=11, height=3.4)
    x = sweep.index.to_numpy()
    plots.lines(x, {"single model": sweep["single model, single-view acc."],
                    "ensemble": sweep["ensemble, single-view acc."]},
                spread={"single model": sweep["std"]}, xlabel="share of single-view training examples",
                ylabel="single-view test accuracy (%)", ax=axes[0])
    plots.lines(x, {"one net": sweep["views learned by one net (%)"],
                    "ensemble (union)": sweep["views covered by the ensemble (%)"]},
                xlabel="share of single-view training examples", ylabel="views learned (%)", ax=axes[1])
    return fig

