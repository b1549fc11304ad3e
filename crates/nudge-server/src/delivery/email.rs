//! Email over SMTP: messages built by lettre (multipart text and HTML, a
//! `Message-ID` made from the send id, the same on every attempt), sent
//! over pooled connections by [`super::smtp_client`].

use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};

use super::{Attempt, Outgoing, Provider};
use crate::ServeError;

/// How email is sent.
#[derive(Clone, Debug)]
pub struct EmailConfig {
    /// The SMTP server's host.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The sender, as `Name <address>` or an address.
    pub from: String,
    /// A user name and password, when the server asks for them.
    pub credentials: Option<(String, String)>,
    /// Plain, STARTTLS or TLS.
    pub security: super::Security,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// The domain of `Message-ID`s.
    pub domain: String,
    /// Track opens and clicks of HTML email (see [`crate::tracking`]).
    pub track: bool,
}

/// The SMTP provider.
pub struct Smtp {
    client: super::smtp_client::Client,
    from: Mailbox,
    domain: String,
    consent: crate::consent::Consent,
    public_url: std::sync::Arc<std::sync::OnceLock<String>>,
    tracking: Option<crate::tracking::Tracking>,
}

impl Smtp {
    /// A provider for `config` (connections are made when sending).
    pub fn new(
        config: &EmailConfig,
        tls: &std::sync::Arc<rustls::ClientConfig>,
        consent: crate::consent::Consent,
        public_url: std::sync::Arc<std::sync::OnceLock<String>>,
        tracking: Option<crate::tracking::Tracking>,
    ) -> Result<Smtp, ServeError> {
        let from: Mailbox = config.from.parse().map_err(|e| {
            ServeError::new(format!(
                "the email sender `{}` is not an address: {e}",
                config.from
            ))
        })?;
        if config.security != super::Security::None {
            rustls::pki_types::ServerName::try_from(config.host.clone()).map_err(|e| {
                ServeError::new(format!(
                    "`delivery.email.host` `{}` cannot be checked against a TLS certificate: {e}",
                    config.host
                ))
            })?;
        }
        let client = super::smtp_client::Client::new(super::smtp_client::Target {
            host: config.host.clone(),
            port: config.port,
            timeout: config.timeout,
            hello: config.domain.clone(),
            credentials: config.credentials.clone(),
            security: config.security,
            tls: tls.clone(),
        });
        Ok(Smtp {
            client,
            from,
            domain: config.domain.clone(),
            consent,
            public_url,
            tracking,
        })
    }
}

impl Provider for Smtp {
    fn send(&self, m: &Outgoing) -> Attempt {
        let Some(to) = m.to.as_deref().filter(|t| !t.is_empty()) else {
            return Attempt::Permanent("the profile has no email address".into());
        };
        let to: Mailbox = match to.parse() {
            Ok(t) => t,
            Err(e) => return Attempt::Permanent(format!("`{to}` is not an email address: {e}")),
        };
        let rcpt = to.email.to_string();
        let text = m.field("text");
        let mut html = m.field("html").to_owned();
        if let (Some(t), Some(base), false) =
            (&self.tracking, self.public_url.get(), html.is_empty())
        {
            let properties = serde_json::json!({
                "send_id": m.send_id,
                "workflow": m.workflow,
                "template": m.template,
                "channel": "email",
            });
            html = t.rewrite(&html, base, &m.profile, &properties);
        }
        let html = html.as_str();
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.field("subject"))
            .message_id(Some(format!("<{}@{}>", m.send_id, self.domain)));
        // Marketing email carries a one-click unsubscribe (RFC 8058).
        if let (false, Some(base)) = (m.transactional, self.public_url.get()) {
            // `m` names the message, so that the unsubscribe counts for it
            // (the token alone says who and which channel).
            let url = format!(
                "{base}/unsubscribe/{}?m={}",
                self.consent.token(&m.profile, "email"),
                m.send_id
            );
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{url}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        let message = match (text.is_empty(), html.is_empty()) {
            (false, false) => builder.multipart(MultiPart::alternative_plain_html(
                text.to_owned(),
                html.to_owned(),
            )),
            (true, false) => builder.singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(html.to_owned()),
            ),
            _ => builder.singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(text.to_owned()),
            ),
        };
        let message = match message {
            Ok(m) => m,
            Err(e) => return Attempt::Permanent(format!("the email cannot be built: {e}")),
        };
        let from = self.from.email.to_string();
        match self.client.send(&from, &rcpt, &message.formatted()) {
            Ok(reply) => Attempt::Delivered(format!("250 {reply}")),
            Err(e) if e.transient => Attempt::Transient(e.message, None),
            Err(e) => Attempt::Permanent(e.message),
        }
    }
}
