import pytest

# The shared harness modules hold assertions too: have pytest rewrite them as it does test modules.
pytest.register_assert_rewrite("tests.adapters.slack_harness", "tests.adapters.telegram_harness")
