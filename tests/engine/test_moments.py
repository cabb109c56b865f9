"""A time of day in the question (worker/engine/moments.py): the log lines around it."""

from __future__ import annotations

import pytest

from worker.documents.document import Chunk, Document
from worker.engine.moments import asked_spans, chunk_minutes, moment_scores


@pytest.mark.parametrize(("question", "minutes"), [
    ("order emails went out late at 10am", [600]),
    ("what happened at 3:30 pm?", [930]),
    ("it restarted a bit around 11:15", [675, 1395]),  # either half of the day: the log decides
    ("the line at 02:47:12.330 says what?", [167]),  # a leading zero, or 13-23: one reading
    ("gateway timeouts around 14:20", [860]),
    ("the reporting jobs fail since about 7, why?", [420, 1140]),  # a bare hour after a word of time
    ("it gave up after 3 retries, around 5 minutes in", []),  # counts, not hours
    ("which version, 1.2.3 or v2.0, listens on host:8080?", []),
    ("why did it fail?", []),
    # in words: "half five" is 5:30 (either half of the day), "ten to eight" 7:50, and "this morning" beside
    # a clock time only says which half
    ("ring-3 stopped taking traffic around half five, why?", [330, 1050]),
    ("restarted at half past 11", [690, 1410]),
    ("quarter past three", [195, 915]),
    ("can't connect since about ten to eight this morning", [470]),
    ("twenty-five to six in the afternoon", [1055]),
    ("a restart takes five to ten minutes, is that normal?", []),  # counts, not times
    ("we run between 2 and 3 replicas", []),
    ("the 9 o'clock release kept crashing on startup", [540, 1260]),  # "o'clock" makes a time wherever it stands
    ("the nine o'clock deploy", [540, 1260]),
    ("the intranet crawled right at 9 during the all hands", [540, 1260]),  # a bare hour before "during", "it"
    ("around 4 it died", [240, 960]),
    ("around 9 one of dn07's disks got dropped", [540, 1260]),
])
def test_the_times_of_day_a_question_names(question: str, minutes: list[int]) -> None:
    assert asked_spans(question) == [(m, m) for m in minutes]


@pytest.mark.parametrize(("question", "spans"), [
    ("order emails went out late just before 10am", [(585, 600)]),  # the quarter hour before it
    ("it restarted a bit after 11:15", [(675, 690), (1395, 1410)]),  # and the quarter hour after
    ("the nightly snapshot just before midnight didn't complete", [(1425, 0)]),  # back past midnight
    ("it was fine before 3 retries", []),  # a count, not a time
    ("just before half five", [(315, 330), (1035, 1050)]),
    ("mimir dashboards have gaps roughly between 2 and 3am", [(120, 180)]),  # a stretch, not 3am alone
    ("from 22:00 to 23:30", [(1320, 1410)]),
])
def test_before_or_after_a_time_is_the_quarter_hour_on_that_side(question: str, spans: list[tuple[int, int]]) -> None:
    assert asked_spans(question) == spans


@pytest.mark.parametrize(("question", "span"), [
    ("checkout threw 503s around lunch", (690, 840)),
    ("checkout threw 503s after lunch", (720, 960)),  # from half an hour into it to 2 hours after it
    ("checkout threw 503s just after lunch", (720, 870)),  # "just", "a bit", "right": half an hour after it
    ("checkout threw 503s a bit after lunch", (720, 870)),
    ("no alerts for half an hour before lunch", (570, 810)),  # mirrored
    ("when did the database come back after the early morning outage?", (180, 480)),  # an outage in that period
    ("kafka died in the middle of the night", (1260, 360)),  # past midnight
    ("did someone change the retention this morning?", (240, 720)),
    ("order history got really slow late morning", (600, 720)),
    ("anything odd early in the afternoon?", (720, 870)),
    ("mq-3 dropped out of the cluster mid morning, why?", (540, 690)),  # not the whole morning
    ("was somebody guessing passwords early this morning?", (180, 480)),  # not the whole morning
    ("who was poking at the vpn port around dawn", (300, 480)),
    ("lane 2 volume tanked right after dusk", (1050, 1230)),  # "right after": half an hour after it
    ("exports failed late this afternoon", (930, 1080)),
])
def test_parts_of_the_day_are_their_usual_hours(question: str, span: tuple[int, int]) -> None:
    assert asked_spans(question) == [span]


