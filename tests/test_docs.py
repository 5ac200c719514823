"""The README's rule list and docs/rules.md are generated from the registry and cannot drift."""
from pathlib import Path

from click.testing import CliRunner

from gradscan.cli import main
from gradscan.reports.rule_docs import END, START, replace_table, rules_reference
from gradscan.rules import all_rules

ROOT = Path(__file__).resolve().parents[1]


def test_readme_rule_list_matches_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert START in readme and END in readme
    assert replace_table(readme) == readme, "README rule list is stale: run `python -m gradscan.reports.rule_docs`"


def test_readme_lists_every_rule_of_gradscan_rules():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = CliRunner().invoke(main, ["rules"]).output.splitlines()
    assert len(listed) == len(all_rules())
    for line in listed:
        code, name = line.split()[:2]
        assert f"[{code}]" in readme and f"`{name}`" in readme


def test_rules_reference_is_current():
    assert (ROOT / "docs" / "rules.md").read_text(encoding="utf-8") == rules_reference()


def test_readme_shows_the_two_setup_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install . && gradscan examples/" in readme
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = next(l for l in ci.splitlines() if "pytest" in l and "pip install" in l)
    assert test_command.strip() in readme, "the README's test command must be the one CI runs"


def test_readme_example_fixed_is_clean():
    from gradscan import check_source

    source = (ROOT / "examples" / "model.py").read_text(encoding="utf-8")
    fixed = (source.replace("torch.ones(1, requires_grad=True)", "nn.Parameter(torch.ones(1))")
             .replace(").detach()", ")").replace("posterior.sample()", "posterior.rsample()"))
    assert fixed != source
    assert check_source(fixed, path="model.py") == []


