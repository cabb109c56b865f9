"""The answer as one readable passage of the best document, not lines scattered over several.

Runbooks and other text (``text_passage``): the sections that hold the best document's best chunks are
split into blocks (paragraphs, list items with everything indented under them, fenced or indented code,
tables; a block that ends with ":" stays with the one it introduces). Each block is scored on its own
similarity to the question and to what the question asks (``asked_part``; matched against the whole block
and against what the block says it does, its heading and first sentence, ``block_lead``, whichever is
closer: a step's commands do not dilute "Roll back first"), on its section's retrieval score, and on
whether it says what to do (``actionable``; more so when the question asks what to do, when a section
headed as a remedy, ``REMEDY_HEADING``, also counts more; a section headed as how to confirm the fix, "Verify
recovery", is no remedy, and counts more when the question asks how to confirm a fix, ``asks_to_verify``, which
reads it even when retrieval ranked it below the best few); a block that sends the reader to another runbook or
system (redirects.py) counts less: it says where to look, not what to do here.
The best block's section is the passage: whole when it fits ``MAX_CHARS`` and ``MAX_LINES``, else the
best block grown toward its better neighbour while that scores within ``GROW_MARGIN`` and fits. So
numbered steps keep their order and commands and code blocks stay whole. A passage that says nothing to
do runs on into the steps that follow it when they fit. It is headed by the section's title path.

Logs (``log_passage``): an incident chunk widens to the whole incident that log_chunking found (the
error line, the trace, the final exception line), or to the first occurrence of that incident when it
repeats an earlier one (not when the question names a time: "around 2:40" is that one; "since like 2am" is where
the streak of its repeats began), and to the
incidents at most ``EPISODE_GAP`` lines before and after it (the warnings before the errors; ``CAUSE_GAP``
lines before it when the question asks why: the cause comes first); a long one
keeps its first lines, every line that names an exception, the lines that retrieval found and its last
lines. One line of context follows: how many times the incident's first line
occurred in the log (lines equal once timestamps and numbers are masked) and when it was first and last
seen. Another log chunk gives its best line (one that states the kind of value the question asks for,
if any: lookups.py) with ``LOG_CONTEXT_LINES`` lines either side.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from worker.documents.chunking import text_from_chunks
from worker.documents.document import Chunk, Document
from worker.documents.log_chunking import LogLine, fold_repeats, incident_regions, line_severities, record_end
from worker.documents.log_format import (
    TIMESTAMP,
    Severity,
    first_timestamp,
    has_leading_timestamp,
    line_severity,
    line_template,
    opens_record,
    readable_timestamp,
)
from worker.documents.runbook_lookup import RunbookSection, markdown_headings, runbook_sections, section_at
from worker.engine.base import MAX_QUESTION_CHARS
from worker.engine.identifiers import (
    IdentifierFields,
    document_names,
    identifier_scores,
    question_identifiers,
    spelled,
)
from worker.engine.incidents import (
    asks_for_overview,
    background_templates,
    incident_scores,
    subject_words,
    text_severity,
)
from worker.engine.lookups import LINE_KINDS, asked_values, changed_setting_lines, names_version_of, states_value
from worker.engine.moments import asked_spans
from worker.engine.names import without_cleared, word_stems
from worker.engine.redirects import REDIRECT
from worker.engine.sources import asks_who_sends, sender
from worker.engine.suspects import description_words, suspected
from worker.engine.synonyms import WHOM_TO_CALL

MAX_CHARS = 1500  # a passage longer than this is cut to its best blocks (Slack shows ~3000 per section)
MAX_LINES = 30
GROW_MARGIN = 0.12  # a neighbour block joins while it scores at least best - GROW_MARGIN
IDENTIFIER_WEIGHT = 0.35  # of a block's identifier score, next to its similarity to the question
ACTION_BONUS = 0.06  # for a block that says what to do, when choosing the passage
ACTION_BONUS_HOW = 0.15  # the same when the question asks what to do (``asks_what_to_do``)
REMEDY_BONUS = 0.05  # for a block in a section headed as a remedy, when the question asks what to do
VERIFY_BONUS = 0.15  # for a block in a section headed as a verification, when the question asks how to confirm a fix
CONTACT_BONUS = 0.15  # for a block that says whom to call (by its section's heading or its label), when the
# question asks that
DESCRIPTION_PENALTY = 0.1  # for a block of a section that says how to confirm a fix, when the question asks what to
# do or describes a symptom (not how to confirm a fix, a number, a time, a reason or a meaning)
LEAD_PENALTY = 0.1  # for a block of a document's opening text (before its first subsection), when the question
# asks what to do: it says what the service is, the steps are in the sections
MAX_TABLE_ROWS = 100  # rows of a table compared one by one with the question (``_closest_row``)
REDIRECT_PENALTY = 0.1  # for a block that sends the reader to another runbook or system (redirects.REDIRECT)
BLOCK_WEIGHT = 0.5  # of a block's own similarity in its score; the rest is its section's retrieval score
ASK_WEIGHT = 0.5  # of a block's similarity taken from what the question asks (``asked_part``)
MAX_LEAD_CHARS = 200  # of a block's first sentence (``block_lead``)
SECTIONS_CONSIDERED = 3  # the best chunks of the best document whose sections may hold the passage (5 found
# the same passages on every quality set and embedded 40 % more blocks: 389 -> 244 ms a question, p50)
LOG_WINDOW = 400  # lines read around a log chunk to find its whole incident
LOG_CONTEXT_LINES = 2
LOG_HEAD_LINES = 3  # of a long incident, always shown: its first lines, its exception lines, its last lines
LOG_TAIL_LINES = 2
LOG_WORST_LINES = 5  # of a long incident, its first lines of the highest severity are always shown
EPISODE_GAP = 5  # lines of the file between two incidents that make them one passage: the warnings that a
# node lost its quorum, then the errors of its stepping down
CAUSE_GAP = 20  # lines of the file before an incident within which an earlier one joins its passage when the
# question asks why: the cause comes first ("node not responding", then the partition it led to)
OUTAGE_END_LINES = 20  # lines after an incident read for the line that ends it, when the question asks how long
ACTION_REACH_LINES = 80  # lines before a comeback read for the action that brought it (the fix, the restart by hand)
VALUE_LINE_BONUS = 0.3  # for a line that states the kind of value the question asks for (lookups.py)
VALUE_REACH_LINES = 5  # lines past a chunk's edges where a line that states the asked kind of value may be quoted

# question, texts -> one score per text (higher is more similar); the retriever's text score
TextScorer = Callable[[str, Sequence[str]], np.ndarray]

_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_CODE_LINE = re.compile(r"^\s*(?:```|~~~)|^(?: {4}|\t)\s*(?:\$ )?[a-z./][\w./-]* ")  # a fence, indented command
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_COMMAND = re.compile(r"^(?:\$ )?[a-z./][\w./-]* \S")  # "kubectl -n x get pods", "./bin/redrive --from q"
_SETTING = re.compile(r"^[A-Za-z_][\w.-]*\s*[=:]\s*\S")  # "WORKER_CONCURRENCY=16", "memory: 2Gi"
_OPTION = re.compile(r"^--[a-z][\w-]*(?:[ =]\S|$)")  # "rerun with `--post-to-period <YYYY-MM>`"
# inline code that quotes what a program said rather than what to run ("`i/o timeout`", "`heartbeat failed`"):
# words of failure, and no option, path or assignment
_MESSAGE = re.compile(r"(?i)\b(?:fail\w*|timed out|timeout|exceeded|not found|refused|unable|cannot|errors?|invalid"
                      r"|denied|prematurely|too many|not yet|no (?:live|such|space|upstream|endpoints?))\b")
_RUNNABLE = re.compile(r"(?:^|\s)--?\w|(?:^|\s)[~.]{0,2}/\w|[=|<>$]")
# the headings runbooks give to what to do about a problem (as opposed to what it means or how to check it)
REMEDY_HEADING = re.compile(r"(?i)\b(?:mitigat\w*|remediat\w*|resolution|resolv\w*|fix\w*|workarounds?|recover\w*"
                            r"|roll ?backs?|solutions?|what to do|response)\b")
# the heading of a section that says whom to call ("Escalation", "Contacts", "Who to page", "Who do I call?")
_CONTACTS = (r"\b(?:escalat\w*|contacts?|on-?call|who to (?:call|ring|page|contact)|paging"
             r"|who (?:do|should|can) (?:i|we) (?:call|ring|phone|page|contact))\b")
CONTACT_HEADING = re.compile(r"(?i)" + _CONTACTS)
# a line that says whom to call under a label of its own, in a runbook without such a section ("Escalation: Field
# Operations Engineering on-call 01632 960541", "**Contacts:** ...")
CONTACT_LABEL = re.compile(r"(?im)^[\W_]{0,3}" + _CONTACTS + r"[^:\n]{0,30}:")
# the heading of a section that says how to confirm a fix ("Verify recovery", "Validation"): no remedy itself
VERIFY_HEADING = re.compile(r"(?i)\b(?:verif\w*|validat\w*|confirm\w*)\b|\bcheck(?:ing)? (?:it|the fix|the recovery)\b"
                            r"|\b(?:it|that|the fix) worked\b")
# the heading of a section that lists what a problem looks like ("Alerts / Symptoms", "Alerts you might get",
# "Symptoms reported by ops", "What users see"): it describes what the question describes, and deals with none of it
SYMPTOM_HEADING = re.compile(r"(?i)^\W*(?:(?:the|common|typical|known|likely) )?(?:alerts?|alarms?|symptoms?|signs?"
                             r"|what (?:you(?:'ll| will)?|users?|people|customers|\w+s) (?:see|say|report|notice)s?)\b"
                             r"(?!\s*[:—–-]\s*\w)")
# "what does DomeAzimuthLag mean?", "the 5xx alert fired, what exactly is it measuring?": a description answers it
_ASKS_MEANING = re.compile(r"(?i)\bmean(?:s|ing)?\b|\bdefin(?:e|ed|es|ition)\b|\bmeasur\w*"
                           r"|\bwhat (?:exactly )?(?:is|are) (?:it|this|that|they)\b")
# "how do i confirm the lists are healthy again?", "how can we tell it's fixed?": a question for that section
_ASKS_TO_VERIFY = re.compile(r"(?i)\b(?:confirm|verify|make sure|double[- ]?check)\b[^?!.]{0,80}?\b(?:fixed|healthy"
                             r"|working|back|recovered|resolved|good|ok|okay|normal|fine|again)\b"
                             r"|\bhow (?:do|can|would|will) (?:i|we|you) (?:know|tell)\b[^?!.]{0,60}?\b(?:fixed|healthy"
                             r"|working|recovered|resolved|back to normal)\b")
_ITEM = re.compile(r"^( {0,3})(?:[-*+]|\d{1,3}[.)])\s+\S")
_WHY = re.compile(r"(?i)\bwhy\b|\bwhat (?:caused|made|led to|triggered)\b|\broot cause\b|\bhow come\b")
_HOW_OFTEN = re.compile(r"(?i)\bhow (?:many|often)\b|\bnumber of\b")  # a log answer then says how often
_HOW_LONG = re.compile(r"(?i)\bhow long\b|\bdowntime\b|\bduration\b")  # an incident's answer then runs to its end
# a question about when a trouble began, at a time it names only roughly: "failing auth since like 2am", "alerts
# stopped showing up sometime after 2pm": the answer is where the streak of its lines began, not the line nearest
# the time named (not "since the fixpack this morning": that names an event)
_SINCE = re.compile(r"(?i)\bsince (?:(?:like|about|around|roughly|maybe|approx\w*)\s+|~\s*)?\d|\bsome ?time after\b")
STREAK_GAP_LINES = 60  # a line of the same template at most this many lines before the next one continues its streak
MAX_STREAK_LINES = 20_000  # lines read back for a streak's start, at most
_EXCEPTION_LINE = re.compile(
    r"^(?:Caused by: |panic: |\S*(?:Exception|Error)\b|[A-Z]\w+: )|^\S.*\b(?:Exception|Error)\b:"
)


@dataclass(frozen=True)
class Passage:
    document: Document
    heading: str  # "Payments API › Mitigation › Bad deploy" or "checkout-api.log, lines 204-225"
    lines: tuple[str, ...]  # as shown (a long incident has elided runs)
    line_start: int  # the passage's first and last line in the file
    line_end: int
    context: str = ""  # for a log incident: how often and when it was seen

    def as_text(self) -> str:
        """The Slack-ready answer: the heading in bold, the lines quoted, the context under them."""
        quoted = "\n".join(f"> {line}" for line in self.lines)
        text = f"*{self.heading}*\n{quoted}"
        return f"{text}\n{self.context}" if self.context else text

    def as_chunk(self) -> Chunk:
        """What a citation of the passage points at: its exact lines."""
        return Chunk(self.document, "\n".join(self.lines), self.line_start, self.line_end)


def best_passage(question: str, chunks: Sequence[Chunk], scores: np.ndarray, scorer: TextScorer) -> Passage:
    """The passage of the best-ranked chunk's document (``scores``: one per chunk, higher is better): in a
    log, around that chunk (``log_passage``); in other text, ``text_passage`` over the sections of its best
    ``SECTIONS_CONSIDERED`` chunks (and of its best chunk in a section that says how to confirm a fix, when the
    question asks that: ``asks_to_verify``). A document whose text was left unread (an indexed Slack file) is read
    from its chunks (``text_from_chunks``)."""
    top = int(np.argmax(scores))
    document = chunks[top].document
    mine = [i for i, chunk in enumerate(chunks) if chunk.document.doc_id == document.doc_id]
    readable = document
    if document.content_key and not document.text:
        readable = replace(document, text=text_from_chunks(document, [chunks[i] for i in mine]))
    if document.kind == "log":
        log = [chunks[i] for i in mine]
        suspects = suspected(question, log) | _unasked_background(question, log)
        passage = log_passage(question, replace(chunks[top], document=readable), scorer, suspects)
        if asks_for_overview(question, log):  # the other incidents, worst first (incidents.py)
            weights = incident_scores(question, log)
            passage = _with_other_incidents(passage, [log[i] for i in np.argsort(-weights, kind="stable")], suspects)
    else:
        ranked = sorted(mine, key=lambda i: -float(scores[i]))
        best = ranked[:SECTIONS_CONSIDERED]
        if asks_to_verify(question):  # and the best chunk of a section that says how to confirm a fix
            best += [i for i in ranked[SECTIONS_CONSIDERED:]
                     if _in_section_headed(readable, chunks[i].line_start, VERIFY_HEADING)][:1]
        considered = [(replace(chunks[i], document=readable), float(scores[i])) for i in best]
        if asks_whom_to_call(question):  # and the best chunk that says whom to call, as the best
            considered += [(replace(chunks[i], document=readable), float(scores[ranked[0]])) for i in ranked
                           if _in_section_headed(readable, chunks[i].line_start, CONTACT_HEADING)
                           or CONTACT_LABEL.search(chunks[i].text)][:1]
        passage = text_passage(without_cleared(question), considered, scorer)
    return replace(passage, document=document)


def _unasked_background(question: str, log: Sequence[Chunk]) -> frozenset[str]:
    """The templates of a log's background lines (incidents.py's ``background_templates``) that share no word
    with the question but the log's own subject (``subject_words``): they head no incident (a burst of deferrals
    while the virus scanner was down is headed by the scanner's error, not by the hourly TLS probe failure logged
    among them; ``log``: one log's chunks)."""
    ordered = sorted(range(len(log)), key=lambda i: log[i].line_start)
    described = description_words(question[:MAX_QUESTION_CHARS])
    asked = described - subject_words(described, [log[i] for i in ordered])
    return frozenset(template for template in background_templates(log, ordered) if not asked & word_stems(template))


