"""Log intent (worker/engine/incidents.py): questions about what went wrong lead with a log's incidents."""

from __future__ import annotations

import pytest

from tests.engine.relay_day import relay_day
from worker.documents.document import Chunk, Document
from worker.documents.log_format import Severity
from worker.engine.incidents import (
    BURST_FLOOR,
    CHRONIC,
    FAR,
    NOT_ENDING,
    STEADY,
    UNNAMED,
    asks_about_crash,
    asks_about_incident,
    asks_about_storm,
    asks_for_overview,
    background_templates,
    incident_scores,
    names_logged_trouble,
    text_severity,
)


@pytest.mark.parametrize("question", [
    "where is the stack trace?", "Where's the exception in this log?", "what failed?",
    "why did the refund job fail?", "why does the indexer keep crashing", "what went wrong here",
    "any errors?", "what caused the 502s?", "the pod was OOMKilled, why?",
    "any trouble talking to redis?", "what was sendgrid complaining about?", "which line of our code is blowing up?",
    "the sessions redis switched masters overnight, what happened?", "is the disk full?",
    "what was going on with the edge proxy around 2am?", "checkout started timing out",
    "which partition was broker 2 writing to when it fell over?", "the reporting jobs can't log in since about 7",
    "why did mongo-1 drop out of the replica set?", "how many times did api-3 get pulled out of the pool?",
    "kafka-2 died in the middle of the night, what took it down?",
    "right after the upgrade nobody outside could email us for like 15 min, what was it choking on?",
    "no one can log in since the deploy", "the relay was choking on something around noon",
    "ceph health shows an inconsistent pg, is that this osd?", "a corrupted segment file?",
    "dashboards got slower and then just errored out around 11:35",
    "anything bad in the imap1 log? what was the worst of it",
    "is that what made checkout crawl late morning?", "search got really slow after lunch",  # slowness
    "the 1am deploy hung on pulling", "queue is stuck since 9",
    "mac user got kicked off the projects share mid afternoon", "why do the clients keep disconnecting?",
    "dpd got locked out after lunch", "payment provider flaking again? checkouts were 503ing around 11:20ish",
    "invoices are not going out",  # what did not arrive
    "is the queue just backed up or what", "anything worth escalating from overnight?",
])
def test_questions_about_what_went_wrong(question: str) -> None:
    assert asks_about_incident(question)


def test_slowness_is_trouble_asked_about_but_not_trouble_a_log_names() -> None:
    """"right before it got slow" names no line for an event to point at (anchors.py); "before it crashed" does."""
    assert asks_about_incident("what changed right before it got slow?")
    assert asks_about_incident("brief packet loss a bit after 2am, prob ntp acting up again?")  # a loss is trouble
    assert not names_logged_trouble("it got slow")
    assert names_logged_trouble("it crashed")


@pytest.mark.parametrize("question", [
    "which version of checkout-api was running?", "what kafka topic does it read?", "how many requests per second?",
    "what kafka version is broker 2 on?",  # a broker is not "broke"
])
def test_other_questions(question: str) -> None:
    assert not asks_about_incident(question)


def test_severity_of_any_piece_of_a_trace_and_of_error_lines() -> None:
    assert text_severity("\tat com.acme.Refunds.run(Refunds.java:44)\n\t... 12 more") == Severity.STACK_TRACE
    assert text_severity('  File "/srv/app.py", line 3, in main') == Severity.STACK_TRACE
    assert text_severity("panic: runtime error: invalid memory address") == Severity.STACK_TRACE
    assert text_severity("May 14 03:17:26 node kubelet[1893]: E0514 03:17:26.817985    1893 pod_workers.go:1298] "
                         '"Error syncing pod"') == Severity.ERROR
    assert text_severity("[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6") == Severity.ERROR
    assert text_severity("03-17 16:13:38.811  1702  2395 W WindowManager: slow") == Severity.WARNING
    assert text_severity("2024-05-14 10:00:00 INFO instruction cache parity error corrected") == Severity.NONE


def test_severity_counts_only_for_logs_and_only_for_questions_about_incidents() -> None:
    log = Document("file:a.log", "a.log", "", kind="log")
    runbook = Document("runbook:a.md", "A", "", kind="runbook")
    chunks = [Chunk(log, "10:00:00 INFO ok", 1, 1), Chunk(log, "10:00:01 WARN slow", 2, 2),
              Chunk(log, "10:00:02 ERROR failed", 3, 3), Chunk(log, "Traceback (most recent call last):", 4, 4),
              Chunk(runbook, "ERROR: this is how errors look", 1, 1)]
    assert [round(float(s), 2) for s in incident_scores("what failed?", chunks)] == [0.0, 0.33, 0.67, 1.0, 0.0]
    assert incident_scores("what do the warnings say?", chunks).tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]
    assert incident_scores("which version runs?", chunks).tolist() == [0.0] * 5


