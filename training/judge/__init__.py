"""Judging dialogue models side by side: ``botkit train compare`` and ``botkit train tune-generation``.

``data.py`` draws the held-out sets (group split, disjoint from what SFT trains on), ``measures.py`` the
per-model measures (bits per byte, reply quality, copy rate, latency), ``discriminator_test.py`` the
human-vs-model classifier the adversarial stage reuses, ``compare.py`` the report, ``tune.py`` the
generation-defaults search, ``command.py`` the command line.
"""
