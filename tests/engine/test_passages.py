"""Passages (worker/engine/passages.py): a runbook answer is one readable span of one section, a log answer
is the whole incident with how often and when it was seen."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.engine.relay_day import relay_day
from worker.documents.chunking import chunk_documents, text_from_chunks
from worker.documents.document import Chunk, Document
from worker.documents.log_chunking import fold_repeats
from worker.engine.incidents import incident_scores
from worker.engine.passages import (
    CAUSE_GAP,
    EPISODE_GAP,
    LOG_CONTEXT_LINES,
    MAX_CHARS,
    MAX_LINES,
    MAX_TABLE_ROWS,
    STREAK_GAP_LINES,
    actionable,
    asked_part,
    asks_caution,
    asks_fact_or_reason,
    asks_to_verify,
    asks_what_to_do,
    asks_whom_to_call,
    best_passage,
    block_lead,
    line_template,
    log_passage,
    text_blocks,
    text_passage,
)
from worker.engine.suspects import suspected

EXAMPLE_LOG = Path(__file__).parents[2] / "examples" / "logs" / "checkout-api.log"


def overlap(question: str, texts: Sequence[str]) -> np.ndarray:
    """A scorer with the retriever's interface: the share of the question's words in each text."""
    wanted = set(re.findall(r"[a-z0-9]+", question.lower()))
    return np.asarray([len(wanted & set(re.findall(r"[a-z0-9]+", t.lower()))) / max(1, len(wanted))
                       for t in texts], np.float32)


def words(text: str) -> int:
    return len(text.split())


RUNBOOK = """# Search indexer

## Mitigation

Skip documents that fail mapping and keep going:

```
kubectl -n search set env deploy/search-indexer INDEXER_SKIP_BAD_DOCS=true
kubectl -n search rollout restart deploy/search-indexer
```

1. Scale up to the partition count:

   ```
   kubectl -n search scale deploy/search-indexer --replicas=24
   ```

   More replicas than partitions sit idle.
2. Lower the bulk size with `INDEXER_BULK_SIZE=200` when OpenSearch answers 429.
""" + "\n".join(f"{n}. An unrelated step number {n} about dashboards and colours." for n in range(3, 40)) + "\n"


def _runbook() -> Document:
    return Document("runbook:indexer.md", "Search indexer", RUNBOOK, kind="runbook", link="indexer.md")


def test_blocks_keep_list_items_with_their_code_and_a_lead_in_with_what_it_introduces() -> None:
    lines = RUNBOOK.split("\n")[4:22]
    blocks = [(b.start, b.end) for b in text_blocks(lines)]
    assert blocks[0] == (0, 5)  # "Skip documents ...:" and its code block
    assert blocks[1] == (7, 13)  # step 1 with its indented code and the sentence under it
    assert lines[blocks[2][0]].startswith("2. Lower the bulk size")


def test_a_long_section_gives_the_best_steps_whole_and_in_order_within_the_limits() -> None:
    document = _runbook()
    chunk = Chunk(document, "", 5, 6)
    passage = text_passage("how many replicas for the partition count?", [(chunk, 1.0)], overlap)
    assert passage.heading == "Search indexer › Mitigation"
    assert passage.lines[0] == "1. Scale up to the partition count:"
    assert "   kubectl -n search scale deploy/search-indexer --replicas=24" in passage.lines
    assert passage.lines.count("   ```") == 2, "the code block is whole"
    assert sum(len(line) + 1 for line in passage.lines) <= MAX_CHARS and len(passage.lines) <= MAX_LINES
    assert document.text.split("\n")[passage.line_start - 1:passage.line_end] == list(passage.lines)
    assert passage.as_text().startswith("*Search indexer › Mitigation*\n> 1. Scale up")


def test_a_short_section_is_the_passage_whole() -> None:
    document = Document("runbook:x.md", "X", "# X\n\n## Rollback\nRoll back first:\n`kubectl rollout undo deploy/x`\n"
                        "\n## Other\nsomething else\n", kind="runbook")
    passage = text_passage("how do I revert?", [(Chunk(document, "", 3, 5), 1.0)], overlap)
    assert passage.lines == ("Roll back first:", "`kubectl rollout undo deploy/x`")
    assert (passage.line_start, passage.line_end) == (4, 5)


def test_the_section_that_says_what_to_do_is_preferred_when_scores_are_close() -> None:
    """(A section headed as a list of symptoms sends the reader on whatever the scores:
    test_a_list_of_symptoms_sends_the_reader_to_what_the_runbook_does_about_them.)"""
    text = ("# Indexer\n\n## Impact\nProducts are missing from search.\n\n"
            "## Checks\nProducts missing? Look at the consumer lag: `kafka-consumer-groups --describe`\n")
    document = Document("runbook:i.md", "Indexer", text, kind="runbook")
    chunks = chunk_documents([document], 200, words)
    assert actionable(chunks[2].text) and not actionable(chunks[1].text)
    close = np.asarray([0.1, 0.52, 0.5], np.float32)
    assert best_passage("products missing", chunks, close, overlap).heading == "Indexer › Checks"
    far = np.asarray([0.1, 0.7, 0.5], np.float32)
    assert best_passage("products missing", chunks, far, overlap).heading == "Indexer › Impact"


VERIFIED = """# Dispatcher

## Overview
The dispatcher computes the what-next list of lots for every tool of a bay.

## Alerts
`DispatchListStale`: the what-next list of a tool is older than 120 s.

## Remediation
- Lists stale on a bay: resync the tool states with `dspctl resync-state --bay 3`.
- Park at the limit: put the bay on the hard cap with `dspctl cap --bay 3`.

## Escalation
Page the fab systems on-call.

