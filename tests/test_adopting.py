"""Adopting gradscan on an existing codebase (issue 18, item 6), through the real command line:
`--add-noqa` silences every current finding in place, and GS010 reports the `# noqa` codes that
no longer silence anything, so a team can turn gradscan on in CI today and fix findings over time."""
from __future__ import annotations

import json

from tests.cli_support import BAD, ISOLATED, cli, run, write

MODEL = """\
import torch
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.randn(3, requires_grad=True)
        self.b = torch.zeros(3, requires_grad=True)  # noqa: E501
        self.w.require_grad = False  # keep it frozen
        self.d = torch.zeros(3, \\
            requires_grad=True)
        self.s = torch.ones(1, requires_grad=True)  # noqa
"""
ADDED = """\
import torch
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.randn(3, requires_grad=True)  # noqa: GS101
        self.b = torch.zeros(3, requires_grad=True)  # noqa: E501, GS101
        self.w.require_grad = False  # keep it frozen  # noqa: GS107
        self.d = torch.zeros(3, \\
            requires_grad=True)  # noqa: GS101
        self.s = torch.ones(1, requires_grad=True)  # noqa
"""
CHECK = [*ISOLATED, "--select", "GS101,GS107"]


def test_add_noqa_silences_every_finding_keeping_the_code(tmp_path):
    write(tmp_path, "src/model.py", MODEL)
    write(tmp_path, "src/crlf.py", b"import torch\r\nfrom torch import nn\r\nclass N(nn.Module):\r\n    def __init__(self):\r\n"
                                  b"        self.w = torch.randn(3, requires_grad=True)\r\n")
    before = run([*CHECK, "src"], tmp_path)
    assert before.code == 1 and len(before.lines) == 5, before
    added = run([*CHECK, "--add-noqa", "src"], tmp_path)
    assert (added.code, added.stdout, added.stderr) == (0, "", "Added 5 noqa comments to 2 files.\n"), added
    assert (tmp_path / "src" / "model.py").read_text(encoding="utf-8") == ADDED
    assert (tmp_path / "src" / "crlf.py").read_bytes().endswith(b"requires_grad=True)  # noqa: GS101\r\n")
    after = run([*CHECK, "src"], tmp_path)
    assert (after.code, after.stdout) == (0, ""), after
    again = run([*CHECK, "--add-noqa", "src"], tmp_path)
    assert again.stderr == "Added 0 noqa comments to 0 files.\n" and (tmp_path / "src" / "model.py").read_text() == ADDED
    assert run([*CHECK, "--add-noqa", "-q", "src"], tmp_path).stderr == ""


def test_add_noqa_leaves_notebooks_and_refuses_stdin(tmp_path):
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": BAD}]
    nb = write(tmp_path, "nb.ipynb", json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    before = nb.read_bytes()
    r = run([*CHECK, "--add-noqa", "nb.ipynb"], tmp_path)
    assert r.code == 0 and "nb.ipynb: --add-noqa does not edit notebooks" in r.stderr, r
    assert nb.read_bytes() == before
    piped = cli([*CHECK, "--add-noqa", "-"], tmp_path, input=BAD)
    assert piped.code == 2 and "cannot be combined with standard input" in piped.stderr


UNUSED = """\
import torch
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.randn(3, requires_grad=True)  # noqa: GS101
        self.b = nn.Parameter(torch.zeros(3))  # noqa: GS101, E501
        self.c = nn.Parameter(torch.zeros(3))  # noqa
        self.d = nn.Parameter(torch.zeros(3))  # noqa: E501
        self.e = nn.Parameter(torch.zeros(3))  # noqa: GS1, GS2
        self.f = nn.Parameter(torch.zeros(3))  # noqa: GS101, GS010
"""


def test_unused_noqa_is_off_by_default_and_reports_only_gradscan_codes(tmp_path):
    write(tmp_path, "m.py", UNUSED)
    assert run([*CHECK, "m.py"], tmp_path).code == 0
    r = run([*CHECK, "--extend-select", "GS010", "m.py"], tmp_path)
    assert r.code == 1, r
    assert r.lines == [
        "m.py:8:48: GS010 `# noqa` silences nothing here: remove GS101",
        "m.py:11:48: GS010 `# noqa` silences nothing here: remove GS1, GS2",
    ], r
    # --select of other rules does not turn it on; ALL does.
    assert "GS010" not in run([*ISOLATED, "--select", "GS1", "m.py"], tmp_path).stdout
    assert "GS010" in run([*ISOLATED, "--select", "ALL", "m.py"], tmp_path).stdout
    # --disable-noqa: every comment is ignored, so none is judged
    assert "GS010" not in run([*CHECK, "--extend-select", "GS010", "--disable-noqa", "m.py"], tmp_path).stdout


def test_unused_noqa_in_a_notebook_names_the_cell(tmp_path):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# model"},
             {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": UNUSED}]
    write(tmp_path, "nb.ipynb", json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    r = run([*CHECK, "--extend-select", "GS010", "nb.ipynb"], tmp_path)
    assert [line.split(" GS010")[0] for line in r.lines] == ["nb.ipynb:cell 2:8:48:", "nb.ipynb:cell 2:11:48:"], r


def test_add_noqa_then_fixing_a_finding_leaves_an_unused_noqa(tmp_path):
    """The adoption workflow end to end: silence everything, fix one finding, GS010 points at
    the comment to delete."""
    path = write(tmp_path, "m.py", MODEL)
    assert run([*CHECK, "--add-noqa", "m.py"], tmp_path).code == 0
    path.write_text(path.read_text().replace("torch.randn(3, requires_grad=True)", "nn.Parameter(torch.randn(3))"))
    r = run([*CHECK, "--extend-select", "GS010", "m.py"], tmp_path)
    assert r.lines == ["m.py:7:48: GS010 `# noqa` silences nothing here: remove GS101"], r


def test_the_readme_adoption_commands_as_written(tmp_path):
    import re
    import shlex
    import sys
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```sh\n(.*?)```", readme, re.S) if "--add-noqa" in b]
    commands = [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]
    assert [c[0] for c in commands] == ["gradscan", "gradscan"]
    quoted = re.search(r"prints `(Added \d+ noqa comments to \d+ files\.)`", " ".join(readme.split()))[1]
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    write(tmp_path, "src/model.py", MODEL)
    write(tmp_path, "src/crlf.py", b"import torch\r\nfrom torch import nn\r\nclass N(nn.Module):\r\n    def __init__(self):\r\n"
                                  b"        self.w = torch.randn(3, requires_grad=True)\r\n")
    added = run(commands[0][1:], tmp_path)
    assert (added.code, added.stderr.strip()) == (0, quoted), added
    model = tmp_path / "src" / "model.py"
    model.write_text(model.read_text().replace("torch.randn(3, requires_grad=True)", "nn.Parameter(torch.randn(3))"))
    unused = run(commands[1][1:], tmp_path)
    assert unused.code == 1 and [l.split(": ", 2)[1].split()[0] for l in unused.lines] == ["GS010"], unused
    assert sys.executable  # run() is `python -m gradscan`: the same command as the `gradscan` script
