//! Delivery over TLS, with certificates from a CA the test makes: email to
//! a real SMTP server (aiosmtpd) over STARTTLS and implicit TLS, with a
//! password (a server whose certificate is not trusted, or that does not
//! offer STARTTLS, gets nothing), and a webhook to an HTTPS server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod serve_common;

use std::path::Path;

use serde_json::{json, Value};
use serve_common::peers::{certificates, free_port, mails, python_peer, smtp_sink_with};
use serve_common::{project_of, wait_for_outcomes, Server};

const FLOW: &str = r#"
profile {
  email: email?
}

event signed_up {}

workflow welcome {
  on signed_up
  audience profile.email != none
  send email { subject: "Welcome", text: "Hello." }
}
"#;

const PASSWORD_ENV: &str = "NUDGE_TEST_SMTP_PASSWORD";

/// Signs `user` up through a server sending email with `email` (the
/// `[delivery.email]` table's extra lines); its outcome.
fn send_one(dir: &Path, name: &str, email: &str) -> Value {
    let project = project_of(dir, FLOW);
    let settings = format!(
        "quiet = true\n\n[delivery.email]\nfrom = \"hello@shop.example\"\ntimeout_ms = 3000\n{email}\n\n[delivery.retry]\nattempts = 1\n"
    );
    let data = dir.join(name);
    let server = Server::configured(&project, &data, &settings, &[(PASSWORD_ENV, "s3cret")]);
    let calls = json!({"batch": [
        {"type": "identify", "userId": "u1", "traits": {"email": "u1@example.com"}},
        {"type": "track", "userId": "u1", "event": "signed_up"},
    ]});
    assert_eq!(server.post("/v1/batch", &calls).0, 200);
    let o = wait_for_outcomes(&data, 1, 20);
    server.stop();
    o.get("u1")
        .cloned()
        .unwrap_or_else(|| panic!("no outcome for u1"))
}

#[test]
fn email_goes_over_starttls_or_implicit_tls_with_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let certs = certificates(dir.path());
    for (mode, flag) in [("starttls", "--starttls"), ("tls", "--tls")] {
        let port = free_port();
        let out = dir.path().join(format!("{mode}.jsonl"));
        let (cert, key) = (certs.cert.to_str().unwrap(), certs.key.to_str().unwrap());
        let Some(_smtp) = smtp_sink_with(port, &out, &[flag, cert, key, "--auth", "nudge:s3cret"])
        else {
            return;
        };
        let outcome = send_one(
            dir.path(),
            mode,
            &format!(
                "host = \"localhost\"\nport = {port}\ntls = \"{mode}\"\nuser = \"nudge\"\npassword_env = \"{PASSWORD_ENV}\"\n\n[delivery]\nca_file = {:?}",
                certs.ca
            ),
        );
        assert_eq!(outcome["outcome"], "delivered", "{mode}: {outcome}");
        let got = mails(&out);
        assert_eq!(got.len(), 1, "{mode}: {got:?}");
        assert_eq!(got[0]["tls"], true, "{mode}");
        assert_eq!(got[0]["login"], "nudge", "{mode}");
        assert_eq!(got[0]["rcpt_tos"], json!(["u1@example.com"]));
    }
}

#[test]
fn email_is_held_back_from_an_untrusted_certificate_or_the_clear_when_tls_was_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let certs = certificates(dir.path());
    let (cert, key) = (certs.cert.to_str().unwrap(), certs.key.to_str().unwrap());

    // The CA is not trusted: the handshake fails (retried, then parked).
    let port = free_port();
    let out = dir.path().join("untrusted.jsonl");
    let Some(_smtp) = smtp_sink_with(port, &out, &["--starttls", cert, key]) else {
        return;
    };
    let outcome = send_one(
        dir.path(),
        "untrusted",
        &format!("host = \"localhost\"\nport = {port}\ntls = \"starttls\""),
    );
    assert_eq!(outcome["outcome"], "parked", "{outcome}");
    let detail = outcome["detail"].as_str().unwrap();
    assert!(detail.contains("certificate"), "{detail}");
    assert!(mails(&out).is_empty());

    // A server without STARTTLS, asked for it: refused before MAIL FROM.
    let port = free_port();
    let out = dir.path().join("plain.jsonl");
    let _plain = smtp_sink_with(port, &out, &[]).unwrap();
    let outcome = send_one(
        dir.path(),
        "plain",
        &format!("host = \"127.0.0.1\"\nport = {port}\ntls = \"starttls\""),
    );
    assert_eq!(outcome["outcome"], "parked", "{outcome}");
    let detail = outcome["detail"].as_str().unwrap();
    assert!(detail.contains("does not offer STARTTLS"), "{detail}");
    assert!(mails(&out).is_empty());
}

#[test]
fn webhooks_go_to_https_endpoints_whose_certificate_is_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let certs = certificates(dir.path());
    let port = free_port();
    let out = dir.path().join("https.jsonl");
    let _https = python_peer(
        "https_sink.py",
        &[
            &port.to_string(),
            certs.cert.to_str().unwrap(),
            certs.key.to_str().unwrap(),
            out.to_str().unwrap(),
        ],
        &[],
    );

    let flow = format!(
        "profile {{}}\n\nevent ping {{}}\n\nworkflow hook {{\n  on ping\n  send webhook {{ url: \"https://localhost:{port}/hook\", body: {{ user: profile.id }} }}\n}}\n"
    );
    let project = project_of(dir.path(), &flow);
    let settings = format!(
        "quiet = true\n\n[delivery]\nca_file = {:?}\n\n[delivery.webhook]\nsecret_env = \"TEST_WEBHOOK_SECRET\"\n\n[delivery.retry]\nattempts = 1\n",
        certs.ca
    );
    let data = dir.path().join("data");
    let secret = (
        "TEST_WEBHOOK_SECRET",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    );
    let server = Server::configured(&project, &data, &settings, &[secret]);
    let calls = json!({"batch": [{"type": "track", "userId": "u1", "event": "ping"}]});
    assert_eq!(server.post("/v1/batch", &calls).0, 200);
    let o = wait_for_outcomes(&data, 1, 20);
    server.stop();
    assert_eq!(o["u1"]["outcome"], "delivered", "{o:?}");
    let got = mails(&out);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["path"], "/hook");
    assert_eq!(got[0]["body"], r#"{"user":"u1"}"#);
    assert!(got[0]["headers"]["webhook-signature"]
        .as_str()
        .unwrap()
        .starts_with("v1,"));
}
