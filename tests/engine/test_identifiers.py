"""Exact identifiers (worker/engine/identifiers.py): what counts as one, how it is matched, how it scores."""

from __future__ import annotations

import time

import numpy as np
import pytest

from worker.documents.document import Chunk, Document
from worker.engine.identifiers import (
    FIELD_WEIGHTS,
    IdentifierFields,
    chunk_fields,
    command_names,
    identifier_scores,
    question_identifiers,
    spelled,
)


def test_identifiers_are_names_not_plain_words() -> None:
    found = question_identifiers(
        "KubeletDown fired and payments-api logs PoolTimeoutError, ingress gives 502s on pg-main-rw; "
        "errno ENOSPC in `disk full` and sqlalchemy.exc.TimeoutError, why is the service slow?")
    assert found == [" disk full ", " kubelet down ", " payments api ", " pool timeout error ", " 502 ",
                     " pg main rw ", " enospc ", " sqlalchemy exc timeout error "]
    assert question_identifiers("why is the primary database slow after the deploy?") == []
    assert question_identifiers("is it OK to restart it? e.g. at 3 am") == []  # short capitals, e.g., numbers
    # an estimate is a count, not a code ("~300 models" is not the runbook's "300 s"); the 502s still are
    assert question_identifiers("~300 models waiting, 400ish failures, about 200 rows, 1200+ jobs") == []
    assert question_identifiers("like 502s since 10, then ERR 1062") == [" 502 ", " 1062 "]
    # one of a row of units, a capital and a digit; not a short word with a digit ("2x", "v2", "5m")
    assert question_identifiers("R3 skipped its wash, is berth B2 free?") == [" r3 ", " b2 "]
    assert question_identifiers("charged 2x since v2 went out 5m ago") == []


def test_a_percentage_is_an_identifier_that_meets_the_runbook_stating_the_threshold() -> None:
    assert question_identifiers("Filesystem has less than 5% space left, only value% available") == [" 5 percent "]
    assert question_identifiers("p99 above 99.5 %") == [" 99 5 percent ", " p99 ", " 99 5 "]
    # a percentage someone estimates is what they saw, not a threshold a runbook states
    assert question_identifiers("we're ~5% over the export limit, failure rate ~2.6%, at like 9% now") == []
    candidates = [_fields("almost-out", text="It fires at a `warning` level when 5% of space remains."),
                  _fields("filling-up", text="It fires when the file system will be full in 5 hours."),
                  _fields("other", text="nothing")]
    scores = identifier_scores("Filesystem has less than 5% space left.", candidates)
    assert scores[0] > 0 and scores[1] == scores[2] == 0  # "5 hours" is not "5%"


def test_spelled_matching_ignores_case_and_separators_but_keeps_word_boundaries() -> None:
    assert " payments api " in spelled("# Payments API latency")
    assert " kubelet down " in spelled("alerts/KubeletDown.md")
    assert " pool timeout error " in spelled("raise PoolTimeoutError(...)")
    assert " api " not in spelled("a rapid rollout")
    assert " payments api " not in spelled("payments-apiserver")


def _fields(document: str, names: str = "", headings: str = "", text: str = "", log: bool = False
            ) -> IdentifierFields:
    return IdentifierFields(document, spelled(names), spelled(headings), spelled(text), log=log)


def test_title_beats_headings_beats_text_beats_elsewhere_in_the_document() -> None:
    candidates = [
        _fields("a", names="KubeletDown"),
        _fields("b", headings="KubeletDown"),
        _fields("c", text="when KubeletDown fires"),
        _fields("c", text="unrelated part of the same document"),
        _fields("d", text="nothing"),
    ]
    scores = identifier_scores("KubeletDown is firing", candidates)
    assert scores[0] > scores[1] > scores[2] >= scores[3] > scores[4] == 0
    # within the one document that holds it, the chunk whose text names it comes first
    alone = identifier_scores("KubeletDown is firing", candidates[2:])
    assert alone[0] > alone[1] > alone[2] == 0


def test_an_identifier_several_documents_hold_does_not_pick_their_chunks() -> None:
    """Both runbooks of a pair name gw-sub-a and WTG-14: the setpoint runbook's chunk that names them gets no
    more of their weight than the poller's rule that does not, so the words decide which runbook answers."""
    candidates = [_fields("setpoint", text="Write timeouts on gw-sub-a; probe WTG-14"),
                  _fields("setpoint", text="restart"),
                  _fields("poller", text="Do NOT raise max_inflight_per_gateway"),
                  _fields("poller", text="reads from gw-sub-a and WTG-14"),
                  _fields("other", text="nothing")]
    scores = identifier_scores("modbus timeouts on gw-sub-a, wtg-14 grey", candidates)
    assert scores[0] == scores[1] == scores[2] == scores[3] > scores[4] == 0


def test_an_identifier_every_document_carries_tells_nothing() -> None:
    candidates = [_fields(name, text="payments-api " + extra) for name, extra in (("a", "E1234"), ("b", ""))]
    scores = identifier_scores("payments-api fails with E1234", candidates)
    assert scores[0] > 0 and scores[1] == 0  # payments-api is everywhere: only E1234 counts
    assert identifier_scores("nothing to see", candidates).tolist() == [0.0, 0.0]


