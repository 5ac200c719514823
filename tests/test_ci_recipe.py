"""The GitHub Actions recipe of docs/integrations.md, run as written on a small project.

The workflow is read from the documentation; each of its `gradscan` steps runs in a shell, as
the runner would run it, with the real command. Checked: the annotations step fails the job on
findings and prints GitHub's workflow commands; the SARIF step always succeeds, writes the file
the upload step reads, and the file validates against the SARIF 2.1.0 schema with paths relative
to the repository (as code scanning requires).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML comes with pre-commit (pip install -e '.[test]')")

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "integrations.md"
SCHEMA = ROOT / "tests" / "data" / "sarif-schema-2.1.0.json"
ANNOTATION = re.compile(
    r"^::error file=(?P<file>[^,]+),line=(?P<line>\d+),col=(?P<col>\d+),endLine=\d+,endColumn=\d+,title=[^:]+::(?P<code>GS\d{3}) .+$")

MODEL = """\
import torch
from torch import nn


class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.randn(3, requires_grad=True)

    def forward(self, x):
        return x * self.w
"""


def workflow() -> dict:
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    [flow] = [yaml.safe_load(b) for b in blocks if re.search(r"^jobs:", b, re.M)]
    return flow


def steps() -> list:
    [job] = workflow()["jobs"].values()
    return job["steps"]


def step(words: str) -> dict:
    [found] = [s for s in steps() if words in s.get("name", "")]
    return found


def run_step(command: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(["bash", "-eo", "pipefail", "-c", command], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "model.py").write_text(MODEL)
    (tmp_path / "src" / "clean.py").write_text(MODEL.replace("torch.randn(3, requires_grad=True)", "nn.Parameter(torch.randn(3))"))
    cells = [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": part}
             for part in (MODEL.split("\n\n\n")[0] + "\n", MODEL.split("\n\n\n")[1])]
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "train.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return tmp_path


def test_workflow_shape():
    flow = workflow()
    assert flow["permissions"]["security-events"] == "write"
    names = [s.get("name", s.get("uses", s.get("run"))) for s in steps()]
    sarif, upload, annotate = step("SARIF"), step("Upload"), step("annotations")
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    # the SARIF file is the one written by the SARIF step; the failing step comes last, so a
    # finding does not skip the upload
    assert sarif["run"].rstrip().endswith("> " + upload["with"]["sarif_file"])
    assert names.index(sarif["name"]) < names.index(upload["name"]) < names.index(annotate["name"])
    assert "--output-format github" in annotate["run"] and "--output-format sarif" in sarif["run"]
    assert "--exit-zero" in sarif["run"] and "--exit-zero" not in annotate["run"]


def test_annotations_step_fails_the_job_with_annotations(project):
    result = run_step(step("annotations")["run"], project)
    assert result.returncode == 1, result.stderr
    found = {}
    for line in result.stdout.splitlines():
        m = ANNOTATION.match(line)
        assert m, f"not a GitHub workflow command: {line!r}"
        found[(m["file"], int(m["line"]), int(m["col"]), m["code"])] = line
    assert set(found) == {("src/model.py", 8, 18, "GS101"), ("notebooks/train.ipynb", 4, 18, "GS101")}
    assert found[("notebooks/train.ipynb", 4, 18, "GS101")].endswith(" (cell 2)")


def test_annotations_step_passes_on_a_clean_project(project):
    (project / "src" / "model.py").unlink()
    (project / "notebooks" / "train.ipynb").unlink()
    result = run_step(step("annotations")["run"], project)
    assert (result.returncode, result.stdout) == (0, ""), result.stderr


def test_sarif_step_writes_what_code_scanning_accepts(project):
    jsonschema = pytest.importorskip("jsonschema")
    result = run_step(step("SARIF")["run"], project)
    assert result.returncode == 0, result.stderr  # --exit-zero: the upload always runs
    log = json.loads((project / step("Upload")["with"]["sarif_file"]).read_text(encoding="utf-8"))
    jsonschema.validate(log, json.loads(SCHEMA.read_text(encoding="utf-8")))
    [run] = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    located = set()
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        loc = res["locations"][0]["physicalLocation"]
        uri = loc["artifactLocation"]["uri"]
        assert not uri.startswith(("/", "file:")), "code scanning needs paths relative to the repository"
        located.add((uri, loc["region"]["startLine"], loc["region"]["startColumn"], res["ruleId"]))
    assert located == {("src/model.py", 8, 18, "GS101"), ("notebooks/train.ipynb", 4, 18, "GS101")}
    notebook = next(r for r in run["results"] if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(".ipynb"))
    assert notebook["message"]["text"].endswith("(cell 2)")


def test_configuration_error_fails_even_with_exit_zero(project):
    (project / "pyproject.toml").write_text('[project]\nname = "demo"\n\n[tool.gradscan]\nselect = ["GS999"]\n')
    for words in ("SARIF", "annotations"):
        result = run_step(step(words)["run"], project)
        assert result.returncode == 2, (words, result.stderr)
        assert "GS999" in result.stderr
