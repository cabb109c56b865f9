"""Questions that name a suspect: "there was a wall of content type warnings right before the restart, was
that what took it down?", "tons of not authorised spam around then too, is that what kept them out?".

Such a question describes some lines of the log (the suspect), then asks whether they caused the trouble.
What the on-call person needs is the incident that did, whatever the suspect's part in it: the lines they
describe are what they have already seen. So:

1. ``suspect_split`` cuts the question where it asks whether "that" was the cause ("was that what", "is
   that why", "did those cause", "could it be related"): the words before describe the suspect, the
   words after say what went wrong (a crash: "took it down"), and only those say what kind of incident is
   asked about (the suspect's "warnings" or "spam" do not make it a question about warnings or a storm).
2. ``suspect_templates`` finds the suspect's lines: among the warning-or-worse line templates of the
   candidates' logs (``log_chunking.problem_templates``), those that share the most of the description's words
   ("content type": ``Content-Type '<*>' is not supported``), at least one.
3. Those lines count as no incident (incidents.py), so the other incidents lead, and no incident's passage is
   headed by one (passages.py: the suspect's lines, interleaved with the refusals that kept the devices out,
   are not what the answer starts from, nor where it goes back to the first of them).
4. When what the question asks of the suspect names a time, that time says when the trouble was, not the one in
   the description (``timed_part``: the suspect's lines began "since 9:30ish", checkout crawled "late morning").

Pure functions of the question and the candidates' text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from worker.documents.document import Chunk
from worker.documents.log_chunking import problem_templates
from worker.engine.base import MAX_QUESTION_CHARS
from worker.engine.moments import asked_spans
from worker.engine.names import word_stems

_THAT = r"(?:that|this|it|those|these|they|all that|all this|all of that|any of that|any of this)"
# where the question asks whether what it just described was the cause
_ASKS_CAUSE = re.compile(
    r"(?i)(?:\b(?:is|was|are|were|could|can|would|might|may)\s+" + _THAT + r"\s+(?:(?:be|have been)\s+)?"
    r"(?:what|why|the (?:cause|reason|problem|culprit|issue|trigger)|related|connected|behind|to blame"
    r"|causing|caused|responsible)\b"
    r"|\bdid\s+" + _THAT + r"\s+(?:cause|kill|take|break|bring|trigger|knock)\w*\b"
    r"|\b(?:is|was|are|were)\s+" + _THAT + r"\s+(?:\w+\s+){0,2}(?:related|connected)\b)")
# the words of a description that say nothing about which lines it means
_GENERIC = word_stems("a lot lots ton tons wall bunch load loads pile heap flood spam spamming noise noisy junk "
                      "warning warnings warn error errors message messages line lines log logs entries entry there "
                      "right around then before after time too also same seeing seen saw see got get getting kept "
                      "keep keeps whole full of in the was were is are been be had have has did does do it its "
                      "this that these those we our they them just all any some still again usual normal regular "
                      "typical everyday daily background known chatter garbage crap")


# a suspect named after the trouble: "inbound mail was delayed after lunch - is it those tls errors from mon01?"
_BLAMES = re.compile(r"(?i)(?:^|[-,.;:!?]\s*)(?:is|was|are|were|could)\s+(?:it|that|this)\s+(?:be\s+)?"
                     r"(?:those|these|all (?:those|these|the|that))\s+(?P<suspect>[^?!.]{3,120})")


# a suspect named inside the question about it: "is that redis blip from earlier the reason the pod was crashlooping?",
# "is the rate limit mess around 3 the reason payments fell over", "was the overload thing why it couldnt pull
# catalogs", "was the db01 full dump what filled up the backup storage"
_NAMES_CAUSE = re.compile(r"(?i)\b(?:is|was|are|were|could)\s+(?:it|that|this|those|these|the)\s+"
                          r"(?P<suspect>[^?!.]{3,80}?)"
                          r"\s+(?:(?:really|actually|just|maybe|possibly)\s+)?(?:the\s+(?:(?:real|root|actual)\s+)?"
                          r"(?:reason|cause|culprit|trigger)|what\s+(?:caused|killed|broke|took|made|filled|ate|used up"
                          r"|triggered|started)|behind|to blame|responsible for)\b"
                          # "why" after a thing named, not after a clause ("was it trying to reach and why did it fail")
                          r"|\b(?:is|was|are|were)\s+(?:that|this|those|these|the)\s+(?P<named>[^?!.]{3,80}?)"
                          r"(?<!\band)(?<!\bor)(?<!\bbut)\s+why\b")
# and the trouble named before its suspect: "were the kills after 11 just fallout from the worker that dropped earlier?"
_FALLOUT = re.compile(r"(?i)\b(?:(?:just|only|all|simply)\s+)?(?:fallout|a side[- ]effect|side[- ]effects|knock-on"
                      r"|collateral(?: damage)?|a result|caused)\s+(?:from|of|by)\s+(?P<suspect>[^?!.]{3,80})")

# lines the question sets aside: "anything bad in the parcel api log today? apart from the geocoder spam", "ignore the
# protobuf mirror, thats always broken" (the rest of that sentence says why)
_SETS_ASIDE = re.compile(r"(?i)(?<!\w)(?:apart from|aside from|besides|other than|except(?: for)?"
                         r"|excluding|not counting|ignor(?:e|ing)|leaving aside|never mind)\s+"
                         r"(?P<suspect>[^?!.,;:]{3,80})[^?!.]*")


# lines the question calls harmless: "(the mnesia overloaded warnings are normal btw)", "those cert warnings are
# expected"
_CALLED_HARMLESS = re.compile(r"(?i)(?<![\w'])(?:\(\s*)?(?:the|those|these|all the|all those)\s+"
                              r"(?P<suspect>[^?!.,;:()]{3,80}?)\s+(?:are|is|were|was)\s+"
                              r"(?:(?:totally|always|just|perfectly|all|usually|known to be)\s+)?"
                              r"(?:normal|expected|harmless|benign|noise|known)\b[^?!.,;()]*\)?")


# what a line may be besides trouble: "anything broken or is it just the usual push token spam?", "or just the
# 'unable to fetch my node definition' 403 spam again?", "or just the usual php session 'could not stat' noise from the
# web boxes?", "or is it only noise": the spam is what the asker hopes the lines are, not what they ask about
_QUOTED = r"'[^'\n]{1,80}'|\"[^\"\n]{1,80}\"|\u2018[^\u2019\n]{1,80}\u2019|\u201c[^\u201d\n]{1,80}\u201d"
JUST_NOISE = re.compile(r"(?i)\bor (?:is it |it'?s |its |is that |that'?s |are they |are those )?"
                        r"(?:just |only |merely |simply )?(?P<suspect>(?:(?:" + _QUOTED + r")|[^.?!'\"\u2018\u201c\n])"
                        r"{0,100}?\b(?:spam|noise|flood|junk|chatter|garbage|crap)\w*)"
                        r"(?: again| as usual| from (?:the |our )?[\w-]+(?: [\w-]+)?)*")


def set_aside(question: str) -> tuple[str, str] | None:
    """(what the question sets aside, the question without that sentence) when it sets some lines aside
    (``_SETS_ASIDE``), calls them harmless (``_CALLED_HARMLESS``) or hopes they are all there is (``JUST_NOISE``);
    None otherwise."""
    head = question[:MAX_QUESTION_CHARS]
    found = _SETS_ASIDE.search(head) or _CALLED_HARMLESS.search(head) or JUST_NOISE.search(head)
    if found is None or not description_words(found.group("suspect")):
        return None
    rest = f"{head[:found.start()]} {head[found.end():]}".strip()
    return (found.group("suspect"), rest) if rest else None


def suspect_split(question: str) -> tuple[str, str] | None:
    """(the suspect's description, what the question asks of it) when the question names a suspect after
    describing it, or names it inside the question ("is that redis blip the reason the pod was crashlooping?":
    ``_NAMES_CAUSE``), or describes the trouble and then asks whether a suspect it names did it ("... - is it
    those tls errors from mon01?": ``_BLAMES``; "were the kills after 11 just fallout from the worker that dropped?":
    ``_FALLOUT``), or sets lines aside (``set_aside``: they are no more the answer
    than a suspect is); None otherwise (also when it asks whether something caused it before describing anything:
    "was it the disk?")."""
    head = question[:MAX_QUESTION_CHARS]
    found = _ASKS_CAUSE.search(head)
    if found is None and (named := _NAMES_CAUSE.search(head)) and description_words(suspect := named.group(
            "suspect") or named.group("named")):
        end = named.end("suspect") if named.group("suspect") else named.end("named")
        return suspect, f"{head[:named.start()]} {head[end:]}".strip()
    if found is None and (fallout := _FALLOUT.search(head)) and description_words(fallout.group("suspect")):
        return fallout.group("suspect"), f"{head[:fallout.start()]} {head[fallout.end():]}".strip()
    if found is None:
        blamed = _BLAMES.search(head)
        if blamed is None or not description_words(blamed.group("suspect")) or not head[:blamed.start()].strip():
            return set_aside(head)
        return blamed.group("suspect"), head[:blamed.start()]
    described = head[:found.start()]
    if not description_words(described):
        return None
    return described, head[found.start():]


def description_words(described: str) -> frozenset[str]:
    """The stems of a suspect's description that may say which lines it means."""
    return word_stems(described) - _GENERIC


def suspect_templates(described: str, chunks: Sequence[Chunk]) -> frozenset[str]:
    """The templates of the warning-or-worse lines of the candidates' logs that share the most words with
    the description (at least one): the lines the question suspects."""
    wanted = description_words(described)
    shared: dict[str, int] = {}
    for chunk in chunks:
        if chunk.document.kind != "log":
            continue
        for template in problem_templates(chunk.text):
            if template not in shared:
                shared[template] = len(wanted & word_stems(template))
    most = max(shared.values(), default=0)
    return frozenset(t for t, n in shared.items() if n == most) if most > 0 else frozenset()


def timed_part(question: str) -> str:
    """The part of the question whose times say when the trouble was: what it asks of its suspect when that names a
    time ("lots of junk lines from the load balancers since 9:30ish.. is that what made checkout crawl late
    morning?": the suspect began at 9:30, the trouble was late in the morning), the whole question otherwise."""
    split = suspect_split(question)
    return split[1] if split is not None and asked_spans(split[1]) else question


def suspected(question: str, chunks: Sequence[Chunk]) -> frozenset[str]:
    """The templates of the lines the question suspects (``suspect_templates``); none when it names no
    suspect."""
    split = suspect_split(question)
    return frozenset() if split is None else suspect_templates(split[0], chunks)


def without_suspect(question: str, chunks: Sequence[Chunk]) -> str:
    """What the question asks of its suspect when it suspects lines of the candidates' logs ("inbound mail was delayed
    after lunch - is it those tls errors from mon01?": the delay); the whole question otherwise."""
    split = suspect_split(question)
    return split[1] if split is not None and suspected(question, chunks) else question
