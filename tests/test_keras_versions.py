"""Which Keras a file uses decides GS401 (facts tf25, tf40, tf45): Keras 3 for `keras.*` and for
`tf.keras.*` unless the file imports tf_keras, mentions TF_USE_LEGACY_KERAS, or the configuration
says `keras = "legacy"`."""
from __future__ import annotations

import textwrap

import pytest

from gradscan import check_source
from gradscan.config import Settings

CLASS = """
class Net({base}):
    def __init__(self):
        super().__init__()
        self.gamma = tf.Variable(tf.ones(3))
"""

CASES = [
    # (imports, base, flagged under the default configuration)
    ("import tensorflow as tf", "tf.keras.Model", True),
    ("import tensorflow as tf\nfrom tensorflow import keras", "keras.Model", True),
    ("import tensorflow as tf\nfrom tensorflow.keras import layers", "layers.Layer", True),
    ("import tensorflow as tf\nimport keras", "keras.Model", True),
    ("import tensorflow as tf\nimport keras", "keras.layers.Layer", True),
    ("import tensorflow as tf\nfrom keras import layers", "layers.Layer", True),
    ("import tensorflow as tf\nimport tf_keras", "tf_keras.Model", False),
    ("import tensorflow as tf\nimport tf_keras", "tf.keras.Model", False),
    ("import tensorflow as tf\nimport tf_keras as keras", "keras.layers.Layer", False),
    ("import os\nos.environ['TF_USE_LEGACY_KERAS'] = '1'\nimport tensorflow as tf", "tf.keras.Model", False),
    ("import tensorflow as tf", "tf.Module", False),
    ("import tensorflow as tf\ntry:\n    import tf_keras as keras\nexcept ImportError:\n    import keras", "keras.Model", False),
]


def _flagged(source: str, settings=None) -> bool:
    return any(f.code == "GS401" for f in check_source(source, path="net.py", settings=settings, select=["GS401"]))


@pytest.mark.parametrize("imports,base,flagged", CASES, ids=[f"{i.splitlines()[-1]}|{b}" for i, b, _ in CASES])
def test_keras_version_by_import(imports, base, flagged):
    source = imports + "\n" + textwrap.dedent(CLASS.format(base=base))
    assert _flagged(source) == flagged


@pytest.mark.parametrize("imports,base", [("import tensorflow as tf", "tf.keras.Model"), ("import tensorflow as tf\nfrom tensorflow import keras", "keras.Model")])
def test_configuration_selects_legacy_keras(imports, base):
    source = imports + "\n" + textwrap.dedent(CLASS.format(base=base))
    assert _flagged(source)
    assert not _flagged(source, Settings(keras="legacy"))


SHIM_USER = """
import tensorflow as tf

from gplib.shim import tf_keras


class Holder(tf_keras.Model):
    def __init__(self):
        super().__init__()
        self.offset = tf.Variable(tf.zeros((2,)))
"""


@pytest.mark.parametrize("preferred,fallback,flagged", [
    # the try body runs when the package is installed: legacy Keras, which tracks the variable
    ("import tf_keras", "import tensorflow.keras as tf_keras", False),
    # Keras 3 preferred, legacy only as a fallback
    ("import keras as tf_keras", "import tf_keras", True),
])
def test_a_package_shim_re_exports_what_its_try_body_imports(tmp_path, preferred, fallback, flagged):
    # Modelled on a GP library's `keras.py` shim (training corpus): a re-exported name bound in
    # both a try body and its except handler is the try body's.
    from tests.cli_support import ISOLATED, cli, write

    write(tmp_path, "gplib/__init__.py", "")
    write(tmp_path, "gplib/shim.py", f"try:\n    {preferred}\nexcept ImportError:\n    {fallback}\n")
    write(tmp_path, "tests/test_holder.py", SHIM_USER)
    result = cli([*ISOLATED, "--select", "GS401", str(tmp_path)])
    assert ("GS401" in result.codes()) == flagged, result


# ---- what the project declares (issue 16: "Which Keras") ---------------------------------------
MODEL = textwrap.dedent("""
    import tensorflow as tf


    class Scale(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.gamma = tf.Variable(tf.ones(3))

        def call(self, x):
            return x * self.gamma
""")


@pytest.mark.parametrize("name, text, flagged, reason", [
    ("requirements.txt", "numpy\ntensorflow==2.15.1  # pinned for the cluster\n", False, None),
    ("requirements.txt", "tensorflow>=2.17\n", True, "requirements.txt: tensorflow>=2.17"),
    ("requirements-dev.txt", "tf-keras\n", False, None),
    ("requirements.txt", "keras==2.15.0\n", False, None),
    ("pyproject.toml", '[project]\nname = "x"\ndependencies = ["tensorflow-cpu>=2.12,<2.16"]\n', False, None),
    ("setup.py", 'from setuptools import setup\nsetup(install_requires=["tensorflow~=2.13.0"])\n', False, None),
    ("environment.yml", "dependencies:\n  - pip:\n    - tensorflow==2.18.0\n", True, "environment.yml: tensorflow==2.18.0"),
    ("requirements.txt", "torch\n", True, "TF >= 2.16 assumed"),
])
def test_the_declared_tensorflow_decides_which_keras(tmp_path, monkeypatch, name, text, flagged, reason):
    from gradscan.runner import run

    (tmp_path / "pyproject.toml").write_text("")
    if name == "pyproject.toml":
        (tmp_path / name).write_text(text)
    else:
        (tmp_path / name).write_text(text)
    (tmp_path / "model.py").write_text(MODEL)
    monkeypatch.chdir(tmp_path)
    found = [f for f in run(["model.py"], Settings(root=tmp_path), jobs=1, use_cache=False).findings if f.code == "GS401"]
    assert bool(found) is flagged
    if flagged:
        assert f"({reason})" in found[0].message


def test_the_configuration_wins_over_the_declarations(tmp_path, monkeypatch):
    from gradscan.runner import run

    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "requirements.txt").write_text("tensorflow==2.15.0\n")
    (tmp_path / "model.py").write_text(MODEL)
    monkeypatch.chdir(tmp_path)
    found = run(["model.py"], Settings(root=tmp_path, keras="3"), jobs=1, use_cache=False).findings
    assert [f.code for f in found] == ["GS401"] and "(configured)" in found[0].message


def test_a_notebook_pip_install_decides_for_the_notebook(tmp_path, monkeypatch):
    import json

    from gradscan.runner import run

    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": src}
             for src in ("!pip install -q tensorflow==2.15.0 tensorflow-datasets", MODEL)]
    nb = {"cells": cells, "metadata": {"language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "old.ipynb").write_text(json.dumps(nb))
    cells[0]["source"] = "%pip install tensorflow>=2.16"
    (tmp_path / "new.ipynb").write_text(json.dumps(nb))
    monkeypatch.chdir(tmp_path)
    found = run(["old.ipynb", "new.ipynb"], Settings(root=tmp_path), jobs=1, use_cache=False).findings
    assert [(f.path, f.code) for f in found] == [("new.ipynb", "GS401")]
    assert "(notebook: tensorflow>=2.16)" in found[0].message
