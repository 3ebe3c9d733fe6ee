//! https for the receiver: a throw-away certificate authority per test, and the server side of
//! TLS with its certificate (rustls, ring). The client under test trusts the CA through its PEM
//! ([`TestCa::ca_pem`], e.g. written to the file `OTEL_EXPORTER_OTLP_CERTIFICATE` names).

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::ServerConfig;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// A self-signed CA and a server certificate it signed for `127.0.0.1` and `localhost`.
#[derive(Clone)]
pub struct TestCa {
    ca_pem: String,
    server: Arc<ServerConfig>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

impl TestCa {
    /// Generates the CA and the server certificate (fresh keys each call).
    ///
    /// # Panics
    /// When key generation or signing fails (a broken crypto provider: nothing to test then).
    #[must_use]
    pub fn new() -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "otlp-capture test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
            .expect("self-signed CA");
        let server_key = KeyPair::generate().expect("server key");
        let server_cert =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("server params")
                .signed_by(&server_key, &ca)
                .expect("server certificate");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let server =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("TLS versions")
                .with_no_client_auth()
                .with_single_cert(vec![server_cert.der().clone(), ca.der().clone()], key)
                .expect("server TLS config");
        Self {
            ca_pem: ca.pem(),
            server: Arc::new(server),
        }
    }

    /// The CA certificate, PEM-encoded: what a client must trust to talk to the receiver.
    #[must_use]
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub(crate) fn server_config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.server)
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}