_CLAUSE = re.compile(r"[,;:.!?]+\s+|\s+(?:and|but|so)\s+")
_ASKING = re.compile(r"(?i)^(?:how|what|which|where|when|who|why|can|could|should|shall|do|does|is there|are there"
                     r"|is it|any way|anything|(?:ok|okay|safe|fine|alright) to)\b")


def asked_part(question: str) -> str:
    """What a question asks, without the situation it describes first: "the indexer stopped on X, can I
    make it skip the bad product?" -> "can I make it skip the bad product?"; the question itself when it
    has no such clause, or when that clause is the whole question."""
    clauses = [c for c in _CLAUSE.split(question[:MAX_QUESTION_CHARS].strip()) if c.strip()]
    asking = [i for i, clause in enumerate(clauses) if _ASKING.match(clause.strip())]
    if not asking or asking[-1] == 0:
        return question
    return " ".join(clauses[asking[-1]:])


_WHAT_TO_DO = re.compile(
    r"(?i)\b(?:how (?:do|can|should|would|to)|what (?:do|should|can) (?:i|we)|(?:can|should|could) (?:i|we)"
    r"|wh?at (?:do|to do)(?: now)?(?=\W*$)"  # "... wat do"
    r"|(?:thing|things|move) to do"  # "whats the immediate thing to do"
    r"|(?:ok|okay|safe|fine|alright) to (?:just )?\w+"
    r"|(?:anything|something) (?:i|we|you) (?:can|could|should)"
    r"|where (?:do|should|can) (?:i|we) (?:start|begin|look first)|where to (?:start|begin)"  # the first step
    # the setting to put it in: "what mode should the water controller go in?"
    r"|wh(?:at|ich) (?:mode|setting|value|state|option|flag|recipe|profile|config\w*) (?:should|must|do|to)"
    r"|is there a way|any way|(?:fastest|quickest|easiest|safest|best) way|way back"
    r"|steps?|procedure|fix|resolve|mitigate|recover|restore|roll ?back|revert|undo"
    r"|restart|rebuild|replay|re-?run|raise|scale|switch|enable|disable|turn (?:on|off))\b"
)


_SENTENCE_END = re.compile(r"(?<=[.:!?])\s")


def block_lead(text: str) -> str:
    """What a block says it is about: its first sentence, before any code (``"Roll back first, investigate
    after:"`` of a step whose command follows), without a list marker."""
    prose = []
    for line in text.split("\n"):
        if _CODE_LINE.match(line) or _FENCE.match(line.lstrip()):
            break
        prose.append(line.strip())
    words = _ITEM.sub(lambda item: item.group(0)[-1], " ".join(prose), count=1).strip()
    return _SENTENCE_END.split(words, maxsplit=1)[0][:MAX_LEAD_CHARS] if words else text[:MAX_LEAD_CHARS]


def asks_to_verify(question: str) -> bool:
    """The question asks how to confirm that a fix worked ("how do i confirm the lists are healthy again?")."""
    return bool(_ASKS_TO_VERIFY.search(question[:MAX_QUESTION_CHARS]))


_ASKS_WHOM_TO_CALL = re.compile(r"(?i)" + WHOM_TO_CALL)


def asks_whom_to_call(question: str) -> bool:
    """The question asks whom to call ("who do i get out here at 2am"): a section headed as such answers it."""
    return bool(_ASKS_WHOM_TO_CALL.search(question[:MAX_QUESTION_CHARS]))


def asks_what_to_do(question: str) -> bool:
    """The question asks for an action ("how do I...", "can I...", "fix", "roll back") rather than a fact."""
    return bool(_WHAT_TO_DO.search(question[:MAX_QUESTION_CHARS]))


_FACT_OR_REASON = re.compile(
    r"(?i)\bhow (?:many|much|long|often|big|large|far|fast|soon)\b|\bwhat time\b|\bwhen\b"
    # "whats the threshold on that one?"
    r"|\bwhat(?:'?s| is| are) (?:the |its |their )?(?:threshold|limit|cut-?off|default|setpoint|ttl|retention"
    r"|max(?:imum)?|min(?:imum)?)s?\b"
    r"|\b(?:can't|cannot|can not|couldn't|why (?:can't|don't|not))\s+(?:we|i|you|it)\b"
)


def asks_fact_or_reason(question: str) -> bool:
    """The question asks for a number, a time or the reason something is so ("how many requests...",
    "can't we just let it evict?"): a block that says what to do earns nothing for that alone."""
    return bool(_FACT_OR_REASON.search(question[:MAX_QUESTION_CHARS]))


# "can I just disable that site?", "is it ok to bump the setpoint to 2.5?": the question asks whether something is
# allowed, and a rule about it answers as well as a step
_PERMISSION = re.compile(r"(?i)\b(?:can|could|may|should) (?:i|we) (?:just |simply |not )?\w+"
                         r"|\b(?:ok|okay|safe|fine|alright|allowed) to\b")
