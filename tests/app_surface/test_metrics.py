"""Prometheus metrics of the bot and the worker, scraped over HTTP as Prometheus does, before and after
questions are answered (and one fails)."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jobs.metrics import MetricsServer, serve_metrics
from tests.app_surface.conftest import CHANNEL, Workspace
from tests.fake_slack import BOT_USER_ID
from tests.helpers import dispatch, queued, run_worker_burst, wait_for
from tests.slack_requests import event_body


def scrape(server: MetricsServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``/metrics`` over HTTP, parsed: (sample name, sorted labels) -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as response:
        assert response.status == 200
        text = response.read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


@pytest.fixture
def servers(workspace: Workspace) -> Iterator[tuple[MetricsServer, MetricsServer]]:
    bot = serve_metrics(workspace.bot_metrics.registry, 0, addr="127.0.0.1")
    worker = serve_metrics(workspace.worker.metrics.registry, 0, addr="127.0.0.1")
    yield bot, worker
    bot.stop()
    worker.stop()


def test_metrics_are_scraped_over_http_and_change_after_an_answer(workspace: Workspace, runbooks: Path,
                                                                  servers: tuple[MetricsServer, MetricsServer]) -> None:
    bot, worker = servers
    mention = {"mode": "ask", "source": "mention"}
    received = ("chatops_questions_received_total", tuple(sorted(mention.items())))
    answered = ("chatops_questions_answered_total", tuple(sorted(mention.items())))
    depth = ("chatops_queue_depth", (("queue", "chatops-test"),))
    latency_count = ("chatops_answer_latency_seconds_count", (("mode", "ask"),))
    engine_count = ("chatops_engine_seconds_count", ())
    before_bot, before_worker = scrape(bot), scrape(worker)
    assert received not in before_bot and answered not in before_worker  # labelled series start at the first
    assert before_bot[depth] == 0 and before_worker[depth] == 0 and before_worker[engine_count] == 0
    assert before_worker[("chatops_engine_info", (("checkpoint", ""), ("engine", workspace.engine.name)))] == 1

    message = workspace.slack.add_message(CHANNEL, "how do I renew the TLS certificate?")
    dispatch(workspace.app, event_body({"type": "app_mention", "user": "U1", "ts": message["ts"], "channel": CHANNEL,
                                        "text": f"<@{BOT_USER_ID}> how do I renew the TLS certificate?"}))
    wait_for(lambda: queued(workspace.redis) == 1, what="the job")
    waiting_bot, waiting_worker = scrape(bot), scrape(worker)
    assert waiting_bot[received] == 1 and waiting_bot[depth] == 1 and waiting_worker[depth] == 1

    run_worker_burst(workspace.redis)
    after = scrape(worker)
    assert after[answered] == 1 and after[depth] == 0
    assert after[latency_count] == 1 and after[("chatops_answer_latency_seconds_sum", (("mode", "ask"),))] > 0
    assert after[engine_count] == 1
    assert after[("chatops_store_size", (("store", "chunked_documents"),))] == 3  # the three runbooks
    assert ("chatops_store_size", (("store", "compressed_documents"),)) not in after  # no CLaRa store here

    for path in runbooks.iterdir():  # nothing left to read: the next question fails, with its reason
        path.unlink()
    message = workspace.slack.add_message(CHANNEL, "how do I renew the TLS certificate?")
    dispatch(workspace.app, event_body({"type": "app_mention", "user": "U1", "ts": message["ts"], "channel": CHANNEL,
                                        "text": f"<@{BOT_USER_ID}> how do I renew the TLS certificate?"}, "Ev2"))
    wait_for(lambda: queued(workspace.redis) == 1, what="the second job")
    run_worker_burst(workspace.redis)
    failed = scrape(worker)
    assert failed[("chatops_question_failures_total", (("reason", "NoDocumentsError"),))] == 1
    assert failed[answered] == 1 and scrape(bot)[received] == 2
