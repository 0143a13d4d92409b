"""Faults, counted (the short form of ``bench/chaos.py``): each fault strikes while replies are being
written to 6 users, through real processes (two ``botkit run`` replicas on a Telegram webhook, a private
redis-server and PostgreSQL, a slowed ``botkit worker`` on the shipped model), and every user must end
with each message answered once, whole and in order, or told "busy" in time; nothing the store held
before the fault may be lost or written twice. See :mod:`tests.chaos.harness` for what each count means.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.chaos.cluster import ChaosCluster, ChaosSettings
from tests.chaos.harness import Chaos, reference_replies

# One cluster for every fault (its start costs more than a fault's run), so one event loop for the module.
# The xdist group keeps the module on one worker (one cluster, not one per worker) and away from the other
# timed fault tests (tests/queue/test_fault_recovery.py): each fault has a deadline in seconds.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.xdist_group("faults"),
]

SMALL = ChaosSettings(
    conversations=6,
    messages=2,
    step_delay_ms=25,  # 6 replies of up to 24 pieces: about 3 s each, so a fault lands mid-reply
    outage_s=5,
    platform_outage_s=10,  # longer than the 7 s the old three network retries covered
    wait_s=60,
)
# The longest a user may wait for a reply or a notice, per fault: the time to notice the fault, the
# outage itself, and the slowed replies written again.
LONGEST_WAIT_S = {
    "worker_kill": 45,
    "redis_restart": 30,
    "redis_outage": 30,
    "replica_kill": 45,
    "postgres_restart": 30,
    "platform_errors": 30,
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chaos(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Chaos]:
    directory: Path = tmp_path_factory.mktemp("chaos")
    async with ChaosCluster(directory, SMALL) as cluster:
        yield Chaos(cluster, await reference_replies(cluster))


@pytest.mark.parametrize("fault", list(LONGEST_WAIT_S))
async def test_fault_loses_doubles_garbles_and_reorders_nothing(chaos: Chaos, fault: str) -> None:
    figures = await chaos.run(fault)

    shown = f"{figures}\n{chaos.cluster.logs() if figures['lost'] or figures['garbled'] else ''}"
    assert figures["messages"] == SMALL.conversations * SMALL.messages
    assert figures["lost"] == 0, shown
    assert figures["duplicated"] == 0, shown
    assert figures["garbled"] == 0, shown
    assert figures["out_of_order"] == 0, shown
    assert figures["store_doubled"] == 0, shown
    assert figures["store_lost"] == 0, shown
    assert figures["longest_wait_s"] <= LONGEST_WAIT_S[fault], shown
    if fault in ("postgres_restart", "platform_errors"):  # nothing to say "busy" about: all answered
        assert figures["answered"] == figures["messages"], shown
