"""The "Ask a human" button: the channel's on-call group is mentioned in the thread with the question and the
sources, once per thread; refused, with the reason, where nobody is configured, in a DM and past the limits."""

from __future__ import annotations

from pathlib import Path

from bot.handoff import IN_A_DM
from jobs.answer_actions import ASK_HUMAN
from tests.app_surface.conftest import ALICE, BOB, CHANNEL, DM, Workspace
from tests.fake_slack import BOT_USER_ID
from tests.helpers import dispatch, queued, run_worker_burst, wait_for
from tests.slack_requests import event_body


def channels_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "channels.yml"
    path.write_text(text)
    return path


def pings(workspace: Workspace, thread_ts: str) -> list[str]:
    return [m["text"] for m in workspace.slack.thread_messages(CHANNEL, thread_ts)
            if m.get("user") == BOT_USER_ID and "<!subteam^" in m["text"]]


def test_ask_a_human_mentions_the_channels_on_call_group_once_with_the_question_and_sources(
        workspace: Workspace, tmp_path: Path) -> None:
    workspace.slack.add_usergroup("S0PAYMENTS", "payments-oncall")
    workspace.slack.add_usergroup("S0OTHERS0", "db-oncall")
    workspace.restart_bot(channel_config_path=channels_file(
        tmp_path, 'default: [runbooks]\n"#ops":\n  oncall: "@payments-oncall"\n'))
    answer = workspace.ask("how do I fail over the primary postgres database? <!channel>")
    thread = answer["thread_ts"]

    workspace.click(answer, ASK_HUMAN, BOB)
    wait_for(lambda: workspace.ephemeral_replies(BOB), what="the confirmation")
    assert workspace.ephemeral_replies(BOB) == ["I asked @payments-oncall to join this thread."]
    [ping] = pings(workspace, thread)
    assert ping.startswith(f"<!subteam^S0PAYMENTS> <@{BOB}> is asking for a human")
    assert "> how do I fail over the primary postgres database? &lt;!channel&gt;" in ping, \
        "the question is quoted, and cannot ping anyone else"
    assert "*What I found:*\n1. " in ping and "Database failover" in ping and "db-failover.md" in ping

    workspace.click(answer, ASK_HUMAN, ALICE)  # a second click, by anyone, pings nobody
    wait_for(lambda: workspace.ephemeral_replies(ALICE), what="the refusal")
    assert workspace.ephemeral_replies(ALICE)[0].startswith("@payments-oncall was already asked to join this thread")
    assert len(pings(workspace, thread)) == 1
    assert len(workspace.slack.calls_to("usergroups.list")) == 1, "the group id is looked up once"
    assert workspace.bot_metrics.handoffs.labels("posted")._value.get() == 1
    assert workspace.bot_metrics.handoffs.labels("rate_limited")._value.get() == 1


def test_a_hand_off_without_a_configured_group_explains_itself(workspace: Workspace, tmp_path: Path) -> None:
    workspace.restart_bot(channel_config_path=channels_file(tmp_path, "default: [runbooks]\n"))
    answer = workspace.ask("how do I renew the TLS certificate?")
    workspace.click(answer, ASK_HUMAN, ALICE)
    wait_for(lambda: workspace.ephemeral_replies(ALICE), what="the explanation")
    [text] = workspace.ephemeral_replies(ALICE)
    assert text.startswith(f"No on-call group is configured for <#{CHANNEL}>, so I did not ping anyone.")
    assert '`oncall: "@team-oncall"`' in text
    assert pings(workspace, answer["thread_ts"]) == [] and not workspace.slack.calls_to("usergroups.list")


def test_a_group_that_does_not_exist_is_named_and_nobody_is_pinged(workspace: Workspace, tmp_path: Path) -> None:
    workspace.restart_bot(channel_config_path=channels_file(tmp_path, 'default:\n  oncall: "@gone-oncall"\n'))
    answer = workspace.ask("how do I renew the TLS certificate?")
    workspace.click(answer, ASK_HUMAN, ALICE)
    wait_for(lambda: workspace.ephemeral_replies(ALICE), what="the explanation")
    assert workspace.ephemeral_replies(ALICE)[0].startswith(
        f"The on-call group `@gone-oncall` configured for <#{CHANNEL}> does not exist in this workspace")
    assert pings(workspace, answer["thread_ts"]) == []


def test_pings_per_channel_are_capped_per_hour(workspace: Workspace, tmp_path: Path) -> None:
    workspace.slack.add_usergroup("S0PAYMENTS", "payments-oncall")
    workspace.restart_bot(handoff_per_hour=1, channel_config_path=channels_file(
        tmp_path, 'default:\n  oncall: "S0PAYMENTS"\n'))  # by id: no lookup
    first = workspace.ask("how do I renew the TLS certificate?")
    second = workspace.ask("how do I roll back payments-api?")
    workspace.click(first, ASK_HUMAN, ALICE)
    wait_for(lambda: workspace.ephemeral_replies(ALICE), what="the first hand-off")
    workspace.click(second, ASK_HUMAN, BOB)
    wait_for(lambda: workspace.ephemeral_replies(BOB), what="the refusal")
    assert workspace.ephemeral_replies(BOB) == [
        f"I already pinged the on-call group of <#{CHANNEL}> once in the last hour, as often as I do: page them "
        "directly if it is urgent."]
    assert len(pings(workspace, first["thread_ts"])) == 1 and pings(workspace, second["thread_ts"]) == []
    assert not workspace.slack.calls_to("usergroups.list")


def test_a_hand_off_from_a_direct_message_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    workspace.slack.add_usergroup("S0PAYMENTS", "payments-oncall")
    workspace.restart_bot(channel_config_path=channels_file(tmp_path, 'default:\n  oncall: "@payments-oncall"\n'))
    message = workspace.slack.add_message(DM, "how do I renew the TLS certificate?", user=ALICE)
    dispatch(workspace.app, event_body({"type": "message", "channel_type": "im", "user": ALICE,
                                        "text": message["text"], "ts": message["ts"], "channel": DM}))
    wait_for(lambda: queued(workspace.redis) == 1, what="the question")
    run_worker_burst(workspace.redis)
    [answer] = [m for m in workspace.slack.state.messages[DM] if m.get("user") == BOT_USER_ID]
    posted = len(workspace.slack.calls_to("chat.postMessage"))
    workspace.click(answer, ASK_HUMAN, ALICE, channel=DM)
    wait_for(lambda: workspace.ephemeral_replies(ALICE), what="the refusal")
    assert workspace.ephemeral_replies(ALICE) == [IN_A_DM]
    assert len(workspace.slack.calls_to("chat.postMessage")) == posted, "nobody is pinged"
