"""Go durations as Kubernetes' flags take them (`30s`, `1m30s`, `500ms`, `1h`), in seconds."""

from __future__ import annotations

import argparse
import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """A Go duration in seconds (time.ParseDuration's message on a bad one); a bare number is taken as seconds.
    Raises argparse.ArgumentTypeError, so that it can be a flag's `type`."""
    t = text.strip()
    try:
        return float(t)
    except ValueError:
        pass
    sign = -1.0 if t.startswith("-") else 1.0
    body = t.lstrip("+-")
    pos, total = 0, 0.0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if not match:
            raise argparse.ArgumentTypeError(f'time: invalid duration "{text}"')
        total += float(match.group(1)) * _UNIT[match.group(2)]
        pos = match.end()
    if not body:
        raise argparse.ArgumentTypeError(f'time: invalid duration "{text}"')
    return sign * total


def positive_duration(text: str) -> float:
    """parse_duration, refusing zero and negative durations."""
    seconds = parse_duration(text)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f'invalid duration "{text}": must be greater than zero')
    return seconds
