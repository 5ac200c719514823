"""FileModel: everything the rules ask about one file, from one pass over its tree.

The pass records parents (our own map, cheaper than libcst's ParentNodeProvider), imports,
classes, functions, calls, attribute reads, assignments and `with` blocks. Contexts (which
functions compute values that gradients flow through) are derived from those lists after the
pass; value flow is computed on demand, only for the candidate nodes a rule asks about.
"""
from __future__ import annotations

import os

from dataclasses import dataclass, field
from typing import Dict, FrozenSet, Iterator, List, Optional, Set, Tuple, Union

import libcst as cst

from gradscan.frameworks import jax as jax_api
from gradscan.frameworks import names as api_names
from gradscan.semantics import classes as kinds
from gradscan.semantics.names import ImportTable, dotted
from gradscan.semantics.walk import TRIVIA, descendants, index_tree, target_names

FunctionNode = Union[cst.FunctionDef, cst.Lambda]

TORCH_ROOTS = {"forward", "__call__", "training_step"}
KERAS_ROOTS = {"call", "train_step", "compute_loss", "__call__"}
# The transforms whose function runs traced and differentiated (jx40, jx49).
JAX_TRANSFORMS = api_names(jax_api.GRAD_TRANSFORMS, jax_api.JACOBIAN_TRANSFORMS, jax_api.PRIMALS_AFTER_FUNCTION,
                           jax_api.PRIMALS_IN_SEQUENCE)
NO_GRAD = {"torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad", "torch.autograd.grad_mode.no_grad"}


@dataclass(eq=False)
class Context:
    """Why a function (or a tape block) is differentiable."""

    # forward, training-step, loss, keras-call, tape, jax-grad, helper, external (called on the
    # way to a backward by another project file)
    kind: str
    framework: str  # torch, tensorflow, jax
    root: Optional["FunctionInfo"] = None  # the root a helper was reached from
    # "external" roots: the parameters some caller in another file passes a computed value for
    inputs: FrozenSet[str] = frozenset()


@dataclass(eq=False)
class ClassInfo:
    node: cst.ClassDef
    name: str
    base_names: List[str]  # qualified where resolvable, else "<local>.Name" or "?"
    methods: Dict[str, "FunctionInfo"] = field(default_factory=dict)
    kind: Optional[str] = None  # classes.TORCH, KERAS, ...
    # (attribute, assigned value, the Assign node, method name) for every `self.x = ...`
    self_assigns: List[Tuple[str, cst.BaseExpression, cst.CSTNode, str]] = field(default_factory=list)

    @property
    def is_torch(self) -> bool:
        return self.kind == kinds.TORCH

    @property
    def is_keras(self) -> bool:
        return self.kind in (kinds.KERAS, kinds.KERAS_LEGACY)


@dataclass(eq=False)
class FunctionInfo:
    node: FunctionNode
    name: str
    cls: Optional[ClassInfo]
    parent: Optional["FunctionInfo"]
    context: Optional[Context] = None
    calls: List[cst.Call] = field(default_factory=list)  # directly in this function (not nested defs)
    returns: List[cst.CSTNode] = field(default_factory=list)
    decorators: List[str] = field(default_factory=list)  # resolved decorator names
    # name -> how this function's scope binds it: ("import", qname), ("alias", value expr),
    # ("other", None) or ("global", None). See `FileModel.resolve`.
    bindings: Dict[str, List[Tuple[str, object]]] = field(default_factory=dict)

    def bind(self, name: str, how: str, value: object = None) -> None:
        self.bindings.setdefault(name, []).append((how, value))

    @property
    def params(self) -> List[str]:
        p = self.node.params
        return [x.name.value for x in (*p.posonly_params, *p.params, *p.kwonly_params)]

    @property
    def is_method(self) -> bool:
        return self.cls is not None and self.parent is None


