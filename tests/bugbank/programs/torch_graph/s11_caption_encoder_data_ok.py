"""An image-captioning encoder keeps its pretrained CNN frozen (left out of the optimizer) and re-wraps the CNN features as `Variable(features.data)`: only the linear head and decoder train, as intended.

Source: https://github.com/yunjey/pytorch-tutorial/issues/93
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
from torch.autograd import Variable


class EncoderCNN(nn.Module):
    def __init__(self, embed_size=6):
        super().__init__()
        layers = [nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1)]
        self.cnn = nn.Sequential(*layers)
        self.linear = nn.Linear(4, embed_size)
        self.bn = nn.BatchNorm1d(embed_size, momentum=0.01)
        self.init_weights()

    def init_weights(self):
        self.linear.weight.data.normal_(0.0, 0.02)
        self.linear.bias.data.fill_(0)

    def forward(self, images):
        features = self.cnn(images)
        features = Variable(features.data)
        features = features.view(features.size(0), -1)
        return self.bn(self.linear(features))


class DecoderRNN(nn.Module):
    def __init__(self, embed_size=6, hidden=8, vocab=12):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed_size)
        self.lstm = nn.LSTM(embed_size, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, features, captions):
        seq = torch.cat([features.unsqueeze(1), self.embed(captions[:, :-1])], dim=1)
        hiddens, _ = self.lstm(seq)
        return self.out(hiddens)


torch.manual_seed(0)
encoder, decoder = EncoderCNN(), DecoderRNN()
params = list(decoder.parameters()) + list(encoder.linear.parameters()) + list(encoder.bn.parameters())
optimizer = torch.optim.Adam(params, lr=1e-3)
criterion = nn.CrossEntropyLoss()
images, captions = torch.randn(4, 3, 8, 8), torch.randint(0, 12, (4, 5))
before = encoder.cnn[0].weight.detach().clone()
for _ in range(2):
    outputs = decoder(encoder(images), captions)
    loss = criterion(outputs.reshape(-1, 12), captions.reshape(-1))
    decoder.zero_grad()
    encoder.zero_grad()
    loss.backward()
    optimizer.step()

assert torch.equal(before, encoder.cnn[0].weight)
assert encoder.linear.weight.grad is not None and encoder.linear.weight.grad.abs().sum() > 0
assert decoder.out.weight.grad.abs().sum() > 0
