"""Functions called from training code in another project file (issue 14): the project index
keeps the call edges, the file defining the function analyses it as a root."""
from __future__ import annotations

import ast
import textwrap

import pytest

from gradscan import cache, runner
from gradscan.config import Settings
from gradscan.semantics.project import trained_calls

LOSSES = textwrap.dedent('''
    import torch
    import torch.nn.functional as F


    def soft_label_loss(logits, labels):
        probs = logits.softmax(-1).detach()
        return F.nll_loss(torch.log(probs), labels)


    def label_smoothing(labels, classes):
        # Only ever given data by the training loop: nothing here carries a gradient.
        return F.one_hot(labels, classes).float().detach() * 0.9
''')

TRAIN = textwrap.dedent('''
    import torch
    from pkg.losses import label_smoothing, soft_label_loss


    def fit(model, loader):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in loader:
            y = y.to("cpu")
            logits = model(x)
            loss = soft_label_loss(logits, y) + (logits - label_smoothing(y, 3)).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
''')


def edges(source: str, names=None):
    tree = ast.parse(textwrap.dedent(source))
    names = names or {"soft_label_loss": "pkg.losses.soft_label_loss", "label_smoothing": "pkg.losses.label_smoothing",
                      "losses": "pkg.losses", "torch": "torch", "F": "torch.nn.functional"}
    return trained_calls(tree, names)


def test_calls_feeding_the_backward_are_edges_with_the_computed_arguments():
    assert edges(TRAIN) == [
        ["pkg.losses.label_smoothing", "torch", []],
        ["pkg.losses.soft_label_loss", "torch", ["0"]],
    ]


def test_calls_after_the_backward_or_for_logging_are_not_edges():
    # (calls of library functions are edges too: the index resolves them to no project file)
    assert [e for e in edges('''
        def step(model, x, y, opt):
            out = model(x)
            loss = F.mse_loss(out, y)
            loss.backward()
            print(soft_label_loss(out, y))
            stats = losses.summary(out)
    ''') if e[0].startswith("pkg.")] == []


def test_module_level_scripts_tapes_and_lightning_steps_are_training_code():
    assert edges('''
        out = model(x)
        loss = losses.dice(out, target=y)
        loss.backward()
    ''') == [["pkg.losses.dice", "torch", ["0"]]]
    assert edges('''
        with tf.GradientTape() as tape:
            loss = losses.dice(model(x))
        grads = tape.gradient(loss, model.trainable_variables)
    ''') == [["pkg.losses.dice", "tensorflow", ["0"]]]
    assert edges('''
        class Lit:
            def training_step(self, batch, i):
                x, y = batch
                return soft_label_loss(self.net(x), y)
    ''') == [["pkg.losses.soft_label_loss", "torch", ["0"]]]


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.delenv(cache.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text("")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "losses.py").write_text(LOSSES)
    (root / "train.py").write_text(TRAIN)
    monkeypatch.chdir(root)
    return root


def _codes(result):
    return [(f.path, f.line, f.code) for f in result.findings]


def test_a_cut_in_a_loss_helper_of_another_file_is_found(project):
    result = runner.run(["pkg/losses.py"], Settings(root=project), jobs=1, use_cache=False)
    assert _codes(result) == [("pkg/losses.py", 7, "GS201")]


def test_without_the_training_file_the_helper_is_library_code(project):
    (project / "train.py").unlink()
    result = runner.run(["pkg/losses.py"], Settings(root=project), jobs=1, use_cache=False)
    assert _codes(result) == []


def test_editing_the_training_file_rechecks_the_helper(project):
    first = runner.run(["pkg/losses.py"], Settings(root=project), jobs=1)
    assert _codes(first) == [("pkg/losses.py", 7, "GS201")]
    (project / "train.py").write_text(TRAIN.replace("soft_label_loss(logits, y) + ", ""))
    second = runner.run(["pkg/losses.py"], Settings(root=project), jobs=1)
    assert _codes(second) == []


