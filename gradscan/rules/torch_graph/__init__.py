"""GS2xx: PyTorch code that silently cuts the autograd graph on the way to the output or the loss.

Every rule here has the same shape: a cut (`detach()`, `.data`, `no_grad`, a re-wrapped tensor,
a Python number, a gradient-less op) of a value that comes from the weights (`Sources.is_live`),
in code that computes gradients, whose value reaches what forward returns or what `.backward()`
is called on (`flow.reaches_output`), and that is not one of the intentional look-alikes
(`intent.intentional_cut`). Each pattern has one owner, so a line never gets two codes for one
mistake: GS204 owns re-wrapping (with the `.detach()` inside `from_numpy(x.detach().numpy())`),
GS205 owns Python numbers (with `torch.tensor(x.item())`), GS206 owns whatever is done to the
value `.backward()` is called on, GS302 owns the sampling functions.
"""
from gradscan.rules.torch_graph import (  # noqa: F401 (importing a rule module registers its rule)
    gs201_detach_in_forward,
    gs202_data_in_forward,
    gs203_no_grad_in_forward,
    gs204_tensor_rewrapped,
    gs205_python_number_in_graph,
    gs206_requires_grad_on_loss,
    gs207_non_differentiable_op_in_loss,
    gs208_backward_of_data,
    gs209_selection_without_straight_through,
    gs210_forward_hook_returns_cut,
    gs211_custom_function_drops_gradient,
    gs212_gradient_term_without_create_graph,
)
