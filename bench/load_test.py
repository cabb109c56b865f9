#!/usr/bin/env python
"""Load test on loopback: questions across channels through the Bolt app, a real Redis, and worker
processes with the default engine; checks every question is answered exactly once.

    python bench/load_test.py                                  # 500 questions, 20 channels, 2 workers
    python bench/load_test.py --questions 40 --channels 4 --rate 0 --timeout 120
    REDIS_URL=redis://127.0.0.1:6379/12 python bench/load_test.py

What runs: a fake Slack Web API on 127.0.0.1 (``tests/fake_slack.py``), the real Bolt app of
``bot.app.build_app`` in this process (signed Events API requests through ``App.dispatch``), a real
Redis (``--redis-url``), and ``--workers`` real ``python -m worker`` processes (default engine: MiniLM
retrieval, extractive), each with ``--job-threads`` RQ job threads. A fraction of the events is sent a
second time as a Slack retry (``X-Slack-Retry-Num: 1``). Nothing leaves the machine.

Bounded: ``--questions`` events, and ``--timeout`` seconds of wall clock after which the workers are
stopped and whatever is unanswered is reported (exit status 1). The run's keys are namespaced by a run
id (channel ids, queue name, worker names) and deleted from Redis at the end.

Prints: workers' start-up time, p50/p95/max time from event to answer, the queue depth over time
(queued, running, answered), and how many questions were answered exactly once.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from redis import Redis  # noqa: E402
from rq import Worker  # noqa: E402
from slack_bolt.request import BoltRequest  # noqa: E402

from bot.app import build_app  # noqa: E402
from bot.intake import WORKING  # noqa: E402
from bot.settings import BotSettings  # noqa: E402
from jobs.enqueue import question_queue  # noqa: E402
from jobs.slack_text import PROGRESS_EMOJI  # noqa: E402
from tests.fake_slack import BOT_TOKEN, BOT_USER_ID, FakeSlack  # noqa: E402
from tests.runbooks import write_runbooks  # noqa: E402
from tests.slack_requests import SIGNING_SECRET, event_body, sign  # noqa: E402

QUESTIONS = [
    "how do I fail over the primary postgres database?",
    "what do I check when payments latency is high?",
    "checkout returns 502, where do I look first?",
    "how do I renew the TLS certificate for payments?",
    "how do I promote the postgres replica?",
    "how do I roll back payments-api?",
    "what does HikariCP pool exhaustion look like?",
    "how do I check replication lag?",
    "the primary database is unreachable, what now?",
    "how do I check when the certificate expires?",
    "redis is out of memory, what should I do?",
    "how do I deploy a hotfix?",
    "who do I tell about a database failover?",
    "why is checkout slow today?",
    "how do I run patronictl switchover?",
    "which command renews the cert with cert-manager?",
    "what is the rollback command for a bad deploy?",
    "how do I see active connections in the pool?",
    "is there a runbook for redis latency?",
    "what do I do when the ingress returns 502?",
]


class TimedFakeSlack(FakeSlack):
    """The fake Slack API, also noting when each placeholder was edited and into what."""

    def __init__(self) -> None:
        super().__init__()
        self.edits: list[tuple[str, str, float, str]] = []  # (channel, ts, monotonic time, text)

    def _api(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        response = super()._api(method, args)
        if method == "chat.update" and response.get("ok"):
            self.edits.append((str(args["channel"]), str(args["ts"]), time.monotonic(), str(args.get("text", ""))))
        return response

    def answered(self) -> int:
        with self._lock:
            return len({(c, ts) for c, ts, _, text in self.edits if _is_answer(text)})


def _is_answer(edit: str) -> bool:
    """A placeholder edit that is the answer: not a failure, not a progress update ("Reading 12 documents…")."""
    return not edit.startswith((":warning:", PROGRESS_EMOJI))


@dataclass
class LoadConfig:
    questions: int = 500
    channels: int = 20
    workers: int = 2
    job_threads: int = 4
    rate: float = 25.0  # questions per second; 0: all at once
    retry_every: int = 10  # every n-th event is delivered again as a Slack retry (0: none)
    timeout_s: float = 300.0
    redis_url: str = "redis://127.0.0.1:6379/12"
    torch_threads: int = 1  # per worker process, so workers do not fight over the cores
    sample_every_s: float = 0.5


@dataclass
class LoadResult:
    config: LoadConfig
    workers_ready_s: float = 0.0
    send_s: float = 0.0
    total_s: float = 0.0
    latencies: list[float] = field(default_factory=list)  # event -> answer, seconds
    depth: list[tuple[float, int, int, int]] = field(default_factory=list)  # (t, queued, running, answered)
    exactly_once: int = 0
    unanswered: int = 0
    answered_twice: int = 0
    failures_shown: int = 0
    extra_messages: int = 0
    retries_sent: int = 0
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exactly_once == self.config.questions and not self.timed_out


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def _start_workers(config: LoadConfig, run_id: str, queue: str, api_url: str, runbooks: Path,
                   log_dir: Path) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "SLACK_BOT_TOKEN": BOT_TOKEN, "REDIS_URL": config.redis_url,
           "SLACK_API_URL": api_url, "CHATOPS_QUEUE": queue, "CHATOPS_RUNBOOK_DIR": str(runbooks),
           "CHATOPS_JOB_THREADS": str(config.job_threads), "LOG_LEVEL": "WARNING",
           "OMP_NUM_THREADS": str(config.torch_threads), "MKL_NUM_THREADS": str(config.torch_threads),
           "TOKENIZERS_PARALLELISM": "false", "CHATOPS_METRICS_PORT": "0"}
    env.pop("CLARA_CHECKPOINT", None)  # the default engine
    workers = []
    for i in range(config.workers):
        log = (log_dir / f"worker-{i}.log").open("wb")
        workers.append(subprocess.Popen([sys.executable, "-m", "worker", "--name", f"load-{run_id}-w{i}"],
                                        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT))
    return workers


def _stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)  # stop after the current jobs
    deadline = time.monotonic() + 20
    for worker in workers:
        try:
            worker.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _cleanup(redis: Redis, run_id: str) -> None:
    keys = list(redis.scan_iter(match=f"*{run_id}*", count=1000))
    for start in range(0, len(keys), 500):
        redis.delete(*keys[start:start + 500])
    for member in redis.smembers("rq:workers"):
        if run_id.encode() in member:
            redis.srem("rq:workers", member)


def run_load(config: LoadConfig, out: Any = None) -> LoadResult:
    """Run one bounded load test; ``out``: a file to print progress to (None: quiet)."""

    def say(text: str) -> None:
        if out is not None:
            print(text, file=out, flush=True)

    result = LoadResult(config)
    run_id = secrets.token_hex(3).upper()
    queue_name = f"chatops-load-{run_id}"
    channels = [f"C{run_id}{i:03d}" for i in range(config.channels)]
    redis = Redis.from_url(config.redis_url)
    redis.ping()
    tmp = Path(tempfile.mkdtemp(prefix="chatops-load-"))
    workers: list[subprocess.Popen[bytes]] = []
    try:
        runbooks = write_runbooks(tmp / "runbooks")
        shutil.copytree(REPO / "tests" / "documents" / "fixtures" / "runbooks", runbooks / "more")
        with TimedFakeSlack() as slack:
            for channel in channels:
                slack.add_channel(channel, channel.lower(), members={"U1", "U2"})
            started = time.monotonic()
            deadline = started + config.timeout_s
            workers = _start_workers(config, run_id, queue_name, slack.api_url, runbooks, tmp)
            queue = question_queue(redis, queue_name)
            expected = config.workers * max(1, config.job_threads)
            say(f"starting {config.workers} worker processes x {config.job_threads} job threads "
                f"(default engine) on queue {queue_name}...")
            while len(Worker.all(queue=queue)) < expected:
                dead = [w for w in workers if w.poll() is not None]
                if dead or time.monotonic() > deadline:
                    logs = "\n".join((tmp / f"worker-{i}.log").read_text()[-2000:] for i in range(len(workers)))
                    raise RuntimeError(f"workers did not start:\n{logs}")
                time.sleep(0.2)
            result.workers_ready_s = time.monotonic() - started

            app = build_app(BotSettings(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET,
                                        slack_api_url=slack.api_url, queue_name=queue_name), redis=redis)
            sent: dict[tuple[str, str], float] = {}
            stop_sampling = threading.Event()
            t0 = time.monotonic()

            def sample() -> None:
                result.depth.append((time.monotonic() - t0, queue.count, queue.started_job_registry.count,
                                     slack.answered()))

            def sample_until_stopped() -> None:
                while not stop_sampling.is_set():
                    sample()
                    stop_sampling.wait(config.sample_every_s)

            sampler = threading.Thread(target=sample_until_stopped, name="depth-sampler", daemon=True)
            sampler.start()
            say(f"workers ready after {result.workers_ready_s:.1f} s; sending {config.questions} questions "
                f"across {config.channels} channels" + (f" at {config.rate:g}/s" if config.rate else " at once"))

            def dispatch(body: str, headers: dict[str, str] | None = None) -> None:
                all_headers: dict[str, str | Sequence[str]] = {
                    "content-type": "application/json", **sign(body), **(headers or {})}
                response = app.dispatch(BoltRequest(body=body, headers=all_headers))
                if response.status != 200:
                    raise RuntimeError(f"the Bolt app answered {response.status}: {response.body}")

            retries: list[str] = []
            for i in range(config.questions):
                if config.rate:
                    pause = t0 + i / config.rate - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                if time.monotonic() > deadline:
                    break
                channel = channels[i % len(channels)]
                text = f"<@{BOT_USER_ID}> {QUESTIONS[i % len(QUESTIONS)]}"
                message = slack.add_message(channel, text, user="U1" if i % 2 else "U2")
                event = {"type": "app_mention", "user": message["user"], "text": text, "ts": message["ts"],
                         "channel": channel, "event_ts": message["ts"]}
                body = event_body(event, f"Ev{run_id}{i:05d}")
                sent[(channel, message["ts"])] = time.monotonic()
                dispatch(body)
                if config.retry_every and i % config.retry_every == config.retry_every - 1:
                    retries.append(body)
                if len(retries) >= 5 or i == config.questions - 1:  # Slack retries arrive a little later
                    for retry in retries:
                        dispatch(retry, {"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"})
                    result.retries_sent += len(retries)
                    retries.clear()
            result.send_s = time.monotonic() - t0

            while slack.answered() < config.questions and time.monotonic() < deadline:
                if all(w.poll() is not None for w in workers):
                    say("every worker process exited")
                    break
                time.sleep(0.1)
            result.timed_out = slack.answered() < config.questions
            result.total_s = time.monotonic() - t0
            stop_sampling.set()
            sampler.join()
            # nothing posts any more once the bot's listeners have returned and the workers have exited (a
            # warm shutdown: each finishes the job in hand): a duplicate answer would be in by now
            app.listener_runner.listener_executor.shutdown(wait=True)
            _stop_workers(workers)
            sample()

            with slack._lock:
                edits = list(slack.edits)
                messages = {c: list(slack.state.messages.get(c, [])) for c in channels}
            for (channel, ts), at in sent.items():
                bot = [m for m in messages[channel] if m.get("user") == BOT_USER_ID and m.get("thread_ts") == ts]
                placeholder = bot[0]["ts"] if bot else None
                answers = [e for e in edits if e[0] == channel and e[1] == placeholder and _is_answer(e[3])]
                failures = [e for e in edits if e[0] == channel and e[1] == placeholder
                            and e[3].startswith(":warning:")]
                result.extra_messages += max(0, len(bot) - 1)
                result.failures_shown += bool(failures)
                if not answers:
                    result.unanswered += 1
                elif len(answers) > 1:
                    result.answered_twice += 1
                elif len(bot) == 1 and bot[0]["text"] not in (WORKING, "") and not failures:
                    result.exactly_once += 1
                    result.latencies.append(answers[0][2] - at)
            result.unanswered += config.questions - len(sent)
    finally:
        _stop_workers(workers)
        _cleanup(redis, run_id)
        redis.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def format_report(result: LoadResult, rows: int = 30) -> str:
    c = result.config
    lat = result.latencies
    lines = [
        f"load test: {c.questions} questions, {c.channels} channels, {c.workers} worker processes x "
        f"{c.job_threads} job threads, default engine, "
        + (f"sent at {c.rate:g}/s" if c.rate else "sent all at once")
        + f", every {c.retry_every}th event re-sent as a Slack retry" * bool(c.retry_every),
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| workers ready (engine loaded) | {result.workers_ready_s:.1f} s |",
        f"| events sent in | {result.send_s:.1f} s |",
        f"| all answered after | {result.total_s:.1f} s{' (TIMED OUT)' if result.timed_out else ''} |",
        f"| throughput | {len(lat) / result.total_s if result.total_s else 0:.1f} answers/s |",
        f"| event -> answer p50 | {percentile(lat, 50):.2f} s |",
        f"| event -> answer p95 | {percentile(lat, 95):.2f} s |",
        f"| event -> answer max | {max(lat) if lat else float('nan'):.2f} s |",
        f"| answered exactly once | {result.exactly_once} / {c.questions} |",
        f"| Slack retries re-sent (ignored) | {result.retries_sent} |",
        f"| unanswered | {result.unanswered} |",
        f"| answered twice | {result.answered_twice} |",
        f"| extra bot messages | {result.extra_messages} |",
        f"| failure messages shown | {result.failures_shown} |",
        "",
        "queue depth over time (t from the first event):",
        "",
        "| t (s) | queued | running | answered |",
        "| ---: | ---: | ---: | ---: |",
    ]
    step = max(1, len(result.depth) // rows)
    shown = result.depth[::step]
    if result.depth and shown[-1] is not result.depth[-1]:
        shown.append(result.depth[-1])
    lines += [f"| {t:.1f} | {queued} | {running} | {answered} |" for t, queued, running, answered in shown]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    d = LoadConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--questions", type=int, default=d.questions)
    parser.add_argument("--channels", type=int, default=d.channels)
    parser.add_argument("--workers", type=int, default=d.workers, help="worker processes")
    parser.add_argument("--job-threads", type=int, default=d.job_threads, help="RQ job threads per worker")
    parser.add_argument("--rate", type=float, default=d.rate, help="questions per second (0: all at once)")
    parser.add_argument("--retry-every", type=int, default=d.retry_every,
                        help="re-send every n-th event as a Slack retry (0: never)")
    parser.add_argument("--timeout", type=float, default=d.timeout_s, help="wall-clock limit, seconds")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", d.redis_url))
    parser.add_argument("--torch-threads", type=int, default=d.torch_threads, help="per worker process")
    args = parser.parse_args(argv)
    if not 0 < args.questions <= 100_000 or not 0 < args.timeout <= 3600:
        parser.error("--questions must be in 1..100000 and --timeout in (0, 3600]")
    config = LoadConfig(questions=args.questions, channels=args.channels, workers=args.workers,
                        job_threads=args.job_threads, rate=args.rate, retry_every=args.retry_every,
                        timeout_s=args.timeout, redis_url=args.redis_url, torch_threads=args.torch_threads)
    result = run_load(config, out=sys.stdout)
    print()
    print(format_report(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
