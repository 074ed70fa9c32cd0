//! Identities and fingerprints: a party's private key and self-signed certificate (made by
//! `garbled keygen` with rcgen, read back from one PEM file through the `pem` crate), and the
//! fingerprint parties exchange and pin, SHA-256 of the certificate's DER SubjectPublicKeyInfo
//! as in RFC 7469's public-key pins (the SPKI taken out of the certificate by webpki). Keys and
//! the file buffers that held them are wiped when dropped.

use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, SubjectPublicKeyInfoDer,
};
use sha2::Digest;

use crate::error::{Error, Result};

/// Identity files larger than this are refused before they are read.
pub(crate) const MAX_IDENTITY_FILE: u64 = 1 << 20;
/// The name in every certificate we make, and the one the client asks for (nobody checks it).
pub(crate) const NAME: &str = "garbled";

/// SHA-256 of a certificate's SubjectPublicKeyInfo: what parties exchange and pin.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER SubjectPublicKeyInfo.
    pub fn of_spki(spki: &[u8]) -> Self {
        Fingerprint(sha2::Sha256::digest(spki).into())
    }

    /// The fingerprint of a DER certificate's key.
    pub fn of_certificate(der: &[u8]) -> Result<Self> {
        Ok(Fingerprint::of_spki(spki_of_certificate(der)?.as_ref()))
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = Error;
    /// 64 hexadecimal digits (either case).
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.len() != 64 || !s.is_ascii() {
            return Err(Error::arg(format!(
                "a fingerprint is 64 hexadecimal digits (as printed by `garbled keygen`); got {} characters",
                s.chars().count()
            )));
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| {
                Error::arg(format!(
                    "a fingerprint is 64 hexadecimal digits (as printed by `garbled keygen`); '{}' is not hexadecimal",
                    crate::text::escape(&s[2 * i..2 * i + 2], 8)
                ))
            })?;
        }
        Ok(Fingerprint(out))
    }
}

/// The DER SubjectPublicKeyInfo of a DER X.509 certificate (RFC 5280 §4.1), as parsed by
/// webpki, the X.509 parser rustls verifies certificates with (v3 certificates only, as `rcgen`
/// and `openssl req -x509` make them).
pub fn spki_of_certificate(der: &[u8]) -> Result<SubjectPublicKeyInfoDer<'static>> {
    let der = CertificateDer::from(der);
    let cert = webpki::EndEntityCert::try_from(&der)
        .map_err(|e| Error::arg(format!("not a well-formed X.509 certificate ({e})")))?;
    Ok(cert.subject_public_key_info())
}

/// Our key pair and self-signed certificate. The PKCS#8 key is wiped when the identity is
/// dropped; rustls is handed a signing key made from a borrowed view of it, never a copy.
pub struct Identity {
    certificate: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    fingerprint: Fingerprint,
}

impl Drop for Identity {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity({}, <secret key>)", self.fingerprint)
    }
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            certificate: self.certificate.clone(),
            key: self.key.clone_key(),
            fingerprint: self.fingerprint,
        }
    }
}

