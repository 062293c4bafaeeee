"""The frame budget of client sockets: a fixed window, counted without a clock of its own."""

from hub.realtime.budget import FrameBudget


def test_frames_over_the_budget_are_refused_until_the_window_passes() -> None:
    budget = FrameBudget(3, 10, now=100.0)
    assert [budget.take(100.0 + n) for n in range(5)] == [True, True, True, False, False]
    assert budget.take(110.5), "a new window begins after ten seconds"
    assert [budget.take(111.0) for _ in range(3)] == [True, True, False]