def _setup_commands(readme: str) -> list:
    block = readme.split("## Set up", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [l for l in block.splitlines() if l.strip() and not l.lstrip().startswith("#")]


def test_readme_has_exactly_two_setup_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = _setup_commands(readme)
    assert len(commands) == 2 and commands[0] == "pip install . && gradscan examples/"
    ci = [l.strip() for l in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
          if l.strip() and not l.lstrip().startswith("#")]
    assert commands[1] in ci, "CI must run the README's test command"
    # torch first: installed in the same pip command as the libraries that depend on it
    assert commands[1].split("pip install", 1)[1].split()[1].startswith("torch==")


def _requirements() -> dict:
    import re

    pins = {}
    for line in (ROOT / "tests" / "requirements-oracle.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_oracle_requirements_pin_each_framework_once():
    """No two pinned distributions install the same package (tensorflow and tensorflow-cpu both
    provide `tensorflow`: pinning one while tf-keras pulls the other installed TensorFlow twice)."""
    import importlib.metadata as md
    import re

    pins = _requirements()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"torch=={pins['torch']} " in _setup_commands(readme)[1]
    providers = {}
    for name in pins:
        try:
            files = md.distribution(name).files or []
        except md.PackageNotFoundError:
            continue  # not installed here: nothing to compare
        tops = {f.parts[0] for f in files if len(f.parts) > 1 and not f.parts[0].endswith((".dist-info", ".data"))
                and not f.parts[0].startswith(("..", "__"))}
        for top in tops:
            providers.setdefault(top, set()).add(name)
    # what a pinned distribution requires must not be another distribution of the same package
    for name in pins:
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for req in requires:
            if "extra ==" in req:
                continue
            dep = re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", req).group()).lower()
            if dep in pins or dep == name:
                continue
            try:
                files = md.distribution(dep).files or []
            except md.PackageNotFoundError:
                continue
            for top in {f.parts[0] for f in files if len(f.parts) > 1}:
                if top in providers and not top.endswith((".dist-info", ".data")) and not top.startswith(".."):
                    providers[top].add(dep)
    doubled = {top: names for top, names in providers.items() if len(names) > 1}
    assert not doubled, f"installed by more than one distribution: {doubled}"


# --- every sample of output in the README and docs/integrations.md is what the tool prints now ----

NOTEBOOK_CELLS = [
    ("markdown", "# Training\n"),
    ("code", "import torch\nfrom torch import nn\n"),
    ("markdown", "The model:\n"),
    ("code", "%matplotlib inline\n"),
    ("code", "class Scale(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
             "        self.w = torch.randn(3, requires_grad=True)\n\n    def forward(self, x):\n        return x * self.w\n"),
]


def _sample_projects(tmp_path: Path) -> dict:
    """The folder each documented `$ command` runs in, keyed by (page, command, nth sample of it)."""
    import json
    import shutil

    fixed = tmp_path / "fixed"
    shutil.copytree(ROOT / "examples", fixed / "examples")
    model = fixed / "examples" / "model.py"
    model.write_text(model.read_text(encoding="utf-8").replace("torch.ones(1, requires_grad=True)", "nn.Parameter(torch.ones(1))")
                     .replace(").detach()", ")").replace("posterior.sample()", "posterior.rsample()"), encoding="utf-8")
    flake = tmp_path / "flake8"
    (flake / "src").mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "model.py", flake / "src" / "model.py")
    nb = tmp_path / "nb"
    (nb / "notebooks").mkdir(parents=True)
    cells = [{"cell_type": kind, "metadata": {}, "source": src, **({"outputs": [], "execution_count": None} if kind == "code" else {})}
             for kind, src in NOTEBOOK_CELLS]
    (nb / "notebooks" / "train.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return {
        ("README.md", "gradscan examples/", 0): ROOT,
        ("README.md", "gradscan examples/", 1): fixed,
        ("docs/integrations.md", "flake8 src/", 0): flake,
        ("docs/integrations.md", "gradscan notebooks/", 0): nb,
    }


def _console_samples() -> list:
    import re

    samples = []
    for page in ("README.md", "docs/integrations.md"):
        seen: dict = {}
        for block in re.findall(r"```console\n(.*?)```", (ROOT / page).read_text(encoding="utf-8"), re.S):
            command, *lines = block.splitlines()
            assert command.startswith("$ "), (page, block)
            n = seen.setdefault(command, 0)
            seen[command] += 1
            samples.append((page, command[2:], n, lines))
    return samples


def test_every_console_sample_is_what_the_tool_prints(tmp_path):
    import os
    import shlex
    import subprocess
    import sys

    projects = _sample_projects(tmp_path)
    samples = _console_samples()
    assert {(p, c, n) for p, c, n, _ in samples} == set(projects), "a sample without a run here, or a run without a sample"
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", PYTHONPATH=str(ROOT))
    for page, command, n, lines in samples:
        words = shlex.split(command)
        if words[0] == "flake8":  # the plugin: only gradscan's codes (the sample shows one finding)
            words = [sys.executable, "-m", "flake8", "--select", "GS", *words[1:]]
        else:
            words = [sys.executable, "-m", "gradscan", "--no-cache", *words[1:]]
        real = subprocess.run(words, cwd=projects[(page, command, n)], env=env, capture_output=True, text=True, timeout=600)
        printed = real.stdout.splitlines() + real.stderr.splitlines()
        missing = [line for line in lines if line not in printed]
        assert not missing, f"{page}: `$ {command}` prints\n" + "\n".join(printed)
        if words[2] == "gradscan":  # gradscan's own samples are whole
            assert lines == printed, f"{page}: `$ {command}` prints\n" + "\n".join(printed)


def test_every_closing_line_quoted_in_prose_is_the_tools_shape():
    import re

    from gradscan.reports import summary

    quoted = []
    for page in ("README.md", "docs/integrations.md"):
        text = " ".join((ROOT / page).read_text(encoding="utf-8").split())
        quoted += re.findall(r"`((?:Found|All checks passed)[^`]*)`", text)
    assert quoted
    for line in quoted:
        m = re.fullmatch(r"Found (\d+) problems? in (\d+) of (\d+) files?\.", line)
        if m:
            findings = [type("F", (), {"path": str(i % int(m[2]))})() for i in range(int(m[1]))]
            assert summary(findings, int(m[3])) == line
        else:
            m = re.fullmatch(r"All checks passed: (\d+) files?\.", line)
            assert m and summary([], int(m[1])) == line, line