def test_chunk_fields_read_title_file_name_and_section_headings() -> None:
    document = Document("runbook:alerts/KubeletDown.md", "Kubelet is down", kind="runbook",
                        link="alerts/KubeletDown.md",
                        text="# Kubelet is down\n\n## PLEG not healthy\nrestart the kubelet\n")
    fields = chunk_fields(Chunk(document, "restart the kubelet", 4, 4))
    assert " kubelet down " in fields.names and " pleg " in fields.headings
    assert fields.text == " restart the kubelet "


def test_a_question_pasting_a_whole_log_is_scored_quickly() -> None:
    question = " ".join(f"Error{i}: host-{i} failed at 10.0.{i % 250}.1" for i in range(20_000))
    candidates = [_fields(str(i), text=f"host-{i} E{i}") for i in range(500)]
    started = time.perf_counter()
    scores = identifier_scores(question, candidates)
    assert time.perf_counter() - started < 2.0
    assert np.all((scores >= 0) & (scores <= 1))


IRRIGATION = """# Irrigation controller

## Checks
1. On `gh-irr-01`:
   ```bash
   irrigctl pumps
   sudo systemctl status irrigd
   ```
2. If `irrigctl pumps` shows P1 `TRIPPED`, call the pump contractor. Do not restart anything.
"""
ACCESS = """# Enclosure access

## Response

### Interlock breach (P1)
1. Phone the duty phone. Then restart the door controller with `accessctl restart --door BC-A2`.
"""


def test_a_plain_word_a_runbook_uses_only_as_a_command_is_an_identifier() -> None:
    """"irrigctl says P1 tripped": the irrigation runbook writes irrigctl only in code, so it names that runbook's
    tool; "restart" and "status" are words both runbooks use in their sentences or not at all, and neither YAML's keys
    nor a line of output in a code block, nor a name in backticks, is a command."""
    assert command_names(IRRIGATION) == {"irrigctl"}  # "restart" is said in a sentence; `gh-irr-01` is a name
    assert command_names(ACCESS) == frozenset()  # written once: not yet the runbook's tool
    assert command_names("```\nkind: Pod\nmetadata: x\ninstance 10.0.0.1 up\n```\nsee `instance`") == frozenset()
    irrigation = Document("runbook:irrigation.md", "Irrigation controller", IRRIGATION, kind="runbook")
    access = Document("runbook:access.md", "Enclosure access", ACCESS, kind="runbook")
    chunks = [Chunk(irrigation, IRRIGATION.split("\n\n", 1)[1], 3, 9),
              Chunk(access, ACCESS.split("## Response")[1], 4, 7)]
    fields = [chunk_fields(chunk) for chunk in chunks]
    question = "bays bone dry, irrigctl says P1 tripped. who do i get out here"
    assert question_identifiers(question) == [" p1 "]
    scores = identifier_scores(question, fields)
    assert scores[0] > scores[1]  # P1 is the access runbook's heading, but irrigctl is the irrigation runbook's tool
    # without the tool's name only P1 is left, which both runbooks carry: it says nothing
    assert identifier_scores("bays bone dry, the pumps say P1 tripped", fields).tolist() == [0.0, 0.0]


def test_an_alert_named_after_its_runbook_and_a_section_matches_that_section_s_heading() -> None:
    """``AccessInterlockBreach`` of the runbook "Enclosure access": its section "Interlock breach (P1)" weighs as a
    heading that names it; a heading with only the last word ("Breach") does not."""
    question = "AccessInterlockBreach fired, what do i do first"
    section = _fields("access", names="Enclosure access", headings="Response › Interlock breach (P1)", text="Phone.")
    other = _fields("access", names="Enclosure access", headings="Alerts", text="AccessInterlockBreach: both doors")
    scores = identifier_scores(question, [section, other])
    assert scores[0] > scores[1] > 0
    short = _fields("access", names="Enclosure access", headings="Breach", text="Phone.")
    assert identifier_scores(question, [short, other])[0] < identifier_scores(question, [short, other])[1]


def test_quoted_words_are_identifiers_that_count_in_a_chunk_as_in_a_heading() -> None:
    """"someone pasted 'Handler timeout' from the apiserver": quoted words were copied from a line; the chunk that
    holds them is where they come from, not the chunks that share the log's other words."""
    assert question_identifiers("whats the mnesia 'inconsistent database' line about") == [" inconsistent database "]
    assert question_identifiers('he said "disk full" and \u201cno route\u201d') == [" disk full ", " no route "]
    assert question_identifiers("don't know, the users' files aren't there") == []  # apostrophes, no quotes
    candidates = [_fields("log", text="apiserver was unable to write a JSON response: http: Handler timeout", log=True),
                  _fields("log", text="Timeout or abort while handling", log=True),
                  _fields("runbook", text="nothing")]
    quoted = identifier_scores("someone pasted 'Handler timeout' from the apiserver", candidates)
    code = identifier_scores("someone pasted `Handler timeout` from the apiserver", candidates)
    assert quoted.tolist() == pytest.approx([FIELD_WEIGHTS["headings"], FIELD_WEIGHTS["document"], 0.0])
    assert code.tolist() == pytest.approx([FIELD_WEIGHTS["text"], FIELD_WEIGHTS["document"], 0.0])
    # a runbook quotes the message a user saw where it describes the symptom, not where it says what to do
    runbook = [_fields("kyc", headings="Vendor errors", text='the seller sees "we are still checking"'),
               _fields("kyc", headings="Results not arriving", text="signature mismatch for every webhook")]
    assert identifier_scores("sellers stuck on 'we are still checking' for hours", runbook).tolist() == [0.0, 0.0]
