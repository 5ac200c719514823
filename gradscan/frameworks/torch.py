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

# Methods written on the way to a conversion (`t.detach().cpu().numpy()`): they keep the value
# (pt14: the conversion after them is what leaves the graph).
BEFORE_CONVERSION = tuple(Api(name, "pt14") for name in (
    "cpu", "detach", "clone", "float", "double", "squeeze", "flatten", "reshape", "view", "contiguous",
))

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

# The parameters a built-in layer registers on itself, inherited by a subclass
# (`class BinaryLinear(nn.Linear)` reads `self.weight` without assigning it): pt01.
INHERITED_LAYER_PARAMETERS = (
    Api("weight", "pt01"),
    Api("bias", "pt01"),
)
# Bases that register no parameter of their own: containers hold only what is put in them.
PARAMETERLESS_BASES = frozenset({
    "torch.nn.Module", "torch.nn.Sequential", "torch.nn.ModuleList", "torch.nn.ModuleDict",
    "torch.nn.ParameterList", "torch.nn.ParameterDict", "torch.nn.Identity",
})

# Tensor methods whose result carries no gradient back to the tensor they are called on: the
# flow stops there and a value computed through them is not "from the weights". Not here:
# `.cpu()`, `.float()`, `.to()`, `.clone()` (differentiable copies).
NON_CARRYING_METHODS = (
    # a Python value or NumPy array (pt14), metadata included (an int computed from the shape)
    *(Api(name, "pt14") for name in (
        "item", "tolist", "numpy", "size", "dim", "numel", "nelement", "element_size", "data_ptr", "stride",
        "is_contiguous", "get_device", "__len__",
    )),
    Api("detach", "pt05"),
    Api("detach_", "pt05"),
    # integer or boolean results: no grad_fn (pt35)
    *(Api(name, "pt35") for name in (
        "argmax", "argmin", "argsort", "nonzero", "count_nonzero", "eq", "ne", "gt", "lt", "ge", "le", "equal",
        "allclose", "isnan", "isinf", "isfinite", "any", "all", "bool", "long", "int",
    )),
    # a gradient of exactly zero (pt13): piecewise-constant ops, and in-place writes whose result
    # no longer depends on the receiver's values
    *(Api(name, "pt13") for name in ("sign", "round", "floor", "ceil", "zero_", "fill_", "copy_")),
    # new tensors of the receiver's shape and dtype only (pt21)
    *(Api(name, "pt21") for name in ("new_zeros", "new_ones", "new_empty", "new_full")),
)

# Tensor attributes whose value carries no gradient: metadata (pt14), `.data` (pt06), `.grad`
# (a leaf's accumulated gradient, outside the graph: pt06), `.indices` of max/topk (pt35).
NON_CARRYING_ATTRS = (
    *(Api(name, "pt14") for name in (
        "shape", "dtype", "device", "ndim", "is_cuda", "requires_grad", "grad_fn", "is_leaf", "layout", "names",
        "__class__", "is_sparse", "itemsize",
    )),
    Api("data", "pt06"),
    Api("grad", "pt06"),
    Api("indices", "pt35"),
)


# Tensor methods whose arguments are a device, dtype, shape or dimension, not a value combined
# with the tensor they are called on (`t.to(device)`, `t.view(-1, 1)`): API knowledge, not a
# gradient fact.
CONFIGURATION_METHODS = frozenset({
    "to", "type", "cuda", "cpu", "view", "reshape", "squeeze", "unsqueeze", "permute", "transpose", "expand",
    "repeat", "flatten", "contiguous", "float", "double", "half", "bfloat16", "long", "int", "view_as",
    "expand_as", "reshape_as", "type_as",
})

# Packages whose `from X import *` brings PyTorch in under its usual names (fastai's `all`
# modules and `basics`, the fastbook helper package): import knowledge, not a gradient fact.
# A star import of any other package still binds nothing (its names stay unknown).
_FASTAI_NAMES = {
    "torch": "torch", "nn": "torch.nn", "F": "torch.nn.functional", "np": "numpy",
    "Tensor": "torch.Tensor", "tensor": "torch.tensor",
    # fastai's `Module` is an `nn.Module` that calls `super().__init__()` for you
    "Module": "torch.nn.Module",
}
STAR_REEXPORTS = {"fastai": _FASTAI_NAMES, "fastbook": _FASTAI_NAMES}

# Functions and methods returning (values, indices): the indices are integers with no grad_fn
# (pt35), so unpacking the result gives only its first element the input's value.
VALUES_AND_INDICES = (
    *(Api(f"torch.{name}", "pt35") for name in ("topk", "sort", "kthvalue", "mode", "median", "max", "min", "cummax", "cummin")),
    *(Api(name, "pt35") for name in ("topk", "sort", "kthvalue", "mode", "median", "cummax", "cummin")),
)

# Functions whose result carries no gradient back to their tensor arguments: new tensors of an
# argument's shape only (pt21), integer or boolean results (pt13, pt35), metadata (pt14).
NON_CARRYING_FUNCTIONS = (
    *(Api(f"torch.{name}", "pt21") for name in (
        "zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like", "randint_like",
    )),
    *(Api(f"torch.{name}", "pt35") for name in ("argmax", "argmin", "argsort", "isnan", "isinf", "isfinite", "equal", "allclose")),
    *(Api(name, "pt14") for name in ("torch.numel", "torch.is_tensor", "torch.is_floating_point", "numpy.shape")),
)

# Sampling functions of graph tensors: `torch.normal` gives mean and std zero gradients (pt10),
# `torch.bernoulli` zeros and `torch.multinomial` none (pt35); `torch.poisson` is like them.
SAMPLING_FUNCTIONS = (
    Api("torch.normal", "pt10"),
    *(Api(f"torch.{name}", "pt35") for name in ("bernoulli", "poisson", "multinomial")),
)

# Context managers and decorators under which nothing is recorded (pt08: a `with` block; pt22:
# a decorated function), and the ones that turn recording back on inside them.
NO_GRAD_CONTEXTS = (
    *(Api(name, "pt08") for name in (
        "torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad", "torch.autograd.grad_mode.no_grad",
        "torch.autograd.inference_mode", "torch.autograd.grad_mode.inference_mode",
    )),
)
ENABLE_GRAD_CONTEXTS = (
    *(Api(name, "pt08") for name in ("torch.enable_grad", "torch.autograd.enable_grad", "torch.autograd.grad_mode.enable_grad")),
)
