"""`gradscan server` driven by a real LSP client exchange: raw JSON-RPC over the server's stdio.

The client here is written against the protocol, not against pygls, so that a bug shared by
pygls's client and server could not hide: Content-Length framing, initialize/initialized,
didOpen -> publishDiagnostics, hover, didChange + didSave -> publishDiagnostics again, didClose,
shutdown/exit.
"""
from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gradscan.rules import REGISTRY

try:
    import pygls  # noqa: F401
except ImportError:
    HAVE_PYGLS = False
else:
    HAVE_PYGLS = True

TIMEOUT = 60

BUGGY = """\
import torch
from torch import nn


class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        label = "\U0001F600"; self.w = torch.randn(3, requires_grad=True)

    def forward(self, x):
        return x * self.w
"""
BUG_LINE = 7  # 0-based, as LSP counts


class Client:
    """A minimal LSP client: one reader thread, requests matched by id, notifications by method."""

    def __init__(self, cwd: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "gradscan", "server"], cwd=cwd,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.inbox: "queue.Queue" = queue.Queue()
        self.backlog: list = []
        self.stderr: list = []
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()

    def _read(self) -> None:
        stream = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = stream.readline()
                if not line:
                    self.inbox.put(None)
                    return
                line = line.decode("ascii").strip()
                if not line:
                    break
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
            self.inbox.put(json.loads(stream.read(int(headers["content-length"])).decode("utf-8")))

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params):
        self.next_id += 1
        ident = self.next_id
        self.send({"id": ident, "method": method, "params": params})
        reply = self.wait(lambda m: m.get("id") == ident and "method" not in m)
        assert "error" not in reply, reply
        return reply["result"]

    def wait(self, match, timeout: float = TIMEOUT) -> dict:
        for i, message in enumerate(self.backlog):
            if match(message):
                return self.backlog.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.inbox.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"no matching message in {timeout}s; stderr: {self._stderr()}") from None
            if message is None:
                raise AssertionError(f"the server closed its output; stderr: {self._stderr()}")
            if "method" in message and "id" in message:  # a request from the server: accept it
                self.send({"id": message["id"], "result": None})
            if match(message):
                return message
            self.backlog.append(message)

    def diagnostics(self, uri: str) -> dict:
        return self.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri)["params"]

    def _stderr(self) -> str:
        return b"".join(self.stderr).decode("utf-8", "replace")[-3000:]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def client(tmp_path):
    if not HAVE_PYGLS:
        pytest.skip("the language server needs pygls (pip install -e '.[test]')")
    c = Client(tmp_path)
    yield c
    c.close()


def initialize(client: Client, root: Path) -> dict:
    result = client.request("initialize", {
        "processId": None,
        "rootUri": root.as_uri(),
        "capabilities": {
            "general": {"positionEncodings": ["utf-16"]},
            "textDocument": {
                "synchronization": {"didSave": True, "dynamicRegistration": False},
                "publishDiagnostics": {"relatedInformation": False, "codeDescriptionSupport": True},
                "hover": {"contentFormat": ["markdown", "plaintext"]},
            },
        },
        "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
    })
    client.notify("initialized", {})
    return result


