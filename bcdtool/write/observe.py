"""One hook on the writes of a transaction: observers see each write just before it happens.

Nothing in bcdtool installs an observer.  The crash-injection tests install one (through their
own `sitecustomize`) that kills the process or fails the write at a chosen point; an observer
may raise OSError, which the transaction treats exactly like the medium failing that write.
"""

from __future__ import annotations

from collections.abc import Callable

_observers: list[Callable[[str], None]] = []


def install(observer: Callable[[str], None]) -> None:
    """Call `observer(what)` before every write a transaction makes (a write or a restore)."""
    _observers.append(observer)


def uninstall(observer: Callable[[str], None]) -> None:
    """Stop calling `observer`."""
    _observers.remove(observer)


def before_write(what: str) -> None:
    """Tell every observer a write of `what` is about to happen."""
    for observer in list(_observers):
        observer(what)
