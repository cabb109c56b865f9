"""The worker's user-facing errors: their message is what the user reads in the thread."""

from __future__ import annotations


class ChatOpsError(Exception):
    """Base class for errors whose ``str()`` may be posted in Slack as it is.

    Never put secrets, tokens, stack traces or file system paths of the worker in the message.
    """


class EmptyQuestionError(ChatOpsError):
    """The question has no text once mentions and whitespace are removed."""


class NoDocumentsError(ChatOpsError):
    """No candidate document could be gathered for the question."""


class DocumentUnreadableError(ChatOpsError):
    """A document could not be read (binary, too large, not permitted, HTML login page...)."""

