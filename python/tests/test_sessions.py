"""Two-party sessions between threads and processes: TLS with pinned keys, rows, failures, the
GIL and Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import garbled
from conftest import AES_CIPHERTEXT, AES_KEY, AES_PLAINTEXT, CIRCUITS, REPO, pair


@pytest.mark.parametrize("security", ["semi-honest", "malicious"])
def test_aes_fips197_between_two_threads_over_tls(identities, security) -> None:
    aes = garbled.Circuit.load(CIRCUITS / "aes128.txt")

    def garbler(s: garbled.Session):
        out = s.run(aes, [AES_KEY])
        return out, s.stats

    def evaluator(s: garbled.Session):
        return s.run(aes, [AES_PLAINTEXT]), s.stats

    (g, g_stats), (e, e_stats) = pair(garbler, evaluator, identities, security=security)
    assert g == [AES_CIPHERTEXT] and e == [AES_CIPHERTEXT]
    assert g_stats["party"] == "garbler" and e_stats["party"] == "evaluator"
    assert g_stats["transport"] == "tls" and g_stats["security"] == security
    assert g_stats["and_gates"] == 6400 and g_stats["bytes_sent"] > 6400 * 32


def test_outputs_not_revealed_to_a_party_are_none(identities) -> None:
    add = garbled.Circuit.generate("add", bits=32)
    g, e = pair(
        lambda s: s.run(add, [40], reveal="evaluator"),
        lambda s: s.run(add, [2], reveal="evaluator"),
        identities,
    )
    assert g == [None] and e == [42]


def test_run_rows_on_a_numpy_array_of_compare_inputs(identities) -> None:
    compare = garbled.Circuit.generate("compare", bits=64)
    rng = np.random.default_rng(11)
    a = rng.integers(0, 2**64, size=(10_000, 1), dtype=np.uint64)
    b = rng.integers(0, 2**64, size=(10_000, 1), dtype=np.uint64)
    b[::7] = a[::7]  # some equal rows
    g, e = pair(lambda s: s.run_rows(compare, a), lambda s: s.run_rows(compare, b), identities)
    assert isinstance(g, np.ndarray) and g.shape == (10_000, 2) and g.dtype == np.uint64
    assert np.array_equal(g, e)
    expected = [garbled.evaluate(compare, [int(x), int(y)]) for x, y in zip(a[:, 0], b[:, 0])]
    assert g.tolist() == expected
    assert int(g[:, 1].sum()) >= 10_000 // 7


def test_run_rows_on_lists_with_wide_groups_and_several_calls_per_session(identities) -> None:
    aes = garbled.Circuit.load(CIRCUITS / "aes128.txt")
    keys = [AES_KEY ^ i for i in range(50)]
    blocks = [AES_PLAINTEXT + i for i in range(50)]
    expected = [garbled.evaluate(aes, [k, p]) for k, p in zip(keys, blocks)]

    def garbler(s: garbled.Session):
        first = s.run_rows(aes, [[k] for k in keys])
        second = s.compare([1, 2, 3], bits=8)
        return first, second

    def evaluator(s: garbled.Session):
        first = s.run_rows(aes, [[p] for p in blocks])
        second = s.compare([2, 2, 2], bits=8)
        return first, second

    (g_rows, g_cmp), (e_rows, e_cmp) = pair(garbler, evaluator, identities)
    assert g_rows == expected and e_rows == expected
    assert g_cmp == e_cmp == ["less", "equal", "greater"]


def test_compare_signed_values(identities) -> None:
    g, e = pair(
        lambda s: s.compare(np.array([-5, 3, -1]), bits=32, signed=True),
        lambda s: s.compare([2, 3, -2], bits=32, signed=True),
        identities,
    )
    assert g == e == ["less", "equal", "greater"]


def test_plaintext_sessions_work_with_insecure(identities) -> None:
    add = garbled.Circuit.generate("add", bits=32)
    g, e = pair(lambda s: (s.run(add, [1]), s.stats), lambda s: s.run(add, [2]), None)
    assert g[0] == [3] and e == [3]
    assert g[1]["transport"] == "plaintext"


def test_a_wrong_fingerprint_is_a_peer_error_on_both_sides(identities) -> None:
    # A pins C, but B connects: B is told A refused its key, and A's wait ends with the refusal.
    listener = garbled.Listener("127.0.0.1:0", identity=identities["a"], peer=identities["c_fp"])
    errors: dict[str, BaseException] = {}

    def connect() -> None:
        try:
            garbled.connect(
                f"127.0.0.1:{listener.port}",
                role="evaluator",
                identity=identities["b"],
                peer=identities["a_fp"],
                timeout=5,
            )
        except BaseException as e:
            errors["b"] = e

    thread = threading.Thread(target=connect)
    thread.start()
    with pytest.raises(garbled.PeerError) as caught:
        listener.accept(role="garbler", timeout=3)
    thread.join(10)
    assert identities["b_fp"] in str(caught.value)
    assert isinstance(errors.get("b"), garbled.PeerError), errors
    assert "refused our key" in str(errors["b"])


def test_parties_that_disagree_on_the_circuit_get_a_peer_error(identities) -> None:
    add = garbled.Circuit.generate("add", bits=32)
    sub = garbled.Circuit.generate("sub", bits=32)
    with pytest.raises(garbled.PeerError, match="digest|circuit"):
        pair(lambda s: s.run(add, [1]), lambda s: s.run(sub, [1]), identities)


PEER_THAT_DIES = textwrap.dedent(
    """
    import sys, garbled
    aes = garbled.Circuit.load(sys.argv[2])
    s = garbled.connect(sys.argv[1], role="evaluator", insecure=True, timeout=30)
    print("connected", flush=True)
    s.run_rows(aes, [[i] for i in range(20000)])
    """
)


def test_a_peer_that_dies_mid_session_is_an_error_not_a_hang(tmp_path) -> None:
    aes = garbled.Circuit.load(CIRCUITS / "aes128.txt")
    script = tmp_path / "peer.py"
    script.write_text(PEER_THAT_DIES)
    with garbled.Listener("127.0.0.1:0", insecure=True) as listener:
        child = subprocess.Popen(
            [sys.executable, str(script), f"127.0.0.1:{listener.port}", str(CIRCUITS / "aes128.txt")],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            session = listener.accept(role="garbler", timeout=30)
            assert child.stdout.readline().strip() == "connected"
            killer = threading.Timer(1.0, child.kill)
            killer.start()
            started = time.monotonic()
            with pytest.raises((garbled.PeerError, garbled.Timeout)):
                session.run_rows(aes, [[i] for i in range(20000)])
            assert time.monotonic() - started < 20
            killer.join()
        finally:
            child.kill()
            child.wait()


def test_sessions_release_the_gil() -> None:
    aes = garbled.Circuit.generate("aes128", count=20)
    inputs = [AES_KEY, AES_PLAINTEXT]
    garbled.run_local(aes, inputs)  # warm up
    # A pure-Python thread keeps counting while a session computes.
    count = [0]
    stop = threading.Event()

    def counter() -> None:
        while not stop.is_set():
            count[0] += 1

    t = threading.Thread(target=counter)
    t.start()
    started = time.monotonic()
    garbled.run_local(aes, inputs)
    session_time = time.monotonic() - started
    stop.set()
    t.join()
    assert count[0] > 1000, (count[0], session_time)
    # Two sessions in two threads take no longer than one after the other.
    sequential = []
    concurrent = []
    for _ in range(3):
        started = time.monotonic()
        garbled.run_local(aes, inputs)
        garbled.run_local(aes, inputs)
        sequential.append(time.monotonic() - started)
        threads = [threading.Thread(target=garbled.run_local, args=(aes, inputs)) for _ in range(2)]
        started = time.monotonic()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        concurrent.append(time.monotonic() - started)
    assert min(concurrent) <= 1.25 * min(sequential), (concurrent, sequential)


WAITER = textwrap.dedent(
    """
    import sys, garbled
    what = sys.argv[1]
    if what == "accept":
        listener = garbled.Listener("127.0.0.1:0", insecure=True)
        print("waiting", flush=True)
        listener.accept(role="garbler", timeout=60)
    else:
        s = garbled.connect(sys.argv[2], role="evaluator", insecure=True, timeout=60)
        print("waiting", flush=True)
        s.run(garbled.Circuit.generate("add", bits=8), [1])
    """
)


@pytest.mark.parametrize("what", ["accept", "session"])
def test_ctrl_c_stops_a_waiting_call_within_a_second(tmp_path, what) -> None:
    script = tmp_path / "waiter.py"
    script.write_text(WAITER)
    listener = garbled.Listener("127.0.0.1:0", insecure=True)
    args = [sys.executable, str(script), what, f"127.0.0.1:{listener.port}"]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    held = None
    try:
        if what == "session":
            held = listener.accept(role="garbler", timeout=30)  # accepted, then silent
        assert child.stdout.readline().strip() == "waiting"
        time.sleep(0.5)
        child.send_signal(signal.SIGINT)
        started = time.monotonic()
        child.wait(timeout=10)
        elapsed = time.monotonic() - started
        assert "KeyboardInterrupt" in child.stderr.read()
        assert child.returncode != 0
        assert elapsed < 1.0, elapsed
    finally:
        child.kill()
        child.wait()
        listener.close()
        del held


def test_numpy_rows_are_range_checked_and_shaped(identities) -> None:
    add = garbled.Circuit.generate("add", bits=8)
    too_wide = np.array([[1], [300]], dtype=np.int64)
    with pytest.raises(garbled.UsageError, match=r"row 1, group 1 \(8 bits\): 300 does not fit"):
        pair(lambda s: s.run_rows(add, too_wide), lambda s: s.run_rows(add, [[1], [2]]), identities)
    with pytest.raises(garbled.UsageError, match="2 column"):
        pair(lambda s: s.run_rows(add, np.zeros((2, 2), dtype=np.uint8)), lambda s: s.run_rows(add, [[1], [2]]), identities)
    # Negative values are two's complement in the group's width, as with lists.
    g, e = pair(
        lambda s: s.run_rows(add, np.array([[-1], [-128], [127]], dtype=np.int8)),
        lambda s: s.run_rows(add, np.array([[1], [0], [1]], dtype=np.uint64)),
        identities,
    )
    assert g.dtype == np.uint64 and g.tolist() == [[0], [128], [128]] == e.tolist()
