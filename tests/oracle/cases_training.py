"""Oracle cases for the training-loop rules (GS6xx); the conventions are those of `cases.py`,
whose `_case` decorator registers each case into the shared `CASES`."""

from __future__ import annotations

from .cases import CASES, OracleCase, _case  # noqa: F401
from .cases import _changed, _in_params, _nonzero_grad


# FACTS pt34: backward(); zero_grad(); step() -- zero_grad wipes the fresh gradients (to None),
# so the step finds nothing to apply: the weights never change, silently.
@_case(
    "GS601",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    w_before = model.weight.detach().clone()
    for _ in range(5):
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.zero_grad()  # GS601
        opt.step()
    ''',
    good='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    w_before = model.weight.detach().clone()
    for _ in range(5):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    ''',
)
class _GS601:
    @staticmethod
    def check_bad(ns):
        m = ns["model"]
        assert m.weight.grad is None, "FACTS pt34: grad is None after zero_grad (set_to_none default)"
        assert not _changed(ns["w_before"], m.weight), "the step after zero_grad must leave the weights unchanged"

    @staticmethod
    def check_good(ns):
        m = ns["model"]
        assert _nonzero_grad(m.weight), "backward right before step leaves a gradient"
        assert _changed(ns["w_before"], m.weight), "the optimizer should update the weights"


# FACTS pt15: the optimizer holds the old fc's parameters; the new fc gets .grad but the step
# never updates it, while the rest of the model still trains.
@_case(
    "GS602",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(3, 3)
            self.fc = nn.Linear(3, 1)

        def forward(self, x):
            return self.fc(torch.relu(self.body(x)))


    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model.fc = nn.Linear(3, 1)  # GS602
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    fc_before = model.fc.weight.detach().clone()
    body_before = model.body.weight.detach().clone()
    for _ in range(3):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    ''',
    good='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(3, 3)
            self.fc = nn.Linear(3, 1)

        def forward(self, x):
            return self.fc(torch.relu(self.body(x)))


    model = Net()
    model.fc = nn.Linear(3, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    fc_before = model.fc.weight.detach().clone()
    body_before = model.body.weight.detach().clone()
    for _ in range(3):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    ''',
)
class _GS602:
    @staticmethod
    def check_bad(ns):
        m, opt = ns["model"], ns["opt"]
        in_opt = any(p is m.fc.weight for g in opt.param_groups for p in g["params"])
        assert not in_opt, "the new fc's weight must not be in the optimizer"
        assert _in_params(m, m.fc.weight), "the new fc is registered on the model"
        assert _nonzero_grad(m.fc.weight), "FACTS pt15: the new fc still gets .grad"
        assert not _changed(ns["fc_before"], m.fc.weight), "the optimizer must never update the new fc"
        assert _changed(ns["body_before"], m.body.weight), "the other parameters still train"

    @staticmethod
    def check_good(ns):
        m = ns["model"]
        assert _changed(ns["fc_before"], m.fc.weight), "fc replaced before the optimizer is built trains"
        assert _changed(ns["body_before"], m.body.weight), "the body trains"


# Fact pt36: with zero_grad() on every micro-batch, the gradient the conditional step applies is
# the last micro-batch's alone; accumulated, it is the sum over the micro-batches.
@_case(
    "GS603",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Linear(3, 1, bias=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    batches = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(4)]
    seen = []
    for i, (x, y) in enumerate(batches):
        opt.zero_grad()  # GS603
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        if (i + 1) % 4 == 0:
            seen.append(model.weight.grad.clone())
            opt.step()
    ''',
    good='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Linear(3, 1, bias=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    batches = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(4)]
    seen = []
    for i, (x, y) in enumerate(batches):
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        if (i + 1) % 4 == 0:
            seen.append(model.weight.grad.clone())
            opt.step()
            opt.zero_grad()
    ''',
)
class _GS603:
    @staticmethod
    def _grads(ns):
        import torch

        model, out = ns["model"], []
        for x, y in ns["batches"]:
            model.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            out.append(model.weight.grad.clone())
        return out, torch

    @staticmethod
    def check_bad(ns):
        grads, torch = _GS603._grads(ns)
        assert torch.allclose(ns["seen"][0], grads[-1]), "the step applies the last micro-batch's gradient alone"
        assert not torch.allclose(ns["seen"][0], sum(grads)), "the accumulated gradient is lost"

    @staticmethod
    def check_good(ns):
        grads, torch = _GS603._grads(ns)
        assert torch.allclose(ns["seen"][0], sum(grads), atol=1e-6), "the step applies the sum over micro-batches"


