"""Asking the Sentinels, and hearing them.

- `discovery`: who the master is, asked of every Sentinel and checked with the master itself.
- `watcher`: `FailoverWatcher`, the Sentinels' notifications as one stream of typed events, and
  the shared watcher of a configuration.
- `failover_state`: the rules turning notifications and lookups into events (no I/O).
- `events`: the typed events.
- `shared_view`: what a forked child reads of its parent's watcher.
"""
