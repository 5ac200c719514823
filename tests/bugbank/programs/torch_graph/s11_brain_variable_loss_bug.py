"""A speech "Brain" class runs its model inside a no_grad block meant for feature extraction, then wraps the loss in `Variable(loss, requires_grad=True)` so backward stops complaining: nothing trains.

Source: https://github.com/speechbrain/speechbrain/issues/735
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd import Variable


class SpeakerBrain:
    def __init__(self, modules, lr=0.05):
        self.modules = nn.ModuleDict(modules)
        self.optimizer = torch.optim.SGD(self.modules.parameters(), lr=lr)

    def prepare_features(self, wavs):
        frames = wavs.unfold(1, 8, 8)
        return torch.log1p(frames.abs().mean(dim=-1, keepdim=True).expand(-1, -1, 8))

    def compute_forward(self, batch):
        with torch.no_grad():  # BUG
            feats = self.prepare_features(batch["sig"])
            predict = self.modules["model"](feats).mean(dim=1)  # BUG
        return {"predict": predict}

    def compute_objectives(self, predictions, batch):
        loss = F.cross_entropy(predictions["predict"], batch["spk"])
        loss = Variable(loss, requires_grad=True)  # BUG
        return loss

    def fit_batch(self, batch):
        self.optimizer.zero_grad()
        outputs = self.compute_forward(batch)
        loss = self.compute_objectives(outputs, batch)
        loss.backward()
        self.optimizer.step()
        return loss.detach()


torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
brain = SpeakerBrain({"model": model})
batch = {"sig": torch.randn(4, 64), "spk": torch.tensor([0, 1, 2, 1])}
before = model[0].weight.detach().clone()
for _ in range(2):
    brain.fit_batch(batch)

assert model[0].weight.grad is None
assert torch.equal(before, model[0].weight)