# Fact pt37: a loss rebuilt from Python numbers by torch.tensor(...) has no grad_fn: backward()
# raises at once; stacking the loss tensors keeps the graph.
@_case(
    "GS208",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    batches = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(3)]

    def run():
        losses = [((model(x) - y) ** 2).mean().item() for x, y in batches]
        loss = torch.tensor(losses).mean()  # GS208
        loss.backward()
    ''',
    good='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    batches = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(3)]

    def run():
        losses = [((model(x) - y) ** 2).mean() for x, y in batches]
        loss = torch.stack(losses).mean()
        loss.backward()
    ''',
)
class _GS208:
    @staticmethod
    def check_bad(ns):
        import pytest

        with pytest.raises(RuntimeError, match="does not require grad"):
            ns["run"]()
        assert ns["model"].weight.grad is None

    @staticmethod
    def check_good(ns):
        ns["run"]()
        assert _nonzero_grad(ns["model"].weight)


# Fact pt38: MixtureSameFamily has no rsample; its sample has no grad_fn, so a loss on it
# raises; the maximum-likelihood loss trains every parameter.
@_case(
    "GS304",
    "torch",
    bad='''
    import torch
    import torch.nn as nn
    from torch.distributions import Categorical, MixtureSameFamily, Normal

    torch.manual_seed(0)


    class MDN(nn.Module):
        def __init__(self):
            super().__init__()
            self.pi = nn.Linear(2, 3)
            self.mu = nn.Linear(2, 3)

        def forward(self, x):
            mix = MixtureSameFamily(Categorical(logits=self.pi(x)), Normal(self.mu(x), 1.0))
            return mix.sample()  # GS304


    model = MDN()
    x, y = torch.randn(8, 2), torch.randn(8)

    def run():
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
    ''',
    good='''
    import torch
    import torch.nn as nn
    from torch.distributions import Categorical, MixtureSameFamily, Normal

    torch.manual_seed(0)


    class MDN(nn.Module):
        def __init__(self):
            super().__init__()
            self.pi = nn.Linear(2, 3)
            self.mu = nn.Linear(2, 3)

        def forward(self, x, y):
            mix = MixtureSameFamily(Categorical(logits=self.pi(x)), Normal(self.mu(x), 1.0))
            return -mix.log_prob(y).mean()


    model = MDN()
    x, y = torch.randn(8, 2), torch.randn(8)

    def run():
        model(x, y).backward()
    ''',
)
class _GS304:
    @staticmethod
    def check_bad(ns):
        import pytest

        with pytest.raises(RuntimeError, match="does not require grad"):
            ns["run"]()
        assert ns["model"].mu.weight.grad is None

    @staticmethod
    def check_good(ns):
        ns["run"]()
        assert _nonzero_grad(ns["model"].mu.weight) and _nonzero_grad(ns["model"].pi.weight)


# Fact pt39: codebook rows picked by argmin carry no gradient to the encoder that produced the
# latent; the straight-through estimator `z + (q - z).detach()` gives it the decoder's gradient.
@_case(
    "GS209",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class Quantizer(nn.Module):
        def __init__(self):
            super().__init__()
            self.codebook = nn.Embedding(16, 4)

        def forward(self, z):
            idx = torch.cdist(z, self.codebook.weight).argmin(dim=1)  # GS209
            return self.codebook(idx)


    enc, vq, dec = nn.Linear(8, 4), Quantizer(), nn.Linear(4, 8)
    x = torch.randn(12, 8)

    def run():
        loss = ((dec(vq(enc(x))) - x) ** 2).mean()
        loss.backward()
    ''',
    good='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class Quantizer(nn.Module):
        def __init__(self):
            super().__init__()
            self.codebook = nn.Embedding(16, 4)

        def forward(self, z):
            idx = torch.cdist(z, self.codebook.weight).argmin(dim=1)
            q = self.codebook(idx)
            return z + (q - z).detach()


    enc, vq, dec = nn.Linear(8, 4), Quantizer(), nn.Linear(4, 8)
    x = torch.randn(12, 8)

    def run():
        loss = ((dec(vq(enc(x))) - x) ** 2).mean()
        loss.backward()
    ''',
)
class _GS209:
    @staticmethod
    def check_bad(ns):
        ns["run"]()
        assert ns["enc"].weight.grad is None
        assert _nonzero_grad(ns["vq"].codebook.weight) and _nonzero_grad(ns["dec"].weight)

    @staticmethod
    def check_good(ns):
        ns["run"]()
        assert _nonzero_grad(ns["enc"].weight) and _nonzero_grad(ns["dec"].weight)


