"""The README's jobs example runs: its own test passes; its schedule and background job do as it says."""

from __future__ import annotations

from typing import Any

from botkit import Bot
from botkit.jobs import LocalJobs, ManualClock
from botkit.testing import BotTester, FakeAdapter
from tests.core.test_readme import _blocks


def _example() -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "readme_jobs"}
    exec(compile(_blocks()["jobs"], "README.md", "exec"), namespace)
    return namespace


async def test_the_readme_jobs_example_and_its_test() -> None:
    example = _example()
    await example["test_the_reminder_comes_after_15_minutes"]()

    bot = Bot([example["Desk"]()])
    clock = ManualClock(start=1_800_000_000.0 - 300)  # 2027-01-15 07:55 UTC: 08:55 in Berlin
    bot.jobs = LocalJobs(bot, clock=clock)
    slack = FakeAdapter()
    slack.name = "slack"
    async with BotTester(bot) as tester:
        bot.attach(tester.adapter)
        bot.attach(slack)
        await bot.store.set_state("slack:C0AGENTS", {"waiting": 3})
        await clock.advance(600)  # to 09:05 in Berlin: the morning greeting and one 10-minute tick
        await bot.jobs.idle()
        assert sorted(slack.pushed) == [
            ("C0AGENTS", None, "3 tickets are waiting."),
            ("C0AGENTS", None, "Good morning, the desk is open."),
        ]
        await tester.send("/report")
        await bot.jobs.idle()
        assert tester.adapter.pushed == [("c1", None, "Report: 0 turns.")]
