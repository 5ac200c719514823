"""Flax NNX knowledge distillation: stop_gradient wraps the student's logits instead of the teacher's, so neither the soft nor the hard-label term sends a gradient to the student.

Source: https://github.com/keras-team/keras-io/pull/242
        https://github.com/haitongli/knowledge-distillation-pytorch/issues/25
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
from flax import nnx


class Classifier(nnx.Module):
    def __init__(self, din, width, n_classes, rngs: nnx.Rngs):
        self.body = nnx.Linear(din, width, rngs=rngs)
        self.head = nnx.Linear(width, n_classes, rngs=rngs)

    def __call__(self, x):
        return self.head(nnx.relu(self.body(x)))


def distill_loss(student, teacher, x, labels, temperature=2.0, alpha=0.5):
    student_logits = jax.lax.stop_gradient(student(x))  # BUG
    teacher_logits = teacher(x)
    soft = optax.softmax_cross_entropy(student_logits / temperature,
                                       jax.nn.softmax(teacher_logits / temperature)).mean()
    hard = optax.softmax_cross_entropy_with_integer_labels(student_logits, labels).mean()
    return alpha * soft * temperature ** 2 + (1 - alpha) * hard


@nnx.jit
def distill_step(student, teacher, optimizer, x, labels):
    loss, grads = nnx.value_and_grad(distill_loss)(student, teacher, x, labels)
    optimizer.update(student, grads)
    return loss, grads


if __name__ == "__main__":
    teacher = Classifier(6, 32, 3, rngs=nnx.Rngs(1))
    student = Classifier(6, 8, 3, rngs=nnx.Rngs(2))
    optimizer = nnx.Optimizer(student, optax.sgd(0.1), wrt=nnx.Param)
    kx, ky = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.normal(kx, (12, 6))
    labels = jax.random.randint(ky, (12,), 0, 3)
    before = student.head.kernel[...].copy()
    loss, grads = distill_step(student, teacher, optimizer, x, labels)
    assert all(bool(jnp.all(g == 0)) for g in jax.tree_util.tree_leaves(grads))
    assert bool(jnp.all(student.head.kernel[...] == before))