# Fact pt43: arithmetic on a requires_grad leaf gives a non-leaf: optimizers refuse it and its
# .grad stays None; the leaf made after the arithmetic trains.
@_case(
    "GS110",
    "torch",
    bad='''
    import warnings

    import torch

    torch.manual_seed(0)
    x, y = torch.randn(8, 5), torch.randn(8, 2)
    w = torch.rand(5, 2, requires_grad=True) * 0.01  # GS110

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss = ((x @ w - y) ** 2).mean()
            loss.backward()
            return w.grad

    def build_optimizer():
        return torch.optim.SGD([w], lr=0.1)
    ''',
    good='''
    import torch

    torch.manual_seed(0)
    x, y = torch.randn(8, 5), torch.randn(8, 2)
    w = (torch.rand(5, 2) * 0.01).requires_grad_()

    def run():
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        return w.grad

    def build_optimizer():
        return torch.optim.SGD([w], lr=0.1)
    ''',
)
class _GS110:
    @staticmethod
    def check_bad(ns):
        import pytest

        with pytest.raises(ValueError, match="non-leaf"):
            ns["build_optimizer"]()
        assert ns["run"]() is None

    @staticmethod
    def check_good(ns):
        ns["build_optimizer"]()
        ns["run"]()
        assert _nonzero_grad(ns["w"])


# FACTS pt44: a learning-rate scheduler's step() only changes the learning rate; stepped
# instead of the optimizer, backward fills .grad and the weights never change.
@_case(
    "GS604",
    "torch",
    bad='''
    import warnings

    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    w_before = model.weight.detach().clone()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            opt.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            if sched is not None:
                sched.step()  # GS604
            else:
                opt.step()
    ''',
    good='''
    import warnings

    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    w_before = model.weight.detach().clone()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            opt.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            opt.step()
            if sched is not None:
                sched.step()
    ''',
)
class _GS604:
    @staticmethod
    def check_bad(ns):
        m, opt = ns["model"], ns["opt"]
        assert _nonzero_grad(m.weight), "backward still fills .grad"
        assert not _changed(ns["w_before"], m.weight), "FACTS pt44: the weights never change"
        assert abs(opt.param_groups[0]["lr"] - 0.1 * 0.5 ** 3) < 1e-9, "the learning rate still decays"
        assert any("before `optimizer.step()`" in str(c.message) for c in ns["caught"]), "only a warning says so"

    @staticmethod
    def check_good(ns):
        m = ns["model"]
        assert _changed(ns["w_before"], m.weight), "the optimizer step updates the weights"
        assert not any("before `optimizer.step()`" in str(c.message) for c in ns["caught"])


# FACTS pt40: deepcopy makes new parameter objects; an optimizer over the copy steps weights
# no loss reaches, and the model the loss runs is never updated.
@_case(
    "GS605",
    "torch",
    bad='''
    import copy

    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    trainable = copy.deepcopy(model).train()
    opt = torch.optim.SGD(trainable.parameters(), lr=0.1)  # GS605
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    w_before = model.weight.detach().clone()
    for _ in range(3):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
    ''',
    good='''
    import copy

    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    trainable = model.train()
    opt = torch.optim.SGD(trainable.parameters(), lr=0.1)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    w_before = model.weight.detach().clone()
    for _ in range(3):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
    ''',
)
class _GS605:
    @staticmethod
    def check_bad(ns):
        m, copy_ = ns["model"], ns["trainable"]
        assert copy_ is not m and copy_.weight is not m.weight, "the copy has its own parameter objects"
        assert copy_.weight.grad is None, "FACTS pt40: the copy's parameters get no gradient"
        assert _nonzero_grad(m.weight), "the model the loss runs gets .grad"
        assert not _changed(ns["w_before"], m.weight), "FACTS pt40: and is never updated"

    @staticmethod
    def check_good(ns):
        assert _changed(ns["w_before"], ns["model"].weight), "the optimizer over the model itself trains it"


