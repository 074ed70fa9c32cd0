"""Type stubs of the garbled package (the native part is garbled._native)."""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any, Literal, Optional, Sequence, Union, overload

from ._errors import (
    CircuitError as CircuitError,
    GarbledError as GarbledError,
    IoError as IoError,
    PeerError as PeerError,
    Timeout as Timeout,
    UsageError as UsageError,
)

__version__: str

_Path = Union[str, "os.PathLike[str]"]
_Role = Literal["garbler", "evaluator"]
_Security = Literal["semi-honest", "malicious"]
_Scheme = Literal["half-gates", "three-halves"]

class Circuit:
    """A boolean circuit, compiled and ready to run."""

    @staticmethod
    def load(path: _Path, *, format: Literal["auto", "fashion", "old", "bristol"] = "auto") -> Circuit:
        """Loads a Bristol Fashion or old Bristol file (detected), or a compiled program file."""
    @staticmethod
    def generate(name: str, bits: Optional[int] = None, count: Optional[int] = None) -> Circuit:
        """Builds a standard circuit of `garbled gen` (bits default 32, count default 2 for sum)."""
    @property
    def and_count(self) -> int:
        """AND gates."""
    @property
    def xor_count(self) -> int:
        """XOR gates."""
    @property
    def inputs(self) -> list[int]:
        """Width in bits of each input group."""
    @property
    def outputs(self) -> list[int]:
        """Width in bits of each output group."""
    @property
    def name(self) -> str:
        """The file's path or the generator's name."""
    @property
    def digest(self) -> str:
        """The program digest the handshake compares (64 hex digits)."""
    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]: ...

class Result:
    """What run_local returns."""

    @property
    def outputs(self) -> list[int]:
        """One int per output group."""
    @property
    def stats(self) -> dict[str, Any]:
        """The CLI's --json statistics."""

class Session:
    """A connection to the peer; each call runs one protocol session."""

    def run(
        self, circuit: Circuit, inputs: Sequence[int], *, owners: Optional[str] = None, reveal: str = "both"
    ) -> list[Optional[int]]:
        """One run with this party's own inputs; None for a group it does not learn."""
    @overload
    def run_rows(
        self,
        circuit: Circuit,
        rows: Sequence[Sequence[int]],
        *,
        owners: Optional[str] = None,
        reveal: str = "both",
        shard: Optional[tuple[str, int, int]] = None,
    ) -> list[list[Optional[int]]]: ...
    @overload
    def run_rows(
        self,
        circuit: Circuit,
        rows: Any,
        *,
        owners: Optional[str] = None,
        reveal: str = "both",
        shard: Optional[tuple[str, int, int]] = None,
    ) -> Any: ...
    def compare(
        self, values: Sequence[int], *, bits: int = 64, signed: bool = False
    ) -> list[Literal["less", "equal", "greater"]]:
        """The compare job row by row: the garbler's value relative to the evaluator's."""
    @property
    def stats(self) -> Optional[dict[str, Any]]:
        """The statistics of the last call."""
    @property
    def role(self) -> _Role:
        """This party's role."""
    def close(self) -> None:
        """Ends the connection cleanly."""
    def __enter__(self) -> Session: ...
    def __exit__(
        self,
        kind: Optional[type[BaseException]] = None,
        value: Optional[BaseException] = None,
        traceback: Optional[TracebackType] = None,
    ) -> bool: ...

class Listener:
    """A listening socket for the peer, bound at once."""

    def __init__(
        self,
        address: str,
        *,
        identity: Optional[_Path] = None,
        peer: Optional[str] = None,
        insecure: bool = False,
    ) -> None: ...
    @property
    def port(self) -> int:
        """The bound port."""
    @property
    def address(self) -> str:
        """The bound address (host:port)."""
    def accept(
        self,
        *,
        role: _Role,
        security: _Security = "semi-honest",
        scheme: _Scheme = "half-gates",
        timeout: float = 30.0,
    ) -> Session:
        """Waits for the pinned peer and returns a Session."""
    def close(self) -> None:
        """Stops listening."""
    def __enter__(self) -> Listener: ...
    def __exit__(
        self,
        kind: Optional[type[BaseException]] = None,
        value: Optional[BaseException] = None,
        traceback: Optional[TracebackType] = None,
    ) -> bool: ...

def evaluate(circuit: Circuit, inputs: Sequence[int]) -> list[int]:
    """Evaluates in the clear."""

def run_local(
    circuit: Circuit,
    inputs: Sequence[int],
    *,
    scheme: _Scheme = "half-gates",
    security: _Security = "semi-honest",
    owners: Optional[str] = None,
    reveal: str = "both",
    timeout: float = 30.0,
) -> Result:
    """Runs both parties in this process over loopback TLS."""

def keygen(path: _Path, *, force: bool = False) -> str:
    """Writes a new identity and returns its fingerprint."""

def fingerprint(path: _Path) -> str:
    """The fingerprint of an identity file."""

def connect(
    address: str,
    *,
    role: _Role,
    identity: Optional[_Path] = None,
    peer: Optional[str] = None,
    insecure: bool = False,
    security: _Security = "semi-honest",
    scheme: _Scheme = "half-gates",
    timeout: float = 30.0,
) -> Session:
    """Connects to a listening peer and returns a Session."""

def _restore_circuit(kind: str, *args: object) -> Circuit: ...
