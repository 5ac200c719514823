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
