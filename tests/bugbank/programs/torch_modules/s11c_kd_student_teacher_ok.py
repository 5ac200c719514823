"""Knowledge distillation: a frozen teacher in eval mode scores each batch under no_grad, the student trains on a temperature-scaled KL plus cross-entropy, with a cosine scheduler, gradient clipping and `.item()` logging.

Source: https://smarttldr.pages.dev/en/topic/python-knowledge-distillation/deep-dive
Label: clean
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class DistillationLoss(nn.Module):
    def __init__(self, temperature=4.0, alpha=0.7):
        super().__init__()
        self.temperature = temperature
        self.alpha = alpha

    def forward(self, student_logits, teacher_logits, labels):
        t = self.temperature
        soft = F.kl_div(F.log_softmax(student_logits / t, dim=1),
                        F.softmax(teacher_logits / t, dim=1), reduction="batchmean") * t * t
        return self.alpha * soft + (1 - self.alpha) * F.cross_entropy(student_logits, labels)


def distill(teacher, student, loader, epochs=2, lr=1e-2):
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    student.train()
    optimizer = torch.optim.Adam(student.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    criterion = DistillationLoss()
    history = []
    for _ in range(epochs):
        running, correct = 0.0, 0
        for inputs, labels in loader:
            with torch.no_grad():
                teacher_logits = teacher(inputs)
            student_logits = student(inputs)
            loss = criterion(student_logits, teacher_logits, labels)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(student.parameters(), max_norm=5.0)
            optimizer.step()
            running += loss.item()
            correct += (student_logits.argmax(1) == labels).sum().item()
        scheduler.step()
        history.append((running, correct))
    return history


if __name__ == "__main__":
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))
    student = nn.Sequential(nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 4))
    loader = [(torch.randn(6, 10), torch.randint(0, 4, (6,))) for _ in range(2)]
    t0 = [p.detach().clone() for p in teacher.parameters()]
    s0 = [p.detach().clone() for p in student.parameters()]
    distill(teacher, student, loader)
    assert all(not torch.equal(a, b) for a, b in zip(s0, student.parameters()))
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())
    assert all(torch.equal(a, b) for a, b in zip(t0, teacher.parameters()))