def test_a_question_about_a_storm_weighs_incidents_by_how_often_they_recur() -> None:
    log = Document("file:redis.log", "redis.log", "", kind="log")
    refused = "1:S 02 Apr 2026 01:47:{:02d}.330 # Error condition on socket for SYNC: Connection refused"
    chunks = [Chunk(log, "1:C 02 Apr 2026 00:00:03.412 # WARNING Memory overcommit must be enabled!", 1, 1),
              Chunk(log, "\n".join(refused.format(s) for s in range(0, 3)), 136, 138),
              Chunk(log, "\n".join(refused.format(s) for s in range(3, 9)), 139, 144),
              Chunk(log, "1:S 02 Apr 2026 01:47:26.166 * MASTER MODE enabled", 178, 178)]
    assert asks_about_storm("what was this node spamming right before it got promoted?")
    assert not asks_about_storm("what failed?")
    assert asks_about_storm("which device keeps failing to log in to the broker? the log is full of it")
    assert not asks_about_storm("why does the indexer keep crashing")  # a crash loop, not a storm
    assert not asks_about_storm("lfs pushes kept failing before lunch, whats up")  # what failed, not how often
    # what the asker hopes a line is, not what they ask about
    assert not asks_about_storm("whats the 'inconsistent database' line, is that bad or just the usual overloaded spam")
    assert not asks_about_storm("anything real in there or is it only noise?")
    assert incident_scores("what was this node spamming?", chunks).tolist() == [0.0, 1.0, 1.0, 0.0]
    assert incident_scores("what failed?", chunks).tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 0.0])


def test_a_crash_question_weighs_the_incident_that_ended_the_process() -> None:
    log = Document("file:kafka.log", "kafka.log", "", kind="log")
    trace = "java.io.IOException: {}\n\tat kafka.server.ReplicaFetcherThread.run(ReplicaFetcherThread.scala:99)"
    chunks = [Chunk(log, "[2024-06-03 01:47:12,311] INFO Error sending fetch request\n" + trace.format("disconnected"),
                    57, 60),
              Chunk(log, "[2024-06-03 02:00:00,000] INFO rolled segment", 61, 61),
              Chunk(log, "[2024-06-03 03:31:08,412] ERROR Error while appending\n" + trace.format("No space left"),
                    189, 192),
              Chunk(log, "[2024-06-03 03:31:08,450] INFO Removed fetcher for partitions", 193, 197),  # a gap
              Chunk(log, "[2024-06-03 03:31:08,483] ERROR Shutdown broker because all log dirs have failed", 198, 198),
              Chunk(log, "[2024-06-03 03:52:29,771] INFO starting (kafka.server.KafkaServer)", 199, 199)]
    assert asks_about_crash("what took it down?") and not asks_about_crash("what failed?")
    assert incident_scores("kafka-2 died, what took it down?", chunks).tolist() == pytest.approx(
        [NOT_ENDING, 0.0, 1.0, 0.0, 2 / 3, 0.0])
    assert incident_scores("what failed?", chunks).tolist() == pytest.approx([1.0, 0.0, 1.0, 0.0, 2 / 3, 0.0])
    beam = [chunks[0], Chunk(log, "Crash dump is being written to: erl_crash.dump...done", 250, 250)]  # the VM died
    assert incident_scores("what killed it?", beam).tolist() == pytest.approx([NOT_ENDING, 2 / 3])
    jvm = [chunks[0], Chunk(log, "# C  [libtcnative-1.so.0+0x1f2a3]  ssl_socket_recv+0x53\n#\n"
                                 "# Core dump will be written. Default location: core.2214", 338, 340)]
    assert incident_scores("what crashed it?", jvm).tolist() == pytest.approx([NOT_ENDING, 1.0])
    rust = [chunks[0], Chunk(log, "thread 'main' panicked at src/main.rs:9:5:\nboom", 400, 401)]
    assert incident_scores("what was killing it?", rust).tolist() == pytest.approx([NOT_ENDING, 1.0])
    signal = [chunks[0], Chunk(log, "[2024/05/14 11:02:38] [engine] caught signal (SIGSEGV)\n"
                                    "#0  0x55d0a3f1c2a4 in  lua_rawgeti() at lib/luajit/src/lj_api.c:793", 500, 501)]
    assert incident_scores("it restarted by itself, any idea why?", signal).tolist() == pytest.approx(
        [NOT_ENDING, 1.0])
    # Zabbix: "Got signal [...]. Crashing ..."; an hour before it, close in lines, errors it lived through are
    # another incident, not the start of the crash
    zabbix = [Chunk(log, " 41825:20250311:184230.391 failed to accept an incoming connection", 300, 302),
              Chunk(log, " 41824:20250311:194407.512 Got signal [signal:11(SIGSEGV),reason:1]. Crashing ...", 309, 311)]
    assert incident_scores("zabbix bounced itself this evening, what crashed", zabbix).tolist() == pytest.approx(
        [NOT_ENDING * 2 / 3, 2 / 3])
    # pino logs the fatal error, then at info level "closing server" and "process exiting": the lines right after
    # the incident say it ended the process
    node = [chunks[0], Chunk(log, '{"level":60,"time":1710218445701,"msg":"uncaught exception"}', 619, 619),
            Chunk(log, '{"level":30,"time":1710218445734,"exitCode":1,"msg":"process exiting"}', 622, 622)]
    assert incident_scores("was the pod crashlooping?", node).tolist() == pytest.approx([NOT_ENDING, 2 / 3, 0.0])
    lived = [chunks[0], chunks[1], chunks[2]]  # no incident ended the process: nothing to prefer
    assert incident_scores("what took it down?", lived).tolist() == [1.0, 0.0, 1.0]


