"""The party of a log that a question names: "bob says the vpn keeps rejecting him" over a VPN gateway's log of many
users' logins (``CN=bob@example.com``), "when did billing connect again?" over a broker's log of many clients
(``'billing-svc'``), "kevin cant log in" over a chat server's (``@kevin.m:northwind.io``).

A word of the question names a party when the log writes it as part of a name (joined to letters or digits by
``-``, ``_``, ``.`` or ``@``: not the plain word "dropped") and no more than ``PARTY_SHARE`` of the log's chunks
hold it: "vpn", of the gateway's own name ``vpn-gw1`` on every line, names the log, not one of its parties. Pure
functions of the question and the chunks' text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from worker.documents.document import Chunk
from worker.engine.base import FUNCTION_WORDS, MAX_QUESTION_CHARS

PARTY_SHARE = 1 / 3  # of a log's chunks, at most, that hold a word for it to name one party of the log
_WORD = re.compile(r"[a-z][a-z0-9]{2,}")


@functools.lru_cache(maxsize=65_536)
def text_words(text: str) -> frozenset[str]:
    """The text's words of three or more letters and digits, lowercased."""
    return frozenset(_WORD.findall(text.lower()))


def named_parties(question: str, chunks: Sequence[Chunk], indexes: Sequence[int]) -> frozenset[str]:
    """The words of the question that name one party of the log whose chunks are ``indexes`` (in file order);
    empty when none does."""
    if not indexes:
        return frozenset()
    texts = [text_words(chunks[i].text) for i in indexes]
    party = set()
    for word in text_words(question[:MAX_QUESTION_CHARS]) - FUNCTION_WORDS:
        having = [n for n, text in enumerate(texts) if word in text]
        if not having or len(having) > PARTY_SHARE * len(texts):
            continue
        named = re.compile(rf"(?i)\b{word}[-_.@][a-z0-9]|[a-z0-9][-_.]{word}\b")
        if any(named.search(chunks[indexes[n]].text) for n in having):
            party.add(word)
    return frozenset(party)


def only_in_names(word: str, chunks: Sequence[Chunk], indexes: Sequence[int]) -> bool:
    """The log writes ``word`` only as part of names (``CN=bob@example.com``, ``@kevin.m:example.org``), never as a
    word of its own ("Can't connect", "out of memory", "SQL Server") nor in a code identifier (``slap_client_connect``;
    one before ``@`` is a user's name: ``appdb/reporting_ro@10.20.6.44``): a person, a host or a client, not a word of
    the log's own vocabulary that some name also holds."""
    plain = re.compile(rf"(?i)(?<![\w.@/-]){word}(?![\w@-]|\.\w)|_{word}\b(?![\w.-]*@)|\b{word}_(?![\w.-]*@)")
    return not any(plain.search(chunks[i].text) for i in indexes)
