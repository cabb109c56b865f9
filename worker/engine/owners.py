"""Whose system the question is about, from what it says about owners: the runbook whose own tool the asker quotes
saying all is well is ruled out, and the runbook of the team the asker speaks for is theirs.

Sibling runbooks share hosts, pumps and alert names, so a question's words often fit both; what tells them apart is
what the asker already checked and who the asker is:

1. A tool quoted saying all is well rules its runbook out: "enrobctl status --line 2 all green, tank temp bang on.
   temper meter says 3.9" is not the enrober's problem; "fillctl status all green ... can we let the stills run on?"
   is not the filling store's. The tool must be one runbook's own (``names.own_tools``) and no other candidate's
   (a shared tool says nothing about which of them), and the clause must say it, not ask it ("does fillctl status
   look ok?" rules nothing out). ``ruled_out_scores`` gives that runbook's chunks 1, the clause's words (the
   tool's, "TM-1..3") are no words to look for (``without_tool_reports``), and the tool's name is no identifier
   (``without_tool_names``).
2. The asker's own team: "process control oncall here - line automation says the tank won't fill" asks about the
   runbook Process Control owns ("Owning team: Process Control", "Team: Viticulture"), not the one of the team it
   quotes. ``own_team_scores`` gives the chunks of the runbook whose owning team is the asker's 1; none when no
   candidate, or more than one, is that team's.

Pure functions of the question and the candidates' documents.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from worker.documents.document import Chunk, Document
from worker.engine.base import MAX_QUESTION_CHARS
from worker.engine.names import own_tools, without_spans, word_stems

_FINE = r"(?:all\s+)?(?:green|fine|ok|okay|healthy|normal|good|clean|in\s+band|in\s+spec)\b"

# a tool's status quoted as all well: "<tool> status [args] [shows|says ...] all green", up to one comma before the
# verdict ("gatectl status --all says all gates shut no release order, fine"); dots only inside a word ("TM-1..3")
_TOOL_SAYS_FINE = re.compile(
    r"(?i)(?<![\w-])([a-z][\w-]*)\s+(?:status|health|check|show|get|list|ls|info|read|stat|ps)\b"
    r"((?:[^,;:.?!\n]|\.(?=\S)){0,60}?)(?:,\s*)?(?<!\bnot )(?<!n't )" + _FINE + r"(?!\s*\?)")
# ... or "<tool> [on host] says|shows|reports [a few words] all fine" ("furnacectl on gw-hotend-01 says crown + zones
# are all fine", "safectl shows both stills normal")
_TOOL_REPORTS_FINE = re.compile(
    r"(?i)(?<![\w-])([a-z][\w-]*)(?:\s+(?:on|at|for)\s+[\w.-]+)?\s+(?:says?|shows?|reports?)\s+"
    r"((?:[^,;:.?!\n]|\.(?=\S)){0,60}?)(?:,\s*)?(?<!\bnot )(?<!n't )"
    r"(?:(?:looks?|seems?|is|are)\s+)?" + _FINE + r"(?!\s*\?)")
# a clause that asks whether it is: "does fillctl status look ok", "is gatectl status green?", "can i check if ..."
_ASKING = re.compile(r"(?i)\b(?:does|do|is|are|should|if|whether|can|could)\s+$")


def _tool_reports(question: str, tools: frozenset[str] | None = None) -> list[re.Match[str]]:
    """The clauses of the question that quote a tool saying all is well (one of ``tools``, when given), not those
    that ask about one."""
    head = question[:MAX_QUESTION_CHARS]
    return [match for pattern in (_TOOL_SAYS_FINE, _TOOL_REPORTS_FINE) for match in pattern.finditer(head)
            if not _ASKING.search(head[max(0, match.start() - 12):match.start()])
            and (tools is None or match.group(1).lower() in tools)]


def tools_said_fine(question: str) -> frozenset[str]:
    """The words the question quotes as tools saying all is well (lower case), not those it asks about."""
    return frozenset(match.group(1).lower() for match in _tool_reports(question))


def _candidate_tools(chunks: Sequence[Chunk]) -> frozenset[str]:
    """The own tools (``names.own_tools``) of the candidates' runbooks."""
    documents = {chunk.document.doc_id: chunk.document for chunk in chunks}
    return frozenset().union(*(own_tools(document) for document in documents.values()))


