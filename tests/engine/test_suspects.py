"""Questions that name a suspect (worker/engine/suspects.py): the incident that did it leads, not the lines the
question describes."""

from __future__ import annotations

import pytest

from worker.documents.document import Chunk, Document
from worker.engine.default import Evidence, ExtractiveEngine
from worker.engine.incidents import NOT_ENDING, incident_scores
from worker.engine.suspects import set_aside, suspect_split, suspect_templates, timed_part

WARNED = ("2024-11-19T02:53:25.460Z  WARN 1 --- [exec-18] DefaultHandlerExceptionResolver : Resolved "
          "[HttpMediaTypeNotSupportedException: Content-Type 'text/plain' is not supported]")
CRASH = ("2024-11-19T03:07:48.020Z ERROR 1 --- [exec-6] dispatcherServlet : Servlet.service() threw exception\n"
         "java.lang.OutOfMemoryError: Java heap space\n\tat com.corvid.pay.export.CsvWriter.row(CsvWriter.java:38)")


@pytest.mark.parametrize(("question", "described", "asked"), [
    ("there was a wall of content type warnings right before that restart at 3, was that what took it down?",
     "there was a wall of content type warnings right before that restart at 3, ", "was that what took it down?"),
    ("theres a ton of not authorised spam in the broker log around then too, is that what kept line 4 out?",
     "theres a ton of not authorised spam in the broker log around then too, ", "is that what kept line 4 out?"),
    ("tons of deprecated api key warnings. could those be related?", "tons of deprecated api key warnings. ",
     "could those be related?"),
    ("saw a bunch of GC pauses earlier, did that cause the timeouts?", "saw a bunch of GC pauses earlier, ",
     "did that cause the timeouts?"),
])
def test_a_question_that_describes_lines_then_asks_whether_they_did_it(question: str, described: str,
                                                                        asked: str) -> None:
    assert suspect_split(question) == (described, asked)


@pytest.mark.parametrize(("question", "described", "asked"), [
    ("inbound mail was delayed for everyone after lunch - is it those tls errors from mon01?",
     "tls errors from mon01", "inbound mail was delayed for everyone after lunch "),
    ("everyone got kicked off vpn after lunch ~1:40. is it those mtu warnings??", "mtu warnings",
     "everyone got kicked off vpn after lunch ~1:40"),
])
def test_a_question_that_describes_the_trouble_then_asks_whether_some_lines_did_it(question: str, described: str,
                                                                                   asked: str) -> None:
    assert suspect_split(question) == (described, asked)


@pytest.mark.parametrize("question", [
    "what took it down?",  # nothing described
    "is it those warnings?",  # no trouble described before the suspect
    "was it the disk?",  # asks about a cause before describing anything
    "lots of warnings, is that normal?",  # not about a cause
    "there were tons of warnings, was that what took it down?",  # describes nothing but "warnings"
])
def test_other_questions_name_no_suspect(question: str) -> None:
    assert suspect_split(question) is None


def test_the_time_of_the_trouble_is_the_one_asked_of_the_suspect_when_it_names_one() -> None:
    question = "lots of junk conn-closed lines from the load balancers since 9:30ish.. is that what made checkout crawl"
    assert timed_part(question + " late morning?") == "is that what made checkout crawl late morning?"
    assert timed_part(question + "?") == question + "?"  # the suspect's time is the only one
    assert timed_part("what broke at 9:30?") == "what broke at 9:30?"  # no suspect


def test_the_suspects_lines_are_the_templates_sharing_most_of_its_words() -> None:
    log = Document("file:pay.log", "pay.log", "", kind="log")
    chunks = [Chunk(log, WARNED, 212, 212), Chunk(log, CRASH, 237, 239),
              Chunk(log, "2024-11-19T03:07:19.554Z  WARN 1 --- [housekeeper] HikariPool-1 - Thread starvation",
                    236, 236)]
    suspects = suspect_templates("a wall of content type warnings right before that restart", chunks)
    assert len(suspects) == 1 and "Content-Type" in next(iter(suspects))
    assert suspect_templates("a wall of quota warnings", chunks) == frozenset()  # no line is described


