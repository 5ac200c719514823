"""The editor recipes of docs/integrations.md that run gradscan on the buffer through standard input.

ALE, flycheck and nvim-lint run `gradscan --quiet --stdin-filename PATH -` and parse its output
with their own patterns; here the documented command runs for real and its output is parsed with
each documented pattern (translated to Python's regular expressions).
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "docs" / "integrations.md").read_text(encoding="utf-8")

CLEAN = """\
import torch
from torch import nn


class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(3))
"""
BUFFER = CLEAN.replace("nn.Parameter(torch.randn(3))", "torch.randn(3, requires_grad=True)") + "\u00e9 = 1\n"

# Each editor's documented pattern, in Python's syntax.
PATTERNS = {
    # nvim-lint: "^.-:(%d+):(%d+): (%u+%d+) (.+)$"
    "nvim-lint": re.compile(r"^.*?:(\d+):(\d+): ([A-Z]+\d+) (.+)$"),
    # flycheck: line-start (minimal-match (one-or-more not-newline)) ":" line ":" column ": " (id ...) " " (message) line-end
    "flycheck": re.compile(r"^.+?:(\d+):(\d+): ([A-Z0-9]+) (.+)$"),
    # ALE's ale#handlers#unix#HandleAsWarning: '\v^[a-zA-Z]?:?[^:]+:(\d+):?(\d+)?:? ?(.+)$'
    "ALE": re.compile(r"^[a-zA-Z]?:?[^:]+:(\d+):?(\d+)?:? ?(.+)$"),
}


def test_documented_commands_are_the_stdin_command():
    assert "gradscan --quiet --stdin-filename PATH -" in DOCS
    assert "'command': 'gradscan --quiet --stdin-filename %s -'" in DOCS  # ALE
    assert ':command ("gradscan" "--quiet" "--stdin-filename" source-original "-")' in DOCS  # flycheck
    assert 'args = { "--quiet", "--stdin-filename", function() return vim.api.nvim_buf_get_name(0) end, "-" }' in DOCS
    assert '"^.-:(%d+):(%d+): (%u+%d+) (.+)$"' in DOCS


def test_unsaved_buffer_is_checked_and_parsed_by_each_editor(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.gradscan]\nper-file-ignores = { "tests/*" = ["GS1"] }\n')
    model = tmp_path / "pkg" / "model.py"
    model.parent.mkdir()
    model.write_text(CLEAN)  # what is on disk is clean; the editor's buffer is not
    result = subprocess.run([sys.executable, "-m", "gradscan", "--quiet", "--stdin-filename", str(model), "-"],
                            cwd=tmp_path, input=BUFFER, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stderr
    [line] = result.stdout.splitlines()
    for editor, pattern in PATTERNS.items():
        m = pattern.match(line)
        assert m, f"{editor} cannot parse {line!r}"
        assert (m.group(1), m.group(2)) == ("8", "18"), editor
    assert PATTERNS["nvim-lint"].match(line).group(3) == "GS101"

    # The name given is the one per-file-ignores see, as for a file on disk.
    tests = tmp_path / "tests" / "test_model.py"
    tests.parent.mkdir()
    quiet = subprocess.run([sys.executable, "-m", "gradscan", "--quiet", "--stdin-filename", str(tests), "-"],
                           cwd=tmp_path, input=BUFFER, capture_output=True, text=True, timeout=600)
    assert (quiet.returncode, quiet.stdout) == (0, ""), quiet.stderr
