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


def test_readme_example_output_is_real(monkeypatch):
    from gradscan.config import Settings
    from gradscan.runner import run

    monkeypatch.chdir(ROOT)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("$ gradscan examples/\n", 1)[1].split("```", 1)[0]
    findings = run(["examples/"], Settings(root=ROOT), jobs=1, use_cache=False).findings
    assert block == "".join(f"{f.location()}: {f.code} {f.message}\n" for f in findings)


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
