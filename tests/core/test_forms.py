"""Forms: fields asked in turn, validated by pydantic, kept in the store across restarts and replicas."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field, model_validator

from botkit import Bot, Context, Plugin, on_command
from botkit.forms import FORM, Form, forms_of
from botkit.plugins.chat import ChatPlugin
from botkit.stores import SqliteStore
from botkit.testing import BotTester, ScriptedModel

NUMBER = "Your order number?"
QUANTITY = "How many?"
SUBMITTED: list[tuple[int, int]] = []


class Refill(Form):
    """Declared beside the plugin and listed in its ``forms``."""

    number: int = Field(description=NUMBER)
    quantity: int = Field(gt=0, le=50, description=QUANTITY)
    timeout_s = 60.0

    @model_validator(mode="after")
    def not_both_thirteen(self) -> Refill:
        if self.number == 13 and self.quantity == 13:
            raise ValueError("13 of order 13 is not allowed")
        return self

    async def submit(self, ctx: Context) -> None:
        SUBMITTED.append((self.number, self.quantity))
        await ctx.reply(f"{self.quantity} more of order {self.number}.")


class Shop(Plugin):
    forms = (Refill,)

    class Address(Form):
        street: str
        city: str = Field(description="Which city?")

        async def submit(self, ctx: Context) -> None:
            await ctx.reply(f"Shipping to {self.street}, {self.city}.")

    @on_command("order")
    async def order(self, ctx: Context) -> None:
        await ctx.form(Refill)

    @on_command("ship")
    async def ship(self, ctx: Context) -> None:
        await ctx.form(self.Address)


class Hasty(Refill):
    """Waits a moment only, for the timeout test (the others' questions wait a minute: no race)."""

    form_name = "hasty-refill"
    timeout_s = 0.3


class HastyShop(Shop):
    forms = (Refill, Hasty)

    @on_command("hasty")
    async def hasty(self, ctx: Context) -> None:
        await ctx.form(Hasty)


class NotDeclared(Form):
    x: int


class Lost(Plugin):
    @on_command("lost")
    async def lost(self, ctx: Context) -> None:
        await ctx.form(NotDeclared)


@pytest.fixture(autouse=True)
def _fresh() -> None:
    SUBMITTED.clear()


def shop_bot(model: ScriptedModel, store: SqliteStore | None = None, plugin: Plugin | None = None) -> Bot:
    return Bot([plugin or HastyShop(), ChatPlugin()], model=model, store=store)


async def test_a_two_field_form_completed() -> None:
    model = ScriptedModel(["model"])
    async with BotTester(shop_bot(model)) as tester:
        await tester.send("/order")
        tester.assert_reply(NUMBER)
        await tester.send("12345")
        tester.assert_reply(QUANTITY)
        await tester.send(" 3 ")
        tester.assert_reply("3 more of order 12345.")
        assert SUBMITTED == [(12345, 3)]
        assert (await tester.bot.store.get_state("test:c1")) == {}
        await tester.send("/ship")
        tester.assert_reply("Street?")  # no description: the field's name as the question
        await tester.send("1 Main St")
        tester.assert_reply("Which city?")
        await tester.send("Springfield")
        tester.assert_reply("Shipping to 1 Main St, Springfield.")
    assert model.calls == []


async def test_bad_answers_are_asked_again_with_pydantic_s_message() -> None:
    model = ScriptedModel()
    async with BotTester(shop_bot(model)) as tester:
        await tester.send("/order")
        tester.assert_reply(NUMBER)
        await tester.send("twelve")
        tester.assert_reply(
            f"Input should be a valid integer, unable to parse string as an integer. {NUMBER}"
        )
        await tester.send("13")
        tester.assert_reply(QUANTITY)
        await tester.send("0")
        tester.assert_reply(f"Input should be greater than 0. {QUANTITY}")
        await tester.send("13")  # each field is fine; the check across them is not
        tester.assert_reply(f"Value error, 13 of order 13 is not allowed. {NUMBER}")
        await tester.send("14")  # the quantity given is kept
        tester.assert_reply("13 more of order 14.")
    assert SUBMITTED == [(14, 13)]
    assert model.calls == []


async def test_cancel_ends_a_form() -> None:
    model = ScriptedModel(["model"])
    async with BotTester(shop_bot(model)) as tester:
        await tester.send("/order")
        tester.assert_reply(NUMBER)
        await tester.send("12")
        tester.assert_reply(QUANTITY)
        await tester.send("/cancel")
        tester.assert_reply(f'Cancelled: I am no longer waiting for your answer to "{QUANTITY}".')
        assert (await tester.bot.store.get_state("test:c1")) == {}
        await tester.send("hello")
        tester.assert_reply("model")
    assert SUBMITTED == []
    assert [call[-1]["content"] for call in model.calls] == ["hello"]


async def test_an_unanswered_question_times_out() -> None:
    async with BotTester(shop_bot(ScriptedModel(["model"]))) as tester:
        await tester.send("/hasty")
        tester.assert_reply(NUMBER)
        notice = await tester.next_reply()  # Hasty waits 0.3 s
        assert notice.text.startswith(f'I stopped waiting for your answer to "{NUMBER}".')
        assert FORM not in await tester.bot.store.get_state("test:c1")
        await tester.send("12")  # an ordinary message again
        tester.assert_reply("model")
    assert SUBMITTED == []


async def test_a_deadline_that_passed_while_the_bot_was_down(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    async with BotTester(shop_bot(ScriptedModel(), SqliteStore(path))) as tester:
        await tester.send("/order")
        tester.assert_reply(NUMBER)
    later = shop_bot(ScriptedModel(), SqliteStore(path))
    later.form_runner.clock = lambda: 2e10  # long after the one-minute deadline
    async with BotTester(later) as tester:
        await tester.send("12")
        assert tester.assert_reply().text.startswith(f'I stopped waiting for your answer to "{NUMBER}".')
    assert SUBMITTED == []


async def test_a_form_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    model = ScriptedModel()
    async with BotTester(shop_bot(model, SqliteStore(path))) as tester:
        await tester.send("/order")
        tester.assert_reply(NUMBER)
        await tester.send("12345")
        tester.assert_reply(QUANTITY)
    # A new process over the same file: the form goes on where it was.
    async with BotTester(shop_bot(model, SqliteStore(path))) as tester:
        await tester.send("x")
        tester.assert_reply(
            f"Input should be a valid integer, unable to parse string as an integer. {QUANTITY}"
        )
        await tester.send("4")
        tester.assert_reply("4 more of order 12345.")
    assert SUBMITTED == [(12345, 4)]
    assert model.calls == []


async def test_replicas_share_a_form_through_the_store(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    model = ScriptedModel()
    one, two = shop_bot(model, SqliteStore(path)), shop_bot(model, SqliteStore(path))
    async with BotTester(one) as first, BotTester(two) as second:
        await first.send("/order")
        first.assert_reply(NUMBER)
        await second.send("77")  # the answer reached the other replica
        second.assert_reply(QUANTITY)
        await first.send("5")
        first.assert_reply("5 more of order 77.")
    assert SUBMITTED == [(77, 5)]
    assert model.calls == []


async def test_a_form_whose_plugin_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    async with BotTester(shop_bot(ScriptedModel(), SqliteStore(path))) as tester:
        await tester.send("/order")
        tester.assert_reply(NUMBER)
    async with BotTester(Bot([ChatPlugin()], model=ScriptedModel(), store=SqliteStore(path))) as tester:
        await tester.send("12")
        tester.assert_reply(f'The form that asked "{NUMBER}" is no longer available; please start again.')
        assert (await tester.bot.store.get_state("test:c1")) == {}


async def test_a_form_no_plugin_declares_is_refused_clearly() -> None:
    async with BotTester(Bot([Lost()])) as tester:
        await tester.send("/lost")
        assert tester.assert_reply().text.startswith("Sorry, something went wrong")
        assert (await tester.bot.store.get_state("test:c1")) == {}


def test_forms_are_found_through_the_plugins() -> None:
    assert forms_of([HastyShop()]) == {"refill": Refill, "hasty-refill": Hasty, "address": Shop.Address}


async def test_the_readme_example() -> None:
    """The README's "Asking and waiting for an answer" block, run as written."""
    from tests.core.test_readme import _blocks

    namespace: dict[str, object] = {}
    exec(compile(_blocks()["ask"], "README.md", "exec"), namespace)
    desk: type[Plugin] = namespace["Desk"]  # type: ignore[assignment]
    model = ScriptedModel(["model"])
    async with BotTester(Bot([desk(), ChatPlugin()], model=model)) as tester:
        await tester.send("/track")
        tester.assert_reply("Your order number?")
        await tester.send("soon")
        tester.assert_reply("That is not a whole number. Your order number?")
        await tester.send("42")
        tester.assert_reply("Order 42 left our warehouse today.")
        await tester.send("/refund")
        tester.assert_reply("Your order number?")
        await tester.send("42")
        tester.assert_reply("Why would you like a refund?")
        await tester.send("bad")
        tester.assert_reply("String should have at least 5 characters. Why would you like a refund?")
        await tester.send("It arrived broken")
        tester.assert_reply("Refund of order 42 requested (It arrived broken).")
        await tester.send("/track")
        tester.assert_reply("Your order number?")
        await tester.send("/cancel")
        tester.assert_reply('Cancelled: I am no longer waiting for your answer to "Your order number?".')
    assert model.calls == []


async def test_in_a_group_only_the_one_filling_the_form_answers() -> None:
    from botkit.message import Conversation, User

    model = ScriptedModel(["model"])
    group = Conversation("g1", "test", "group")
    async with BotTester(shop_bot(model), conversation=group) as tester:
        await tester.send("/order")
        tester.assert_reply(NUMBER)
        await tester.send("99", user=User("u2", "Someone Else"))
        tester.assert_reply("model")
        await tester.send("12")
        tester.assert_reply(QUANTITY)
        await tester.send("1")
        tester.assert_reply("1 more of order 12.")
    assert SUBMITTED == [(12, 1)]
    assert [call[-1]["content"] for call in model.calls] == ["99"]
