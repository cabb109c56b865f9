"""Questions about what went wrong, and how bad a log chunk is: incidents lead for such questions.

"Where is the error / stack trace / exception?", "What failed?", "Why did the refund job fail?", "Why
does it keep crashing?" ask for the incidents of a log: for them a log chunk's severity (a stack trace,
then error lines: ERROR, FATAL, CRITICAL, panic, Traceback..., then warnings; see log_format.py) counts more
than the words it shares with the question. A question that asks about warnings weighs every incident
the same. A question about a storm ("what was it spamming?", "what does it keep logging?") weighs each
incident by how often its lines' template recurs among the log's candidate chunks instead. A question about
a crash ("what took it down?", "it fell over") weighs less the incidents that the log goes on after, when
another one ends with a line that says the process ended ("Shutdown broker", "exited with code 137").
A question that names a suspect ("a wall of warnings right before the restart, was that what took it down?") is
read without it, and the suspect's lines count as no incident (suspects.py). A problem line logged all through a
log (a monitor's probe failing every hour) is its background: such incidents weigh less. A question about a log's
incidents in general ("anything bad on mx2 today?") weighs incidents alike by how many problem lines lie around
them. Other questions ("which version was
running?") are ranked on their words alone.

Pure functions of the question and the candidates' text; ``incident_scores`` is 0 for chunks of
documents that are not logs.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from worker.documents.document import Chunk, logs_in_file_order
from worker.documents.log_chunking import folded_run, problem_templates
from worker.documents.log_format import Severity, is_stack_trace_line, line_severity, line_template
from worker.engine.base import MAX_QUESTION_CHARS
from worker.engine.moments import DAY, WINDOW_MINUTES, Span, asked_spans, chunk_minutes, chunk_spans, distance
from worker.engine.names import name_words, word_stems
from worker.engine.parties import named_parties, only_in_names, text_words
from worker.engine.suspects import JUST_NOISE, set_aside, suspect_split, suspect_templates

_FELL = r"fell over|falls? over|falling over|took \S+ down|taken down"  # the process stopped, as people say it
_INCIDENT_WORDS = re.compile(
    r"(?i)\b(?:error(?:s|ed|ing)?|exceptions?|stack ?traces?|tracebacks?|traces?|crash\w*|fail\w*|broken?|wrong"
    r"|panic\w*|fatal|critical|problems?|issues?|incidents?|causes?|caused|causing|why|died|dies|dying|dead"
    r"|kill(?:ed|ing)|oom\w*|out of memory|timeouts?|timed out|refused|rejected|denied|unhealthy|down|lost"
    r"|inconsisten\w*|corrupt\w*|bad|worse|worst"
    r"|los(?:e|es|ing|s)"
    r"|restart\w*|warn\w*|alerts?|outages?|segfault\w*|abort\w*|bugs?|troubles?|complain\w*|spam\w*|flood\w*"
    r"|storms?|throttl\w*|hiccups?|glitch\w*|full|blow\w* up|blew up|went bad|gone bad|what happened"
    r"|going on|timing out|" + _FELL + r"|(?:went|go|goes|going|gone) down"
    r"|(?:drop|dropp|pull|kick|fall|fell|lock|boot|throw|thrown)\w* out|can'?t|cannot|couldn'?t|unable|won'?t"
    r"|(?:got|get|gets|getting|been|being|was|were) (?:kick|boot|throw|thrown)\w* off|disconnect(?:s|ed|ing)"
    r"|not working|stopped working|(?:anything|something|looks?|looked|seems?|seemed) off"
    r"|(?:anything|something) (?:weird|odd|strange|unusual|funny|fishy)"
    r"|chok(?:e|es|ed|ing)|(?:nobody|no one|none of \w+) (?:could|can|was able|were able)"
    r"|flak(?:y|ey|ing|ed|es)|flapp\w*"  # "payment provider flaking again?"
    # what did not arrive: "invoices not going out", "is the queue just backed up", "a backlog"
    r"|(?:didn'?t|did not|don'?t|do not|doesn'?t|does not|not|isn'?t|aren'?t|wasn'?t|weren'?t) (?:arriv\w*"
    r"|show(?:ing)? up|deliver\w*|go(?:ing)? out|get(?:ting)? (?:sent|delivered)|c[ao]m(?:e|ing) through)"
    r"|undeliver\w*|backed up|backlog\w*)(?!\w)"
)
# slowness: trouble to ask about ("is that what made checkout crawl?"), though a log seldom says it in words
_SLOW_WORDS = re.compile(r"(?i)\b(?:slow(?:s|ed|ing|ness|er)?|crawl(?:s|ed|ing)?|sluggish|lagg(?:y|ing)|hung"
                         r"|hang(?:s|ing)?|stuck|froze|frozen|freez(?:e|es|ing))\b")
_WARNING_WORDS = re.compile(r"(?i)\bwarn(?:ing|ings|s)?\b")
_STORM_WORDS = re.compile(r"(?i)\b(?:spam\w*|flood\w*|storms?|over and over|again and again|repeated\w*"
                          r"|keeps? (?:logging|saying|printing|throwing)"  # not "kept failing": what failed
                          r"|kept (?:logging|saying|printing|throwing)"
                          r"|(?:log|logs|it) (?:is|are|'s|was|were) full of (?:it|them|this|that))\b")
_CRASH_WORDS = re.compile(r"(?i)\b(?:died|dies|dead|crash\w*|kill(?:ed|ing)|" + _FELL
                          + r"|(?:went|go|goes|going) down|restart\w*|oom\w*|exit\w*|shut ?down)\b")
# a line that says the process ended: what a crash question wants the incident before (a Rust panic: "thread 'main'
# panicked at src/main.rs:9:5:"; the JVM's crash report: "# Core dump will be written.")
_ENDED = re.compile(r"(?i)\b(?:shut(?:ting)? ?down|exit(?:ing|ed)|terminat(?:ed|ing)|abort(?:ed|ing)|halt(?:ed|ing)"
                    r"|killed|core dumped|crash dump|core dump will be written|panicked|caught signal|crashing)\b")
CHRONIC = 0.6  # for a question that names a time, the weight of incidents that were going on long before it
CHRONIC_MINUTES = 15  # how long before the time asked about a problem first logged was going on already
FAR = 0.6  # for a question that names a time, the weight of incidents far from it, when one lies near it
NOT_ENDING = 0.6  # for a crash question, the weight of incidents after which the log goes on, when one ends it
RUN_GAP_LINES = 10  # incident chunks this close (in lines) are one run: the error, its trace, the shutdown
RUN_GAP_MINUTES = 5  # and this close in time, when both have one (an hour between them is two incidents)
UNNAMED = 0.5  # for a question that names one party of a log, the weight of incidents that do not name it
BURST_LINES = 20  # for a question about the log's incidents in general, the lines either side counted with a chunk
BURST_FLOOR = 0.85  # the weight of an incident chunk with the fewest problem lines around it (1 with the most):
# a tie-breaker among incidents alike, never above a worse one
STEADY = 0.6  # the weight of incidents whose every problem line recurs all through the log, when one does not
STEADY_PARTS = 8  # a log's candidate lines in this many equal parts, by position
STEADY_SEEN_IN = 6  # a problem template logged in at least this many of them is the log's background


def asks_about_incident(question: str) -> bool:
    """The question asks what went wrong (errors, failures, crashes, causes, slowness), or for the log's incidents in
    general ("anything worth escalating from overnight?")."""
    head = question[:MAX_QUESTION_CHARS]
    return bool(_INCIDENT_WORDS.search(head) or _SLOW_WORDS.search(head) or _OVERVIEW.search(head))


def names_logged_trouble(text: str) -> bool:
    """The text names trouble in words a log uses for it (errors, failures, crashes; not slowness, which a log
    seldom writes: "before it got slow" points at no line)."""
    return bool(_INCIDENT_WORDS.search(text[:MAX_QUESTION_CHARS]))


# a question for the log's incidents in general: "anything bad on mx2 today?", "what broke in flink today", "just gimme
# the highlights"
_OVERVIEW = re.compile(
    r"(?i)\b(?:anything|something) (?:(?:else|at all|really|actually|actualy|truly|seriously) )?"
    r"(?:bad|wrong|broken|off|odd|weird|worrying|unusual"
    r"|interesting|notable|real|serious|important|concerning|alarming|actionable|urgent)\b"
    r"|\bany (?:issues|problems|errors|incidents|trouble|failures)\b"
    r"|\b(?:anything|something) (?:\w+ )?worth (?:escalat\w*|worry\w*|flagging|paging|waking|reporting|raising)"
    r"|\bwhat (?:broke|went wrong|blew up)\b|\bhighlights?\b|\bsummar(?:y|ise|ize)\b|\boverview\b")
# the words of such a question that name no particular incident
_OVERVIEW_WORDS = word_stems(
    "anything something else at all really bad wrong broken broke break off odd weird worrying unusual interesting "
    "notable any issues issue problems problem errors error incidents incident trouble failures failure what went go "
    "going happen happened happening blew blow up today tonight overnight yesterday morning afternoon evening night "
    "day whole so far since midnight log logs file in on at of for the a an this that these those there was were is "
    "are been highlights highlight summary summarise summarize overview gimme give me us just show tell list quick "
    "please pls api app application service server host box machine node instance cluster journal syslog actually "
    "actualy truly seriously prod production staging stage dev db database last need needs handover handoff dba sre "
    "oncall pod pods container lot lots pile bunch ton tons got get paged page here usual noise noisy spam timeline "
    "rough roughly mess write writeup postmortem post mortem report doc mgmt management boss want wants affected "
    "time times when real serious important concerning alarming actionable urgent someone somebody anyone can could "
    "skim scan look check read glance through over background usual normal regular just or hand handed gave given "
    "firewall router switch proxy gateway balancer lb vpn dns mail email chat web worth escalate escalating escalation "
    "worry worrying flag flagging paging waking report "
    "reporting raise raising")
_TIME_WORD = re.compile(r"\d{1,2}(?::?\d\d)?(?:am|pm|h)?")  # "since 10am": when, not which incident
OVERVIEW_SAMPLE = 400  # chunks of a log read for the words that most of its lines use
OVERVIEW_COMMON = 0.25  # a word in this share of them names the log's own subject, no incident


def asks_for_overview(question: str, chunks: Sequence[Chunk]) -> bool:
    """The question asks for the log's incidents in general ("anything bad on mx2 today?"): it says so
    (``_OVERVIEW``), suspects nothing (suspects.py; it may set some lines aside), and each of its other words is in
    ``_OVERVIEW_WORDS``, in the log's name ("mx2" of exim-mx2.log) or in ``OVERVIEW_COMMON`` of its chunks (the log's
    subject: "container" in a container runtime's log)."""
    head = JUST_NOISE.sub(" ", question[:MAX_QUESTION_CHARS])  # "... or just the usual push token spam?"
    aside = set_aside(head)  # "... apart from the geocoder spam": still every other incident
    if aside is not None and suspect_split(head) == aside:
        head = aside[1]
    if not _OVERVIEW.search(head) or suspect_split(head) is not None:
        return False
    logs = [chunk for chunk in chunks if chunk.document.kind == "log"]
    if not logs:
        return False
    left = frozenset(word for word in word_stems(_INCIDENT_WORDS.sub(" ", head)) - _OVERVIEW_WORDS
                     if not _TIME_WORD.fullmatch(word))
    for document in {chunk.document.doc_id: chunk.document for chunk in logs}.values():
        names = name_words(document)
        left -= names | {name.rstrip("0123456789") for name in names}  # "icinga" of icinga2-master-01.log
    return not left - subject_words(left, logs)


