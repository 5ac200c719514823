"""Gradient accumulation under DistributedDataParallel: micro-batches backpropagate inside `model.no_sync()`, the last one outside it, then one optimizer step; the wrapped model trains.

Source: https://fast.hugflare.com/datasets/hc99/FEA-Bench/raw/main/testbed/huggingface__accelerate/docs/source/concept_guides/gradient_synchronization.mdx
        https://theneuralbase.com/pytorch/learn/advanced/gradient-synchronization-how-it-works/
Label: clean
Family: loop
Frameworks: torch
"""
import contextlib
import os
import tempfile

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP


def setup(tmpdir):
    dist.init_process_group("gloo", init_method=f"file://{os.path.join(tmpdir, 'store')}",
                            rank=0, world_size=1)


def train(ddp_model, optimizer, loader, accumulation_steps=2):
    loss_fn = nn.MSELoss()
    optimizer.zero_grad()
    for step, (x, y) in enumerate(loader):
        last = (step + 1) % accumulation_steps == 0
        ctx = contextlib.nullcontext() if last else ddp_model.no_sync()
        with ctx:
            loss = loss_fn(ddp_model(x), y) / accumulation_steps
            loss.backward()
        if last:
            optimizer.step()
            optimizer.zero_grad()


if __name__ == "__main__":
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        setup(tmp)
        try:
            net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 1))
            model = DDP(net)
            opt = torch.optim.SGD(model.parameters(), lr=0.05)
            before = [p.detach().clone() for p in net.parameters()]
            loader = [(torch.randn(4, 5), torch.randn(4, 1)) for _ in range(4)]
            train(model, opt, loader)
            assert all(not torch.equal(b, p) for b, p in zip(before, net.parameters()))
        finally:
            dist.destroy_process_group()