def test_the_suspects_lines_count_as_no_incident_and_its_words_set_no_intent() -> None:
    log = Document("file:pay.log", "pay.log", "", kind="log")
    chunks = [Chunk(log, WARNED, 212, 212), Chunk(log, CRASH, 237, 239)]
    question = "there was a wall of content type warnings right before that restart, was that what took it down?"
    assert incident_scores(question, chunks).tolist() == [0.0, 1.0]
    # the same words without the suspect clause ask about warnings: every incident the same
    assert incident_scores("what do the content type warnings say?", chunks).tolist() == [1.0, 1.0]
    # the part after the cut is what is asked: a crash, so an incident after which the log goes on weighs less
    ended = Chunk(log, "2024-11-19T03:08:53.474Z ERROR 1 --- Shutdown broker because all log dirs have failed",
                  300, 300)
    assert incident_scores(question, [chunks[0], chunks[1], ended]).tolist() == pytest.approx(
        [0.0, NOT_ENDING, 2 / 3])


def test_retrieval_looks_for_the_trouble_not_for_the_lines_the_question_suspects(engine: ExtractiveEngine) -> None:
    """"inbound mail was delayed after lunch - is it those tls errors from mon01?": the monitor's TLS errors (beside a
    spam rejection, an error too) share the question's words, the mailbox server refusing the deliveries does not;
    the refusals lead."""
    log = Document("file:exim-mx2.log", "exim-mx2.log", "", kind="log")
    probe = ("2024-11-05 {} TLS error on connection from mon01.int.harwellfoods.com [10.12.0.9] (SSL_accept): "
             "error:0A000126:SSL routines::unexpected eof while reading")
    spam = ("2024-11-05 12:06:15 H=(oxwk.net) [141.98.10.61] F=<noreply@docu-sign-secure.top> rejected RCPT "
            "<contact@harwellfoods.com>: Unrouteable address")
    chunks = [Chunk(log, probe.format("12:00:05") + "\n" + spam, 265, 266),
              Chunk(log, "2024-11-05 12:31:19 1t8IiM-0096Mj-Ot H=mbox1.int.harwellfoods.com [10.12.4.21] Connection "
                         "refused\n2024-11-05 12:31:19 1t8IiM-0096Mj-Ot == r.okafor@harwellfoods.com R=mailstore "
                         "T=remote_lmtp defer (111): Connection refused", 270, 271),
              Chunk(log, probe.format("13:17:01"), 318, 318)]
    question = "inbound mail was delayed for everyone after lunch - is it those tls errors from mon01?"
    assert engine.answer(question, chunks).citations[0].chunk.line_start == 270


def test_lines_the_question_sets_aside_are_treated_as_a_suspect() -> None:
    """"apart from the geocoder spam", "ignore the protobuf mirror, thats always broken": the lines set aside are no
    more the answer than a suspect is; the rest of the question is what it asks."""
    assert set_aside("anything bad in the parcel api log today? apart from the geocoder spam") == (
        "the geocoder spam", "anything bad in the parcel api log today?")
    assert set_aside("anything weird on git01 today? ignore the protobuf mirror, thats always broken") == (
        "the protobuf mirror", "anything weird on git01 today?")
    assert suspect_split("anything weird on git01 today? ignore the protobuf mirror") == (
        "the protobuf mirror", "anything weird on git01 today?")
    assert set_aside("why did it crash?") is None and set_aside("ignore it") is None  # nothing left, or said
    mirror = ("2024/04/09 07:10:03 ...irror/mirror_pull.go:459:runSync() [E] SyncMirrors [repo: 88:vendor/"
              "protobuf-fork]: failed to update mirror repository")
    disk = ("2024/04/09 11:20:14 ...rvices/lfs/server.go:339:UploadHandler() [E] Error putting LFS MetaObject into "
            "content store. Error: write /var/lib/gitea/data/lfs/tmp/3427113518: no space left on device")
    assert _aside_and_other("anything weird on git01 today? ignore the protobuf mirror", mirror, disk)


def _aside_and_other(question: str, aside: str, other: str) -> bool:
    """The incident scores of two log lines, ten and ninety: none for the one the question sets aside, some for the
    other."""
    log = Document("file:app.log", "app.log", "", kind="log")
    scores = incident_scores(question, [Chunk(log, aside, 10, 10), Chunk(log, other, 90, 90)])
    return bool(scores[0] == 0.0 and scores[1] > 0)


