"""Platform adapters: one subpackage per platform, and what they all share beside them.

``telegram/``, ``discord/`` and ``slack/`` each hold one platform (its adapter, parsing, sending and a fake
server for tests); ``console.py`` is the terminal. Shared by all: ``intake`` (de-duplication, one lane per
conversation, typing indicator, dispatch, drain on stop), ``redact`` (secrets out of the logs) and ``text``
(splitting long replies, throttling streamed edits). Every adapter implements
:class:`botkit.types.Adapter` and is found through the ``botkit.adapters`` entry-point group, which names
each class; ``Class.from_settings(settings)`` builds it.
"""