impl Identity {
    /// A new ECDSA P-256 key and a self-signed certificate for it.
    pub fn generate() -> Result<Self> {
        let failed = |e: rcgen::Error| Error::SelfCheck(format!("creating a key pair: {e}"));
        let key = rcgen::KeyPair::generate().map_err(failed)?;
        let mut params = rcgen::CertificateParams::new(vec![NAME.to_string()]).map_err(failed)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "garbled identity");
        let certificate = params.self_signed(&key).map_err(failed)?;
        let certificate = certificate.der().clone();
        let fingerprint = Fingerprint::of_certificate(&certificate)?;
        Ok(Identity {
            certificate,
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
            fingerprint,
        })
    }

    /// The identity as one PEM text: the private key, then the certificate (wiped when
    /// dropped).
    pub fn to_pem(&self) -> zeroize::Zeroizing<String> {
        let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
        let key = pem::Pem::new("PRIVATE KEY", self.key.secret_pkcs8_der());
        let certificate = pem::Pem::new("CERTIFICATE", self.certificate.as_ref());
        let key_text = zeroize::Zeroizing::new(pem::encode_config(&key, config));
        let certificate_text = pem::encode_config(&certificate, config);
        // One allocation of the final size: growing the string would free an unwiped copy.
        let mut text = zeroize::Zeroizing::new(String::with_capacity(
            key_text.len() + certificate_text.len(),
        ));
        text.push_str(&key_text);
        text.push_str(&certificate_text);
        // `pem::Pem` keeps its own copy of the key's bytes.
        let mut contents = key.into_contents();
        zeroize::Zeroize::zeroize(&mut contents);
        text
    }

    /// Reads an identity from PEM text: exactly one certificate and one PKCS#8 private key. The
    /// PEM blocks are decoded by the `pem` crate into buffers that are wiped when dropped.
    pub fn from_pem(pem: &[u8]) -> Result<Self> {
        let mut blocks = pem_blocks(pem)?;
        let certificate = only_certificate_of(&blocks)?;
        let mut keys = blocks
            .iter_mut()
            .filter(|b| b.tag().ends_with("PRIVATE KEY"))
            .map(|b| (b.tag() == "PRIVATE KEY", std::mem::take(b)));
        let key = match keys.next() {
            Some((true, mut der)) if keys.next().is_none() => {
                PrivatePkcs8KeyDer::from(std::mem::take(&mut *der.contents))
            }
            Some((true, _)) => {
                return Err(Error::arg(
                    "more than one private key found; an identity holds exactly one",
                ));
            }
            Some((false, _)) => {
                return Err(Error::arg(
                    "the private key is not PKCS#8 (make identities with `garbled keygen`)",
                ));
            }
            None => {
                return Err(Error::arg(
                    "no private key found (an identity file holds a PRIVATE KEY and a CERTIFICATE, as written by `garbled keygen`)",
                ));
            }
        };
        let fingerprint = Fingerprint::of_certificate(&certificate)?;
        let identity = Identity {
            certificate,
            key,
            fingerprint,
        };
        // The key must belong to the certificate, or the handshake would fail on the peer's side
        // with a far less helpful message.
        let signer = identity.signing_key()?;
        match signer.public_key() {
            Some(spki) if Fingerprint::of_spki(&spki) == fingerprint => Ok(identity),
            Some(_) => Err(Error::arg(
                "the private key does not belong to the certificate in the same file",
            )),
            None => Err(Error::arg(
                "the private key's public half cannot be derived",
            )),
        }
    }

    /// The signing key rustls uses, made from a borrowed view of our key (no copy to wipe).
    pub(crate) fn signing_key(&self) -> Result<Arc<dyn rustls::sign::SigningKey>> {
        let borrowed = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.secret_pkcs8_der()));
        rustls::crypto::ring::sign::any_supported_type(&borrowed)
            .map_err(|e| Error::arg(format!("the private key is unusable: {e}")))
    }

    /// Our certificate and signing key, as both TLS roles present them.
    pub(crate) fn certified(&self) -> Result<Arc<rustls::sign::SingleCertAndKey>> {
        let key =
            rustls::sign::CertifiedKey::new(vec![self.certificate.clone()], self.signing_key()?);
        Ok(Arc::new(rustls::sign::SingleCertAndKey::from(key)))
    }

    /// Reads an identity file; every error names the path.
    pub fn load(path: &Path) -> Result<Self> {
        let pem = read_small(path)?;
        Identity::from_pem(&pem)
            .map_err(|e| Error::arg(format!("identity file {}: {e}", path.display())))
    }

    /// The fingerprint to give the peer.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }
}

/// The fingerprint of the certificate in a PEM file (an identity file or a certificate alone).
pub fn fingerprint_of_file(path: &Path) -> Result<Fingerprint> {
    let pem = read_small(path)?;
    let certificate =
        only_certificate(&pem).map_err(|e| Error::arg(format!("{}: {e}", path.display())))?;
    Fingerprint::of_certificate(&certificate)
        .map_err(|e| Error::arg(format!("{}: {e}", path.display())))
}

/// Reads a small file into a buffer that is wiped when dropped (an identity file holds a key).
fn read_small(path: &Path) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let cannot = |e: io::Error| Error::arg(format!("cannot read {}: {e}", path.display()));
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if !meta.is_file() {
        return Err(Error::arg(format!("{} is not a file", path.display())));
    }
    if meta.len() > MAX_IDENTITY_FILE {
        return Err(Error::arg(format!(
            "{} is {} bytes; an identity file is a few hundred",
            path.display(),
            meta.len()
        )));
    }
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    // Read into a buffer that never reallocates (a reallocation would free an unwiped copy).
    let limit = meta.len() + 1;
    let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(limit as usize));
    (&mut file)
        .take(limit)
        .read_to_end(&mut buf)
        .map_err(cannot)?;
    if buf.len() as u64 > meta.len() {
        return Err(Error::arg(format!(
            "{} grew while being read",
            path.display()
        )));
    }
    Ok(buf)
}

/// One decoded PEM block whose contents are wiped when dropped.
#[derive(Default)]
struct PemBlock {
    tag: String,
    contents: zeroize::Zeroizing<Vec<u8>>,
}

impl PemBlock {
    fn tag(&self) -> &str {
        &self.tag
    }
}

/// Every PEM block of `text`, decoded (`pem` crate).
fn pem_blocks(text: &[u8]) -> Result<Vec<PemBlock>> {
    let parsed = pem::parse_many(text).map_err(|e| Error::arg(format!("malformed PEM: {e}")))?;
    Ok(parsed
        .into_iter()
        .map(|p| PemBlock {
            tag: p.tag().to_string(),
            contents: zeroize::Zeroizing::new(p.into_contents()),
        })
        .collect())
}

