//! TLS to the database, with rustls: the server's certificate is checked against the system's
//! roots or, when `HOLDPOINT_DATABASE_CA_FILE` names one, that CA, and the host name against it.
//! `sslmode=disable` never uses TLS; `prefer` (the default) uses it when the server offers it;
//! `require` (and libpq's `verify-ca`, `verify-full`) refuse a server without it. Unlike
//! libpq's `prefer` and `require`, a certificate that does not check is always refused: a
//! server with a self-signed certificate needs its CA file, or `sslmode=disable` on loopback.

use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::StoreError;

/// libpq's `verify-ca` and `verify-full` as the driver knows them: `require`, which here always
/// checks the certificate and the host name (what `verify-full` asks).
pub fn libpq_modes(url: &str) -> String {
    url.replace("sslmode=verify-full", "sslmode=require")
        .replace("sslmode=verify-ca", "sslmode=require")
}

pub fn connector(ca_file: Option<&Path>) -> Result<MakeRustlsConnect, StoreError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Internal(format!("TLS: {e}")))?;
    let config = match ca_file {
        None => {
            use rustls_platform_verifier::BuilderVerifierExt;
            builder
                .with_platform_verifier()
                .map_err(|e| StoreError::Internal(format!("TLS: {e}")))?
                .with_no_client_auth()
        }
        Some(path) => {
            let told = |e: &dyn std::fmt::Display| {
                StoreError::Internal(format!(
                    "{} {}: {e}",
                    crate::config::DATABASE_CA_FILE,
                    path.display()
                ))
            };
            let mut roots = rustls::RootCertStore::empty();
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| told(&e))?
                .collect::<Result<_, _>>()
                .map_err(|e| told(&e))?;
            if certs.is_empty() {
                return Err(told(&"no certificate in the file"));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| told(&e))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(MakeRustlsConnect::new(config))
}
