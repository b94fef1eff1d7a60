"""The apiserver's object UIDs: random version 4 UUIDs from a pooled os.urandom read."""

from __future__ import annotations

import os
import uuid

import pytest

from apiserver.registry import new_uid

pytestmark = pytest.mark.unit


def test_uids_are_distinct_version_4_uuids_across_pool_refills() -> None:
    # 256 UIDs per 4 KiB read: 2,000 span several reads, none repeated, each printed as uuid prints it.
    uids = [new_uid() for _ in range(2000)]
    assert len(set(uids)) == len(uids)
    for u in uids[::97]:
        parsed = uuid.UUID(u)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, u)


def test_a_forked_child_does_not_repeat_its_parents_uids() -> None:
    new_uid()  # the pool is filled: a child copying it would make the parent's next UID
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next UID, then out without running pytest's teardown
        os.write(write, new_uid().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert uuid.UUID(child).version == 4
    assert child != new_uid()
