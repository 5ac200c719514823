"""The semantic model's first three questions, on small sources: what a name refers to
(`names`), which classes are modules and of which framework (`classes`, `project`), and which
code is differentiable (`contexts`). Value flow (the fourth) is tested in test_flow.py.

Everything the model cannot answer with confidence must come out unknown (None)."""
from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Dict, Optional, Tuple

import libcst as cst
import pytest

from gradscan.config import Settings
from gradscan.semantics import classes as kinds
from gradscan.semantics.model import FileModel
from gradscan.semantics.project import ProjectIndex, build_index, module_names, project_root


def build(src: str, settings: Optional[Settings] = None, project=None, module_name=None, path="example.py") -> FileModel:
    src = textwrap.dedent(src)
    return FileModel.build(cst.parse_module(src), path, src, settings, project, module_name)


def code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def callees(m: FileModel) -> Dict[Tuple[str, str], Optional[str]]:
    """(enclosing function or "-", callee text) -> resolved name, for every call in the file."""
    out = {}
    for call, fn in m.calls:
        out[(fn.name if fn else "-", code(call.func))] = m.callee(call)
    return out


def kind_of(m: FileModel, name: str) -> Optional[str]:
    return m.classes[name].kind


def fn(m: FileModel, qualname: str):
    """A function by `name` or `Class.name`."""
    cls, _, name = qualname.rpartition(".")
    for f in m.functions:
        if f.name == name and (not cls or (f.cls is not None and f.cls.name == cls)):
            return f
    raise KeyError(qualname)


def ctx(m: FileModel, qualname: str) -> Optional[str]:
    f = fn(m, qualname)
    return f.context.kind if f.context else None


def probe_context(m: FileModel, label: str):
    """The context of the call `probe("label")` in the source."""
    for call, _ in m.calls:
        if code(call.func) == "probe" and call.args and code(call.args[0].value) == f'"{label}"':
            return m.context_of(call)
    raise KeyError(label)


# =============================================================================================
# 1. Names
# =============================================================================================

ALL_IMPORT_FORMS = """
import torch
import torch as T
import torch.nn as nn
from torch import nn as tnn
from torch.nn import Parameter as P
from torch.distributions import Normal
import torch.distributions as D
import tensorflow as tf
from tensorflow import keras
from keras import layers
import tf_keras
import tensorflow_probability as tfp
tfd = tfp.distributions
import jax
import jax.numpy as jnp
from jax import grad, value_and_grad
from flax import nnx
import pyro
import numpy as np
Normal2 = torch.distributions.Normal
sg = jax.lax.stop_gradient

torch.zeros(1)
T.ones(1)
nn.Linear(1, 1)
tnn.Conv2d(1, 1, 1)
P(x)
Normal(0, 1)
D.Normal(0, 1)
D.kl.kl_divergence(p, q)
tf.stop_gradient(x)
keras.layers.Dense(1)
layers.Dense(1)
tf_keras.layers.Dense(1)
tfd.Normal(0, 1)
tfp.distributions.Normal(0, 1)
jax.grad(f)
jnp.sum(x)
np.sum(x)
grad(f)
value_and_grad(f)
nnx.grad(f)
pyro.sample("z", d)
Normal2(0, 1)
sg(x)
unknown_thing(x)
x.detach()
"""


@pytest.mark.parametrize("text, expected", [
    ("torch.zeros", "torch.zeros"),
    ("T.ones", "torch.ones"),
    ("nn.Linear", "torch.nn.Linear"),
    ("tnn.Conv2d", "torch.nn.Conv2d"),
    ("P", "torch.nn.Parameter"),
    ("Normal", "torch.distributions.Normal"),
    ("D.Normal", "torch.distributions.Normal"),
    ("D.kl.kl_divergence", "torch.distributions.kl.kl_divergence"),
    ("tf.stop_gradient", "tensorflow.stop_gradient"),
    ("keras.layers.Dense", "tensorflow.keras.layers.Dense"),  # `from tensorflow import keras`
    ("layers.Dense", "keras.layers.Dense"),  # `from keras import layers`: Keras 3's package
    ("tf_keras.layers.Dense", "tf_keras.layers.Dense"),
    ("tfd.Normal", "tensorflow_probability.distributions.Normal"),
    ("tfp.distributions.Normal", "tensorflow_probability.distributions.Normal"),
    ("jax.grad", "jax.grad"),
    ("jnp.sum", "jax.numpy.sum"),
    ("np.sum", "numpy.sum"),  # numpy is not jax.numpy
    ("grad", "jax.grad"),
    ("value_and_grad", "jax.value_and_grad"),
    ("nnx.grad", "flax.nnx.grad"),
    ("pyro.sample", "pyro.sample"),
    ("Normal2", "torch.distributions.Normal"),  # Normal = torch.distributions.Normal
    ("sg", "jax.lax.stop_gradient"),  # sg = jax.lax.stop_gradient
    ("unknown_thing", None),
    ("x.detach", None),
])
def test_import_forms(text, expected):
    m = build(ALL_IMPORT_FORMS)
    assert callees(m)[("-", text)] == expected


def test_import_keras_package_is_keras_not_tf_keras():
    m = build("""
        import keras
        keras.layers.Dense(1)
        keras.ops.stop_gradient(x)
    """)
    assert callees(m)[("-", "keras.layers.Dense")] == "keras.layers.Dense"
    assert callees(m)[("-", "keras.ops.stop_gradient")] == "keras.ops.stop_gradient"


def test_submodule_paths_are_canonical():
    m = build("""
        import torch
        from torch.nn.modules.linear import Linear
        from torch.nn.parameter import Parameter
        from torch.distributions.normal import Normal
        import lightning.pytorch as L
        Linear(1, 1)
        Parameter(x)
        Normal(0, 1)
        L.LightningModule()
        torch.nn.modules.loss._Loss()
    """)
    got = callees(m)
    assert got[("-", "Linear")] == "torch.nn.Linear"
    assert got[("-", "Parameter")] == "torch.nn.Parameter"
    assert got[("-", "Normal")] == "torch.distributions.Normal"
    assert got[("-", "L.LightningModule")] == "pytorch_lightning.LightningModule"
    assert got[("-", "torch.nn.modules.loss._Loss")] == "torch.nn._Loss"