# a rule about what may be done: "Never set a setpoint above 2.0 mg/L from the bridge", "needs written approval"
_RULE = re.compile(r"(?i)\b(?:never|do not|don't|must not|mustn't|may not|not allowed|forbidden|prohibited)\b"
                   r"|\bapproval\b")


def asks_permission(question: str) -> bool:
    """The question asks whether something is allowed ("can I just disable that site?", "ok to bump it?"): a rule
    about it (``_RULE``) answers it as well as a step does."""
    return bool(_PERMISSION.search(question[:MAX_QUESTION_CHARS]))


# "about to restart encl-gw-02, anything i should know first?", "any gotchas before i fail over?": the asker knows
# what to do and asks what to mind while doing it
_CAUTION = re.compile(r"(?i)\banything (?:i|we) (?:should|need to|ought to|must) (?:know|be aware of|watch|mind)\b"
                      r"|\bany (?:gotchas?|caveats?|pitfalls?|warnings?|risks?)\b|\bwatch out for\b"
                      r"|\bwhat (?:should|do) (?:i|we) (?:watch out for|be careful|mind)\b|\bheads[- ]up\b")
# a warning in a runbook: a rule (``_RULE``) or a block marked as one
_WARNING = re.compile(r"(?i)\b(?:warning|caution|careful|gotcha|beware)\b")


def asks_caution(question: str) -> bool:
    """The question says what the asker is about to do and asks what to mind (``_CAUTION``): a warning (``_RULE``,
    ``_WARNING``) answers it, not the step that does it."""
    return bool(_CAUTION.search(question[:MAX_QUESTION_CHARS]))


def _warns(text: str) -> bool:
    return bool(_RULE.search(text) or _WARNING.search(text))


def actionable(text: str) -> bool:
    """The text says what to do: a code block, or inline code that is a command, a setting or a command's
    option (not a message it quotes: ``_MESSAGE``)."""
    return any(_CODE_LINE.match(line) for line in text.split("\n")) or any(
        (_COMMAND.match(code) or _SETTING.match(code) or _OPTION.match(code))
        and not (_MESSAGE.search(code) and not _RUNNABLE.search(code))
        for code in _INLINE_CODE.findall(text))


# ---- runbooks and other text --------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    start: int  # index into the section's lines, inclusive
    end: int  # inclusive


def text_blocks(lines: Sequence[str]) -> list[Block]:
    """Paragraphs, list items (with what is indented under them), code and tables; blank lines between
    blocks belong to none. A block ending with ":" is joined with the next one."""
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        end = _block_end(lines, i)
        blocks.append(Block(i, end))
        i = end + 1
    joined: list[Block] = []
    for block in blocks:
        if joined and lines[joined[-1].end].rstrip().endswith(":"):
            joined[-1] = Block(joined[-1].start, block.end)
        else:
            joined.append(block)
    return joined


def _block_end(lines: Sequence[str], start: int) -> int:
    """The last line of the block that starts at ``start``."""
    line = lines[start]
    if _FENCE.match(line):
        return _fence_end(lines, start)
    item = _ITEM.match(line)
    if item:  # the item, its wrapped lines and everything indented deeper than its marker
        indent = len(item.group(1))
        end = start
        i = start + 1
        while i < len(lines):
            current = lines[i]
            if not current.strip():
                i += 1
                continue
            depth = len(current) - len(current.lstrip())
            if depth <= indent and (_ITEM.match(current) or i > end + 1 or _FENCE.match(current)):
                break  # a sibling item, or unindented text after a blank line
            if _FENCE.match(current):
                i = _fence_end(lines, i)
            end = i
            i += 1
        return end
    if line.lstrip().startswith("|"):
        end = start
        while end + 1 < len(lines) and lines[end + 1].lstrip().startswith("|"):
            end += 1
        return end
    indented = line.startswith(("    ", "\t"))
    end = start
    while end + 1 < len(lines):
        following = lines[end + 1]
        if not following.strip() or _FENCE.match(following) or following.lstrip().startswith("|"):
            break
        if not indented and _ITEM.match(following):
            break
        if indented != following.startswith(("    ", "\t")):
            break
        end += 1
    return end


def _fence_end(lines: Sequence[str], start: int) -> int:
    marker = _FENCE.match(lines[start].lstrip())
    fence = marker.group(1) if marker else "```"
    for i in range(start + 1, len(lines)):
        if lines[i].lstrip().startswith(fence):
            return i
    return len(lines) - 1


@dataclass(frozen=True)
class _Section:
    heading: str  # "Title › Section › Subsection"
    level: int  # of its heading, 1-6; 0 for text before any heading or outside sections
    first: int  # line number in the file of its first line after the heading
    lines: list[str]
    blocks: list[Block]

    @property
    def remedy(self) -> bool:
        """Its heading path names it as what to do about a problem (``REMEDY_HEADING``), and its own heading
        not as how to confirm the fix ("Verify recovery")."""
        return bool(REMEDY_HEADING.search(self.heading)) and not self.verification

    @property
    def verification(self) -> bool:
        """Its own heading names it as how to confirm a fix (``VERIFY_HEADING``: "Verify recovery")."""
        return bool(VERIFY_HEADING.search(self.heading.rsplit(" › ", 1)[-1]))

    @property
    def contacts(self) -> bool:
        """Its own heading names it as whom to call (``CONTACT_HEADING``: "Escalation")."""
        return self.level > 0 and bool(CONTACT_HEADING.search(self.heading.rsplit(" › ", 1)[-1]))

    @functools.cached_property
    def symptoms(self) -> bool:
        """Its own heading names it as a list of what problems look like (``SYMPTOM_HEADING``: "Alerts / Symptoms";
        not one problem, "Symptom: terminals print SALES HALTED", nor what to do about them), and most of its blocks
        say nothing to do."""
        own = self.heading.rsplit(" › ", 1)[-1]
        if self.level == 0 or not SYMPTOM_HEADING.search(own) or REMEDY_HEADING.search(own):
            return False
        steps = sum(_says_what_to_do(self, block) for block in self.blocks)
        return steps * 2 <= len(self.blocks)


def _in_section_headed(document: Document, line: int, heading: re.Pattern[str]) -> bool:
    """The line lies in a section whose own heading matches ``heading`` (``VERIFY_HEADING``: "Verify recovery";
    ``CONTACT_HEADING``: "Escalation")."""
    section = section_at(document, line)
    return section is not None and section.level > 0 and bool(heading.search(section.path[-1]))


def _read_section(document: Document, section: RunbookSection) -> _Section:
    """A section of the document's outline, read as ``_section_of`` reads a chunk's."""
    return _section_of(Chunk(document, "", section.line_start, section.line_start))


def _section_of(chunk: Chunk) -> _Section:
    """The section that holds the chunk's first line, without its heading line (its title); the chunk's
    own lines when it is in no section."""
    document = chunk.document
    all_lines = document.text.split("\n")
    section = section_at(document, chunk.line_start)
    path: tuple[str, ...] = ()
    if section is None:
        first, last = chunk.line_start, chunk.line_end
    else:
        first, last, path = section.line_start, section.own_end, section.path
        if section.level > 0:
            first += 1  # the heading line is the passage's title
            if first <= last and set(all_lines[first - document.first_line].strip()) <= set("=-"):
                first += 1  # a setext underline
    lines = all_lines[first - document.first_line:last - document.first_line + 1]
    heading = " › ".join(dict.fromkeys((document.title, *path)))
    return _Section(heading, section.level if section else 0, first, lines, text_blocks(lines))


def text_passage(question: str, ranked: Sequence[tuple[Chunk, float]], scorer: TextScorer) -> Passage:
    """The best span of one section of a document, given its best chunks with their retrieval scores.

    Every block of the sections those chunks lie in is scored (``_block_totals``). When the block that
    reads closest to the question in its section sends the reader to another section of the document by
    its title (``_routed_section``: "`Number of columns ... does not match`: go to \"Schema change
    upstream\""), that section is read too, with the score of the one that sent there, and that block is
    not the passage's best (it says no more than where to look). When the best block lists what problems look like
    and says nothing to do (``_describes_only``: "Alerts / Symptoms"), the document's other sections are read with
    its score, and the list is not the passage. The best block's section is the passage's; in it, the span grows
    from the best block (``_best_span``)."""
    document = ranked[0][0].document
    sections: dict[int, tuple[_Section, float]] = {}
    for chunk, score in ranked:
        _keep_best(sections, _section_of(chunk), score)
    candidates = _candidates(sections)
    if not candidates:
        chunk = ranked[0][0]
        return Passage(document, document.title, (chunk.text,), chunk.line_start, chunk.line_end)
    totals, similarity = _block_totals(question, document, candidates, scorer)
    chosen = totals
    routed = _routed_section(question, document, candidates, similarity, scorer)
    if routed is not None:  # the step that points there says no more than where to look
        router, target, score, step = routed
        if _keep_best(sections, target, score):
            candidates = _candidates(sections)
            totals, _ = _block_totals(question, document, candidates, scorer)
        target = sections[target.first][0]  # the one kept, when that section was a candidate already
        chosen = np.where([candidate[0] is router[0] and candidate[2] == router[2] for candidate in candidates],
                          -np.inf, totals)
        if step is not None:  # a numbered step: the passage grows from it
            steps = [candidate[0] is target and target.first + candidate[2].start == step for candidate in candidates]
            if any(steps):
                totals = np.where(steps, totals.max() + 1.0, totals)
                chosen = np.where(steps, totals, -np.inf)
    best, _, closest = candidates[int(np.argmax(chosen))]
    if _describes_only(question, best, closest):  # a list of symptoms: read what the document does about them
        score = sections[best.first][1]
        for other in _other_sections(document):
            _keep_best(sections, other, score)
        candidates = _candidates(sections)
        totals, _ = _block_totals(question, document, candidates, scorer)
        chosen = np.where([section.symptoms and not _says_what_to_do(section, block)
                           for section, _, block in candidates], -np.inf, totals)
        best, _, closest = candidates[int(np.argmax(chosen))]
    mine = [n for n, (section, _, _) in enumerate(candidates) if section is best]
    start, end = _best_span(best.lines, best.blocks, totals[mine])
    lines = best.lines[start:end + 1]
    says_whom_to_call = best.contacts or bool(CONTACT_LABEL.match(lines[0]))  # which is what to do
    if not actionable("\n".join(lines)) and not says_whom_to_call:
        lines = _up_to_next_step(document, best, best.first + start, lines)
    passage = Passage(document, best.heading, tuple(lines), best.first + start, best.first + start + len(lines) - 1)
    if asks_fact_or_reason(question):
        return passage
    passage = _with_its_alternative(passage, scorer)
    return _with_its_remedy(passage, best, "\n".join(best.lines[closest.start:closest.end + 1]), scorer)


