"""Malformed, oversized and slow requests against the real webhook servers (Telegram, Slack, Discord).

Every kind of malformed request in ``webhook_cases.CASES`` gets its documented 4xx, is logged at WARNING
at most and without a traceback, and the next valid event is still answered. Slow clients are cut off by
the header and body timeouts while other requests are answered meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import pytest

from botkit.adapters import http_limits
from tests.adapters.webhook_cases import CASES, JSON, Case
from tests.adapters.webhook_targets import Target, raw, request_bytes, webhook_targets

pytestmark = [pytest.mark.timeout(120)]


async def probe(target: Target, case: Case, caplog: pytest.LogCaptureFixture) -> tuple[int | None, str]:
    """The status ``case`` got and what was logged for it ("" / "WARNING" / "ERROR+traceback")."""
    caplog.clear()
    answer = await raw(target.port, case.build(target), then_wait=case.then_wait, within=5)
    await asyncio.sleep(0.05)  # let the server finish logging
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    worst = max((r.levelno for r in records), default=0)
    logged = logging.getLevelName(worst) if worst else ""
    if any(r.exc_info for r in records):
        logged += "+traceback"
    return answer.status, logged


async def test_every_malformed_request_gets_its_documented_4xx(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    table: list[str] = []
    wrong: list[str] = []
    async with webhook_targets() as targets:
        for target in targets:
            for case in CASES:
                status, logged = await probe(target, case, caplog)
                row = f"{target.name:8} | {case.kind:38} | {status} | {logged or '-'}"
                table.append(row)
                expected = case.status_for(target.name)
                if status != expected or "ERROR" in logged or "traceback" in logged:
                    wrong.append(f"{row}   (expected {expected}, at most a WARNING)")
                try:
                    await target.answered()  # the bot still answers the next valid event
                except AssertionError as exc:
                    wrong.append(f"{row}   and then a valid event was not answered: {exc!r}")
    print("\n".join(table))
    assert not wrong, "\n".join(wrong)


async def test_refusals_never_reach_the_bot(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing a refused request carried is handed to the bot; each refusal is one WARNING, no traceback."""
    caplog.set_level(logging.WARNING)
    async with webhook_targets() as targets:
        for target in targets:
            before = target.handled()
            for case in [c for c in CASES if c.status_for(target.name) >= 400]:
                await raw(target.port, case.build(target), then_wait=case.then_wait, within=5)
            await asyncio.sleep(0.3)  # anything wrongly handed on would have reached the plugin by now
            assert target.handled() == before, target.name
            await target.answered()
            assert target.handled() == before + 1, target.name
    ours = [r for r in caplog.records if r.name.startswith("botkit.adapters")]
    refusals = [r for r in ours if "refused" in r.getMessage() or "malformed HTTP" in r.getMessage()]
    assert len(refusals) >= 3 * 20, "each refused request is logged"
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in refusals)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_client_hanging_up_mid_body_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    async with webhook_targets() as targets:
        for target in targets:
            body = target.valid_body()
            headers = {"Content-Type": JSON, "Content-Length": str(len(body) + 50), **target.sign(body, None)}
            _, writer = await asyncio.open_connection("127.0.0.1", target.port)
            writer.write(request_bytes(target.path, headers, body))
            await writer.drain()
            await asyncio.sleep(0.1)
            writer.close()  # gone, 50 bytes short
            await asyncio.sleep(0.2)
            await target.answered()
    hang_ups = [r for r in caplog.records if "closed the connection before the body ended" in r.getMessage()]
    assert len(hang_ups) == 3
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.fixture
def quick_timeouts(monkeypatch: pytest.MonkeyPatch) -> float:
    """Header and body timeouts of 0.6 s for the servers started after it (read at construction)."""
    monkeypatch.setattr(http_limits, "HEADER_TIMEOUT_S", 0.6)
    monkeypatch.setattr(http_limits, "BODY_TIMEOUT_S", 0.6)
    return 0.6


async def trickle(port: int, data: bytes, every: float) -> tuple[bytes, float]:
    """Send ``data`` a byte at a time, ``every`` seconds apart; returns what the server answered (b"" when
    it closed without answering) and after how many seconds the connection ended."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = b""
    try:
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                answer = await asyncio.wait_for(reader.read(200), timeout=every)
                break  # answered or closed
    except ConnectionError:
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return answer, time.monotonic() - started


async def test_slow_headers_and_bodies_are_cut_off_while_others_are_answered(quick_timeouts: float) -> None:
    async with webhook_targets() as targets:
        for target in targets:
            body = target.valid_body()
            slow_head = request_bytes(target.path, {"Content-Type": JSON, **target.sign(body, None)}, body)
            head_end = slow_head.index(b"\r\n\r\n") + 4
            # Headers a byte every 0.1 s: 200+ bytes would take over 20 s; the 0.6 s header timeout ends it.
            headers_task = asyncio.create_task(trickle(target.port, slow_head, every=0.1))
            # Headers at once, then the body a byte every 0.1 s: the 0.6 s body timeout answers 408.
            body_task = asyncio.create_task(
                _slow_body(target.port, slow_head[:head_end], slow_head[head_end:])
            )
            await asyncio.sleep(0.1)
            await target.answered()  # meanwhile the server answers others at once
            answer, seconds = await headers_task
            assert answer == b"", f"{target.name}: slow headers were answered: {answer!r}"
            assert seconds < quick_timeouts + 2.5, f"{target.name}: slow headers held {seconds:.1f} s"
            body_answer, body_seconds = await body_task
            assert body_answer.startswith(b"HTTP/1.1 408"), f"{target.name}: {body_answer[:60]!r}"
            assert body_seconds < quick_timeouts + 2.5
            await target.answered()


async def _slow_body(port: int, head: bytes, body: bytes) -> tuple[bytes, float]:
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    await writer.drain()
    answer, _ = b"", None
    with contextlib.suppress(ConnectionError):
        for byte in body:
            writer.write(bytes([byte]))
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                answer = await asyncio.wait_for(reader.read(200), timeout=0.1)
                break
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    return answer, time.monotonic() - started
