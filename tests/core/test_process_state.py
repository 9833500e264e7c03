"""The process state: what exists once per process, forgotten together by `reset`."""

from __future__ import annotations

import vedette
from vedette.process.state import state


def test_reset_forgets_the_shared_watchers_and_switches() -> None:
    config = vedette.SentinelConfig.from_url("redis+sentinel://127.0.0.1:1/reset-test")
    watcher = vedette.shared_watcher(config)
    assert vedette.shared_watcher(config) is watcher
    signal = state.switch_signal
    signal.notify()
    try:
        state.reset()
        assert vedette.shared_watcher(config) is not watcher
        assert state.switch_signal is not signal
        assert state.switch_signal.count == 0
        assert state.hubs_lock.acquire(blocking=False)
        state.hubs_lock.release()
    finally:
        state.watchers.pop(config, None)
