//! The handshake: both parties announce what they are about to run, and any disagreement ends the
//! session on both sides with an error that names the field and both values.
//!
//! Frame: the magic `GARBLED\0` (8 bytes), the protocol version (u32, little endian), the payload
//! length (u32, at most [`MAX_HELLO`]) and a bincode-2 payload ([`Hello`]) decoded with the same
//! limit. A peer that is not a `garbled` endpoint, speaks another version or sends an oversized
//! or malformed frame gets a typed error, never a panic or a large allocation.

use serde::{Deserialize, Serialize};

use super::{Party, Reveal};
use crate::error::{Error, Result};
use crate::net::Channel;

/// The first bytes of every session.
pub const MAGIC: [u8; 8] = *b"GARBLED\0";
/// The protocol version: bumped whenever the wire format or the cryptography changes.
pub const VERSION: u32 = 10;
/// The garbling scheme both sides must use (the default, half-gates).
pub const SCHEME: &str = "half-gates/tccr-aes128/kos-cot/vsot-ristretto255";

/// The scheme field of the hello for a garbling scheme.
pub fn scheme_name(scheme: crate::garble::Scheme) -> String {
    match scheme {
        crate::garble::Scheme::HalfGates => SCHEME.to_string(),
        crate::garble::Scheme::ThreeHalves => {
            "three-halves/tccr-aes128/kos-cot/vsot-ristretto255".to_string()
        }
    }
}
/// Largest handshake payload accepted.
pub const MAX_HELLO: usize = 1 << 16;
/// Most input or output groups a handshake may describe.
pub const MAX_GROUPS: usize = 4096;

/// What a party announces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Which side the sender plays.
    pub role: Party,
    /// BLAKE3 digest of the compiled circuit.
    pub digest: [u8; 32],
    /// Input group widths.
    pub input_widths: Vec<u32>,
    /// Owner of each input group.
    pub owners: Vec<Party>,
    /// Output group widths.
    pub output_widths: Vec<u32>,
    /// Who learns each output group.
    pub reveal: Vec<Reveal>,
    /// The garbling scheme.
    pub scheme: String,
    /// The security level: `semi-honest` or `malicious` (authenticated garbling).
    pub security: String,
    /// How many times the circuit runs in this session.
    pub runs: u64,
    /// What the session is for, in words both parties must agree on (for example the number of
    /// rows of a comparison job).
    pub job: String,
    /// How integers map onto wires (`lsb0` or `msb0`): parties that read their values with
    /// different bit orders would both get wrong answers without noticing.
    pub bit_order: String,
    /// The shard of a sharded job (job id, index, count), if the session is one.
    pub shard: Option<super::ShardTag>,
    /// A fresh random value; the session nonce and id derive from both parties' nonces.
    pub nonce: u64,
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_little_endian()
        .with_fixed_int_encoding()
        .with_limit::<MAX_HELLO>()
}

/// The pairing of a sharded job's sessions: the same job id and shard count on both sides, and
/// the same shard index (shard `i` of one side pairs only with shard `i` of the other).
fn compare_shards(ours: Option<&super::ShardTag>, peer: Option<&super::ShardTag>) -> Result<()> {
    let describe =
        |s: Option<&super::ShardTag>| s.map_or("not a shard".to_string(), |s| s.to_string());
    match (ours, peer) {
        (None, None) => Ok(()),
        (Some(a), Some(b)) if a == b => Ok(()),
        (Some(a), Some(b)) if a.job != b.job => Err(Error::Mismatch {
            field: "sharded job id",
            ours: quoted(&a.job),
            peer: quoted(&b.job),
            hint: "the peer belongs to another job: both sides must pass the same job id",
        }),
        (Some(a), Some(b)) if a.count != b.count => Err(Error::Mismatch {
            field: "shard count",
            ours: a.count.to_string(),
            peer: b.count.to_string(),
            hint: "both sides must split the rows into the same number of shards (one per endpoint)",
        }),
        (Some(a), Some(b)) => Err(Error::Mismatch {
            field: "shard index",
            ours: a.index.to_string(),
            peer: b.index.to_string(),
            hint: "shard i of one side pairs only with shard i of the other: both sides must list the same endpoints in the same order",
        }),
        (a, b) => Err(Error::Mismatch {
            field: "sharding",
            ours: describe(a),
            peer: describe(b),
            hint: "both sides must run the job sharded the same way",
        }),
    }
}

