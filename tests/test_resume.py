"""Long runs survive: a training process killed with SIGKILL resumes from its last checkpoint and
ends exactly where an uninterrupted run ends; damaged checkpoints are reported and ignored."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from kdbook.checkpoint import load_checkpoint

SCRIPT = r'''
import sys, torch
from kdbook.data import Split
from kdbook.models import ModelConfig, build_model
from kdbook.train import TrainConfig, train
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
x = torch.rand(7000, 1, 8, 8, generator=g)
y = (x.flatten(1)[:, :32].sum(1) > x.flatten(1)[:, 32:].sum(1)).long()
data, val = Split(x[:6000], y[:6000]), Split(x[6000:], y[6000:])
model = build_model(ModelConfig("mlp", (128, 128), dropout=0.2), (1, 8, 8), 2, seed=3)
cfg = TrainConfig(epochs=4, batch_size=16, lr=0.05, augment="jitter", augment_px=1, seed=5, early_stopping=True)
ckpt = sys.argv[2] if sys.argv[2] != "-" else None
h = train(model, data, cfg, val=val, checkpoint=ckpt, progress=False)
torch.save({"state": model.state_dict(), "resumed_at": h.resumed_at, "epochs": len(h.epochs),
            "best_epoch": h.best_epoch}, sys.argv[1])
'''


def _run(*args, env):
    return subprocess.run([sys.executable, "-c", SCRIPT, *map(str, args)], env=env, check=True, timeout=300)


@pytest.fixture
def env():
    return {**os.environ, "KDBOOK_PROGRESS": "0"}


def test_killed_run_resumes_and_matches_an_uninterrupted_run(tmp_path, env):
    ckpt = tmp_path / "run.ckpt"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path / "killed.pt"), str(ckpt)], env=env)
    deadline = time.time() + 240
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.05)  # let the atomic rename settle; the kill may land mid-epoch, as it would in life
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed; make it slower"
    saved = load_checkpoint(ckpt)
    assert saved is not None and 1 <= len(saved["history"]["epochs"]) < 4
    assert not (tmp_path / "killed.pt").exists()

    _run(tmp_path / "resumed.pt", ckpt, env=env)
    _run(tmp_path / "straight.pt", "-", env=env)
    resumed = torch.load(tmp_path / "resumed.pt", weights_only=True)
    straight = torch.load(tmp_path / "straight.pt", weights_only=True)
    assert resumed["resumed_at"] == len(saved["history"]["epochs"]) and straight["resumed_at"] is None
    assert resumed["epochs"] == straight["epochs"] == 4 and resumed["best_epoch"] == straight["best_epoch"]
    for k, t in straight["state"].items():
        assert torch.equal(resumed["state"][k], t), k
    assert not ckpt.exists(), "a completed run removes its checkpoint"


def test_damaged_checkpoint_is_reported_and_ignored(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"PK\x03\x04 not a checkpoint")
    with pytest.warns(UserWarning, match="damaged checkpoint"):
        assert load_checkpoint(bad) is None
    assert load_checkpoint(tmp_path / "missing.ckpt") is None