## Verify recovery
`dspctl verify --bay 3` shows the lists fresh, and the list age panel stays under the limit.
"""


def test_a_verification_section_is_no_remedy_and_answers_how_to_confirm_a_fix() -> None:
    """"Verify recovery" is not what to do (its "recovery" is no remedy), so "whats the immediate thing to do"
    gets the remediation step even where the check reads closer; "how do i confirm the lists are healthy again"
    gets the verification, read even when retrieval ranked its chunk below the best few."""
    document = Document("runbook:dispatch.md", "Dispatcher", VERIFIED, kind="runbook")
    chunks = chunk_documents([document], 30, words)
    headings = [text_passage("", [(chunk, 1.0)], overlap).heading for chunk in chunks]
    assert headings[-1] == "Dispatcher › Verify recovery"
    close = np.asarray([0.6 if heading.endswith(("Remediation", "Verify recovery")) else 0.3 for heading in headings],
                       np.float32)
    acting = "bay 3 is at the limit and the lists are stale, whats the immediate thing to do"
    assert asks_what_to_do(acting) and not asks_to_verify(acting)
    assert best_passage(acting, chunks, close, overlap).heading == "Dispatcher › Remediation"
    scores = np.asarray([0.2 if heading.endswith("Verify recovery") else 0.6 for heading in headings], np.float32)
    assert len(chunks) > 4  # the verification's chunk is not among the best three
    verifying = "resynced bay 3, how do i confirm the what-next lists are healthy again before i hand over"
    assert asks_to_verify(verifying) and asks_to_verify("how can we tell it's fixed?")
    assert not asks_to_verify("how do I tell which backend the 502s are coming from?")
    assert best_passage(verifying, chunks, scores, overlap).heading == "Dispatcher › Verify recovery"


def test_a_question_for_a_number_or_a_reason_gets_no_bonus_for_steps() -> None:
    text = ("# WAF\n\n## Alerts\nOne IP can send 2,000 requests per 5 minutes (`WafRateLimitTriggered`).\n\n"
            "## Rate limited\nOne IP can send requests past the rule? Allow it: `./bin/waf-ipset add --cidr x`\n")
    document = Document("runbook:waf.md", "WAF", text, kind="runbook")
    chunks = chunk_documents([document], 200, words)
    close = np.asarray([0.1, 0.52, 0.5], np.float32)
    assert asks_fact_or_reason("how many requests can one IP send?")
    assert asks_fact_or_reason("the queue redis is full, can't we just let it evict old keys?")
    assert not asks_fact_or_reason("customers behind one office IP are blocked")
    assert best_passage("how many requests can one IP send?", chunks, close, overlap).heading == "WAF › Alerts"
    assert best_passage("one IP can send requests", chunks, close, overlap).heading == "WAF › Rate limited"


def test_what_a_question_asks_is_read_after_the_situation_it_describes() -> None:
    assert asked_part("the indexer stopped on X, can I make it skip the bad product?") == \
        "can I make it skip the bad product?"
    assert asked_part("how do I fail over?") == "how do I fail over?"
    assert asked_part("users keep getting logged out") == "users keep getting logged out"
    assert asked_part("schedulers both up but nothing starts. ok to just kill both pods?") == (
        "ok to just kill both pods?")


def test_a_block_leads_with_its_first_sentence_before_any_code() -> None:
    assert block_lead("Roll back first, investigate after:\n\n```\nkubectl rollout undo deploy/x\n```") == \
        "Roll back first, investigate after:"
    assert block_lead("- Skip bad documents: set `SKIP=true`. Skipped ids are logged.") == "Skip bad documents:"
    assert block_lead("```\nkubectl get pods\n```") == "```\nkubectl get pods\n```"


def focused(question: str, texts: Sequence[str]) -> np.ndarray:
    """A scorer that, like a dense model, likes a text about the question more than a long one that also
    mentions it: the words the question and the text share over the words of either (Jaccard)."""
    wanted = set(re.findall(r"[a-z0-9]+", question.lower()))
    found = [set(re.findall(r"[a-z0-9]+", t.lower())) for t in texts]
    return np.asarray([len(wanted & f) / max(1, len(wanted | f)) for f in found], np.float32)


def test_what_is_asked_is_matched_against_what_each_step_says_it_does() -> None:
    text = ("# API\n\n## Mitigation\n\n### Processor outage\nSwitch the card API to the fallback processor:\n"
            "`flagctl set card.processor fallback`\n\n### Bad deploy\nRevert first. The card API comes back in a "
            "minute or two once the previous pods are ready and their health checks pass again:\n"
            "`kubectl rollout undo deploy/api`\n")
    document = Document("runbook:api.md", "API", text, kind="runbook")
    ranked = [(Chunk(document, "", 5, 7), 0.5), (Chunk(document, "", 9, 11), 0.5)]
    passage = text_passage("the card API is broken, how do I revert?", ranked, focused)
    assert passage.heading == "API › Mitigation › Bad deploy"


def test_a_remedy_section_is_preferred_when_the_question_asks_what_to_do() -> None:
    text = ("# Indexer\n\n## Checks\nBad products: `kubectl logs deploy/indexer`\n\n"
            "## Mitigation\nBad products: `kubectl set env deploy/indexer SKIP=true`\n")
    document = Document("runbook:i.md", "Indexer", text, kind="runbook")
    ranked = [(Chunk(document, "", 3, 4), 0.5), (Chunk(document, "", 6, 7), 0.5)]
    assert text_passage("how do I deal with bad products?", ranked, overlap).heading == "Indexer › Mitigation"
    assert text_passage("bad products", ranked, overlap).heading == "Indexer › Checks"


def _log(text: str) -> Document:
    return Document("file:app.log", "app.log", text, kind="log", link="app.log")


def test_a_log_answer_is_the_whole_incident_then_when_and_how_often() -> None:
    document = _log(EXAMPLE_LOG.read_text())
    # a chunk in the middle of the trace, as a small encoder would cut it
    middle = "\n".join(document.text.split("\n")[213:216])
    passage = log_passage("why did checkout fail?", Chunk(document, middle, 214, 216), overlap)
    # the trace with what came right before it (40 pool warnings, folded) and right after it (one more error)
    assert (passage.line_start, passage.line_end) == (164, 227)
    assert passage.lines[0].startswith("2024-05-14 13:57:15,941 WARNING [sqlalchemy.pool] QueuePool limit")
    assert passage.lines[0].endswith("[x40, lines 164-203, last 2024-05-14 13:57:45,191]")
    assert passage.lines[1].endswith("unhandled exception in POST /api/v1/checkout")
    assert any(line.startswith("sqlalchemy.exc.TimeoutError: QueuePool limit of size 20") for line in passage.lines)
    assert "payments provider timeout" in passage.lines[-1]
    assert passage.context == "Seen once in app.log, at 2024-05-14 13:57:45,211."  # the trace's headline
    warnings = log_passage("pool warnings?", Chunk(document, "WARNING", 170, 170), overlap)
    assert (warnings.line_start, warnings.line_end) == (164, 227)
    assert warnings.context == ("Seen 40 times in app.log, first at 2024-05-14 13:57:15,941, "
                                "last at 2024-05-14 13:57:45,191.")


def test_a_when_question_about_lines_without_a_time_runs_on_to_the_first_line_with_one() -> None:
    """Airflow's start-up banner is ASCII art without a timestamp; "when did it come back up?" needs the time of
    the line after it. Other questions keep the best line with its context."""
    lines = ["[2025-03-12T01:35:40.000+0000] {scheduler_job_runner.py:808} INFO - Exiting",
             "Traceback (most recent call last):",
             '  File "/home/airflow/.local/bin/airflow", line 8, in <module>',
             "sqlalchemy.exc.OperationalError: FATAL:  remaining connection slots are reserved",
             "",
             "(Background on this error at: https://sqlalche.me/e/14/e3q8)",
             "  ____________       _____________",
             " ____    |__( )_________  __/__  /________      __",
             "____  /| |_  /__  ___/_  /_ __  /_  __ \\_ | /| / /",
             "___  ___ |  / _  /   _  __/ _  / / /_/ /_ |/ |/ /",
             " _/_/  |_/_/  /_/    /_/    /_/  \\____/____/|__/",
             "[2025-03-12T01:44:52.816+0000] {executor_loader.py:115} INFO - Loaded executor: CeleryExecutor"]
    document = _log("\n".join(lines) + "\n")
    chunk = Chunk(document, "\n".join(lines[6:11]), 7, 11)
    when = log_passage("when did the scheduler come back up?", chunk, overlap)
    assert when.line_end == 12 and "01:44:52" in when.lines[-1]
    assert log_passage("what does the banner say?", chunk, overlap).line_end < 12


def test_a_repeated_incident_is_answered_with_its_first_occurrence_and_what_led_up_to_it() -> None:
    back_off = ('May 14 03:{m}:26 node kubelet[1893]: E0514 03:{m}:26.817985 1893 pod_workers.go:1298] "Error '
                'syncing pod" err="CrashLoopBackOff: back-off {s}s restarting failed container=ledger"')
    quiet = "May 14 03:{m}:{s} node kubelet[1893]: I0514 03:{m}:{s}.000000 1893 prober.go:107] Probe succeeded"
    lines = [quiet.format(m=10, s=n) for n in range(10, 20)]
    lines += ["May 14 03:17:25 node kernel: Memory cgroup out of memory: Killed process 23114 (java)",
              back_off.format(m=17, s=10)]
    lines += [quiet.format(m=18, s=n) for n in range(10, 20)] + [back_off.format(m=22, s=40)]
    lines += [quiet.format(m=23, s=n) for n in range(10, 20)] + [back_off.format(m=24, s=80)]
    document = _log("\n".join(lines) + "\n")
    passage = log_passage("why was the pod restarting?", Chunk(document, lines[22], 23, 23), overlap)
    assert (passage.line_start, passage.line_end) == (11, 12)
    assert "Killed process" in passage.lines[0]
    assert passage.context == "Seen 3 times in app.log, first at May 14 03:17:26, last at May 14 03:24:26."


def test_the_lines_a_question_suspects_head_no_incident() -> None:
    """"Tons of not authorised spam around then, is that what kept line 4 out?": one panel's login failures, all
    morning, and the refusals at max_connections interleaved with them. Headed by the refusals, the incident is
    the one found; headed by the panel's line, it would go back to that line's first time, hours before."""
    panel = "2024-09-04T0{h}:{m}:54: Client hmi-panel-12 disconnected, not authorised."
    denied = "2024-09-04T09:{m}:51: Client connection from 10.20.6.61:36068 denied: max_connections exceeded."
    lines = [panel.format(h=8, m=43), "2024-09-04T08:50:00: New connection from 10.20.7.1:40525 on port 1883."]
    lines += [f"2024-09-04T08:5{n}:00: Saving in-memory database to /mosquitto/data/mosquitto.db." for n in range(9)]
    lines += [panel.format(h=9, m=11), denied.format(m=12), denied.format(m=13), denied.format(m=14)]
    document = _log("\n".join(lines) + "\n")
    chunk = Chunk(document, "\n".join(lines[11:15]), 12, 15)
    question = "theres a ton of not authorised spam in the broker log around then too, is that what kept line 4 out?"
    suspects = suspected(question, [Chunk(document, "\n".join(lines), 1, len(lines))])
    assert log_passage(question, chunk, overlap, suspects).line_start == 12
    assert log_passage(question, chunk, overlap).line_start == 1


def test_a_long_incident_keeps_the_lines_that_name_what_the_question_asks_about() -> None:
    app = "2005-08-12-23.{n:02d}.12.135766 R44-M0-N8 RAS APP FATAL ciod: Error loading /bgl/apps/job_{n}.rts"
    lines = [app.format(n=n) for n in range(34)]
    lines += ["2005-08-12-23.34.13.135766 R71-M0-NA RAS KERNEL FATAL rts: kernel terminated for reason 1004"]
    lines += [app.format(n=n) for n in range(35, 60)]
    document = _log("\n".join(lines) + "\n")
    chunk = Chunk(document, lines[50], 51, 51)
    assert any("KERNEL" in line for line in log_passage("Why did KERNEL fail?", chunk, overlap).lines)
    assert not any("KERNEL" in line for line in log_passage("Why did it fail?", chunk, overlap).lines)


def test_a_long_java_trace_keeps_its_head_every_cause_and_its_last_line() -> None:
    frames = [f"\tat com.acme.Layer{i}.call(Layer{i}.java:{i})" for i in range(120)]
    lines = (["2024-05-14 08:00:00,000 INFO started"] * 3
             + ["2024-05-14 08:05:30,126 ERROR refund batch failed",
                "org.springframework.dao.CannotAcquireLockException: could not execute statement",
                *frames[:60], "Caused by: org.postgresql.util.PSQLException: ERROR: deadlock detected",
                "  Detail: Process 48211 waits for ShareLock on transaction 9918231", *frames[60:], "\t... 41 more"]
             + ["2024-05-14 08:06:00,000 INFO next"])
    document = _log("\n".join(lines) + "\n")
    passage = log_passage("why did the refund fail?", Chunk(document, frames[0], 6, 30), overlap)
    assert (passage.line_start, passage.line_end) == (4, 128)
    shown = "\n".join(passage.lines)
    assert passage.lines[0] == "2024-05-14 08:05:30,126 ERROR refund batch failed"
    assert "Caused by: org.postgresql.util.PSQLException: ERROR: deadlock detected" in shown
    assert passage.lines[-1] == "\t... 41 more"
    assert len(passage.lines) <= MAX_LINES and "… " in shown and "more lines" in shown


def test_another_log_chunk_gives_its_best_line_with_two_either_side() -> None:
    document = _log(EXAMPLE_LOG.read_text())
    passage = log_passage("which version started?", Chunk(document, "", 1, 20), overlap)
    assert passage.line_start == 1 and "starting checkout-api 2.14.1" in passage.lines[0]
    assert len(passage.lines) == 3 and passage.context == ""


def test_a_line_of_a_request_that_went_wrong_later_runs_on_to_how_it_ended() -> None:
    """AWS Lambda tags a request's lines with its RequestId: the line that matches the question (the export it
    asks about) is followed to that request's worst line (its timeout), past another request's lines; a request
    that ended well is quoted as it is."""
    request, other = "5b0c51de-8a60-4a9e-9d0c-4d3e2f1a7b11", "0f6a2c3e-1111-4a2b-8c3d-9e8f7a6b5c4d"
    lines = [
        f"2024-05-01T02:00:00Z START RequestId: {request} Version: 7",
        f"2024-05-01T02:00:00Z [INFO] {request} export_id=exp-1 tenant=acme format=xlsx",
        f"2024-05-01T02:00:01Z START RequestId: {other} Version: 7",
        f"2024-05-01T02:00:02Z [INFO] {other} export_id=exp-2 tenant=initech format=csv",
        f"2024-05-01T02:00:03Z END RequestId: {other}",
        f"2024-05-01T02:00:20Z [INFO] {request} warehouse query finished in 20000 ms",
        f"2024-05-01T02:00:30Z {request} Task timed out after 30.00 seconds",
        f"2024-05-01T02:00:30Z END RequestId: {request}",
    ]
    document = _log("\n".join(lines))
    passage = log_passage("acme says their xlsx export never showed up", Chunk(document, "", 2, 2), overlap)
    assert (passage.line_start, passage.line_end) == (1, 7) and "Task timed out" in passage.lines[-1]
    fine = log_passage("where is the initech csv export?", Chunk(document, "", 4, 4), overlap)
    assert (fine.line_start, fine.line_end) == (2, 6)  # two lines either side, no more


def test_the_two_lines_either_side_reach_past_the_edges_of_the_chunk() -> None:
    document = _log("\n".join([
        "14:16:03 LOG:  disconnection: session time: 0:00:50 user=orders",
        "14:16:05 LOG:  received SIGHUP, reloading configuration files",
        '14:16:05 LOG:  parameter "work_mem" changed to "64MB"',
        '14:16:05 LOG:  parameter "max_connections" cannot be changed without restarting the server',
        "14:16:05 LOG:  configuration file contains errors; unaffected changes were applied",
        "14:16:13 LOG:  connection authorized: user=orders",
    ]))
    # the chunk starts at line 4, where a token budget cut the reload in two
    passage = log_passage("was the max_connections parameter changed?", Chunk(document, "", 4, 6), overlap)
    assert (passage.line_start, passage.line_end) == (2, 6)
    assert any("work_mem" in line for line in passage.lines)


def test_a_how_often_question_about_a_quiet_line_says_how_often_it_was_seen() -> None:
    document = _log("\n".join([
        "2024-05-01 10:00:00 INFO nightly export started for tenant 41",
        "2024-05-01 10:00:05 INFO GET /health 200",
        "2024-05-01 11:00:00 INFO nightly export started for tenant 42",
        "2024-05-01 11:00:05 INFO GET /health 200",
        "2024-05-01 12:00:00 INFO nightly export started for tenant 43",
    ]))
    chunk = Chunk(document, "", 5, 5)
    passage = log_passage("how many times did the nightly export start?", chunk, overlap)
    assert passage.context == (
        "Seen 3 times in app.log, first at 2024-05-01 10:00:00, last at 2024-05-01 12:00:00.")
    assert log_passage("did the nightly export start?", chunk, overlap).context == ""


def test_line_templates_mask_timestamps_and_words_with_digits() -> None:
    assert line_template("2024-05-14 13:57:45,211 ERROR request_id=r001157 failed in 30012ms") == \
        line_template("2024-05-14 14:01:02,000 ERROR request_id=r001999 failed in 12ms") == \
        "ERROR <*> failed in <*>"


def test_a_passage_that_does_not_say_what_to_do_runs_on_to_the_steps_that_follow() -> None:
    text = ("# Database failover\n\n## When\nThe primary Postgres database is down or unreachable.\n\n"
            "## Steps\n1. Check replication lag with `patronictl list`.\n"
            "2. Promote the replica: `patronictl switchover --candidate pg-1`.\n3. Announce it in #incidents.\n\n"
            "# Appendix\nUnrelated history.\n")
    document = Document("runbook:db.md", "Database failover", text, kind="runbook")
    when = Chunk(document, "## When\nThe primary Postgres database is down or unreachable.", 3, 5)
    passage = text_passage("the primary database is down", [(when, 1.0)], overlap)
    assert passage.heading == "Database failover › When"
    assert passage.lines == ("The primary Postgres database is down or unreachable.", "", "## Steps",
                             "1. Check replication lag with `patronictl list`.",
                             "2. Promote the replica: `patronictl switchover --candidate pg-1`.",
                             "3. Announce it in #incidents.")
    assert (passage.line_start, passage.line_end) == (4, 9)


def _unread(document: Document) -> Document:
    """The document as the index hands back an indexed Slack file: its text left unread."""
    return replace(document, text="", content_key="indexed")


def test_a_document_whose_text_was_left_unread_is_read_back_from_its_chunks() -> None:
    """An indexed Slack file comes without its text: its chunks (a log's folded repeats, a line cut into
    pieces, blank lines between chunks) give back the lines the passage reads."""
    long_line = "2024-05-14 13:58:00,000 INFO payload " + " ".join(f"field{n}=value{n}" for n in range(400))
    log = _log(EXAMPLE_LOG.read_text() + long_line + "\n")
    for document in (log, _runbook()):
        chunks = chunk_documents([document], 40, words)
        assert len(chunks) > 5
        lines = document.text.split("\n")[:-1]
        rebuilt = text_from_chunks(_unread(document), chunks).split("\n")
        assert len(rebuilt) == len(lines)
        if document.kind == "log":  # a folded run comes back as the same run: same line when folded again
            lines, rebuilt = ([line.text for line in fold_repeats(t)] for t in (lines, rebuilt))
        assert [line for line in rebuilt if line.strip()] == [line for line in lines if line.strip()]
        assert any("[x40, lines 164-203" in line for line in lines) or document.kind != "log"


@pytest.mark.parametrize("question", ["why did checkout fail?", "pool warnings?", "which version started?"])
def test_an_unread_log_gives_the_same_passage_as_the_log_itself(question: str) -> None:
    document = _log(EXAMPLE_LOG.read_text())
    unread = _unread(document)
    chunks = chunk_documents([document], 60, words)
    scores = overlap(question, [c.text for c in chunks])
    stubs = [replace(c, document=unread) for c in chunks]
    read, rebuilt = best_passage(question, chunks, scores, overlap), best_passage(question, stubs, scores, overlap)
    assert (rebuilt.lines, rebuilt.line_start, rebuilt.line_end, rebuilt.context) == (
        read.lines, read.line_start, read.line_end, read.context)
    assert rebuilt.document is unread, "the citation is of the document the index handed over"


def test_an_unread_runbook_gives_the_same_passage_as_the_runbook_itself() -> None:
    document = _runbook()
    chunks = chunk_documents([document], 40, words)
    question = "how many replicas for the partition count?"
    scores = overlap(question, [c.text for c in chunks])
    unread = _unread(document)
    read = best_passage(question, chunks, scores, overlap)
    rebuilt = best_passage(question, [replace(c, document=unread) for c in chunks], scores, overlap)
    assert (rebuilt.heading, rebuilt.lines, rebuilt.line_start) == (read.heading, read.lines, read.line_start)


def test_incidents_a_few_lines_apart_are_one_passage_within_the_line_limit() -> None:
    """A node that loses its quorum warns, logs two errors, tidies up for four lines and then errs again:
    "what happened?" is all of it. Incidents further apart, or past ``MAX_LINES``, stay apart."""
    info = "2025-05-20T13:31:{s:02d}.000Z [INFO]  core: tidying up step {s}"
    lines = [info.format(s=s) for s in range(10)]
    lines += ["2025-05-20T13:31:44.904Z [WARN]  storage.raft: failed to contact quorum of nodes, stepping down",
              "2025-05-20T13:31:44.911Z [ERROR] storage.raft: failed to appendEntries to: peer=vault-3",
              "2025-05-20T13:31:44.942Z [WARN]  core: leadership lost, stopping active operation"]
    lines += [info.format(s=s) for s in range(45, 49)]
    lines += ['2025-05-20T13:31:47.112Z [ERROR] core: clearing leader advertisement failed: error="not the leader"']
    lines += [info.format(s=s) for s in range(50, 56)]
    lines += ['2025-05-20T13:31:57.000Z [ERROR] core: failed to acquire lock: error="node is not the leader"']
    document = _log("\n".join(lines) + "\n")
    passage = log_passage("vault-2 stopped being the active node, what happened?",
                          Chunk(document, lines[17], 18, 18), overlap)
    assert (passage.line_start, passage.line_end) == (11, 18)  # not the error 6 lines further on
    assert "stepping down" in passage.lines[0] and "leadership lost" in passage.lines[2]


def test_a_why_question_gets_the_incident_that_came_shortly_before() -> None:
    """A node stops answering, the cluster goes on for a while, then a partition error follows: "why did it
    drop out?" begins with the node that stopped answering (within ``CAUSE_GAP`` lines before); "what
    happened at 9:46?" is the partition error alone (more than ``EPISODE_GAP`` lines after the first)."""
    quiet = "2025-04-02 09:41:{s:02d}.000000+00:00 [info] <0.5.0> accepting AMQP connection"
    lines = ["2025-04-02 09:41:27.330118+00:00 [error] <0.211.0> ** Node 'rabbit@mq-orders-3' not responding **",
             "2025-04-02 09:41:27.371118+00:00 [info] <0.312.0> node 'rabbit@mq-orders-3' down: net_tick_timeout"]
    lines += [quiet.format(s=s) for s in range(30, 44)]
    lines += ["2025-04-02 09:46:58.714043+00:00 [error] <0.344.0> Mnesia: ** ERROR ** mnesia_event got "
              "{inconsistent_database, running_partitioned_network, 'rabbit@mq-orders-3'}"]
    document = _log("\n".join(lines) + "\n")
    chunk = Chunk(document, lines[16], 17, 17)
    why = log_passage("mq-orders-3 dropped out of the cluster, why?", chunk, overlap)
    assert (why.line_start, why.line_end) == (1, 17) and "not responding" in why.lines[0]
    assert log_passage("what happened to mq-orders-3 at 9:46?", chunk, overlap).line_start == 17
    assert CAUSE_GAP >= 15 > EPISODE_GAP


