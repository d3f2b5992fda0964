"""The findings catalogue: docs/findings.md says the same, and no code makes a finding it does not hold."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tlsbench.engine.findings import catalogue
from tlsbench.engine.findings.catalogue import CATALOGUE, ENTRIES, finding
from tlsbench.engine.plan import KINDS
from tlsbench.engine.suggestions import Change, Suggestion

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "src" / "tlsbench"


def docs_table() -> dict[str, list[str]]:
    """{stage: [codes]} from docs/findings.md (written by scripts/docs): one section per stage."""
    text = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    rows: dict[str, list[str]] = {}
    for section in text.split("\n## ")[1:]:
        stage = section.splitlines()[0].strip()
        rows[stage] = re.findall(r"^\| `([a-z0-9.-]+)` \|", section, re.M)
    return rows


def test_the_docs_list_every_code_under_its_stage():
    table = docs_table()
    assert table, "no findings listed in docs/findings.md"
    in_docs = {(stage, code) for stage, codes in table.items() for code in codes}
    in_catalogue = {(stage, e.code) for e in ENTRIES for stage in (e.stage, *e.also)}
    assert in_catalogue - in_docs == set(), "catalogued codes missing from docs/findings.md (run scripts/docs)"
    assert in_docs - in_catalogue == set(), "docs/findings.md codes the catalogue does not hold (run scripts/docs)"
    assert list(table) == list(catalogue.STAGES), "docs/findings.md lists the stages in the catalogue's order"


def test_every_stage_is_a_plan_kind_or_says_why_not():
    for entry in ENTRIES:
        assert entry.stage in KINDS or entry.stage in ("any", "listener", "enumerate"), entry
        assert entry.severity in entry.allowed_severities and entry.origin in entry.allowed_origins
        assert entry.title and entry.title[0].isupper(), entry
    assert len(CATALOGUE) == len(ENTRIES), "a code is catalogued twice"


def _calls(name: str):
    """(path, line, call) for every call of `name` or `something.name` in the sources."""
    for path in sorted(p for p in SOURCES.rglob("*.py") if "__pycache__" not in p.parts):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
                if called == name:
                    yield path.relative_to(ROOT), node.lineno, node


def test_findings_are_made_only_through_the_catalogue():
    direct = [f"{path}:{line}" for path, line, _ in _calls("Finding") if path.name != "catalogue.py"]
    assert direct == [], "findings made without the catalogue: " + ", ".join(direct)


def test_every_code_the_sources_make_is_catalogued():
    codes = []
    for path, line, call in _calls("finding"):
        if isinstance(call.func, ast.Attribute) and call.func.attr == "finding" and not (
                isinstance(call.func.value, ast.Name) and call.func.value.id == "catalogue"):
            continue  # a method of that name (the listener's ClientSession.finding), not the constructor
        first = call.args[0] if call.args else None
        assert isinstance(first, ast.Constant) and isinstance(first.value, str), \
            f"{path}:{line}: finding() called without a literal code, so no test can check it"
        codes.append(first.value)
    assert len(codes) > 40, "the scan found too few finding() calls to be looking at the right thing"
    assert sorted(set(codes) - set(CATALOGUE)) == []
    # and every catalogued code is made somewhere (a row nobody raises is a dead row)
    assert sorted(set(CATALOGUE) - set(codes)) == []


def test_the_constructor_refuses_what_the_catalogue_does_not_allow():
    with pytest.raises(ValueError, match="not in the findings catalogue"):
        finding("no-such-code", "x")
    with pytest.raises(ValueError, match="severity"):
        finding("tcp-refused", "x", severity="info")
    with pytest.raises(ValueError, match="origin"):
        finding("tcp-refused", "x", origin="proxy")
    with pytest.raises(ValueError, match="stage"):
        finding("tcp-refused", "x", stage="tls")
    with pytest.raises(ValueError, match="names no option"):
        Change.of(no_such_option=1)


def test_the_catalogue_fills_in_stage_severity_origin_and_title():
    made = finding("no-sni", explanation="e", severity="info")
    assert (made.stage, made.severity, made.origin, made.title) == ("tls", "info", "local", "No SNI was sent")
    bug = finding("internal-error", "t", "e", "s", stage="tcp")
    assert bug.stage == "tcp" and bug.origin == "local"
    # a plain-string suggestion is text, shown as written (braces too)
    assert finding("tcp-failed", "t", "e", "use {braces}").suggestion == Suggestion("use {{braces}}")
