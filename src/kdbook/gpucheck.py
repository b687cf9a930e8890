"""One prepared check of the accelerator path (``scripts/gpu-check``): the device tests, one
chapter's ``full`` run timed from scratch, and the benchmark ratios, on a GPU when one is visible.

Without a GPU it runs its CPU fallback (the device tests on the CPU, chapter 1 in ``smoke``, the
benchmark at ``--quick`` sizes) in under a minute, so CI keeps the path from rotting.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

from .store import REPO_ROOT


def _step(title: str) -> float:
    print(f"\n==> {title}", flush=True)
    return time.perf_counter()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the checks; returns 0 when every step passed."""
    import torch

    p = argparse.ArgumentParser(prog="scripts/gpu-check", description=__doc__.split("\n\n")[0])
    p.add_argument("--chapter", default="ch04", help="the chapter whose full run is timed on a GPU (default ch04)")
    p.add_argument("--skip-chapter", action="store_true", help="do not time a chapter's full run")
    args = p.parse_args(argv)
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    print(f"gpu-check on {torch.cuda.get_device_name(0) if cuda else 'CPU (fallback: no GPU visible)'}, "
          f"torch {torch.__version__}")
    env = {**os.environ, "KDBOOK_TEST_DEVICE": device, "KDBOOK_PROGRESS": "0"}
    failed = []

    start = _step(f"device tests on {device} (bf16 autocast, torch.compile, vectorised members, "
                  f"consistent teaching, DDP with {'NCCL' if cuda else 'gloo'})")
    rc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "device", "-p", "no:cacheprovider",
                         str(REPO_ROOT / "tests" / "test_device.py")], env=env).returncode
    print(f"device tests: {'passed' if rc == 0 else 'FAILED'} in {time.perf_counter() - start:.0f} s")
    failed += ["device tests"] if rc else []

    if not args.skip_chapter:
        chapter, profile = (args.chapter, "full") if cuda else ("ch01", "smoke")
        start = _step(f"{chapter} {profile} from scratch on {device} (fresh results and model cache)")
        with tempfile.TemporaryDirectory() as tmp:
            run_env = {**env, "KDBOOK_RESULTS": f"{tmp}/results", "KDBOOK_CACHE": f"{tmp}/cache"}
            rc = subprocess.run([sys.executable, "-m", "kdbook", "run", chapter, "--profile", profile,
                                 "--device", device, "--recompute"], env=run_env).returncode
        print(f"chapter_run chapter={chapter}, profile={profile}, device={device}, "
              f"seconds={time.perf_counter() - start:.1f}, ok={rc == 0}")
        failed += ["chapter run"] if rc else []

    start = _step("benchmarks (library vs plain PyTorch)" + ("" if cuda else ", quick sizes"))
    rc = subprocess.run([sys.executable, "-m", "kdbook", "bench", "--device", device] + ([] if cuda else ["--quick"]),
                        env=env).returncode
    failed += ["bench"] if rc else []
    print(f"\ngpu-check: {'all passed' if not failed else 'FAILED: ' + ', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