def test_a_question_at_a_time_is_answered_with_the_incident_at_that_time_not_its_first_occurrence() -> None:
    closed = "2025-04-02 {t}.000000+00:00 [warning] <0.1.0> client unexpectedly closed TCP connection"
    quiet = "2025-04-02 {t}.000000+00:00 [info] <0.2.0> accepting AMQP connection"
    lines = [closed.format(t="01:35:54")] + [quiet.format(t=f"01:{m}:00") for m in range(40, 50)]
    lines += [closed.format(t="02:38:03")] + [quiet.format(t=f"02:{m}:00") for m in range(40, 50)]
    document = _log("\n".join(lines) + "\n")
    chunk = Chunk(document, lines[11], 12, 12)
    assert log_passage("what happened to the publishers around 2:40 am?", chunk, overlap).line_start == 12
    assert log_passage("what happened to the publishers?", chunk, overlap).line_start == 1  # its first time


def test_a_trouble_asked_about_since_a_rough_time_is_answered_where_its_streak_began() -> None:
    """"failing since like 2am": the lockouts began at 01:40 and repeat every few lines; not a lockout of an earlier
    streak, more than ``STREAK_GAP_LINES`` lines before, nor one when the question asks what happened at a time."""
    locked = "Oct 14 {t} kdc01 krb5kdc[1873](info): AS_REQ (6 etypes {{18 17}}) 10.40.22.57: LOCKED_OUT: svc-etl@CORP"
    quiet = "Oct 14 {t} kdc01 krb5kdc[1873](info): TGS_REQ (6 etypes {{18 17}}) 10.40.3.12: ISSUE: authtime 1, w@CORP"
    lines = [locked.format(t="00:10:00")] + [quiet.format(t=f"00:{m % 60:02d}:00")
                                             for m in range(11, 11 + STREAK_GAP_LINES)]
    for hour, minute in ((1, 40), (1, 45), (1, 50), (1, 55), (2, 0), (2, 5)):  # a lockout, then 7 quiet lines
        lines += [locked.format(t=f"0{hour}:{minute:02d}:51")] + [quiet.format(t=f"0{hour}:{minute:02d}:5{n}")
                                                                   for n in range(2, 9)]
    document = _log("\n".join(lines) + "\n")
    number = len(lines) - 15  # the 02:00 lockout
    chunk = Chunk(document, lines[number - 1], number, number)
    start = STREAK_GAP_LINES + 2  # the 01:40 lockout
    assert "02:00:51" in lines[number - 1] and "01:40:51" in lines[start - 1]
    since = log_passage("etl jobs failing auth since like 2am, whats up with svc-etl?", chunk, overlap)
    assert since.line_start == start
    assert log_passage("what happened to svc-etl at 2am?", chunk, overlap).line_start == number


