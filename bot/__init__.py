"""The Slack side: a thin Bolt app that takes questions, shows progress and enqueues jobs.

It never imports torch or any model code: answering happens in ``worker``.
"""
