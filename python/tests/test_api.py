"""The package's API: circuits, plain evaluation, local runs, identities, errors."""

from __future__ import annotations

import random
import re
import subprocess
import sys
import threading
import time

import pytest

import garbled
from conftest import AES_CIPHERTEXT, AES_KEY, AES_PLAINTEXT, CIRCUITS, REPO


def test_every_public_name_explains_itself() -> None:
    for name in garbled.__all__:
        if name == "__version__":
            continue
        obj = getattr(garbled, name)
        assert obj.__doc__ and len(obj.__doc__.strip()) > 20, name
    assert "role" in garbled.connect.__doc__
    assert "address" in garbled.connect.__text_signature__


def test_circuit_properties_of_a_file_and_a_generator() -> None:
    aes = garbled.Circuit.load(CIRCUITS / "aes128.txt")
    assert (aes.and_count, aes.inputs, aes.outputs) == (6400, [128, 128], [128])
    assert aes.xor_count > 20000
    assert re.fullmatch("[0-9a-f]{64}", aes.digest)
    built = garbled.Circuit.generate("aes128")
    assert built.digest == aes.digest
    add = garbled.Circuit.generate("add", bits=16)
    assert (add.inputs, add.outputs) == ([16, 16], [16])
    s = garbled.Circuit.generate("sum", bits=8, count=5)
    assert s.inputs == [8] * 5
    chain = garbled.Circuit.generate("aes128", count=3)
    assert chain.and_count == 3 * 6400


def test_generator_arguments_are_checked() -> None:
    with pytest.raises(garbled.UsageError, match="fixed widths"):
        garbled.Circuit.generate("sha256", bits=8)
    with pytest.raises(garbled.UsageError, match="count"):
        garbled.Circuit.generate("add", count=3)
    with pytest.raises(garbled.UsageError):
        garbled.Circuit.generate("no-such-circuit")


def test_evaluate_takes_negative_values_as_twos_complement() -> None:
    add = garbled.Circuit.generate("add", bits=32)
    assert garbled.evaluate(add, [5, -7]) == [(5 - 7) % 2**32]
    assert garbled.evaluate(add, [2**32 - 1, 1]) == [0]
    with pytest.raises(garbled.UsageError, match="does not fit in 32 bits"):
        garbled.evaluate(add, [2**32, 0])
    with pytest.raises(garbled.UsageError, match="does not fit"):
        garbled.evaluate(add, [-(2**31) - 1, 0])
    with pytest.raises(garbled.UsageError, match="2 input group"):
        garbled.evaluate(add, [1])
    with pytest.raises(garbled.UsageError, match="expected an int"):
        garbled.evaluate(add, [1.5, 2])


def test_aes_fips197_in_the_clear_and_locally() -> None:
    aes = garbled.Circuit.load(CIRCUITS / "aes128.txt")
    assert garbled.evaluate(aes, [AES_KEY, AES_PLAINTEXT]) == [AES_CIPHERTEXT]
    for security, scheme in [("semi-honest", "half-gates"), ("semi-honest", "three-halves"), ("malicious", "half-gates")]:
        if True:
            result = garbled.run_local(aes, [AES_KEY, AES_PLAINTEXT], security=security, scheme=scheme)
            assert result.outputs == [AES_CIPHERTEXT], (security, scheme)
            assert result.stats["security"] == security
            assert result.stats["scheme"] == scheme
            assert result.stats["and_gates"] == 6400
    with pytest.raises(garbled.UsageError, match="semi-honest only"):
        garbled.run_local(aes, [AES_KEY, AES_PLAINTEXT], security="malicious", scheme="three-halves")


def test_run_local_matches_evaluate_on_every_shipped_circuit() -> None:
    files = sorted(CIRCUITS.glob("*.txt"))
    assert len(files) >= 15
    rng = random.Random(7)
    for path in files:
        circuit = garbled.Circuit.load(path)
        for _ in range(2):
            inputs = [rng.randrange(2**w) for w in circuit.inputs]
            expected = garbled.evaluate(circuit, inputs)
            assert garbled.run_local(circuit, inputs).outputs == expected, path.name