# FACTS pt41: Lightning steps only what configure_optimizers returns; a submodule the loss runs
# through but no optimizer holds gets .grad every step and never changes.
_GS606_SOURCE = '''
import logging
import warnings

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

warnings.simplefilter("ignore")
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
torch.manual_seed(0)


class AE(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(6, 2)
        self.decoder = nn.Linear(2, 6)

    def training_step(self, batch, batch_idx):
        (x,) = batch
        return F.mse_loss(self.decoder(self.encoder(x)), x)

    def configure_optimizers(self):
        return torch.optim.SGD(PARAMS, lr=0.1)


ae = AE()
enc0 = ae.encoder.weight.detach().clone()
dec0 = ae.decoder.weight.detach().clone()
trainer = L.Trainer(max_steps=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False)
trainer.fit(ae, DataLoader(TensorDataset(torch.randn(24, 6)), batch_size=8))
'''


@_case(
    "GS606",
    "lightning",
    bad=_GS606_SOURCE.replace("PARAMS, lr=0.1)", "self.encoder.parameters(), lr=0.1)  # GS606"),
    good=_GS606_SOURCE.replace("PARAMS", "self.parameters()"),
)
class _GS606:
    @staticmethod
    def check_bad(ns):
        ae = ns["ae"]
        assert _nonzero_grad(ae.decoder.weight), "the left-out decoder still gets .grad"
        assert not _changed(ns["dec0"], ae.decoder.weight), "FACTS pt41: and is never updated"
        assert _changed(ns["enc0"], ae.encoder.weight), "the encoder the optimizer holds trains"

    @staticmethod
    def check_good(ns):
        ae = ns["ae"]
        assert _changed(ns["dec0"], ae.decoder.weight) and _changed(ns["enc0"], ae.encoder.weight)


# FACTS pt42: checkpoint() without use_reentrant is reentrant (a warning, no error); with no
# input requiring grad, the weights inside get no gradient.
_GS607_SOURCE = '''
import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint

torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(2))
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        for layer in self.layers:
            x = CALL
        return self.head(x)


net = Net()
net(torch.randn(3, 4)).sum().backward()
'''


@_case(
    "GS607",
    "torch",
    bad=_GS607_SOURCE.replace("x = CALL", "x = checkpoint(layer, x)  # GS607"),
    good=_GS607_SOURCE.replace("CALL", "checkpoint(layer, x, use_reentrant=False)"),
)
class _GS607:
    @staticmethod
    def check_bad(ns):
        net, caught = ns["net"], ns["__warnings__"]
        assert all(layer.weight.grad is None for layer in net.layers), "FACTS pt42: no gradient inside"
        assert _nonzero_grad(net.head.weight), "the head after the checkpoints still trains"
        messages = [str(c.message) for c in caught]
        assert any("use_reentrant parameter should be passed explicitly" in m for m in messages)
        assert any("None of the inputs have requires_grad=True" in m for m in messages)

    @staticmethod
    def check_good(ns):
        net = ns["net"]
        assert all(_nonzero_grad(layer.weight) for layer in net.layers)


# Fact pt45: opt_g.zero_grad(); g_loss.backward(); opt_d.step() -- the generator's gradient is
# filled and never applied, its weights never change; stepping opt_g moves them.
@_case(
    "GS608",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    G, D = nn.Linear(2, 3), nn.Linear(3, 1)
    opt_g = torch.optim.SGD(G.parameters(), lr=0.1)
    opt_d = torch.optim.SGD(D.parameters(), lr=0.1)
    z = torch.randn(8, 2)
    w_before = G.weight.detach().clone()

    def run():
        for _ in range(3):
            opt_g.zero_grad()
            g_loss = -D(G(z)).mean()
            g_loss.backward()
            opt_d.step()  # GS608
    ''',
    good='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    G, D = nn.Linear(2, 3), nn.Linear(3, 1)
    opt_g = torch.optim.SGD(G.parameters(), lr=0.1)
    opt_d = torch.optim.SGD(D.parameters(), lr=0.1)
    z = torch.randn(8, 2)
    w_before = G.weight.detach().clone()

    def run():
        for _ in range(3):
            opt_g.zero_grad()
            g_loss = -D(G(z)).mean()
            g_loss.backward()
            opt_g.step()
    ''',
)
class _GS608:
    @staticmethod
    def check_bad(ns):
        import torch

        ns["run"]()
        assert _nonzero_grad(ns["G"].weight)
        assert torch.equal(ns["G"].weight, ns["w_before"])

    @staticmethod
    def check_good(ns):
        ns["run"]()
        assert _changed(ns["G"].weight, ns["w_before"])


