"""`ParentView`: what a watcher in a forked child follows of its parent's watcher.

A watcher running in a process writes what its clients need (the master, the switches seen,
a promotion under way) to a page of shared memory (`vedette.sentinel.shared_view`). After
``os.fork()`` the same watcher, in the child, starts no thread: it follows that page instead,
read before each command, until the parent's watcher stops (or the parent is gone) or the child
needs the events themselves; then it carries on from the last view read, with threads of its
own. A switch read there is also noted in the child's discovery, so that the child's own
lookups refuse the replaced master.

The watcher holds one `ParentView` for its whole life: the last view read outlives the
following, and a later fork compares what its child reads with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vedette.sentinel.shared_view import SharedView, View

if TYPE_CHECKING:
    from vedette.sentinel.discovery import Discovery

__all__ = ["ParentView"]


class ParentView:
    """The parent's watcher, as a forked child's watcher follows it (read without a lock).

    Args:
        discovery: The child's discovery, told of each switch read.
    """

    def __init__(self, discovery: Discovery) -> None:
        self._discovery = discovery
        self.page: SharedView | None = None
        """The page of the parent's watcher, while following it (None: not following)."""
        self.last: View | None = None
        """The view last read (kept when the following stops)."""

    def follow(self, page: SharedView) -> None:
        """Follow the watcher that writes ``page`` (in a child forked while it ran)."""
        self.page = page

    def read(self) -> View | None:
        """The parent's view now; None if not following, or the parent's watcher is gone.

        A forked child that finds None must `stop` following: the page will not change again.
        """
        page = self.page
        if page is None:
            return None
        view = page.read()
        if view is None:  # the parent's watcher stopped, or the parent is gone
            return None
        last = self.last
        if last is not None and view.switches != last.switches and view.master is not None:
            # So that this process's own lookups refuse the replaced master too.
            self._discovery.note_switch(last.master, view.master)
        self.last = view
        return view

    def stop(self) -> View | None:
        """Stop following; the view to carry on from (None if not following, or none read)."""
        page, self.page = self.page, None
        return self.last if page is not None else None
