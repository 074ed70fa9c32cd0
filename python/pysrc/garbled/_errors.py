"""The exceptions of the garbled package.

Every error the engine reports is a GarbledError subclass, with the command line's message and a
``kind`` attribute naming what went wrong in the CLI's ``--json`` terms ("circuit", "usage",
"limit", "mismatch", "peer", "authentication", "cheating", "io", "timeout", "interrupted",
"internal").
"""

from __future__ import annotations


class GarbledError(Exception):
    """Base class of every error raised by the garbled package."""

    kind: str = "internal"


class CircuitError(GarbledError):
    """A malformed circuit; the message carries file:line:col."""

    kind = "circuit"


class UsageError(GarbledError, ValueError):
    """Bad arguments or values (a value too wide for its group, a missing file, an unknown
    option, identities missing without insecure=True)."""

    kind = "usage"


class PeerError(GarbledError, ConnectionError):
    """The peer misbehaved, closed the connection, was caught cheating, disagreed on the job
    (another circuit, role or row count), or did not hold the pinned key."""

    kind = "peer"


class Timeout(GarbledError, TimeoutError):
    """Nothing arrived from the peer within the timeout."""

    kind = "timeout"


class IoError(GarbledError, OSError):
    """An operating-system error (a port in use, an unwritable file)."""

    kind = "io"


__all__ = ["GarbledError", "CircuitError", "UsageError", "PeerError", "Timeout", "IoError"]
