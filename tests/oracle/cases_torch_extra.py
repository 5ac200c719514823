"""Oracle cases for the PyTorch graph, parameter and sampling rules added in session 10
(GS210 and later); the conventions are those of `cases.py`, whose `_case` decorator registers
each case into the shared `CASES`."""

from __future__ import annotations

from .cases import _case, _changed, _nonzero_grad  # noqa: F401


# FACTS pt71: a forward hook that returns `output.detach()` replaces the module's output with
# the detached copy: the layers before the hooked module get grad None and never change.
@_case(
    "GS210",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    feats = {}


    def keep(module, inputs, output):
        output = output.detach()  # GS210
        feats["relu"] = output
        return output


    model[1].register_forward_hook(keep)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(8, 4), torch.randn(8, 2)
    first_before = model[0].weight.detach().clone()
    opt.zero_grad()
    ((model(x) - y) ** 2).mean().backward()
    opt.step()
    ''',
    good='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    feats = {}


    def keep(module, inputs, output):
        feats["relu"] = output.detach()


    model[1].register_forward_hook(keep)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(8, 4), torch.randn(8, 2)
    first_before = model[0].weight.detach().clone()
    opt.zero_grad()
    ((model(x) - y) ** 2).mean().backward()
    opt.step()
    ''',
)
class _GS210:
    @staticmethod
    def check_bad(ns):
        model = ns["model"]
        assert model[0].weight.grad is None
        assert not _changed(ns["first_before"], model[0].weight)
        assert _nonzero_grad(model[2].weight)
        assert ns["feats"]["relu"].grad_fn is None

    @staticmethod
    def check_good(ns):
        model = ns["model"]
        assert _nonzero_grad(model[0].weight)
        assert _changed(ns["first_before"], model[0].weight)


# FACTS pt72: a custom autograd.Function whose backward returns None at the position of a
# learnable scale: the scale's .grad stays None and the optimizer never moves it.
@_case(
    "GS211",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class ScaledSign(torch.autograd.Function):
        @staticmethod
        def forward(ctx, w, scale):
            ctx.save_for_backward(w)
            return torch.sign(w) * scale

        @staticmethod
        def backward(ctx, grad_out):
            (w,) = ctx.saved_tensors
            return grad_out * (w.abs() <= 1).float(), None  # GS211


    weight = nn.Parameter(torch.randn(3, 4) * 0.1)
    scale = nn.Parameter(torch.full((3, 1), 0.5))
    opt = torch.optim.SGD([weight, scale], lr=0.1)
    x, y = torch.randn(8, 4), torch.randn(8, 3)
    scale_before = scale.detach().clone()
    opt.zero_grad()
    ((x @ ScaledSign.apply(weight, scale).t() - y) ** 2).mean().backward()
    opt.step()
    ''',
    good='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)


    class ScaledSign(torch.autograd.Function):
        @staticmethod
        def forward(ctx, w, scale):
            ctx.save_for_backward(w)
            return torch.sign(w) * scale

        @staticmethod
        def backward(ctx, grad_out):
            (w,) = ctx.saved_tensors
            grad_scale = (grad_out * torch.sign(w)).sum(dim=1, keepdim=True)
            return grad_out * (w.abs() <= 1).float(), grad_scale


    weight = nn.Parameter(torch.randn(3, 4) * 0.1)
    scale = nn.Parameter(torch.full((3, 1), 0.5))
    opt = torch.optim.SGD([weight, scale], lr=0.1)
    x, y = torch.randn(8, 4), torch.randn(8, 3)
    scale_before = scale.detach().clone()
    opt.zero_grad()
    ((x @ ScaledSign.apply(weight, scale).t() - y) ** 2).mean().backward()
    opt.step()
    ''',
)
class _GS211:
    @staticmethod
    def check_bad(ns):
        assert ns["scale"].grad is None
        assert not _changed(ns["scale_before"], ns["scale"])
        assert _nonzero_grad(ns["weight"])

    @staticmethod
    def check_good(ns):
        assert _nonzero_grad(ns["scale"])
        assert _changed(ns["scale_before"], ns["scale"])


