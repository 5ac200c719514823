"""Memory saving with torch.utils.checkpoint (use_reentrant=True) on blocks whose input comes from frozen embeddings: no checkpoint input requires grad, so the checkpointed blocks get no gradient at all.

Source: https://github.com/huggingface/transformers/issues/21381
Label: buggy
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
            h = checkpoint(blk, h, use_reentrant=True)  # BUG
        return self.lm_head(h)


torch.manual_seed(0)
lm = TinyLM()
opt = torch.optim.AdamW([p for p in lm.parameters() if p.requires_grad], lr=1e-3)
ids = torch.randint(0, 50, (2, 6))
logits = lm(ids[:, :-1])
loss = F.cross_entropy(logits.reshape(-1, 50), ids[:, 1:].reshape(-1))
loss.backward()
opt.step()

assert all(p.grad is None for p in lm.blocks.parameters())
assert lm.lm_head.weight.grad is not None
