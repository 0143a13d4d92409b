"""The embedded job runner: schedules under a manual clock, failures in the log, results in the chat."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from botkit import Bot, Context, Plugin, Reply, on_command
from botkit.jobs import JobContext, LocalJobs, ManualClock, at, every, parse_duration
from botkit.testing import BotTester

ROOM = "test:room"


class Ticker(Plugin):
    """Counts its ticks and posts each one to a room."""

    def __init__(self) -> None:
        self.ticks: list[float] = []

    @every("10m")
    async def tick(self, job: JobContext) -> None:
        assert job.scheduled_at is not None
        self.ticks.append(job.scheduled_at)
        await job.send_to(ROOM, f"tick {len(self.ticks)}")


class Flaky(Plugin):
    """Fails on its second tick only."""

    def __init__(self) -> None:
        self.runs = 0

    @every("1m")
    async def sync(self, job: JobContext) -> None:
        self.runs += 1
        if self.runs == 2:
            raise RuntimeError("the ticket system is down")


class Reports(Plugin):
    @on_command("report")
    async def report(self, ctx: Context, month: str) -> None:
        """Build the month's report in the background."""
        await ctx.background(self.build, month)
        await ctx.reply("Working on it.")

    async def build(self, job: JobContext, month: str) -> str:
        rows = len(await job.store.history(job.key or ""))
        return f"Report for {month}: {rows} turns."

    @on_command("broken")
    async def broken(self, ctx: Context) -> None:
        await ctx.background(self.explode)

    async def explode(self, job: JobContext) -> str:
        raise ValueError("no such month")

    @on_command("remind")
    async def remind(self, ctx: Context, minutes: int) -> None:
        await ctx.later(minutes * 60, self.ping, "stand-up")

    async def ping(self, job: JobContext, what: str) -> None:
        await job.reply(Reply(f"Reminder: {what}"))


def count_words(job: JobContext, text: str) -> str:
    """A plain function: a background job runs it in a thread, off the event loop."""
    return f"{len(text.split())} words ({job.name})"


class Words(Plugin):
    @on_command("count")
    async def count(self, ctx: Context, *words: str) -> None:
        await ctx.background(count_words, " ".join(words))


def _with_clock(bot: Bot) -> ManualClock:
    clock = ManualClock(start=1_700_000_000.0)  # 22:13:20 UTC: not on a 10-minute boundary
    bot.jobs = LocalJobs(bot, clock=clock)
    return clock


async def test_a_repeating_job_fires_once_per_interval_under_a_manual_clock() -> None:
    ticker = Ticker()
    bot = Bot([ticker])
    clock = _with_clock(bot)
    async with BotTester(bot) as tester:
        bot.attach(tester.adapter)
        await clock.advance(3600)  # one hour: six 10-minute ticks
        await bot.jobs.idle()  # type: ignore[attr-defined]
        assert len(ticker.ticks) == 6
        assert [b - a for a, b in zip(ticker.ticks, ticker.ticks[1:], strict=False)] == [600.0] * 5
        assert all(t % 600 == 0 for t in ticker.ticks)  # on the grid, whatever time the bot started
        assert tester.adapter.pushed == [("room", None, f"tick {n}") for n in range(1, 7)]
    # stopped with the bot: the loop is cancelled, so moving the clock fires nothing more
    count = len(ticker.ticks)
    await clock.advance(3600)
    assert len(ticker.ticks) == count