def test_stats_have_the_keys_of_the_cli_json(cli) -> None:
    out = subprocess.run(
        [str(cli), "run", str(CIRCUITS / "add32.txt"), "--input", "5", "--input", "7", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    import json

    cli_stats = json.loads(out.stdout)["stats"]
    add = garbled.Circuit.load(CIRCUITS / "add32.txt")
    result = garbled.run_local(add, [5, 7])
    assert result.outputs == [12]
    assert set(result.stats) == set(cli_stats)
    assert set(result.stats["phases"]) == set(cli_stats["phases"])


def test_a_malformed_circuit_names_its_line(tmp_path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("2 5\n2 1 1\n1 1\n\n2 1 0 1 2 AND\n2 1 2 9 4 XOR\n")
    with pytest.raises(garbled.CircuitError) as caught:
        garbled.Circuit.load(bad)
    assert f"{bad}:6:" in str(caught.value)
    assert caught.value.kind == "circuit"
    with pytest.raises(garbled.UsageError, match="cannot open"):
        garbled.Circuit.load(tmp_path / "missing.txt")


def test_keygen_and_fingerprint(tmp_path) -> None:
    path = tmp_path / "me.pem"
    fp = garbled.keygen(path)
    assert re.fullmatch("[0-9a-f]{64}", fp)
    assert garbled.fingerprint(path) == fp
    assert (path.stat().st_mode & 0o777) == 0o600
    with pytest.raises(garbled.UsageError, match="exists"):
        garbled.keygen(path)
    assert garbled.keygen(path, force=True) != fp
    with pytest.raises(garbled.GarbledError):
        garbled.fingerprint(tmp_path / "nothing.pem")


def test_exceptions_are_garbled_errors_and_builtin_ones() -> None:
    assert issubclass(garbled.Timeout, garbled.GarbledError)
    assert issubclass(garbled.Timeout, TimeoutError)
    for cls in (garbled.CircuitError, garbled.UsageError, garbled.PeerError, garbled.IoError):
        assert issubclass(cls, garbled.GarbledError)


def test_insecure_is_required_without_identities(identities) -> None:
    with pytest.raises(garbled.UsageError, match="insecure=True"):
        garbled.Listener("127.0.0.1:0")
    with pytest.raises(garbled.UsageError, match="insecure=True"):
        garbled.connect("127.0.0.1:1", role="evaluator")
    with pytest.raises(garbled.UsageError, match="insecure=True"):
        garbled.Listener("127.0.0.1:0", identity=identities["a"])
    with pytest.raises(garbled.UsageError, match="does not take identity"):
        garbled.Listener("127.0.0.1:0", insecure=True, peer=identities["b_fp"])
    with pytest.raises(garbled.UsageError, match="own fingerprint"):
        garbled.Listener("127.0.0.1:0", identity=identities["a"], peer=identities["a_fp"])
    with pytest.raises(garbled.UsageError, match="garbler or evaluator"):
        garbled.connect("127.0.0.1:1", role="judge", insecure=True)
    listener = garbled.Listener("127.0.0.1:0", insecure=True)
    assert listener.port > 0
    listener.close()


def test_a_waiting_listener_times_out_with_a_timeout_error() -> None:
    with garbled.Listener("127.0.0.1:0", insecure=True) as listener:
        started = time.monotonic()
        with pytest.raises(garbled.Timeout) as caught:
            listener.accept(role="garbler", timeout=0.5)
        assert isinstance(caught.value, TimeoutError)
        assert time.monotonic() - started < 5


def test_the_example_runs(tmp_path) -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / "hospitals.py"), "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    # The two hospitals' counts per condition are fixed in the example; both print the totals.
    lines = [l for l in out.stdout.splitlines() if l.startswith("hospital")]
    assert len(lines) == 2, out.stdout
    totals = {l.split(":", 1)[1].strip() for l in lines}
    assert len(totals) == 1, out.stdout
    assert "totals" in out.stdout