# FACTS pt46: with automatic optimization, a training_step that returns None (it only logs its
# loss) makes Lightning skip every batch: no backward, no step, the weights never change.
_GS609_SOURCE = '''
import logging
import warnings

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

warnings.simplefilter("ignore")
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
torch.manual_seed(0)


class Classifier(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(5, 3)

    def training_step(self, batch, batch_idx):MARK
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.log("train_loss", loss)
        RETURN

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


clf = Classifier()
w0 = clf.net.weight.detach().clone()
trainer = L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False)
trainer.fit(clf, DataLoader(TensorDataset(torch.randn(24, 5), torch.randint(0, 3, (24,))), batch_size=8))
'''


@_case(
    "GS609",
    "lightning",
    bad=_GS609_SOURCE.replace("MARK", "  # GS609").replace("RETURN", "pass"),
    good=_GS609_SOURCE.replace("MARK", "").replace("RETURN", "return loss"),
)
class _GS609:
    @staticmethod
    def check_bad(ns):
        clf = ns["clf"]
        assert clf.net.weight.grad is None, "FACTS pt46: no backward pass ran"
        assert not _changed(ns["w0"], clf.net.weight), "and the weights never changed"

    @staticmethod
    def check_good(ns):
        assert _changed(ns["w0"], ns["clf"].net.weight), "returning the loss trains the model"


# FACTS pt47: param groups built from one named_parameters() generator: the first
# comprehension drains it, the second group is empty and its parameters never change.
_GS610_SOURCE = '''
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(4, 1)
named = NAMED
groups = [
    {"params": [p for n, p in named if "bias" not in n], "weight_decay": 0.01},
    {"params": [p for n, p in named if "bias" in n], "weight_decay": 0.0},
]
opt = torch.optim.AdamW(groups, lr=0.1)
x, y = torch.randn(16, 4), torch.randn(16, 1) + 3.0
b_before, w_before = model.bias.detach().clone(), model.weight.detach().clone()
for _ in range(3):
    opt.zero_grad()
    ((model(x) - y) ** 2).mean().backward()
    opt.step()
'''


@_case(
    "GS610",
    "torch",
    bad=_GS610_SOURCE.replace("NAMED", "model.named_parameters()  # GS610"),
    good=_GS610_SOURCE.replace("NAMED", "list(model.named_parameters())"),
)
class _GS610:
    @staticmethod
    def check_bad(ns):
        import torch

        model = ns["model"]
        assert _nonzero_grad(model.bias), "FACTS pt47: the bias gets its gradient"
        assert torch.equal(model.bias, ns["b_before"]), "but no optimizer holds it"
        assert _changed(model.weight, ns["w_before"]), "the first group trains"
        assert ns["groups"][1]["params"] == []
        try:
            torch.optim.SGD(ns["named"], lr=0.1)
        except ValueError as err:
            assert "empty parameter list" in str(err)
        else:
            raise AssertionError("an optimizer over the drained generator was built")

    @staticmethod
    def check_good(ns):
        model = ns["model"]
        assert _changed(model.bias, ns["b_before"]) and _changed(model.weight, ns["w_before"])


# FACTS pt48: an optimizer built over the parameters that required grad while the backbone
# was frozen does not hold the backbone: unfrozen later, it gets gradients and never changes.
_GS611_SOURCE = '''
import torch
import torch.nn as nn

torch.manual_seed(0)
backbone, head = nn.Linear(4, 6), nn.Linear(6, 1)
model = nn.Sequential(backbone, nn.ReLU(), head)
backbone.requires_grad_(False)
opt = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1)
x, y = torch.randn(16, 4), torch.randn(16, 1)
snapshot = None
for step in range(4):
    if step == 2:
        backbone.requires_grad_(True)MARK
        snapshot = backbone.weight.detach().clone()
    opt.zero_grad()
    ((model(x) - y) ** 2).mean().backward()
    opt.step()
'''


