//! TLS for `amqps://` URLs.
//!
//! lapin does the handshake itself (amq-protocol-tcp over rustls, ring provider); this module
//! only decides which roots the broker's certificate must chain to: the CA bundle the caller
//! gives, or else the system roots. A given bundle replaces the system roots rather than adding
//! to them, so a private broker is trusted only through its own CA. The hostname checked is the
//! URL's host.

use crate::MqError;
use base64::Engine;
use lapin::tcp::OwnedTLSConfig;
use lapin::uri::{AMQPScheme, AMQPUri};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::path::Path;

/// The CA certificates (PEM) a broker's certificate must chain to.
#[derive(Clone, PartialEq, Eq)]
pub struct CaBundle {
    pem: String,
}

impl std::fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaBundle").finish_non_exhaustive()
    }
}

impl CaBundle {
    /// A bundle of one or more PEM certificates; `source` names where it came from (a file, a
    /// Secret key) in the error. Rejects input without a single PEM certificate, because lapin
    /// would otherwise trust nothing and every handshake would fail later, less clearly.
    pub fn from_pem(pem: &[u8], source: &str) -> Result<Self, MqError> {
        let invalid = |reason: String| MqError::InvalidCa {
            origin: source.to_owned(),
            reason,
        };
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| invalid(format!("not PEM certificates: {err}")))?;
        if certs.is_empty() {
            return Err(invalid(
                "no PEM certificate (BEGIN CERTIFICATE) in it".into(),
            ));
        }
        let pem = String::from_utf8(pem.to_vec()).map_err(|_| invalid("not UTF-8 text".into()))?;
        Ok(Self { pem })
    }

    /// Reads a PEM bundle from `path`.
    pub fn from_file(path: &Path) -> Result<Self, MqError> {
        let source = path.display().to_string();
        let pem = std::fs::read(path).map_err(|err| MqError::InvalidCa {
            origin: source.clone(),
            reason: err.to_string(),
        })?;
        Self::from_pem(&pem, &source)
    }

    /// The system's roots (rustls-native-certs: `SSL_CERT_FILE`, `SSL_CERT_DIR` or the
    /// distribution's store), re-encoded as PEM for lapin.
    fn system() -> Result<Self, MqError> {
        let found = rustls_native_certs::load_native_certs();
        if found.certs.is_empty() {
            return Err(MqError::InvalidCa {
                origin: "the system roots".into(),
                reason: format!(
                    "none found ({} errors); give the broker's CA file",
                    found.errors.len()
                ),
            });
        }
        let engine = base64::engine::general_purpose::STANDARD;
        let mut pem = String::new();
        for cert in found.certs {
            let b64 = engine.encode(cert.as_ref());
            pem.push_str("-----BEGIN CERTIFICATE-----\n");
            for line in b64.as_bytes().chunks(64) {
                pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
                pem.push('\n');
            }
            pem.push_str("-----END CERTIFICATE-----\n");
        }
        Ok(Self { pem })
    }
}

/// What lapin needs to open `uri`: nothing for `amqp://`; for `amqps://` the roots, which are
/// `ca` or the system's.
pub(crate) fn tls_config(uri: &AMQPUri, ca: Option<&CaBundle>) -> Result<OwnedTLSConfig, MqError> {
    if uri.scheme != AMQPScheme::AMQPS {
        return Ok(OwnedTLSConfig::default());
    }
    let roots = match ca {
        Some(ca) => ca.clone(),
        None => CaBundle::system()?,
    };
    Ok(OwnedTLSConfig {
        identity: None,
        cert_chain: Some(roots.pem),
    })
}

/// A plain-words reading of a TLS failure, for the messages that need one.
pub(crate) fn explain(error: &str) -> Option<&'static str> {
    if error.contains("InvalidContentType") {
        Some("the port did not answer in TLS: a plain amqp:// listener?")
    } else if error.contains("UnknownIssuer") {
        Some("the broker's certificate is not signed by a trusted CA")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_url;

    #[test]
    fn a_bundle_without_a_certificate_is_refused_naming_its_source() {
        let err = CaBundle::from_pem(b"hello", "Secret ns/ca key ca.crt").unwrap_err();
        let err = err.to_string();
        assert!(err.contains("Secret ns/ca key ca.crt"), "{err}");
        assert!(err.contains("no PEM certificate"), "{err}");
    }

    #[test]
    fn plain_amqp_needs_no_tls_and_amqps_carries_the_given_roots() {
        let plain = tls_config(&parse_url("amqp://h/").unwrap(), None).unwrap();
        assert!(plain.cert_chain.is_none());
        let ca = CaBundle {
            pem: "-----BEGIN CERTIFICATE-----\n...".into(),
        };
        let tls = tls_config(&parse_url("amqps://h/").unwrap(), Some(&ca)).unwrap();
        assert_eq!(tls.cert_chain, Some(ca.pem));
    }

    #[test]
    fn explains_the_two_opaque_failures() {
        assert!(explain("received corrupt message of type InvalidContentType").is_some());
        assert!(explain("invalid peer certificate: UnknownIssuer").is_some());
        assert!(explain("connection refused").is_none());
    }
}
