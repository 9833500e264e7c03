"""Asking the Sentinels, and hearing them.

- `discovery`: who the master is, asked of every Sentinel and checked with the master itself.
- `decisions`: what discovery decides from the answers (majority, staleness, errors; no I/O).
- `watcher`: `FailoverWatcher`, the Sentinels' notifications as one stream of typed events, and
  the shared watcher of a configuration.
- `listeners`: the watcher's listener threads, one per Sentinel (subscription, heartbeat, backoff).
- `parent_view`: what a watcher in a forked child follows of its parent's watcher.
- `event_stream`: `EventStream`, a blocking iterator over a watcher's events.
- `failover_state`: the rules turning notifications and lookups into events (no I/O).
- `events`: the typed events.
- `shared_view`: what a forked child reads of its parent's watcher.
"""