def cli_findings(path: Path) -> list:
    result = subprocess.run([sys.executable, "-m", "gradscan", "--no-cache", "--output-format", "json", path.name],
                            cwd=path.parent, capture_output=True, text=True, timeout=TIMEOUT)
    return json.loads(result.stdout)


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_session_open_hover_save_close_shutdown(client, tmp_path):
    model = tmp_path / "model.py"
    model.write_text(BUGGY, encoding="utf-8")
    uri = model.as_uri()

    caps = initialize(client, tmp_path)["capabilities"]
    assert caps.get("hoverProvider")
    assert caps["textDocumentSync"]["openClose"] and caps["textDocumentSync"]["save"] is not False

    # didOpen: the diagnostics are the command line's findings, in LSP's 0-based UTF-16 units.
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": BUGGY}})
    published = client.diagnostics(uri)
    assert published.get("version") in (None, 1)
    [diag] = published["diagnostics"]
    [finding] = cli_findings(model)
    assert (diag["code"], diag["message"], diag["source"]) == ("GS101", finding["message"], "gradscan")
    line = BUGGY.splitlines()[BUG_LINE]
    start, end = finding["location"], finding["end_location"]
    assert start["row"] - 1 == BUG_LINE
    assert diag["range"] == {
        "start": {"line": BUG_LINE, "character": utf16(line[: start["column"] - 1])},
        "end": {"line": end["row"] - 1, "character": utf16(line[: end["column"] - 1])},
    }
    assert line[start["column"] - 1:].startswith("torch.randn")  # the emoji is two UTF-16 units
    assert diag["severity"] == 1  # Error: the level github and sarif print for the same finding (reports.severity)
    assert diag["codeDescription"]["href"] == REGISTRY["GS101"].url()

    # hover over the finding: the rule's documentation; elsewhere: nothing.
    hover = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": BUG_LINE, "character": diag["range"]["start"]["character"] + 3}})
    assert hover["contents"]["kind"] == "markdown"
    text = hover["contents"]["value"]
    assert "GS101" in text and REGISTRY["GS101"].name in text
    assert "## Why it breaks gradients" in text and REGISTRY["GS101"].doc.splitlines()[1] in text
    assert client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 2}}) is None

    # Edit (incremental change) and save: the diagnostics are published again for the new text.
    fixed_line = line.replace("torch.randn(3, requires_grad=True)", "nn.Parameter(torch.randn(3))")
    typo = "        self.w.require_grad = False"
    client.notify("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": 2},
        "contentChanges": [{"range": {"start": {"line": BUG_LINE, "character": 0}, "end": {"line": BUG_LINE + 1, "character": 0}},
                            "text": fixed_line + "\n" + typo + "\n"}],
    })
    new_text = BUGGY.replace(line + "\n", fixed_line + "\n" + typo + "\n")
    model.write_text(new_text, encoding="utf-8")
    client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
    after_save = client.diagnostics(uri)
    assert [(d["code"], d["range"]["start"]["line"]) for d in after_save["diagnostics"]] == [("GS107", BUG_LINE + 1)]
    assert [(f["code"], f["location"]["row"] - 1) for f in cli_findings(model)] == [("GS107", BUG_LINE + 1)]

    # Fixed completely and saved: an empty list clears the editor's markers.
    model.write_text(new_text.replace(typo + "\n", ""), encoding="utf-8")
    client.notify("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": 3},
        "contentChanges": [{"range": {"start": {"line": BUG_LINE + 1, "character": 0}, "end": {"line": BUG_LINE + 2, "character": 0}}, "text": ""}],
    })
    client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
    assert client.diagnostics(uri)["diagnostics"] == []

    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert client.diagnostics(uri)["diagnostics"] == []

    assert client.request("shutdown", None) is None
    client.notify("exit", None)
    assert client.proc.wait(timeout=TIMEOUT) == 0


