"""A follower of ``/engines/requests`` that stops reading is let go instead of holding records without bound."""

import asyncio

from compose_models.runner.observability.records import FOLLOWER_BACKLOG, RequestRecord, RequestRecords


def _record(number: int) -> RequestRecord:
    return RequestRecord(f"req-{number}", "m", "POST", "/v1/chat/completions", "{}", "{}", None, 0, 200, "", "openai")


def test_a_follower_that_falls_behind_is_let_go_after_the_backlog() -> None:
    async def scenario() -> list[str]:
        records = RequestRecords()
        follower = records.follow()
        first = asyncio.ensure_future(follower.__anext__())
        await asyncio.sleep(0)  # now following; it reads one record, then stops reading
        for number in range(3 * FOLLOWER_BACKLOG):
            records.add(_record(number))
        received = [(await first).id]

        async def read_the_rest() -> None:
            async for record in follower:
                received.append(record.id)

        await asyncio.wait_for(read_the_rest(), 1)  # the stream ends: the follower was let go
        return received

    received = asyncio.run(scenario())
    assert received == [f"req-{number}" for number in range(len(received))]  # in order, none skipped before
    assert FOLLOWER_BACKLOG <= len(received) <= FOLLOWER_BACKLOG + 1