@_case(
    "GS611",
    "torch",
    bad=_GS611_SOURCE.replace("MARK", "  # GS611"),
    good=_GS611_SOURCE.replace("MARK", '\n        opt.add_param_group({"params": backbone.parameters()})'),
)
class _GS611:
    @staticmethod
    def check_bad(ns):
        import torch

        backbone = ns["backbone"]
        assert _nonzero_grad(backbone.weight), "FACTS pt48: the unfrozen backbone gets gradients"
        assert torch.equal(backbone.weight, ns["snapshot"]), "and never changes"

    @staticmethod
    def check_good(ns):
        assert _changed(ns["backbone"].weight, ns["snapshot"])


# FACTS pt49: two optimizers over the critic, none over the actor: the actor's loss fills its
# .grad, the step moves the critic, the actor never changes.
_GS612_SOURCE = '''
import torch
import torch.nn as nn

torch.manual_seed(0)


class Agent:
    def __init__(self):
        self.actor = nn.Linear(4, 2)
        self.critic = nn.Linear(4, 1)
        self.actor_opt = torch.optim.Adam(self.ACTOR.parameters(), lr=0.1)MARK
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=0.1)

    def update(self, obs, ret):
        value = self.critic(obs).squeeze(-1)
        critic_loss = ((ret - value) ** 2).mean()
        self.critic_opt.zero_grad()
        critic_loss.backward()
        self.critic_opt.step()
        adv = (ret - value).detach()
        actor_loss = -(self.actor(obs).log_softmax(-1)[:, 0] * adv).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()
        self.actor_opt.step()


agent = Agent()
w_before = agent.actor.weight.detach().clone()
for _ in range(3):
    agent.update(torch.randn(8, 4), torch.randn(8))
'''


@_case(
    "GS612",
    "torch",
    bad=_GS612_SOURCE.replace("ACTOR", "critic").replace("MARK", "  # GS612"),
    good=_GS612_SOURCE.replace("ACTOR", "actor").replace("MARK", ""),
)
class _GS612:
    @staticmethod
    def check_bad(ns):
        import torch

        actor = ns["agent"].actor
        assert _nonzero_grad(actor.weight), "FACTS pt49: the actor gets its gradient"
        assert torch.equal(actor.weight, ns["w_before"]), "but no optimizer holds it"

    @staticmethod
    def check_good(ns):
        assert _changed(ns["agent"].actor.weight, ns["w_before"])


# FACTS pt50: clipping after step() leaves the update unclipped.
_GS613_SOURCE = '''
import torch
import torch.nn as nn

torch.manual_seed(0)
LR, MAX_NORM = 0.1, 0.01
model = nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=LR)
x, y = torch.randn(16, 4), 10 * torch.randn(16, 1)
before = torch.cat([p.detach().flatten() for p in model.parameters()])
opt.zero_grad()
((model(x) - y) ** 2).mean().backward()
BODY
after = torch.cat([p.detach().flatten() for p in model.parameters()])
'''


@_case(
    "GS613",
    "torch",
    bad=_GS613_SOURCE.replace("BODY", "opt.step()\nnn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)  # GS613"),
    good=_GS613_SOURCE.replace("BODY", "nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)\nopt.step()"),
)
class _GS613:
    @staticmethod
    def check_bad(ns):
        step = (ns["after"] - ns["before"]).norm()
        assert step > 10 * ns["LR"] * ns["MAX_NORM"], "FACTS pt50: the update is the unclipped one"

    @staticmethod
    def check_good(ns):
        step = (ns["after"] - ns["before"]).norm()
        assert 0 < step <= ns["LR"] * ns["MAX_NORM"] * 1.001


