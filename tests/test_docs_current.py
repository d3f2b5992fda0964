"""The generated docs say what the code says: docs/findings.md (from the findings catalogue) and the key
table in docs/workbench.md (from the workbench's bindings) are regenerated in memory and compared with
the committed files."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_generator():
    """scripts/docs as a module (it has no .py suffix: it is a command)."""
    loader = importlib.machinery.SourceFileLoader("tlsbench_scripts_docs", str(ROOT / "scripts" / "docs"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_the_committed_generated_docs_are_current():
    docs = load_generator()
    stale = docs.stale(ROOT)
    assert stale == [], f"run scripts/docs: {', '.join(map(str, stale))} differ from what the code says now"


def test_the_findings_page_lists_every_code_under_each_of_its_stages():
    docs = load_generator()
    entries = docs.find_catalogue().ENTRIES
    page = docs.findings_page()
    listed: set[tuple[str, str]] = set()
    for section in page.split("\n## ")[1:]:
        stage = section.splitlines()[0].strip()
        listed |= {(stage, code) for code in re.findall(r"^\| `([a-z0-9.-]+)` \|", section, re.M)}
    assert listed == {(stage, e.code) for e in entries for stage in (e.stage, *getattr(e, "also", ()))}
    assert len(listed) >= len(entries) > 40


def test_the_key_table_comes_from_the_bindings_not_from_the_page():
    docs = load_generator()
    page = (ROOT / "docs" / "workbench.md").read_text(encoding="utf-8")
    begin, end = page.index(docs.KEYS_BEGIN), page.index(docs.KEYS_END)
    tampered = page[:begin] + docs.KEYS_BEGIN + "\n| F4 | nothing at all |\n" + page[end:]
    regenerated = docs.workbench_page(tampered)
    assert "nothing at all" not in regenerated and regenerated == docs.workbench_page(page)
    # the text around the table is kept as it is
    assert regenerated[:begin] == page[:begin] and regenerated[regenerated.index(docs.KEYS_END):] == page[end:]


def test_every_binding_of_every_screen_and_widget_is_in_the_table():
    import importlib
    import inspect
    import pkgutil

    from textual.binding import Binding
    from textual.dom import DOMNode

    import tlsbench.tui

    docs = load_generator()
    table = docs.key_table()
    declared = 0
    for info in pkgutil.walk_packages(tlsbench.tui.__path__, "tlsbench.tui."):
        module = importlib.import_module(info.name)
        for cls in vars(module).values():
            if not (inspect.isclass(cls) and cls.__module__ == module.__name__ and issubclass(cls, DOMNode)):
                continue
            for item in cls.__dict__.get("BINDINGS", ()):
                binding = item if isinstance(item, Binding) else Binding(*item)
                section = table.split(f"### {docs._words(cls.__name__)} (", 1)[1].split("\n### ", 1)[0]
                assert f"| {docs.key_text(binding.key)} | {binding.description or '`' + binding.action + '`'}" \
                    in section, (cls, binding)
                declared += 1
    assert declared > 20  # the walk found the workbench's bindings
