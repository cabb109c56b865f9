"""The words of a document's name in the question: an alert's text paraphrases the alert's name, which
is its runbook's name.

"Prometheus is failing rule evaluations" is the alert ``PrometheusRuleFailures``, whose runbook is
``PrometheusRuleFailures.md``; "Kubelet has disappeared from Prometheus target discovery" is
``KubeletDown``. Exact identifiers (identifiers.py) need the name itself in the question; this counts its
words in plain text. A document's name words are those of its title and file name, spelled out
(CamelCase humps and separators split, see ``identifiers.spelled``) and reduced to stems (``stem``); the
question's words the same. ``name_scores`` gives each candidate the share of its document's name words
that the question holds, each word weighted by how rare it is among the candidate documents' names (a
word every name has, such as a product's name, tells nothing); a runbook whose own tool the question uses
("lmictl rejects is all unknown_imei", ``identifiers.command_names``; one that no other candidate uses as its
tool) is named in full.

The same holds within a document: its section headings name what each section is for ("Restart", "Jobs
run twice"), in the words people ask with. ``heading_scores`` gives each runbook chunk the share of its
own heading's words (the innermost heading above it) that the question holds, its on-call synonyms
included (synonyms.py: "bounce" asks for "Restart"), each word counted by how rare it is among the
candidates' sections (every runbook's "Alerts" or "Mitigation" counts for little).

Neither counts what the question says is working: "new admissions aren't showing in the patient app, fhir api
looks healthy" names the FHIR API to rule it out, not to ask for its runbook (``cleared_words``); nor the team it
quotes ("wave planner oncall says their side looks normal", "the license folks say ..."). Nor does
``name_scores`` count the parts of a dotted name: "3 booking.com guests" names the travel site, not the
booking engine.

Pure functions of the question and the candidates' documents.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from worker.documents.document import Chunk, Document
from worker.documents.runbook_lookup import section_at, terms
from worker.engine.base import FUNCTION_WORDS, MAX_QUESTION_CHARS
from worker.engine.identifiers import command_names, spelled
from worker.engine.synonyms import expansion


def stem(word: str) -> str:
    """``runbook_lookup.terms``' stems, and ``failure`` -> ``fail`` (as ``failed``, ``failing``)."""
    return word[:-3] if len(word) > 6 and word.endswith("ure") else word


@functools.lru_cache(maxsize=65_536)
def word_stems(text: str) -> frozenset[str]:
    """The stems of the words of a text, spelled out (``identifiers.spelled``), stop words left out."""
    return frozenset(stem(word) for word in terms(spelled(text)))


def name_words(document: Document) -> frozenset[str]:
    """The stems of a document's title and file name (without its extension)."""
    return word_stems(f"{document.title} {document.file_name.rsplit('.', 1)[0]}")


# what the question says is working: "fhir api looks healthy", "the other views look fine", "vpn itself is fine",
# "reefer data says fine"
_CLEARED = re.compile(r"(?i)(?:^|[,.;:!?(]|\b(?:and|but|while|though|although|yet|so)\b)\s*((?:[\w-]+\s+){1,3}?)"
                      r"(?:itself\s+|side\s+)?(?:looks?|seems?|is|are|was|were|says?|shows?|reads?)\s+"
                      r"(?:all\s+|totally\s+|perfectly\s+)?"
                      r"(?:healthy|fine|ok|okay|green|normal)\b")
# what a tool or a board the question quotes says is fine: "furnacectl on gw-hotend-01 says crown + zones are all fine",
# "dash shows both feeds ok": the tool's system and what it reports on are ruled out alike (what a team says is
# ``_QUOTED_TEAM``'s)
_REPORTED_FINE = re.compile(r"(?i)(?:^|[,.;:!?(]|\b(?:and|but|while|though|although|yet|so)\b)\s*"
                            r"((?:[\w-]+\s+){1,3}?"
                            r"(?<!call )(?<!team )(?<!folks )(?<!people )(?<!guys )(?<!owner )(?<!owners )(?<!side )"
                            r"(?:says?|shows?|reports?)\s+(?:[\w+&/-]+\s+){1,4}?)"
                            r"(?:looks?|seems?|is|are)?\s*(?:all\s+)?(?:healthy|fine|ok|okay|green|normal)\b")