def _keep_best(sections: dict[int, tuple[_Section, float]], section: _Section, score: float) -> bool:
    """Keeps the section with this score (by its first line) unless it is kept with a higher one already; whether it
    was kept."""
    if section.first in sections and sections[section.first][1] >= score:
        return False
    sections[section.first] = (section, score)
    return True


def _candidates(sections: dict[int, tuple[_Section, float]]) -> list[_Candidate]:
    """Every block of the kept sections, with its section and that section's score."""
    return [(section, score, block) for section, score in sections.values() for block in section.blocks]


def _says_what_to_do(section: _Section, block: Block) -> bool:
    return actionable("\n".join(section.lines[block.start:block.end + 1]))


def _describes_only(question: str, section: _Section, block: Block) -> bool:
    """The block closest to the question lists what a problem looks like (a section headed ``SYMPTOM_HEADING``:
    "Alerts / Symptoms", "Symptoms reported by ops") and says nothing to do about it, and the question asks what
    to do or describes a symptom (not for a number, a time, a reason or what an alert means). Such a list is where
    the reader looks the symptom up, as in an index: the answer is what the rest of the document says about it, its
    checks, remedies and problem sections read with the list's score ("the boat is shown in the car park" -> "Boat
    "in the car park" (position jumps): ... `aisctl filter add ...`"), the list itself left out."""
    return (section.symptoms and not _says_what_to_do(section, block) and not asks_fact_or_reason(question)
            and not _ASKS_MEANING.search(question[:MAX_QUESTION_CHARS]))


def _remedy_sections(document: Document) -> list[_Section]:
    """The document's sections headed as what to do about a problem (``REMEDY_HEADING``), not as how to confirm a
    fix."""
    return [_read_section(document, s) for s in runbook_sections(document)
            if s.level > 0 and REMEDY_HEADING.search(" › ".join(s.path)) and not VERIFY_HEADING.search(s.path[-1])]


def _other_sections(document: Document) -> list[_Section]:
    """The document's sections under a heading (not its opening) that neither list symptoms nor say how to
    confirm a fix."""
    sections = [_read_section(document, s) for s in runbook_sections(document) if s.level > 1]
    return [section for section in sections if not section.symptoms and not section.verification]


# what a rule says to do instead of what it forbids: "Never remove a site ... because it is noisy; blank the sector
# instead", "don't restart the pod, instead drain the node"
_INSTEAD = re.compile(r"(?i)(?:^|[;:,.(]\s*|\b(?:but|and|so)\s+)(\w[^;:,.()\n]{3,80}?)\s+instead\b(?! of\b)"
                      r"|\binstead,?\s+(\w[^;:.()\n]{3,80})")
ALTERNATIVE_MATCH = 0.5  # a step's similarity to what a rule says to do instead, at least, for it to be that step


def _with_its_alternative(passage: Passage, scorer: TextScorer) -> Passage:
    """A passage that forbids something and says in words what to do instead (``_INSTEAD``: "never remove a site
    from the mosaic; blank the sector instead"), followed by the step elsewhere in the document that does it and
    reads closest to it (at least ``ALTERNATIVE_MATCH``, ``REMEDY_MARGIN`` closer than any other step: "You may
    blank a sector for at most 6 hours with `radarctl qc blank ...`"), when both fit the size limits. As it is
    otherwise, or when the rule's own words hold the command."""
    text = "\n".join(passage.lines)
    instead = _INSTEAD.search(text.replace("\n", " "))
    if instead is None or not _RULE.search(text):
        return passage
    alternative = instead.group(1) or instead.group(2)
    if actionable(alternative):
        return passage
    document = passage.document
    sections = [_read_section(document, s) for s in runbook_sections(document)]
    steps = [(section, block, text) for section, block, text in _steps(sections)
             if not passage.line_start <= section.first + block.start <= passage.line_end]
    step = _closest_step(alternative, steps, scorer, ALTERNATIVE_MATCH)
    if step is None:
        return passage
    return _followed_by(passage, f"  … instead, from {step[0].heading.rsplit(' › ', 1)[-1]}:", step)


# the headings of a runbook's checks (as opposed to what to do about what they find)
DIAGNOSIS_HEADING = re.compile(r"(?i)\b(?:diagnos\w*|triage|investigat\w*|troubleshoot\w*|checks?|verif\w*)\b")
REMEDY_MATCH = 0.6  # a remedy step's similarity to a check, at least, for it to be that check's remedy
REMEDY_MARGIN = 0.05  # and by how much, at least, it reads closer to the check than any other remedy step


def _with_its_remedy(passage: Passage, section: _Section, check: str, scorer: TextScorer) -> Passage:
    """A passage from a runbook's checks (a section headed ``DIAGNOSIS_HEADING``, not how to confirm a fix) with,
    after it, the step of its remedy sections (``REMEDY_HEADING``) that reads closest to its best block (``check``:
    the one closest to the question), when that step says what to do (not only what not to do: ``_only_forbids``),
    reads at least ``REMEDY_MATCH`` like it and ``REMEDY_MARGIN`` closer than any other remedy step (not one of
    several alike), and both fit the size limits: "`LAST_PUSH` older than 5 min means the gates still have an old
    paid list" is followed by "Sync lag: push the full paid list now" and its command. As it is otherwise. For a
    question that asks what to do or describes a symptom (not one for a number, a time or a reason)."""
    document = passage.document
    if not DIAGNOSIS_HEADING.search(section.heading) or section.remedy or section.verification:
        return passage
    remedies = [remedy for remedy in _remedy_sections(document) if remedy.first > passage.line_end]
    steps = [step for step in _steps(remedies) if not _only_forbids(step[2])]
    step = _closest_step(check, steps, scorer, REMEDY_MATCH)
    if step is None:
        return passage
    remedy, block, _ = step
    skipped = remedy.first + block.start - passage.line_end - 1
    return _followed_by(passage, f"  … {skipped} more lines, then {remedy.heading.rsplit(' › ', 1)[-1]}:", step)


_Step = tuple["_Section", Block, str]  # a block that says what to do, its section and its text


def _only_forbids(text: str) -> bool:
    """The step opens with a rule (``_RULE``) and says with no command what to do instead: "Do NOT set a tool's
    state by hand with `dspctl tool-state --set UP`; the next event overwrites it. Resync instead." names a
    command only to forbid it, so it is no check's remedy (the step that resyncs is)."""
    first, *rest = _SENTENCE_END.split(" ".join(line.strip() for line in text.split("\n")), maxsplit=1)
    return bool(_RULE.search(first)) and not actionable(" ".join(rest))


def _steps(sections: Sequence[_Section]) -> list[_Step]:
    """The blocks of ``sections`` that say what to do (``actionable``), with their text."""
    return [(section, block, text) for section in sections for block in section.blocks
            if actionable(text := "\n".join(section.lines[block.start:block.end + 1]))]


def _closest_step(text: str, steps: Sequence[_Step], scorer: TextScorer, minimum: float) -> _Step | None:
    """The step that reads closest to ``text``, when it reads at least ``minimum`` like it and ``REMEDY_MARGIN``
    closer than any other step (not one of several alike); None otherwise."""
    if not steps:
        return None
    similarity = scorer(text, [step_text for _, _, step_text in steps])
    order = np.argsort(-similarity)
    best = float(similarity[order[0]])
    runner_up = float(similarity[order[1]]) if len(order) > 1 else 0.0
    return steps[int(order[0])] if best >= minimum and best - runner_up >= REMEDY_MARGIN else None


def _followed_by(passage: Passage, label: str, step: _Step) -> Passage:
    """The passage with ``label`` and the step's lines after its own, its line range stretched to the step's, when
    all of it fits the size limits; as it is otherwise."""
    section, block, _ = step
    first = section.first + block.start
    shown = section.lines[block.start:block.end + 1]
    lines = [*passage.lines, label, *shown]
    if sum(len(line) + 1 for line in lines) > MAX_CHARS or len(lines) > MAX_LINES:
        return passage
    return replace(passage, lines=tuple(lines), line_start=min(passage.line_start, first),
                   line_end=max(passage.line_end, first + len(shown) - 1))


_Candidate = tuple["_Section", float, Block]  # a block, its section and that section's retrieval score