def test_a_part_of_the_day_scores_the_chunks_inside_it_around_midnight_too() -> None:
    log = Document("file:kafka.log", "kafka.log", "", kind="log")
    chunks = [Chunk(log, "[2024-06-03 03:31:08,412] ERROR Shutdown broker", 1, 1),
              Chunk(log, "[2024-06-03 23:50:00,000] INFO rolled segment", 2, 2),
              Chunk(log, "[2024-06-03 13:05:00,000] INFO rolled segment", 3, 3)]
    assert moment_scores("it died in the middle of the night", chunks).tolist() == [1.0, 1.0, 0.0]
    assert moment_scores("503s just after lunch", chunks).tolist() == [0.0, 0.0, 1.0]
    assert moment_scores("503s around lunch", chunks).tolist() == [0.0, 0.0, 1.0]


def test_a_chunk_spans_its_first_and_last_timestamps() -> None:
    text = '{"time":"2026-04-09T09:49:43.552Z"}\n{"time":"2026-04-09T09:51:50.039Z"}'
    assert chunk_minutes(text) == (589, 591)
    assert chunk_minutes("1:S 02 Apr 2026 01:47:12.330 # Connection with master lost.") == (107, 107)
    # Cisco ASA's syslog writes the year after the day
    assert chunk_minutes("May 14 2024 12:22:41 fw2-dc1 : %ASA-3-202010: NAT pool exhausted.") == (742, 742)
    assert chunk_minutes("    at buildReceiptLine (/app/dist/hooks/receipt.js:42:41)") is None
    # Windows' Event Viewer: a 12-hour clock, 12 AM is just after midnight and 12 PM noon
    assert chunk_minutes("Error,3/13/2024 3:41:17 AM,Acme.Orders.Api,5001,None,x\n"
                         "Warning,3/13/2024 10:03:17 PM,DistributedCOM,10016,None,y") == (221, 1323)
    assert chunk_minutes("Information,3/13/2024 12:05:04 AM,a\nInformation,3/13/2024 12:05:04 PM,b") == (5, 725)


def test_chunks_near_the_named_time_score_and_a_trace_takes_the_time_around_it() -> None:
    log = Document("file:mailer.log", "mailer.log", "", kind="log")
    runbook = Document("runbook:mailer.md", "Mailer", "", kind="runbook")
    chunks = [Chunk(log, '{"level":"warn","time":"2026-04-09T09:06:55.779Z","msg":"recipient rejected"}', 13, 13),
              Chunk(log, '{"level":"info","time":"2026-04-09T11:17:29.052Z","msg":"email sent"}', 211, 211),
              Chunk(log, "TypeError: Cannot read properties of undefined\n    at f (/app/receipt.js:42:41)", 216, 222),
              Chunk(log, '{"level":"info","time":"2026-04-09T11:17:38.052Z","msg":"mailer-worker starting"}', 225, 225),
              Chunk(runbook, "Restart the mailer at 11:15 if it hangs.", 1, 1)]
    scores = moment_scores("the mailer restarted a bit around 11:15, what killed it?", chunks)
    assert scores[0] == 0 and scores[4] == 0  # two hours away; not a log
    assert scores[1] == pytest.approx(1 - 2 / 30) and scores[2] == pytest.approx(1 - 2 / 30)  # the trace: 11:17
    assert moment_scores("what killed it?", chunks).tolist() == [0.0] * 5


