"""GS1xx: PyTorch weights that are never registered, never used, or recreated on every call.

Every rule here asks about `torch.nn.Module` classes (including classes whose base lives in
another file of the project, through the project index) and stays silent when a question cannot
be decided: dynamic attribute access, registration by other means, external base classes.
"""
from gradscan.rules.torch_params import (  # noqa: F401 (importing a rule module registers its rule)
    gs101_tensor_attribute_requires_grad,
    gs102_parameter_moved_in_init,
    gs103_module_in_plain_container,
    gs104_buffer_requires_grad,
    gs105_parameter_never_used,
    gs106_module_created_in_forward,
    gs107_require_grad_typo,
    gs108_requires_grad_disabled_in_forward,
    gs109_tensor_attribute_not_buffer,
    gs110_non_leaf_weight,
    gs111_requires_grad_attribute_on_module,
)
