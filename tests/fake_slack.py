"""A fake Slack Web API served over loopback HTTP, for real ``slack_sdk.WebClient`` instances.

Like bolt-python's own ``mock_web_api_server``: a real HTTP server on 127.0.0.1 that answers the Web API
methods the bot and worker use, keeps a little state (channels, messages, files, bookmarks, pins) and
records every call so tests can assert on what was sent. Faults can be queued per method
(``fail_next``): a 429 with ``Retry-After``, a 5xx, a Slack error such as ``message_not_found``, a delay
or a dropped connection. ``wait_for_answers`` waits until the fake has answered every call it received,
including calls their client gave up on.

Point a client at it with ``WebClient(token=..., base_url=fake.api_url)``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.loopback import LoopbackServer, QuietHandler

BOT_TOKEN = "xoxb-test-bot-token"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T0001"


@dataclass
class RecordedCall:
    method: str
    args: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.monotonic)  # when the request arrived (retry timing)
    # set once the fake has answered (a method's effect on the workspace is applied by then)
    answered: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)
    path: str = ""  # response_url calls: the URL path the reply went to


@dataclass
class Fault:
    status: int = 200
    error: str | None = None  # Slack "ok": false error code, sent with status 200
    retry_after: int | None = None  # seconds, sent with status 429
    delay: float = 0.0  # seconds to sleep before answering (timeouts)
    reset: bool = False  # close the connection without answering, after the request arrived


@dataclass
class SlackState:
    """What the fake workspace holds. Tests fill it before the code under test runs."""

    channels: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> conversation object
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel -> messages
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> file object
    file_contents: dict[str, bytes] = field(default_factory=dict)  # id -> bytes served at download
    bookmarks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel -> bookmarks
    pins: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel -> pinned items
    members: dict[str, set[str]] = field(default_factory=dict)  # channel -> user ids
    # AI-app assistant threads: (DM id, thread ts) -> their status line ("" once a reply cleared it)
    assistant_threads: dict[tuple[str, str], str] = field(default_factory=dict)
    suggested_prompts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # title, prompts
    usergroups: list[dict[str, Any]] = field(default_factory=list)
    home_views: dict[str, dict[str, Any]] = field(default_factory=dict)  # user -> published Home tab
    opened_views: list[dict[str, Any]] = field(default_factory=list)  # modals, in order


class FakeSlack(LoopbackServer):
    """Start with ``with FakeSlack() as slack:``; ``slack.api_url`` is the WebClient base_url."""

    def __init__(self, token: str = BOT_TOKEN) -> None:
        self.token = token
        self.state = SlackState()
        self.calls: list[RecordedCall] = []
        self._faults: dict[str, list[Fault]] = {}
        self._lock = threading.RLock()
        self._ts = itertools.count(1)
        self._extra: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
        self.downloads: list[str] = []  # file ids whose content was served, in order
        # downloads of these file ids wait until the event is set (a slow upload, held by a test)
        self.held_downloads: dict[str, threading.Event] = {}
        super().__init__(self._handler_class())

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    # -- test helpers ----------------------------------------------------------------------------------
    def fail_next(self, method: str, *faults: Fault) -> None:
        """Answer the next calls of ``method`` with these faults, in order, then normally again."""
        with self._lock:
            self._faults.setdefault(method, []).extend(faults)

    def on(self, method: str, handler: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """Serve an extra Web API method with ``handler(args) -> response dict``."""
        self._extra[method] = handler

    def reset(self) -> None:
        """Forget all state, recorded calls, queued faults and extra methods (reuse one server across tests)."""
        with self._lock:
            self.state = SlackState()
            self.calls.clear()
            self._faults.clear()
            self._extra.clear()
            self.downloads.clear()
            self.held_downloads.clear()

    def calls_to(self, method: str) -> list[RecordedCall]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for_answers(self, timeout: float = 10.0) -> None:
        """Wait until every call received so far is answered: a call its client gave up on (a timeout)
        still changes the workspace when the fake gets to it."""
        deadline = time.monotonic() + timeout
        with self._lock:
            calls = list(self.calls)
        for call in calls:
            if not call.answered.wait(max(0.0, deadline - time.monotonic())):
                raise AssertionError(f"the fake did not answer {call.method} within {timeout}s")

    def add_channel(
        self, channel_id: str, name: str, *, private: bool = False, is_im: bool = False,
        members: set[str] | None = None, ext_shared: bool = False,
    ) -> None:
        self.state.channels[channel_id] = {
            "id": channel_id, "name": name, "is_private": private, "is_im": is_im,
            "is_channel": not private and not is_im, "is_group": private, "is_member": True,
            "is_ext_shared": ext_shared, "is_shared": ext_shared,
        }
        if is_im and members:  # a DM's info names the person the bot talks with
            self.state.channels[channel_id]["user"] = sorted(members)[0]
        self.state.members[channel_id] = set(members or ()) | {BOT_USER_ID}

    def start_assistant_thread(self, dm: str, user: str) -> str:
        """A user opens the assistant: Slack creates the thread's root message; returns its ts."""
        root = self.add_message(dm, "New Assistant Thread", user=user)
        root["subtype"] = "assistant_app_thread"
        self.state.assistant_threads[(dm, root["ts"])] = ""
        return str(root["ts"])

    def add_usergroup(self, group_id: str, handle: str, name: str | None = None) -> None:
        self.state.usergroups.append({
            "id": group_id, "team_id": TEAM_ID, "is_usergroup": True, "is_subteam": True, "name": name or handle,
            "description": "", "handle": handle, "is_external": False, "date_create": 1700000000,
            "date_update": 1700000000, "date_delete": 0, "auto_type": None, "created_by": "U1",
            "updated_by": "U1", "deleted_by": None, "prefs": {"channels": [], "groups": []}, "user_count": 2,
        })

    def add_message(self, channel: str, text: str, *, user: str = "U1", thread_ts: str | None = None,
                    files: list[dict[str, Any]] | None = None, ts: str | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "message", "user": user, "text": text, "ts": ts or self.next_ts()}
        if thread_ts:
            message["thread_ts"] = thread_ts
        if files:
            message["files"] = files
        self.state.messages.setdefault(channel, []).append(message)
        return message

    def add_file(self, file_id: str, name: str, content: bytes, *, channel: str | None = None,
                 filetype: str = "text", mimetype: str = "text/plain", title: str | None = None,
                 user: str = "U1", created: int | None = None) -> dict[str, Any]:
        file_obj = {
            "id": file_id, "name": name, "title": title or name, "filetype": filetype,
            "mimetype": mimetype, "size": len(content), "user": user,
            "created": created if created is not None else int(time.time()),
            "url_private": f"{self.base_url}/files-pri/{TEAM_ID}-{file_id}/{name}",
            "url_private_download": f"{self.base_url}/files-pri/{TEAM_ID}-{file_id}/download/{name}",
            "permalink": f"https://example.slack.com/files/{user}/{file_id}/{name}",
            "channels": [channel] if channel else [], "groups": [], "ims": [],
        }
        self.state.files[file_id] = file_obj
        self.state.file_contents[file_id] = content
        return file_obj

    def share_file(self, file_id: str, channel: str) -> None:
        """Share an existing file in one more conversation, listed as Slack does: public channels under
        ``channels``, private channels and group DMs under ``groups``, DMs under ``ims``."""
        file_obj = self.state.files[file_id]
        info = self.state.channels.get(channel, {})
        key = "ims" if info.get("is_im") else "groups" if info.get("is_private") else "channels"
        if channel not in file_obj[key]:
            file_obj[key].append(channel)

    def add_bookmark(self, channel: str, title: str, link: str) -> dict[str, Any]:
        bookmark = {"id": f"Bk{len(self.state.bookmarks.get(channel, [])) + 1:04d}", "channel_id": channel,
                    "title": title, "link": link, "type": "link", "emoji": None}
        self.state.bookmarks.setdefault(channel, []).append(bookmark)
        return bookmark

    def pin_message(self, channel: str, message: dict[str, Any]) -> None:
        pinned = {**message, "permalink": f"https://example.slack.com/archives/{channel}/p{message['ts']}"}
        self.state.pins.setdefault(channel, []).append({"type": "message", "channel": channel,
                                                        "message": pinned, "created": int(time.time())})

    def pin_file(self, channel: str, file_id: str) -> None:
        self.state.pins.setdefault(channel, []).append({"type": "file", "channel": channel,
                                                        "file": self.state.files[file_id],
                                                        "created": int(time.time())})

    def next_ts(self) -> str:
        return f"{1700000000 + next(self._ts)}.{next(self._ts):06d}"

    def posted_texts(self, channel: str | None = None) -> list[str]:
        """Texts of chat.postMessage and chat.update calls, in order."""
        out = []
        for call in self.calls:
            if call.method in ("chat.postMessage", "chat.update") and (
                channel is None or call.args.get("channel") == channel
            ):
                out.append(str(call.args.get("text", "")))
        return out

    def thread_messages(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        return [m for m in self.state.messages.get(channel, [])
                if m.get("thread_ts") == thread_ts or m.get("ts") == thread_ts]

    # -- Web API methods -------------------------------------------------------------------------------
    def _api(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        state = self.state
        if method == "auth.test":
            return {"ok": True, "url": "https://example.slack.com/", "team": "Example", "user": "chatops",
                    "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID}
        if method == "chat.postMessage":
            channel = args["channel"]
            if channel not in state.channels:
                return {"ok": False, "error": "channel_not_found"}
            message = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": self.next_ts(),
                       "text": args.get("text", ""), "blocks": _json_arg(args.get("blocks"))}
            if args.get("thread_ts"):
                message["thread_ts"] = args["thread_ts"]
                if (channel, args["thread_ts"]) in state.assistant_threads:  # a reply clears the status
                    state.assistant_threads[(channel, args["thread_ts"])] = ""
            state.messages.setdefault(channel, []).append(message)
            return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}
        if method == "chat.update":
            for message in state.messages.get(args["channel"], []):
                if message["ts"] == args["ts"]:
                    message["text"] = args.get("text", "")
                    message["blocks"] = _json_arg(args.get("blocks"))
                    return {"ok": True, "channel": args["channel"], "ts": args["ts"], "text": message["text"]}
            return {"ok": False, "error": "message_not_found"}
        if method == "chat.delete":
            messages = state.messages.get(args["channel"], [])
            state.messages[args["channel"]] = [m for m in messages if m["ts"] != args["ts"]]
            return {"ok": True, "channel": args["channel"], "ts": args["ts"]}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self.next_ts()}
        if method == "conversations.info":
            channel = state.channels.get(args["channel"])
            return {"ok": True, "channel": channel} if channel else {"ok": False, "error": "channel_not_found"}
        if method == "conversations.members":
            return {"ok": True, "members": sorted(state.members.get(args["channel"], set())),
                    "response_metadata": {"next_cursor": ""}}
        if method == "conversations.replies":  # pages of ``limit`` messages; the cursor is an offset
            messages = self.thread_messages(args["channel"], args["ts"])
            start, limit = int(args.get("cursor") or 0), int(args.get("limit") or 1000)
            following = start + limit if start + limit < len(messages) else None
            return {"ok": True, "messages": messages[start:start + limit], "has_more": following is not None,
                    "response_metadata": {"next_cursor": str(following or "")}}
        if method == "conversations.history":
            messages = [m for m in state.messages.get(args["channel"], []) if "thread_ts" not in m
                        or m["thread_ts"] == m["ts"]]
            limit = int(args.get("limit", 100))
            return {"ok": True, "messages": list(reversed(messages))[:limit], "has_more": False,
                    "response_metadata": {"next_cursor": ""}}
        if method == "files.info":
            file_obj = state.files.get(args["file"])
            return {"ok": True, "file": file_obj} if file_obj else {"ok": False, "error": "file_not_found"}
        if method == "files.list":
            files = [f for f in state.files.values()
                     if not args.get("channel") or args["channel"] in f["channels"]]
            files.sort(key=lambda f: f["created"], reverse=True)
            return {"ok": True, "files": files, "paging": {"count": len(files), "total": len(files),
                                                             "page": 1, "pages": 1}}
        if method == "bookmarks.list":
            return {"ok": True, "bookmarks": state.bookmarks.get(args["channel_id"], [])}
        if method == "pins.list":
            return {"ok": True, "items": state.pins.get(args["channel"], [])}
        if method == "assistant.threads.setStatus":
            thread = (args.get("channel_id", ""), args.get("thread_ts", ""))
            if thread[0] not in state.channels:
                return {"ok": False, "error": "channel_not_found"}
            if thread not in state.assistant_threads:
                return {"ok": False, "error": "invalid_thread_ts"}
            if "status" not in args:
                return {"ok": False, "error": "invalid_arguments"}
            state.assistant_threads[thread] = str(args["status"])
            return {"ok": True}
        if method == "assistant.threads.setSuggestedPrompts":
            thread = (args.get("channel_id", ""), args.get("thread_ts", ""))
            prompts = _json_arg(args.get("prompts"))
            if thread not in state.assistant_threads:
                return {"ok": False, "error": "invalid_thread_ts"}
            if not isinstance(prompts, list) or not 1 <= len(prompts) <= 4 or not all(
                    isinstance(p, dict) and p.get("title") and p.get("message") for p in prompts):
                return {"ok": False, "error": "invalid_arguments"}
            state.suggested_prompts[thread] = {"title": args.get("title"), "prompts": prompts}
            return {"ok": True}
        if method == "usergroups.list":
            return {"ok": True, "usergroups": [g for g in state.usergroups
                                               if g["date_delete"] == 0 or args.get("include_disabled") == "true"]}
        if method == "users.conversations":
            return self._users_conversations(args)
        if method == "views.publish":
            view = _json_arg(args.get("view"))
            problem = _view_problem(view, "home")
            if problem:
                return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": [problem]}}
            state.home_views[args["user_id"]] = view
            return {"ok": True, "view": {"id": f"V{len(state.home_views):08d}", "team_id": TEAM_ID, **view}}
        if method == "views.open":
            view = _json_arg(args.get("view"))
            if not args.get("trigger_id"):
                return {"ok": False, "error": "invalid_trigger_id"}
            problem = _view_problem(view, "modal")
            if problem:
                return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": [problem]}}
            state.opened_views.append(view)
            return {"ok": True, "view": {"id": f"VM{len(state.opened_views):07d}", "team_id": TEAM_ID, **view}}
        if method in self._extra:
            return self._extra[method](args)
        return {"ok": False, "error": "unknown_method"}

    def _users_conversations(self, args: dict[str, Any]) -> dict[str, Any]:
        """The bot's channels, or (``user``) the user's public channels and the private ones the bot shares
        with them; paged by ``limit`` with a cursor (the offset, here)."""
        user = args.get("user")
        types = str(args.get("types") or "public_channel").split(",")
        found = []
        for channel_id, info in sorted(self.state.channels.items()):
            kind = "im" if info["is_im"] else "private_channel" if info["is_private"] else "public_channel"
            members = self.state.members.get(channel_id, set())
            if kind not in types:
                continue
            if user is None and BOT_USER_ID not in members:
                continue
            if user is not None and (user not in members or (kind != "public_channel" and BOT_USER_ID not in members)):
                continue
            found.append(info)
        start = int(args.get("cursor") or 0)
        limit = int(args.get("limit") or 100)
        page = found[start:start + limit]
        next_cursor = str(start + limit) if start + limit < len(found) else ""
        return {"ok": True, "channels": page, "response_metadata": {"next_cursor": next_cursor}}

    def _download(self, path: str, token: str | None) -> tuple[int, str, bytes]:
        if token != self.token:  # Slack serves an HTML login page to requests without the bot token
            return 200, "text/html", b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>"
        parts = path.split("/")
        file_id = parts[2].split("-", 1)[1] if len(parts) > 2 and "-" in parts[2] else ""
        if file_id not in self.state.file_contents:
            return 404, "text/plain", b"not found"
        held = self.held_downloads.get(file_id)
        if held is not None:
            held.wait(30)
        with self._lock:
            self.downloads.append(file_id)
        return 200, self.state.files[file_id]["mimetype"], self.state.file_contents[file_id]

    # -- HTTP plumbing ---------------------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def _token(self, args: dict[str, Any]) -> str | None:
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Bearer "):
                    return auth[len("Bearer "):]
                token = args.get("token")
                return str(token) if token else None

            def do_GET(self) -> None:
                parsed = urlparse(self.path)
                if parsed.path.startswith("/files-pri/"):
                    status, ctype, body = fake._download(parsed.path, self._token({}))
                    self.send(status, body, ctype)
                    return
                args = {k: v[0] for k, v in parse_qs(parsed.query).items()}
                self._answer(parsed.path, args)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype:
                    args = json.loads(raw) if raw else {}
                else:
                    args = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                path = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(path.query).items()}
                self._answer(path.path, {**query, **args})

            def _answer(self, path: str, args: dict[str, Any]) -> None:
                to_response_url = path.startswith("/response_url/")
                method = "response_url" if to_response_url else path.removeprefix("/api/")
                token = None if to_response_url else self._token(args)
                if not to_response_url:
                    args.pop("token", None)
                call = RecordedCall(method, args, token, path=path if to_response_url else "")
                with fake._lock:
                    fake.calls.append(call)
                    queued = None if to_response_url else fake._faults.get(method)
                    fault = queued.pop(0) if queued else None
                try:
                    if to_response_url:
                        self._answer_response_url(path)
                    else:
                        self._answer_api(method, args, token, fault)
                finally:
                    call.answered.set()

            def _answer_response_url(self, path: str) -> None:
                if path.startswith("/response_url/reset"):  # the connection drops after the request
                    self.close_connection = True
                elif path.startswith("/response_url/expired"):  # past 30 minutes or 5 uses
                    self.send(404, b"expired_url", "text/plain")
                else:
                    self.send(200, b"ok", "text/plain")

            def _answer_api(self, method: str, args: dict[str, Any], token: str | None, fault: Fault | None) -> None:
                if fault and fault.delay:
                    time.sleep(fault.delay)
                if fault and fault.reset:
                    self.close_connection = True  # the client sees RemoteDisconnected
                    return
                if fault and fault.status == 429:
                    body = json.dumps({"ok": False, "error": "ratelimited"}).encode()
                    self.send(429, body, headers={"Retry-After": str(fault.retry_after or 1)})
                    return
                if fault and fault.status >= 500:
                    self.send(fault.status, b"upstream error", "text/plain")
                    return
                if fault and fault.error:
                    self.send(200, json.dumps({"ok": False, "error": fault.error}).encode())
                    return
                if method != "auth.test" and token != fake.token:
                    self.send(200, json.dumps({"ok": False, "error": "invalid_auth"}).encode())
                    return
                with fake._lock:
                    response = fake._api(method, args)
                self.send(200, json.dumps(response).encode())

        return Handler


HOME_BLOCK_LIMIT = 100  # Block Kit: blocks in a Home tab or a modal
SECTION_TEXT_LIMIT = 3000


def _view_problem(view: Any, kind: str) -> str | None:
    """Slack's refusal message for a view it would not take, or None."""
    if not isinstance(view, dict) or view.get("type") != kind:
        return f"[ERROR] must be a {kind} view [json-pointer:/view/type]"
    blocks = view.get("blocks") or []
    if len(blocks) > HOME_BLOCK_LIMIT:
        return f"[ERROR] no more than {HOME_BLOCK_LIMIT} items allowed [json-pointer:/view/blocks]"
    for i, block in enumerate(blocks):
        text = (block.get("text") or {}).get("text", "")
        if len(text) > SECTION_TEXT_LIMIT:
            return f"[ERROR] must be less than {SECTION_TEXT_LIMIT + 1} characters [json-pointer:/view/blocks/{i}/text]"
    if kind == "modal" and len((view.get("title") or {}).get("text", "")) > 24:
        return "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"
    return None


def _json_arg(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