@pytest.mark.parametrize(("text", "expected"), [
    ("Apps log `Temporary failure in name resolution` or `i/o timeout` on lookups.", False),  # quoted messages
    ("`heartbeat failed` means the extension failed.", False),
    ("coturn logs `check_stun_auth: Cannot find credentials of user`: the secret differs.", False),  # no setting
    ("Run `sudo unbound-control set_option serve-expired: yes` on each resolver.", True),
    ("Keep `net.connect_timeout 10` on the output.", True),  # a setting that names a timeout
    ("Raise it with `kubectl set env deploy/x TIMEOUT=30`.", True),
    ("Look for `no space left` then run `df -h /var`.", True),
    ("Post it into the next open period: rerun with `--post-to-period <YYYY-MM>`.", True),  # a command's option
    ("Pass `--dry-run` first.", True),
    ("The job logs `--- retrying ---` between attempts.", False),
])
def test_inline_code_that_quotes_a_message_says_nothing_to_do(text: str, expected: bool) -> None:
    assert actionable(text) is expected


def test_anything_we_can_do_asks_what_to_do() -> None:
    assert asks_what_to_do("anything we can flip so apps keep getting answers until it clears?")
    assert not asks_what_to_do("anything odd in the resolver logs?")
    assert asks_what_to_do("nothing new has started in 40 min. ok to just kill both pods?")
    assert asks_what_to_do("grid operator says we're over the limit, whats the immediate thing to do")
    assert asks_what_to_do("is it safe to delete the old deployment?")
    assert asks_what_to_do("new admissions aren't showing in the patient app. where do i start")
    assert not asks_what_to_do("where did it start?")
    assert asks_what_to_do("users see raw string keys since this morning's strings update. fastest way back?")


def test_a_log_lookup_quotes_the_line_that_states_the_value() -> None:
    """"Which version?" over a start-up banner: the line that names the version, not the banner line that
    reads most like the question."""
    lines = ["==> Vault server configuration:", "", "       Administrative Namespace: ",
             "             Api Address: https://vault-2.vault-internal:8200", "                     Cgo: disabled",
             "         Cluster Address: https://vault-2.vault-internal:8201", "              Go Version: go1.22.2",
             "              Listener 1: tcp (addr: \"[::]:8200\")", "               Log Level: info",
             "                   Mlock: supported: true, enabled: false", "           Recovery Mode: false",
             "                 Storage: raft (HA available)",
             "                 Version: Vault v1.16.3, built 2024-05-29"]
    document = _log("\n".join(lines) + "\n")
    banner = Chunk(document, "\n".join(lines), 1, len(lines))
    assert overlap("what version did the upgrade put on vault-2?", [lines[3]]) == overlap(
        "what version did the upgrade put on vault-2?", [lines[12]])  # as like the question as the address
    passage = log_passage("what version did the upgrade put on vault-2?", banner, overlap)
    assert passage.line_end == 13 and "Vault v1.16.3" in passage.lines[-1]


def test_a_long_incident_keeps_the_lines_that_retrieval_found() -> None:
    """Forty lines of one incident are shortened to its first, last and worst lines; the warning that the
    question was matched to ("Publishers will be blocked") stays among them."""
    closed = "2025-04-02 02:{m:02d}:00.000000+00:00 [warning] <0.{m}.0> closing AMQP connection {m}: client closed"
    lines = [closed.format(m=m) for m in range(0, 20)]
    lines += ["2025-04-02 02:20:31.076416+00:00 [error] <0.53047.30> Channel error on connection <0.57248.6>"]
    lines += [closed.format(m=m) for m in range(21, 30)]
    lines += ["2025-04-02 02:36:40.118270+00:00 [warning] <0.523.0> *** Publishers will be blocked until this alarm "
              "clears ***"]
    lines += [closed.format(m=m) for m in range(37, 50)]
    document = _log("\n".join(lines) + "\n")
    alarm = lines.index(next(line for line in lines if "Publishers" in line)) + 1
    passage = log_passage("publishers were hanging around 2:36, anything on the broker?",
                          Chunk(document, lines[alarm - 1], alarm, alarm), overlap)
    assert len(passage.lines) < len(lines)
    assert any("Publishers will be blocked" in line for line in passage.lines)


def test_how_long_an_outage_lasted_is_answered_up_to_the_line_that_ends_it() -> None:
    refused = "2025-10-07T12:04:{s}.419Z pid=1 tid=nsi8 ERROR: Error fetching job: Connection refused - connect(2)"
    lines = ["2025-10-07T12:03:00.000Z pid=1 tid=nsi8 INFO: tracking synced carrier=swiftpost updated=170"]
    lines += [refused.format(s=n) for n in range(11, 15)]
    lines += [f"2025-10-07T12:04:{n}.000Z pid=1 tid=26dx class=QuoteJob INFO: start" for n in range(20, 23)]
    lines += ["2025-10-07T12:05:03.316Z pid=1 tid=nsi8 INFO: Redis is online, 51.914 sec downtime",
              "2025-10-07T12:17:19.525Z pid=1 tid=26dx class=QuoteJob INFO: start"]
    document = _log("\n".join(lines) + "\n")
    chunk = Chunk(document, "\n".join(lines[1:3]), 2, 3)
    long = log_passage("the worker lost redis around noon, how long was it out for?", chunk, overlap)
    assert (long.line_start, long.line_end) == (2, 9)
    assert long.lines[-2:] == ("  … 3 more lines", lines[8])
    assert "Redis is online" not in log_passage("why did the worker lose redis?", chunk, overlap).as_text()


def test_who_unstuck_it_is_answered_with_the_actions_after_the_incident() -> None:
    """Bareos waits for a volume; an operator's console commands end it, past the incident's lines: "who unstuck
    it" quotes them after the incident, a question about why it waited does not."""
    waiting = ("13-Mar 0{h}:11 bareos-sd JobId 18435: Job erp01-fs.2024-03-13_02.00.00_18 is waiting. Cannot find any "
               "appendable volumes.")
    lines = ["13-Mar 02:10 bareos-dir JobId 18435: Start Backup JobId 18435, Job=erp01-fs.2024-03-13_02.00.00_18",
             "13-Mar 02:11 bareos-sd JobId 18435: Error: Write error on device FileStorage1. ERR=No space left on "
             "device.", *(waiting.format(h=h) for h in (2, 3))]
    lines += [f"13-Mar 03:0{n} bareos-dir JobId 18433: Pruned {n} files from Incr-0{n}" for n in range(2)]
    lines += ["13-Mar 03:04 bareos-dir: Console [rkhan] from [10.10.4.37] cmdline list volumes pool=Full",
              "13-Mar 03:06 bareos-dir: Console [rkhan] from [10.10.4.37] cmdline truncate volstatus=Purged yes",
              "13-Mar 03:07 bareos-sd JobId 18435: Recycled volume \"Full-0101\" on device FileStorage1"]
    document = _log("\n".join(lines) + "\n")
    chunk = Chunk(document, "\n".join(lines[1:4]), 2, 4)
    who = log_passage("erp01 backup was stuck for ages around 2-3am, who unstuck it and what did they do", chunk,
                      overlap)
    assert who.lines[-3:] == ("  … 2 more lines", lines[6], lines[7])
    assert (who.line_start, who.line_end) == (2, 8)
    assert "Console [rkhan]" not in log_passage("why was the erp01 backup stuck?", chunk, overlap).as_text()


def test_did_it_recover_by_itself_or_did_someone_bounce_it_quotes_the_action_before_the_comeback() -> None:
    lines = ["[2024-03-12T03:46:11,530][ERROR][logstash.agent] Failed to execute action {:id=>:main}",
             "[2024-03-12T03:49:02,077][WARN ][logstash.runner] SIGTERM received. Shutting down.",
             *(f"[2024-03-12T03:49:1{n},000][INFO ][logstash.javapipeline] Worker {n} stopped" for n in range(6)),
             '[2024-03-12T03:50:03,903][INFO ][logstash.runner] Starting Logstash {"logstash.version"=>"8.12.2"}',
             "[2024-03-12T03:50:13,116][INFO ][logstash.agent] Successfully started Logstash API endpoint"]
    document = _log("\n".join(lines) + "\n")
    chunk = Chunk(document, "\n".join(lines[8:]), 9, 10)
    passage = log_passage("that ingest stall just before 4, did logstash recover by itself or did somebody bounce it?",
                          chunk, overlap)
    assert passage.lines[0] == lines[1] and passage.line_start == 2
    assert "SIGTERM" not in log_passage("when did logstash come back up?", chunk, overlap).as_text()


def test_the_action_before_a_comeback_is_what_was_run_not_the_session_around_it() -> None:
    """sudo's command, not PAM's "session opened/closed" lines around it, and found even when the failed starts
    between it and the comeback take dozens of lines."""
    sudo = "Mar 14 23:48:09 pgdb-02 sudo[4702]: "
    lines = ["Mar 14 23:47:26 pgdb-02 patroni[4512]: FATAL:  could not load pg_hba.conf",
             sudo + "mkowalski : TTY=pts/0 ; PWD=/home/mkowalski ; USER=root ; COMMAND=/usr/bin/systemctl reload "
             "patroni",
             sudo + "pam_unix(sudo:session): session opened for user root(uid=0) by mkowalski(uid=1004)",
             sudo + "pam_unix(sudo:session): session closed for user root",
             *(f"Mar 14 23:48:{10 + n // 10:02d} pgdb-02 patroni[4512]: INFO: waiting for postgres, try {n}"
               for n in range(40)),
             "Mar 14 23:48:26 pgdb-02 patroni[4512]: LOG:  database system is ready to accept connections"]
    document = _log("\n".join(lines) + "\n")
    chunk = Chunk(document, lines[-1], len(lines), len(lines))
    passage = log_passage("did pgdb-02 come back on its own or did somebody fix it by hand?", chunk, overlap)
    assert passage.lines[0] == lines[1] and passage.line_start == 2


def test_how_many_failed_runs_on_to_the_jobs_summary() -> None:
    """Bareos lists the files it could not open, and counts them in the job's report half a page later: "how many files
    got skipped" quotes the incident, then the report's count; "why" does not."""
    lines = ["13-Mar 04:01 win-fs02-fd JobId 18437: Warning: VSS was not initialized properly. VSS is disabled.",
             *(f'13-Mar 04:0{n} win-fs02-fd JobId 18437:      Cannot open "D:/SQL/Data/db{n}.mdf": ERR=The process '
               "cannot access the file because it is being used by another process." for n in range(2, 6)),
             "13-Mar 04:27 bareos-sd JobId 18437: Elapsed time=00:27:39, Transfer rate=5.91 M Bytes/second",
             *(f"  Volume Session Id:      32{n}" for n in range(30)),
             "  FD Files Written:       6,241",
             "  Non-fatal FD errors:    4",
             "  SD Errors:              0",
             "  Termination:            Backup OK -- with warnings"]
    document = _log("\n".join(lines) + "\n")
    chunk = Chunk(document, "\n".join(lines[1:3]), 2, 3)
    passage = log_passage("how many files got skipped on win-fs02 in the 4am run", chunk, overlap)
    assert passage.lines[-1] == lines[-3] and passage.line_end == len(lines) - 2
    assert "Non-fatal" not in log_passage("why did files get skipped on win-fs02?", chunk, overlap).as_text()


