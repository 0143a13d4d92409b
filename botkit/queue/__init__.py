"""Generation behind a Celery queue: adapters enqueue, GPU workers batch and stream tokens back via Redis.

``client`` holds :class:`~botkit.queue.client.CeleryGenerator` (the bot side), ``worker`` the inference
worker (``botkit worker``), ``protocol`` the Redis keys and stream records both sides agree on.
"""
