"""Errors whose message is safe to show to a Slack user."""

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


class CheckpointError(ChatOpsError):
    """A model checkpoint is missing a file or does not match what the loader expects."""
