//! TLS on NNTP links with rustls: STARTTLS (RFC 4642) and the implicit-TLS
//! port on the server side, STARTTLS on the feeder's side.
//!
//! The server's certificate and key are PEM files. When neither exists, a
//! self-signed certificate for the node name is made on first start, as
//! the node key is, so every node can offer STARTTLS without setup.
//!
//! Peers prove who they are with XPEER and their node keys
//! (protocol-spec/peering.md §2), not with certificates, so the feeder
//! accepts any server certificate: TLS keeps the link private and intact,
//! XPEER says who is at the other end. The handshake signature is still
//! checked, so the server must hold the key of the certificate it shows.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// A handshake that takes longer than this is abandoned, so a silent
/// client cannot hold a connection slot in it.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// A byte stream a session or a feed link runs over: plain TCP, or TLS on
/// top of it. Boxed so a connection can swap one for the other after
/// STARTTLS without making every session generic twice over.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

pub type BoxStream = Box<dyn Stream>;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Pem { path: PathBuf, message: String },
    #[error(
        "{present} exists but {missing} does not: give both, or remove {present} \
         to have a self-signed pair made"
    )]
    HalfPair { present: PathBuf, missing: PathBuf },
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("{0:?} cannot be sent as a TLS server name")]
    ServerName(String),
}

/// The node's TLS ends: the acceptor for incoming connections and the
/// connector its feeders use.
#[derive(Clone)]
pub struct Tls {
    pub acceptor: TlsAcceptor,
    pub connector: TlsConnector,
}

impl Tls {
    /// Loads the certificate chain and key, first making a self-signed
    /// pair for `name` when neither file exists. True when it made one.
    pub fn load_or_create(cert: &Path, key: &Path, name: &str) -> Result<(Tls, bool), TlsError> {
        let created = match (cert.exists(), key.exists()) {
            (true, true) => false,
            (false, false) => {
                create_self_signed(cert, key, name)?;
                true
            }
            (true, false) => {
                return Err(TlsError::HalfPair {
                    present: cert.to_path_buf(),
                    missing: key.to_path_buf(),
                })
            }
            (false, true) => {
                return Err(TlsError::HalfPair {
                    present: key.to_path_buf(),
                    missing: cert.to_path_buf(),
                })
            }
        };
        let tls = Tls {
            acceptor: TlsAcceptor::from(server_config(&read_certs(cert)?, read_key(key)?)?),
            connector: TlsConnector::from(client_config()?),
        };
        Ok((tls, created))
    }
}

/// The crypto provider, named explicitly: rustls would otherwise look for
/// a process-wide default, and we build without aws-lc-rs.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn server_config(
    certs: &[CertificateDer<'static>],
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs.to_vec(), key)?;
    Ok(Arc::new(config))
}

/// A client that takes any server certificate (see the module comment).
pub fn client_config() -> Result<Arc<ClientConfig>, TlsError> {
    let provider = provider();
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The name a feeder sends as SNI: the peer's Path identity.
pub fn server_name(name: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(name.to_string()).map_err(|_| TlsError::ServerName(name.to_string()))
}

/// The server side of a handshake on `stream`, bounded in time.
pub async fn accept(acceptor: &TlsAcceptor, stream: BoxStream) -> std::io::Result<BoxStream> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(tls) => Ok(Box::new(tls?)),
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

/// The client side of a handshake on `stream`, bounded in time.
pub async fn connect(
    connector: &TlsConnector,
    name: ServerName<'static>,
    stream: BoxStream,
) -> std::io::Result<BoxStream> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, connector.connect(name, stream)).await {
        Ok(tls) => Ok(Box::new(tls?)),
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = |message: String| TlsError::Pem {
        path: path.to_path_buf(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(pem("no CERTIFICATE block".into()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Pem {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Writes a new key (mode 0600) and a self-signed certificate for `name`.
/// The key goes first: a crash in between leaves a key without a
/// certificate, which the next start reports rather than half-uses.
fn create_self_signed(cert: &Path, key: &Path, name: &str) -> Result<(), TlsError> {
    let pair = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let certificate = params.self_signed(&pair)?;
    write_new(key, pair.serialize_pem().as_bytes(), 0o600)?;
    write_new(cert, certificate.pem().as_bytes(), 0o644)
}

/// Creates `path` with `mode`, refusing to overwrite, and syncs it.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    let io = |source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io)?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io)
}

/// Accepts any server certificate but checks the handshake signature with
/// its key, so the server holds that key; who the server is, XPEER says.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_self_signed_pair_is_made_once_with_a_private_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
        let (_, created) = Tls::load_or_create(&cert, &key, "n1.test").expect("made");
        assert!(created);
        assert_eq!(
            std::fs::metadata(&key).expect("meta").permissions().mode() & 0o777,
            0o600
        );
        let first = std::fs::read(&cert).expect("cert");
        let (_, created) = Tls::load_or_create(&cert, &key, "n1.test").expect("loaded");
        assert!(!created);
        assert_eq!(std::fs::read(&cert).expect("cert"), first, "not remade");
    }

    #[test]
    fn half_a_pair_or_a_bad_file_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
        std::fs::write(&key, "not pem").expect("write");
        let err = Tls::load_or_create(&cert, &key, "n1.test")
            .err()
            .expect("refused");
        assert!(matches!(err, TlsError::HalfPair { .. }), "{err}");
        std::fs::write(&cert, "not pem either").expect("write");
        let err = Tls::load_or_create(&cert, &key, "n1.test")
            .err()
            .expect("refused");
        assert!(matches!(err, TlsError::Pem { .. }), "{err}");
    }

    #[test]
    fn path_identities_are_server_names() {
        for name in ["n1.test", "news.example.org", "localhost", "127.0.0.1"] {
            assert!(server_name(name).is_ok(), "{name}");
        }
        assert!(server_name("").is_err());
    }
}