def _block_totals(question: str, document: Document, candidates: Sequence[_Candidate], scorer: TextScorer
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Each block's score for the passage, and its similarity alone (both [N]): ``BLOCK_WEIGHT`` of its own
    similarity to the question (with the section's title path; exact identifiers count; half of it from what
    the question asks, compared with the block and with its lead, ``block_lead``, whichever is closer), the
    rest the retrieval score of its section's best chunk, plus ``ACTION_BONUS`` when it says what to do
    (``actionable``: on-call questions, even those that describe a symptom, want the step that deals with
    it; not those that ask for a number, a time or a reason, ``asks_fact_or_reason``) or, when the question asks
    whether something is allowed (``asks_permission``), when it states a rule (``_RULE``: "Never set a setpoint
    above 2.0 mg/L"), and, for a question that asks what to mind before a step (``asks_caution``), only when it warns
    (the larger bonus), plus ``CONTACT_BONUS`` in a section headed as whom to call or under such a label
    (``CONTACT_LABEL``) when the question asks that (``asks_whom_to_call``), plus ``REMEDY_BONUS`` in a section
    headed as a remedy when the question asks what to do (not how to confirm a fix), less ``LEAD_PENALTY`` for the
    document's opening text then, plus ``VERIFY_BONUS`` in a section headed as how to confirm a fix ("Verify
    recovery") when the question asks that (``asks_to_verify``) and
    less ``DESCRIPTION_PENALTY`` there when it asks what to do or describes a symptom (the check describes the
    symptom going away in its own words), less ``REDIRECT_PENALTY`` for a block that sends the reader elsewhere."""
    texts = ["\n".join(section.lines[b.start:b.end + 1]) for section, _, b in candidates]
    headed = [f"{section.heading}\n{t}" for (section, _, _), t in zip(candidates, texts, strict=True)]
    leads = [f"{section.heading.rsplit(' › ', 1)[-1]}\n{block_lead(t)}"
             for (section, _, _), t in zip(candidates, texts, strict=True)]
    similarity = scorer(question, headed)
    ask = asked_part(question)
    asked = np.maximum(scorer(ask, headed), scorer(ask, leads))
    similarity = (1 - ASK_WEIGHT) * similarity + ASK_WEIGHT * asked
    similarity = np.maximum(similarity, _closest_rows(question, ask, candidates, headed, scorer))
    names = document_names(document)  # an alert named after the runbook and a section meets that section's heading
    fields = [IdentifierFields(document="", names=names, headings=spelled(section.heading), text=spelled(text))
              for (section, _, _), text in zip(candidates, texts, strict=True)]
    lead = _lead_text(document)  # names the whole document's hosts and services: no block's own
    similarity = similarity + IDENTIFIER_WEIGHT * identifier_scores(
        question, fields, leave_out=[name for name in question_identifiers(question) if name in lead])
    how = asks_what_to_do(question)
    bonus = ACTION_BONUS_HOW if how else 0.0 if asks_fact_or_reason(question) else ACTION_BONUS
    ruled = asks_permission(question)  # a rule answers it as a step does
    caution = asks_caution(question)  # a warning answers it, the step that does it does not
    if caution:
        bonus = ACTION_BONUS_HOW
    verify = VERIFY_BONUS if asks_to_verify(question) else 0.0
    contact = CONTACT_BONUS if asks_whom_to_call(question) else 0.0
    remedy = REMEDY_BONUS if how and not verify else 0.0  # "how do i confirm it's fixed" asks for no remedy
    overview = LEAD_PENALTY if how and lead else 0.0
    describing = 0.0 if verify or asks_fact_or_reason(question) or _ASKS_MEANING.search(question[:MAX_QUESTION_CHARS]) \
        else DESCRIPTION_PENALTY
    totals = np.asarray([BLOCK_WEIGHT * float(similarity[n]) + (1 - BLOCK_WEIGHT) * score
                         + bonus * (_warns(texts[n]) if caution
                                    else actionable(texts[n]) or (ruled and bool(_RULE.search(texts[n]))))
                         + remedy * section.remedy + verify * section.verification - overview * (section.level <= 1)
                         + contact * (section.contacts or bool(CONTACT_LABEL.match(texts[n])))
                         - describing * section.verification
                         - REDIRECT_PENALTY * bool(REDIRECT.search(texts[n]))
                         for n, (section, score, _) in enumerate(candidates)])
    return totals, similarity


# a section named in a step: "go to \"Schema change upstream\"", "see “Scale up”", "the Failover section"
_SECTION_REFERENCE = re.compile(r'"([^"\n]{2,80})"|“([^”\n]{2,80})”|\bthe ([A-Z][\w /&-]{1,60}?) section\b')


def _routed_section(question: str, document: Document, candidates: Sequence[_Candidate], similarity: np.ndarray,
                    scorer: TextScorer) -> tuple[_Candidate, _Section, float, int | None] | None:
    """The best-matching block of the best section when it sends the reader to another section of the
    document by its title or to a numbered step (``_referenced``), that section, the score of the one that sent
    there and the first line of the step the passage starts at (None for a section named by its title, which
    competes with the others); None when it sends nowhere (or to its own section). A triage list's step that
    matches the question is followed as a reader follows it; in a table, the row that matches it
    (``_closest_row``), not another row of it. So too, for a question that asks what to do, the row of any
    candidate section that holds an identifier the question names, to where the passage starts: "ApptBridgeQueue
    Backlog paging, ok to bounce both nodes?" follows "`ApptBridgeQueueBacklog`: depth above 500 for 10 minutes. Go
    to step 2."."""
    if asks_fact_or_reason(question):  # "whats the threshold on that alert?": its row says, not where it points
        return None
    best = max(range(len(candidates)), key=lambda n: candidates[n][1])
    section, score, _ = candidates[best]
    mine = [n for n, candidate in enumerate(candidates) if candidate[0] is section]
    closest = max(mine, key=lambda n: float(similarity[n]))
    block = candidates[closest][2]
    found = _referenced(document, section, _closest_row(question, section.lines[block.start:block.end + 1], scorer))
    if found is not None:
        return candidates[closest], found[0], score, found[1]
    if asks_whom_to_call(question) or asks_to_verify(question):
        return None
    names = [name for name in question_identifiers(question) if len(name.split()) >= NAMED_ROW_WORDS]
    for n, (other, other_score, other_block) in enumerate(candidates):
        lines = other.lines[other_block.start:other_block.end + 1]
        rows = [row for row in lines if any(name in spelled(row) for name in names)]
        found = _referenced(document, other, rows[0]) if len(rows) == 1 else None
        if found is not None:  # the alert's own pointer: the passage starts where it points
            target, step = found
            return candidates[n], target, other_score, target.first + target.blocks[0].start if step is None else step
    return None


NAMED_ROW_WORDS = 3  # words, at least, of the spelled-out identifier a row must hold (an alert's name, not "5xx")
# a numbered step named in a row: "Go to step 2.", "| `FleetReadyBufferLow` | ... | Step 1 |", "(step 5)"
_STEP_REFERENCE = re.compile(r"(?i)\bstep (\d{1,2})\b")


def _referenced(document: Document, section: _Section, row: str) -> tuple[_Section, int | None] | None:
    """The other section of the document that a row sends the reader to: by its title ("go to \"Schema change
    upstream\""), or by a step's number, a section titled so ("### Step 2: allocation failing") or an item so
    numbered in a list ("2. Backlog. Look at the queue depth", the first such after the row's section, else before
    it; not when the row's own section has a step so numbered: "add `--views x` to the command in step 3" means its
    own list's step 3), with the line that step starts at (None for a title); None when it sends nowhere else."""
    sections = [s for s in runbook_sections(document) if s.level > 0 and s.path[-1] != document.title]
    titles = {_normal_title(s.path[-1]): s for s in sections}
    for match in _SECTION_REFERENCE.finditer(row):
        target = titles.get(_normal_title(next(group for group in match.groups() if group)))
        if target is not None and (routed := _read_section(document, target)).first != section.first:
            return routed, None
    steps = _STEP_REFERENCE.findall(row)
    if not steps:
        return None
    read = sorted(((s.path[-1], _read_section(document, s)) for s in sections),
                  key=lambda pair: (pair[1].first < section.first, pair[1].first))  # those after the row's first
    for number in steps:
        titled = re.compile(rf"(?i)step {number}\b")
        step = next((other for title, other in read if titled.match(title)), None)
        if step is not None and step.first != section.first:
            return step, step.first + step.blocks[0].start if step.blocks else None
        item = re.compile(rf"^ {{0,3}}{number}[.)]\s")
        if any(item.match(section.lines[block.start]) for block in section.blocks):
            continue  # "add `--views x` to the command in step 3": a step of the row's own list
        for _, other in read:
            if other.first == section.first:
                continue
            for block in other.blocks:
                if item.match(other.lines[block.start]):
                    return other, other.first + block.start
    return None


def _table_rows(lines: Sequence[str]) -> list[str]:
    """A table's rows, its header first (a separator row left out); [] for a block that is no table or one of more
    than ``MAX_TABLE_ROWS`` rows."""
    rows = [line for line in lines if line.strip()]
    if not 2 <= len(rows) <= MAX_TABLE_ROWS or not all(row.lstrip().startswith("|") for row in rows):
        return []
    return [row for row in rows if not _TABLE_SEPARATOR.match(row)]


_TABLE_SEPARATOR = re.compile(r"^\s*\|?[\s:|-]+\|[\s:|-]*$")


def _closest_rows(question: str, ask: str, candidates: Sequence[_Candidate], headed: Sequence[str],
                  scorer: TextScorer) -> np.ndarray:
    """Per block (``[N]``): for a table, the similarity of the row that reads closest to the question, read under
    the table's header and its section's title (as ``_block_totals`` reads a block: half of it from what the question
    asks); 0 for any other block. A symptom table's row ("Driver's tablet shows an old route or last storm's
    route") answers as a step does, though the whole table reads like many questions at once. The rows are scored
    beside the blocks' own texts (``headed``), since the scorer's word overlap is relative to the best text it is
    given: scored alone, the least bad of three rows of thresholds would overlap as much as the right step."""
    out = np.zeros(len(candidates), np.float32)
    texts, owners = [], []
    for n, (section, _, block) in enumerate(candidates):
        rows = _table_rows(section.lines[block.start:block.end + 1])
        for row in rows[1:]:
            texts += [f"{section.heading}\n{rows[0]}\n{row}", row.strip().strip("|").split("|", 1)[0]]
            owners += [n, n]
    if not texts:
        return out
    shared = [*headed, *texts]
    read = (1 - ASK_WEIGHT) * scorer(question, shared)[len(headed):] + ASK_WEIGHT * scorer(ask, shared)[len(headed):]
    for owner, value in zip(owners, read, strict=True):
        out[owner] = max(out[owner], float(value))
    return out


def _closest_row(question: str, lines: Sequence[str], scorer: TextScorer) -> str:
    """A block's text; of a table, its row that reads closest to the question (exact identifiers count, as in
    ``_block_totals``): each row of an error table says where its own error goes. A table of more than
    ``MAX_TABLE_ROWS`` rows is read whole (its rows are not embedded one by one)."""
    rows = _table_rows(lines)
    if not rows:
        return "\n".join(lines)
    closeness = scorer(question, rows) + IDENTIFIER_WEIGHT * identifier_scores(question, _text_fields(rows))
    return rows[int(np.argmax(closeness))]


def _text_fields(texts: Sequence[str]) -> list[IdentifierFields]:
    """Texts as the identifier matcher reads a block's own text (spelled out; no document, name or heading)."""
    return [IdentifierFields(document="", names="", headings="", text=spelled(text)) for text in texts]


def _normal_title(title: str) -> str:
    return " ".join(title.lower().strip(" .:").split())


@functools.lru_cache(maxsize=256)
def _lead_text(document: Document) -> str:
    """The text a document opens with, under its title and before its first subsection (who owns it, what it
    runs, where things are), spelled as identifiers are matched (``spelled``); "" when it has no
    subsections, since then the lead is the whole document."""
    sections = runbook_sections(document)
    if not any(section.level >= 2 for section in sections):
        return ""
    return spelled("\n".join(section.own_text for section in sections if section.level <= 1))


def _up_to_next_step(document: Document, section: _Section, first: int, lines: list[str]) -> list[str]:
    """A passage that does not say what to do, continued into the lines that follow it (the next
    sections of the same parent, headings included) up to the first block that does, when that fits the
    size limits; else as it is. "The replica is down" is followed by the steps that deal with it."""
    all_lines = document.text.split("\n")
    after = first - document.first_line + len(lines)
    following = all_lines[after:after + MAX_LINES]
    for index, level, _ in markdown_headings(following):
        if level < section.level:  # the parent section ends here
            following = following[:index]
            break
    def fits(candidate: list[str]) -> bool:
        return sum(len(line) + 1 for line in candidate) <= MAX_CHARS and len(candidate) <= MAX_LINES

    blocks = text_blocks(following)
    for n, block in enumerate(blocks):
        extended = lines + following[:block.end + 1]
        if not fits(extended):
            break
        if actionable("\n".join(following[block.start:block.end + 1])):
            for step in blocks[n + 1:]:  # the rest of the list of steps it begins, while it fits
                if not _ITEM.match(following[step.start]) or not fits(lines + following[:step.end + 1]):
                    break
                extended = lines + following[:step.end + 1]
            return extended
    return lines


def _best_span(lines: Sequence[str], blocks: Sequence[Block], scores: np.ndarray) -> tuple[int, int]:
    """Line indexes (inclusive) of the passage in a section: all of it when it fits the size limits, else
    the best block grown toward its better neighbour while that scores within ``GROW_MARGIN`` and fits."""

    def fits(a: int, b: int) -> bool:
        span = lines[blocks[a].start:blocks[b].end + 1]
        return sum(len(line) + 1 for line in span) <= MAX_CHARS and len(span) <= MAX_LINES

    if fits(0, len(blocks) - 1):
        return blocks[0].start, blocks[-1].end
    best = int(np.argmax(scores))
    low, high = best, best
    floor = float(scores[best]) - GROW_MARGIN
    while True:
        options = [i for i in (low - 1, high + 1) if 0 <= i < len(blocks) and scores[i] >= floor
                   and fits(min(low, i), max(high, i))]
        if not options:
            break
        grow = max(options, key=lambda i: float(scores[i]))
        low, high = min(low, grow), max(high, grow)
    return blocks[low].start, blocks[high].end


# ---- logs --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _streak_start(document: Document, template: str, line: int) -> int:
    """The first line of the streak of lines of ``template`` that ``line`` (a file line number) ends: read back from
    it, each line of the template at most ``STREAK_GAP_LINES`` before the next (``MAX_STREAK_LINES`` read at most)."""
    lines = _log_lines(document)
    first = start = index = line - document.first_line
    while index > 0 and start - index < STREAK_GAP_LINES and first - index < MAX_STREAK_LINES:
        index -= 1
        if line_template(lines[index]) == template:
            start = index
    return start + document.first_line


def _log_lines(document: Document) -> tuple[str, ...]:
    lines = document.text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return tuple(lines)


def log_passage(question: str, chunk: Chunk, scorer: TextScorer, suspects: frozenset[str] = frozenset()
                ) -> Passage:
    """An incident chunk: the whole incident it lies in, or, when that repeats an earlier incident (its
    headline, the first of its most severe lines, has the template of an earlier line: ``line_template``),
    the first occurrence, with what led up to it (the OOM kill before the first ``CrashLoopBackOff``, not
    the fifth back-off; not for a question that names a time, nor when the question names an identifier that only
    the incident found holds; for one that asks since when, at a rough time, "failing since like 2am", the start of
    the streak of its lines: ``_streak_start``), joined with the incidents at most
    ``EPISODE_GAP`` lines before and after it; the context line says how many times the headline of the
    incident that was found was seen, first and last; for a question that asks why, the incidents up to
    ``CAUSE_GAP`` lines before it join too (the cause comes first); the lines of ``suspects`` (templates of the
    lines the question suspects, suspects.py, and of the log's background) head no incident. Another chunk, or an
    incident chunk that states the kind of line the question asks for instead of an incident (a comeback, a change, a
    leader, a version: lookups.py's ``asks_for_a_line_not_an_incident``; FortiGate logs "Kernel leaves memory conserve
    mode" as critical): its
    best line (a line that states the kind of value the question asks for counts ``VALUE_LINE_BONUS`` more:
    lookups.py) with
    ``LOG_CONTEXT_LINES`` either side (a line that states a version of what the question names counts as much
    more again), also past the chunk's first or last line, run on to how its request
    ended when that went wrong (``_up_to_request_outcome``), and for "how many"/"how often" the same context
    line about it. "Who unstuck it?" runs an incident's passage on to the lines that say someone acted
    (``_with_actions``); "did it recover by itself or did somebody bounce it?" puts the action before a comeback's
    lines (``_action_before``)."""
    document = chunk.document
    # "did it recover? when?": the line that says so, when the chunk holds one, not the incident around it
    kinds = asked_values(question)
    line_asked = LINE_KINDS & set(kinds)
    if text_severity(chunk.text) > 0 and not any(states_value(kind, chunk.text) for kind in line_asked):
        lead = CAUSE_GAP if _WHY.search(question[:MAX_QUESTION_CHARS]) else EPISODE_GAP
        found = _incident_at(document, chunk.line_start, chunk.line_end, lead)
        if found is not None:
            incident, episode = found
            headline = _headline(incident, suspects)
            seen = _template_counts(document).get(line_template(headline.raw))
            earliest = incident[0].first if seen is None else seen.line
            if earliest < incident[0].first and not asked_spans(question):  # "around 2:40": that one
                earlier = _incident_at(document, earliest, earliest, lead) or found
                if not _names_only(question, incident, earlier[0]):  # "someone pasted 'Handler timeout'": that one
                    incident, episode = earlier
            elif asked_spans(question) and _SINCE.search(question[:MAX_QUESTION_CHARS]):  # "since like 2am"
                naming = _naming(question, incident)  # of the incident's worst lines, one of what the question names
                start = _streak_start(document, line_template(naming.raw), naming.first)
                if start < incident[0].first:
                    incident, episode = _incident_at(document, start, start, lead) or found
            passage = _incident_passage(question, document, episode, headline, (chunk.line_start, chunk.line_end))
            if _HOW_LONG.search(question[:MAX_QUESTION_CHARS]):
                passage = _with_outage_end(passage)
            if "actor" in kinds:
                passage = _with_actions(passage)
            if "count" in kinds:
                passage = _with_count(passage)
            return _with_top_source(question, passage)
    folded, inside = _folded_window(document, chunk.line_start, chunk.line_end)
    if not inside:
        return Passage(document, document.title, (chunk.text,), chunk.line_start, chunk.line_end)
    if kinds:  # "which version?": the line that states one, not the line most like the question, also a few
        # lines past the chunk's edges (the index build's lines found, "completed successfully" after them)
        changed = changed_setting_lines(document, [line.raw for line in folded]) if "change" in kinds else set()
        states = [sum(states_value(kind, line.raw) or (kind == "change" and n in changed) for kind in kinds)
                  / len(kinds) for n, line in enumerate(folded)]
        near = range(max(0, inside[0] - VALUE_REACH_LINES), min(len(folded), inside[-1] + VALUE_REACH_LINES + 1))
        # of the lines that state one, the most like the question: the chunk's own, else those a few lines away
        inside = [i for i in inside if states[i] > 0] or [i for i in near if states[i] > 0] or inside
        named = [float("version" in kinds and names_version_of(question, folded[i].raw)) for i in inside]
        scores = scorer(question, [folded[i].text for i in inside]) + VALUE_LINE_BONUS * (
            np.asarray([states[i] for i in inside]) + np.asarray(named))
    else:
        scores = scorer(question, [folded[i].text for i in inside])
    best = inside[int(np.argmax(scores))]
    low = max(0, best - LOG_CONTEXT_LINES)  # context is read across the chunk's edges: they fall where the
    shown = _with_whole_message(folded, low, folded[low:best + LOG_CONTEXT_LINES + 1])  # token budget ran out
    if not kinds:
        shown = _up_to_request_outcome(folded, best, shown)
    if _WHEN.search(question[:MAX_QUESTION_CHARS]) and not any(first_timestamp(line.raw) for line in shown):
        shown = _up_to_a_time(folded, best, shown)
    first, last = shown[0].first, shown[-1].last
    acted = _action_before(folded, folded.index(shown[0]), shown) if {"actor", "recovery"} <= set(kinds) else None
    counted = seen_line(document, folded[best].raw) if _HOW_OFTEN.search(question[:MAX_QUESTION_CHARS]) else ""
    texts: list[str] = []
    if acted is not None:  # the action, then the lines between left out, then the comeback
        first = acted.first
        texts = [acted.text, *([_elided(shown[0].first - acted.last - 1)] if shown[0].first > acted.last + 1 else [])]
    return _with_top_source(question, Passage(document, _log_heading(document, first, last),
                                              (*texts, *(line.text for line in shown)), first, last, context=counted))


_SESSION = re.compile(r"(?i)\bsession (?:opened|closed)\b")  # PAM's bookkeeping around what someone ran


def _action_before(folded: Sequence[LogLine], start: int, shown: Sequence[LogLine]) -> LogLine | None:
    """For "did it recover by itself or did somebody bounce it?": the last line within ``ACTION_REACH_LINES`` before the
    comeback's shown lines (from index ``start`` of ``folded``) that says someone acted ("SIGTERM received. Shutting
    down." before "Starting Logstash"; what sudo ran rather than the session it opened, ``_SESSION``), when none of
    those lines does; None otherwise."""
    if any(states_value("actor", line.raw) for line in shown):
        return None
    acted = [i for i in range(max(0, start - ACTION_REACH_LINES), start) if states_value("actor", folded[i].raw)]
    done = [i for i in acted if not _SESSION.search(folded[i].raw)]  # what they ran, not sudo's session opened
    return folded[(done or acted)[-1]] if acted else None


def _with_whole_message(folded: Sequence[LogLine], first: int, shown: list[LogLine]) -> list[LogLine]:
    """The shown lines (``folded`` from index ``first``) run on to the end of the warning or error message they
    end in, when its lines go on past them without a timestamp (log_chunking's ``line_severities``: Spring Boot's
    "APPLICATION FAILED TO START" report after an error line with an empty message; not a stack trace's frames),
    while the passage fits ``MAX_LINES``."""
    after = first + len(shown)
    if not shown or after >= len(folded) or has_leading_timestamp(folded[after].raw):
        return shown
    base = max(0, after - MAX_LINES)  # the message's head may lie above the shown lines
    marks = line_severities(list(folded[base:after + MAX_LINES]))
    message = marks[after - 1 - base]
    end = after
    while (end - base < len(marks) and Severity.NONE < message < Severity.STACK_TRACE and marks[end - base] == message
           and not has_leading_timestamp(folded[end].raw) and len(shown) + end - after < MAX_LINES):
        end += 1
    return [*shown, *folded[after:end]]


_WHEN = re.compile(r"(?i)\bwhen\b|\bwhat time\b")  # the answer needs a time
# what ties a request's lines together: a UUID (AWS Lambda's "RequestId: e1dff635-80f3-...", most trace ids)
_REQUEST_ID = re.compile(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
REQUEST_LINES = 20  # lines after a quoted line of a request read for how that request ended


def _up_to_request_outcome(folded: Sequence[LogLine], best: int, shown: list[LogLine]) -> list[LogLine]:
    """A line of a request (a UUID its lines share: ``_REQUEST_ID``) whose later lines went wrong: the passage
    runs on to the first of that request's most severe lines within ``REQUEST_LINES`` (the export's
    "Task timed out after 30.03 seconds" after its "export_id=... format=xlsx"), when it is a warning or
    worse and the passage still fits ``MAX_LINES``; as it is otherwise."""
    ids = set(_REQUEST_ID.findall(folded[best].raw))
    end = best + LOG_CONTEXT_LINES + 1
    if not ids or end >= len(folded):
        return shown
    mine = [i for i in range(best + 1, min(len(folded), best + REQUEST_LINES + 1))
            if ids & set(_REQUEST_ID.findall(folded[i].raw))]
    marks = {i: line_severity(folded[i].raw) for i in mine}
    worst = max(marks.values(), default=Severity.NONE)
    if worst == Severity.NONE:
        return shown
    target = min(i for i, mark in marks.items() if mark == worst)
    if target < end or len(shown) + target - end + 1 > MAX_LINES:
        return shown
    return [*shown, *folded[end:target + 1]]


def _up_to_a_time(folded: Sequence[LogLine], best: int, shown: list[LogLine]) -> list[LogLine]:
    """For a question that asks when, lines without a time (a start-up's ASCII-art banner) run on to the first
    line after them that has one (the banner's "Loaded executor" with its time), within ``VALUE_REACH_LINES``."""
    end = best + LOG_CONTEXT_LINES + 1
    for index in range(end, min(len(folded), end + VALUE_REACH_LINES)):
        if first_timestamp(folded[index].raw):
            return [*shown, *folded[end:index + 1]]
    return shown


def _folded_window(document: Document, start: int, end: int) -> tuple[list[LogLine], list[int]]:
    """The log's lines up to ``LOG_WINDOW`` either side of lines ``start``-``end``, repeats folded, and
    which of them (indexes) hold those lines."""
    offset = max(0, start - document.first_line - LOG_WINDOW)
    window = list(_log_lines(document)[offset:end - document.first_line + 1 + LOG_WINDOW])
    folded = fold_repeats(window, document.first_line + offset)
    return folded, [i for i, line in enumerate(folded) if line.last >= start and line.first <= end]


def _incident_at(document: Document, start: int, end: int, lead: int = EPISODE_GAP
                 ) -> tuple[list[LogLine], list[LogLine]] | None:
    """The whole incident (log_chunking's region: the error line, its trace, errors close by) that holds
    lines ``start``-``end``, and its episode: the same with the incidents at most ``lead`` lines before
    and ``EPISODE_GAP`` after it, while they fit in ``MAX_LINES`` (folded) lines. None when they lie in
    none."""
    folded, inside = _folded_window(document, start, end)
    if not inside:
        return None
    regions = incident_regions(folded, line_severities(folded))
    found = next((n for n, r in enumerate(regions) if r.start <= inside[-1] and r.end >= inside[0]), None)
    if found is None:
        return None
    first = last = found

    def gap(before: int, after: int) -> int:  # lines of the file between two regions
        return folded[regions[after].start].first - folded[regions[before].end].last - 1

    def fits(a: int, b: int) -> bool:  # an episode of at most MAX_LINES (folded) lines
        return regions[b].end - regions[a].start + 1 <= MAX_LINES

    while first > 0 and gap(first - 1, first) <= lead and fits(first - 1, last):
        first -= 1
    while last + 1 < len(regions) and gap(last, last + 1) <= EPISODE_GAP and fits(first, last + 1):
        last += 1
    return folded[regions[found].start:regions[found].end + 1], folded[regions[first].start:regions[last].end + 1]


def _worst(incident: Sequence[LogLine]) -> set[int]:
    """Indexes of an incident's most severe lines."""
    marks = [line_severity(line.raw) for line in incident]
    return {i for i, mark in enumerate(marks) if mark == max(marks) > Severity.NONE}


def _naming(question: str, incident: Sequence[LogLine]) -> LogLine:
    """The first of an incident's most severe lines that names an identifier of the question ("svc-etl"), else its
    first most severe line (its first line when none has a level)."""
    identifiers = question_identifiers(question)
    worst = sorted(_worst(incident)) or [0]
    return next((incident[i] for i in worst if any(name in spelled(incident[i].text) for name in identifiers)),
                incident[worst[0]])


def _names_only(question: str, incident: Sequence[LogLine], other: Sequence[LogLine]) -> bool:
    """The question names an identifier (identifiers.py) that the incident's lines hold and the other's do not."""
    identifiers = question_identifiers(question)
    if not identifiers:
        return False
    mine = spelled(" ".join(line.text for line in incident))
    theirs = spelled(" ".join(line.text for line in other))
    return any(name in mine and name not in theirs for name in identifiers)


_RECORD_MESSAGE = re.compile(r"^MESSAGE\s*:")  # a record's message field (Db2: "MESSAGE : ADM1530E  Crash recovery")


def _headline(incident: Sequence[LogLine], suspects: frozenset[str] = frozenset()) -> LogLine:
    """The first of an incident's most severe lines, of those not of ``suspects`` (templates) when it has
    such lines (its first line when none has a level); of a record (``log_format.opens_record``), its message."""
    kept = [line for line in incident if line_template(line.raw) not in suspects]
    candidates = kept if _worst(kept) else incident
    worst = _worst(candidates)
    if not worst:
        return incident[0]
    first = min(worst)
    if opens_record(candidates[first].raw):  # a record's first line says when and how bad; its message says what
        for line in candidates[first + 1:record_end(candidates, first)]:
            if _RECORD_MESSAGE.match(line.raw):
                return line
    return candidates[first]


def _incident_passage(question: str, document: Document, incident: Sequence[LogLine], counted: LogLine,
                      retrieved: tuple[int, int]) -> Passage:
    """The incident's lines (``_shorten``; a long one keeps the lines of the chunk that retrieval found,
    ``retrieved``, and those that name the question's identifiers: "Why did KERNEL fail?" shows the KERNEL
    lines of a burst of failures), then how often and when ``counted`` was seen."""
    first, last = incident[0].first, incident[-1].last
    identifiers = question_identifiers(question)
    asked = {i for i, line in enumerate(incident) if any(name in spelled(line.text) for name in identifiers)}
    found = {i for i, line in enumerate(incident) if line.last >= retrieved[0] and line.first <= retrieved[1]}
    return Passage(document, _log_heading(document, first, last),
                   tuple(_shorten(incident, _worst(incident), asked | set(sorted(found)[:LOG_WORST_LINES]))),
                   first, last, context=seen_line(document, counted.raw))


def _with_outage_end(passage: Passage) -> Passage:
    """For "how long was it down?": the incident's passage run on to the first line, at most
    ``OUTAGE_END_LINES`` after it, that says the service recovered (lookups.py: "Redis is online, 51.9 sec
    downtime", "back online"), with the lines between elided; as it is when none does."""
    return _run_on_to(passage, "recovery", OUTAGE_END_LINES, 1, quiet=True)


ACTION_LINES = 4  # lines of someone's actions that an answer to "who fixed it?" quotes after the incident
COUNT_REACH_LINES = 60  # lines after an incident read for its job's summary, when the question asks how many failed


def _with_actions(passage: Passage) -> Passage:
    """For "who unstuck it and what did they do?" (lookups.py's "actor"): when no line of the incident's passage says
    that someone acted, the passage run on to the first line, at most ``OUTAGE_END_LINES`` after it, that does
    ("Console [rkhan] from [10.10.4.37] cmdline prune volume=Full-0101 yes", "IIS stop command received from user
    CORP\\adm-mnowak"), and up to ``ACTION_LINES`` such lines from there, with the lines between elided; as it is when
    none does."""
    return _run_on_to(passage, "actor", OUTAGE_END_LINES, ACTION_LINES)


def _with_count(passage: Passage) -> Passage:
    """For "how many files got skipped?" (lookups.py's "count"): when no line of the incident's passage gives a count
    of what went wrong, the passage run on to the first line, at most ``COUNT_REACH_LINES`` after it and of no
    severity, that does (the job's summary: "Non-fatal FD errors:    9", "45 accounts backed up, 3 accounts failed"),
    with the lines between elided; as it is when none does."""
    return _run_on_to(passage, "count", COUNT_REACH_LINES, 1, quiet=True)


def _run_on_to(passage: Passage, kind: str, reach: int, most: int, quiet: bool = False) -> Passage:
    """The passage run on to the first ``most`` lines, at most ``reach`` after it, that state ``kind`` (lookups.py;
    with ``quiet``, only lines of no severity), the lines between elided; as it is when one of its own lines states
    it (but for a recovery: the end of an outage lies after it) or none after it does."""
    if kind != "recovery" and any(states_value(kind, line) for line in passage.lines):
        return passage
    document = passage.document
    start = passage.line_end + 1 - document.first_line
    window = _log_lines(document)[start:start + reach]
    found = [offset for offset, line in enumerate(window)
             if states_value(kind, line) and not (quiet and text_severity(line) > Severity.NONE)][:most]
    if not found:
        return passage
    shown, last = list(passage.lines), -1
    for offset in found:
        if offset > last + 1:
            shown.append(_elided(offset - last - 1))
        shown.append(window[offset])
        last = offset
    end = passage.line_end + 1 + last
    return replace(passage, heading=_log_heading(document, passage.line_start, end), lines=tuple(shown), line_end=end)


OVERVIEW_INCIDENTS = 4  # other incidents that an answer to "anything bad today?" lists after the first
OVERVIEW_CHARS = 200  # of each one's headline


def _with_other_incidents(passage: Passage, ranked: Sequence[Chunk], suspects: frozenset[str] = frozenset()
                          ) -> Passage:
    """For a question about the log's incidents in general (incidents.py's ``asks_for_overview``): after the
    passage, the headlines (``_headline``, with the exception its trace names: ``_named_exception``) of up to
    ``OVERVIEW_INCIDENTS`` other incidents of its log, the worst first (``ranked``: its chunks, worst first), each
    once (not the passage's own nor a repeat of a listed headline), in file order, with their line numbers; the
    lines of ``suspects`` (templates: the log's background, what the question suspects) head none, nor are one."""
    document = passage.document
    listed = [(passage.line_start, passage.line_end)]
    shown = _incident_at(document, passage.line_start, passage.line_end)
    # what is listed already, as headline templates without what differs between one event's lines ("set_id=...")
    listed_keys = {_KEYED.sub("<*>", t) for t in (*suspects, *([line_template(_headline(shown[0], suspects).raw)]
                                                              if shown else []))}
    others: list[tuple[LogLine, LogLine | None]] = []
    for chunk in ranked:
        if len(others) == OVERVIEW_INCIDENTS:
            break
        if text_severity(chunk.text) == Severity.NONE or _within(chunk.line_start, chunk.line_end, listed):
            continue
        found = _incident_at(document, chunk.line_start, chunk.line_end)
        if found is None:
            continue
        incident = found[0]
        headline = _headline(incident, suspects)
        key = _KEYED.sub("<*>", line_template(headline.raw))
        if key in listed_keys or _within(incident[0].first, incident[-1].last, listed):
            continue  # listed, or the same event for another user or key: "(set_id=info@...)", "(set_id=test@...)"
        listed_keys.add(key)
        listed.append((found[1][0].first, found[1][-1].last))  # its episode: the incidents right around it too
        others.append((headline, _named_exception(incident, headline)))
    if not others:
        return passage
    items = "\n".join(f"• line {line.first}: {_gist(line.text, OVERVIEW_CHARS)}"
                      + (f" · {_gist(named.text.strip(), OVERVIEW_CHARS)}"
                         if named and not _same_message(named.text, line.text) else "")
                      for line, named in sorted(others, key=lambda item: item[0].first))
    also = f"Other incidents in {document.title}:\n{items}"
    return replace(passage, context=f"{passage.context}\n{also}" if passage.context else also)


_KEYED = re.compile(r"\S*[@=]\S*")  # a key=value word or an address in a line: what differs between its events


def _named_exception(incident: Sequence[LogLine], headline: LogLine) -> LogLine | None:
    """The first line after an incident's headline that names an exception (``_EXCEPTION_LINE``:
    ``java.lang.OutOfMemoryError: Java heap space`` under ``Failed to page in more queue messages``), if any."""
    return next((line for line in incident
                 if line.first > headline.first and _EXCEPTION_LINE.match(line.text.lstrip())),
                None)


def _within(first: int, last: int, ranges: Sequence[tuple[int, int]]) -> bool:
    return any(first <= end and start <= last for start, end in ranges)


def _clipped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


# the fields of a structured line that say what happened: FortiGate's logdesc="..." msg="...", pino's "msg":"...",
# an error's "message":"..."
_MESSAGE_FIELD = re.compile(r"(?i)(?<![\w.-])[\"']?(?:msg|message|logdesc|@mt|reason)[\"']?\s*[=:]\s*"
                            r"\"((?:[^\"\\\n]|\\.){3,})\"")


def _said(text: str) -> list[str]:
    """The values of a structured line's fields that say what happened (``_MESSAGE_FIELD``), each once."""
    return list(dict.fromkeys(found.group(1) for found in _MESSAGE_FIELD.finditer(text)))


def _same_message(text: str, other: str) -> bool:
    """Two structured lines say the same (the next JSON line of a burst of one error is no exception to name)."""
    said = _said(text)
    return bool(said) and said == _said(other)


def _gist(text: str, limit: int) -> str:
    """A line in at most ``limit`` characters: a long structured line as its time and the fields that say what
    happened ("2024-09-17 03:32:20 · Kernel enters memory conserve mode · ..."), any other clipped."""
    if len(text) > limit:
        said = _said(text)
        if said:
            stamp = first_timestamp(text)
            text = " · ".join(([readable_timestamp(stamp)] if stamp else []) + said)
    return _clipped(text, limit)


SOURCE_LINES_BEFORE = 100  # lines before a passage read for who sent most of them ("who was hammering it?")
SOURCE_LINES_AFTER = 20
SOURCE_SHARE = 0.4  # of the lines with a sender, at least, from one address for it to be named
SOURCE_MIN_LINES = 5


def _with_top_source(question: str, passage: Passage) -> Passage:
    """For a question that asks who sends the traffic (sources.py): the passage's context names the
    address that most of the lines around it were sent from (``sources.sender``), from ``SOURCE_LINES_BEFORE``
    lines before it to ``SOURCE_LINES_AFTER`` after, with how many of them and when; as it is for other
    questions, or when no address holds ``SOURCE_SHARE`` of them."""
    if not asks_who_sends(question):
        return passage
    document = passage.document
    lines = _log_lines(document)
    start = max(0, passage.line_start - document.first_line - SOURCE_LINES_BEFORE)
    window = lines[start:passage.line_end - document.first_line + 1 + SOURCE_LINES_AFTER]
    sources = [(address, line) for line in window if (address := sender(line)) is not None]
    if not sources:
        return passage
    counts = Counter(address for address, _ in sources)
    address, count = counts.most_common(1)[0]
    if count < SOURCE_MIN_LINES or count < SOURCE_SHARE * len(sources):
        return passage
    stamps = [stamp for source, line in sources if source == address and (stamp := first_timestamp(line))]
    when = f", from {stamps[0]} to {stamps[-1]}" if len(stamps) > 1 else ""
    said = (f"Most of the lines around it come from {address}: {count} of the {len(sources)} lines with an address"
            f"{when}.")
    return replace(passage, context=f"{passage.context}\n{said}" if passage.context else said)


def _log_heading(document: Document, first: int, last: int) -> str:
    return f"{document.title}, line {first}" if first == last else f"{document.title}, lines {first}-{last}"


def _shorten(incident: Sequence[LogLine], worst: set[int], asked: set[int]) -> list[str]:
    """All lines of a short incident; of a long one its first and last lines, those naming an exception,
    the first few of those the question asks about (``asked``), of its most severe lines (``worst``: an
    ERROR among many warnings) and of those that say a count ran out ("increment (3/3)"), other runs elided, within
    ``MAX_LINES`` lines and about ``MAX_CHARS`` * 2 characters."""
    texts = [line.text for line in incident]
    if len(texts) <= MAX_LINES and sum(len(t) + 1 for t in texts) <= 2 * MAX_CHARS:
        return texts
    keep = set(range(min(LOG_HEAD_LINES, len(texts)))) | set(range(max(0, len(texts) - LOG_TAIL_LINES), len(texts)))
    keep |= {i for i, t in enumerate(texts) if _EXCEPTION_LINE.match(t.lstrip())}
    keep |= set(sorted(asked)[:LOG_WORST_LINES]) | set(sorted(worst)[:LOG_WORST_LINES])
    keep |= set([i for i, t in enumerate(texts) if _counted_out(t)][:LOG_WORST_LINES])
    budget = 2 * MAX_CHARS - sum(len(texts[i]) + 1 for i in keep)
    for i in range(len(texts)):  # fill up in file order while there is room
        if len(keep) >= MAX_LINES - 2 or budget - len(texts[i]) - 1 < 0:
            break
        if i not in keep:
            keep.add(i)
            budget -= len(texts[i]) + 1
    shown: list[str] = []
    skipped = 0
    for i, text in enumerate(texts):
        if i in keep:
            if skipped:
                shown.append(_elided(skipped))
                skipped = 0
            shown.append(text)
        else:
            skipped += 1
    return shown


# a count that reached its limit: "unhealthy TIMEOUT increment (3/3)", "attempt 5 of 5", "retry 10/10"
_COUNTER = re.compile(r"(?<![\w./:-])(\d{1,4}) ?(?:/|of) ?(\d{1,4})(?![\w./:-])")


def _counted_out(text: str) -> bool:
    """The line says a count reached its limit (``_COUNTER``, the limit above 1): the moment a retry or health-check
    budget ran out, kept when a long incident is shortened."""
    return any(int(done) == int(limit) > 1 for done, limit in _COUNTER.findall(text))


def _elided(count: int) -> str:
    """What stands for ``count`` lines left out of a quoted log passage."""
    return f"  … {count} more line{'s' if count > 1 else ''}"


@dataclass(frozen=True)
class Seen:
    count: int
    first: str | None  # timestamps as written in the log
    last: str | None
    line: int  # the line number of the first line with the template


@functools.lru_cache(maxsize=8)
def _template_counts(document: Document) -> dict[str, Seen]:
    """Every line template of a log with how many lines have it and when it was first and last seen
    (a line without a timestamp is dated by the last timestamp above it)."""
    seen: dict[str, Seen] = {}
    stamp: str | None = None
    for number, line in enumerate(_log_lines(document), start=document.first_line):
        found = TIMESTAMP.search(line)
        if found:
            stamp = found.group(0)
        key = line_template(line)
        if not key:
            continue
        before = seen.get(key)
        seen[key] = (Seen(1, stamp, stamp, number) if before is None
                     else replace(before, count=before.count + 1, first=before.first or stamp, last=stamp))
    return seen


def seen_line(document: Document, line: str) -> str:
    """``Seen 3 times in app.log, first at …, last at ….`` for the template of ``line``."""
    seen = _template_counts(document).get(line_template(line))
    if seen is None:
        return ""
    where = f"in {document.title}"
    if seen.count == 1:
        stamp = first_timestamp(line) or seen.first
        return f"Seen once {where}" + (f", at {readable_timestamp(stamp)}." if stamp else ".")
    text = f"Seen {seen.count} times {where}"
    if seen.first and seen.last:
        text += f", first at {readable_timestamp(seen.first)}, last at {readable_timestamp(seen.last)}"
    return text + "."