def test_lines_the_question_calls_harmless_are_set_aside() -> None:
    """"(the mnesia overloaded warnings are normal btw)": what the asker already knows to be harmless is no answer;
    the rest of the question still asks for the log's incidents."""
    assert set_aside("anything worth escalating in the chat server log from overnight? (the mnesia overloaded "
                     "warnings are normal btw)") == (
        "mnesia overloaded warnings", "anything worth escalating in the chat server log from overnight?")
    assert set_aside("those cert warnings are expected, what else broke?") == ("cert warnings", ", what else broke?")
    assert set_aside("is the queue normal?") is None  # a question, not a claim
    overloaded = ("2024-11-19 01:02:39.990372+00:00 [warning] Mnesia('ejabberd@chat-eu-1.internal'): ** WARNING ** "
                  "Mnesia is overloaded: {dump_log,write_threshold}")
    partition = ("2024-11-19 02:51:08.025556+00:00 [error] Mnesia('ejabberd@chat-eu-1.internal'): ** ERROR ** "
                 "mnesia_event got {inconsistent_database, running_partitioned_network, 'ejabberd@chat-eu-2'}")
    assert _aside_and_other("anything worth escalating in here? (the mnesia overloaded warnings are normal btw)",
                            overloaded, partition)


@pytest.mark.parametrize(("question", "described", "asked"), [
    ("is that redis blip from earlier the reason the notifications pod was crashlooping?", "redis blip from earlier",
     "the reason the notifications pod was crashlooping?"),
    ("were the kills after 11 just fallout from the worker that dropped earlier? and how many times did it happen",
     "the worker that dropped earlier", "were the kills after 11  ? and how many times did it happen"),
    ("is the rate limit mess around 3 the reason payments fell over at like 4:40?", "rate limit mess around 3",
     "the reason payments fell over at like 4:40?"),
    ("was the overload thing from the night before why it couldnt pull catalogs all afternoon?",
     "overload thing from the night before", "why it couldnt pull catalogs all afternoon?"),
    ("was the db01 full dump what filled up the backup storage overnight?", "db01 full dump",
     "what filled up the backup storage overnight?"),
])
def test_a_suspect_named_inside_the_question_is_told_from_the_trouble(question: str, described: str,
                                                                      asked: str) -> None:
    assert suspect_split(question) == (described, asked)


def test_lines_the_question_hopes_are_all_there_is_are_set_aside() -> None:
    """"anything broken or just the usual 'body buffered to temp file' spam?": the spam, quoted or not, is what the
    asker hopes the lines are; the rest still asks for the log's incidents, and the quoted words lift no chunk."""
    assert set_aside("anything real in the kong error log from last night or just the usual 'body buffered to temp "
                     "file' spam?") == ("the usual 'body buffered to temp file' spam",
                                        "anything real in the kong error log from last night  ?")
    assert set_aside("anything broken in the logstash log or is it just the usual charset warnings from the switches "
                     "spamming again?") == ("the usual charset warnings from the switches spamming",
                                            "anything broken in the logstash log  ?")
    assert set_aside("is this bad or is it only noise?") is None  # nothing that says which lines
    buffered = ("2024/03/14 02:42:21 [warn] 1197#0: *1389136 a client request body is buffered to a temporary file "
                "/usr/local/kong/client_body_temp/0000092224, client: 10.40.3.17, server: kong")
    slab = ('2024/03/14 03:11:48 [crit] 1198#0: *1485622 ngx_slab_alloc() failed: no memory in lua_shared_dict zone '
            '"kong_rate_limiting_counters", client: 10.40.3.18, server: kong')
    question = "anything real in here or just the usual 'body buffered to temp file' spam?"
    assert _aside_and_other(question, buffered, slab)
    log = Document("file:kong.log", "kong.log", "", kind="log")
    chunks = [Chunk(log, buffered, 10, 10), Chunk(log, slab, 90, 90)]
    identifiers = Evidence(**{name: 0.0 for name in Evidence.__dataclass_fields__ if name != "identifier_weight"})
    assert identifiers("why does it keep logging 'request body is buffered'?", chunks)[0] > 0
    assert identifiers("anything real or just the usual 'request body is buffered' spam?", chunks)[0] == 0
