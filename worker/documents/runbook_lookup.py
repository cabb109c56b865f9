"""``/runbook <service or symptom>``: find the runbook section that matches, fast and without a model.

Runbooks are split into sections at markdown headings (ATX ``##`` and setext underlines; not inside code
fences). A section is scored on its heading path (document title, file path, parent headings, its own
heading) and its own body:

    score = 0.5 * heading coverage + 0.3 * coverage + 0.2 * BM25 (normalised to the best section)

where coverage is the share of the query's terms (lower-cased, stop words dropped, crudely stemmed) that
the section contains, and heading coverage the share found in its heading path. A section *matches well*
when the score is at least ``MIN_SCORE``, at least ``MIN_COVERAGE`` of the terms appear in it and at least
one appears in its heading path (a service or symptom name). The match covers the section and its
subsections.
"""

from __future__ import annotations

import bisect
import functools
import logging
import re
from dataclasses import dataclass

from rank_bm25 import BM25Okapi

from worker.documents.document import Document

log = logging.getLogger(__name__)

MIN_SCORE = 0.5
MIN_COVERAGE = 0.75
_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_WORD = re.compile(r"[a-z0-9]+")
_STOP_WORDS_TEXT = (
    "a an and are as at be by can do does for from has have how i if in is it its me my no not of on or our "
    "please should so that the then there this to up was we what when where which who why will with you "
    "help runbook runbooks doc docs about issue issues problem problems going happening"
)
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split(" "))


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed words without stop words, in order (with repeats)."""
    out = []
    for word in _WORD.findall(text.lower()):
        if word in STOP_WORDS:
            continue
        if len(word) > 5 and word.endswith("ing"):
            word = word[:-3]
        elif len(word) > 4 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 4 and word.endswith("ed"):
            word = word[:-2]
        elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.append(word)
    return out


def heading_anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_~\[\]()]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@dataclass(frozen=True)
class RunbookSection:
    document: Document
    path: tuple[str, ...]  # parent headings, then this one
    level: int  # 1-6; 0 for text before the first heading
    anchor: str  # "" for text before the first heading
    line_start: int  # heading line, 1-based in the file
    own_end: int  # last line before the next heading of any level
    line_end: int  # last line before the next heading of the same or a higher level
    own_text: str

    @property
    def heading(self) -> str:
        return self.path[-1] if self.path else self.document.title


@dataclass(frozen=True)
class RunbookMatch:
    document: Document
    title: str  # "Postgres failover › Replica lag"
    heading: str
    anchor: str
    link: str | None  # document link + "#anchor"
    line_start: int
    line_end: int
    text: str  # the section with its subsections
    score: float


def markdown_headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(line index, level, text) of every heading outside code fences (ATX, and setext: the index is
    that of the text line above the underline)."""
    found = []
    in_fence = False
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        atx = _ATX.match(line)
        if atx:
            found.append((index, len(atx.group(1)), atx.group(2).strip()))
        elif (index > 0 and _SETEXT.match(line) and lines[index - 1].strip()
              and not lines[index - 1].lstrip().startswith(("-", "*", "#", ">", "|"))
              and not (found and found[-1][0] == index - 1)):
            found.append((index - 1, 1 if line.strip().startswith("=") else 2, lines[index - 1].strip()))
    return found


