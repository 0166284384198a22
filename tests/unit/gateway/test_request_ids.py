"""Request ids: `req_` and 128 bits in hex, never repeated, not even by a forked child."""

from __future__ import annotations

import os
import re

from switchboard.gateway.usage_records import RequestIds

_FORMAT = re.compile(r"^req_[0-9a-f]{32}$")


def test_ids_have_the_format_and_never_repeat() -> None:
    ids = RequestIds()
    made = [ids.new() for _ in range(100_000)]
    assert all(_FORMAT.match(request_id) for request_id in made)
    assert len(set(made)) == len(made)


def test_two_processes_gateways_do_not_share_a_sequence() -> None:
    first, second = RequestIds(), RequestIds()
    assert not {first.new() for _ in range(1000)} & {second.new() for _ in range(1000)}


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    ids = RequestIds()
    ids.new()
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # the child: its next ids, to the parent, then gone
        try:
            os.write(writing, " ".join(ids.new() for _ in range(3)).encode())
        finally:
            os._exit(0)
    os.close(writing)
    with os.fdopen(reading, "rb") as pipe:
        childs = pipe.read().decode().split()
    os.waitpid(child, 0)
    parents = [ids.new() for _ in range(3)]
    assert len(childs) == 3 and all(_FORMAT.match(request_id) for request_id in childs)
    assert not set(childs) & set(parents)