class _Collector:
    """Fills a FileModel during `index_tree`: a handler per node type that matters, called in
    visiting order with the node's parent already recorded."""

    def __init__(self, model: "FileModel", root: cst.Module) -> None:
        self.m = model
        self.root = root
        self.parents = model._parents  # filled by the walk as it goes
        self.functions: List[FunctionInfo] = []
        self.classes: List[ClassInfo] = []
        identifiers = model.identifiers
        self.visit: Dict[type, object] = {
            cst.Call: self.call,
            cst.Attribute: lambda node: model.attributes.append((node, self.fn)),
            cst.Name: lambda node: identifiers.add(node.value),
            cst.SimpleString: lambda node: identifiers.add(node.value[1:-1].strip("'\"")),
            cst.Assign: self.assign, cst.AnnAssign: self.assign, cst.AugAssign: self.assign,
            cst.With: lambda node: model.withs.append((node, self.fn)),
            cst.Return: self.return_,
            cst.Import: self.import_, cst.ImportFrom: self.import_,
            cst.For: self.binding, cst.CompFor: self.binding, cst.WithItem: self.binding, cst.NamedExpr: self.binding,
            cst.ExceptHandler: self.binding, cst.ExceptStarHandler: self.binding,
            cst.Global: self.global_, cst.Nonlocal: self.global_,
            cst.ClassDef: self.class_, cst.FunctionDef: self.function, cst.Lambda: self.function,
        }
        self.leave: Dict[type, object] = {
            cst.FunctionDef: lambda node: self.functions.pop(),
            cst.Lambda: lambda node: self.functions.pop(),
            cst.ClassDef: lambda node: self.classes.pop(),
        }

    @property
    def fn(self) -> Optional[FunctionInfo]:
        return self.functions[-1] if self.functions else None

    def depth_below_root(self, node: cst.CSTNode, levels: int) -> bool:
        """Whether `node` is exactly `levels` steps below the module."""
        for _ in range(levels):
            node = self.parents.get(id(node))
        return node is self.root

    def call(self, node: cst.Call) -> None:
        fn = self.fn
        self.m.calls.append((node, fn))
        if fn is not None:
            fn.calls.append(node)

    def assign(self, node) -> None:
        m, fn = self.m, self.fn
        m.assignments.append((node, fn))
        self._self_assign(node)
        if fn is None and not self.classes and type(node) is cst.Assign and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            # Module scope (not a class body); directly under the module it rebinds for sure.
            m.imports.add_alias(node.targets[0].target.value, node.value, rebinding=self.depth_below_root(node, 2))
        elif fn is not None:
            self._bind_assign(fn, node)

    def return_(self, node: cst.Return) -> None:
        if self.functions:
            self.functions[-1].returns.append(node)

    def import_(self, node) -> None:
        fn = self.fn
        self.m.imports.add_import(node, local_scope=fn is not None)
        if fn is not None:
            for local, target in ImportTable.bindings(node):
                self._bind(fn, local, "import", target)

    def binding(self, node) -> None:
        fn = self.fn
        t = type(node)
        if t is cst.For or t is cst.WithItem or t is cst.NamedExpr:
            self.m.block_bindings.append((node, fn))
        if fn is None:
            return
        if t in (cst.For, cst.CompFor, cst.NamedExpr):
            target = node.target
        else:
            asname = node.asname if t is cst.WithItem else node.name
            target = asname.name if asname is not None else None
        for name in target_names(target):
            self._bind(fn, name, "other")

    def global_(self, node) -> None:
        fn = self.fn
        if fn is not None:
            for item in node.names:
                self._bind(fn, item.name.value, "global" if type(node) is cst.Global else "nonlocal")

    def class_(self, node: cst.ClassDef) -> None:
        m, fn = self.m, self.fn
        if fn is not None:
            self._bind(fn, node.name.value, "other")
        elif self.depth_below_root(node, 1):
            m.imports.unbind(node.name.value)
        info = ClassInfo(node, node.name.value, [])
        self.classes.append(info)
        m.classes.setdefault(info.name, info)
        m.class_list.append(info)

    def function(self, node) -> None:
        m, fn, t = self.m, self.fn, type(node)
        # A method is a def directly in a class body (ClassDef > IndentedBlock > FunctionDef).
        block = self.parents.get(id(node))
        direct = t is cst.FunctionDef and type(self.parents.get(id(block))) is cst.ClassDef
        owner_cls = self.classes[-1] if direct else (fn.cls if fn is not None else None)
        name = node.name.value if t is cst.FunctionDef else "<lambda>"
        info = FunctionInfo(node, name, owner_cls, None if direct else fn)
        if t is cst.FunctionDef and fn is not None and not direct:
            self._bind(fn, name, "other")
        elif t is cst.FunctionDef and fn is None and block is self.root:
            m.imports.unbind(name)
        p = node.params
        for param in (*p.posonly_params, *p.params, *p.kwonly_params, p.star_arg, p.star_kwarg):
            if isinstance(param, cst.Param):
                self._bind(info, param.name.value, "other")
        m.functions.append(info)
        m.function_of[node] = info
        if direct:
            owner_cls.methods.setdefault(name, info)
        elif fn is None and t is cst.FunctionDef and not self.classes:
            m.module_functions.setdefault(name, info)
        self.functions.append(info)

    def _bind(self, fn: FunctionInfo, name: str, how: str, value: object = None) -> None:
        fn.bind(name, how, value)
        self.m.local_names.add(name)
        if how in ("import", "alias"):
            self.m.local_aliases.add(name)

    def _bind_assign(self, fn: FunctionInfo, node) -> None:
        # Only `name = a.b.c` can alias something; any other value makes the name a plain local.
        if type(node) is cst.Assign:
            single = len(node.targets) == 1 and type(node.targets[0].target) is cst.Name and type(node.value) in _NAME_OR_ATTRIBUTE
            for target in node.targets:
                for name in target_names(target.target):
                    self._bind(fn, name, "alias" if single else "other", node.value if single else None)
        elif type(node.target) is cst.Name:  # AnnAssign, AugAssign
            alias = type(node) is cst.AnnAssign and type(node.value) in _NAME_OR_ATTRIBUTE
            self._bind(fn, node.target.value, "alias" if alias else "other", node.value if alias else None)

    def _self_assign(self, node) -> None:
        if not self.functions or not self.classes:
            return
        method = self.functions[-1]
        while method.parent is not None:
            method = method.parent
        if method.cls is None or method.cls is not self.classes[-1]:
            return
        targets = [t.target for t in node.targets] if type(node) is cst.Assign else [node.target]
        value = node.value
        if value is None:
            return
        for target in targets:
            if type(target) is cst.Attribute and type(target.value) is cst.Name and target.value.value == "self":
                method.cls.self_assigns.append((target.attr.value, value, node, method.name))
            elif type(target) is cst.Tuple and type(value) is cst.Tuple and len(target.elements) == len(value.elements):
                # `self.actor, self.critic = actor, critic`: element by element
                for t, v in zip(target.elements, value.elements):
                    if type(t) is cst.Element and type(v) is cst.Element and type(t.value) is cst.Attribute \
                            and type(t.value.value) is cst.Name and t.value.value.value == "self":
                        method.cls.self_assigns.append((t.value.attr.value, v.value, node, method.name))