def subject_words(words: frozenset[str], chunks: Sequence[Chunk]) -> frozenset[str]:
    """Of ``words`` (stems), those in ``OVERVIEW_COMMON`` of the first ``OVERVIEW_SAMPLE`` log chunks: the words
    of the log's own subject ("broker" in a message broker's log), which name no line in particular."""
    sample = [chunk for chunk in chunks if chunk.document.kind == "log"][:OVERVIEW_SAMPLE]
    if not words or not sample:
        return frozenset()
    used = Counter(word for chunk in sample for word in word_stems(chunk.text) & words)
    return frozenset(word for word in words if used[word] >= OVERVIEW_COMMON * len(sample))


def asks_about_warnings(question: str) -> bool:
    return bool(_WARNING_WORDS.search(question[:MAX_QUESTION_CHARS]))


def asks_about_crash(question: str) -> bool:
    """The question asks what stopped the process ("died", "took it down", "fell over", "restarted")."""
    return bool(_CRASH_WORDS.search(question[:MAX_QUESTION_CHARS]))


def asks_about_storm(question: str) -> bool:
    """The question asks what a log repeats ("spamming", "flooded with", "keeps logging"; not "is that bad or just
    the usual spam")."""
    return bool(_STORM_WORDS.search(JUST_NOISE.sub(" ", question[:MAX_QUESTION_CHARS])))


