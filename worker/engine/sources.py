"""Who sends the traffic: the questions that ask it, and the address a log line was sent from.

"Who was hammering it?", "which client was it?", "something was poking the port, where did it come from?"
ask for the sender of some traffic, not for an address the service itself talks to. A log line names its
sender (``sender``):

1. in a field or after a word that says so: ``"remote_ip":"203.0.113.77"``, ``remoteAddr="10.42.19.88:51257"``,
   ``[client 10.1.2.3]``, ``ip_address: "45.155.205.233"``, ``TLS handshake error from 10.42.11.61``, Rails'
   ``Started POST "/users/sign_in" for 185.220.101.47``;
2. as an address with an ephemeral port (``EPHEMERAL_PORT`` and up: the client's end of a connection the service
   accepted), whatever the words before it: ActiveMQ's ``Transport Connection to: tcp://10.30.250.14:50113
   failed``;
3. otherwise as the line's first address, as access and query logs do (``10.244.6.23:35866 - 19369 "AAAA IN
   ..."``), unless the words just before it say the line goes there: ``dial tcp 10.42.0.12:443``, ``connect
   to 10.0.0.5``, ``upstream: "http://10.1.1.2:8080"``, ``listening on 0.0.0.0:8080``.

For such a question, log chunks whose senders, with those of the lines around them, are mostly one address
count (``source_scores``): one client flooding or probing, not the mixed clients of ordinary traffic, nor the
errors of a dependency the service cannot reach (which name where the lines go, not who sent them); a chunk whose
lines are neither refused (a 4xx or 5xx access line) nor a warning or worse counts ``QUIET_SENDER`` as much: one
user's routine session is no probe.

Pure functions of the question and the candidates' text.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from worker.documents.document import Chunk, logs_in_file_order
from worker.documents.log_format import ACCESS_REQUEST, QUOTED_REQUEST, Severity
from worker.engine.base import MAX_QUESTION_CHARS
from worker.engine.incidents import text_severity

# "who was hammering it?", "who's been hammering the jm rpc port", "which client is flooding us?", "where is all that
# traffic coming from?", "something was poking the port, where did it come from?", "somebody was hammering search,
# which client was it?", "who was that?"
_WHO_SENDS = re.compile(
    r"(?i)\bwho(?:'s| is| was| were| are| has| have)?(?: been)? (?:\w+ing|sen(?:ds|t)|call(?:s|ed)|hit|hits|spamm?ed)\b"
    r"|\bwho (?:was|is|were) (?:it|that|this|them)\b"
    r"|\bwhich (?:clients?|ips?|callers?|sources?)\b"
    r"|\bwhich (?:hosts?|pods?|addresses|boxe?s?|nodes?|apps?|services?)\b"
    r"[^.?!\n]{0,40}\b(?:send|call|hit|query|request|hammer|flood|spam|load|traffic)"
    r"|\b(?:traffic|requests|queries|calls|load) (?:is |are |was |were )?coming from\b"
    r"|\bwhere (?:did|does|do|is|are|was|were) [^.?!\n]{0,30}?\bcom(?:e|es|ing) from\b"
    r"|\btop (?:talkers?|clients?|callers?)\b")
# an IPv4 address, with or without its port
_ADDRESS = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?(?![\w.])")
EPHEMERAL_PORT = 32768  # the first of the ports Linux gives a connection's client end (IANA's range starts at 49152)
LOOK_BEHIND_CHARS = 24  # the words before an address read for whether it is the sender's or the target's
# a field or a word right before the address that names the sender
_SENDER_CUE = re.compile(r"(?i)(?:\b(?:remote|client|src|source|peer|rhost|from|for|by)\w*|\bip(?:_?addr\w*)?)"
                         r"[\"']?\s*[=:]?\s*[\"'\[(]?\s*$")
# a word right before the address that says the line goes there
_TARGET_CUE = re.compile(r"(?i)(?:\b(?:dial(?:ing)?|tcp|udp|to|upstream\w*|connect\w*|server|backend\w*|proxy\w*"
                         r"|dest\w*|target\w*|listen\w*|bind|on|at)|->)[\"']?\s*[=:]?\s*[\"'\[(]?(?:\w+://)?\s*$")
QUIET_SENDER = 0.5  # the weight of a chunk none of whose lines is refused or a warning or worse: one user's routine
# session beside the probe that failed its checks
SENDER_REACH_LINES = 10  # lines either side of a chunk read with it for who sent them (a chunk may be one line)
MIN_SENDER_LINES = 3  # lines from one address, at least, for a chunk to count


def asks_who_sends(question: str) -> bool:
    """The question asks who sent some traffic ("who was hammering it?", "where did it come from?")."""
    return bool(_WHO_SENDS.search(question[:MAX_QUESTION_CHARS]))


@functools.lru_cache(maxsize=65_536)
def sender(line: str) -> str | None:
    """The address a log line was sent from (the module docstring's rules), or None."""
    first = None
    for match in _ADDRESS.finditer(line):
        before = line[max(0, match.start() - LOOK_BEHIND_CHARS):match.start()]
        if _SENDER_CUE.search(before) or (match.group(2) and int(match.group(2)) >= EPHEMERAL_PORT):
            return match.group(1)
        if first is None:
            first = None if _TARGET_CUE.search(before) else match.group(1)
            if first is None:
                return None  # the line's first address is where it goes: the rest are about it
    return first


def source_scores(question: str, chunks: Sequence[Chunk]) -> np.ndarray:  # [N] in [0, 1]
    """For a question that asks who sends the traffic: per log chunk, of the lines with a sender in it and
    in its log's candidate chunks up to ``SENDER_REACH_LINES`` lines before and after it, the share that
    come from the most frequent sender, when that holds ``MIN_SENDER_LINES`` lines; zeros otherwise."""
    scores = np.zeros(len(chunks), np.float32)
    if not asks_who_sends(question):
        return scores
    for ordered in logs_in_file_order(chunks):
        for position, index in enumerate(ordered):
            start = chunks[index].line_start - SENDER_REACH_LINES
            end = chunks[index].line_end + SENDER_REACH_LINES
            senders: Counter[str] = Counter()
            for step in (-1, 1):
                near = position if step == 1 else position - 1
                while 0 <= near < len(ordered):
                    other = chunks[ordered[near]]
                    if other.line_end < start or other.line_start > end:
                        break
                    senders.update(_senders(other.text))
                    near += step
            top = senders.most_common(1)
            if top and top[0][1] >= MIN_SENDER_LINES:
                quiet = not _refused_or_worse(chunks[index].text)
                scores[index] = top[0][1] / sum(senders.values()) * (QUIET_SENDER if quiet else 1.0)
    return scores


# an access line whose status refuses the request, before or after the quoted request (Synapse logs its 429s at INFO:
# '101B 429 "POST /_matrix/client/v3/register HTTP/1.1"'), or in a JSON field
_REFUSED_STATUS = re.compile(ACCESS_REQUEST + r"[45]\d\d\b|\b[45]\d\d " + QUOTED_REQUEST
                             + r'|"status"\s*:\s*"?[45]\d\d\b')


@functools.lru_cache(maxsize=65_536)
def _refused_or_worse(text: str) -> bool:
    """A line of the text is a warning or worse, or an access line whose status refuses the request."""
    return text_severity(text) >= Severity.WARNING or bool(_REFUSED_STATUS.search(text))


@functools.lru_cache(maxsize=65_536)
def _senders(text: str) -> Counter[str]:
    return Counter(address for line in text.split("\n") if (address := sender(line)) is not None)