# what the question says does its work: "online bookings coming thru fine", "climate panel on curio pages loads fine"
_WORKING = re.compile(r"(?i)(?:^|[,.;:!?(]|\b(?:and|but|while|though|although|yet|so)\b)\s*((?:[\w-]+\s+){1,5}?)"
                      r"(?:com(?:ing|es)|came|go(?:ing|es)|gett?(?:ing|s)|flow(?:ing|s)|work(?:ing|s|ed)"
                      r"|run(?:ning|s)|load(?:ing|s|ed)|sync(?:ing|s|ed)|arriv(?:ing|es)|land(?:ing|s)|post(?:ing|s))"
                      r"(?:\s+(?:thru|through|in|out|up))?\s+(?:just\s+)?(?:fine|ok|okay|normally)\b"
                      r"(?!\s+(?:until|till|til|before|up to|then)\b)")  # not "was working fine until 3pm"


# what the question says is present or fine on one side, or on its dashboard: "finish read is there on the timing
# side", "the order is all there on the warehouse end", "latency fine on the seedlink dash"
_CLEARED_SIDE = re.compile(r"(?i)(?:\b(?:is|are|'s|looks?|seems?)\s+(?:all\s+)?"
                           r"(?:there|fine|ok|okay|good|healthy|normal)"
                           r"|(?<!not )(?<!n't )\b(?:fine|ok|okay|good|healthy|normal|green))"
                           r"\s+(?:on|at|in)\s+(?:the|our|their)\s+((?:[\w-]+\s+){1,2}?)"
                           r"(?:side|end|dash(?:board)?|graphs?|panel)\b")


# a team that the question quotes: "wave planner oncall says their side looks normal", "the license folks say the kid
# isn't in their keystore": the asker reports what another team told them, so that team's system is not the one asked
# about
_QUOTED_TEAM = re.compile(r"(?i)(?:^|[,.;:!?(]|\b(?:and|but|while|though|although|yet|so|the)\b)"
                          r"\s*((?:[\w-]+\s+){1,3}?)"
                          r"(?:on-?call|team|folks|people|guys|owners?|side)\s+(?:says?|said|claims?|claimed|insists?"
                          r"|swears?|thinks?|reckons?|told us|tells us)\b")


# a dotted name ("booking.com", "checkout.cta.pay_now"): its parts are no words of the question's own ("booking"
# of the travel site is not the booking engine's name)
_DOTTED = re.compile(r"(?<![\w.-])[\w-]+(?:\.[\w-]+)+")


# what the question rules out: "slicer backlog is basically empty so its not that"
_RULED_OUT = re.compile(r"(?i)(?:^|[,.;:!?(]|\b(?:and|but|while|though|although|yet)\b)\s*((?:[\w-]+\s+){1,3}?)"
                        r"[^,.;:!?()]{0,60}?\bso (?:it'?s |its |it is )?(?:prob(?:ably)? |def(?:initely)? )?not "
                        r"(?:that|it|them|the (?:issue|problem|cause))\b(?! (?:bad|big|serious|slow|long|much|many)\b)")


