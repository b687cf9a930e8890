"""DDP on two CPU processes (gloo) matches single-process training."""

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from kdbook.data import load_dataset
from kdbook.distributed import train_data_parallel
from kdbook.models import ModelConfig, build_model
from kdbook.train import TrainConfig, train

MODEL = ModelConfig("mlp", (32,))
CFG = TrainConfig(epochs=2, batch_size=50, lr=0.05, augment="jitter", augment_px=1, seed=7)


def _worker(rank, world, init_file, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        ds = load_dataset("digits", train_limit=503)  # 503 = uneven last batch and uneven shares
        model = build_model(MODEL, ds.input_shape, ds.num_classes, seed=CFG.seed)
        train_data_parallel(model, ds.train, CFG)
        if rank == 0:
            torch.save(model.state_dict(), out)
    finally:
        dist.destroy_process_group()


def test_two_process_ddp_matches_single_process(tmp_path):
    out = tmp_path / "ddp.pt"
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(out)), nprocs=2, join=True)
    ddp_state = torch.load(out, weights_only=True)
    ds = load_dataset("digits", train_limit=503)
    single = build_model(MODEL, ds.input_shape, ds.num_classes, seed=CFG.seed)
    train(single, ds.train, CFG)
    for k, v in single.state_dict().items():
        assert torch.allclose(v, ddp_state[k], atol=1e-5), k
    # and it trained: the weights moved away from their initialisation
    init = build_model(MODEL, ds.input_shape, ds.num_classes, seed=CFG.seed).state_dict()
    assert max((init[k] - ddp_state[k]).abs().max().item() for k in init) > 1e-2
