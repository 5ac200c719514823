"""A finding's message is one short, actionable sentence (issue 18, item 5); why it breaks
gradients is the rule's `explanation`, which `full`, JSON and SARIF carry separately.

Held to: no message over 120 characters, the median of the messages over the fixtures under 90,
for the rules' own message templates, the messages of every finding over tests/fixtures and
over every rule's flagged examples, and messages that quote long source text.
"""
from __future__ import annotations

import json
import statistics
import string
from pathlib import Path

import pytest

from gradscan import check_source
from gradscan.config import Settings
from gradscan.engine import _cut_short
from gradscan.reports import render
from gradscan.rules import REGISTRY, all_rules
from gradscan.rules.base import clip
from gradscan.runner import run as run_checks
from tests.cli_support import ISOLATED, cli, run, write

LONGEST, MEDIAN = 120, 90
FIXTURES = Path(__file__).parent / "fixtures"
RULES = [r for r in all_rules() if not r.engine]


def fields(template: str) -> list:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


@pytest.fixture(scope="module")
def fixture_messages():
    settings = Settings(select=["ALL"], root=FIXTURES, respect_gitignore=False)
    findings = run_checks([str(FIXTURES)], settings, jobs=1, use_cache=False).findings
    assert len(findings) > 50
    return findings


@pytest.mark.parametrize("rule", list(all_rules()), ids=lambda r: r.code)
def test_every_rule_message_is_one_short_line(rule):
    text = rule.message
    for name in fields(text):  # the real messages are checked below; here a name of usual length
        text = text.replace("{" + name + "}", "x" * 16)
    assert "\n" not in rule.message and len(text) <= LONGEST, (len(text), rule.message)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_every_rule_explains_what_its_message_leaves_out(rule):
    assert rule.explanation and not fields(rule.explanation), "the explanation is the same for every finding"
    assert rule.explanation != rule.message and len(rule.explanation) > len(rule.message) // 2
    assert rule.explanation.rstrip().endswith("."), "a full sentence, printed under the finding"


def test_no_message_over_the_fixtures_is_long(fixture_messages):
    long = sorted({(len(f.message), f.code, f.message) for f in fixture_messages if len(f.message) > LONGEST})
    assert not long, long
    median = statistics.median(len(f.message) for f in fixture_messages)
    assert median < MEDIAN, median


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_no_message_over_the_rule_examples_is_long(rule):
    messages = [f.message for source in rule.invalid for f in check_source(source, path="example.py", select=[rule.code])]
    assert messages, "every flagged example is flagged"
    assert all(len(m) <= LONGEST for m in messages), [m for m in messages if len(m) > LONGEST]


def test_quoted_source_is_clipped_to_one_short_line():
    assert clip("self.fc") == "self.fc"
    assert clip("torch.cat(\n    [a,\n     b])") == "torch.cat( [a, b])"
    long = clip("self.encoder.blocks[0].attention.q_proj.weight")
    assert len(long) == 28 and long.endswith("...")


def test_a_long_expression_does_not_make_a_long_message():
    name = "a_parameter_with_a_very_long_descriptive_name"
    source = (
        "import torch\nimport torch.nn as nn\n\n"
        "class VAE(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        f"        self.{name} = nn.Linear(4, 4)\n"
        "        self.dec = nn.Linear(4, 4)\n\n"
        "    def forward(self, x):\n"
        f"        z = torch.distributions.OneHotCategorical(logits=self.{name}(x)[:, : x.shape[1] // 2]).sample()\n"
        f"        z2 = torch.distributions.Normal(self.{name}(x), torch.ones_like(x)).sample()\n"
        "        return self.dec(z) + self.dec(z2)\n"
    )
    findings = check_source(source, path="vae.py", select=["GS301", "GS303"])
    assert [f.code for f in findings] == ["GS303", "GS301"]
    assert all(len(f.message) <= LONGEST for f in findings), [f.message for f in findings]
    assert all("..." in f.message for f in findings), "the quoted expression is clipped, not dropped"


def test_a_cut_short_file_names_a_few_unfinished_rules():
    where, code, message, _, _ = _cut_short(Settings(), sorted(REGISTRY))
    assert code == "GS002" and len(message) <= LONGEST and "rules not finished: GS000, GS001" in message
    assert f"{len(REGISTRY) - 4} more" in message


def test_full_json_and_sarif_carry_the_explanation(tmp_path):
    write(tmp_path, "m.py")  # two GS101 findings and a GS107
    rule = REGISTRY["GS101"]
    full = run(["--output-format", "full", "--select", "GS101", *ISOLATED, "m.py"], cwd=tmp_path)
    assert full.code == 1 and full.lines[0] == f"m.py:7:18: GS101 {rule.message}"
    why, inside = [], False
    for line in full.lines:  # from `why:` to `help:` or `fix` (a finding with a fix shows its edit)
        inside = line.startswith("    why: ") or (inside and line.startswith("         "))
        why += [line] if inside else []
    assert " ".join(l.strip() for l in why) == f"why: {rule.explanation} why: {rule.explanation}"
    assert all(len(l) <= 100 for l in why)
    concise = cli(["--select", "GS101", *ISOLATED, "m.py"], cwd=tmp_path)
    assert concise.lines == [f"m.py:7:18: GS101 {rule.message}", f"m.py:8:18: GS101 {rule.message}"]
    items = json.loads(cli(["--output-format", "json", "--select", "GS101", *ISOLATED, "m.py"], cwd=tmp_path).stdout)
    assert [(i["message"], i["explanation"]) for i in items] == [(rule.message, rule.explanation)] * 2
    sarif = json.loads(cli(["--output-format", "sarif", "--select", "GS101", *ISOLATED, "m.py"], cwd=tmp_path).stdout)
    [driver_rule] = [r for r in sarif["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "GS101"]
    assert driver_rule["fullDescription"]["text"] == rule.explanation
    assert sarif["runs"][0]["results"][0]["message"]["text"] == rule.message


def test_engine_findings_have_no_explanation():
    from gradscan.findings import Finding

    [item] = json.loads(render("json", [Finding("a.py", 1, 1, "GS001", "syntax error: invalid syntax", 1, 1)]))
    assert item["explanation"] is None