@functools.lru_cache(maxsize=2048)
def runbook_sections(document: Document) -> tuple[RunbookSection, ...]:
    """The sections of one runbook, in file order (cached per document)."""
    lines = document.text.split("\n")
    base = document.first_line
    headings = markdown_headings(lines)
    sections: list[RunbookSection] = []
    if not headings or "\n".join(lines[: headings[0][0]]).strip():
        end = headings[0][0] - 1 if headings else len(lines) - 1
        sections.append(RunbookSection(document, (), 0, "", base, base + end, base + end,
                                       "\n".join(lines[: end + 1])))
    stack: list[tuple[int, str]] = []
    anchors: dict[str, int] = {}
    for position, (index, level, text) in enumerate(headings):
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, text))
        own_end = headings[position + 1][0] - 1 if position + 1 < len(headings) else len(lines) - 1
        end = next((h[0] - 1 for h in headings[position + 1:] if h[1] <= level), len(lines) - 1)
        anchor = heading_anchor(text)
        seen = anchors.get(anchor, 0)
        anchors[anchor] = seen + 1
        sections.append(RunbookSection(
            document, tuple(t for _, t in stack), level, f"{anchor}-{seen}" if seen else anchor,
            base + index, base + own_end, base + end, "\n".join(lines[index:own_end + 1]),
        ))
    return tuple(sections)


@functools.lru_cache(maxsize=2048)
def _section_starts(document: Document) -> tuple[int, ...]:
    return tuple(section.line_start for section in runbook_sections(document))


def section_at(document: Document, line: int) -> RunbookSection | None:
    """The innermost section whose own lines (heading to the next heading of any level) hold ``line``."""
    sections = runbook_sections(document)
    position = bisect.bisect_right(_section_starts(document), line) - 1
    if position < 0:
        return None
    section = sections[position]
    return section if line <= section.own_end else None


def _heading_terms(section: RunbookSection) -> set[str]:
    name = (section.document.link or "").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return set(terms(" ".join((section.document.title, name, *section.path))))


@functools.lru_cache(maxsize=8)
def _section_index(documents: tuple[Document, ...]) -> tuple[list[RunbookSection], list[set[str]], list[list[str]],
                                                               BM25Okapi]:
    """The sections of these runbooks with their terms and BM25, built once per set of runbooks (not per
    question: the same folder answers every ``/runbook``)."""
    sections = [s for d in documents for s in runbook_sections(d)]
    heading_sets = [_heading_terms(s) for s in sections]
    corpus = [list(h) * 3 + terms(s.own_text) for s, h in zip(sections, heading_sets, strict=True)]
    return sections, heading_sets, corpus, BM25Okapi(corpus or [["_"]])


def find_runbook_section(query: str, documents: list[Document]) -> RunbookMatch | None:
    """The best-matching runbook section when it matches well (see the module docstring), else None.

    Only ``kind == "runbook"`` documents are searched.
    """
    wanted = set(terms(query))
    if not wanted:
        return None
    sections, heading_sets, corpus, bm25 = _section_index(tuple(d for d in documents if d.kind == "runbook"))
    if not sections:
        return None
    raw = [float(x) for x in bm25.get_scores(list(wanted))]
    top = max(raw) if raw and max(raw) > 0 else 1.0
    best: tuple[float, int, int] | None = None  # (score, level, index)
    for index, section in enumerate(sections):
        headed = wanted & heading_sets[index]
        covered = wanted & (heading_sets[index] | set(corpus[index]))
        coverage = len(covered) / len(wanted)
        if not headed or coverage < MIN_COVERAGE:
            continue
        score = 0.5 * len(headed) / len(wanted) + 0.3 * coverage + 0.2 * max(0.0, raw[index]) / top
        if score >= MIN_SCORE and (best is None or (score, section.level) > best[:2]):
            best = (score, section.level, index)
    if best is None:
        log.debug("no runbook section matches %r well", query)
        return None
    section = sections[best[2]]
    lines = section.document.text.split("\n")
    first = section.line_start - section.document.first_line
    last = section.line_end - section.document.first_line
    link = section.document.link
    if link and section.anchor:
        link = f"{link}#{section.anchor}"
    return RunbookMatch(
        document=section.document,
        title=" › ".join(dict.fromkeys((section.document.title, *section.path))),
        heading=section.heading, anchor=section.anchor, link=link,
        line_start=section.line_start, line_end=section.line_end,
        text="\n".join(lines[first:last + 1]).strip("\n"), score=round(best[0], 4),
    )
