"""botkit's built-in plugins: ``help`` (and ``/start``), ``reset`` and ``chat`` (the model fallback)."""
