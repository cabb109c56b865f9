"""The Slack side on its own: settings, no model imports, the file shortcut, oversized questions."""

from __future__ import annotations

import json
import subprocess
import sys
from urllib.parse import urlencode

import pytest
from redis import Redis
from rq.job import Job

from bot.settings import BotSettings
from jobs.enqueue import question_queue
from jobs.payload import job_id_for
from tests.fake_slack import BOT_USER_ID, FakeSlack
from tests.helpers import QUEUE, dispatch, drain_listeners, make_bot, queued, wait_for
from tests.slack_requests import command_body, event_body


def test_bot_process_never_imports_torch() -> None:
    code = ("import sys, bot.app, bot.listeners, bot.__main__, jobs.enqueue;"
            "bad = [m for m in ('torch', 'transformers', 'sentence_transformers', 'worker') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_settings_come_from_standard_env_names_and_explicit_arguments_win() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "REDIS_URL": "redis://r:6379/3"}
    settings = BotSettings.from_env(env, queue_name="other")
    assert settings.socket_mode and settings.redis_url == "redis://r:6379/3" and settings.queue_name == "other"
    assert "xoxb-1" not in repr(settings) and "xapp-1" not in repr(settings)
    assert (settings.metrics_port, settings.handoff_cooldown_s, settings.channel_config_path) == (9101, 1800, None)
    hand_off = BotSettings.from_env({**env, "CHATOPS_HANDOFF_PER_HOUR": "2", "CHATOPS_METRICS_PORT": "0",
                                     "CHATOPS_CHANNEL_CONFIG": "/etc/chatops/channels.yml"})
    assert (hand_off.handoff_per_hour, hand_off.metrics_port) == (2, 0)
    assert str(hand_off.channel_config_path) == "/etc/chatops/channels.yml"
    with pytest.raises(ValueError, match="CHATOPS_HANDOFF_PER_HOUR='0' must be at least 1"):
        BotSettings.from_env({**env, "CHATOPS_HANDOFF_PER_HOUR": "0"})
    with pytest.raises(ValueError, match="SLACK_BOT_TOKEN"):
        BotSettings.from_env({})
    with pytest.raises(ValueError, match=r"SLACK_APP_TOKEN .* or SLACK_SIGNING_SECRET"):
        BotSettings.from_env({"SLACK_BOT_TOKEN": "xoxb-1"})


def test_file_shortcut_queues_a_logs_question_in_the_file_thread(slack: FakeSlack, redis: Redis) -> None:
    slack.add_channel("C1", "ops")
    file_obj = slack.add_file("F1", "app.log", b"ERROR boom\n", channel="C1")
    message = slack.add_message("C1", "here is the log", files=[file_obj])
    payload = {"type": "message_action", "callback_id": "ask_about_file", "trigger_id": "111.222.abc",
               "team": {"id": "T0001"}, "user": {"id": "U1"}, "channel": {"id": "C1", "name": "ops"},
               "message": message, "response_url": slack.base_url + "/response_url/s1",
               "message_ts": message["ts"]}
    body = urlencode({"payload": json.dumps(payload)})
    assert dispatch(make_bot(slack, redis), body, "application/x-www-form-urlencoded").status == 200
    wait_for(lambda: queued(redis) == 1, what="the job")
    job = Job.fetch(job_id_for("111.222.abc"), connection=redis,
                    serializer=question_queue(redis, QUEUE).serializer)
    data = job.args[0]
    assert data["mode"] == "logs" and data["file_ids"] == ["F1"] and data["thread_ts"] == message["ts"]
    assert data["response_url"].endswith("/response_url/s1"), "the answer can arrive where the bot is no member"


def test_a_file_shared_with_a_bare_mention_asks_about_the_file(slack: FakeSlack, redis: Redis) -> None:
    slack.add_channel("C1", "ops")
    file_obj = slack.add_file("F1", "app.log", b"ERROR boom\n", channel="C1")
    message = slack.add_message("C1", f"<@{BOT_USER_ID}>", files=[file_obj])
    event = {"type": "app_mention", "channel": "C1", "user": "U1", "text": message["text"], "ts": message["ts"],
             "files": [file_obj]}
    dispatch(make_bot(slack, redis), event_body(event))
    wait_for(lambda: queued(redis) == 1, what="the job")
    job = Job.fetch(job_id_for("C1", message["ts"]), connection=redis,
                    serializer=question_queue(redis, QUEUE).serializer)
    assert job.args[0]["question"].startswith("Summarise this file") and job.args[0]["file_ids"] == ["F1"]


def test_a_slash_command_cannot_ping_the_channel_through_the_placeholder(slack: FakeSlack, redis: Redis) -> None:
    slack.add_channel("C1", "ops")
    dispatch(make_bot(slack, redis), command_body("/ask", "why <!channel> <https://evil.example|docs>?"),
             "application/x-www-form-urlencoded")
    wait_for(lambda: slack.calls_to("chat.postMessage"), what="the placeholder")
    text = slack.calls_to("chat.postMessage")[0].args["text"]
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text and "<https://evil" not in text


def test_oversized_question_is_refused_with_a_clear_message(slack: FakeSlack, redis: Redis) -> None:
    slack.add_channel("C1", "ops")
    response_url = slack.base_url + "/response_url/x"
    dispatch(make_bot(slack, redis), command_body("/ask", "why " * 3000, response_url=response_url),
             "application/x-www-form-urlencoded")
    wait_for(lambda: slack.calls_to("response_url"), what="the refusal")
    assert "characters long" in slack.calls_to("response_url")[0].args["text"]
    assert queued(redis) == 0


def test_bot_messages_and_edits_are_not_questions(slack: FakeSlack, redis: Redis) -> None:
    slack.add_channel("D1", "dm", is_im=True)
    app = make_bot(slack, redis)
    base = {"type": "message", "channel_type": "im", "channel": "D1", "text": "hello", "user": "U1"}
    dispatch(app, event_body({**base, "ts": "1.1", "bot_id": "B2"}, "Ev1"))
    dispatch(app, event_body({**base, "ts": "1.2", "subtype": "message_changed"}, "Ev2"))
    dispatch(app, event_body({**base, "ts": "1.3", "user": BOT_USER_ID}, "Ev3"))
    dispatch(app, event_body({**base, "ts": "1.4"}, "Ev4"))
    drain_listeners(app)
    assert queued(redis) == 1, "the one real question"