# FACTS pt51: rebinding the loop variable over parameters updates nothing; rebinding a leaf
# weight under no_grad makes the next backward raise.
_GS614_SOURCE = '''
import torch
import torch.nn as nn

torch.manual_seed(0)
net = nn.Linear(3, 1)
w_before = net.weight.detach().clone()
x, y = torch.randn(8, 3), torch.randn(8, 1)
for _ in range(3):
    net.zero_grad()
    ((net(x) - y) ** 2).mean().backward()
    with torch.no_grad():
        for p in net.parameters():
            UPDATE

w = torch.zeros(3, requires_grad=True)
error = None
try:
    for _ in range(2):
        ((x @ w - y.squeeze(1)) ** 2).mean().backward()
        with torch.no_grad():
            LEAF
        w.grad = None
except RuntimeError as err:
    error = str(err)
'''


@_case(
    "GS614",
    "torch",
    bad=_GS614_SOURCE.replace("UPDATE", "p = p - 0.1 * p.grad  # GS614").replace("LEAF", "w = w - 0.1 * w.grad"),
    good=_GS614_SOURCE.replace("UPDATE", "p -= 0.1 * p.grad").replace("LEAF", "w -= 0.1 * w.grad"),
)
class _GS614:
    @staticmethod
    def check_bad(ns):
        import torch

        assert _nonzero_grad(ns["net"].weight)
        assert torch.equal(ns["net"].weight, ns["w_before"]), "FACTS pt51: rebinding p changes no parameter"
        assert ns["error"] is not None and "does not require grad" in ns["error"]

    @staticmethod
    def check_good(ns):
        assert _changed(ns["net"].weight, ns["w_before"])
        assert ns["error"] is None and ns["w"].abs().sum() > 0


# FACTS pt52: an optimizer cleared and backpropagated for but never stepped changes nothing.
_GS615_SOURCE = '''
import torch
import torch.nn as nn

torch.manual_seed(0)
net = nn.Linear(3, 1)
opt = torch.optim.SGD(net.parameters(), lr=0.1)MARK
w_before = net.weight.detach().clone()
for _ in range(3):
    opt.zero_grad()
    ((net(torch.randn(8, 3)) - 1.0) ** 2).mean().backward()
    STEP
'''


@_case(
    "GS615",
    "torch",
    bad=_GS615_SOURCE.replace("MARK", "  # GS615").replace("STEP", "pass"),
    good=_GS615_SOURCE.replace("MARK", "").replace("STEP", "opt.step()"),
)
class _GS615:
    @staticmethod
    def check_bad(ns):
        import torch

        assert _nonzero_grad(ns["net"].weight), "FACTS pt52: the gradient is there"
        assert torch.equal(ns["net"].weight, ns["w_before"]), "and never applied"

    @staticmethod
    def check_good(ns):
        assert _changed(ns["net"].weight, ns["w_before"])
# Fact pt53: log_prob of a distribution's own rsample() cancels the location: a REINFORCE loss
# built on it gives the mean head exactly zero gradient; a sample() point gives it a gradient.
_GS305_TORCH = '''
import torch
import torch.nn as nn
from torch.distributions import Normal

torch.manual_seed(0)
mean_head = nn.Linear(4, 1)
log_std = nn.Parameter(torch.zeros(1))
obs = torch.randn(16, 4)
pi = Normal(mean_head(obs), log_std.exp())
{draw}
advantage = torch.randn(16, 1)
loss = -(pi.log_prob(action) * advantage).mean(){marker}
loss.backward()
'''


def _gs305_mean_grad_zero(ns):
    assert ns["mean_head"].weight.grad is not None
    assert bool((ns["mean_head"].weight.grad == 0).all()), f"mean head gradient should be exactly zero, got {ns['mean_head'].weight.grad}"
    assert _nonzero_grad(ns["log_std"])


def _gs305_mean_grad_flows(ns):
    assert _nonzero_grad(ns["mean_head"].weight) and _nonzero_grad(ns["log_std"])


CASES["GS305"] = OracleCase(
    "GS305",
    "torch",
    _GS305_TORCH.format(draw="action = pi.rsample()", marker="  # GS305").lstrip("\n"),
    _GS305_TORCH.format(draw="action = pi.sample()", marker="").lstrip("\n"),
    _gs305_mean_grad_zero,
    _gs305_mean_grad_flows,
)


