"""A seq2seq decoder loss masks padding with a comparison against valid lengths; the mask weights the loss, the decoder trains.

Source: https://github.com/d2l-ai/d2l-en/issues/2076
Label: clean
Family: graph
Frameworks: torch
"""
import torch
from torch import nn


class MaskedSoftmaxCELoss(nn.CrossEntropyLoss):
    def forward(self, pred, label, valid_len):
        steps = torch.arange(label.size(1), device=label.device)
        weights = (steps[None, :] < valid_len[:, None]).float()
        self.reduction = "none"
        unweighted = super().forward(pred.permute(0, 2, 1), label)
        return (unweighted * weights).sum(dim=1) / weights.sum(dim=1)


class Decoder(nn.Module):
    def __init__(self, vocab=9, hidden=12):
        super().__init__()
        self.embedding = nn.Embedding(vocab, 6)
        self.rnn = nn.GRU(6, hidden, batch_first=True)
        self.dense = nn.Linear(hidden, vocab)

    def forward(self, tokens):
        out, _ = self.rnn(self.embedding(tokens))
        return self.dense(out)


torch.manual_seed(0)
decoder = Decoder()
loss_fn = MaskedSoftmaxCELoss()
optimizer = torch.optim.Adam(decoder.parameters(), lr=5e-3)
bos = torch.zeros(4, 1, dtype=torch.long)
Y = torch.randint(1, 9, (4, 6))
Y_valid_len = torch.tensor([6, 4, 3, 5])
start = decoder.dense.weight.detach().clone()
for epoch in range(2):
    dec_input = torch.cat([bos, Y[:, :-1]], dim=1)
    Y_hat = decoder(dec_input)
    loss = loss_fn(Y_hat, Y, Y_valid_len)
    optimizer.zero_grad()
    loss.sum().backward()
    optimizer.step()
    num_tokens = Y_valid_len.sum()
    tokens_right = ((Y_hat.argmax(-1) == Y) & (torch.arange(6)[None] < Y_valid_len[:, None])).sum()
    metric = (loss.sum().item() / num_tokens.item(), tokens_right.item())

assert decoder.dense.weight.grad is not None and decoder.dense.weight.grad.abs().sum() > 0
assert decoder.embedding.weight.grad.abs().sum() > 0
assert not torch.equal(start, decoder.dense.weight)