@functools.lru_cache(maxsize=65_536)
def text_severity(text: str) -> Severity:
    """The highest severity among a log text's lines; any piece of a stack trace makes it STACK_TRACE."""
    worst = Severity.NONE
    for line in text.split("\n"):
        if is_stack_trace_line(line):
            return Severity.STACK_TRACE
        worst = max(worst, line_severity(line))
    return worst


def incident_scores(question: str, chunks: Sequence[Chunk]) -> np.ndarray:  # [N] in [0, 1]
    """For a question about what went wrong: each log chunk's severity scaled to [0, 1] (a stack trace 1,
    errors 2/3, warnings 1/3; every incident 1 when the question asks about warnings); otherwise zeros."""
    scores = np.zeros(len(chunks), np.float32)
    if not asks_about_incident(question):
        return scores
    suspect = suspect_split(question)
    asked = question if suspect is None else suspect[1]  # what went wrong, without the suspect's words
    suspects = frozenset() if suspect is None else suspect_templates(suspect[0], chunks)
    flat = asks_about_warnings(asked)
    for index, chunk in enumerate(chunks):
        if chunk.document.kind != "log":
            continue
        severity = _severity_without(chunk.text, suspects) if suspects else text_severity(chunk.text)
        if severity != Severity.NONE:
            scores[index] = 1.0 if flat else severity / Severity.STACK_TRACE
    named = _naming_the_party(asked, chunks, scores > 0)
    if asks_about_storm(asked):
        return _recurrence(chunks, scores > 0) * named
    times = asked_spans(asked)
    spans = chunk_spans(chunks) if times and scores.any() else {}  # only for a question that names a time
    far = _far_from_the_time(times, spans, chunks, scores > 0)
    if asks_about_crash(asked):  # of the incidents around the time asked about, when it names one
        scores *= _ending(chunks, (scores > 0) & (far == 1.0))
    logs = [(ordered, background_templates(chunks, ordered)) for ordered in logs_in_file_order(chunks)
            ] if scores.any() else []  # each log's chunks in file order, with its background
    scores *= _chronic(times, spans, chunks, scores > 0) * far * named * _steady(chunks, scores > 0, logs)
    if asks_for_overview(asked, chunks):  # of the incidents, the biggest first
        scores *= _burst(chunks, scores > 0, logs)
    return scores