def without_tool_reports(question: str, chunks: Sequence[Chunk]) -> str:
    """The question without the clauses that quote a candidate runbook's own tool saying all is well ("temperctl
    status shows TM-1..3 all in band"): its words are what the asker ruled out, not what to look for (the question
    itself when nothing else is left; "gate log says it sent the code fine" quotes no tool)."""
    tools = _candidate_tools(chunks)
    return without_spans(question, [match.span() for match in _tool_reports(question, tools)] if tools else [])


def without_tool_names(question: str, chunks: Sequence[Chunk]) -> str:
    """The question without the names of the candidate runbooks' own tools that it quotes saying all is well
    ("fillctl status all green": fillctl): no identifier to look for."""
    tools = _candidate_tools(chunks)
    spans = sorted(match.span(1) for match in _tool_reports(question, tools)) if tools else []
    for start, end in reversed(spans):
        question = question[:start] + " " + question[end:]
    return question


def ruled_out_scores(question: str, chunks: Sequence[Chunk]) -> np.ndarray:  # [N] in {0, 1}
    """1 for the chunks of the runbook whose own tool (one no other candidate runbook names as its tool) the
    question quotes saying all is well (rule 1 of the module docstring)."""
    scores = np.zeros(len(chunks), np.float32)
    said = tools_said_fine(question)
    if not said or not chunks:
        return scores
    documents = {chunk.document.doc_id: chunk.document for chunk in chunks}
    if len(documents) < 2:
        return scores
    tools = {doc_id: own_tools(document) for doc_id, document in documents.items()}
    shared = Counter(tool for named in tools.values() for tool in named)
    ruled_out = {doc_id for doc_id, named in tools.items() if any(shared[tool] == 1 for tool in named & said)}
    for index, chunk in enumerate(chunks):
        if chunk.document.doc_id in ruled_out:
            scores[index] = 1.0
    return scores


# the asker speaks for a team, at the question's start: "process control oncall here - ...", "warehouse systems
# oncall, SR-1 hit 88%", "hi, db team here:" (not "wave planner oncall says ...": that quotes a team)
_ASKER_TEAM = re.compile(r"(?i)^\W*(?:(?:hi|hey|hello|morning)\W+)?(?:(?:this is|it'?s|we'?re)\s+(?:the\s+)?)?"
                         r"((?:[a-z][\w&-]*\s+){1,3}?)(?:on-?call|team|rota)(?:\s+here)?\s*(?:[,:;!-]|\.\s|here\b)")
# a runbook's owning team, in its first lines: "Owning team: Line Automation", "- Team: Viticulture, Slack ...",
# "Owner: Viticulture team."
_OWNING_TEAM = re.compile(r"(?im)(?:^|[_*\s])(?:owning team|team|owner|owned by)\s*\**\s*:\s*\**\s*"
                          r"([A-Za-z][\w&/ -]{1,40}?)\s*(?:team\b|rota\b|[,.;|(_*]|$)")
OWNER_LINES = 40  # lines at a runbook's top where its owning team is named


@functools.lru_cache(maxsize=16_384)  # a runbook folder's candidates are the same every question
def owning_team(document: Document) -> frozenset[str]:
    """The stems of the team a runbook names as its owner in its first ``OWNER_LINES`` lines (none when it names
    none)."""
    if document.kind != "runbook" or not document.text:
        return frozenset()
    match = _OWNING_TEAM.search("\n".join(document.text.split("\n", OWNER_LINES)[:OWNER_LINES]))
    return word_stems(match.group(1)) if match else frozenset()


def asker_team(question: str) -> frozenset[str]:
    """The stems of the team the asker speaks for ("process control oncall here - ...": process, control)."""
    match = _ASKER_TEAM.match(question[:MAX_QUESTION_CHARS])
    return word_stems(match.group(1)) if match else frozenset()


def own_team_scores(question: str, chunks: Sequence[Chunk]) -> np.ndarray:  # [N] in {0, 1}
    """1 for the chunks of the one candidate runbook that the asker's team owns (rule 2 of the module docstring)."""
    scores = np.zeros(len(chunks), np.float32)
    team = asker_team(question)
    if not team or not chunks:
        return scores
    documents = {chunk.document.doc_id: chunk.document for chunk in chunks}
    theirs = {doc_id for doc_id, document in documents.items() if team <= owning_team(document)}
    if len(theirs) != 1 or len(documents) < 2:
        return scores
    for index, chunk in enumerate(chunks):
        if chunk.document.doc_id in theirs:
            scores[index] = 1.0
    return scores