# ---- what functions of other project files return (the index's summaries) ------------------
CONVERT = textwrap.dedent('''
    def to_numpy(t):
        return t.detach().cpu().numpy()
''')

ROUND_TRIP = textwrap.dedent('''
    import torch
    import torch.nn.functional as F
    from pkg.convert import to_numpy


    def fit(model, loader):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in loader:
            pred = torch.from_numpy(to_numpy(model(x)))
            loss = F.mse_loss(pred, y)
            print("mean prediction", torch.tensor(to_numpy(model(x))).mean())
            opt.zero_grad()
            loss.backward()
            opt.step()
''')


@pytest.fixture
def round_trip(project):
    (project / "pkg" / "convert.py").write_text(CONVERT)
    (project / "fit.py").write_text(ROUND_TRIP)
    return project


def test_a_helper_of_another_file_that_converts_then_a_rewrap_is_found(round_trip):
    result = runner.run(["fit.py"], Settings(root=round_trip), jobs=1, use_cache=False)
    assert _codes(result) == [("fit.py", 10, "GS204")]


def test_editing_the_helper_rechecks_its_callers(round_trip):
    first = runner.run(["fit.py"], Settings(root=round_trip), jobs=1)
    assert _codes(first) == [("fit.py", 10, "GS204")]
    # it now returns the tensor itself, not a NumPy copy: the caller's verdict is recomputed
    (round_trip / "pkg" / "convert.py").write_text(CONVERT.replace(".detach().cpu().numpy()", ""))
    second = runner.run(["fit.py"], Settings(root=round_trip), jobs=1)
    assert _codes(second) == []


TF_CONVERT = textwrap.dedent('''
    def to_numpy(t):
        return t.numpy()
''')

TF_STEP = textwrap.dedent('''
    import tensorflow as tf
    from pkg.tfconvert import to_numpy

    model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
    opt = tf.keras.optimizers.Adam()


    def step(x, y):
        with tf.GradientTape() as tape:
            pred = model(x)
            loss = tf.reduce_mean((tf.constant(to_numpy(pred)) - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        print("labels", to_numpy(y))
''')


def test_a_tensorflow_helper_of_another_file_that_converts_in_the_tape_is_found(project):
    (project / "pkg" / "tfconvert.py").write_text(TF_CONVERT)
    (project / "tfstep.py").write_text(TF_STEP)
    result = runner.run(["tfstep.py"], Settings(root=project), jobs=1, use_cache=False)
    assert _codes(result) == [("tfstep.py", 12, "GS404")]


# ---- linking: a file analysed with the project files it works with ---------------------------
MODELS = textwrap.dedent('''
    import torch
    from torch import nn
    from torch.distributions import Normal


    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.mu = nn.Linear(4, 1)

        def forward(self, x):
            return Normal(self.mu(x), 1.0)


    def fit(net, x, y, steps=2):
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        for _ in range(steps):
            draw = net(x).sample()
            loss = ((draw - y) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()


    def preview(net, x):
        return net(x).sample()
''')

SCRIPT = textwrap.dedent('''
    import torch
    from models import Head, fit, preview

    head = Head()
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    fit(head, x, y)
    with torch.no_grad():
        print(preview(head, x))
''')

JAX_LOSS = textwrap.dedent('''
    import jax
    import jax.numpy as jnp


    def predict(w, x):
        return x @ w


    def loss(w, x, y):
        pred = jax.lax.stop_gradient(predict(w, x))
        return jnp.mean((pred - y) ** 2)
''')

JAX_STEP = textwrap.dedent('''
    import jax
    import jax.numpy as jnp
    from jaxloss import loss

    w = jnp.ones((3, 1))
    x, y = jnp.ones((4, 3)), jnp.zeros((4, 1))
    for _ in range(3):
        w = w - 0.1 * jax.grad(loss)(w, x, y)
''')

MAKE = textwrap.dedent('''
    from torch import nn


    def make_net():
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
''')

KFOLD = textwrap.dedent('''
    import torch
    from nets import make_net

    net = make_net()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for fold in range(3):
        net = make_net()
        x, y = torch.randn(8, 4), torch.randn(8, 1)
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        optimizer.step()
''')


