//! TLS to the database, with rustls: the server's certificate is checked against the system's
//! roots or, when `HOLDPOINT_DATABASE_CA_FILE` names one, that CA, and the host name against it.
//! `sslmode=disable` never uses TLS; `prefer` uses it when the server offers it (without one,
//! [`default_mode`]);
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

/// The mode when the URL names none: `disable` when every host is this machine (loopback or a
/// Unix socket: nothing to overhear, and a local server's self-signed certificate would not
/// check), else `require`: never plaintext to another host unless the URL asks for it (libpq's
/// `prefer` would go plaintext whenever the server, or a machine in between, declined TLS).
pub fn default_mode(hosts: &[tokio_postgres::config::Host]) -> tokio_postgres::config::SslMode {
    use tokio_postgres::config::{Host, SslMode};
    let local = |h: &Host| match h {
        Host::Tcp(name) => {
            name == "localhost"
                || name
                    .trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        Host::Unix(_) => true,
    };
    if !hosts.is_empty() && hosts.iter().all(local) {
        SslMode::Disable
    } else {
        SslMode::Require
    }
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

#[cfg(test)]
mod tests {
    use super::default_mode;
    use tokio_postgres::config::{Host, SslMode};

    fn mode(hosts: &[&str]) -> SslMode {
        let hosts: Vec<Host> = hosts.iter().map(|h| Host::Tcp((*h).to_owned())).collect();
        default_mode(&hosts)
    }

    #[test]
    fn without_sslmode_only_this_machine_goes_without_tls() {
        for local in [
            &["127.0.0.1"][..],
            &["localhost"],
            &["::1"],
            &["[::1]"],
            &["127.0.0.2", "localhost"],
        ] {
            assert_eq!(mode(local), SslMode::Disable, "{local:?}");
        }
        for remote in [
            &["db.internal"][..],
            &["10.0.0.5"],
            &["localhost", "db.internal"],
            &["localhost.evil.example"],
            &[],
        ] {
            assert_eq!(mode(remote), SslMode::Require, "{remote:?}");
        }
        assert_eq!(
            default_mode(&[Host::Unix("/run/postgresql".into())]),
            SslMode::Disable
        );
    }
}
