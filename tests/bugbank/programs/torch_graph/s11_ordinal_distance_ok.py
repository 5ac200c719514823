"""A Trainer-style compute_loss builds an ordinal distance table from `labels[k].item()` and wraps it as `torch.tensor(..., requires_grad=True)`: a needless flag on a constant weight, and the classifier still trains through the probabilities.

Source: https://github.com/glanceable-io/ordinal-log-loss/issues/2
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn.functional as F
from torch import nn


class OrdinalTrainer:
    def __init__(self, model, dist_matrix, lr=0.1, alpha=2):
        self.model = model
        self.dist_matrix = dist_matrix
        self.alpha = alpha
        self.optimizer = torch.optim.SGD(model.parameters(), lr=lr)

    def compute_loss(self, model, inputs, return_outputs=False):
        labels = inputs["labels"]
        logits = model(inputs["features"])
        num_classes = logits.shape[1]
        probas = F.softmax(logits, dim=1)
        true_labels = [labels[k].item() for k in range(len(labels))]
        distances = [[float(self.dist_matrix[t][c]) for c in range(num_classes)] for t in true_labels]
        distances_tensor = torch.tensor(distances, requires_grad=True)
        err = -torch.log(1 - probas + 1e-7) * distances_tensor.abs() ** self.alpha
        loss = torch.sum(err, axis=1).mean()
        return (loss, logits) if return_outputs else loss

    def training_step(self, inputs):
        self.optimizer.zero_grad()
        loss = self.compute_loss(self.model, inputs)
        loss.backward()
        self.optimizer.step()
        return loss.detach()


torch.manual_seed(0)
model = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 4))
dist = [[abs(i - j) for j in range(4)] for i in range(4)]
trainer = OrdinalTrainer(model, dist)
batch = {"features": torch.randn(8, 6), "labels": torch.randint(0, 4, (8,))}
before = model[0].weight.detach().clone()
trainer.training_step(batch)
assert model[0].weight.grad is not None and model[0].weight.grad.abs().sum() > 0
assert not torch.equal(before, model[0].weight)
