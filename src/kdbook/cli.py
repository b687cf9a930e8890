"""Command line: ``python -m kdbook --help``.

Subcommands run a chapter's experiments without Jupyter, execute and build the book, train a
single model (teacher or distilled student), and list datasets and profiles.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .errors import ConfigError, DatasetUnavailable, KDBookError

EPILOG = """\
examples:
  python -m kdbook run ch01 --profile full          # compute (or load) chapter 1's results
  python -m kdbook book --profile full              # execute every chapter and build the site
  python -m kdbook book --profile smoke --chapters ch01 --no-build
  python -m kdbook train --dataset digits --widths 64 64 --epochs 5
  python -m kdbook train --dataset digits --widths 32 --teacher-widths 256 256 --T 4 --alpha 0.9
  python -m kdbook datasets                         # which datasets are available here
  python -m kdbook bench                            # library vs plain-PyTorch speed; bf16 vs fp32
  python -m kdbook verify                           # stored results from older library code
  python -m kdbook verify --recompute ch06-multiview
  python -m kdbook claims                           # claims on the stored full results -> JSON
"""


def _cmd_run(args: argparse.Namespace) -> int:
    from .experiments import chapter
    from .profiles import get_profile, resolve_device

    get_profile(args.profile)
    device = resolve_device(args.device)
    for name in args.chapters:
        mod = chapter(name)
        print(f"{name} ({mod.TITLE}), profile {args.profile}, device {device}")
        for key, res in mod.run(args.profile, device, recompute=args.recompute).items():
            print(f"  {key}: {res.path}\n    {res.describe()}")
    return 0


def _cmd_book(args: argparse.Namespace) -> int:
    from .book import build_book
    from .profiles import get_profile, resolve_device

    get_profile(args.profile)
    device = resolve_device(args.device)
    if args.stored_only:  # the kernels inherit it: a missing result fails the chapter instead of training
        os.environ["KDBOOK_STORED_ONLY"] = "1"
    report = build_book(profile=args.profile, device=device, chapters=args.chapters or None,
                        build=not args.no_build, timeout=args.timeout)
    print(report.summary())
    return 0 if report.ok else 1


def _cmd_train(args: argparse.Namespace) -> int:
    import torch

    from .data import load_dataset
    from .models import ModelConfig, build_model
    from .profiles import resolve_device
    from .teachers import freeze
    from .losses import DistillConfig
    from .train import TrainConfig, evaluate, label_objective, train

    from . import validate
    from .data import available

    # Validate everything, and report every problem, before loading data or training.
    distill = args.teacher_widths is not None
    model_cfg, train_cfg, teacher_cfg, distill_cfg, _ = validate.collect(
        lambda: ModelConfig(args.model, tuple(args.widths), dropout=args.dropout),
        lambda: TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                            optimizer=args.optimizer, seed=args.seed, augment=args.augment,
                            precision=args.precision, compile=args.compile),
        lambda: ModelConfig(args.model, tuple(args.teacher_widths), dropout=args.dropout) if distill else None,
        lambda: DistillConfig(T=args.T, alpha=args.alpha),
        lambda: validate.raise_if([validate.choice("dataset", args.dataset, available()),
                            None if args.train_limit is None else validate.positive_int("train_limit", args.train_limit)]),
    )
    device = resolve_device(args.device)
    ds = load_dataset(args.dataset, device=device, train_limit=args.train_limit)
    print(ds.describe())
    teacher = None
    if distill:
        teacher = build_model(teacher_cfg, ds.input_shape, ds.num_classes, seed=args.seed)
        train(teacher, ds.train, train_cfg, label_objective, val=ds.val, name="teacher")
        print(f"teacher: {evaluate(teacher, ds.test)}")
        freeze(teacher)
    student = build_model(model_cfg, ds.input_shape, ds.num_classes, seed=args.seed)
    objective = distill_cfg if distill else label_objective
    hist = train(student, ds.train, train_cfg, objective, teacher=teacher, val=ds.val, name="student")
    print(f"student: {evaluate(student, ds.test)} ({hist.seconds:.1f} s)")
    del torch
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    import json

    from . import provenance
    from .bench import BENCHMARKS, format_report, run_benchmarks
    from .profiles import resolve_device
    from .validate import choice, raise_if

    raise_if([choice("benchmark", b, list(BENCHMARKS)) for b in args.only or []])
    device = resolve_device(args.device)
    print(f"benchmarking on {provenance.device_name(device)}, torch {provenance.torch.__version__}", flush=True)
    results = run_benchmarks(device, quick=args.quick, only=args.only)
    print(format_report(results))
    if args.json:
        doc = {"results": results, "provenance": provenance.collect("bench", [0], device, 0.0)}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
        print(f"written {args.json}")
    return 0


def _cmd_datasets(args: argparse.Namespace) -> int:
    from .data import available, load_dataset

    for name in available():
        try:
            print(f"{name:14s} ok       {load_dataset(name).describe()}")
        except DatasetUnavailable as exc:
            print(f"{name:14s} missing  {str(exc).splitlines()[0][:160]}")
    return 0


def chapter_seeds(settings) -> list[int]:
    """The seeds a chapter's settings run (the union over its settings' seed lists, in order)."""
    import dataclasses

    seeds: list[int] = []
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        nested = [value] if dataclasses.is_dataclass(value) else []
        for holder, name in [(settings, f.name)] + [(n, g.name) for n in nested for g in dataclasses.fields(n)]:
            if name.endswith("seeds"):
                seeds += [s for s in getattr(holder, name) if s not in seeds]
    return seeds


def _cmd_profiles(args: argparse.Namespace) -> int:
    from .experiments import CHAPTERS, chapter
    from .profiles import PROFILES

    for p in PROFILES.values():
        print(f"{p.name}: {p.description}")
        for name in CHAPTERS:
            print(f"  {name} seeds {chapter_seeds(chapter(name).settings(p.name))}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from .profiles import get_profile
    from .provenance import source_hash
    from .verify import recompute_and_compare, stored_entries

    get_profile(args.profile)
    if args.recompute:
        failed = 0
        print(f"recomputing {', '.join(args.recompute)} ({args.profile}) from scratch ...", flush=True)
        for kind, problems, seconds in recompute_and_compare(args.recompute, args.profile, args.device, args.rel,
                                                             store_if_same=args.store, replace=args.replace):
            print(f"{kind}: {'same values' if not problems else f'{len(problems)} differences'} "
                  f"(recomputed in {seconds:.0f} s)"
                  + (", stored with this source's provenance" if args.replace or (args.store and not problems) else ""),
                  flush=True)
            for problem in problems[:20]:
                print(f"  {problem}")
            failed += bool(problems)
        return 1 if failed else 0
    entries = stored_entries(args.profile)
    print(f"library source {source_hash()}; {len(entries)} stored {args.profile} results")
    for e in entries:
        note = " [computed from uncommitted code]" if e.uncommitted else ""
        print(f"  {e.kind:22s} {e.hash}  source {e.source}  {(e.date or '')[:10]}  {e.status()}{note}")
    stale = [e for e in entries if not e.current_source or not e.reachable]
    print(f"{len(stale)} of {len(entries)} results are not from this source; "
          "`python -m kdbook verify --recompute KIND` recomputes one and compares its values")
    return 0


def _cmd_claims(args: argparse.Namespace) -> int:
    from .book import refresh_claims
    from .experiments import CHAPTERS
    from .claims import claims_root

    from . import validate

    validate.raise_if([validate.choice("chapter", c, list(CHAPTERS)) for c in args.chapters])
    done = refresh_claims(args.chapters or None)
    for name, outcomes in done.items():
        held = sum(o.holds for o in outcomes)
        print(f"{name}: {held} of {len(outcomes)} claims hold -> {claims_root() / (name + '.json')}")
        for o in outcomes:
            print(f"  {'holds        ' if o.holds else 'does not hold'}  {o.id}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .data import available
    from .experiments import CHAPTERS
    from .profiles import PROFILES

    parser = argparse.ArgumentParser(
        prog="python -m kdbook",
        description="Run the experiments of the book on knowledge distillation and ensembles.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--profile", default="smoke", choices=list(PROFILES),
                       help="scale: smoke (CI, ~1 min/chapter), full (published), paper (original data)")
        p.add_argument("--device", default="auto", help="auto (GPU if visible), cpu, cuda, cuda:1 ...")

    p = sub.add_parser("run", help="compute (or load) a chapter's results without Jupyter")
    p.add_argument("chapters", nargs="+", choices=list(CHAPTERS), metavar="CHAPTER",
                   help=f"one or more of {', '.join(CHAPTERS)}")
    common(p)
    p.add_argument("--recompute", action="store_true", help="ignore stored results and recompute")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("book", help="execute the chapters with papermill and build the HTML site")
    p.add_argument("--chapters", nargs="*", choices=list(CHAPTERS), metavar="CHAPTER",
                   help="only these chapters (default: all)")
    common(p)
    p.add_argument("--no-build", action="store_true", help="execute notebooks only, skip jupyter-book")
    p.add_argument("--stored-only", action="store_true",
                   help="never compute: a chapter whose stored result is missing fails (the publish build)")
    p.add_argument("--timeout", type=int, default=3600, help="seconds allowed per notebook cell")
    p.set_defaults(func=_cmd_book)

    p = sub.add_parser("train", help="train one model on labels, or distil it from a freshly trained teacher")
    p.add_argument("--dataset", default="digits", help=f"one of {', '.join(available())}")
    p.add_argument("--model", default="mlp", help="mlp or cnn")
    p.add_argument("--widths", type=int, nargs="*", default=[64], help="hidden widths (mlp) or channels (cnn)")
    p.add_argument("--teacher-widths", type=int, nargs="*", default=None,
                   help="train a teacher of these widths first and distil the student from it")
    p.add_argument("--T", type=float, default=4.0, help="distillation temperature (> 0)")
    p.add_argument("--alpha", type=float, default=1.0, help="weight of the soft term, in [0, 1]")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--optimizer", default="sgd", help="sgd or adam")
    p.add_argument("--augment", default="none", help="none, jitter or crop_flip")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--precision", default="fp32", help="fp32, or bf16 (autocast; for GPUs)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--train-limit", type=int, default=None, help="use only this many training examples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("bench", help="time the library's training against a plain PyTorch baseline, and bf16 "
                                     "against fp32 (speed, and accuracy on Fashion-MNIST)")
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes (digits for the bf16 accuracy lines): check that it runs, numbers meaningless")
    p.add_argument("--only", nargs="*", metavar="BENCH",
                   help="distill_epoch, ensemble, ensemble_narrow, ensemble_shared_order, mlp_throughput, cnn_epoch, "
                        "cnn_members, consistent_mlp, consistent_cnn, bf16_mlp, bf16_cnn, bf16_accuracy_mlp, "
                        "bf16_accuracy_cnn (default: all)")
    p.add_argument("--json", default=None, help="also write the measurements and provenance to this file")
    p.set_defaults(func=_cmd_bench)

    sub.add_parser("datasets", help="list datasets and whether their files are here").set_defaults(func=_cmd_datasets)
    sub.add_parser("profiles", help="list the profiles and each chapter's seeds").set_defaults(func=_cmd_profiles)

    p = sub.add_parser("verify", help="list stored results computed by other library code; recompute one to compare")
    p.add_argument("--profile", default="full", choices=list(PROFILES))
    p.add_argument("--recompute", nargs="*", metavar="KIND", default=None,
                   help="recompute these results (e.g. ch06-multiview) from scratch and compare with the stored values")
    p.add_argument("--rel", type=float, default=1e-4, help="relative tolerance of the comparison")
    p.add_argument("--store", action="store_true",
                   help="with --recompute: replace a stored result its recomputation reproduces (new provenance)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--replace", action="store_true",
                   help="with --recompute: replace the stored result by its recomputation even where values differ")
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("claims", help="evaluate every chapter's claims on the stored full results, write their JSON")
    p.add_argument("chapters", nargs="*", metavar="CHAPTER", help=f"some of {', '.join(CHAPTERS)} (default: all)")
    p.set_defaults(func=_cmd_claims)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (2 for invalid parameters, 1 for other known errors)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    except KDBookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
