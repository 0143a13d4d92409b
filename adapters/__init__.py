"""Platform adapters: one module per platform, each turning its events into botkit messages.

Every adapter implements :class:`botkit.types.Adapter`. ``botkit.adapters.registry.create(name, settings)``
builds one by name for ``botkit run``.
"""