@pytest.fixture
def scripts(tmp_path, monkeypatch):
    root = tmp_path / "work"
    root.mkdir()
    (root / "pyproject.toml").write_text("")
    for name, text in (("models.py", MODELS), ("train.py", SCRIPT), ("jaxloss.py", JAX_LOSS),
                       ("jaxstep.py", JAX_STEP), ("nets.py", MAKE), ("kfold.py", KFOLD)):
        (root / name).write_text(text)
    monkeypatch.chdir(root)
    return root


def test_a_training_function_is_analysed_with_the_script_that_calls_it(scripts):
    """`fit(net, ...)` in models.py learns from train.py that `net` is a `Head`, whose forward
    returns a Normal: the pathwise `.sample()` in the loss is found, checking models.py alone;
    `preview`, which train.py runs only under no_grad, stays silent."""
    result = runner.run(["models.py"], Settings(root=scripts), jobs=1, use_cache=False)
    assert _codes(result) == [("models.py", 19, "GS301")]


def test_a_function_differentiated_in_another_file_is_a_jax_root(scripts):
    result = runner.run(["jaxloss.py"], Settings(root=scripts), jobs=1, use_cache=False)
    assert _codes(result) == [("jaxloss.py", 11, "GS503")]


def test_an_imported_factory_is_known_where_the_script_uses_it(scripts):
    result = runner.run(["kfold.py"], Settings(root=scripts), jobs=1, use_cache=False)
    assert _codes(result) == [("kfold.py", 8, "GS602")]


def test_each_finding_is_reported_once_in_its_own_file(scripts):
    result = runner.run(["."], Settings(root=scripts), jobs=1, use_cache=False)
    assert _codes(result) == [("jaxloss.py", 11, "GS503"), ("kfold.py", 8, "GS602"), ("models.py", 19, "GS301")]


def test_without_its_callers_a_file_is_checked_alone(scripts):
    (scripts / "train.py").unlink()
    (scripts / "jaxstep.py").unlink()
    result = runner.run(["models.py", "jaxloss.py"], Settings(root=scripts), jobs=1, use_cache=False)
    assert _codes(result) == []


def test_editing_the_calling_script_rechecks_the_linked_file(scripts):
    first = runner.run(["models.py"], Settings(root=scripts), jobs=1)
    assert _codes(first) == [("models.py", 19, "GS301")]
    (scripts / "train.py").write_text(SCRIPT.replace("fit(head, x, y)", "pass"))
    second = runner.run(["models.py"], Settings(root=scripts), jobs=1)
    assert _codes(second) == []


def test_a_buffer_that_differs_from_the_disk_is_never_blanked_at_the_wrong_line(scripts):
    """An editor checks unsaved text: the index's import positions come from the disk, so a
    buffer with a line added above them is checked unlinked rather than with a line blanked."""
    from gradscan import engine
    from gradscan.runner import index_for

    settings = Settings(root=scripts)
    project = index_for([], ["."], settings, use_cache=False)
    shifted = "import os\n" + KFOLD
    found = engine.check_bytes(shifted.encode(), str(scripts / "kfold.py"), settings, project)
    assert [f.code for f in found if f.code.startswith("GS0")] == []
    same = engine.check_bytes(KFOLD.encode(), str(scripts / "kfold.py"), settings, project)
    assert [(f.line, f.code) for f in same] == [(8, "GS602")]


POLICY = textwrap.dedent('''
    import torch
    from torch import nn
    from torch.distributions import Normal


    class GaussianPolicy(nn.Module):
        def __init__(self):
            super().__init__()
            self.mu = nn.Linear(4, 2)

        def forward(self, obs):
            return Normal(self.mu(obs), 1.0)


    def act(policy, obs):
        return policy(obs).sample()
''')

