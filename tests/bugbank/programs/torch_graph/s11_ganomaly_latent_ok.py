"""A skip-GANomaly trainer detaches the fake batch for the discriminator step and recomputes the discriminator features on the live fake for the generator's latent loss.

Source: https://github.com/samet-akcay/skip-ganomaly/issues/5
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn


class Discriminator(nn.Module):
    def __init__(self, dim=8):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(dim, 16), nn.LeakyReLU(0.2))
        self.classifier = nn.Linear(16, 1)

    def forward(self, x):
        feat = self.features(x)
        return torch.sigmoid(self.classifier(feat)).squeeze(-1), feat


class SkipGanomaly:
    def __init__(self, dim=8, w_lat=1.0, w_con=50.0):
        self.netg = nn.Sequential(nn.Linear(dim, 4), nn.ReLU(), nn.Linear(4, dim))
        self.netd = Discriminator(dim)
        self.w_lat, self.w_con = w_lat, w_con
        self.l_lat = nn.MSELoss()
        self.l_con = nn.L1Loss()
        self.l_bce = nn.BCELoss()
        self.optimizer_g = torch.optim.Adam(self.netg.parameters(), lr=1e-3)
        self.optimizer_d = torch.optim.Adam(self.netd.parameters(), lr=1e-3)

    def forward_g(self, real):
        self.real = real
        self.fake = self.netg(real)

    def forward_d(self):
        self.pred_real, self.feat_real = self.netd(self.real)
        self.pred_fake, _ = self.netd(self.fake.detach())

    def backward_g(self):
        _, feat_fake_live = self.netd(self.fake)
        self.err_g_lat = self.l_lat(feat_fake_live, self.feat_real.detach())
        self.err_g_con = self.l_con(self.fake, self.real)
        self.err_g = self.w_lat * self.err_g_lat + self.w_con * self.err_g_con
        self.err_g.backward()

    def backward_d(self):
        ones = torch.ones_like(self.pred_real)
        err_d = self.l_bce(self.pred_real, ones) + self.l_bce(self.pred_fake, torch.zeros_like(ones))
        err_d.backward()

    def optimize_params(self, real):
        self.forward_g(real)
        self.forward_d()
        self.optimizer_g.zero_grad()
        self.backward_g()
        self.optimizer_g.step()
        self.optimizer_d.zero_grad()
        self.backward_d()
        self.optimizer_d.step()


torch.manual_seed(0)
model = SkipGanomaly()
model.optimize_params(torch.randn(6, 8))
x = torch.randn(6, 8)
model.forward_g(x)
model.forward_d()
lat_only = model.l_lat(model.netd(model.fake)[1], model.feat_real.detach())
grads = torch.autograd.grad(lat_only, list(model.netg.parameters()), allow_unused=True)
assert any(g is not None and g.abs().sum() > 0 for g in grads)
