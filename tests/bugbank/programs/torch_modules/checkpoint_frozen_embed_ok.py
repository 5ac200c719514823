"""Memory saving with torch.utils.checkpoint(use_reentrant=False) on blocks fed by frozen embeddings: the non-reentrant mode does not need an input that requires grad, the blocks get their gradients.

Source: https://github.com/huggingface/transformers/issues/21381
Label: clean
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.ff = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))

    def forward(self, h):
        return h + self.ff(h)


class TinyLM(nn.Module):
    def __init__(self, vocab=50, d=8, n_layers=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.embed.weight.requires_grad_(False)  # pretrained, kept frozen
        self.blocks = nn.ModuleList(Block(d) for _ in range(n_layers))
        self.lm_head = nn.Linear(d, vocab)

    def forward(self, ids):
        h = self.embed(ids)
        for blk in self.blocks:
            h = checkpoint(blk, h, use_reentrant=False)
        return self.lm_head(h)


torch.manual_seed(0)
lm = TinyLM()
opt = torch.optim.AdamW([p for p in lm.parameters() if p.requires_grad], lr=1e-3)
ids = torch.randint(0, 50, (2, 6))
logits = lm(ids[:, :-1])
loss = F.cross_entropy(logits.reshape(-1, 50), ids[:, 1:].reshape(-1))
loss.backward()
opt.step()

w = lm.blocks[0].ff[1].weight
assert w.grad is not None and w.grad.abs().sum() > 0
assert lm.embed.weight.grad is None
