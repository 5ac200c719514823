"""A router model computes its prompt embedding in an @torch.inference_mode() helper and `.clone()`s it to get past "Inference tensors cannot be saved for backward": the prompt encoder never trains.

Source: https://github.com/ai4co/rl4co/issues/272
        https://github.com/pytorch/pytorch/pull/161164
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn.functional as F
from torch import nn


class PromptEncoder(nn.Module):
    def __init__(self, n_nodes=5, dim=8):
        super().__init__()
        self.node_embed = nn.Linear(2, dim)
        self.mix = nn.Linear(dim, dim)

    def forward(self, coords):
        return torch.tanh(self.mix(self.node_embed(coords)))


class Router(nn.Module):
    def __init__(self, dim=8):
        super().__init__()
        self.prompt = PromptEncoder(dim=dim)
        self.decoder = nn.Linear(dim, 1)

    @torch.inference_mode()  # BUG
    def encode_prompt(self, coords):
        return self.prompt(coords)  # BUG

    def forward(self, coords):
        ctx = self.encode_prompt(coords).clone()
        return self.decoder(ctx).squeeze(-1)


def train(model, steps=2):
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        coords = torch.rand(4, 5, 2)
        tour_cost = coords.norm(dim=-1)
        logits = model(coords)
        loss = F.mse_loss(logits, tour_cost)
        opt.zero_grad()
        loss.backward()
        opt.step()


torch.manual_seed(0)
router = Router()
before = router.prompt.mix.weight.detach().clone()
train(router)
assert router.prompt.mix.weight.grad is None
assert torch.equal(before, router.prompt.mix.weight)
assert router.decoder.weight.grad is not None