AGENT = textwrap.dedent('''
    import torch
    from torch import nn
    from policy import GaussianPolicy, act


    class Agent:
        def __init__(self):
            self.policy = GaussianPolicy()
            self.critic = nn.Linear(2, 1)
            self.opt = torch.optim.Adam(self.policy.parameters())

        def update(self, obs):
            action = act(self.policy, obs)
            loss = -self.critic(action).mean()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
''')


def test_a_trainer_class_of_another_file_links_the_helper_it_trains_through(tmp_path, monkeypatch):
    """`Agent.update` (agent.py) backpropagates through `act(self.policy, obs)` (policy.py):
    policy.py is checked with the trainer's `__init__` and `update` appended, and the pathwise
    `.sample()` is found; without agent.py it is an action sampler like any other."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "policy.py").write_text(POLICY)
    (tmp_path / "agent.py").write_text(AGENT)
    monkeypatch.chdir(tmp_path)
    result = runner.run(["policy.py"], Settings(root=tmp_path), jobs=1, use_cache=False)
    assert _codes(result) == [("policy.py", 17, "GS301")]
    (tmp_path / "agent.py").unlink()
    assert _codes(runner.run(["policy.py"], Settings(root=tmp_path), jobs=1, use_cache=False)) == []


# ---- linking through module imports and chains of two files -------------------------------
SQUASH = textwrap.dedent('''
    import torch
    from torch.distributions import Normal


    def squashed_draw(mean, std):
        return torch.tanh(Normal(mean, std).sample())
''')

ACTOR = textwrap.dedent('''
    from torch import nn
    from squash import squashed_draw


    class Actor(nn.Module):
        def __init__(self):
            super().__init__()
            self.mu = nn.Linear(4, 2)
            self.log_std = nn.Linear(4, 2)

        def act(self, obs):
            return squashed_draw(self.mu(obs), self.log_std(obs).exp())
''')

LEARNER = textwrap.dedent('''
    import torch
    from torch import nn
    from actor import Actor


    class Learner:
        def __init__(self):
            self.actor = Actor()
            self.critic = nn.Linear(2, 1)
            self.opt = torch.optim.Adam(self.actor.parameters())

        def train(self, obs):
            action = self.actor.act(obs)
            loss = -self.critic(action).mean()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
''')

# The look-alike: the actions are drawn for the critic's targets only, under no_grad, and only
# the critic learns; the helper's `.sample()` then loses nothing.
CRITIC_ONLY = textwrap.dedent('''
    import torch
    from torch import nn
    from actor import Actor


    class Learner:
        def __init__(self):
            self.actor = Actor()
            self.critic = nn.Linear(6, 1)
            self.opt = torch.optim.Adam(self.critic.parameters())

        def train(self, obs, returns):
            with torch.no_grad():
                action = self.actor.act(obs)
            value = self.critic(torch.cat([obs, action], -1))
            loss = ((value - returns) ** 2).mean()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
''')


@pytest.fixture
def chain(tmp_path, monkeypatch):
    monkeypatch.delenv(cache.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    root = tmp_path / "rl"
    root.mkdir()
    (root / "pyproject.toml").write_text("")
    for name, text in (("squash.py", SQUASH), ("actor.py", ACTOR), ("learner.py", LEARNER)):
        (root / name).write_text(text)
    monkeypatch.chdir(root)
    return root


def test_a_cut_two_files_away_from_the_training_code_is_found(chain):
    """squash.py <- actor.py (trains nothing) <- learner.py (backpropagates through the action):
    the helper is analysed with actor.py's `Actor` and learner.py's trainer appended, and the
    pathwise `.sample()` is found, once, on squash.py's own line."""
    result = runner.run(["squash.py"], Settings(root=chain), jobs=1, use_cache=False)
    assert _codes(result) == [("squash.py", 7, "GS301")]
    everything = runner.run(["."], Settings(root=chain), jobs=1, use_cache=False)
    assert _codes(everything) == [("squash.py", 7, "GS301")]


def test_a_chain_whose_trainer_does_not_differentiate_the_draw_stays_silent(chain):
    (chain / "learner.py").write_text(CRITIC_ONLY)
    result = runner.run(["."], Settings(root=chain), jobs=1, use_cache=False)
    assert _codes(result) == []


