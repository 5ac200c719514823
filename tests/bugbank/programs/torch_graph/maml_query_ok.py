"""MAML: the pre-adaptation query loss is logged under no_grad; the meta-loss on the fast weights keeps its second-order graph.

Source: https://github.com/dragen1860/MAML-Pytorch/issues/40
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Learner(nn.Module):
    def __init__(self):
        super().__init__()
        self.vars = nn.ParameterList([nn.Parameter(torch.randn(3, 5) * 0.3), nn.Parameter(torch.zeros(3))])

    def forward(self, x, weights=None):
        w, b = self.vars if weights is None else weights
        return F.linear(torch.tanh(x), w, b)


class Meta(nn.Module):
    def __init__(self, inner_lr=0.4, update_step=2):
        super().__init__()
        self.net = Learner()
        self.inner_lr = inner_lr
        self.update_step = update_step
        self.meta_optim = torch.optim.Adam(self.net.parameters(), lr=1e-2)

    def forward(self, x_spt, y_spt, x_qry, y_qry):
        with torch.no_grad():
            before = F.cross_entropy(self.net(x_qry), y_qry).item()
        fast = list(self.net.parameters())
        for _ in range(self.update_step):
            loss = F.cross_entropy(self.net(x_spt, fast), y_spt)
            grads = torch.autograd.grad(loss, fast, create_graph=True)
            fast = [w - self.inner_lr * g for w, g in zip(fast, grads)]
        loss_q = F.cross_entropy(self.net(x_qry, fast), y_qry)
        self.meta_optim.zero_grad()
        loss_q.backward()
        self.meta_optim.step()
        return before, loss_q.item()


torch.manual_seed(0)
maml = Meta()
x_spt, y_spt = torch.randn(6, 5), torch.randint(0, 3, (6,))
x_qry, y_qry = torch.randn(6, 5), torch.randint(0, 3, (6,))
start = maml.net.vars[0].detach().clone()
maml(x_spt, y_spt, x_qry, y_qry)

assert maml.net.vars[0].grad is not None and maml.net.vars[0].grad.abs().sum() > 0
assert not torch.equal(start, maml.net.vars[0])
