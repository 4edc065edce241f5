"""The failed sign-in throttle: per username and per address, a sliding window, a success clears the
username's count, and the wait it names is when the oldest counted failure leaves the window."""

import time

from linesight_gateway.domain.login_throttle import LoginThrottle


def test_a_username_is_held_after_its_limit_and_a_success_clears_it():
    throttle = LoginThrottle(per_user=2, per_address=100, window_seconds=600)
    assert throttle.retry_after("mara", "10.0.0.1") is None
    throttle.failed("mara", "10.0.0.1")
    assert throttle.retry_after("mara", "10.0.0.1") is None
    throttle.failed("mara", "10.0.0.2")
    wait = throttle.retry_after("mara", "10.0.0.3")  # from any address
    assert wait is not None and 590 <= wait <= 600
    assert throttle.retry_after("ravi", "10.0.0.1") is None
    throttle.succeeded("mara")
    assert throttle.retry_after("mara", "10.0.0.1") is None


def test_an_address_guessing_many_usernames_is_held():
    throttle = LoginThrottle(per_user=5, per_address=3, window_seconds=600)
    for name in ("a", "b", "c"):
        throttle.failed(name, "10.0.0.9")
    assert throttle.retry_after("d", "10.0.0.9") is not None
    assert throttle.retry_after("d", "10.0.0.8") is None


def test_failures_leave_the_window():
    throttle = LoginThrottle(per_user=1, per_address=100, window_seconds=0.05)
    throttle.failed("mara", "10.0.0.1")
    assert throttle.retry_after("mara", "10.0.0.1") == 1  # rounded up to a whole second
    time.sleep(0.1)
    assert throttle.retry_after("mara", "10.0.0.1") is None