def test_import_inside_function_resolves_there():
    m = build("""
        def f(x):
            import torch.nn.functional as F
            from jax import lax
            return F.relu(x) + lax.stop_gradient(x)

        def g(x):
            def inner(y):
                return F.gelu(y)
            import torch.nn.functional as F
            return inner(x)
    """)
    got = callees(m)
    assert got[("f", "F.relu")] == "torch.nn.functional.relu"
    assert got[("f", "lax.stop_gradient")] == "jax.lax.stop_gradient"
    assert got[("inner", "F.gelu")] == "torch.nn.functional.gelu"  # the enclosing function's import


def test_try_except_import_error():
    m = build("""
        try:
            import tf_keras as keras
        except ImportError:
            from tensorflow import keras
        try:
            import apex
        except ImportError:
            apex = None
        keras.layers.Dense(1)
        apex.amp.initialize(m)
    """)
    got = callees(m)
    assert got[("-", "keras.layers.Dense")] == "tensorflow.keras.layers.Dense"  # the last binding
    assert got[("-", "apex.amp.initialize")] == "apex.amp.initialize"  # `apex = None` is the fallback
    assert m.legacy_keras  # the file imports tf_keras


def test_module_level_aliases():
    m = build("""
        import torch
        import jax
        import tensorflow_probability as tfp
        tfd = tfp.distributions
        Normal = torch.distributions.Normal
        sg = jax.lax.stop_gradient
        F = torch.nn.functional
        tfd.Normal(0, 1)
        Normal(0, 1)
        sg(x)
        F.relu(x)
    """)
    got = callees(m)
    assert got[("-", "tfd.Normal")] == "tensorflow_probability.distributions.Normal"
    assert got[("-", "Normal")] == "torch.distributions.Normal"
    assert got[("-", "sg")] == "jax.lax.stop_gradient"
    assert got[("-", "F.relu")] == "torch.nn.functional.relu"


def test_function_local_alias():
    m = build("""
        import jax
        def loss(p):
            sg = jax.lax.stop_gradient
            return sg(p)
    """)
    assert callees(m)[("loss", "sg")] == "jax.lax.stop_gradient"


def test_star_import_is_unknown():
    m = build("""
        from torch.nn import *
        from torch import *
        Linear(1, 1)
        zeros(1)
    """)
    got = callees(m)
    assert got[("-", "Linear")] is None
    assert got[("-", "zeros")] is None
    assert m.imports.star_imports


@pytest.mark.parametrize("src, where, text", [
    # a parameter shadowing an import
    ("from keras import layers\ndef f(layers):\n    layers.append(x)\n", "f", "layers.append"),
    ("import torch.nn as nn\ndef f(*nn):\n    nn.Linear(1)\n", "f", "nn.Linear"),
    # a local variable shadowing an import
    ("from torch.distributions import Normal\ndef f():\n    Normal = MyNormal\n    Normal(0, 1)\n", "f", "Normal"),
    ("import torch\ndef f(xs):\n    for torch in xs:\n        torch.zeros(1)\n", "f", "torch.zeros"),
    ("import jax\ndef f():\n    with ctx() as jax:\n        jax.grad(g)\n", "f", "jax.grad"),
    ("from jax import grad\ndef f(p):\n    grad = compute(p)\n    grad(p)\n", "f", "grad"),
    ("from jax import grad\ndef f(p):\n    (grad, other) = compute(p)\n    grad(p)\n", "f", "grad"),
    # seen from a nested function
    ("from keras import layers\ndef f(layers):\n    def g():\n        layers.pop()\n", "g", "layers.pop"),
    # a lambda's parameter
    ("import torch\nh = lambda torch: torch.zeros(1)\n", "<lambda>", "torch.zeros"),
    # a module-level def or class reusing an imported name
    ("from torch.nn.functional import gelu\ndef gelu(x):\n    return x\ngelu(y)\n", "-", "gelu"),
    # an unconditional module-level rebinding to something unknown
    ("import torch.nn as nn\nnn = make_namespace()\nnn.Linear(1)\n", "-", "nn.Linear"),
])
def test_local_names_shadow_imports(src, where, text):
    assert callees(build(src))[(where, text)] is None


def test_shadowing_is_per_scope():
    m = build("""
        from keras import layers
        import torch
        def f(layers):
            return layers.pop()
        def g():
            return layers.Dense(1)
        class M:
            torch = None
            def h(self):
                return torch.zeros(1)
        def k(x=torch.ones(1)):
            torch = 1
            return x
        def gl():
            global torch
            return torch.zeros(2)
    """)
    got = callees(m)
    assert got[("f", "layers.pop")] is None
    assert got[("g", "layers.Dense")] == "keras.layers.Dense"
    assert got[("h", "torch.zeros")] == "torch.zeros"  # class attributes do not shadow in methods
    assert got[("k", "torch.ones")] == "torch.ones"  # defaults are evaluated outside the function
    assert got[("gl", "torch.zeros")] == "torch.zeros"


def test_class_body_assignments_are_not_module_aliases():
    m = build("""
        import torch.nn as nn
        class Config:
            act = nn.ReLU
        def f(x):
            return act(x)
    """)
    assert callees(m)[("f", "act")] is None


def test_dynamic_access_is_unknown():
    m = build("""
        import torch
        getattr(torch, "zeros")(1)
        torch.__dict__["zeros"](1)
        modules[0](x)
    """)
    for (where, text), name in callees(m).items():
        if text != "getattr":
            assert name is None, text


def test_relative_imports_follow_the_module_name():
    m = build("""
        from .base import BaseBlock
        from ..utils import helpers as H
        from . import layers
        BaseBlock()
        H.f()
        layers.Block()
    """, module_name="lib.models.block")
    got = callees(m)
    assert got[("-", "BaseBlock")] == "lib.models.base.BaseBlock"
    assert got[("-", "H.f")] == "lib.utils.helpers.f"
    assert got[("-", "layers.Block")] == "lib.models.layers.Block"


def test_relative_imports_in_a_package_init():
    m = build("from .layers import Block\nBlock()\n", module_name="lib.models", path="lib/models/__init__.py")
    assert callees(m)[("-", "Block")] == "lib.models.layers.Block"