_NAME_OR_ATTRIBUTE = (cst.Name, cst.Attribute)
_STATEMENT_KINDS: Dict[type, int] = {}  # node type -> 1 small statement, 2 compound, 0 neither


def _is_statement(kind: type, small_only: bool = False) -> bool:
    found = _STATEMENT_KINDS.get(kind)
    if found is None:
        found = _STATEMENT_KINDS[kind] = (1 if issubclass(kind, cst.BaseSmallStatement)
                                          else 2 if issubclass(kind, cst.BaseCompoundStatement) else 0)
    return found == 1 if small_only else found != 0


class FileModel:
    """The semantic model of one file. Build it with `FileModel.build(module, ...)`."""

    def __init__(self, module: cst.Module, path: str, source: str, settings=None, project=None) -> None:
        self.module = module
        self.path = path
        self.source = source
        self.settings = settings
        self.project = project  # ProjectIndex or None
        self.module_name: Optional[str] = None
        self._parents: Dict[int, cst.CSTNode] = {}  # id(node) -> its parent
        self.nodes: List[cst.CSTNode] = []  # every node but whitespace, comments and punctuation, in order
        self.imports = ImportTable()
        self.classes: Dict[str, ClassInfo] = {}
        self.class_list: List[ClassInfo] = []
        self.functions: List[FunctionInfo] = []
        self.function_of: Dict[cst.CSTNode, FunctionInfo] = {}
        self.module_functions: Dict[str, FunctionInfo] = {}
        self.calls: List[Tuple[cst.Call, Optional[FunctionInfo]]] = []
        self.attributes: List[Tuple[cst.Attribute, Optional[FunctionInfo]]] = []
        self.assignments: List[Tuple[cst.CSTNode, Optional[FunctionInfo]]] = []
        self.withs: List[Tuple[cst.With, Optional[FunctionInfo]]] = []
        # `for` loops, `with ... as` items and `:=`, with the function they are in
        self.block_bindings: List[Tuple[cst.CSTNode, Optional[FunctionInfo]]] = []
        self.identifiers: Set[str] = set()  # every name and short string in the file
        self.local_names: Set[str] = set()  # names some function binds (see `resolve`)
        self.local_aliases: Set[str] = set()  # ... by an import or `name = a.b` in a function
        self._resolving: Set[int] = set()
        self.tape_blocks: List[cst.With] = []
        # Module-level code (a flat script, an `if __name__ == "__main__":` block, a notebook)
        # that backpropagates is a root like a training function: `Context("loss", ...)`.
        self.module_context: Optional[Context] = None
        # Which Keras `tf.keras` is here and why (`keras_assumed`), set by `build`.
        self.keras, self.keras_reason, self.keras_reason_kind = "3", "", "default"
        self._flow = None

    @classmethod
    def build(cls, module: cst.Module, path: str = "<string>", source: str = "", settings=None, project=None, module_name=None) -> "FileModel":
        model = cls(module, path, source, settings, project)
        model.module_name = module_name
        # Our own walk, in libcst's order, without rebuilding nodes and without whitespace,
        # comments and punctuation (they are not in `nodes`): a tenth of `module.visit`.
        collector = _Collector(model, module)
        model.nodes = index_tree(module, TRIVIA, collector.visit, collector.leave, model._parents)
        collector.__dict__.clear()  # its handler table refers back to it: a cycle holding the tree
        if module_name:
            model.imports.absolutize(module_name, path.endswith("__init__.py"))
        model.keras, model.keras_reason = keras_assumed(model, settings)
        model.legacy_keras = model.keras == "legacy"
        model._classify()
        from gradscan.semantics.contexts import assign_contexts

        assign_contexts(model)
        return model

    # ---- names -------------------------------------------------------------------------
    def resolve(self, expr: cst.BaseExpression) -> Optional[str]:
        """Qualified name of a dotted expression (`nn.Linear` -> `torch.nn.Linear`), or None.

        Scopes are respected: inside a function, a parameter or local variable that reuses an
        imported name (`def f(layers): layers.append(...)`) is not the import, and comes out
        None; a function's own imports and simple aliases (`sg = jax.lax.stop_gradient`) are
        resolved in that function and the functions nested in it."""
        text = dotted(expr)
        if text is None:
            return None
        head, _, rest = text.partition(".")
        if head not in self.local_aliases and not self.imports.binds(head):
            return None  # `x.view`, `self.fc`: no import or alias anywhere binds the name
        if head in self.local_names:
            fn = self._scope_of(expr)
            while fn is not None:
                found = fn.bindings.get(head)
                if found is not None:
                    hows = {how for how, _ in found}
                    if "global" in hows:
                        break  # `global tf; import tensorflow as tf`: the module's name
                    if hows != {"nonlocal"}:
                        return self._resolve_binding(found, rest)
                fn = fn.parent
        return self.imports.resolve_name(text)

    def _resolve_binding(self, found, rest: str) -> Optional[str]:
        from gradscan.semantics.names import canonical

        hows = {how for how, _ in found}
        if hows == {"import"} and len({value for _, value in found}) == 1:
            target = found[0][1]
            return canonical(f"{target}.{rest}" if rest else target)
        if len(found) == 1 and hows == {"alias"}:
            value = found[0][1]
            if id(value) in self._resolving:
                return None
            self._resolving.add(id(value))
            try:
                target = self.resolve(value)
            finally:
                self._resolving.discard(id(value))
            if target is None or "." not in target:
                return None
            return canonical(f"{target}.{rest}" if rest else target)
        return None  # a parameter, a loop variable, several assignments: not an import

    def _scope_of(self, node: cst.CSTNode) -> Optional[FunctionInfo]:
        """The function whose scope `node` is evaluated in: a decorator, default value or
        annotation belongs to the scope around the `def`, not to the function itself."""
        child = node
        for anc in self.ancestors(node):
            if isinstance(anc, (cst.FunctionDef, cst.Lambda)) and child is anc.body:
                return self.function_of.get(anc)
            child = anc
        return None

    def callee(self, call: cst.Call) -> Optional[str]:
        return self.resolve(call.func)

    # ---- classes -----------------------------------------------------------------------
    def _qualify_base(self, expr: cst.BaseExpression) -> str:
        if isinstance(expr, cst.Subscript):  # PyroModule[nn.Linear], Generic[T]
            expr = expr.value
        q = self.resolve(expr)
        if q is not None:
            return q
        text = dotted(expr)
        if text and text.split(".")[0] in self.classes:
            return f"<local>.{text}"
        if text and self.module_name:
            return f"{self.module_name}.{text}"
        return "?"

    def _classify(self) -> None:
        s = self.settings
        extra_torch = tuple(s.torch_module_bases) if s else ()
        extra_keras = tuple(s.keras_layer_bases) if s else ()
        for info in self.class_list:
            info.base_names = [self._qualify_base(arg.value) for arg in info.node.bases if arg.keyword is None]

        def lookup(qname: str):
            if qname.startswith("<local>."):
                local = self.classes.get(qname[len("<local>."):])
                return local.base_names if local else None
            if self.project is not None:
                return self.project.bases(qname)
            return None

        for info in self.class_list:
            info.kind = kinds.resolve_kind(info.base_names, self.legacy_keras, lookup, extra_torch, extra_keras,
                                           legacy_package=self.legacy_keras and self.keras_reason_kind != "file")

    def class_chain(self, info: ClassInfo) -> Iterator[ClassInfo]:
        """The class and its bases defined in this file, nearest first."""
        seen = set()
        todo = [info]
        while todo:
            c = todo.pop(0)
            if id(c) in seen:
                continue
            seen.add(id(c))
            yield c
            for b in c.base_names:
                if b.startswith("<local>."):
                    local = self.classes.get(b[len("<local>."):])
                    if local is not None:
                        todo.append(local)

    def find_method(self, info: ClassInfo, name: str) -> Optional[FunctionInfo]:
        for c in self.class_chain(info):
            if name in c.methods:
                return c.methods[name]
        return None

    # ---- tree navigation ---------------------------------------------------------------
    def parent(self, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        return self._parents.get(id(node))

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        parents = self._parents
        node = parents.get(id(node))
        while node is not None:
            yield node
            node = parents.get(id(node))

    # (Type tests below compare types: `isinstance` against libcst's abstract node classes goes
    # through ABCMeta, and these run for every ancestor of every node a rule asks about.)
    def enclosing_function(self, node: cst.CSTNode) -> Optional[FunctionInfo]:
        for anc in self.ancestors(node):
            t = type(anc)
            if t is cst.FunctionDef or t is cst.Lambda:
                return self.function_of.get(anc)
        return None

    def enclosing_statement(self, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        if _is_statement(type(node), small_only=True):
            return node
        for anc in self.ancestors(node):
            if _is_statement(type(anc)):
                return anc
        return None

    # ---- local values ------------------------------------------------------------------
    def single_value(self, fn: Optional[FunctionInfo], name: str) -> Optional[cst.BaseExpression]:
        """The value of `name` in `fn` when one plain assignment (`name = value`) is its only
        binding there; None when it is also bound otherwise (an annotated or augmented
        assignment, unpacking, an item or attribute store through it) or not assigned. A store
        to an attribute that merely shares the name (`self.w = w`) does not bind the local."""
        if fn is None:
            return None
        by_function = self.__dict__.get("_assignments_by_function")
        if by_function is None:
            by_function = self._assignments_by_function = {}
            for node, owner in self.assignments:
                if owner is not None:
                    by_function.setdefault(id(owner), []).append(node)
        found = None
        for node in by_function.get(id(fn), ()):
            targets = [t.target for t in node.targets] if type(node) is cst.Assign else [node.target]
            for target in targets:
                if type(target) is cst.Name:
                    if target.value != name:
                        continue
                    if found is not None or type(node) is not cst.Assign:
                        return None
                    found = node.value
                    continue
                for sub in descendants(target):
                    if type(sub) is cst.Name and sub.value == name:
                        parent = self.parent(sub)
                        if type(parent) is cst.Attribute and parent.attr is sub:
                            continue  # `self.w`: the attribute's name, not the local
                        return None  # `name, other = ...`, `name[i] = ...`, `name.attr = ...`: unknown
        return found

    # ---- contexts ----------------------------------------------------------------------
    def context_of(self, node: cst.CSTNode) -> Optional[Context]:
        """The differentiable context `node` is evaluated in, or None (not differentiable,
        on purpose: no_grad blocks, `if not self.training:` branches, inference methods)."""
        from gradscan.semantics.contexts import context_of

        return context_of(self, node)

    # ---- per-file analyses -------------------------------------------------------------
    def get(self, analysis: type):
        """The file's instance of a per-file analysis: `analysis(model)`, built on first use
        and kept with the model (every analysis, in semantics and in rules, is memoised this
        one way: `model.get(Sources)`, `model.get(Scopes)`, a rule family's `model.get(Memo)`)."""
        memo = self.__dict__.get("_analyses")
        if memo is None:
            memo = self._analyses = {}
        got = memo.get(analysis)
        if got is None:
            got = memo[analysis] = analysis(self)
        return got

    @property
    def sources(self):
        """Does a value carry gradient from what is trained (`gradscan.semantics.sources`):
        `model.sources.carries(expr)`, and each framework's analysis (`.torch`, `.tensorflow`,
        `.jax`)."""
        from gradscan.semantics.sources import GradientSources

        return self.get(GradientSources)

    # ---- objects -----------------------------------------------------------------------
    @property
    def objects(self):
        """Which class of this file a value is an instance of; which function a call through
        an object runs (`gradscan.semantics.objects`)."""
        got = self.__dict__.get("_objects")
        if got is None:
            from gradscan.semantics.objects import Objects

            got = self._objects = Objects(self)
        return got

    # ---- value flow --------------------------------------------------------------------
    @property
    def flow(self):
        if self._flow is None:
            from gradscan.semantics.flow import Flow

            self._flow = Flow(self)
        return self._flow

    # ---- end of life -------------------------------------------------------------------
    def release(self) -> None:
        """Break the model's reference cycles (model <-> flow, class <-> its methods) so that the
        tree is freed at once by reference counting: otherwise the cyclic collector has to
        traverse every file's tree to free it (a few percent of a whole-tree run). The engine
        calls this once the file's findings are out; the model is unusable afterwards."""
        for info in self.class_list:
            info.__dict__.clear()
        for info in self.functions:
            info.__dict__.clear()
        flow = self.__dict__.get("_flow")
        if flow is not None and hasattr(flow, "__dict__"):
            flow.__dict__.clear()
        for analysis in self.__dict__.get("_analyses", {}).values():
            if hasattr(analysis, "__dict__"):
                analysis.__dict__.clear()
        self.__dict__.clear()


def keras_assumed(model: "FileModel", settings) -> Tuple[str, str]:
    """("3" or "legacy", why) for `tf.keras` in this file: the configuration's choice; legacy
    when the file imports tf_keras or sets TF_USE_LEGACY_KERAS; what the file's project declares
    (requirements, pyproject.toml, a notebook's pip installs); else Keras 3, as TensorFlow 2.16
    and later run it (fact tf45)."""
    model.keras_reason_kind = "configured"
    if settings is not None and settings.keras:
        return settings.keras, "configured"
    model.keras_reason_kind = "file"
    if model.imports.uses("tf_keras"):
        return "legacy", "imports tf_keras"
    if "TF_USE_LEGACY_KERAS" in model.source:
        return "legacy", "TF_USE_LEGACY_KERAS"
    model.keras_reason_kind = "declared"
    path = os.path.abspath(model.path)
    for root, keras, why in (settings.declared_keras if settings is not None else ()):
        if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
            return keras, why
    model.keras_reason_kind = "default"
    return "3", "TF >= 2.16 assumed"
