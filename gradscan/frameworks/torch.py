"""PyTorch (torch 2.13.0)."""
from gradscan.frameworks import Api

# Tensor methods that turn a tensor into a NumPy array or Python value: the result carries
# no graph (pt14: `.item()`, `.tolist()` silently; `.numpy()` refuses a grad tensor, so code
# writes `.detach().numpy()` first).
CONVERSION_METHODS = (
    Api("item", "pt14"),
    Api("tolist", "pt14"),
    Api("numpy", "pt14"),
)

# Builtins that turn a tensor into a Python number (pt14: `float(t)` warns and cuts).
CONVERSION_BUILTINS = (
    Api("float", "pt14"),
    Api("int", "pt14"),
)

# Calls that make a new tensor (a new leaf, no grad_fn) from data: a NumPy array, a Python
# number, or another tensor copied (pt07; `new_tensor`: pt21).
REWRAP_FUNCTIONS = (
    Api("torch.tensor", "pt07"),
    Api("torch.as_tensor", "pt07"),
    Api("torch.from_numpy", "pt07"),
    Api("torch.Tensor", "pt07"),
    Api("torch.FloatTensor", "pt07"),
    Api("torch.nn.Parameter", "pt07"),
)
REWRAP_METHODS = (
    Api("new_tensor", "pt21"),
)

# Calls that create a trainable weight (a gradient source): pt01 (a Parameter is what
# `model.parameters()` and so the optimizer see).
WEIGHT_FACTORIES = (
    Api("torch.nn.Parameter", "pt01"),
)
