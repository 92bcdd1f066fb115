"""Threads for the work around training: an ordered map over a thread pool.

The compiled scanners (jose/_text.pyx) and the vector formatters release the
GIL, and so do Python's zlib, bz2 and lzma, so plain threads run them side by
side. With one worker everything runs inline in the calling thread: no
thread is started.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, Optional


def ordered_map(fn: Callable, items: Iterable, workers: int,
                window: Optional[int] = None) -> Iterator:
    """fn(item) for each item, yielded in the items' order, computed by up to
    `workers` threads with at most `window` (default 2 * workers) results
    ahead of the consumer, so memory stays bounded. workers <= 1 calls fn
    inline. An exception in fn is raised by the consumer's next(); items not
    yet started are then cancelled."""
    if workers <= 1:
        for item in items:
            yield fn(item)
        return
    window = max(1, window or 2 * workers)
    pending: deque = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jose") as pool:
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def in_background(fn: Callable, *args):
    """fn(*args) started in a thread of its own; returns its Future
    (future.result() waits for it and raises what fn raised)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jose")
    try:
        return pool.submit(fn, *args)
    finally:
        pool.shutdown(wait=False)     # the thread ends when fn returns