def test_syntax_error_and_cross_file_base_class(client, tmp_path):
    """A broken buffer is a GS001 diagnostic; a base class from another file of the project is known."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (tmp_path / "base.py").write_text("from torch import nn\n\n\nclass Base(nn.Module):\n    pass\n")
    block = tmp_path / "block.py"
    text = "import torch\nfrom base import Base\n\n\nclass Block(Base):\n    def __init__(self):\n        super().__init__()\n        self.w = torch.ones(2, requires_grad=True)\n"
    block.write_text(text)
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n    pass\n")
    initialize(client, tmp_path)
    client.notify("textDocument/didOpen", {"textDocument": {"uri": block.as_uri(), "languageId": "python", "version": 1, "text": text}})
    assert [(d["code"], d["range"]["start"]["line"]) for d in client.diagnostics(block.as_uri())["diagnostics"]] == [("GS101", 7)]
    client.notify("textDocument/didOpen", {"textDocument": {"uri": broken.as_uri(), "languageId": "python", "version": 1, "text": broken.read_text()}})
    [diag] = client.diagnostics(broken.as_uri())["diagnostics"]
    assert diag["code"] == "GS001" and diag["severity"] == 1 and diag["range"]["start"]["line"] == 0
    client.request("shutdown", None)
    client.notify("exit", None)
    assert client.proc.wait(timeout=TIMEOUT) == 0


def test_configuration_is_honoured_and_errors_are_shown(client, tmp_path):
    good = tmp_path / "good"
    good.mkdir()
    (good / "pyproject.toml").write_text("[tool.gradscan]\nignore = ['GS101']\n")
    (good / "model.py").write_text(BUGGY)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "pyproject.toml").write_text("[tool.gradscan]\nfrobnicate = true\n")
    (bad / "model.py").write_text(BUGGY)
    initialize(client, tmp_path)
    client.notify("textDocument/didOpen", {"textDocument": {"uri": (good / "model.py").as_uri(), "languageId": "python", "version": 1, "text": BUGGY}})
    assert client.diagnostics((good / "model.py").as_uri())["diagnostics"] == []
    client.notify("textDocument/didOpen", {"textDocument": {"uri": (bad / "model.py").as_uri(), "languageId": "python", "version": 1, "text": BUGGY}})
    shown = client.wait(lambda m: m.get("method") == "window/showMessage")["params"]
    assert shown["type"] == 1 and "frobnicate" in shown["message"] and str(bad / "pyproject.toml") in shown["message"]
    assert client.diagnostics((bad / "model.py").as_uri())["diagnostics"] == []
    client.request("shutdown", None)
    client.notify("exit", None)
    assert client.proc.wait(timeout=TIMEOUT) == 0


def test_without_pygls_the_server_command_says_what_to_install(tmp_path):
    """pygls is optional: without it, `gradscan server` explains itself and exits 2."""
    hide = ("import sys; sys.modules.update(dict.fromkeys(['pygls', 'pygls.lsp', 'pygls.lsp.server', 'lsprotocol', "
            "'lsprotocol.types'])); sys.argv = ['gradscan', 'server']; from gradscan.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", hide], cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 2
    assert "pip install 'gradscan[lsp]'" in result.stderr and "Traceback" not in result.stderr


def apply_text_edits(text: str, edits: list) -> str:
    """Apply LSP TextEdits (UTF-16 positions) to `text`, as a client does: from the last edit back."""
    lines = text.splitlines(keepends=True)

    def offset(pos):
        if pos["line"] >= len(lines):
            return len(text)
        line = lines[pos["line"]]
        units, chars = 0, 0
        while units < pos["character"] and chars < len(line):
            units += utf16(line[chars])
            chars += 1
        return sum(len(l) for l in lines[: pos["line"]]) + chars

    for edit in sorted(edits, key=lambda e: (e["range"]["start"]["line"], e["range"]["start"]["character"]), reverse=True):
        a, b = offset(edit["range"]["start"]), offset(edit["range"]["end"])
        text = text[:a] + edit["newText"] + text[b:]
    return text


def test_code_actions_quick_fix_and_fix_all(client, tmp_path):
    """Each fix is a quick fix (in UTF-16 units past the emoji); "fix all" gives what `gradscan --fix` writes."""
    text = BUGGY + "\n\ndef freeze(m):\n    for p in m.parameters():\n        p.require_grad = False\n"
    model = tmp_path / "model.py"
    model.write_text(text, encoding="utf-8")
    uri = model.as_uri()
    caps = initialize(client, tmp_path)["capabilities"]
    assert "quickfix" in caps["codeActionProvider"]["codeActionKinds"]
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
    diags = client.diagnostics(uri)["diagnostics"]
    gs101 = next(d for d in diags if d["code"] == "GS101")
    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": gs101["range"],
        "context": {"diagnostics": [gs101], "only": ["quickfix"]}})
    [action] = actions
    assert action["kind"] == "quickfix" and action["title"].startswith("Wrap the tensor in nn.Parameter")
    assert action["diagnostics"][0]["code"] == "GS101" and action["isPreferred"] is True
    fixed_one = apply_text_edits(text, action["edit"]["changes"][uri])
    assert '"\U0001F600"; self.w = nn.Parameter(torch.randn(3))\n' in fixed_one
    assert "p.require_grad" in fixed_one  # only this finding's fix

    fix_all = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
        "context": {"diagnostics": [], "only": ["source.fixAll"]}})
    [action] = fix_all
    assert action["kind"] == "source.fixAll.gradscan"
    all_fixed = apply_text_edits(text, action["edit"]["changes"][uri])
    done = subprocess.run([sys.executable, "-m", "gradscan", "--no-cache", "--fix", model.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    assert all_fixed == model.read_text(encoding="utf-8") != text
    client.request("shutdown", None)
    client.notify("exit", None)
    assert client.proc.wait(timeout=TIMEOUT) == 0