# =============================================================================================
# 2. Module classes
# =============================================================================================

def test_torch_modules_directly_and_through_framework_bases():
    m = build("""
        import torch
        import torch.nn as nn
        from torch.nn.modules.loss import _Loss, _WeightedLoss
        import lightning.pytorch as lpl
        import pytorch_lightning as pl
        import lightning as L
        from lightning.pytorch import LightningModule
        from pyro.nn import PyroModule
        class A(nn.Module): pass
        class B(nn.Sequential): pass
        class C(nn.ModuleList): pass
        class D1(lpl.LightningModule): pass
        class D2(pl.LightningModule): pass
        class D3(L.LightningModule): pass
        class D4(LightningModule): pass
        class E(PyroModule): pass
        class E2(PyroModule[nn.Linear]): pass
        class F(_Loss): pass
        class F2(_WeightedLoss): pass
        class G(torch.nn.modules.conv._ConvNd): pass
        class H(nn.parallel.DistributedDataParallel): pass
    """)
    for name in ("A", "B", "C", "D1", "D2", "D3", "D4", "E", "E2", "F", "F2", "G", "H"):
        assert kind_of(m, name) == kinds.TORCH, name
        assert m.classes[name].is_torch


def test_torch_look_alikes_are_not_modules():
    m = build("""
        import torch
        import torch.nn as nn
        from torch.nn.modules.lazy import LazyModuleMixin
        class P(nn.Parameter): pass
        class O(torch.optim.Optimizer): pass
        class S(torch.optim.lr_scheduler.LRScheduler): pass
        class Ds(torch.utils.data.Dataset): pass
        class Fn(torch.autograd.Function): pass
        class Pr(nn.utils.prune.BasePruningMethod): pass
        class Mx(LazyModuleMixin): pass
        class Dist(torch.distributions.Distribution): pass
        class Plain: pass
        class Obj(object): pass
    """)
    for name in ("P", "O", "S", "Ds", "Fn", "Pr", "Mx", "Dist", "Plain", "Obj"):
        assert kind_of(m, name) is None, name


def test_same_file_bases_in_any_order():
    m = build("""
        import torch.nn as nn
        class Child(Base): pass
        class Base(Middle): pass
        class Middle(nn.Module): pass
        class Loop(Loop2): pass
        class Loop2(Loop): pass
    """)
    assert kind_of(m, "Child") == kinds.TORCH
    assert kind_of(m, "Base") == kinds.TORCH
    assert kind_of(m, "Loop") is None  # a cycle ends, unknown


def test_flax_linen_nn_is_not_torch():
    m = build("""
        from flax import linen as nn
        import flax.linen
        class Dense(nn.Module):
            def __call__(self, x): return x
        class MyDense(nn.Dense): pass
        class Other(flax.linen.Module): pass
        class NotModule(nn.Variable): pass
    """)
    assert kind_of(m, "Dense") == kinds.FLAX_LINEN
    assert not m.classes["Dense"].is_torch
    assert kind_of(m, "MyDense") == kinds.FLAX_LINEN
    assert kind_of(m, "Other") == kinds.FLAX_LINEN
    assert kind_of(m, "NotModule") is None


def test_flax_nnx():
    m = build("""
        from flax import nnx
        class Model(nnx.Module): pass
        class Lin(nnx.Linear): pass
        class Opt(nnx.Optimizer): pass
        class V(nnx.Param): pass
    """)
    assert kind_of(m, "Model") == kinds.FLAX_NNX
    assert kind_of(m, "Lin") == kinds.FLAX_NNX
    assert kind_of(m, "Opt") is None
    assert kind_of(m, "V") is None


def test_haiku_and_a_bare_nn_module_without_import_are_not_torch():
    m = build("""
        import haiku as hk
        class H(hk.Module):
            def __call__(self, x): return x
        class Bare(nn.Module):  # `nn` is not imported: unknown
            def forward(self, x): return x
    """)
    assert kind_of(m, "H") is None
    assert kind_of(m, "Bare") is None
    assert ctx(m, "Bare.forward") is None


def test_tf_module():
    m = build("""
        import tensorflow as tf
        class M(tf.Module):
            def __call__(self, x): return x
    """)
    assert kind_of(m, "M") == kinds.TF_MODULE
    assert not m.classes["M"].is_keras


KERAS_CLASSES = """
import tensorflow as tf
import keras
from keras import layers
class A(tf.keras.layers.Layer): pass
class B(tf.keras.Model): pass
class C(keras.Model): pass
class D(layers.Dense): pass
class E(keras.layers.Layer): pass
class F(tf.keras.Sequential): pass
"""


def test_keras_3_by_default():
    m = build(KERAS_CLASSES)
    for name in "ABCDEF":
        assert kind_of(m, name) == kinds.KERAS, name
        assert m.classes[name].is_keras
    assert not m.legacy_keras


@pytest.mark.parametrize("extra, settings, legacy", [
    # tf.keras becomes tf_keras; the `keras` package stays Keras 3 (facts tf45, tf25)
    ("import tf_keras\n", None, "ABF"),
    ("import os\nos.environ['TF_USE_LEGACY_KERAS'] = '1'\n", None, "ABF"),
    # TensorFlow <= 2.15: both are Keras 2
    ("", Settings(keras="legacy"), "ABCDEF"),
])
def test_legacy_keras(extra, settings, legacy):
    m = build(extra + KERAS_CLASSES, settings=settings)
    assert m.legacy_keras
    for name in "ABCDEF":
        assert kind_of(m, name) == (kinds.KERAS_LEGACY if name in legacy else kinds.KERAS), name
        assert m.classes[name].is_keras


def test_tf_keras_package_is_always_legacy():
    m = build("""
        import tf_keras
        from tf_keras import layers
        class A(tf_keras.layers.Layer): pass
        class B(layers.Layer): pass
    """)
    assert kind_of(m, "A") == kinds.KERAS_LEGACY
    assert kind_of(m, "B") == kinds.KERAS_LEGACY