def test_at_a_time_asked_about_a_problem_that_began_there_outweighs_one_going_on_long_before() -> None:
    """"Just after 9, why couldn't the devices get back on?": one panel has failed to log in since 08:43, the
    refusals at max_connections began at 09:12; both lie around 9. Without a time, or when nothing began there,
    neither weighs less."""
    log = Document("file:mosquitto.log", "mosquitto.log", "", kind="log")
    panel = "2024-09-04T{}: Client hmi-panel-12 disconnected, not authorised."
    denied = "2024-09-04T{}: Client connection from 10.20.6.61:36068 denied: max_connections exceeded."
    chunks = [Chunk(log, panel.format("08:43:54"), 130, 130), Chunk(log, panel.format("09:08:39"), 185, 185),
              Chunk(log, denied.format("09:12:51"), 194, 194), Chunk(log, panel.format("09:31:48"), 254, 254)]
    question = "line 4 went dark just after 9. why couldnt the devices get back on?"
    assert incident_scores(question, chunks).tolist() == pytest.approx(
        [CHRONIC * 2 / 3, CHRONIC * 2 / 3, 2 / 3, CHRONIC * 2 / 3])
    assert incident_scores("why couldnt the devices get back on?", chunks).tolist() == pytest.approx([2 / 3] * 4)
    assert incident_scores(question, [chunks[0], chunks[1]]).tolist() == pytest.approx([2 / 3] * 2)


def test_at_a_time_asked_about_incidents_far_from_it_weigh_less_and_the_crash_is_one_near_it() -> None:
    """"crashlooping right after we rolled the new image at 1pm": the failed starts around 1pm, not the segfault two
    hours before them that ended the process; without a time, that segfault is the crash."""
    log = Document("file:fluent-bit.log", "fluent-bit.log", "", kind="log")
    chunks = [Chunk(log, "[2024/05/14 11:02:38] [engine] caught signal (SIGSEGV)\n"
                         "#0  0x55d0a3f1c2a4 in  lua_rawgeti() at lib/luajit/src/lj_api.c:793", 206, 207),
              Chunk(log, "[2024/05/14 11:03:10] [ info] [fluent bit] version=2.2.2", 208, 208),
              Chunk(log, "[2024/05/14 13:05:21] [error] [filter:parser] requested parser 'cri-custom' not found",
                    294, 294),
              Chunk(log, "[2024/05/14 13:05:30] [ info] [fluent bit] version=3.0.3", 295, 295)]
    at_one = incident_scores("daemonset crashlooping right after we rolled the new image at 1pm", chunks)
    assert at_one.tolist() == pytest.approx([FAR, 0.0, 2 / 3, 0.0])
    assert incident_scores("daemonset crashlooping, why?", chunks).tolist() == pytest.approx(
        [1.0, 0.0, 2 / 3 * NOT_ENDING, 0.0])


