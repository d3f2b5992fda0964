"""The README stays short and points into docs/, and no relative link in the docs leads nowhere."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README_LIMIT = 40_000  # bytes: the pitch, the two commands, the lab and the user stories

# [text](target) and ![alt](target); the text may hold one level of brackets
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md",
            ROOT / "ARCHITECTURE.md"]


def prose(text: str) -> str:
    """The text without fenced code blocks and inline code (neither holds links)."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            out.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(out)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but - and _ dropped, spaces to -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        match = re.match(r"#{1,6} (.+?)\s*#*$", line)
        if match and not fenced:
            base = slug(match.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    broken = []
    for target in LINK.findall(prose(path.read_text(encoding="utf-8"))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not ours to check
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(root)}: {target}"
        if not linked.exists():
            broken.append(f"{where} (no such file)")
        elif anchor and (linked.suffix != ".md" or anchor not in anchors(linked)):
            broken.append(f"{where} (no such heading)")
    return broken


def test_the_readme_is_short_and_points_into_docs():
    readme = ROOT / "README.md"
    assert readme.stat().st_size < README_LIMIT, f"README.md is {readme.stat().st_size} bytes: move reference to docs/"
    linked = {t.partition("#")[0] for t in LINK.findall(prose(readme.read_text(encoding="utf-8")))}
    docs_pages = {p for p in linked if p.startswith("docs/") and p.endswith(".md")}
    assert len(docs_pages) >= 3, docs_pages
    assert "docs/README.md" in linked


def test_every_relative_link_leads_to_a_file_and_heading():
    assert len(pages()) > 5
    problems = [problem for page in pages() for problem in broken_links(page)]
    assert problems == []


def test_the_link_check_finds_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# A title: `x`\n\n## Again\n\n## Again\n", encoding="utf-8")
    page.write_text("[ok](other.md#a-title-x) [ok](other.md#again-1) `[code](nowhere.md)`\n"
                    "[bad](other.md#nope) ![img](missing.png) [site](https://example.com/x)\n", encoding="utf-8")
    assert broken_links(page, tmp_path) == ["page.md: other.md#nope (no such heading)",
                                            "page.md: missing.png (no such file)"]
