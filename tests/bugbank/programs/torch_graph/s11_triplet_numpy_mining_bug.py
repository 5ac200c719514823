"""A keyword-spotting triplet loss mines hard negatives in numpy and sets `requires_grad = True` on the mean it rebuilds, to silence the backward error: the encoder never trains.

Source: https://github.com/roman-vygon/triplet_loss_kws/issues/6
Label: buggy
Family: graph
Frameworks: torch
"""
import numpy as np
import torch
import torch.nn as nn


class TripletLoss(nn.Module):
    def __init__(self, margin=0.5):
        super().__init__()
        self.margin = margin

    def _pairwise(self, emb):
        sq = (emb ** 2).sum(axis=1)
        return np.sqrt(np.maximum(sq[:, None] - 2 * emb @ emb.T + sq[None, :], 0.0))

    def forward(self, embeddings, labels):
        emb = embeddings.detach().cpu().numpy()  # BUG
        lab = labels.numpy()
        dist = self._pairwise(emb)
        same = lab[:, None] == lab[None, :]
        hardest_pos = np.where(same, dist, 0.0).max(axis=1)
        hardest_neg = np.where(same, np.inf, dist).min(axis=1)
        losses = torch.from_numpy(np.maximum(hardest_pos - hardest_neg + self.margin, 0.0))
        mean_losses = losses.mean()
        mean_losses.requires_grad = True  # BUG
        return mean_losses


class KwsEncoder(nn.Module):
    def __init__(self, n_mels=10, dim=6):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_mels, 16), nn.ReLU(), nn.Linear(16, dim))

    def forward(self, x):
        return nn.functional.normalize(self.net(x), dim=-1)


if __name__ == "__main__":
    torch.manual_seed(0)
    encoder = KwsEncoder()
    loss_fn = TripletLoss(margin=1.0)
    opt = torch.optim.SGD(encoder.parameters(), lr=0.1)
    x = torch.randn(8, 10)
    y = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    before = encoder.net[0].weight.detach().clone()
    for _ in range(2):
        opt.zero_grad()
        loss = loss_fn(encoder(x), y)
        loss.backward()
        opt.step()
    assert loss.item() > 0
    assert encoder.net[0].weight.grad is None
    assert torch.equal(before, encoder.net[0].weight)