def test_keras_names_are_resolved_not_prefix_matched():
    m = build("""
        import keras
        import tensorflow as tf
        class Opt(keras.optimizers.Adam): pass
        class Cb(keras.callbacks.Callback): pass
        class TfCb(tf.keras.callbacks.Callback): pass
        class Loss(keras.losses.Loss): pass
        class Metric(keras.metrics.Metric): pass
        class Init(keras.initializers.Initializer): pass
        class Reg(keras.regularizers.Regularizer): pass
        class Case(keras.src.testing.TestCase): pass
        class Spec(keras.layers.InputSpec): pass
        class kerasish(keras_utils.Layer): pass
        class Mixed(keras.layers.Layer, keras.callbacks.Callback): pass
    """)
    for name in ("Opt", "Cb", "TfCb", "Loss", "Metric", "Init", "Reg", "Case", "Spec", "kerasish"):
        assert kind_of(m, name) is None, name
    assert kind_of(m, "Mixed") == kinds.KERAS


def test_extra_bases_from_configuration():
    settings = Settings(torch_module_bases=["vendor.nets.BaseNet", "FancyModule"], keras_layer_bases=["vendor.KLayer"])
    m = build("""
        from vendor.nets import BaseNet
        from vendor import KLayer
        import other
        class A(BaseNet):
            def forward(self, x): return x
        class B(other.FancyModule): pass
        class C(KLayer):
            def call(self, x): return x
        class D(other.Thing): pass
    """, settings=settings)
    assert kind_of(m, "A") == kinds.TORCH
    assert kind_of(m, "B") == kinds.TORCH
    assert kind_of(m, "C") == kinds.KERAS
    assert kind_of(m, "D") is None
    assert ctx(m, "A.forward") == "forward"
    assert ctx(m, "C.call") == "keras-call"


# ---- the project index: bases in other files ---------------------------------------------