# FACTS pt73: torch.autograd.grad without create_graph returns a gradient with no history; a
# WGAN-GP penalty built from it has no grad_fn and adds nothing to the critic's gradient.
@_case(
    "GS212",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    real, fake = torch.randn(8, 4) + 1.0, torch.randn(8, 4)
    alpha = torch.rand(8, 1)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    grads = torch.autograd.grad(critic(mixed).sum(), mixed)[0]  # GS212
    penalty = ((grads.norm(2, dim=1) - 1) ** 2).mean()
    wasserstein = critic(fake).mean() - critic(real).mean()
    wasserstein_grads = torch.autograd.grad(wasserstein, list(critic.parameters()), retain_graph=True)
    (wasserstein + 10.0 * penalty).backward()
    ''',
    good='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    real, fake = torch.randn(8, 4) + 1.0, torch.randn(8, 4)
    alpha = torch.rand(8, 1)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    grads = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)[0]
    penalty = ((grads.norm(2, dim=1) - 1) ** 2).mean()
    wasserstein = critic(fake).mean() - critic(real).mean()
    wasserstein_grads = torch.autograd.grad(wasserstein, list(critic.parameters()), retain_graph=True)
    (wasserstein + 10.0 * penalty).backward()
    ''',
)
class _GS212:
    @staticmethod
    def check_bad(ns):
        import torch

        assert ns["penalty"].item() > 0 and ns["penalty"].grad_fn is None
        for g, p in zip(ns["wasserstein_grads"], ns["critic"].parameters()):
            assert torch.equal(g, p.grad)

    @staticmethod
    def check_good(ns):
        import torch

        assert ns["penalty"].grad_fn is not None
        assert any(not torch.allclose(g, p.grad) for g, p in zip(ns["wasserstein_grads"], ns["critic"].parameters()))


# FACTS py43: SVI steps only what the param store holds: an nn.Module the guide calls without
# pyro.module gets .grad from the ELBO but its weights never change; registered, they train.
@_case(
    "GS306",
    "pyro",
    bad='''
    import torch
    import torch.nn as nn
    import pyro
    import pyro.distributions as dist
    from pyro.infer import SVI, Trace_ELBO
    from pyro.optim import Adam

    pyro.set_rng_seed(0)
    pyro.clear_param_store()
    encoder = nn.Linear(3, 2)


    def model(x):
        with pyro.plate("n", x.shape[0]):
            z = pyro.sample("z", dist.Normal(torch.zeros(2), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(z.sum(-1, keepdim=True).expand(-1, 3), 0.5).to_event(1), obs=x)


    def guide(x):
        with pyro.plate("n", x.shape[0]):
            pyro.sample("z", dist.Normal(encoder(x), 0.5).to_event(1))  # GS306


    before = encoder.weight.detach().clone()
    svi = SVI(model, guide, Adam({"lr": 0.05}), loss=Trace_ELBO())
    data = torch.randn(10, 3)
    for _ in range(3):
        svi.step(data)
    ''',
    good='''
    import torch
    import torch.nn as nn
    import pyro
    import pyro.distributions as dist
    from pyro.infer import SVI, Trace_ELBO
    from pyro.optim import Adam

    pyro.set_rng_seed(0)
    pyro.clear_param_store()
    encoder = nn.Linear(3, 2)


    def model(x):
        with pyro.plate("n", x.shape[0]):
            z = pyro.sample("z", dist.Normal(torch.zeros(2), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(z.sum(-1, keepdim=True).expand(-1, 3), 0.5).to_event(1), obs=x)


    def guide(x):
        pyro.module("encoder", encoder)
        with pyro.plate("n", x.shape[0]):
            pyro.sample("z", dist.Normal(encoder(x), 0.5).to_event(1))


    before = encoder.weight.detach().clone()
    svi = SVI(model, guide, Adam({"lr": 0.05}), loss=Trace_ELBO())
    data = torch.randn(10, 3)
    for _ in range(3):
        svi.step(data)
    ''',
)
class _GS306:
    @staticmethod
    def check_bad(ns):
        import pyro

        assert not _changed(ns["before"], ns["encoder"].weight)
        assert not any("encoder" in name for name in pyro.get_param_store().keys())

    @staticmethod
    def check_good(ns):
        assert _changed(ns["before"], ns["encoder"].weight)


# FACTS pt74: `module.requires_grad = False` on an nn.Module stores a plain attribute: the
# module's parameters keep requires_grad=True and the optimizer keeps moving them.
@_case(
    "GS111",
    "torch",
    bad='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    model[2].requires_grad = False  # GS111
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    head_before = model[2].weight.detach().clone()
    opt.zero_grad()
    model(torch.randn(6, 4)).pow(2).mean().backward()
    opt.step()
    ''',
    good='''
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    model[2].requires_grad_(False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    head_before = model[2].weight.detach().clone()
    opt.zero_grad()
    model(torch.randn(6, 4)).pow(2).mean().backward()
    opt.step()
    ''',
)
class _GS111:
    @staticmethod
    def check_bad(ns):
        head = ns["model"][2]
        assert head.weight.requires_grad
        assert _nonzero_grad(head.weight)
        assert _changed(ns["head_before"], head.weight)

    @staticmethod
    def check_good(ns):
        head = ns["model"][2]
        assert not head.weight.requires_grad and head.weight.grad is None
        assert not _changed(ns["head_before"], head.weight)