def test_a_record_is_known_by_its_message_not_by_its_first_line() -> None:
    """Db2's records open with the time and the level alone: two warnings about different things are not one repeated
    incident, and the context line counts the record's message."""
    record = ("2024-03-14-0{h}.14.31.102775+060 E30482E504          LEVEL: Warning\n"
              "PID     : 31877                TID : 140152968811253 PROC : db2sysc 0\n"
              "FUNCTION: DB2 UDB, {function}\n"
              "MESSAGE : {message}\n")
    text = "\n".join([record.format(h=2, function="data protection services, sqlpgArchiveLogFile, probe:3150",
                                    message='ADM1848W  Failed to archive log file "S0004711.LOG".'),
                      *(f"2024-03-14-03.0{n}.00.000000+060 I1E1          LEVEL: Info\nMESSAGE : ADM1846I  Completed "
                        f"archive.\n" for n in range(8)),
                      record.format(h=4, function="recovery manager, sqlpresr, probe:3170",
                                    message="ADM1531E  Crash recovery has completed successfully.")])
    document = _log(text)
    lines = text.split("\n")
    start = lines.index(next(line for line in lines if line.startswith("2024-03-14-04"))) + 1
    passage = log_passage("did crash recovery finish ok?", Chunk(document, lines[start - 1], start, start + 3),
                          overlap)
    assert passage.line_start == start and "Crash recovery has completed" in passage.as_text()
    assert passage.context.startswith("Seen once")


def test_a_long_incident_keeps_the_line_where_a_count_ran_out() -> None:
    """Kong's health checker counts failures to its limit ("increment (3/3)") among dozens of timeouts: the line that
    says the limit was reached stays when the incident is shortened, the lines that count up to it may not."""
    timeout = ("2024/03/14 00:{m:02d}:{s:02d} [error] 1197#0: *13774{n:02d} upstream timed out (110: Connection timed "
               "out) while reading response header from upstream, client: 10.40.3.18, server: kong")
    check = ("2024/03/14 00:48:{s:02d} [warn] 1197#0: [healthcheck] (orders-upstream) unhealthy TIMEOUT increment "
             "({n}/3) for 'orders-2.svc.northwind.internal(10.30.2.15:8080)'")
    lines = [timeout.format(m=47, s=n, n=n) for n in range(30)]
    lines += [check.format(s=10 * n, n=n) for n in (1, 2, 3)]
    lines += [timeout.format(m=49, s=n, n=n) for n in range(30)]
    document = _log("\n".join(lines) + "\n")
    passage = log_passage("why are orders timing out?", Chunk(document, lines[0], 1, 1), overlap)
    assert any(line.startswith("  … ") for line in passage.lines)  # shortened
    assert lines[32] in passage.lines


def test_names_the_whole_runbook_opens_with_do_not_pick_its_steps() -> None:
    """"bastion-iad-1" is in the runbook's opening inventory, so it does not lift that opening over the
    step that answers; and a question that asks what to do is not answered with the opening."""
    text = ("# SSH bastions\n\nOwner: #corpsec · bastions `bastion-iad-1`, `bastion-iad-2` · recordings in S3\n\n"
            "## Recording disk full\n\n"
            "1. With the recordings disk full, sshd refuses new sessions on purpose.\n"
            "2. Never set `recording: fail-open` to let people in: that breaks the audit.\n")
    document = Document("runbook:bastion.md", "SSH bastions", text, kind="runbook")
    ranked = [(Chunk(document, "", 3, 3), 0.8), (Chunk(document, "", 5, 8), 0.5)]
    passage = text_passage("bastion-iad-1 refusing ssh, can we flip it to fail-open?", ranked, overlap)
    assert passage.heading == "SSH bastions › Recording disk full"
    assert "breaks the audit" in passage.as_text()


def test_a_step_that_sends_the_reader_to_another_section_is_followed() -> None:
    """The triage step that matches the pasted error says 'go to "Schema change upstream"': that section is
    read as if retrieval had found it with the triage section's score, and its steps answer."""
    text = ("# Loader\n\n## A table's loads are failing\n\n1. `whctl status --table <t>` shows the last loads.\n"
            "2. `Number of columns in file does not match`: the source schema changed; go to \"Schema change "
            "upstream\".\n3. Anything else: retry the failed files, `whctl retry --table <t> --failed-only`.\n\n"
            "## Freshness\n\n1. Consumer lag growing: scale up.\n\n"
            "## Schema change upstream\n\n1. Keep the old column; mark it `deprecated: true` in the mapping.\n"
            "2. Do not drop the column by hand: the loader's cached mapping still names it.\n")
    document = Document("runbook:loader.md", "Loader", text, kind="runbook")
    ranked = [(Chunk(document, "", 3, 8), 0.8), (Chunk(document, "", 10, 12), 0.3)]
    question = "loads failing with `Number of columns in file does not match`, can I drop the column by hand?"
    passage = text_passage(question, ranked, overlap)
    assert passage.heading == "Loader › Schema change upstream"
    assert any("cached mapping" in line for line in passage.lines)
    # without the reference, the triage section's own steps answer
    unrouted = replace(document, text=text.replace('go to "Schema change upstream"', "see below"))
    ranked = [(Chunk(unrouted, "", 3, 8), 0.8), (Chunk(unrouted, "", 10, 12), 0.3)]
    assert text_passage(question, ranked, overlap).heading == "Loader › A table's loads are failing"


CHECKS_AND_FIXES = """# Pay stations

## Diagnosis

1. Kiosks of the site: `payctl stations list --site S1`.
2. Exit says unpaid: the gates hold an old paid list. Check `payctl sync status --site S1`.
3. Fees wrong: check the active tariff with `payctl tariff show --site S1`.

## Remediation

1. Kiosk frozen: `payctl station reboot --site S1 --station K3`.
2. Wrong tariff: `payctl tariff rollback --site S1`.
3. Exit says unpaid, the gates hold an old paid list: push it again with `payctl sync push --site S1`.
"""


def test_a_check_is_followed_by_the_remedy_step_that_reads_like_it() -> None:
    """A symptom that matches a diagnosis step ("the exit says unpaid") gets that check, then the remedy step that
    reads closest to it (the push), with the lines between elided; a question for a number or a time gets the
    check alone, and so does one whose remedy steps read alike."""
    document = Document("runbook:pay.md", "Pay stations", CHECKS_AND_FIXES, kind="runbook")
    ranked = [(Chunk(document, "", 3, 8), 0.8)]
    passage = text_passage("paid at the kiosk but the exit says unpaid, wat do", ranked, overlap)
    assert passage.heading == "Pay stations › Diagnosis" and passage.line_end == 13
    assert passage.lines[-1].endswith("`payctl sync push --site S1`.") and "then Remediation:" in passage.lines[-2]
    assert asks_what_to_do("paid but unpaid. wat do")
    fact = text_passage("the exit says unpaid, how long until the gates get the paid list?", ranked, overlap)
    assert fact.line_end <= 8 and not any("sync push" in line for line in fact.lines)
    alike = replace(document, text=CHECKS_AND_FIXES + "4. Exit says unpaid, the gates hold an old paid list: push it"
                    " again with `payctl sync push --site S1 --full`.\n")
    assert text_passage("the exit says unpaid", [(Chunk(alike, "", 3, 8), 0.8)], overlap).line_end <= 8


def test_a_step_that_only_forbids_is_no_checks_remedy() -> None:
    """The remedy step that reads closest to the check forbids the command it names and says in words what to do
    instead: the check is followed by the step that does it (the resync), not by the rule."""
    text = ("# Dispatcher\n\n## Diagnosis\n\n"
            "1. Lots offered to a tool that is down: compare `dspctl tool-state --tool T1` with the MES state.\n\n"
            "## Remediation\n\n"
            "- Do NOT set a tool that is down to UP by hand with `dspctl tool-state --tool T1 --set UP` when lots are"
            " offered to it: the MES state overwrites it. Resync instead.\n"
            "- Lots offered to a tool: resync its state from MES with `dspctl resync-state --tool T1`.\n")
    document = Document("runbook:dispatch.md", "Dispatcher", text, kind="runbook")
    passage = text_passage("lots offered to a tool that is down, what do i do", [(Chunk(document, "", 3, 5), 0.8)],
                           overlap)
    assert passage.heading == "Dispatcher › Diagnosis"
    assert passage.lines[-1].endswith("`dspctl resync-state --tool T1`.")
    assert not any("--set UP" in line for line in passage.lines)


def test_in_an_error_table_only_the_row_that_matches_sends_the_reader_elsewhere() -> None:
    """An error table whose `PERIOD_CLOSED` row says 'see "Month-end"': a question about another of its errors
    is answered by the table (its row names the setting), not sent to "Month-end", nor to the opening."""
    text = ("# GL export\n\nOwner: #fin-eng · journals to NetSuite\n\n## NetSuite API errors\n\n"
            "| Error | Cause | Action |\n|---|---|---|\n"
            "| `INVALID_LOGIN_ATTEMPT` | token rotated | new token in Vault |\n"
            "| `CONCURRENCY_LIMIT_EXCEEDED` | too many parallel posts | lower `glexport.netsuite.concurrency` to 2 |\n"
            "| `PERIOD_CLOSED` | the period is locked | see \"Month-end\" |\n\n"
            "## Month-end\n\n1. Post into the next open period: rerun with `--post-to-period <YYYY-MM>`.\n")
    document = Document("runbook:gl.md", "GL export", text, kind="runbook")
    ranked = [(Chunk(document, "", 5, 11), 0.9), (Chunk(document, "", 1, 3), 0.5), (Chunk(document, "", 13, 15), 0.4)]
    passage = text_passage("netsuite throwing CONCURRENCY_LIMIT_EXCEEDED all through today's run, which setting?",
                           ranked, overlap)
    assert passage.heading == "GL export › NetSuite API errors"
    assert "glexport.netsuite.concurrency" in passage.as_text()
    routed = text_passage("export failed with PERIOD_CLOSED, how do i get the journal in?", ranked, overlap)
    assert routed.heading == "GL export › Month-end"


def test_a_step_that_sends_the_reader_to_another_runbook_is_not_the_answer_here() -> None:
    """"Callers can't hear our agents ... where is that configured?": the escalation step that says browser audio
    is the TURN runbook's reads as close as the step that names the file; it says where to look, not what to
    do here."""
    text = ("# SIP edge\n\n## One-way audio on phone calls\n\n"
            "1. Callers hear nothing from the agents on phone calls: rtpengine announces the wrong address.\n"
            "2. Check `interface = pub/10.20.0.11` in `/etc/rtpengine/rtpengine.conf` on the host.\n\n"
            "## Escalation\n\n1. voice-oncall secondary.\n"
            "2. Agents can't hear callers in the browser (WebRTC audio): that is TURN, use that runbook.\n")
    document = Document("runbook:sip.md", "SIP edge", text, kind="runbook")
    ranked = [(Chunk(document, "", 10, 12), 0.8), (Chunk(document, "", 3, 6), 0.78)]
    question = "callers can't hear our agents on phone calls since the rebuild, where is that configured?"
    passage = text_passage(question, ranked, overlap)
    assert passage.heading == "SIP edge › One-way audio on phone calls"
    assert "/etc/rtpengine/rtpengine.conf" in passage.as_text()