/// Sends our hello.
pub fn send<C: Channel + ?Sized>(channel: &mut C, hello: &Hello) -> Result<Vec<u8>> {
    let payload = bincode::serde::encode_to_vec(hello, config())
        .map_err(|e| Error::arg(format!("cannot encode the handshake: {e}")))?;
    channel.write_all(&MAGIC)?;
    channel.write_all(&VERSION.to_le_bytes())?;
    channel.write_all(&(payload.len() as u32).to_le_bytes())?;
    channel.write_all(&payload)?;
    channel.flush()?;
    Ok(payload)
}

/// Receives and decodes the peer's hello (with its raw payload, for the transcript).
pub fn receive<C: Channel + ?Sized>(channel: &mut C) -> Result<(Hello, Vec<u8>)> {
    let mut magic = [0u8; 8];
    channel.read_exact(&mut magic)?;
    if magic != MAGIC {
        return Err(Error::peer(format!(
            "the peer is not a garbled endpoint (it sent {:02x?} instead of the magic {:02x?})",
            magic, MAGIC
        )));
    }
    let mut word = [0u8; 4];
    channel.read_exact(&mut word)?;
    let version = u32::from_le_bytes(word);
    if version != VERSION {
        return Err(Error::Mismatch {
            field: "protocol version",
            ours: VERSION.to_string(),
            peer: version.to_string(),
            hint: "both parties must run the same garbled release",
        });
    }
    channel.read_exact(&mut word)?;
    let len = u32::from_le_bytes(word) as usize;
    if len > MAX_HELLO {
        return Err(Error::peer(format!(
            "handshake of {len} bytes, more than the {MAX_HELLO} allowed"
        )));
    }
    let mut payload = vec![0u8; len];
    channel.read_exact(&mut payload)?;
    let (hello, used): (Hello, usize) = bincode::serde::decode_from_slice(&payload, config())
        .map_err(|e| Error::peer(format!("malformed handshake: {e}")))?;
    if used != len {
        return Err(Error::peer(format!(
            "handshake carries {} bytes after its end",
            len - used
        )));
    }
    if hello.input_widths.len() > MAX_GROUPS || hello.output_widths.len() > MAX_GROUPS {
        return Err(Error::peer("handshake describes more groups than allowed"));
    }
    Ok((hello, payload))
}

/// Peer-supplied text in an error message: escaped and cut (it goes to a terminal).
const SHOWN: usize = 200;

fn list<T: std::fmt::Debug>(v: &[T]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x:?}").to_lowercase()).collect();
    crate::text::escape(&format!("[{}]", parts.join(", ")), SHOWN)
}