# a system the question rules out by name: "online bookings coming thru fine so its not apptbridge" (not "so its not
# loading", "its not on the chart")
_RULED_OUT_NAME = re.compile(r"(?i)\b(?:so\s+)?(?:it'?s|it is|that'?s|thats)\s+(?:prob(?:ably)?\s+|def(?:initely)?\s+)?"
                             r"not\s+(?:the\s+|our\s+)?(?!(?:that|it|them|this|those|these|me|us|you|down|up|broken"
                             r"|fine|ok|okay|there|here|bad|good|great|right|wrong|much|many|slow|fast|clear|sure"
                             r"|related|just|really|even|an?|the|issue|problem|cause|[\w-]+(?:ing|ed))\b)([\w-]+)"
                             r"(?=\s*(?:[.,;:!?)]|$))")


# what the question only guesses at: "is this the mqtt broker again?", "is the payout side down?", "is placement engine
# down", "is the irrigation controller borked or what", "is the auditor mis-sampling or what", "is the booking system
# messing w the scores??", "is the temp monitor thing not sending cooldown??", "oxyguard acting up again or what", and
# after the symptoms, "... hours ago. recall job thing broken?", "... fine tho. plate cam thing broken or what",
# "... players confused. roomcast died??", and before them, "showclock broke?? 14:00 show, dome is completely dark":
# the asker does not know which system it is; and what it only asks about besides ("also is the router affected"):
# the problem is elsewhere
_NOT_A_NAME = (r"(?!(?:safe|ok|okay|fine|possible|normal|worth|bad|expected|true|real|just|still|gone|going"
               r"|anyone|anybody|anything|everyone|everybody|everything|there)\b)")
_FAULTY = (r"(?:down|broken|broke|borked|dead|died|crashed|acting up|playing up|flaky|leaking|retrying|stuck|jammed"
           r"|wedged|hosed|busted"
           r"|full|at fault|to blame|the (?:problem|issue|culprit|cause))")
# "is the ...", "are our ..." (not "why is the queue stuck": that says it is)
_IS_THE = r"(?<!\bwhy )(?<!\bhow )\b(?:is|are) (?:the |our )?" + _NOT_A_NAME
_GUESSED = re.compile(
    r"(?i)\b(?:is|was|are) (?:it|this|that|these|those) (?:the |a |an |our )?" + _NOT_A_NAME
    + r"((?:[\w-]+\s+){0,3}?[\w-]+)(?:\s+(?:again|thing|stuff|issue|problem))*\s*(?:\?|\bor what\b)"
    r"|" + _IS_THE + r"((?:[\w-]+\s+){0,3}?[\w-]+)\s+(?:(?:thing|side|service)\s+)?"
    + _FAULTY + r"\b[^.?!]{0,30}?(?:\?|\bor what\b|$)"
    r"|" + _IS_THE + r"((?:[\w-]+\s+){0,2}?[\w-]+)\s+[\w-]+ing\b[^.?!]{0,20}?\bor what\b"
    r"|" + _IS_THE + r"((?:[\w-]+\s+){0,2}?[\w-]+)\s+(?:thing|system|side|service|app)\s+(?:not\s+)?[\w-]+ing\b"
    r"[^.?!]{0,40}?\?"
    r"|" + _IS_THE + r"((?:[\w-]+\s+){0,2}?[\w-]+)\s+(?:also |even )?(?:affected|impacted|involved)\b"
    r"|[,.?!]\s+((?:[\w-]+\s+){0,3}?[\w-]+)\s+(?:(?:thing|side|service)\s+)?" + _FAULTY
    + r"(?: again)?\s*(?:\?|\bor what\b)"
    # first, with the symptoms after it (four words at least: "recall job broken?" alone names the system)
    r"|^\W*((?:[\w-]+\s+){0,3}?[\w-]+)\s+(?:(?:thing|side|service)\s+)?" + _FAULTY
    + r"(?: again)?\s*(?:\?|\bor what\b)(?=(?:\W*[\w'-]+){4})"
    r"|((?:[\w-]+\s+){1,2}?)(?:acting|playing) up(?: again)? or what\b")


def guessed_words(question: str) -> frozenset[str]:
    """The stems of the systems the question only guesses at (``_GUESSED``)."""
    return frozenset().union(*(word_stems(next(group for group in match.groups() if group))
                               for match in _GUESSED.finditer(question)))