def _naming_the_party(question: str, chunks: Sequence[Chunk], incident: np.ndarray) -> np.ndarray:  # [N]: 1 or UNNAMED
    """For a question that names one party of a log (parties.py: "bob says the vpn keeps rejecting him" over a
    gateway's log of many users' logins) by a word the log writes only in names (``only_in_names``): ``UNNAMED``
    for the incident chunks of that log that do not name it (another user's certificate, the daemon's crash), when
    one of its incident chunks does; 1 elsewhere."""
    out = np.ones(len(chunks), np.float32)
    for ordered in logs_in_file_order(chunks) if incident.any() else ():
        # the log's own name names no party of it: "temporal" of temporal-history-2.log ("go.temporal.io" frames)
        document = chunks[ordered[0]].document
        own = text_words(f"{document.title} {document.file_name}")
        party = frozenset(word for word in named_parties(question, chunks, ordered)
                          if word not in own and only_in_names(word, chunks, ordered))
        failing = [i for i in ordered if incident[i]]
        unnamed = [i for i in failing if not party & text_words(chunks[i].text)]
        if len(unnamed) < len(failing):
            out[unnamed] = UNNAMED
    return out


def background_templates(chunks: Sequence[Chunk], ordered: Sequence[int]) -> frozenset[str]:
    """The problem templates (``problem_templates``) of one log (``ordered``: its chunks' indexes in file order)
    logged all through it, in at least ``STEADY_SEEN_IN`` of its ``STEADY_PARTS`` equal parts by line: its
    background (a monitor's TLS probe failing every hour of the day), not what went wrong."""
    if not ordered:
        return frozenset()
    first = chunks[ordered[0]].line_start
    size = max(1, chunks[ordered[-1]].line_end - first + 1)
    parts: dict[str, set[int]] = {}
    for index in ordered:
        part = (chunks[index].line_start - first) * STEADY_PARTS // size
        for template in problem_templates(chunks[index].text):
            parts.setdefault(template, set()).add(part)
    return frozenset(template for template, seen in parts.items() if len(seen) >= STEADY_SEEN_IN)


