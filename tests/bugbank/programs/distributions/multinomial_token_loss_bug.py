"""Length predictor trained on token ids drawn with torch.multinomial: backward raises at once (no graph).

Source: https://github.com/openai/spinningup/issues/171
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn


class LengthHead(nn.Module):
    def __init__(self, d=8, max_len=6):
        super().__init__()
        self.proj = nn.Linear(d, max_len)

    def forward(self, h):
        return torch.softmax(self.proj(h), dim=-1)


def length_loss(head, h, target_len):
    probs = head(h)
    lengths = torch.multinomial(probs, 1).squeeze(-1).float()  # BUG
    return ((lengths - target_len) ** 2).mean()


if __name__ == "__main__":
    torch.manual_seed(0)
    head = LengthHead()
    h = torch.randn(4, 8)
    target = torch.tensor([1.0, 2.0, 3.0, 4.0])
    loss = length_loss(head, h, target)
    try:
        loss.backward()
    except RuntimeError as err:
        assert "does not require grad" in str(err)
    else:
        raise AssertionError("expected backward to fail: the multinomial draw has no graph")