def test_a_chain_is_followed_two_files_and_no_further(chain):
    """A fourth file between the helper and the trainer: three files away, the helper is
    library code again (the chain's cap)."""
    (chain / "wrapper.py").write_text(textwrap.dedent('''
        from actor import Actor


        class Wrapped(Actor):
            pass
    '''))
    (chain / "learner.py").write_text(LEARNER.replace("from actor import Actor", "from wrapper import Wrapped as Actor"))
    result = runner.run(["squash.py"], Settings(root=chain), jobs=1, use_cache=False)
    assert _codes(result) == []


def test_editing_any_file_of_the_chain_rechecks_the_helper(chain):
    first = runner.run(["squash.py"], Settings(root=chain), jobs=1)
    assert _codes(first) == [("squash.py", 7, "GS301")]
    (chain / "learner.py").write_text(CRITIC_ONLY)
    assert _codes(runner.run(["squash.py"], Settings(root=chain), jobs=1)) == []
    (chain / "learner.py").write_text(LEARNER)
    assert _codes(runner.run(["squash.py"], Settings(root=chain), jobs=1)) == [("squash.py", 7, "GS301")]
    # the middle file: the actor now draws its actions elsewhere
    (chain / "actor.py").write_text(ACTOR.replace("return squashed_draw(", "return (").replace(
        "self.log_std(obs).exp())", "self.log_std(obs).exp())[0]"))
    assert _codes(runner.run(["squash.py"], Settings(root=chain), jobs=1)) == []


SCRIPT_MODULE = textwrap.dedent('''
    import torch
    import models

    head = models.Head()
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    models.fit(head, x, y)
    with torch.no_grad():
        print(models.preview(head, x))
''')


def test_a_file_imported_as_a_module_is_linked(scripts):
    """`import models` then `models.fit(head, ...)`: models.py is checked with the script, as
    with `from models import fit`."""
    (scripts / "train.py").write_text(SCRIPT_MODULE)
    result = runner.run(["models.py"], Settings(root=scripts), jobs=1, use_cache=False)
    assert _codes(result) == [("models.py", 19, "GS301")]


def test_a_package_module_imported_under_an_alias_is_linked(scripts):
    (scripts / "pkg").mkdir()
    (scripts / "pkg" / "__init__.py").write_text("")
    (scripts / "models.py").rename(scripts / "pkg" / "models.py")
    (scripts / "train.py").write_text(SCRIPT_MODULE.replace("import models", "import pkg.models as m").replace(
        "models.", "m."))
    result = runner.run(["pkg/models.py"], Settings(root=scripts), jobs=1, use_cache=False)
    assert _codes(result) == [("pkg/models.py", 19, "GS301")]


def test_a_script_sees_what_it_calls_through_a_module_at_its_own_positions(scripts):
    """kfold.py as `import nets as n` / `n.make_net()`: the factory is known, and the finding
    keeps the line and column it has with `from nets import make_net`."""
    plain = runner.run(["kfold.py"], Settings(root=scripts), jobs=1, use_cache=False)
    (scripts / "kfold.py").write_text(KFOLD.replace("from nets import make_net", "import nets as n").replace(
        "make_net()", "n.make_net()"))
    aliased = runner.run(["kfold.py"], Settings(root=scripts), jobs=1, use_cache=False)
    assert [(f.line, f.code) for f in aliased.findings] == [(f.line, f.code) for f in plain.findings] == [(8, "GS602")]
    assert [f.col for f in aliased.findings] == [f.col for f in plain.findings]


def test_a_module_use_that_a_local_name_shadows_is_not_linked(scripts):
    """The script has a `fit` of its own beside `models.fit`: reading `models.fit` as `fit`
    would call the wrong one, so models.py is checked without it."""
    (scripts / "train.py").write_text(SCRIPT_MODULE + "\n\ndef fit(*args):\n    return None\n")
    result = runner.run(["models.py"], Settings(root=scripts), jobs=1, use_cache=False)
    assert _codes(result) == []


