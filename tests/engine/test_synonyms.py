"""On-call synonyms (worker/engine/synonyms.py): "revert" finds "roll back", as extra lexical terms."""

from __future__ import annotations

import numpy as np

from worker.documents.document import Chunk, Document
from worker.engine.default import ExtractiveEngine, MiniLMRetriever
from worker.engine.synonyms import expansion, resource_mismatch


def test_a_question_word_brings_the_other_words_of_its_group() -> None:
    assert set(expansion("how do I revert the release?").split()) == {
        "rollback", "roll", "undo", "downgrade", "yank", "deploy", "deployment", "rollout"}
    assert "rollback" in expansion("shipped v8 to 10% and it throws 5xx, how do i yank it").split()
    assert set(expansion("is the node running out of disks?").split()) == {"storage", "filesystem", "volume"}
    assert expansion("why did checkout fail?") == ""
    assert set(expansion("what's the address of the primary this replica pulls from?").split()) == {
        "master", "leader", "slave", "secondary", "standby", "follower"}
    assert set(expansion("who was spamming the signup endpoint this morning?").split()) == {
        "register", "registration", "enroll"}  # the log's POST /_matrix/client/v3/register
    assert "getaddrinfo" in expansion("how many runs failed during the dns thing?").split()  # "name resolution"


def test_a_name_for_an_http_status_brings_its_code() -> None:
    assert expansion("a partner says we started rate limiting them around 3pm") == "429"
    assert expansion("people were getting gateway timeouts from the api") == "504"
    assert expansion("why the 504s? gateway timeout everywhere") == ""  # the code is asked already


def test_asking_whom_to_call_brings_the_escalation_section_s_word() -> None:
    assert expansion("bays bone dry, who do i get out here at 2am") == "escalation"
    assert expansion("who's on call for the pumps?") == "escalation"
    assert expansion("who fixed the pumps?") == ""


def test_synonyms_count_in_bm25(engine: ExtractiveEngine) -> None:
    texts = ["Roll back first: kubectl rollout undo deploy/api", "Switch the processor flag: flagctl set x",
             "Scale out: kubectl scale deploy/api --replicas=10", "Page the secondary on call"]
    lexical_only = MiniLMRetriever(engine.retriever.cache, bm25_weight=1.0, boost=None)
    scores = lexical_only.scores("how do I revert?", texts)
    assert scores[0] > 0 and np.all(scores[1:] == 0)
    assert np.all(lexical_only.scores("why did it fail?", texts) == 0)


def test_text_about_another_resource_is_marked_for_a_question_about_one() -> None:
    log = Document("file:node.log", "node.log", "", kind="log")
    chunks = [Chunk(log, "kernel: Memory cgroup out of memory: Killed process 23114 (java)", 42, 42),
              Chunk(log, 'kubelet: "Eviction manager: must evict pod(s)" resourceName="ephemeral-storage"', 121, 121),
              Chunk(log, "kubelet: low on disk and on memory: evicting", 130, 130),
              Chunk(log, "systemd: Started Session 208 of user core.", 150, 150)]
    assert resource_mismatch("is the node running out of disk?", chunks).tolist() == [1.0, 0.0, 0.0, 0.0]
    assert resource_mismatch("why was the pod OOM killed?", chunks).tolist() == [0.0, 1.0, 0.0, 0.0]
    assert resource_mismatch("why did the pod restart?", chunks).tolist() == [0.0, 0.0, 0.0, 0.0]


def test_a_disk_question_is_not_answered_with_the_memory_kill(engine: ExtractiveEngine) -> None:
    log = Document("file:node.log", "node.log", "", kind="log")
    chunks = [Chunk(log, "May 14 03:17:25 kernel: Memory cgroup out of memory: Killed process 23114 (java)", 42, 42),
              Chunk(log, 'May 14 03:30:24 kubelet: W0514 eviction_manager.go:377] "Eviction manager: must evict '
                         'pod(s) to reclaim" resourceName="ephemeral-storage"', 121, 121)]
    answer = engine.answer("is the node running out of disk?", chunks)
    assert answer.citations[0].chunk.line_start == 121


def test_making_it_faster_or_bigger_asks_for_scaling() -> None:
    assert "scale" in expansion("debezium can't keep up, how do i make it go faster?").split()
    assert "scale" in expansion("how do i make the warehouse bigger?").split()


def test_a_deferral_and_a_retraction_in_people_s_words() -> None:
    """Mail that got "try later" was "temporarily rejected" or deferred; "kill" a published event is to delete or
    retract it."""
    assert {"temporarily", "defer", "deferred"} <= set(expansion("customers say their mails got 'try later'").split())
    assert {"delete", "retract"} <= set(expansion("auto event got posted 45 min ago, how do i kill it").split())