fn quoted(text: &str) -> String {
    format!("'{}'", crate::text::escape(text, SHOWN))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks the peer's hello against ours; the first difference is the error.
pub fn compare(ours: &Hello, peer: &Hello) -> Result<()> {
    if peer.role == ours.role {
        let name = if ours.role == Party::Garbler {
            "garbler"
        } else {
            "evaluator"
        };
        return Err(Error::Mismatch {
            field: "role",
            ours: name.into(),
            peer: name.into(),
            hint: "one party must run with --role garbler and the other with --role evaluator",
        });
    }
    compare_shards(ours.shard.as_ref(), peer.shard.as_ref())?;
    if peer.scheme != ours.scheme {
        return Err(Error::Mismatch {
            field: "garbling scheme",
            ours: quoted(&ours.scheme),
            peer: quoted(&peer.scheme),
            hint: "both parties must pass the same --scheme (and run the same garbled release)",
        });
    }
    if peer.security != ours.security {
        return Err(Error::Mismatch {
            field: "security level",
            ours: quoted(&ours.security),
            peer: quoted(&peer.security),
            hint: "both parties must pass the same --security",
        });
    }
    if peer.job != ours.job {
        return Err(Error::Mismatch {
            field: "job",
            ours: quoted(&ours.job),
            peer: quoted(&peer.job),
            hint: "both parties must run the same job (same command, widths and row counts)",
        });
    }
    if peer.bit_order != ours.bit_order {
        return Err(Error::Mismatch {
            field: "bit order",
            ours: quoted(&ours.bit_order),
            peer: quoted(&peer.bit_order),
            hint: "both parties must pass the same --bit-order",
        });
    }
    if peer.input_widths != ours.input_widths {
        return Err(Error::Mismatch {
            field: "input widths",
            ours: list(&ours.input_widths),
            peer: list(&peer.input_widths),
            hint: "both parties must load the same circuit (and --bits)",
        });
    }
    if peer.output_widths != ours.output_widths {
        return Err(Error::Mismatch {
            field: "output widths",
            ours: list(&ours.output_widths),
            peer: list(&peer.output_widths),
            hint: "both parties must load the same circuit (and --bits)",
        });
    }
    if peer.digest != ours.digest {
        return Err(Error::Mismatch {
            field: "circuit digest",
            ours: hex(&ours.digest),
            peer: hex(&peer.digest),
            hint: "both parties must load the same circuit file",
        });
    }
    if peer.owners != ours.owners {
        return Err(Error::Mismatch {
            field: "input owners",
            ours: list(&ours.owners),
            peer: list(&peer.owners),
            hint: "both parties must pass the same --owners",
        });
    }
    if peer.reveal != ours.reveal {
        return Err(Error::Mismatch {
            field: "output routing",
            ours: list(&ours.reveal),
            peer: list(&peer.reveal),
            hint: "both parties must pass the same --reveal",
        });
    }
    if peer.runs != ours.runs {
        return Err(Error::Mismatch {
            field: "number of runs",
            ours: ours.runs.to_string(),
            peer: peer.runs.to_string(),
            hint: "both parties must process the same number of rows",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(job: &str, scheme: &str) -> Hello {
        Hello {
            role: Party::Garbler,
            digest: [0; 32],
            input_widths: vec![8],
            owners: vec![Party::Garbler],
            output_widths: vec![1],
            reveal: vec![Reveal::Both],
            scheme: scheme.into(),
            security: "semi-honest".into(),
            runs: 1,
            job: job.into(),
            bit_order: "lsb0".into(),
            shard: None,
            nonce: 0,
        }
    }

    #[test]
    fn peer_text_in_errors_is_escaped_and_cut() {
        let ours = hello("run", SCHEME);
        let mut theirs = hello(&format!("\u{1b}[2J\u{7}{}", "x".repeat(10_000)), SCHEME);
        theirs.role = Party::Evaluator;
        let e = compare(&ours, &theirs).unwrap_err().to_string();
        assert!(!e.chars().any(|c| c.is_control()), "{e:?}");
        assert!(e.len() < 1000, "{} characters", e.len());
        let mut theirs = hello("run", "evil\u{1b}]0;title\u{7}");
        theirs.role = Party::Evaluator;
        let e = compare(&ours, &theirs).unwrap_err().to_string();
        assert!(e.contains("garbling scheme differs"), "{e}");
        assert!(!e.chars().any(|c| c.is_control()), "{e:?}");
    }

    #[test]
    fn a_peer_of_another_shard_or_job_is_named() {
        let tag = |job: &str, index, count| {
            Some(super::super::ShardTag {
                job: job.into(),
                index,
                count,
            })
        };
        let mut ours = hello("run", SCHEME);
        ours.shard = tag("j", 0, 4);
        let cases = [
            (tag("j", 1, 4), "shard index differs"),
            (tag("k", 0, 4), "sharded job id differs"),
            (tag("j", 0, 3), "shard count differs"),
            (None, "sharding differs"),
        ];
        for (shard, expected) in cases {
            let mut theirs = hello("run", SCHEME);
            theirs.role = Party::Evaluator;
            theirs.shard = shard;
            let e = compare(&ours, &theirs).unwrap_err();
            assert_eq!(e.kind(), "mismatch");
            assert!(e.to_string().contains(expected), "{e}");
        }
        let mut theirs = hello("run", SCHEME);
        theirs.role = Party::Evaluator;
        theirs.shard = tag("j", 0, 4);
        assert!(compare(&ours, &theirs).is_ok());
    }
}