LEARNER_TEST = textwrap.dedent('''
    import unittest

    import torch
    from torch import nn
    from actor import Actor


    class ActorTest(unittest.TestCase):
        def test_actions_do_not_train_the_actor(self):
            actor = Actor()
            critic = nn.Linear(2, 1)
            opt = torch.optim.Adam(actor.parameters())
            loss = -critic(actor.act(torch.randn(3, 4))).mean()
            opt.zero_grad()
            loss.backward()
            self.assertIsNone(actor.mu.weight.grad)
''')


def test_a_test_is_not_the_training_a_module_serves(chain):
    """A test that steps once and asserts the weights did not move checks that a cut holds:
    linked as training code it would make the cut look like a bug. `unittest` test cases and
    pytest `test_` functions are not linked; the same steps in a trainer's method are."""
    (chain / "learner.py").write_text(LEARNER_TEST)
    assert _codes(runner.run(["squash.py"], Settings(root=chain), jobs=1, use_cache=False)) == []
    as_function = LEARNER_TEST.replace("class ActorTest(unittest.TestCase):\n", "").replace(
        "(self)", "()").replace("self.assertIsNone(", "assert (").replace(".grad)", ".grad) is None").replace("\n    ", "\n")
    (chain / "learner.py").write_text(as_function)
    compile(as_function, "learner.py", "exec")
    assert _codes(runner.run(["squash.py"], Settings(root=chain), jobs=1, use_cache=False)) == []
    (chain / "learner.py").write_text(as_function.replace("def test_actions_do_not_train_the_actor", "def train_actor"))
    assert _codes(runner.run(["squash.py"], Settings(root=chain), jobs=1, use_cache=False)) == [("squash.py", 7, "GS301")]


def test_tests_are_not_training_callers():
    # a pytest function or a unittest case backpropagating through a helper checks it; the
    # training function beside them still counts
    assert edges('''
        import unittest

        def test_cut_holds():
            loss = soft_label_loss(model(x), y)
            loss.backward()

        class LossTest(unittest.TestCase):
            def test_smoothing(self):
                def inner():
                    label_smoothing(y, 3).sum().backward()
                inner()
                (model(x) - label_smoothing(y, 3)).sum().backward()

        def fit(model, x, y):
            soft_label_loss(model(x), y).backward()
    ''') == [["pkg.losses.soft_label_loss", "torch", ["0"]]]


# ---- an importer's loss function, read by the training statement, comes with it ----------
FROZEN_LIB = textwrap.dedent('''
    import jax
    from jax import lax


    def frozen(apply_fn):
        def apply(params, x):
            params = jax.tree_util.tree_map(lax.stop_gradient, params)
            return apply_fn(params, x)
        return apply


    def build(scale):
        return frozen(lambda params, x: params["w"] * x * scale)
''')
FROZEN_SCRIPT = textwrap.dedent('''
    import jax
    import jax.numpy as jnp
    from frozenlib import build

    predict = build(2.0)


    def nll(params, x, y):
        return jnp.mean((predict(params, x) - y) ** 2)


    params = {"w": jnp.ones(3)}
    grads = jax.grad(nll)(params, jnp.ones(3), jnp.zeros(3))
''')


def test_the_importers_loss_function_is_linked_with_the_statement_that_differentiates_it(tmp_path, monkeypatch):
    """frozenlib.py is checked with the script's module-level code appended, and with `nll`,
    which the `jax.grad(nll)` statement reads although `nll` itself trains nothing: the
    wrapper's `stop_gradient` on every parameter is found where it is written."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "frozenlib.py").write_text(FROZEN_LIB)
    (tmp_path / "train.py").write_text(FROZEN_SCRIPT)
    monkeypatch.chdir(tmp_path)
    result = runner.run(["frozenlib.py", "train.py"], Settings(root=tmp_path), jobs=1, use_cache=False)
    assert [c for c in _codes(result) if c[2] == "GS503"] == [("frozenlib.py", 8, "GS503")]
