"""The GPU check's CPU fallback runs (in CI, where no GPU is), so the prepared command cannot rot."""

import subprocess
import time

from kdbook.store import REPO_ROOT


def test_gpu_check_cpu_fallback_passes_within_a_minute():
    start = time.perf_counter()
    out = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "gpu-check")], capture_output=True, text=True,
                         timeout=300)
    seconds = time.perf_counter() - start
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "CPU (fallback" in out.stdout and "gpu-check: all passed" in out.stdout
    assert "chapter_run chapter=ch01, profile=smoke" in out.stdout and "speedup=" in out.stdout
    assert seconds < 90, f"the CPU fallback took {seconds:.0f} s"
