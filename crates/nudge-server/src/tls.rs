//! TLS for outgoing connections: SMTP (STARTTLS or implicit TLS) and the
//! HTTPS providers share one rustls configuration, trusting the system's
//! roots and any certificate authorities a settings file adds.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;

use crate::ServeError;

/// A client configuration trusting the system's roots and, when given,
/// every certificate in the PEM file `extra` (a private CA, say).
pub fn client_config(extra: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, ServeError> {
    let mut roots = rustls::RootCertStore::empty();
    // The system's roots: a machine without any still reaches relays its
    // settings add a CA for.
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A certificate the system lists but rustls cannot read is skipped,
        // as every TLS client does.
        let _ = roots.add(cert);
    }
    if let Some(path) = extra {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<_, _>>())
            .map_err(|e| {
                ServeError::new(format!(
                    "cannot read the certificates in `{}`: {e}",
                    path.display()
                ))
            })?;
        if certs.is_empty() {
            return Err(ServeError::new(format!(
                "`{}` holds no PEM certificate",
                path.display()
            )));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| {
                ServeError::new(format!(
                    "a certificate in `{}` cannot be trusted: {e}",
                    path.display()
                ))
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::new(format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// An HTTP client for providers: `timeout` per request, no redirects
/// followed, TLS per `tls`.
pub fn http_client(
    timeout: std::time::Duration,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<reqwest::blocking::Client, ServeError> {
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .use_preconfigured_tls((**tls).clone())
        .build()
        .map_err(|e| ServeError::new(format!("cannot make an HTTP client: {e}")))
}