Logs = Sequence[tuple[list[int], frozenset[str]]]  # each log's chunks (indexes, file order) and its background


def _steady(chunks: Sequence[Chunk], incident: np.ndarray, logs: Logs) -> np.ndarray:  # [N]: 1 or STEADY
    """``STEADY`` for the incident chunks of a log whose every problem line is of its background
    (``background_templates``), when another incident chunk of that log has a problem line that is not; 1
    elsewhere."""
    out = np.ones(len(chunks), np.float32)
    for ordered, background in logs:
        failing = [i for i in ordered if incident[i]]
        steady = [i for i in failing if background.issuperset(problem_templates(chunks[i].text) or {""})]
        if steady and len(steady) < len(failing):
            out[steady] = STEADY
    return out


def _burst(chunks: Sequence[Chunk], incident: np.ndarray, logs: Logs) -> np.ndarray:  # [N] in [BURST_FLOOR, 1]
    """Per incident chunk of a log: how many problem lines (warning or worse, not of its background:
    ``background_templates``; a folded run counts its repeats) its log has within ``BURST_LINES`` lines of it, on
    a log scale from ``BURST_FLOOR`` (one) to 1 (the most of any incident chunk of that log): a burst of deferrals
    while the virus scanner was down weighs more than one failed password guess; 1 elsewhere."""
    out = np.ones(len(chunks), np.float32)
    for ordered, background in logs:
        starts = [chunks[i].line_start for i in ordered]
        total = [0, *itertools.accumulate(sum(n for template, n in problem_templates(chunks[i].text).items()
                                              if template not in background) for i in ordered)]
        counts = {i: total[bisect.bisect_right(starts, chunks[i].line_end + BURST_LINES)]
                  - total[bisect.bisect_left(starts, chunks[i].line_start - BURST_LINES)]
                  for i in ordered if incident[i]}
        most = max(counts.values(), default=0)
        for index, count in counts.items():
            share = math.log1p(count) / math.log1p(most) if most > 0 else 1.0
            out[index] = BURST_FLOOR + (1 - BURST_FLOOR) * share
    return out


def _met(times: Sequence[Span], span: Span) -> list[Span]:
    """The asked times that lie within moments.py's ``WINDOW_MINUTES`` of a chunk's span."""
    return [time for time in times if distance(time, span) < WINDOW_MINUTES]


def _chronic(times: Sequence[Span], spans: dict[int, Span], chunks: Sequence[Chunk], incident: np.ndarray
             ) -> np.ndarray:  # [N]: 1 or CHRONIC
    """For a question that names a time (``times``; ``spans``: moments.py's ``chunk_spans``) ("just after 9, why
    couldn't the devices get back on?"): ``CHRONIC`` for the incident chunks around that time (``_met``) whose
    problem lines were all logged already, first, at least ``CHRONIC_MINUTES`` before it (one panel failing to
    log in all morning), when another incident chunk around that time has a problem that began later (the
    refusals at max_connections); 1 elsewhere."""
    out = np.ones(len(chunks), np.float32)
    if not spans:
        return out
    for ordered in logs_in_file_order(chunks):
        began: dict[str, int] = {}  # template -> the minute of the day it was first logged
        for index in ordered:
            if index in spans:
                for template in problem_templates(chunks[index].text):
                    began.setdefault(template, spans[index][0])
        at = {i: _met(times, spans[i]) for i in ordered if incident[i] and i in spans}
        at = {i: meets for i, meets in at.items() if meets}
        old = [i for i, meets in at.items() if all(template in began and _long_before(began[template], meets)
                                                   for template in problem_templates(chunks[i].text))]
        if old and len(old) < len(at):
            out[old] = CHRONIC
    return out