# Fact tf63: TF Probability's Normal.sample() is reparameterized, so log_prob of the unstopped
# sample gives the location exactly zero gradient; tf.stop_gradient on the point restores it.
_GS305_TFP = '''
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions
tf.random.set_seed(0)
loc = tf.Variable(tf.zeros(8))
log_scale = tf.Variable(tf.zeros(8))
advantage = tf.random.normal((8,))
with tf.GradientTape() as tape:
    pi = tfd.Normal(loc, tf.exp(log_scale))
    {draw}
    loss = -tf.reduce_mean(pi.log_prob(action) * advantage){marker}
grads = tape.gradient(loss, [loc, log_scale])
'''


def _gs305_tfp_loc_zero(ns):
    g_loc, g_scale = ns["grads"]
    assert g_loc is not None and float(tf_abs_max(g_loc)) == 0.0, f"loc gradient should be exactly zero, got {g_loc}"
    assert g_scale is not None and float(tf_abs_max(g_scale)) > 0


def _gs305_tfp_loc_flows(ns):
    g_loc, g_scale = ns["grads"]
    assert g_loc is not None and float(tf_abs_max(g_loc)) > 0 and float(tf_abs_max(g_scale)) > 0


def tf_abs_max(t):
    import tensorflow as tf

    return tf.reduce_max(tf.abs(t))


CASES["GS305-tfp"] = OracleCase(
    "GS305",
    "tfp",
    _GS305_TFP.format(draw="action = pi.sample()", marker="  # GS305").lstrip("\n"),
    _GS305_TFP.format(draw="action = tf.stop_gradient(pi.sample())", marker="").lstrip("\n"),
    _gs305_tfp_loc_zero,
    _gs305_tfp_loc_flows,
)


# Fact py43: SVI steps only the param-store sites the model and guide touch: a torch module
# called in the model without pyro.module gets gradients but keeps its weights; registered
# with pyro.module it trains.
_GS306_PYRO = '''
import pyro
import pyro.distributions as dist
import torch
import torch.nn as nn
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import Adam

torch.manual_seed(0)
pyro.set_rng_seed(0)
pyro.clear_param_store()
net = nn.Linear(3, 1)
w_before = net.weight.detach().clone()


def model(x, y):
    mean = {call}.squeeze(-1){marker}
    with pyro.plate("data", x.shape[0]):
        pyro.sample("obs", dist.Normal(mean, 1.0), obs=y)


def guide(x, y):
    pass


x, y = torch.randn(16, 3), torch.randn(16)
svi = SVI(model, guide, Adam({{"lr": 0.1}}), Trace_ELBO())
for _ in range(3):
    svi.step(x, y)
'''


def _gs306_unchanged(ns):
    import torch

    assert torch.equal(ns["w_before"], ns["net"].weight.detach()), "SVI must not have stepped the unregistered module"


def _gs306_trained(ns):
    assert _changed(ns["w_before"], ns["net"].weight.detach())


CASES["GS306"] = OracleCase(
    "GS306",
    "pyro",
    _GS306_PYRO.format(call="net(x)", marker="  # GS306").lstrip("\n"),
    _GS306_PYRO.format(call='pyro.module("net", net)(x)', marker="").lstrip("\n"),
    _gs306_unchanged,
    _gs306_trained,
)


# Fact pt54: argmax of a straight-through Gumbel-softmax sample is an integer tensor with no
# grad_fn: an embedding lookup with it trains the table but leaves the router's grad None;
# the one-hot multiplied with the table trains both.
_GS307_TORCH = '''
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
router = nn.Linear(8, 4)
table = nn.Embedding(4, 8)
h = torch.randn(6, 8)
onehot = F.gumbel_softmax(router(h), tau=1.0, hard=True)
{use}
loss = (out ** 2).mean()
loss.backward()
'''


def _gs307_router_none(ns):
    assert ns["router"].weight.grad is None, f"router should get no gradient, got {ns['router'].weight.grad}"
    assert _nonzero_grad(ns["table"].weight)


def _gs307_router_trains(ns):
    assert _nonzero_grad(ns["router"].weight) and _nonzero_grad(ns["table"].weight)


CASES["GS307"] = OracleCase(
    "GS307",
    "torch",
    _GS307_TORCH.format(use="out = table(onehot.argmax(-1))  # GS307").lstrip("\n"),
    _GS307_TORCH.format(use="out = onehot @ table.weight").lstrip("\n"),
    _gs307_router_none,
    _gs307_router_trains,
)
