"""Objects (gradscan.semantics.objects): instances of this file's classes, calls through them,
parameters bound at call sites, and the classes an optimizer step trains."""
from __future__ import annotations

import textwrap

import libcst as cst

from gradscan.semantics.model import FileModel
from gradscan.semantics.arguments import argument_for


def build(src: str) -> FileModel:
    src = textwrap.dedent(src)
    return FileModel.build(cst.parse_module(src), "m.py", src)


def code(node) -> str:
    return cst.Module([]).code_for_node(node)


def call_of(model, text):
    return next((c, o) for c, o in model.calls if code(c) == text)


SRC = """
import torch
import torch.nn as nn

class Enc(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
    def embed(self, x):
        return self.fc(x)
    def forward(self, x):
        return self.embed(x)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = Enc()
    def forward(self, x):
        return self.enc.embed(x)

def step(model, opt, x):
    loss = model(x).sum()
    loss.backward()
    opt.step()
    return model.embed(x)

net, other = Enc(), Net()
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
step(net, optimizer, torch.ones(2))
"""


def test_calls_through_objects_and_attributes():
    m = build(SRC)
    call, owner = call_of(m, "model.embed(x)")
    assert m.objects.called_function(call, owner).name == "embed"
    call, owner = call_of(m, "model(x)")
    assert m.objects.called_function(call, owner).name == "forward"  # torch's __call__ runs forward
    call, owner = call_of(m, "self.enc.embed(x)")
    fn = m.objects.called_function(call, owner)
    assert fn.name == "embed" and fn.cls.name == "Enc"


def test_parameter_bound_at_call_sites_and_tuple_assignment():
    m = build(SRC)
    step = next(f for f in m.functions if f.name == "step")
    assert m.objects.instance_class(cst.Name("model"), step).name == "Enc"
    assert m.objects.instance_class(cst.Name("other"), None).name == "Net"


def test_a_parameter_bound_to_two_classes_is_unknown():
    m = build(SRC + "\nstep(other, optimizer, torch.ones(2))\n")
    step = next(f for f in m.functions if f.name == "step")
    assert m.objects.instance_class(cst.Name("model"), step) is None


def test_argument_after_star_args_is_unknown_not_shifted():
    m = build(SRC + "\ndef varargs(*args):\n    return step(*args)\n")
    step = next(f for f in m.functions if f.name == "step")
    call, _ = call_of(m, "step(*args)")
    assert argument_for(step, call, "model") is None
    assert m.objects.instance_class(cst.Name("model"), step) is None  # one caller's is unknown
    call, _ = call_of(m, "step(net, optimizer, torch.ones(2))")
    assert code(argument_for(step, call, "opt")) == "optimizer"


def test_trained_classes_follow_the_stepped_optimizer():
    m = build(SRC)
    step = next(f for f in m.functions if f.name == "step")
    assert [c.name for c in m.objects.trained_classes(step)] == ["Enc"]


INJECTED = """
import torch.nn as nn

class World(nn.Module):
    def observe(self, x):
        return x
    def imagine(self, x):
        return x

class Other(nn.Module):
    def imagine(self, x):
        return x

class Trainer:
    def __init__(self, world, critic):
        self.world = world
        self.critic = critic

    def train(self, x):
        self.world.observe(x)
        self.world.parameters()
        self.critic.imagine(x)
        return self.world.imagine(x)
"""


def test_an_object_the_file_never_constructs_is_known_by_the_methods_called_on_it():
    model = build(INJECTED)
    fn = model.objects.called_function(*call_of(model, "self.world.observe(x)"))
    assert fn is not None and fn.cls.name == "World"
    # `observe` is World's only: `imagine` on the same object is World's too
    fn = model.objects.called_function(*call_of(model, "self.world.imagine(x)"))
    assert fn is not None and fn.cls.name == "World"
    # `imagine` alone is defined by two classes: unknown
    assert model.objects.called_function(*call_of(model, "self.critic.imagine(x)")) is None


def test_an_object_the_file_constructs_is_not_guessed_from_its_methods():
    model = build(INJECTED + "\nTrainer(object(), object())\n")
    assert model.objects.called_function(*call_of(model, "self.world.observe(x)")) is None


def test_a_parameter_is_known_by_its_annotation_or_the_factory_its_caller_used():
    m = build('''
        class Trainer:
            def fit_batch(self, x):
                return x

        class Other:
            def fit_batch(self, x):
                return x

        def make_trainer():
            if flag:
                return Trainer()
            return Trainer()

        def mixed_factory():
            if flag:
                return Trainer()
            return Other()

        def declared(trainer: Trainer):
            trainer.fit_batch(1)

        def built(trainer):
            trainer.fit_batch(2)

        def unclear(trainer):
            trainer.fit_batch(3)

        built(make_trainer())
        unclear(mixed_factory())
    ''')
    trainer = next(c for c in m.class_list if c.name == "Trainer")
    fit = trainer.methods["fit_batch"]
    callers = {code(c) for c, _o in m.objects.callers_of(fit)}
    assert callers == {"trainer.fit_batch(1)", "trainer.fit_batch(2)"}
