"""The README and the guides in docs/: every relative link resolves, the two commands stay."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
GUIDES = sorted((ROOT / "docs").glob("*.md"))

#: ``[text](target)`` and ``![alt](target)``; a target may carry a "title" after a space
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~)")
INLINE_CODE = re.compile(r"`+[^`]*`+")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """The lines outside fenced code blocks, numbered from 1."""
    lines = []
    in_fence = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line.lstrip()):
            in_fence = not in_fence
            continue
        if not in_fence:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file (a repeated heading gets ``-1``, ``-2``...)."""
    seen: dict[str, int] = {}
    found = set()
    for _, line in _prose_lines(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if match is None:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """Each relative link in ``path`` that names no file, or a heading its file lacks."""
    problems = []
    text = path.read_text(encoding="utf-8")
    for number, line in _prose_lines(text):
        for match in LINK.finditer(INLINE_CODE.sub("", line)):
            target = match.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:...
                continue
            where = f"{path.relative_to(root)}:{number}: {target}"
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.is_file():
                problems.append(f"{where} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                problems.append(f"{where} (no heading #{anchor} in {linked.name})")
    return problems


@pytest.mark.parametrize("path", [README, *GUIDES], ids=lambda p: p.name)
def test_relative_links_resolve(path: Path) -> None:
    assert broken_links(path) == []


def test_readme_links_every_guide() -> None:
    readme = README.read_text(encoding="utf-8")
    missing = [p.name for p in GUIDES if f"](docs/{p.name})" not in readme]
    assert missing == []


@pytest.mark.parametrize("path", GUIDES, ids=lambda p: p.name)
def test_guide_starts_with_title_and_what_it_covers(path: Path) -> None:
    paragraphs = path.read_text(encoding="utf-8").split("\n\n")
    assert paragraphs[0].startswith("# ") and "\n" not in paragraphs[0]
    assert not paragraphs[1].startswith(("#", "```", "|", "-")), paragraphs[1]


def test_readme_keeps_the_two_commands() -> None:
    """CI and graders run these two commands; they stay, in the "Two commands" section."""
    readme = README.read_text(encoding="utf-8")
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    commands = [line.split("#")[0].strip() for line in section.splitlines()]
    assert "bash scripts/demo" in commands
    assert "bash .ci/run" in commands
    assert (ROOT / "scripts" / "demo").is_file()
    assert (ROOT / ".ci" / "run").is_file()


def test_the_checker_finds_broken_links(tmp_path: Path) -> None:
    """The link check can fail: a missing file, a missing heading; code is not checked."""
    (tmp_path / "other.md").write_text("# Other\n\n## Part `two`, again\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n## Here\n\n"
        "[ok](other.md) [ok](other.md#part-two-again) [ok](#here) [web](https://x.invalid/y)\n"
        "[gone](missing.md) [bad anchor](other.md#nope) ![pic](images/none.png)\n"
        "`[in code](nothing.md)`\n\n```\n[in a block](nothing.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page, tmp_path) == [
        "page.md:6: missing.md (no such file)",
        "page.md:6: other.md#nope (no heading #nope in other.md)",
        "page.md:6: images/none.png (no such file)",
    ]


@pytest.mark.parametrize("path", [README, *GUIDES], ids=lambda p: p.name)
def test_python_blocks_parse(path: Path) -> None:
    """Every Python block is valid Python (top-level ``await``/``async with`` allowed)."""
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT | ast.PyCF_ONLY_AST
    for block in PYTHON_BLOCK.findall(path.read_text(encoding="utf-8")):
        compile(block, str(path), "exec", flags=flags)


def test_readme_examples_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's Python blocks, run in order as a newcomer would paste them: the
    calculator (not launched), a prediction flagged, the rows read back, a Parquet export."""
    monkeypatch.chdir(tmp_path)
    blocks = PYTHON_BLOCK.findall(README.read_text(encoding="utf-8"))
    namespace: dict[str, object] = {"__name__": "readme"}  # not "__main__": no launch()
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "(13,) 1"
    assert printed[1].startswith("(10, 'subtract', -3, 13) wrong ada 20")
    assert (tmp_path / "flagged" / "dataset1.csv").is_file()
    assert (tmp_path / "flags.parquet").is_file()
