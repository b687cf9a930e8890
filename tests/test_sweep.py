import os

import pytest

from kdbook import ConfigError
from kdbook.sweep import run_parallel
from sweep_jobs import train_digits_member


def test_parallel_sweep_matches_serial_and_uses_workers():
    jobs = [{"seed": s, "width": 32, "epochs": 2} for s in range(4)]
    parallel = run_parallel(train_digits_member, jobs, devices=["cpu"], workers=2)
    serial = run_parallel(train_digits_member, jobs, devices=["cpu"], workers=1)
    assert [r["seed"] for r in parallel] == [0, 1, 2, 3]
    for a, b in zip(parallel, serial):
        assert a["checksum"] == pytest.approx(b["checksum"], rel=1e-6)
        assert a["accuracy"] == pytest.approx(b["accuracy"], abs=0.01)
    assert {r["pid"] for r in serial} == {os.getpid()}
    assert os.getpid() not in {r["pid"] for r in parallel} and len({r["pid"] for r in parallel}) >= 1


def test_bad_worker_count():
    with pytest.raises(ConfigError, match="workers must be an integer >= 1"):
        run_parallel(train_digits_member, [], devices=["cpu"], workers=-1)