def write(root: Path, files: Dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def check_in_project(root: Path, rel: str, paths=None, settings: Optional[Settings] = None) -> FileModel:
    """The model of `root/rel` with the project index the runner builds for `paths`."""
    from gradscan.engine import module_name_for
    from gradscan.runner import index_for

    settings = settings or Settings(root=root)
    index = index_for([], [str(p) for p in (paths or [root])], settings, use_cache=False)
    path = root / rel
    text = path.read_text()
    return FileModel.build(cst.parse_module(text), str(path), text, settings, index, module_name_for(str(path), settings, index))


PACKAGE = {
    "pyproject.toml": "[project]\nname = 'mylib'\n",
    "src/mylib/__init__.py": "from .layers import SharedDropout\nfrom .models import *\n",
    "src/mylib/layers/__init__.py": "from .dropout import SharedDropout\n",
    "src/mylib/layers/dropout.py": """
        import torch.nn as nn
        class SharedDropout(nn.Module):
            def forward(self, x): return x
    """,
    "src/mylib/models/__init__.py": "from .base import *\n",
    "src/mylib/models/base.py": """
        from torch import nn
        from flax import linen
        class BaseBlock(nn.Module):
            pass
        class FlaxBase(linen.Module):
            pass
        Alias = nn.Module
    """,
    "src/mylib/models/block.py": """
        from .base import BaseBlock, FlaxBase
        from ..layers import SharedDropout
        from mylib.layers.dropout import SharedDropout as SD
        from mylib import SharedDropout as SD2
        from mylib.models import BaseBlock as BB
        from mylib import BaseBlock as BB2
        import mylib.models.base as base
        class Block(BaseBlock):
            def forward(self, x):
                return self.encode(x)
            def encode(self, x): return x
        class Drop(SharedDropout): pass
        class Drop2(SD): pass
        class Drop3(SD2): pass
        class Via(BB): pass
        class Via2(BB2): pass
        class Mod(base.BaseBlock): pass
        class Fl(FlaxBase): pass
        class Unknown(NotAnywhere): pass
    """,
}


def test_cross_file_bases_in_a_src_layout_package(tmp_path):
    write(tmp_path, PACKAGE)
    m = check_in_project(tmp_path, "src/mylib/models/block.py")
    assert m.module_name == "mylib.models.block"
    for name in ("Block", "Drop", "Drop2", "Drop3", "Via", "Via2", "Mod"):
        assert kind_of(m, name) == kinds.TORCH, name
    assert kind_of(m, "Fl") == kinds.FLAX_LINEN
    assert kind_of(m, "Unknown") is None
    assert ctx(m, "Block.forward") == "forward"
    assert ctx(m, "Block.encode") == "helper"


def test_one_file_given_still_sees_the_whole_project(tmp_path):
    """pre-commit passes one file: the index covers the project it belongs to."""
    write(tmp_path, PACKAGE)
    target = tmp_path / "src/mylib/models/block.py"
    m = check_in_project(tmp_path, "src/mylib/models/block.py", paths=[target])
    assert kind_of(m, "Block") == kinds.TORCH
    assert kind_of(m, "Drop3") == kinds.TORCH


def test_verdicts_do_not_depend_on_the_files_given(tmp_path):
    from gradscan.runner import run

    write(tmp_path, PACKAGE)
    (tmp_path / "src/mylib/models/use.py").write_text(textwrap.dedent("""
        import torch
        from .block import Block
        class Bad(Block):
            def __init__(self):
                super().__init__()
                self.w = torch.randn(3, requires_grad=True)
            def forward(self, x):
                return x * self.w
    """))
    settings = Settings(root=tmp_path, select=["GS101"])
    one = run([str(tmp_path / "src/mylib/models/use.py")], settings, jobs=1, use_cache=False)
    whole = run([str(tmp_path)], settings, jobs=1, use_cache=False)
    assert [(f.code, f.line) for f in one.findings] == [(f.code, f.line) for f in whole.findings if f.path.endswith("use.py")]
    assert [f.code for f in one.findings] == ["GS101"]


def test_no_project_marker_the_scanned_folder_is_the_root(tmp_path):
    write(tmp_path, {
        "models/base.py": "import torch.nn as nn\nclass BaseBlock(nn.Module): pass\n",
        "models/block.py": "from models.base import BaseBlock\nclass Block(BaseBlock): pass\n",
        "train.py": "from base import BaseBlock\nclass Script(BaseBlock): pass\n",
    })
    assert project_root(tmp_path / "models") is None
    m = check_in_project(tmp_path, "models/block.py", paths=[tmp_path])
    assert kind_of(m, "Block") == kinds.TORCH


def test_sibling_import_of_a_script_folder(tmp_path):
    """Scripts import their neighbours by bare name (`from base import X`)."""
    write(tmp_path, {
        "scripts/base.py": "import torch.nn as nn\nclass BaseBlock(nn.Module): pass\n",
        "scripts/train.py": "from base import BaseBlock\nclass Net(BaseBlock): pass\n",
    })
    m = check_in_project(tmp_path, "scripts/train.py", paths=[tmp_path / "scripts"])
    assert kind_of(m, "Net") == kinds.TORCH


def test_ambiguous_module_names_are_unknown(tmp_path):
    """Two scripts folders each with a `base.py`: `from base import X` is unknown."""
    write(tmp_path, {
        "a/base.py": "import torch.nn as nn\nclass X(nn.Module): pass\n",
        "b/base.py": "class X: pass\n",
        "a/train.py": "from base import X\nclass Net(X): pass\n",
        "a/full.py": "from a.base import X\nclass Net(X): pass\n",
    })
    assert kind_of(check_in_project(tmp_path, "a/train.py"), "Net") is None
    assert kind_of(check_in_project(tmp_path, "a/full.py"), "Net") == kinds.TORCH


def test_index_sees_classes_under_module_level_conditions(tmp_path):
    write(tmp_path, {
        "pyproject.toml": "",
        "lib/__init__.py": "",
        "lib/base.py": """
            import torch.nn as nn
            if True:
                class Base(nn.Module): pass
            try:
                from flax import linen as nn2
            except ImportError:
                pass
            def helper():
                from flax import linen as nn  # a function's import does not rebind the module's nn
        """,
        "lib/use.py": "from lib.base import Base\nclass Net(Base): pass\n",
    })
    assert kind_of(check_in_project(tmp_path, "lib/use.py"), "Net") == kinds.TORCH


def test_module_names_follow_the_init_chain_and_strip_src(tmp_path):
    write(tmp_path, {
        "src/lib/__init__.py": "",
        "src/lib/sub/__init__.py": "",
        "src/lib/sub/mod.py": "",
        "tools/run.py": "",
    })
    assert module_names(tmp_path / "src/lib/sub/mod.py", tmp_path)[0] == "lib.sub.mod"
    assert module_names(tmp_path / "src/lib/sub/__init__.py", tmp_path)[0] == "lib.sub"
    assert module_names(tmp_path / "src/lib/__init__.py", tmp_path) == ["lib"]
    names = module_names(tmp_path / "tools/run.py", tmp_path)
    assert names[0] == "tools.run" and "run" in names


def test_index_cache_by_stat(tmp_path):
    write(tmp_path, {
        "pyproject.toml": "",
        "pkg/__init__.py": "",
        "pkg/base.py": "import torch.nn as nn\nclass Base(nn.Module): pass\n",
        "pkg/use.py": "from pkg.base import Base\nclass Net(Base): pass\n",
    })
    from gradscan.runner import index_for

    settings = Settings(root=tmp_path)
    index = index_for([], [str(tmp_path / "pkg/use.py")], settings)
    cache = tmp_path / ".gradscan_cache" / "index.json"
    assert cache.is_file()
    data = json.loads(cache.read_text())
    assert str((tmp_path / "pkg/base.py").resolve()) in data["files"]
    assert index.bases("pkg.use.Net") == ["pkg.base.Base"]

    # A cached entry is reused while the file's size and mtime are unchanged ...
    key = str((tmp_path / "pkg/base.py").resolve())
    data["files"][key]["summary"]["classes"]["Base"]["bases"] = ["marker.FromCache"]
    cache.write_text(json.dumps(data))
    assert index_for([], [str(tmp_path / "pkg/use.py")], settings).bases("pkg.base.Base") == ["marker.FromCache"]
    # ... and re-read when the file changes.
    base = tmp_path / "pkg/base.py"
    base.write_text("import keras\nclass Base(keras.layers.Layer): pass\n")
    st = base.stat()
    os.utime(base, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    index = index_for([], [str(tmp_path / "pkg/use.py")], settings)
    assert index.bases("pkg.base.Base") == ["keras.layers.Layer"]
    m = check_in_project(tmp_path, "pkg/use.py", paths=[tmp_path / "pkg/use.py"])
    assert kind_of(m, "Net") == kinds.KERAS


def test_no_cache_writes_nothing(tmp_path):
    write(tmp_path, {"pyproject.toml": "", "a.py": "class A: pass\n"})
    from gradscan.runner import index_for

    index_for([], [str(tmp_path)], Settings(root=tmp_path), use_cache=False)
    assert not (tmp_path / ".gradscan_cache").exists()


def test_project_index_unit():
    index = ProjectIndex()
    index.add(["lib.base"], {"classes": {"B": {"bases": ["torch.nn.modules.module.Module"], "reads": []}}, "names": {}, "stars": []})
    index.add(["lib"], {"classes": {}, "names": {"B": "lib.base.B"}, "stars": []})
    assert index.bases("lib.B") == ["torch.nn.Module"]
    assert index.bases("lib.Missing") is None
    assert index.bases("elsewhere.B") is None


# =============================================================================================
# 3. Differentiable contexts
# =============================================================================================

TORCH_CONTEXTS = """
import torch
import torch.nn as nn

def helper(x):
    return x * 2

def unused(x):
    return x

class M(nn.Module):
    def forward(self, x):
        h = self.encode(x)
        def inner(y):
            return self.decode(y)
        h = inner(h)
        if not self.training:
            self.eval_only(h)
            probe("eval-branch")
        else:
            probe("train-else")
        with torch.no_grad():
            self.stats(h)
            probe("no-grad")
            with torch.enable_grad():
                probe("re-enabled")
        with torch.inference_mode():
            probe("inference-mode")
        with torch.set_grad_enabled(False):
            probe("grad-disabled")
        with torch.set_grad_enabled(self.training):
            probe("grad-maybe")
        probe("forward")
        y = h if self.training else probe("eval-ifexp")
        return helper(h) + self.used_by_both(h)

    def encode(self, x): return self.deeper(x)
    def deeper(self, x): return x
    def decode(self, x): return x
    def eval_only(self, x): return x
    def stats(self, x): return x
    def generate(self, x): return self.sample_impl(x) + self.used_by_both(x)
    def sample_impl(self, x): return x
    def used_by_both(self, x): return x
    def predict(self, x):
        probe("predict")
        return x
    @torch.no_grad()
    def ema_update(self):
        probe("ema")
    @torch.no_grad()
    def no_grad_called_from_forward(self, x):
        return x

class Child(M):
    def forward(self, x):
        return super().forward(x) + self.extra(x)
    def extra(self, x): return x

class WithCall(nn.Module):
    def __call__(self, x): return self.body(x)
    def body(self, x): return x

class NotAModule:
    def forward(self, x):
        probe("not-a-module")
        return x
"""


@pytest.mark.parametrize("name, expected", [
    ("M.forward", "forward"),
    ("M.encode", "helper"),  # self.encode(x) in forward
    ("M.deeper", "helper"),  # and what it calls
    ("M.decode", "helper"),  # called from a nested function of forward
    ("inner", "helper"),
    ("helper", "helper"),  # a module-level function forward calls
    ("unused", None),
    ("M.used_by_both", "helper"),  # an inference method calls it, but so does forward
    ("M.eval_only", None),  # called only under `if not self.training:`
    ("M.stats", None),  # called only under torch.no_grad()
    ("M.generate", None),  # inference-named, not reached from forward
    ("M.sample_impl", None),
    ("M.predict", None),
    ("M.ema_update", None),  # @torch.no_grad()
    ("M.no_grad_called_from_forward", None),
    ("Child.forward", "forward"),
    ("Child.extra", "helper"),
    ("WithCall.__call__", "forward"),
    ("WithCall.body", "helper"),
    ("NotAModule.forward", None),
])
def test_torch_function_contexts(name, expected):
    assert ctx(build(TORCH_CONTEXTS), name) == expected


def test_helpers_record_their_root():
    m = build(TORCH_CONTEXTS)
    assert fn(m, "M.deeper").context.root is fn(m, "M.forward")
    assert fn(m, "M.deeper").context.framework == "torch"


def test_super_forward_reaches_the_base_forward():
    m = build("""
        import torch.nn as nn
        class Base(nn.Module):
            def forward(self, x): return x
        class Child(Base):
            def __call__(self, x): return super().forward(x)
            def forward(self, x): return x
        class Other:
            pass
    """)
    assert ctx(m, "Child.__call__") == "forward"


@pytest.mark.parametrize("label, differentiable", [
    ("forward", True),
    ("train-else", True),
    ("eval-branch", False),
    ("eval-ifexp", False),
    ("no-grad", False),
    ("re-enabled", True),  # torch.enable_grad() inside no_grad
    ("inference-mode", False),
    ("grad-disabled", False),
    ("grad-maybe", True),
    ("predict", False),
    ("ema", False),
    ("not-a-module", False),
])
def test_torch_blocks(label, differentiable):
    assert (probe_context(build(TORCH_CONTEXTS), label) is not None) == differentiable


def test_lightning_training_step_and_inference_steps():
    m = build("""
        import torch
        import lightning.pytorch as pl
        class Lit(pl.LightningModule):
            def training_step(self, batch, i):
                return self.shared(batch)
            def validation_step(self, batch, i):
                return self.val_only(batch)
            def test_step(self, batch, i):
                return batch
            def shared(self, b): return b
            def val_only(self, b): return b
    """)
    assert ctx(m, "Lit.training_step") == "training-step"
    assert ctx(m, "Lit.shared") == "helper"
    assert ctx(m, "Lit.validation_step") is None
    assert ctx(m, "Lit.test_step") is None
    assert ctx(m, "Lit.val_only") is None


def test_functions_that_backpropagate():
    m = build("""
        import torch
        def compute_loss(model, batch):
            return model(batch).mean()
        def evaluate(model, data):
            return 0
        def save_checkpoint(model):
            pass
        def log_stuff(x):
            pass
        def train(model, opt, data):
            for batch in data:
                loss = compute_loss(model, batch)
                opt.zero_grad()
                loss.backward()
                opt.step()
                log_stuff(loss)
            evaluate(model, data)
            save_checkpoint(model)
        def closure_style(model, x):
            def closure():
                loss = model(x).sum()
                loss.backward()
                return loss
            return closure
        def autograd_style(model, x):
            g = torch.autograd.grad(model(x).sum(), model.parameters())
            return g
        def accelerate_style(accelerator, loss):
            accelerator.backward(loss)
    """)
    assert ctx(m, "train") == "loss"
    assert ctx(m, "compute_loss") == "helper"  # its result is backpropagated
    assert ctx(m, "evaluate") is None  # called after the last backward, inference-named
    assert ctx(m, "save_checkpoint") is None  # after the last backward
    assert ctx(m, "log_stuff") is None
    assert ctx(m, "closure") == "loss"
    assert ctx(m, "closure_style") is None
    assert ctx(m, "autograd_style") == "loss"
    assert ctx(m, "accelerate_style") == "loss"


def test_a_training_loop_calling_evaluate_before_backward():
    m = build("""
        def evaluate(model): return 0
        def sample_images(model): return 0
        def train(model, x):
            score = evaluate(model)
            imgs = sample_images(model)
            loss = model(x)
            loss.backward()
    """)
    assert ctx(m, "evaluate") is None
    assert ctx(m, "sample_images") is None


def test_backward_under_no_grad_is_not_a_root():
    m = build("""
        import torch
        def f(loss):
            with torch.no_grad():
                loss.backward()
    """)
    assert ctx(m, "f") is None


def test_configured_forward_methods():
    src = """
        import torch.nn as nn
        import keras
        class M(nn.Module):
            def run(self, x): return self.sub(x)
            def sub(self, x): return x
        class L(keras.layers.Layer):
            def run(self, x): return x
    """
    assert ctx(build(src), "M.run") is None
    m = build(src, settings=Settings(forward_methods=["run"]))
    assert ctx(m, "M.run") == "forward"
    assert ctx(m, "M.sub") == "helper"
    assert ctx(m, "L.run") == "keras-call"


def test_keras_contexts():
    m = build("""
        import tensorflow as tf
        import keras
        class L(keras.layers.Layer):
            def call(self, x, training=None):
                if not training:
                    self.eval_path(x)
                return self.k(x)
            def k(self, x): return x
            def eval_path(self, x): return x
            def get_config(self): return {}
        class M(tf.keras.Model):
            def train_step(self, data):
                return self.compute_loss(data)
            def test_step(self, data):
                return data
            def predict_step(self, data):
                return data
        class Opt(keras.optimizers.Optimizer):
            def call(self, x): return x
        class Mod(tf.Module):
            def __call__(self, x): return x
    """)
    assert ctx(m, "L.call") == "keras-call"
    assert ctx(m, "L.k") == "helper"
    assert fn(m, "L.k").context.framework == "tensorflow"
    assert ctx(m, "L.eval_path") is None
    assert ctx(m, "L.get_config") is None
    assert ctx(m, "M.train_step") == "keras-call"
    assert ctx(m, "M.test_step") is None
    assert ctx(m, "M.predict_step") is None
    assert ctx(m, "Opt.call") is None
    assert ctx(m, "Mod.__call__") == "keras-call"


def test_gradient_tape_bodies():
    m = build("""
        import tensorflow as tf
        def loss_fn(model, x):
            return model(x)
        def after(g):
            return g
        def step(model, x, opt):
            probe("before")
            with tf.GradientTape() as tape:
                probe("in-tape")
                loss = loss_fn(model, x)
                with tape.stop_recording():
                    probe("stopped")
            grads = tape.gradient(loss, model.trainable_variables)
            probe("after")
            opt.apply_gradients(zip(after(grads), model.trainable_variables))
        with tf.GradientTape() as t2:
            probe("module-level-tape")
    """)
    assert probe_context(m, "in-tape").kind == "tape"
    assert probe_context(m, "in-tape").framework == "tensorflow"
    assert probe_context(m, "module-level-tape").kind == "tape"
    assert probe_context(m, "before") is None
    assert probe_context(m, "after") is None
    assert probe_context(m, "stopped") is None
    assert ctx(m, "loss_fn") == "helper"  # called inside the tape
    assert ctx(m, "after") is None  # called after it
    assert ctx(m, "step") is None
    assert len(m.tape_blocks) == 2


JAX_CONTEXTS = """
import functools
from functools import partial
import jax
from jax import grad, value_and_grad
from flax import nnx
import flax.linen as nn

def called_by_loss(p): return p
def loss_a(p): return called_by_loss(p)
g1 = jax.grad(loss_a)

@jax.grad
def loss_b(p): return p

def loss_c(p, q): return p
g2 = jax.grad(functools.partial(loss_c, q=1))
g3 = jax.value_and_grad(lambda p: probe("lambda"))

def outer():
    def loss_d(p): return p
    return jax.grad(loss_d)

@partial(jax.grad, argnums=1)
def loss_e(a, b): return b

def loss_f(m): return m
g4 = nnx.grad(loss_f)

def loss_g(p): return p
g5 = jax.jit(jax.grad(loss_g, argnums=0))

def loss_h(p): return p
g6 = value_and_grad(loss_h, has_aux=True)

def loss_i(p): return p
g7 = partial(jax.grad, argnums=0)(loss_i)

loss_j = lambda p: probe("named-lambda")
g8 = jax.hessian(loss_j)

@jax.value_and_grad
@jax.jit
def loss_k(p): return p

@nnx.value_and_grad(has_aux=True)
def loss_l(m): return m

def loss_m(p): return p
g9 = grad(loss_m)
g10 = jax.vjp(f_vjp, x)
def f_vjp(p): return p
g11 = jax.jacrev(f_rev)
def f_rev(p): return p

class Trainer:
    def loss(self, p): return self.inner(p)
    def inner(self, p): return p
    def step(self, p):
        return jax.grad(self.loss)(p)

class Net(nn.Module):
    @nn.compact
    def __call__(self, x): return self.block(x)
    def block(self, x): return x

class NnxNet(nnx.Module):
    def __call__(self, x): return x

def not_transformed(p): return p
jax.jit(not_transformed)
jax.vmap(not_transformed)
"""


@pytest.mark.parametrize("name, expected", [
    ("loss_a", "jax-grad"),
    ("called_by_loss", "helper"),
    ("loss_b", "jax-grad"),
    ("loss_c", "jax-grad"),
    ("loss_d", "jax-grad"),
    ("outer", None),
    ("loss_e", "jax-grad"),
    ("loss_f", "jax-grad"),
    ("loss_g", "jax-grad"),
    ("loss_h", "jax-grad"),
    ("loss_i", "jax-grad"),
    ("loss_k", "jax-grad"),
    ("loss_l", "jax-grad"),
    ("loss_m", "jax-grad"),
    ("f_vjp", "jax-grad"),
    ("f_rev", "jax-grad"),
    ("Trainer.loss", "jax-grad"),
    ("Trainer.inner", "helper"),
    ("Trainer.step", None),
    ("Net.__call__", "forward"),
    ("Net.block", "helper"),
    ("NnxNet.__call__", "forward"),
    ("not_transformed", None),
])
def test_jax_contexts(name, expected):
    m = build(JAX_CONTEXTS)
    assert ctx(m, name) == expected
    if expected:
        assert fn(m, name).context.framework == "jax"


def test_jax_lambdas():
    m = build(JAX_CONTEXTS)
    assert probe_context(m, "lambda").kind == "jax-grad"
    assert probe_context(m, "named-lambda").kind == "jax-grad"


def test_shadowed_transform_is_not_a_transform():
    m = build("""
        from jax import grad
        def loss(p): return p
        def f(grad):
            return grad(loss)
    """)
    assert ctx(m, "loss") is None


def test_a_local_function_of_the_same_name_wins():
    m = build("""
        import jax
        def loss(p): return p
        def outer():
            def loss(p): return p
            return jax.grad(loss)
    """)
    inner = [f for f in m.functions if f.name == "loss" and f.parent is not None][0]
    top = [f for f in m.functions if f.name == "loss" and f.parent is None][0]
    assert inner.context is not None and inner.context.kind == "jax-grad"
    assert top.context is None


def test_a_method_name_is_not_a_module_function():
    m = build("""
        import torch.nn as nn
        class A:
            def helper(self, x): return x
        def helper(x): return x
        class M(nn.Module):
            def forward(self, x): return helper(x)
    """)
    assert fn(m, "A.helper").context is None
    top = [f for f in m.functions if f.name == "helper" and f.cls is None][0]
    assert top.context is not None and top.context.kind == "helper"


def test_code_outside_functions_and_classes():
    m = build("""
        import torch
        probe("module")
        class C(torch.nn.Module):
            probe("class-body")
    """)
    assert probe_context(m, "module") is None
    assert probe_context(m, "class-body") is None


def test_eval_flags():
    m = build("""
        import torch.nn as nn
        class M(nn.Module):
            def forward(self, x, deterministic=False):
                if deterministic:
                    probe("deterministic")
                if not deterministic:
                    probe("stochastic")
                if self.training and x:
                    probe("and")
                else:
                    probe("and-else")
                return x
    """)
    assert probe_context(m, "deterministic") is None
    assert probe_context(m, "stochastic") is not None
    assert probe_context(m, "and") is not None
    assert probe_context(m, "and-else") is not None  # may run in training: not excluded


def test_keras_package_beside_tf_keras_is_keras_3():
    """A file that imports both: the `keras` package is Keras 3 whatever tf.keras is."""
    m = build("""
        import keras
        import tf_keras
        import tensorflow as tf
        class K3(keras.layers.Dense): pass
        class K2(tf_keras.layers.Dense): pass
        class TfK(tf.keras.layers.Layer): pass
    """)
    assert kind_of(m, "K3") == kinds.KERAS
    assert kind_of(m, "K2") == kinds.KERAS_LEGACY
    assert kind_of(m, "TfK") == kinds.KERAS_LEGACY  # tf.keras follows the file's tf_keras import


def test_keras_2_only_paths_are_legacy():
    m = build("""
        from keras.engine.base_layer import Layer
        from tensorflow.python.keras.engine.training import Model
        class A(Layer): pass
        class B(Model): pass
    """)
    assert kind_of(m, "A") == kinds.KERAS_LEGACY
    assert kind_of(m, "B") == kinds.KERAS_LEGACY


def test_reexport_whose_canonical_name_is_the_package_itself(tmp_path):
    """Scanning pyro: `pyro.distributions.TransformModule` is re-exported from
    `pyro.distributions.torch_transform`, and canonicalizing that path gives the re-export back."""
    write(tmp_path, {
        "setup.py": "",
        "pyro/__init__.py": "",
        "pyro/distributions/__init__.py": "from pyro.distributions.torch_transform import TransformModule\n",
        "pyro/distributions/torch_transform.py": "import torch\nclass TransformModule(torch.distributions.Transform, torch.nn.Module): pass\n",
        "pyro/distributions/flow.py": "from pyro.distributions import TransformModule\nclass Flow(TransformModule): pass\n",
        "pyro/distributions/flow2.py": "from pyro.distributions.torch_transform import TransformModule\nclass Flow(TransformModule): pass\n",
    })
    assert kind_of(check_in_project(tmp_path, "pyro/distributions/flow.py"), "Flow") == kinds.TORCH
    assert kind_of(check_in_project(tmp_path, "pyro/distributions/flow2.py"), "Flow") == kinds.TORCH


def test_project_paths_that_canonical_names_fold(tmp_path):
    """Scanning tensorflow_probability: its `tensorflow_probability.python.x` paths resolve to
    canonical `tensorflow_probability.x` names, which must still find the project class."""
    write(tmp_path, {
        "setup.py": "",
        "tensorflow_probability/__init__.py": "",
        "tensorflow_probability/python/__init__.py": "",
        "tensorflow_probability/python/layers/__init__.py": "",
        "tensorflow_probability/python/layers/base.py": "import tensorflow as tf\nclass Base(tf.keras.layers.Layer): pass\n",
        "tensorflow_probability/python/layers/dense.py": (
            "from tensorflow_probability.python.layers import base\nclass Dense(base.Base): pass\n"),
    })
    assert kind_of(check_in_project(tmp_path, "tensorflow_probability/python/layers/dense.py"), "Dense") == kinds.KERAS


def test_compat_modules_that_reexport_a_framework(tmp_path):
    write(tmp_path, {
        "pyproject.toml": "",
        "lib/__init__.py": "",
        "lib/compat.py": "import torch.nn as nn\nfrom torch.nn import Module as Base\n",
        "lib/tf_keras.py": (
            "import tensorflow as tf\n"
            "if USE_LEGACY:\n    from tf_keras import *\nelse:\n    from tensorflow.keras import *\n"),
        "lib/use.py": (
            "from lib import compat\nfrom lib.compat import Base\nfrom lib import tf_keras\n"
            "class A(compat.nn.Module): pass\n"
            "class B(Base): pass\n"
            "class C(tf_keras.layers.Layer): pass\n"
            "class D(compat.Missing): pass\n"),
    })
    m = check_in_project(tmp_path, "lib/use.py")
    assert kind_of(m, "A") == kinds.TORCH
    assert kind_of(m, "B") == kinds.TORCH
    assert kind_of(m, "C") == kinds.KERAS_LEGACY  # the first star import: tf_keras
    assert kind_of(m, "D") is None


def test_code_after_an_early_training_return_is_evaluation():
    m = build("""
        import torch.nn as nn
        class M(nn.Module):
            def forward(self, x):
                probe("before")
                if self.training:
                    probe("training")
                    return x
                probe("after-training-return")
                return self.infer(x)
            def infer(self, x):
                return x
        class N(nn.Module):
            def forward(self, x):
                if not self.training:
                    return x
                probe("after-eval-return")
                if self.training:
                    y = x
                probe("after-open-if")
                return x
    """)
    assert probe_context(m, "before") is not None
    assert probe_context(m, "training") is not None
    assert probe_context(m, "after-training-return") is None
    assert ctx(m, "M.infer") is None  # called only after the training branch returned
    assert probe_context(m, "after-eval-return") is not None
    assert probe_context(m, "after-open-if") is not None


def test_tape_assigned_then_entered():
    m = build("""
        import tensorflow as tf
        def step(model, x):
            tape = tf.GradientTape(persistent=True)
            with tape:
                probe("in-tape")
            with other:
                probe("other")
            return tape.gradient(y, x)
    """)
    assert probe_context(m, "in-tape").kind == "tape"
    assert probe_context(m, "other") is None
