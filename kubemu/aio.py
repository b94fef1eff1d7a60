"""Running a process's main coroutine: on uvloop where it is installed (a dependency on Linux and macOS), else on
asyncio's own loop. The apiserver uses it (about 10% more writes/s here); for the kubelets and the
scheduler it made no measurable difference to the churn benchmark, so they keep asyncio's loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