async def test_a_job_that_raises_is_logged_by_name_and_keeps_its_schedule(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flaky = Flaky()
    bot = Bot([flaky])
    clock = _with_clock(bot)
    with caplog.at_level(logging.ERROR, logger="botkit.jobs"):
        async with BotTester(bot):
            await clock.advance(5 * 60)
            await bot.jobs.idle()  # type: ignore[attr-defined]
    assert flaky.runs == 5  # the failure on the second run did not stop the three after it
    failures = [r for r in caplog.records if r.name == "botkit.jobs"]
    assert len(failures) == 1
    assert failures[0].job == "flaky.sync"  # type: ignore[attr-defined]
    assert "flaky.sync" in failures[0].getMessage()
    assert failures[0].exc_info is not None
    assert "ticket system is down" in str(failures[0].exc_info[1])


async def test_background_delivers_its_result_to_the_conversation() -> None:
    bot = Bot([Reports()])
    async with BotTester(bot) as tester:
        bot.attach(tester.adapter)
        await tester.send("/report march")
        tester.assert_reply("Working on it.")  # the chat answered at once
        await bot.jobs.idle()  # type: ignore[attr-defined]
        assert tester.adapter.pushed == [("c1", None, "Report for march: 0 turns.")]


async def test_a_failed_background_job_is_reported_in_the_chat_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot = Bot([Reports()])
    async with BotTester(bot) as tester:
        bot.attach(tester.adapter)
        await tester.send("/broken")
        await bot.jobs.idle()  # type: ignore[attr-defined]
    [(conversation, _thread, text)] = tester.adapter.pushed
    assert conversation == "c1"
    assert text.startswith("Sorry, the background job reports.explode failed (error ")
    [record] = [r for r in caplog.records if r.name == "botkit.jobs"]
    assert record.job == "reports.explode"  # type: ignore[attr-defined]
    assert record.getMessage().split("(")[1].rstrip(") failed") in text


async def test_a_plain_module_level_function_runs_in_the_background() -> None:
    bot = Bot([Words()])
    async with BotTester(bot) as tester:
        bot.attach(tester.adapter)
        await tester.send("/count one two three")
        await bot.jobs.idle()  # type: ignore[attr-defined]
    assert tester.adapter.pushed == [("c1", None, "3 words (tests.jobs.test_local:count_words)")]


async def test_later_runs_once_after_its_delay() -> None:
    bot = Bot([Reports()])
    clock = _with_clock(bot)
    async with BotTester(bot) as tester:
        bot.attach(tester.adapter)
        await tester.send("/remind 5")
        await clock.advance(299)
        assert tester.adapter.pushed == []  # bounded by the event below: it fires one second later
        await clock.advance(1)
        await bot.jobs.idle()  # type: ignore[attr-defined]
        assert tester.adapter.pushed == [("c1", None, "Reminder: stand-up")]
        await clock.advance(3600)
        assert len(tester.adapter.pushed) == 1


async def test_stop_cancels_a_background_job_still_running() -> None:
    clock = ManualClock()

    class Slow(Plugin):
        @on_command("slow")
        async def slow(self, ctx: Context) -> None:
            await ctx.background(self.work)

        async def work(self, job: JobContext) -> str:
            await clock.sleep_until(clock.now() + 3600)
            return "done"

    bot = Bot([Slow()])
    async with BotTester(bot) as tester:
        bot.attach(tester.adapter)
        await tester.send("/slow")
        runner = bot.jobs
        assert isinstance(runner, LocalJobs)
        assert len(runner._running) == 1
    assert runner._running == {}
    await clock.advance(7200)
    assert tester.adapter.pushed == []


def test_at_fires_daily_at_the_wall_clock_time_of_its_zone() -> None:
    class Morning(Plugin):
        @at("09:00", tz="Europe/Berlin")
        async def digest(self, job: JobContext) -> None: ...

    [job] = Morning().jobs()
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 28, 12, 0, tzinfo=berlin).timestamp()  # the day before DST begins
    first = job.spec.schedule.next_after(start)
    second = job.spec.schedule.next_after(first)
    assert datetime.fromtimestamp(first, berlin).isoformat() == "2026-03-29T09:00:00+02:00"
    assert datetime.fromtimestamp(second, berlin).isoformat() == "2026-03-30T09:00:00+02:00"
    assert second - first == 86400
    assert job.name == "morning.digest"


@pytest.mark.parametrize(
    ("value", "seconds"), [("10m", 600), ("1h30m", 5400), ("2d", 172800), ("500ms", 0.5), (90, 90)]
)
def test_durations(value: str | int, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["ten minutes", "10 parsecs", "", "0s", -5])
def test_a_bad_duration_is_a_clear_error(value: str | int) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


def test_bad_schedules_are_refused_when_the_class_is_defined() -> None:
    with pytest.raises(ValueError, match="time zone"):
        at("09:00", tz="Mars/Olympus")
    with pytest.raises(ValueError, match="time of day"):
        at("9 o'clock")
    with pytest.raises(TypeError, match="async"):
        every("1m")(lambda job: None)


async def test_a_job_must_be_reachable_by_name_and_take_json_arguments(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Odd(Plugin):
        @on_command("closure")
        async def closure(self, ctx: Context) -> None:
            async def inner(job: JobContext) -> None: ...

            await ctx.background(inner)

        @on_command("object")
        async def object_arg(self, ctx: Context) -> None:
            await ctx.later(1, self.noop, object())

        async def noop(self, job: JobContext, value: object) -> None: ...

    async with BotTester(Bot([Odd()])) as tester:
        await tester.send("/closure")
        tester.assert_reply(contains="error")  # the handler's error path: the user hears of it
        await tester.send("/object")
        tester.assert_reply(contains="error")
    problems = [str(r.exc_info[1]) for r in caplog.records if r.exc_info]
    assert "a job must be a plugin method or a module-level function" in problems[0]
    assert "the arguments of job odd.noop must be JSON values" in problems[1]