SYMPTOM_WORDS = 4  # words a question must say besides its guess for the guess to be left out of what it asks


def without_guesses(question: str) -> str:
    """The question without the clauses that only guess at a system (``_GUESSED``), when it says what is wrong in
    at least ``SYMPTOM_WORDS`` other words: no words to look for then ("site slow, db down?" keeps its guess)."""
    text = _GUESSED.sub(" ", question[:MAX_QUESTION_CHARS]) + question[MAX_QUESTION_CHARS:]
    return text if len(word_stems(text)) >= SYMPTOM_WORDS else question


def cleared_words(question: str) -> frozenset[str]:
    """The stems of what the question says is working ("fhir api looks healthy": fhir, api; "the read is there on
    the timing side": timing) or rules out
    ("slicer backlog is basically empty so its not that": slicer, backlog), of the teams it quotes ("the
    license folks say ...": license), and of what it only guesses at ("is the irrigation controller borked or
    what": irrigation, controller): naming them is no reason to answer from their runbook."""
    found = [*_said_working(question), *_RULED_OUT.finditer(question), *_QUOTED_TEAM.finditer(question)]
    return frozenset().union(*(word_stems(match.group(1)) for match in found)) | guessed_words(question)


# a clause that asks rather than says: "how much lag is ok before i panic?", "is the queue ok?"
_ASKS = re.compile(r"(?i)\s*(?:how|what|which|whether|if|why|when|where|should|can|could)\b")


def _said_working(question: str) -> list[re.Match[str]]:
    """The clauses that say something is working (``_CLEARED``, ``_REPORTED_FINE``, ``_WORKING``, ``_CLEARED_SIDE``) or
    rule a system out by name (``_RULED_OUT_NAME``), not those that ask whether it is (``_ASKS``)."""
    return [match for pattern in (_CLEARED, _REPORTED_FINE, _WORKING, _CLEARED_SIDE, _RULED_OUT_NAME)
            for match in pattern.finditer(question)
            if not _ASKS.match(match.group(1))]


def without_cleared(question: str) -> str:
    """The question without what it says is working ("stations all look healthy, latency fine on the seedlink
    dash, but the M3.1 came out quality D" -> ", , but the M3.1 came out quality D"): the words of what the
    asker has ruled out are no words to look for."""
    return without_spans(question, [match.span() for match in _said_working(question[:MAX_QUESTION_CHARS])])


def without_spans(question: str, spans: Sequence[tuple[int, int]]) -> str:
    """The question without these spans of it (the clauses that say what the asker ruled out), the parts left joined
    by a space; the question itself when no word is left."""
    if not spans:
        return question
    kept, position = [], 0
    for start, end in sorted(spans):
        kept.append(question[position:max(position, start)])
        position = max(position, end)
    kept.append(question[position:])
    text = " ".join(part.strip() for part in kept if part.strip())
    return text if word_stems(text) else question


_TOOL_WORD = re.compile(r"[a-z][\w-]*")


# the first words of code lines that are no tool of the runbook's own: SQL ("select ... from ..."), the shell's own
_NOT_A_TOOL = frozenset(("select", "from", "where", "update", "insert", "delete", "set", "show", "create", "alter",
                         "drop", "grant", "with", "begin", "commit", "explain", "vacuum", "analyze", "echo", "cat",
                         "grep", "cd", "ls", "sudo", "export", "watch", "tail", "less"))


@functools.lru_cache(maxsize=16_384)  # a runbook folder's candidates are the same every question
def own_tools(document: Document) -> frozenset[str]:
    """The commands a runbook names its own tools with (``identifiers.command_names``: "lmictl", "irrigctl"), not a
    little word nor a word of SQL or the shell (``_NOT_A_TOOL``)."""
    if document.kind != "runbook" or not document.text:
        return frozenset()
    return frozenset(tool for tool in command_names(document.text)
                     if tool not in FUNCTION_WORDS and tool not in _NOT_A_TOOL)