def test_a_question_that_names_one_party_weighs_the_incidents_that_name_it() -> None:
    """A VPN gateway logs many users' logins: "bob says the vpn keeps rejecting him" names bob
    (``CN=bob@example.com``), so another user's refusal and the daemon's crash weigh ``UNNAMED``; a word that every
    line holds ("gw1" of the host) names the log, not a party, and a question that names nobody weighs all alike."""
    log = Document("file:charon.log", "charon.log", "", kind="log")
    line = "Mar 17 {} gw1 charon[1187]: {}"
    chunks = [Chunk(log, line.format("07:52:03", "14[CFG] no trusted RSA public key found for 'CN=bob@example.com'"),
                    1, 1),
              Chunk(log, line.format("08:06:11", "12[CFG] no trusted RSA public key found for 'CN=ann@example.com'"),
                    2, 2),
              Chunk(log, line.format("10:14:23", "15[DMN] killing ourself, received critical signal"), 3, 3),
              Chunk(log, line.format("10:20:00", "13[IKE] IKE_SA rw[3] established with 'CN=gina@example.com'"), 4, 4)]
    error = 2 / 3
    assert incident_scores("bob says the vpn keeps rejecting him, whats wrong with his login?", chunks).tolist() == (
        pytest.approx([error, error * UNNAMED, error * UNNAMED, 0.0]))
    assert incident_scores("what went wrong?", chunks).tolist() == pytest.approx([error, error, error, 0.0])
    assert incident_scores("what went wrong on gw1?", chunks).tolist() == pytest.approx([error, error, error, 0.0])


def _relay_chunks() -> list[Chunk]:
    """``relay_day``'s log a line a chunk."""
    log = relay_day()
    return [Chunk(log, text, n + 1, n + 1) for n, text in enumerate(log.text.splitlines())]


def test_an_incident_logged_all_through_the_log_is_its_background() -> None:
    """The TLS probe's error in every part of the day weighs ``STEADY`` beside the errors that came and went."""
    chunks = _relay_chunks()
    background = background_templates(chunks, list(range(len(chunks))))
    assert len(background) == 1 and "TLS error" in next(iter(background))
    scores = incident_scores("why did mail fail?", chunks)
    assert scores[3] == pytest.approx(STEADY * 2 / 3)  # the probe
    assert scores[10] == pytest.approx(2 / 3) and scores[80] == pytest.approx(2 / 3)  # the scanner, the spool
    assert scores[0] == 0.0


@pytest.mark.parametrize(("question", "overview"), [
    ("anything bad on mx2 today?", True),
    ("anything bad in the relay log today? just gimme the highlights", False),  # "relay" names something
    ("what broke overnight", True),
    ("just got paged for mx2, anything actually bad in here or the usual noise?", True),
    ("pls summarize what broke on mx2 today for the postmortem, mgmt wants a rough timeline", True),
    ("any issues today?", True),
    ("what broke after somebody reloaded the scanner this afternoon", False),
    ("why did clamd fail?", False),
    ("lots of tls errors today, is that what broke the relay?", False),  # a suspect
    ("anything bad on the mx2 server today? apart from the tls probe spam", True),  # what it sets aside
    ("anything weird on mx2 today? ignore the tls probe, thats always broken", True),
    ("anything bad in the cluster journal besides the tls probe warnings?", True),
    ("anything worth escalating in the mx2 log from overnight? (the tls probe warnings are normal btw)", True),
    ("can someone skim the mx2 log, anything real in there or just the usual background noise?", True),
])
def test_a_question_for_the_log_s_incidents_in_general(question: str, overview: bool) -> None:
    chunks = _relay_chunks()
    assert asks_for_overview(question, chunks) is overview


def test_words_that_most_of_the_log_uses_name_its_subject_not_an_incident() -> None:
    """"anything bad on the queue today?" over a log whose lines mostly say "queue run": the log's own subject,
    so a question for its incidents in general."""
    chunks = _relay_chunks()
    assert asks_for_overview("anything bad on the queue today?", chunks)


def test_for_the_incidents_in_general_the_biggest_burst_leads() -> None:
    """Of errors alike, the scanner's five deferrals weigh more than the one full spool."""
    chunks = _relay_chunks()
    scores = incident_scores("anything bad on mx2 today?", chunks)
    assert scores[12] > scores[80] >= 2 / 3 * BURST_FLOOR
    assert scores[12] == pytest.approx(2 / 3)
