"""What exists once per process, and what a forked child or a finalizer must not inherit.

- `fork`: objects that own threads, locks or sockets register to start afresh in a child.
- `reentry`: code called back on a thread inside Vedette (finalizers, ``__del__``): locks that
  refuse to wait for their own thread, and work put off until the thread leaves.
- `switch_signal`: the process-wide signal that some watcher saw the master switch.
- `wakers`: how the watcher's threads wake coroutines waiting on another thread's event loop.
"""
