"""garbled: two-party secure computation with garbled circuits.

Two parties compute a boolean circuit over their private inputs; each learns only the outputs
meant for it. This package is the Python face of the ``garbled`` engine (Rust): the same sessions,
wire protocol and statistics as the ``garbled`` command line, so a Python party can talk to a CLI
party.

Quick start (both parties in one process)::

    import garbled
    add = garbled.Circuit.generate("add", bits=32)
    garbled.evaluate(add, [5, 7])                  # [12], in the clear
    garbled.run_local(add, [5, 7]).outputs        # [12], garbled between two parties

Two hosts: each party makes an identity once with ``garbled.keygen(path)`` (it returns the
fingerprint to give to the other party); one side opens a ``garbled.Listener`` and accepts,
the other calls ``garbled.connect``. Both get a ``Session``, a context manager whose ``run``,
``run_rows`` and ``compare`` each run one protocol session.

Values are Python ints, one per input group: wire k of a group carries bit k, and a negative
int is two's complement in its group's width. Errors are ``GarbledError`` subclasses carrying
the command line's messages.
"""

from __future__ import annotations

from ._errors import CircuitError, GarbledError, IoError, PeerError, Timeout, UsageError
from ._native import (
    Circuit,
    Listener,
    Result,
    Session,
    __version__,
    connect,
    evaluate,
    fingerprint,
    keygen,
    run_local,
)



def _restore_circuit(kind: str, *args: object) -> Circuit:
    """Rebuilds a pickled Circuit (see Circuit.__reduce__)."""
    if kind == "file":
        path, fmt = args
        return Circuit.load(path, format=fmt)  # type: ignore[arg-type]
    name, bits, count = args
    return Circuit.generate(name, bits, count)  # type: ignore[arg-type]


__all__ = [
    "Circuit",
    "CircuitError",
    "GarbledError",
    "IoError",
    "Listener",
    "PeerError",
    "Result",
    "Session",
    "Timeout",
    "UsageError",
    "__version__",
    "connect",
    "evaluate",
    "fingerprint",
    "keygen",
    "run_local",
]
