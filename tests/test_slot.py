"""The newest-item hand-over between threads."""

from __future__ import annotations

import threading

from dmask.capture.slot import NewestSlot


def test_a_full_slot_keeps_the_newest_and_counts_the_dropped():
    slot: NewestSlot[int] = NewestSlot()
    for i in range(5):
        slot.put(i)
    assert slot.take(0.0) == 4
    assert (slot.dropped, slot.put_count) == (4, 5)
    assert slot.take(0.01) is None


def test_take_waits_for_a_put_from_another_thread():
    slot: NewestSlot[str] = NewestSlot()
    threading.Timer(0.05, slot.put, args=("frame",)).start()
    assert slot.take(5.0) == "frame"


def test_close_wakes_a_waiting_taker():
    slot: NewestSlot[str] = NewestSlot()
    taken = []
    taker = threading.Thread(target=lambda: taken.append(slot.take(30.0)))
    taker.start()
    slot.close()
    taker.join(5.0)
    assert not taker.is_alive() and taken == [None]
