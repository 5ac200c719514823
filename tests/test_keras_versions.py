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