def name_scores(question: str, chunks: Sequence[Chunk]) -> np.ndarray:  # [N] in [0, 1]
    """See the module docstring: one score per chunk, its document's; what the question says is working
    (``cleared_words``) and the parts of dotted names (``_DOTTED``) do not count."""
    scores = np.zeros(len(chunks), np.float32)
    head = question[:MAX_QUESTION_CHARS]
    cleared = cleared_words(head)
    asked = word_stems(_DOTTED.sub(" ", head)) - cleared
    if not asked or not chunks:
        return scores
    documents = {chunk.document.doc_id: chunk.document for chunk in chunks}
    if len(documents) < 2:
        return scores  # one document: its name says nothing about which of its chunks answers
    names = {doc_id: name_words(document) for doc_id, document in documents.items()}
    counts = Counter(word for words in names.values() for word in words)
    rarity = {word: math.log(len(names) / count) / math.log(len(names)) for word, count in counts.items()}
    by_document = {}
    used = frozenset(_TOOL_WORD.findall(head.lower()))
    tools = {doc_id: own_tools(document) & used for doc_id, document in documents.items()} if used else {}
    shared = Counter(tool for named in tools.values() for tool in named)
    for doc_id, words in names.items():
        total = sum(rarity[word] for word in words)
        by_document[doc_id] = sum(rarity[word] for word in words & asked) / total if total > 0 else 0.0
        # "lmictl rejects is all unknown_imei": the gateway's own tool, that no other candidate runbook names its tool
        # (not of a system the question rules out or guesses at, nor a tool it quotes saying all is fine)
        own_tool = any(shared[tool] == 1 and not word_stems(tool) & cleared for tool in tools.get(doc_id, ()))
        if own_tool and not words & cleared:
            by_document[doc_id] = 1.0
    for index, chunk in enumerate(chunks):
        scores[index] = by_document[chunk.document.doc_id]
    return scores


def heading_words(chunk: Chunk) -> frozenset[str]:
    """The stems of the innermost heading above a chunk of a runbook (none for a log or text before any
    heading)."""
    return frozenset() if chunk.document.kind == "log" else _heading_words_at(chunk.document, chunk.line_start)


@functools.lru_cache(maxsize=65_536)  # a runbook folder's candidates are the same every question
def _heading_words_at(document: Document, line: int) -> frozenset[str]:
    section = section_at(document, line)
    if section is None or section.level == 0 or not section.path:
        return frozenset()
    return word_stems(section.path[-1])


def heading_scores(question: str, chunks: Sequence[Chunk]) -> np.ndarray:  # [N] in [0, 1]
    """See the module docstring: one score per chunk, its heading's; what the question says is working
    (``cleared_words``) does not count."""
    scores = np.zeros(len(chunks), np.float32)
    head = question[:MAX_QUESTION_CHARS]
    asked = (word_stems(head) | word_stems(expansion(head))) - cleared_words(head)
    if not asked or not chunks:
        return scores
    headings = [heading_words(chunk) for chunk in chunks]
    sections = {(chunk.document.doc_id, words) for chunk, words in zip(chunks, headings, strict=True) if words}
    if len(sections) < 2:
        return scores
    counts = Counter(word for _, words in sections for word in words)  # in how many sections' headings
    rarity = {word: math.log(len(sections) / count) / math.log(len(sections)) for word, count in counts.items()}
    # the share of the heading's words that the question holds, each counted by its rarity: a heading that
    # every runbook has ("Alerts") gets less than one only this section has
    shares = {words: sum(rarity[word] for word in words & asked) / len(words) for _, words in sections}
    for index, words in enumerate(headings):
        scores[index] = shares.get(words, 0.0)
    return scores