def test_a_stack_frame_s_timestamp_is_its_library_s_build_not_the_log_s_time() -> None:
    """A Java frame names its jar's build date; a trace between 11:12 and 11:15 is not "just before
    midnight", nor does a build at 16:48 make the chunks after it wrap around midnight."""
    log = Document("file:node.log", "node.log", "", kind="log")
    frame = "\tat org.apache.lucene.util.X.<init>(X.java:185) ~[lucene-core-9.10.0.jar:9.10.0 - 2024-02-14 16:48:06]"
    chunks = [Chunk(log, "[2025-03-11T11:12:57,480][ERROR][o.o.b.Handler] fatal error in thread, exiting", 1, 1),
              Chunk(log, frame, 2, 2),
              Chunk(log, "\tat java.lang.Thread.run(Thread.java:1583) [?:?]", 3, 3),
              Chunk(log, "[2025-03-11T11:15:41,118][INFO ][o.o.n.Node] [os-node-2] version[2.13.0]", 4, 4),
              Chunk(log, "[2025-03-11T23:50:00,412][WARN ][o.o.s.Snapshots] snapshot failed: Access Denied", 5, 5)]
    assert chunk_minutes(frame) is None
    assert moment_scores("the nightly snapshot just before midnight didn't complete, why?", chunks).tolist() == [
        0.0, 0.0, 0.0, 0.0, 1.0]


def test_a_chunk_between_times_that_go_back_lies_between_them_not_around_midnight() -> None:
    log = Document("file:app.log", "app.log", "", kind="log")
    chunks = [Chunk(log, "2025-03-11 16:48:00 INFO batch done", 1, 1),
              Chunk(log, "    continued without a time", 2, 2),
              Chunk(log, "2025-03-11 11:15:00 INFO replayed from the spool", 3, 3)]
    assert moment_scores("what happened around midnight?", chunks).tolist() == [0.0, 0.0, 0.0]
    assert moment_scores("what happened at 2pm?", chunks).tolist() == [0.0, 1.0, 0.0]


def test_the_time_of_an_access_log_line_is_read_after_its_date() -> None:
    """The common log format joins date and time with a colon ("[20/Jan/2026:11:15:13 +0000]"): the time is
    11:15, not "26:11" read from the year."""
    line = '198.51.100.14 - - [20/Jan/2026:11:15:13 +0000] "POST /claims/submit/ HTTP/1.1" 302 0'
    assert chunk_minutes(line) == (11 * 60 + 15, 11 * 60 + 15)


def test_the_time_of_a_zabbix_line_is_read_after_its_process_and_date() -> None:
    """Zabbix writes the process id, the date and the time without separators ("  1191:20250311:092214.551"):
    09:22, so "around 9:20" finds it."""
    line = "  1191:20250311:092214.551 __zbx_mem_malloc(): out of memory (requested 96 bytes)"
    assert chunk_minutes(line) == (9 * 60 + 22, 9 * 60 + 22)
    log = Document("file:zabbix_server.log", "zabbix_server.log", "", kind="log")
    chunks = [Chunk(log, line, 1, 1), Chunk(log, " 41824:20250311:194407.512 Got signal [signal:11(SIGSEGV)]", 2, 2)]
    assert moment_scores("zabbix went down around 9:22, why", chunks).tolist() == [1.0, 0.0]


def test_the_time_of_a_line_stamped_in_epoch_seconds_is_read_in_utc() -> None:
    """Nagios writes "[1733252561] Error: ...", squid's native access log "1733252561.123  241 ...", zap's JSON
    "ts":1733252561.5, pino's "time":1733252561442 (milliseconds): the time since 1970, here 2024-12-03 19:02:41
    UTC, so "this evening" finds them."""
    lines = ["[1733252561] Error: Could not find any host matching 'web03'",
             "1733252561.123    241 10.0.0.7 TCP_MISS/200 512 GET http://example.com/ - HIER_DIRECT/93.184.216.34 -",
             '{"level":"error","ts":1733252561.5,"msg":"config reload failed"}',
             '{"level":50,"time":1733252561442,"pid":2231,"msg":"request errored"}']  # pino: milliseconds
    for line in lines:
        assert chunk_minutes(line) == (19 * 60 + 2, 19 * 60 + 2), line
    assert chunk_minutes("job 1733252561 finished") is None  # a number in the text is no timestamp
    log = Document("file:nagios.log", "nagios.log", "", kind="log")
    chunks = [Chunk(log, "[1733205600] SERVICE ALERT: web02;Load;WARNING;SOFT;1;WARNING - load average: 5.88", 1, 1),
              Chunk(log, lines[0], 2, 2)]
    assert moment_scores("nagios went down after the config push this evening?", chunks).tolist() == [0.0, 1.0]
