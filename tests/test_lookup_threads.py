"""The resolve stage's lookup threads (engine/route/lookup_threads.py): a finished thread takes the next
call, a call that hangs never holds up the next one, and a forked child starts threads of its own."""

from __future__ import annotations

import os
import threading

import pytest

from tlsbench.engine.route import lookup_threads


def test_a_thread_that_finished_takes_the_next_call():
    seen: list[int] = []
    first = lookup_threads.in_thread(lambda: seen.append(threading.get_ident()))
    assert first.wait(5)
    for _ in range(50):  # the thread puts itself back as idle just after setting the event
        if lookup_threads._idle:
            break
        threading.Event().wait(0.01)
    second = lookup_threads.in_thread(lambda: seen.append(threading.get_ident()))
    assert second.wait(5)
    assert len(seen) == 2 and seen[0] == seen[1]


def test_a_call_that_hangs_does_not_hold_up_the_next():
    release = threading.Event()
    stuck = lookup_threads.in_thread(lambda: release.wait(10) and None)
    box: list[str] = []
    quick = lookup_threads.in_thread(lambda: box.append("done"))
    try:
        assert quick.wait(5) and box == ["done"]
        assert not stuck.is_set()
    finally:
        release.set()
    assert stuck.wait(5)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is what this checks")
def test_a_forked_child_uses_threads_of_its_own():
    warm = lookup_threads.in_thread(lambda: None)
    assert warm.wait(5)
    pid = os.fork()
    if pid == 0:  # the child: the parent's idle thread does not exist here
        ok = lookup_threads.in_thread(lambda: None).wait(5)
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