def test_a_large_table_is_not_compared_row_by_row() -> None:
    """An inventory table of thousands of rows in the best section: the question is compared with the table
    as one block (and its neighbours), never with each of its rows."""
    rows = "".join(f"| host-{n} | rack {n % 40} | `see \"Racks\"` |\n" for n in range(MAX_TABLE_ROWS * 20))
    text = f"# Hosts\n\n## Inventory\n\n| Host | Rack | Notes |\n|---|---|---|\n{rows}\n## Racks\n\nRack 7 is cold.\n"
    document = Document("runbook:hosts.md", "Hosts", text, kind="runbook")
    widest = 0

    def counting(question: str, texts: Sequence[str]) -> np.ndarray:
        nonlocal widest
        widest = max(widest, len(texts))
        return overlap(question, texts)

    text_passage("which rack is host-17 in?", [(Chunk(document, "", 3, 9), 0.9)], counting)
    assert 0 < widest < MAX_TABLE_ROWS


def test_who_sends_the_traffic_is_the_address_most_lines_around_the_passage_come_from() -> None:
    """"Who was hammering it?": the health warning is the incident; the context line names the client
    that sent most of the queries before it."""
    query = '2025-11-03T06:{m:02d}:{s:02d}Z [INFO] {ip}:35866 - 19369 "A IN warehouse-db.internal." NXDOMAIN 0.5s'
    lines = [query.format(m=50, s=n, ip="10.244.2.41") for n in range(5)]
    lines += [query.format(m=52 + n // 30, s=n % 30, ip="10.244.6.23") for n in range(60)]
    lines += ['2025-11-03T06:54:00Z [WARNING] plugin/health: Local health request took more than 1s: 1.77s']
    document = _log("\n".join(lines))
    passage = log_passage("dns got slow and the health endpoint kept complaining, who was hammering it?",
                          Chunk(document, "", 66, 66), overlap)
    assert "Most of the lines around it come from 10.244.6.23: 60 of the 65 lines with an address" in passage.context
    assert "10.244.6.23" not in log_passage("why was the health endpoint complaining?",
                                            Chunk(document, "", 66, 66), overlap).context
    asked_where = log_passage("something was hitting the health endpoint, where did it come from?",
                              Chunk(document, "", 66, 66), overlap)
    assert "come from 10.244.6.23" in asked_where.context
    outage = _log("\n".join(f'E0211 01:5{n}:17 controller.go:145] "Failed to ensure lease exists" err="Get '
                             f'\\"https://api/leases\\": dial tcp 10.42.0.12:443: i/o timeout"' for n in range(8)))
    where_to = log_passage("something was poking the kubelet, where did it come from?", Chunk(outage, "", 1, 8),
                           overlap)
    assert "come from" not in where_to.context  # the lines name where they went, not who sent them


def test_the_line_that_states_the_value_may_lie_a_few_lines_past_the_chunk() -> None:
    """Retrieval found the index build's lines; the line that says it finished comes three lines later."""
    lines = ['{"t":"11:45:16","msg":"Index build: collection scan done","ns":"shop.orders"}',
             '{"t":"11:46:35","msg":"Index build: inserted keys from external sorter into index","ns":"shop.orders"}',
             '{"t":"11:46:35","msg":"Index build: waiting for next action before completing final phase"}',
             '{"t":"11:46:35","msg":"Index build: received signal"}',
             '{"t":"11:46:35","msg":"Index build: completed successfully","ns":"shop.orders"}',
             '{"t":"11:47:16","msg":"Connection ended","remote":"10.6.2.33:60903"}']
    document = _log("\n".join(lines) + "\n")
    passage = log_passage("when was the orders index put back?", Chunk(document, "", 1, 2), overlap)
    assert "completed successfully" in passage.lines[LOG_CONTEXT_LINES]
    # a question for no kind of value stays with the chunk's own lines
    assert "completed successfully" not in "\n".join(
        log_passage("what did the orders index build insert?", Chunk(document, "", 1, 2), overlap).lines)


def test_a_change_nobody_logged_is_the_setting_a_restart_banner_says_differently() -> None:
    """"What did we change?" over Celery's second start-up banner: its concurrency line, which says 8 where
    the first banner said 4, not the banner line that reads most like the question."""
    def banner(concurrency: int) -> list[str]:
        return ["- ** ---------- [config]", "- ** ---------- .> app:         billing:0x7f3c2a1b9d50",
                f"- *** --- * --- .> concurrency: {concurrency} (prefork)",
                "-- ******* ---- .> task events: OFF (enable -E to monitor tasks in this worker)",
                "[tasks]", "  . billing.tasks.charge_invoice", "  . billing.tasks.send_receipt"]
    lines = [*banner(4), "[2026-04-22 09:00:01,000: INFO/MainProcess] billing worker ready", *banner(8)]
    document = _log("\n".join(lines) + "\n")
    passage = log_passage("what did we change on the billing workers?", Chunk(document, "", 9, 15), overlap)
    assert "concurrency: 8" in passage.lines[LOG_CONTEXT_LINES]


DOSING = """# Chlorine dosing

## Symptom: free chlorine low

1. Check the analyzer: `dosectl analyzer show --works millbrook`.
2. Residual low: bump the setpoint up a small step with `dosectl setpoint set --value 1.1`.

## Never

- Never set a setpoint above 2.0 mg/L from the bridge, even to "catch up" after a low residual.
"""


def test_a_question_that_asks_whether_something_is_allowed_is_answered_by_the_rule_about_it() -> None:
    """"Can I bump the setpoint to 2.5 to catch up?": the rule that forbids it answers as well as a step does,
    so the step with a command no longer outranks it for having one; a question that asks how gets the step."""
    document = Document("runbook:dosing.md", "Chlorine dosing", DOSING, kind="runbook")
    ranked = [(Chunk(document, "", 3, 6), 0.8), (Chunk(document, "", 8, 10), 0.8)]
    passage = text_passage("residual low, can i bump the setpoint to 2.5 to catch up", ranked, overlap)
    assert passage.heading == "Chlorine dosing › Never" and "2.0 mg/L" in passage.as_text()
    how = text_passage("residual low, how do i bump the setpoint to catch up", ranked, overlap)
    assert how.heading == "Chlorine dosing › Symptom: free chlorine low"


RADAR = """# Radar ingest

## Symptom: spokes of rain on a clear day

1. Check the QC flags: `radarctl qc show --site RDR-KESW`.
2. You may blank a sector for at most 6 hours with `radarctl qc blank --site RDR-KESW --hours 6`.

## Warnings

- Never remove a noisy site from the mosaic (`radarctl sites disable`); blank the sector instead.
"""


def test_a_rule_that_says_what_to_do_instead_is_followed_by_the_step_that_does_it() -> None:
    """"Can I just disable that noisy site?": the warning that forbids it says to blank the sector instead, in
    words; the step that does that (another section's) follows it. A rule that says "instead of" names what it
    forbids, not what to do."""
    document = Document("runbook:radar.md", "Radar ingest", RADAR, kind="runbook")
    ranked = [(Chunk(document, "", 8, 10), 0.9), (Chunk(document, "", 3, 6), 0.5)]
    passage = text_passage("can i just disable that noisy site from the mosaic", ranked, overlap)
    assert passage.heading == "Radar ingest › Warnings"
    assert "radarctl qc blank" in passage.as_text() and "instead, from Symptom: spokes" in passage.as_text()
    assert (passage.line_start, passage.line_end) == (6, 10)
    plain = replace(document, text=RADAR.replace("; blank the sector instead.", " instead of blanking the sector."))
    alone = text_passage("can i just disable that noisy site from the mosaic", [(Chunk(plain, "", 8, 10), 0.9)],
                         overlap)
    assert "radarctl qc blank" not in alone.as_text()


TRAM_FEED = """# Tram position feed

## Alerts
- `TramFeedSilent`: no position from a depot receiver for 120 s.
- Dispatchers say: "tram 12 is shown in the river", "the board froze".

## Diagnosis
1. Receiver health: `tramctl receivers`

## Fixes
1. **Receiver silent:** reconnect it with `tramctl receiver reconnect depot-a`.
2. **Tram shown in the river (position jumps):** a bad GPS fix. Turn on the jump filter:
   `tramctl filter add --tram 12 --max-speed 80`
"""


def test_a_list_of_symptoms_sends_the_reader_to_what_the_runbook_does_about_them() -> None:
    """The alerts section lists the symptom in the question's own words, and retrieval ranks it first; it says what
    the problem looks like, not what to do, so the answer is the remedy step that deals with it (read with the
    score of the list that sent there). A question for what an alert means, or for a number, keeps the list."""
    document = Document("runbook:tram.md", "Tram position feed", TRAM_FEED, kind="runbook")
    chunks = chunk_documents([document], 30, words)
    headings = [text_passage("", [(chunk, 1.0)], overlap).heading for chunk in chunks]
    scores = np.asarray([0.8 if heading.endswith("Alerts") else 0.4 for heading in headings], np.float32)
    passage = best_passage("dispatch says tram 12 is shown in the river on the map", chunks, scores, overlap)
    assert passage.heading == "Tram position feed › Fixes"
    assert "`tramctl filter add --tram 12 --max-speed 80`" in passage.as_text()
    meaning = best_passage("what does TramFeedSilent mean?", chunks, scores, overlap)
    assert meaning.heading == "Tram position feed › Alerts"
    number = best_passage("how long without a position before TramFeedSilent fires?", chunks, scores, overlap)
    assert number.heading == "Tram position feed › Alerts"


def test_a_section_that_says_how_to_confirm_a_fix_does_not_answer_a_symptom() -> None:
    """"Checking the fix" describes the symptom going away in the symptom's own words; a question that describes
    the symptom gets the mitigation, and one that asks how to confirm the fix gets the check."""
    text = ("# Render dispatcher\n\n## Mitigation\n"
            "**Backlog with idle nodes:** a per-show cap after a show is added. Raise "
            "`shows.<show>.max_inflight_frames`, then `rfq config reload`.\n\n"
            "## Checking the fix\n- `rfq farm summary` shows idle nodes dropping and pending frames falling.\n")
    document = Document("runbook:rfq.md", "Render dispatcher", text, kind="runbook")
    ranked = [(Chunk(document, "", 7, 8), 0.6), (Chunk(document, "", 3, 5), 0.5)]
    symptom = text_passage("frames pending for ages but nodes sitting idle, whats blocking", ranked, overlap)
    assert symptom.heading == "Render dispatcher › Mitigation"
    confirming = text_passage("raised the cap, how can we tell it's fixed? frames pending, nodes idle", ranked, overlap)
    assert confirming.heading == "Render dispatcher › Checking the fix"


def test_an_answer_about_the_log_s_incidents_in_general_lists_the_others() -> None:
    """"anything bad on mx2 today?": the worst incident's passage, then the other incidents' headlines, each once,
    in file order; the probe failing all day is none of them. Other questions get the passage alone."""
    document = relay_day()
    chunks = chunk_documents([document], 40, words)
    question = "anything bad on mx2 today?"
    scores = incident_scores(question, chunks) + 0.01 * overlap(question, [c.text for c in chunks])
    passage = best_passage(question, chunks, scores, overlap)
    assert "clamd" in "\n".join(passage.lines)
    others = passage.context.split("Other incidents in exim-mx2.log:\n", 1)[1].split("\n")
    assert [line.split(":", 1)[0] for line in others] == ["• line 51", "• line 81"]
    assert "Connection refused" in others[0] and "No space left on device" in others[1]
    assert "TLS error" not in passage.context
    specific = "why did the scanner fail?"
    plain = best_passage(specific, chunks, incident_scores(specific, chunks), overlap)
    assert "Other incidents" not in plain.context


def test_the_log_s_background_heads_no_incident() -> None:
    """The probe's failure logged among the scanner's deferrals is not the incident's headline: the context line
    counts the scanner's error, not the probe's 16 failures of the day."""
    document = relay_day()
    chunks = chunk_documents([document], 40, words)
    question = "why was mail deferred early this morning?"
    scores = incident_scores(question, chunks) + overlap(question, [c.text for c in chunks])
    passage = best_passage(question, chunks, scores, overlap)
    assert passage.line_start <= 11 <= passage.line_end
    assert passage.context.startswith("Seen 5 times in exim-mx2.log, first at 2024-11-05 02:30:05")


def test_times_in_epoch_seconds_are_told_as_utc_dates() -> None:
    """Nagios stamps its lines in seconds since 1970: the context line gives the dates people read."""
    text = "".join(f"[{1733252561 + 60 * n}] Error: Could not find any host matching 'web03'\n" for n in range(0, 6, 2))
    document = Document("file:nagios.log", "nagios.log", text, kind="log", link="nagios.log")
    passage = log_passage("how many times did the reload fail?", Chunk(document, text.split("\n")[0], 1, 1), overlap)
    assert passage.context == ("Seen 3 times in nagios.log, first at 2024-12-03 19:02:41 UTC, "
                               "last at 2024-12-03 19:06:41 UTC.")


GATEWAY = """# Enclosure climate

## Quick checks
1. A dead gateway shows as `encl-gw-02 LAST_SEEN > 300s` in `climctl gateways`.

## Fixing it
- Gateway: restart it with `climctl gateway restart encl-gw-02`.

WARNING: restarting a gateway drops the door interlocks of the house for about 90 s. Ask in #zoo-keepers first.

## Escalation
- Duty vet: 01632 960 870
- HVAC contractor (Thermacare, 24h): 0800 046 1190

## Known issues
- Humidity reads low for an hour after the nozzles are descaled.
"""


def test_a_question_that_asks_what_to_mind_is_answered_by_the_warning_not_the_step() -> None:
    """"About to restart encl-gw-02, anything i should know first?": the asker knows the step; the warning about it
    answers, and the step that does it earns nothing for its command (it may come with the warning). Without the
    question for what to mind, the check answers."""
    assert asks_caution("about to restart encl-gw-02. anything i should know first")
    assert asks_caution("any gotchas before i fail over?") and not asks_caution("how do i restart the gateway?")
    document = Document("runbook:climate.md", "Enclosure climate", GATEWAY, kind="runbook")
    ranked = [(Chunk(document, "", 3, 5), 0.9), (Chunk(document, "", 6, 10), 0.85)]
    passage = text_passage("about to check the gateway encl-gw-02, any gotchas?", ranked, overlap)
    assert passage.heading == "Enclosure climate › Fixing it" and "WARNING: restarting" in passage.as_text()
    plain = text_passage("about to check the gateway encl-gw-02", ranked, overlap)
    assert plain.heading == "Enclosure climate › Quick checks"


def test_a_question_that_asks_whom_to_call_is_answered_by_the_escalation_section() -> None:
    """"Who do i get out here at 2am": the section headed as whom to call answers, read with the score of the
    document's best chunk however little its words are like the question's, and it is not run on into the next
    section for want of a command."""
    assert asks_whom_to_call("bays bone dry, who do i get out here at 2am")
    assert asks_whom_to_call("who's on call for the gateways?") and not asks_whom_to_call("who restarted it?")
    assert asks_whom_to_call("whats the pinsetter camera vendor support # ? cam is dead")  # the number to call
    assert asks_whom_to_call("need the vendor's phone number") and not asks_whom_to_call("how many support tickets?")
    document = Document("runbook:climate.md", "Enclosure climate", GATEWAY, kind="runbook")
    chunks = chunk_documents([document], 30, words)
    scores = np.asarray([0.1 if "Duty vet" in chunk.text else 0.9 - 0.01 * n for n, chunk in enumerate(chunks)],
                        np.float32)
    passage = best_passage("the gateway is dead again, who do i get out here at 2am", chunks, scores, overlap)
    assert passage.heading == "Enclosure climate › Escalation"
    assert "0800 046 1190" in passage.as_text() and "Humidity" not in passage.as_text()


DOCKS = """# dock-health

Diagnosis. Start with `dockhealth station <id>`. For the gateway, `dockhealth gw-stats --window 30m` gives loss
per cell.

- If a station is offline, power-cycle its modem: `dockhealth modem-reboot --station <id>`.
- If dock 1 is jammed, disable it: `dockhealth dock --station <id> --dock 1 --disable`.
- If dock 2 is jammed, disable it: `dockhealth dock --station <id> --dock 2 --disable`.
- If dock 3 is jammed, disable it: `dockhealth dock --station <id> --dock 3 --disable`.
- If dock 4 is jammed, disable it: `dockhealth dock --station <id> --dock 4 --disable`.
- If dock 5 is jammed, disable it: `dockhealth dock --station <id> --dock 5 --disable`.
- If dock 6 is jammed, disable it: `dockhealth dock --station <id> --dock 6 --disable`.
- If dock 7 is jammed, disable it: `dockhealth dock --station <id> --dock 7 --disable`.
- If dock 8 is jammed, disable it: `dockhealth dock --station <id> --dock 8 --disable`.
- If dock 9 is jammed, disable it: `dockhealth dock --station <id> --dock 9 --disable`.
- If dock 10 is jammed, disable it: `dockhealth dock --station <id> --dock 10 --disable`.
- If dock 11 is jammed, disable it: `dockhealth dock --station <id> --dock 11 --disable`.
- If dock 12 is jammed, disable it: `dockhealth dock --station <id> --dock 12 --disable`.
- If dock 13 is jammed, disable it: `dockhealth dock --station <id> --dock 13 --disable`.
- If dock 14 is jammed, disable it: `dockhealth dock --station <id> --dock 14 --disable`.
- If dock 15 is jammed, disable it: `dockhealth dock --station <id> --dock 15 --disable`.
- If dock 16 is jammed, disable it: `dockhealth dock --station <id> --dock 16 --disable`.
- If dock 17 is jammed, disable it: `dockhealth dock --station <id> --dock 17 --disable`.
- If dock 18 is jammed, disable it: `dockhealth dock --station <id> --dock 18 --disable`.
- If dock 19 is jammed, disable it: `dockhealth dock --station <id> --dock 19 --disable`.
- If dock 20 is jammed, disable it: `dockhealth dock --station <id> --dock 20 --disable`.
- If dock 21 is jammed, disable it: `dockhealth dock --station <id> --dock 21 --disable`.
- If dock 22 is jammed, disable it: `dockhealth dock --station <id> --dock 22 --disable`.
- If dock 23 is jammed, disable it: `dockhealth dock --station <id> --dock 23 --disable`.
- If dock 24 is jammed, disable it: `dockhealth dock --station <id> --dock 24 --disable`.

Escalation: Field Operations Engineering on-call 01632 960541.
Gateway carrier: Northwave IoT NOC, +44 20 7946 0263.
"""


def test_whom_to_call_is_read_under_its_label_in_a_runbook_without_such_a_section() -> None:
    """"Who do i ring about the station gw dropping packets": a runbook written as loose paragraphs says whom to call
    under a label ("Escalation: ..."); that paragraph answers, not the step beside it."""
    document = Document("runbook:dock-health.md", "dock-health", DOCKS, kind="runbook")
    ranked = [(Chunk(document, "", 3, 6), 0.6), (Chunk(document, "", 32, 33), 0.4)]
    passage = text_passage("packets dropping everywhere, who do i ring at this hour?", ranked, overlap)
    assert "Northwave IoT NOC" in passage.as_text() and "gw-stats" not in passage.as_text()
    plain = text_passage("packets dropping everywhere, what now at this hour?", ranked, overlap)
    assert "Northwave" not in plain.as_text()


def test_a_question_for_the_setting_to_put_it_in_asks_what_to_do() -> None:
    assert asks_what_to_do("what mode should the water controller go in?")
    assert asks_what_to_do("which setting should i use for the chiller")
    assert not asks_what_to_do("what mode is the water controller in?")


def test_a_log_line_s_context_runs_on_to_the_end_of_the_message_it_ends_in() -> None:
    """The best line's two lines either side end in an error line whose message is empty (Spring Boot's failure
    analysis): the passage runs on through the report that follows it, up to its end."""
    lines = [
        "2024-02-20T16:20:03.611+01:00  INFO 35102 --- [main] c.n.parcel.App : Starting App v2.14.4 using Java 17",
        "2024-02-20T16:20:06.738+01:00  INFO 35102 --- [main] w.s.c.ServletWebServerApplicationContext : Root ready",
        "2024-02-20T16:20:07.429+01:00 ERROR 35102 --- [main] o.s.b.d.LoggingFailureAnalysisReporter   : ",
        "",
        "APPLICATION FAILED TO START",
        "",
        "Reason: '15 seconds' is not a valid duration",
        "",
        "",
        "2024-02-20T16:23:31.259+01:00  INFO 35240 --- [main] c.n.parcel.App : Starting App v2.14.3 using Java 17",
    ]
    document = _log("\n".join(lines))
    passage = log_passage("did the 2.14.4 deploy go out?", Chunk(document, lines[0], 1, 1), overlap)
    assert "APPLICATION FAILED TO START" in passage.as_text() and "is not a valid duration" in passage.as_text()
    assert (passage.line_start, passage.line_end) == (1, 7)


def test_an_alert_named_in_the_question_is_followed_to_the_step_it_names() -> None:
    """"ApptBridgeQueueBacklog paging, ok to bounce both nodes?" reads most like the rollback (which restarts the
    service on both nodes), but the alert's own line says "Go to step 2": that step answers, as a reader would look
    there. A table row that names its step by a section's title ("| `FleetBufferLow` | ... | Step 1 |" and "### Step
    1: not enough ready servers") is followed the same way. Without the alert's name, the rollback answers."""
    text = ("# Booking sync\n\n## Alerts\n\n"
            "- `BookingQueueBacklog`: queue depth above 500 for 10 minutes. Go to step 2.\n"
            "- `BookingWebhookDown`: no webhook calls for 15 minutes. Step 3.\n\n"
            "## Procedure\n\n1. Check the service with `bookctl health`.\n"
            "2. Backlog: when consumers is 0, restart one node at a time: `sudo systemctl restart booking`.\n"
            "3. Webhook down: test the shared secret with `bookctl webhook test`.\n\n"
            "## Rollback\n\nOk to install the last good build and bounce the service on both nodes: "
            "`sudo apt-get install booking=3.8.1`.\n")
    document = Document("runbook:booking.md", "Booking sync", text, kind="runbook")
    ranked = [(Chunk(document, "", 16, 18), 0.8), (Chunk(document, "", 3, 6), 0.75),
              (Chunk(document, "", 8, 12), 0.7)]
    question = "BookingQueueBacklog paging. ok to just bounce the service on both nodes?"
    passage = text_passage(question, ranked, overlap)
    assert passage.heading == "Booking sync › Procedure"
    assert "restart one node at a time" in passage.as_text() and "apt-get install" not in passage.as_text()
    assert text_passage("ok to just bounce the service on both nodes?", ranked, overlap).heading == \
        "Booking sync › Rollback"
    fact = text_passage("BookingQueueBacklog paging, how many messages before it fires?", ranked, overlap)
    assert fact.heading == "Booking sync › Alerts"  # a number: the alert's own line states it

    titled = ("# Fleet\n\n## Alerts\n\n| Alert | Meaning | Go to |\n|---|---|---|\n"
              "| `FleetReadyBufferLow` | fewer than 20 ready servers | Step 1 |\n"
              "| `AllocatorLatencyHigh` | allocation p99 above 500 ms | Step 2 |\n\n"
              "### Step 1: not enough ready servers\n\nRaise the buffer: `fleetctl buffer --min 40`.\n\n"
              "### Step 2: allocation slow\n\nScale the allocator: `fleetctl allocator scale 3`.\n\n"
              "## Maintenance\n\nDrain the pool when the ready servers are low on purpose: `fleetctl drain`.\n")
    fleet = Document("runbook:fleet.md", "Fleet", titled, kind="runbook")
    ranked = [(Chunk(fleet, "", 19, 21), 0.8), (Chunk(fleet, "", 3, 8), 0.7)]
    routed = text_passage("FleetReadyBufferLow firing, ready servers low, what do i do", ranked, overlap)
    assert routed.heading == "Fleet › Alerts › Step 1: not enough ready servers"


def test_a_row_that_points_elsewhere_answers_a_question_for_its_threshold_itself() -> None:
    """"WidgetQueueGrowing firing, whats the threshold?": the alert's row states it; the section it points to only
    deals with the queue."""
    text = ('# Widgets\n\n## Queue stuck\n\nDrain the queue: `widgetctl drain --all`.\n\n## Alerts\n\n'
            '| Alert | Meaning | Go to |\n|---|---|---|\n'
            '| `WidgetQueueGrowing` | more than 15 queued widgets in 1 hour | "Queue stuck" |\n')
    document = Document("runbook:widgets.md", "Widgets", text, kind="runbook")
    ranked = [(Chunk(document, "", 9, 11), 0.8), (Chunk(document, "", 3, 5), 0.7)]
    asked = text_passage("WidgetQueueGrowing firing, whats the threshold on that one?", ranked, overlap)
    assert asked.heading == "Widgets › Alerts" and "more than 15" in asked.as_text()
    followed = text_passage("WidgetQueueGrowing firing, what do i do?", ranked, overlap)
    assert followed.heading == "Widgets › Queue stuck"


def test_a_step_that_names_a_step_of_its_own_list_stays_in_it() -> None:
    """"4. Only one view behind: add `--views user_activity_1h` to the command in step 3": step 3 of the same list,
    not the third item of another section's list."""
    text = ("# Feature store\n\n## Old feature values\n\n1. Look at the freshness panel.\n"
            "2. Look at the DAG in Airflow.\n3. Materialize by hand: `feast materialize-incremental now`.\n"
            "4. Only one view behind: add `--views user_activity_1h` to the command in step 3.\n\n"
            "## Server slow\n\n1. Redis first: `redis-cli --latency`.\n2. Split huge batches.\n"
            "3. More feature server pods: `kubectl scale deploy/feature-server --replicas=16`.\n")
    document = Document("runbook:fs.md", "Feature store", text, kind="runbook")
    ranked = [(Chunk(document, "", 3, 8), 0.8), (Chunk(document, "", 10, 14), 0.6)]
    passage = text_passage("user_activity_1h values null, other views fine. how do i refresh just that one by hand",
                           ranked, overlap)
    assert passage.heading == "Feature store › Old feature values" and "--views user_activity_1h" in passage.as_text()


def jaccard(question: str, texts: Sequence[str]) -> np.ndarray:
    """A scorer that reads as MiniLM does in one way: a long text that holds the question's words among many others
    reads less like it (the share of both's words that they have in common)."""
    wanted = set(re.findall(r"[a-z0-9]+", question.lower()))
    found = [set(re.findall(r"[a-z0-9]+", t.lower())) for t in texts]
    return np.asarray([len(wanted & f) / max(1, len(wanted | f)) for f in found], np.float32)


def test_a_table_row_reads_as_its_symptom() -> None:
    """A symptom table reads, whole, like many questions at once; its row whose first cell is the symptom asked
    about answers it (the table is the passage), not a FAQ entry that shares a word or two."""
    text = ("# Route dispatch\n\n## Symptom table\n\n| Symptom | Check | Fix |\n|---|---|---|\n"
            "| Driver tablet still has last storm route | `rc status --truck 412` shows an old `route_version` "
            "against dispatch | `rc push --truck 412 --route P1-07` |\n"
            "| Route push fails with `RouteCasterPushFailed` | truck out of coverage or tablet asleep | retry after "
            "5 min, the driver can pull with Sync route |\n"
            "| Spreading more or less than set | calibration or ground speed sensor | `slctl calib --truck 412` |\n"
            "| Truck assigned two routes | a reassignment half applied | `rc reassign --from 412 --to 418` again |\n\n"
            "## FAQ\n\nQ: A truck broke down, how do I move its route to another driver?\n"
            "A: `rc reassign --from 412 --to 418`; the driver must accept on the tablet.\n")
    document = Document("runbook:dispatch.md", "Route dispatch", text, kind="runbook")
    ranked = [(Chunk(document, "", 3, 12), 0.8), (Chunk(document, "", 14, 17), 0.8)]
    passage = text_passage("driver in 412 says his tablet still has last storm route, how do i fix", ranked, jaccard)
    assert passage.heading == "Route dispatch › Symptom table"
    assert "rc push --truck 412" in passage.as_text()


def test_a_repeated_incident_the_question_names_by_its_own_words_is_not_sent_back_to_the_first() -> None:
    """"someone pasted 'Handler timeout' from the apiserver": the incident found holds those words, and the first
    time its headline was logged (an auth error, hours before) does not: the answer is the one found."""
    auth = 'E1119 0{h}:27:53.255428       1 authentication.go:73] "Unable to authenticate the request"'
    quiet = 'I1119 0{h}:{m}:11.000000       1 httplog.go:132] "HTTP" verb="GET" URI="/metrics"'
    lines = [auth.format(h=1)] + [quiet.format(h=1, m=30 + n) for n in range(15)]
    lines += [auth.format(h=2), "E1119 02:27:54.563043       1 writers.go:122] apiserver was unable to write a JSON "
              "response: http: Handler timeout"]
    document = _log("\n".join(lines) + "\n")
    chunk = Chunk(document, lines[17], 18, 18)
    named = log_passage("someone pasted 'Handler timeout' from the apiserver, what was going on?", chunk, overlap)
    assert (named.line_start, named.line_end) == (17, 18)
    assert log_passage("why were requests failing?", chunk, overlap).line_start == 1  # its first occurrence


def test_an_incident_line_that_says_the_trouble_ended_answers_whether_it_recovered() -> None:
    """FortiGate logs leaving its memory conserve mode as critical: "did it recover? when?" is answered with that
    line and the lines around it, not with the incident's first lines."""
    line = '<{p}>date=2024-09-17 time=03:{m:02d}:25 devname="FGT-HQ-01" level="{level}" logdesc="{said}" msg="{said}"'
    lines = [line.format(p=186, m=32, level="critical", said="Kernel enters memory conserve mode")]
    lines += [line.format(p=188, m=33 + n, level="warning", said="Session dropped: system in conserve mode")
              for n in range(10)]
    lines += [line.format(p=186, m=46, level="critical", said="Kernel leaves memory conserve mode"),
              line.format(p=189, m=47, level="notice", said="Performance statistics")]
    document = _log("\n".join(lines) + "\n")
    chunk = Chunk(document, lines[11], 12, 12)
    passage = log_passage("is the firewall still in that degraded state or did it recover? when?", chunk, overlap)
    assert len(passage.lines) <= 2 * LOG_CONTEXT_LINES + 1  # the dropped sessions fold into one line
    assert "Kernel leaves memory conserve mode" in passage.lines[-2]
    incident = log_passage("what went wrong?", chunk, overlap)  # the incident, from its start
    assert "Kernel enters memory conserve mode" in incident.lines[0]
    assert "Kernel leaves memory conserve mode" not in "\n".join(incident.lines[:-1])
    counted = log_passage("how many sessions were dropped?", Chunk(document, lines[5], 6, 6), overlap)
    assert counted.context == "Seen once in app.log, at 2024-09-17 03:32:25."  # the key of "time=" is not read out


def test_the_other_incidents_of_structured_lines_are_listed_by_what_they_say() -> None:
    """A firewall's key=value lines run to hundreds of characters, what happened last ("logdesc=", "msg="): each
    other incident is listed by its time and those fields, not by the first characters of its line."""
    padding = " ".join(f'field{n}="value{n}"' for n in range(30))
    line = '<{p}>date=2024-09-17 time={t} devname="FGT-HQ-01" level="{level}" {padding} logdesc="{said}"'
    quiet = [line.format(p=189, t=f"0{1 + m // 60}:{m % 60:02d}:00", level="notice", padding=padding,
                         said="Performance statistics") for m in range(0, 180, 3)]
    lines = [quiet[0], line.format(p=188, t="01:04:14", level="warning", padding=padding,
                                   said="Link Monitor changed state from alive to die"),
             *quiet[1:40], line.format(p=186, t="03:00:20", level="critical", padding=padding,
                                       said="Kernel enters memory conserve mode"), *quiet[40:]]
    document = _log("\n".join(lines) + "\n")
    chunks = [Chunk(document, text, n, n) for n, text in enumerate(lines, 1)]
    question = "anything bad in here?"
    passage = best_passage(question, chunks, incident_scores(question, chunks), overlap)
    listed = passage.context.split("Other incidents in app.log:\n", 1)[1]
    assert listed in ("• line 2: 2024-09-17 01:04:14 · Link Monitor changed state from alive to die",
                      "• line 42: 2024-09-17 03:00:20 · Kernel enters memory conserve mode")
