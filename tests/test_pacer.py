"""The pacer spaces sends under 10 a second and 200 a minute, serves exits first, and backs off after a 429."""

import threading
from datetime import date

import pytest

from app.adapters.pacer import Pacer
from app.deadline import Deadline
from app.domain.errors import RateLimited
from app.domain.orders import Priority


class ManualTime:
    """A clock that moves only when something sleeps; `gate` (when set) holds the first sleep."""

    def __init__(self):
        self.now = 1000.0
        self.gate: threading.Event | None = None

    def clock(self):
        return self.now

    def sleep(self, seconds):
        if self.gate is not None:
            assert self.gate.wait(10), "the test never opened the gate"
        self.now += seconds


def paced(per_second=10, per_minute=200, **options):
    time = ManualTime()
    return Pacer(per_second, per_minute, clock=time.clock, sleep=time.sleep, **options), time


def max_in_window(times, span):
    return max(sum(1 for u in times if t <= u < t + span) for t in times)


def send_times(pacer, time, count, priority=Priority.ENTRY):
    sent = []
    for _ in range(count):
        pacer.acquire(Deadline(1e9, clock=time.clock), priority)
        sent.append(time.now)
    return sent


def test_sends_are_spaced_a_tenth_of_a_second_plus_the_margin():
    pacer, time = paced()
    sent = send_times(pacer, time, 35)
    gaps = [b - a for a, b in zip(sent, sent[1:])]
    assert min(gaps) == pytest.approx(0.11)
    # Eleven consecutive sends span 1.1 s: a strict 1 s window holds 10 even with 100 ms of jitter.
    assert max_in_window(sent, 1.0) == 10
    assert max_in_window([t + (0.099 if i % 2 else 0) for i, t in enumerate(sent)], 1.0) <= 10


def test_entries_stop_at_the_headroom_and_exits_use_the_rest():
    pacer, time = paced(per_second=1000, per_minute=200)
    start = time.now
    entries = send_times(pacer, time, 180)
    assert entries[-1] - start < 1.0
    exits = send_times(pacer, time, 20, Priority.EXIT)
    assert exits[-1] - start < 1.0  # the reserve: 20 of 200 for exits and look-ups
    late = send_times(pacer, time, 1, Priority.LOOKUP)
    assert late[0] >= entries[0] + 60.0  # the minute is full: the next waits for the oldest to leave
    assert max_in_window(entries + exits + late, 60.0) == 200


def test_an_entry_past_the_headroom_is_refused_before_its_deadline_while_an_exit_goes():
    pacer, time = paced(per_second=1000, per_minute=200)
    send_times(pacer, time, 180)
    before = time.now
    with pytest.raises(RateLimited):
        pacer.acquire(Deadline(3, clock=time.clock), Priority.ENTRY)
    assert time.now == before  # nothing waited, nothing sent
    pacer.acquire(Deadline(3, clock=time.clock), Priority.EXIT)


def test_no_slot_before_the_deadline_is_refused_without_waiting():
    pacer, time = paced(per_second=2)
    pacer.acquire(Deadline(5, clock=time.clock))
    with pytest.raises(RateLimited):
        pacer.acquire(Deadline(0.5, clock=time.clock))
    assert time.now == 1000.0


def test_a_429_holds_everything_for_its_retry_after_then_halves_the_rate_for_a_minute():
    refusals = []
    pacer, time = paced(on_refusal=lambda count, wait: refusals.append((count, wait)))
    pacer.hold(1.0)
    sent = send_times(pacer, time, 12)
    assert sent[0] == pytest.approx(1001.0)
    assert min(b - a for a, b in zip(sent, sent[1:])) == pytest.approx(0.22)  # half rate
    time.now = 1000.0 + 1.0 + 60.0 + 1.0
    again = send_times(pacer, time, 3)
    assert min(b - a for a, b in zip(again, again[1:])) == pytest.approx(0.11)  # the full rate again
    assert refusals == [(1, 1.0)]


def test_429s_are_counted_per_ist_day():
    today = [date(2026, 11, 30)]
    pacer, _ = paced(today=lambda: today[0])
    pacer.hold(1.0)
    pacer.hold(1.0)
    assert pacer.refusals_today() == 2
    today[0] = date(2026, 12, 1)
    assert pacer.refusals_today() == 0
    pacer.hold(1.0)
    assert pacer.refusals_today() == 1


@pytest.mark.parametrize("instances, gap, per_minute", [(1, 0.11, 200), (2, 0.22, 100), (3, 1.1 / 3, 66)])
def test_instances_share_the_budget(instances, gap, per_minute):
    pacer, time = paced(instances=instances)
    sent = send_times(pacer, time, 5)
    assert min(b - a for a, b in zip(sent, sent[1:])) == pytest.approx(gap)
    assert pacer.per_minute == per_minute


@pytest.mark.timeout(30)
def test_each_next_slot_goes_to_the_highest_priority_waiter():
    """A waiting order and five entries wait behind a hold; an exit, a look-up and a quote arrive later."""
    pacer, time = paced()
    pacer.hold(1.0)
    time.gate = threading.Event()
    order: list[str] = []
    threads = []

    def wait_for(name, priority):
        pacer.acquire(Deadline(100, clock=time.clock), priority)
        order.append(name)

    arrivals = [("waiting", Priority.WAITING)] + [(f"entry{i}", Priority.ENTRY) for i in range(5)]
    arrivals += [("quote", Priority.QUOTE), ("lookup", Priority.LOOKUP), ("exit", Priority.EXIT)]
    for count, (name, priority) in enumerate(arrivals, 1):
        thread = threading.Thread(target=wait_for, args=(name, priority))
        thread.start()
        threads.append(thread)
        for _ in range(1000):  # bounded: each arrival is queued before the next
            if pacer.waiting() == count:
                break
            threading.Event().wait(0.005)
        assert pacer.waiting() == count
    time.gate.set()
    for thread in threads:
        thread.join(20)
    # An order already answered 202 (waiting) came first but goes last: it has seconds to spare.
    assert order == ["exit", "lookup", "entry0", "entry1", "entry2", "entry3", "entry4", "quote", "waiting"]


def test_the_pacing_doc_states_the_spacing_and_headroom_the_code_uses():
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "fyers.md").read_text(encoding="utf-8")
    pacer = Pacer()
    assert f"{pacer.spacing * 1000:.0f} ms at\n  10/s" in text
    assert f"stop at {pacer.entry_per_minute} of the {pacer.per_minute} a minute" in text
    assert f"half rate ({pacer.spacing * 2000:.0f} ms apart)" in text
