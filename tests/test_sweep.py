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


def test_a_sweep_on_submitit_equals_the_serial_run(tmp_path):
    """The cluster path (Slurm through submitit), run on submitit's local executor: one process per job."""
    import cloudpickle
    import sweep_jobs

    from kdbook.sweep import run_submitit

    cloudpickle.register_pickle_by_value(sweep_jobs)  # the job's module lives in tests/, not on the workers' path
    jobs = [{"seed": s, "width": 16, "epochs": 1} for s in range(2)]
    serial = run_parallel(train_digits_member, jobs, devices=["cpu"], workers=1)
    submitted = run_submitit(train_digits_member, jobs, folder=tmp_path / "jobs", cluster="local", device="cpu",
                             timeout_min=10)
    assert [r["seed"] for r in submitted] == [0, 1]
    for a, b in zip(submitted, serial):
        assert a["checksum"] == pytest.approx(b["checksum"], rel=1e-6) and a["accuracy"] == b["accuracy"]
    assert os.getpid() not in {r["pid"] for r in submitted}
    assert any((tmp_path / "jobs").iterdir())  # logs and results kept per job


def test_an_unknown_cluster_engine_is_refused(tmp_path):
    from kdbook.sweep import run_submitit

    with pytest.raises(ConfigError, match="cluster must be one of"):
        run_submitit(train_digits_member, [], folder=tmp_path, cluster="kubernetes")