fn only_certificate(pem: &[u8]) -> Result<CertificateDer<'static>> {
    only_certificate_of(&pem_blocks(pem)?)
}

fn only_certificate_of(blocks: &[PemBlock]) -> Result<CertificateDer<'static>> {
    let mut certificates = blocks.iter().filter(|b| b.tag() == "CERTIFICATE");
    let first = certificates
        .next()
        .ok_or_else(|| Error::arg("no certificate found (expected a PEM CERTIFICATE block)"))?;
    if certificates.next().is_some() {
        return Err(Error::arg(
            "more than one certificate found; an identity holds exactly one",
        ));
    }
    Ok(CertificateDer::from(first.contents.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_round_trip_through_pem() {
        let id = Identity::generate().unwrap();
        let pem = id.to_pem();
        let back = Identity::from_pem(pem.as_bytes()).unwrap();
        assert_eq!(back.fingerprint(), id.fingerprint());
        assert_eq!(back.certificate, id.certificate);
        let certificate_only = pem[pem.find("-----BEGIN CERTIFICATE").unwrap()..].to_string();
        assert!(Identity::from_pem(certificate_only.as_bytes()).is_err());
        // Another key with this certificate is refused.
        let other = Identity::generate().unwrap().to_pem();
        let key_only = &other[..other.find("-----BEGIN CERTIFICATE").unwrap()];
        let mixed = format!("{key_only}{certificate_only}");
        assert!(Identity::from_pem(mixed.as_bytes()).is_err());
    }

    #[test]
    fn fingerprints_parse_strictly() {
        let id = Identity::generate().unwrap();
        let text = id.fingerprint().to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<Fingerprint>().unwrap(), id.fingerprint());
        assert!(text[..63].parse::<Fingerprint>().is_err());
        assert!(format!("{}g", &text[..63]).parse::<Fingerprint>().is_err());
        assert!("é".repeat(32).parse::<Fingerprint>().is_err());
    }

    #[test]
    fn the_spki_walker_refuses_garbage() {
        assert!(spki_of_certificate(&[]).is_err());
        assert!(spki_of_certificate(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(spki_of_certificate(&[0x30, 0x03, 0x30, 0x01, 0x02]).is_err());
    }

    /// The fingerprint of a certificate's key as OpenSSL computes it: SHA-256 of the DER
    /// SubjectPublicKeyInfo that `openssl x509 -pubkey | openssl pkey -pubin -outform DER`
    /// prints. `None` (with a printed reason) where the command is missing.
    fn openssl(args: &[&str], input: Option<&[u8]>) -> Option<Vec<u8>> {
        use std::process::{Command, Stdio};
        let mut child = match Command::new("openssl")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => {
                println!("SKIPPED: openssl is not available ({e})");
                return None;
            }
        };
        if let Some(input) = input {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(input).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(out.stdout)
    }

    #[test]
    fn fingerprints_match_openssl_for_rcgen_and_openssl_certificates() {
        // Ours (rcgen): the SPKI OpenSSL extracts hashes to our fingerprint.
        let id = Identity::generate().unwrap();
        let pem = id.to_pem();
        let cert_pem = &pem[pem.find("-----BEGIN CERTIFICATE").unwrap()..];
        let Some(pubkey) = openssl(&["x509", "-pubkey", "-noout"], Some(cert_pem.as_bytes()))
        else {
            return;
        };
        let spki = openssl(&["pkey", "-pubin", "-outform", "DER"], Some(&pubkey)).unwrap();
        assert_eq!(Fingerprint::of_spki(&spki), id.fingerprint());
        // OpenSSL's own self-signed P-256 certificate: our reading of it agrees with OpenSSL's.
        let dir = std::env::temp_dir().join(format!("garbled-openssl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                key.to_str().unwrap(),
                "-out",
                cert.to_str().unwrap(),
                "-subj",
                "/CN=openssl peer",
                "-days",
                "1",
            ],
            None,
        )
        .unwrap();
        let cert_pem = std::fs::read(&cert).unwrap();
        let pubkey = openssl(&["x509", "-pubkey", "-noout"], Some(&cert_pem)).unwrap();
        let spki = openssl(&["pkey", "-pubin", "-outform", "DER"], Some(&pubkey)).unwrap();
        assert_eq!(
            fingerprint_of_file(&cert).unwrap(),
            Fingerprint::of_spki(&spki)
        );
        // An identity file made of OpenSSL's key (PKCS#8) and certificate loads, with that key.
        let mut both = std::fs::read(&key).unwrap();
        both.extend_from_slice(&cert_pem);
        let loaded = Identity::from_pem(&both).unwrap();
        assert_eq!(loaded.fingerprint(), Fingerprint::of_spki(&spki));
        std::fs::remove_dir_all(&dir).ok();
    }
}
