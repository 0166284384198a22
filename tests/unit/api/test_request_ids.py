"""Request ids: `req_` and 128 bits in hex, never repeated, not even by a forked child."""

from __future__ import annotations

import os
import re

from switchboard.api.http import new_request_id

_FORMAT = re.compile(r"^req_[0-9a-f]{32}$")


def test_ids_have_the_format_and_never_repeat() -> None:
    ids = [new_request_id() for _ in range(100_000)]
    assert all(_FORMAT.match(request_id) for request_id in ids)
    assert len(set(ids)) == len(ids)


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # the child: its next ids, to the parent, then gone
        try:
            os.write(writing, " ".join(new_request_id() for _ in range(3)).encode())
        finally:
            os._exit(0)
    os.close(writing)
    with os.fdopen(reading, "rb") as pipe:
        childs = pipe.read().decode().split()
    os.waitpid(child, 0)
    parents = [new_request_id() for _ in range(3)]
    assert len(childs) == 3 and all(_FORMAT.match(request_id) for request_id in childs)
    assert not set(childs) & set(parents)
