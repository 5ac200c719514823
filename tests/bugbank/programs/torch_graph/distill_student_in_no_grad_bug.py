"""Knowledge distillation: the student's forward pass slipped into the teacher's `with torch.no_grad():` block, so the student never trains.

Source: https://smarttldr.pages.dev/en/topic/python-knowledge-distillation/deep-dive
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def distillation_loss(student_logits, teacher_logits, labels, temperature=2.0, alpha=0.5):
    soft = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=1),
        F.softmax(teacher_logits / temperature, dim=1),
        reduction="batchmean",
    ) * temperature ** 2
    return alpha * soft + (1 - alpha) * F.cross_entropy(student_logits, labels)


def distill_epoch(teacher, student, batches, optimizer):
    teacher.eval()
    student.train()
    for inputs, labels in batches:
        with torch.no_grad():  # BUG
            teacher_logits = teacher(inputs)
            student_logits = student(inputs)  # BUG
        loss = distillation_loss(student_logits, teacher_logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    student = nn.Linear(6, 3)
    opt = torch.optim.Adam(student.parameters(), lr=1e-2)
    data = [(torch.randn(4, 6), torch.randint(0, 3, (4,)))]
    try:
        distill_epoch(teacher, student, data, opt)
    except RuntimeError as err:
        assert "does not require grad" in str(err)
    else:
        raise AssertionError("the loss should have no graph to the student")
    assert student.weight.grad is None
