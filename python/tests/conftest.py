"""Shared fixtures: identities, the repository's paths, and a helper that plays both parties of a
session in two threads of this process."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

import garbled

REPO = Path(__file__).resolve().parents[2]
CIRCUITS = REPO / "circuits"

# FIPS-197 appendix C.1: key, plaintext and ciphertext of AES-128.
AES_KEY = 0x000102030405060708090A0B0C0D0E0F
AES_PLAINTEXT = 0x00112233445566778899AABBCCDDEEFF
AES_CIPHERTEXT = 0x69C4E0D86A7B0430D8CDB78070B4C55A


@pytest.fixture(scope="session")
def identities(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three identities: a and b pin each other; c is a stranger."""
    d = tmp_path_factory.mktemp("identities")
    out: dict[str, Any] = {}
    for name in ("a", "b", "c"):
        path = d / f"{name}.pem"
        out[name] = path
        out[name + "_fp"] = garbled.keygen(path)
    return out


def cli_binary() -> Optional[Path]:
    """The `garbled` command built by `cargo build --release` (or GARBLED_BIN)."""
    env = os.environ.get("GARBLED_BIN")
    if env:
        return Path(env)
    built = REPO / "target" / "release" / "garbled"
    if built.exists():
        return built
    found = shutil.which("garbled")
    return Path(found) if found else None


@pytest.fixture
def cli() -> Path:
    path = cli_binary()
    if path is None:
        message = "the garbled command is not built (cargo build --release, or set GARBLED_BIN)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def pair(
    garbler: Callable[[garbled.Session], Any],
    evaluator: Callable[[garbled.Session], Any],
    identities: Optional[dict[str, Any]] = None,
    *,
    security: str = "semi-honest",
    scheme: str = "half-gates",
    timeout: float = 30.0,
) -> tuple[Any, Any]:
    """Runs `garbler` on a listening session and `evaluator` on a connecting one, in two threads
    of this process, over TLS with pinned keys (or plaintext without identities). Returns both
    results; an exception on either side is re-raised."""
    if identities is not None:
        listener = garbled.Listener("127.0.0.1:0", identity=identities["a"], peer=identities["b_fp"])
        link = dict(identity=identities["b"], peer=identities["a_fp"])
    else:
        listener = garbled.Listener("127.0.0.1:0", insecure=True)
        link = dict(insecure=True)
    results: dict[str, Any] = {}

    def evaluate_side() -> None:
        try:
            with garbled.connect(
                f"127.0.0.1:{listener.port}",
                role="evaluator",
                security=security,
                scheme=scheme,
                timeout=timeout,
                **link,
            ) as session:
                results["e"] = evaluator(session)
        except BaseException as e:  # re-raised in the test's thread
            results["e_error"] = e

    thread = threading.Thread(target=evaluate_side)
    thread.start()
    try:
        with listener, listener.accept(
            role="garbler", security=security, scheme=scheme, timeout=timeout
        ) as session:
            results["g"] = garbler(session)
    finally:
        thread.join(timeout + 10)
    assert not thread.is_alive(), "the evaluator's thread hung"
    if "e_error" in results:
        raise results["e_error"]
    return results["g"], results["e"]
