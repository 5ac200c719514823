"""VAE with the sticking-the-landing ELBO: z from rsample(), log q(z) scored under a detached copy of q; the encoder still gets the pathwise gradient.

Source: https://github.com/thu-ml/zhusuan/issues/67
Label: clean
Family: sampling
Frameworks: torch
"""
import torch
from torch import nn
from torch.distributions import Normal, Independent


class Encoder(nn.Module):
    def __init__(self, x_dim=6, z_dim=2):
        super().__init__()
        self.fc = nn.Linear(x_dim, 2 * z_dim)

    def forward(self, x):
        mu, log_sigma = self.fc(x).chunk(2, dim=-1)
        return mu, log_sigma.exp()


def stl_elbo(encoder, decoder, x):
    mu, sigma = encoder(x)
    q = Independent(Normal(mu, sigma), 1)
    z = q.rsample()
    # score term dropped on purpose (path-derivative estimator): params detached, z not
    q_stopped = Independent(Normal(mu.detach(), sigma.detach()), 1)
    prior = Independent(Normal(torch.zeros_like(z), torch.ones_like(z)), 1)
    recon = Independent(Normal(decoder(z), 1.0), 1).log_prob(x)
    return (recon + prior.log_prob(z) - q_stopped.log_prob(z)).mean()


if __name__ == "__main__":
    torch.manual_seed(0)
    encoder, decoder = Encoder(), nn.Linear(2, 6)
    opt = torch.optim.Adam(list(encoder.parameters()) + list(decoder.parameters()), lr=1e-3)
    x = torch.randn(10, 6)
    loss = -stl_elbo(encoder, decoder, x)
    opt.zero_grad()
    loss.backward()
    assert encoder.fc.weight.grad is not None
    assert encoder.fc.weight.grad.abs().sum() > 0
    opt.step()