def _far_from_the_time(times: Sequence[Span], spans: dict[int, Span], chunks: Sequence[Chunk], incident: np.ndarray
                       ) -> np.ndarray:  # [N]: 1 or FAR
    """For a question that names a time (``times``, ``spans`` as for ``_chronic``) ("crashlooping right after we
    rolled the new image at 1pm"): ``FAR`` for the incident chunks of a log that lie further than moments.py's
    ``WINDOW_MINUTES`` from it (a crash two hours before), when another incident chunk of that log lies within; 1
    elsewhere. A crash question then compares only the incidents near that time for the one that ended the
    process (``_ending``)."""
    out = np.ones(len(chunks), np.float32)
    if not spans:
        return out
    for ordered in logs_in_file_order(chunks):
        dated = [i for i in ordered if incident[i] and i in spans]
        near = {i for i in dated if _met(times, spans[i])}
        if near:
            out[[i for i in dated if i not in near]] = FAR
    return out


def _long_before(minute: int, spans: Sequence[tuple[int, int]]) -> bool:
    """``minute`` lies at least ``CHRONIC_MINUTES`` (and at most half a day) before the start of one of the
    asked spans that a chunk lies in."""
    return any(CHRONIC_MINUTES <= (first - minute) % DAY <= DAY // 2 for first, _ in spans)


def _severity_without(text: str, suspects: frozenset[str]) -> Severity:
    """``text_severity`` of a log text without the lines of the suspect's templates (suspects.py)."""
    kept = [line for line in text.split("\n") if line_template(folded_run(line)[0]) not in suspects]
    return text_severity("\n".join(kept)) if kept else Severity.NONE


def _ending(chunks: Sequence[Chunk], incident: np.ndarray) -> np.ndarray:  # [N]: 1 or NOT_ENDING
    """Per chunk: 1, or ``NOT_ENDING`` for the incident chunks of a run (incident chunks of one log at most
    ``RUN_GAP_LINES`` and ``RUN_GAP_MINUTES`` apart, in file order) with no line that says the process ended
    (``_ENDED``: "Shutdown broker", "exited with code 137", "Killed process"), among them or in the quiet lines up to
    ``RUN_GAP_LINES`` after them (pino's info-level "process exiting" after the fatal error), in a log where some run
    has one: the incident that took the service down, not one it lived through."""
    out = np.ones(len(chunks), np.float32)
    for ordered in logs_in_file_order(chunks):
        runs: list[list[int]] = []
        last_end, last_time = None, None  # where and when the last incident chunk ends
        for index in ordered:
            if incident[index]:
                span = chunk_minutes(chunks[index].text)
                if (last_end is not None and last_end + RUN_GAP_LINES >= chunks[index].line_start
                        and (span is None or last_time is None or (span[0] - last_time) % DAY <= RUN_GAP_MINUTES)):
                    runs[-1].append(index)
                else:
                    runs.append([index])
                last_end, last_time = chunks[index].line_end, span[1] if span else last_time
        starts = [chunks[i].line_start for i in ordered]
        ended = []
        for run in runs:  # its chunks, and the quiet lines right after it ("closing server", "process exiting")
            end = chunks[run[-1]].line_end
            after = ordered[bisect.bisect_right(starts, end):bisect.bisect_right(starts, end + RUN_GAP_LINES)]
            ended.append(any(_ENDED.search(chunks[i].text) for i in (*run, *(i for i in after if not incident[i]))))
        if any(ended):
            for run, end in zip(runs, ended, strict=True):
                if not end:
                    out[run] = NOT_ENDING
    return out


def _recurrence(chunks: Sequence[Chunk], incident: np.ndarray) -> np.ndarray:  # [N] in [0, 1]
    """Per incident chunk: how often the most frequent template of its problem lines recurs in its log
    (over the candidates), from 0 (once) to 1 (the log's most repeated), on a log scale; 0 elsewhere."""
    counts: dict[str, Counter[str]] = {}
    for chunk in chunks:
        if chunk.document.kind == "log":
            counts.setdefault(chunk.document.doc_id, Counter()).update(problem_templates(chunk.text))
    out = np.zeros(len(chunks), np.float32)
    for index in np.flatnonzero(incident):
        log = counts[chunks[index].document.doc_id]
        mine = max((log[t] for t in problem_templates(chunks[index].text)), default=1)
        most = max(log.values(), default=1)
        out[index] = math.log(mine) / math.log(most) if most > 1 else 0.0
    return out
