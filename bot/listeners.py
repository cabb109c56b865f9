"""Thin Bolt listeners: each acks at once, turns the Slack payload into a QuestionJob and hands it on."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.file_intake import FileIntake
from bot.intake import QuestionIntake
from bot.questions import FILE_QUESTION, file_ids, mentions, message_question
from jobs.payload import QuestionJob, job_id_for

FILE_SHORTCUT = "ask_about_file"
LOG_SUFFIXES = (".log", ".log.gz", ".out", ".err")
# message subtypes that are a person writing (None) or sharing a file; edits, joins, bots are not
_PERSON_SUBTYPES = {None, "file_share", "thread_broadcast"}


def register_listeners(app: App, intake: QuestionIntake, files: FileIntake) -> None:
    @app.event("file_shared")
    def on_file_shared(event: dict[str, Any], ack: Ack) -> None:
        ack()
        files.submit([str(event["file_id"])], str(event.get("channel_id") or ""))

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], context: BoltContext, client: WebClient, ack: Ack) -> None:
        ack()
        thread = event.get("thread_ts") or event["ts"]
        job = QuestionJob(
            question=message_question(event, context.bot_user_id), channel=event["channel"],
            user=event.get("user", ""), source="mention", thread_ts=thread, file_ids=file_ids(event),
        )
        intake.submit(client, job, job_id_for(event["channel"], event["ts"]))

    @app.event("message")
    def on_message(event: dict[str, Any], context: BoltContext, client: WebClient, ack: Ack) -> None:
        ack()
        if event.get("subtype") not in _PERSON_SUBTYPES or event.get("bot_id"):
            return
        if file_ids(event):  # read and index the files now, whether or not this message is a question
            files.submit(file_ids(event), event["channel"])
        channel_type = event.get("channel_type")
        thread_ts = event.get("thread_ts")
        if channel_type == "im":
            source = "dm"
        elif thread_ts and thread_ts != event["ts"]:  # a follow-up: taken if the bot is in the thread
            source = "mention" if mentions(event.get("text"), context.bot_user_id) else "thread"
        else:  # its twin app_mention event carries the same job id
            return
        job = QuestionJob(
            question=message_question(event, context.bot_user_id), channel=event["channel"],
            user=event.get("user", ""), source=source, thread_ts=thread_ts or event["ts"],
            file_ids=file_ids(event),
        )
        intake.submit(client, job, job_id_for(event["channel"], event["ts"]),
                      bot_thread_of=None if source == "dm" else context.bot_user_id or "")

    def on_command(mode: str) -> Any:
        def handle(command: dict[str, Any], ack: Ack, respond: Respond, client: WebClient) -> None:
            ack()
            job = QuestionJob(
                question=" ".join((command.get("text") or "").split()), channel=command["channel_id"],
                user=command["user_id"], mode=mode, source="command",
                response_url=command.get("response_url"),
            )
            intake.submit(client, job, job_id_for(command.get("trigger_id") or command["channel_id"]),
                          respond=respond)

        return handle

    app.command("/ask")(on_command("ask"))
    app.command("/runbook")(on_command("runbook"))
    app.command("/logs")(on_command("logs"))

    @app.shortcut(FILE_SHORTCUT)
    def on_file_shortcut(shortcut: dict[str, Any], ack: Ack, client: WebClient) -> None:
        ack()
        message = shortcut.get("message", {})
        channel = shortcut.get("channel", {}).get("id", "")
        files = file_ids(message)
        if not files:
            client.chat_postEphemeral(channel=channel, user=shortcut["user"]["id"],
                                      text="That message has no file. Use this shortcut on a file message.")
            return
        names = [f.get("name", "") for f in message.get("files", [])]
        mode = "logs" if any(n.endswith(LOG_SUFFIXES) for n in names) else "ask"
        job = QuestionJob(
            question=FILE_QUESTION, channel=channel, user=shortcut["user"]["id"], mode=mode,
            source="shortcut", thread_ts=message.get("thread_ts") or message.get("ts"), file_ids=files,
            response_url=shortcut.get("response_url"),  # where to answer if the bot is not in the channel
        )
        intake.submit(client, job, job_id_for(shortcut.get("trigger_id") or channel))

