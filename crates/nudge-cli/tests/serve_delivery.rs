//! Delivery through real providers on 127.0.0.1: webhooks to an HTTP
//! server started by the test (retries on 5xx and timeouts with one
//! `webhook-id`, no retry on 4xx, Standard Webhooks signatures), email to
//! a real SMTP server (aiosmtpd, from `tests/clients/`): multipart content,
//! a stable `Message-ID`, and every message delivered once after the SMTP
//! server was down for 30 s.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod serve_common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use serde_json::{json, Value};
use serve_common::peers::{free_port, mails, smtp_sink};
use serve_common::sink::{Request, Sink};
use serve_common::{outcomes, project_of as project, wait_for_count, wait_for_outcomes, Server};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Verifies requests with the Standard Webhooks reference library (Python,
/// from `tests/clients/`); `None` when it is not installed (outside CI).
fn verified_by_reference(requests: &[Request]) -> Option<Vec<String>> {
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients");
    if !clients.join(".pydeps/standardwebhooks").exists() {
        let message =
            "standardwebhooks is not installed: run `bash tests/clients/install.sh` (skipping)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}");
        }
        eprintln!("{message}");
        return None;
    }
    let input: String = requests
        .iter()
        .map(|r| json!({"headers": r.headers, "body": r.body}).to_string() + "\n")
        .collect();
    let mut child = std::process::Command::new("python3")
        .arg(clients.join("verify_webhooks.py"))
        .arg(SECRET)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect(),
    )
}

/// Verifies a request's signature as the Standard Webhooks specification
/// says (the reference library checks the same requests when installed).
fn verifies(r: &Request) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let signed = format!(
        "{}.{}.{}",
        r.headers["webhook-id"], r.headers["webhook-timestamp"], r.body
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(signed.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    r.headers["webhook-signature"]
        .split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

#[test]
fn webhooks_are_signed_retried_on_5xx_and_timeouts_and_not_on_4xx() {
    // u1: 500, 500, then 200. u2: 400. u3: the first answer comes after
    // the 500 ms timeout, the second at once.
    let sink = Sink::start(|body, nth| {
        if body.contains("\"u1\"") {
            (if nth < 3 { 500 } else { 200 }, Duration::ZERO)
        } else if body.contains("\"u2\"") {
            (400, Duration::ZERO)
        } else if nth == 1 {
            (200, Duration::from_millis(1_500))
        } else {
            (200, Duration::ZERO)
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let flow = format!(
        "profile {{}}\n\nevent ping {{}}\n\nworkflow hook {{\n  on ping\n  send webhook {{ url: \"http://127.0.0.1:{}/hook\", body: {{ user: profile.id }} }}\n}}\n",
        sink.port
    );
    let project = project(dir.path(), &flow);
    let settings = dir.path().join("nudge.toml");
    std::fs::write(
        &settings,
        "quiet = true\n\n[delivery.webhook]\nsecret_env = \"TEST_WEBHOOK_SECRET\"\ntimeout_ms = 500\n\n[delivery.retry]\nfirst_wait_ms = 50\nmax_wait_ms = 200\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let server = Server::start_with(
        &project,
        &data,
        &["--config", settings.to_str().unwrap()],
        &[("TEST_WEBHOOK_SECRET", SECRET)],
    );
    let calls = ["u1", "u2", "u3"].map(|u| json!({"type": "track", "userId": u, "event": "ping"}));
    let batch = json!({ "batch": calls });
    assert_eq!(server.post("/v1/batch", &batch).0, 200);
    let o = wait_for_outcomes(&data, 3, 30);
    server.stop();

    let u1 = sink.received("u1");
    assert_eq!(u1.len(), 3, "{u1:?}");
    assert!(u1.iter().all(verifies), "{u1:?}");
    if let Some(verdicts) = verified_by_reference(&sink.requests.lock().unwrap()) {
        assert!(!verdicts.is_empty());
        assert!(verdicts.iter().all(|v| v == "ok"), "{verdicts:?}");
    }
    assert!(u1
        .iter()
        .all(|r| r.headers["webhook-id"] == u1[0].headers["webhook-id"]));
    assert_eq!(o["u1"]["outcome"], "delivered", "{o:?}");
    assert_eq!(o["u1"]["attempts"], 3, "{o:?}");

    assert_eq!(sink.received("u2").len(), 1);
    assert_eq!(o["u2"]["outcome"], "failed", "{o:?}");
    assert!(o["u2"]["detail"].as_str().unwrap().contains("400"), "{o:?}");

    let u3 = sink.received("u3");
    assert!(u3.len() >= 2, "{u3:?}");
    assert_eq!(o["u3"]["outcome"], "delivered", "{o:?}");
    assert!(o["u3"]["attempts"].as_u64().unwrap() >= 2, "{o:?}");
}

const MAIL: &str = r#"
profile {
  email: email?
  name: string?
}

event signed_up {}

workflow welcome {
  on signed_up
  audience profile.email != none
  priority transactional
  send email hello
}

template hello: email for signed_up {
  subject: "Welcome, {profile.name ?? "friend"}"
  text: "Plain words for {profile.name ?? "you"}."
  html: "<p>Rich words for {profile.name ?? "you"}.</p>"
}
"#;

fn mail_settings(dir: &Path, port: u16) -> PathBuf {
    let settings = dir.join("nudge.toml");
    std::fs::write(
        &settings,
        format!(
            "quiet = true\n\n[delivery.email]\nhost = \"127.0.0.1\"\nport = {port}\nfrom = \"Shop <hello@shop.example>\"\ntimeout_ms = 2000\n\n[delivery.retry]\nattempts = 1000\nfirst_wait_ms = 200\nmax_wait_ms = 1000\n"
        ),
    )
    .unwrap();
    settings
}

fn signups(users: std::ops::Range<u32>) -> Value {
    let calls: Vec<Value> = users
        .flat_map(|i| {
            [
                json!({"type": "identify", "userId": format!("u{i}"), "traits": {"email": format!("u{i}@example.com"), "name": format!("N{i}")}}),
                json!({"type": "track", "userId": format!("u{i}"), "event": "signed_up"}),
            ]
        })
        .collect();
    json!({ "batch": calls })
}

#[test]
fn email_goes_out_over_smtp_multipart_with_a_stable_message_id() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mail.jsonl");
    let Some(smtp) = smtp_sink(port, &out) else {
        return;
    };
    let project = project(dir.path(), MAIL);
    let settings = mail_settings(dir.path(), port);
    let data = dir.path().join("data");
    let server = Server::start(&project, &data, &["--config", settings.to_str().unwrap()]);
    assert_eq!(server.post("/v1/batch", &signups(1..2)).0, 200);
    let o = wait_for_outcomes(&data, 1, 20);
    server.stop();
    drop(smtp);
    assert_eq!(o["u1"]["outcome"], "delivered", "{o:?}");
    let got = mails(&out);
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    assert_eq!(m["rcpt_tos"], json!(["u1@example.com"]));
    assert_eq!(m["mail_from"], "hello@shop.example");
    let data_text = m["data"].as_str().unwrap();
    let send_id = o["u1"]["send_id"].as_str().unwrap();
    assert!(
        data_text.contains(&format!("Message-ID: <{send_id}@shop.example>")),
        "{data_text}"
    );
    assert!(data_text.contains("Subject: Welcome, N1"), "{data_text}");
    assert!(data_text.contains("multipart/alternative"), "{data_text}");
    assert!(data_text.contains("Plain words for N1."), "{data_text}");
    assert!(
        data_text.contains("<p>Rich words for N1.</p>"),
        "{data_text}"
    );
}

#[test]
fn email_waits_out_an_smtp_server_down_for_30_s_and_each_goes_once() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mail.jsonl");
    // Installed? (started for real below, after the downtime.)
    let Some(probe) = smtp_sink(free_port(), &dir.path().join("probe.jsonl")) else {
        return;
    };
    drop(probe);
    let project = project(dir.path(), MAIL);
    let settings = mail_settings(dir.path(), port);
    let data = dir.path().join("data");
    let server = Server::start(&project, &data, &["--config", settings.to_str().unwrap()]);
    assert_eq!(server.post("/v1/batch", &signups(0..20)).0, 200);
    std::thread::sleep(Duration::from_secs(30));
    assert!(
        outcomes(&data).is_empty(),
        "nothing is settled while the server is down"
    );
    let smtp = smtp_sink(port, &out).unwrap();
    let o = wait_for_outcomes(&data, 20, 30);
    server.stop();
    drop(smtp);
    assert!(o.values().all(|v| v["outcome"] == "delivered"), "{o:?}");
    let got = mails(&out);
    let mut ids: Vec<&str> = got
        .iter()
        .map(|m| {
            let d = m["data"].as_str().unwrap();
            let start = d.find("Message-ID: ").unwrap() + 12;
            d[start..].lines().next().unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 20, "{ids:?}");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 20, "each message once");
}

/// The kills of the kill tests.
const KILLS: usize = 10;

/// Starts a server (`start`) and sends it `batch(n)` for n = 0, 10, 20, …
/// (ten users each) for a moment, then kills it with SIGKILL; [`KILLS`]
/// times. The numbers of the users in the batches it acknowledged.
fn under_kills(start: impl Fn() -> Server, batch: impl Fn(u32) -> Value) -> Vec<u32> {
    let mut acked = Vec::new();
    let mut next = 0;
    for round in 0..KILLS as u64 {
        let server = start();
        // A few batches, then a kill while more are on their way.
        let stop = Instant::now() + Duration::from_millis(100 + 37 * round);
        while Instant::now() < stop {
            if server.post("/v1/batch", &batch(next)).0 == 200 {
                acked.extend(next..next + 10);
            }
            next += 10;
        }
        server.kill9();
    }
    acked
}

#[test]
fn webhooks_survive_kill_9_every_message_arrives_and_copies_share_their_id() {
    let sink = Sink::start(|_, _| (200, Duration::ZERO));
    let dir = tempfile::tempdir().unwrap();
    let flow = format!(
        "profile {{}}\n\nevent ping {{}}\n\nworkflow hook {{\n  on ping\n  send webhook {{ url: \"http://127.0.0.1:{}/hook\", body: {{ user: profile.id }} }}\n}}\n",
        sink.port
    );
    let project = project(dir.path(), &flow);
    let settings = dir.path().join("nudge.toml");
    std::fs::write(
        &settings,
        "quiet = true\n\n[delivery.webhook]\nsecret_env = \"TEST_WEBHOOK_SECRET\"\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let env = [("TEST_WEBHOOK_SECRET", SECRET)];
    let args = ["--config", settings.to_str().unwrap()];
    let acked: Vec<String> = under_kills(
        || Server::start_with(&project, &data, &args, &env),
        |next| {
            let calls: Vec<Value> = (next..next + 10)
                .map(|i| json!({"type": "track", "userId": format!("p{i}"), "event": "ping", "messageId": format!("m-p{i}")}))
                .collect();
            json!({ "batch": calls })
        },
    )
    .into_iter()
    .map(|i| format!("p{i}"))
    .collect();
    let server = Server::start_with(&project, &data, &args, &env);
    let deadline = Instant::now() + Duration::from_secs(30);
    while outcomes(&data).len() < acked.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    server.stop();
    let requests = sink.requests.lock().unwrap().clone();
    let mut ids_by_user: HashMap<String, Vec<String>> = HashMap::new();
    for r in &requests {
        let body: Value = serde_json::from_str(&r.body).unwrap();
        ids_by_user
            .entry(body["user"].as_str().unwrap().to_owned())
            .or_default()
            .push(r.headers["webhook-id"].clone());
    }
    for u in &acked {
        let ids = ids_by_user
            .get(u)
            .unwrap_or_else(|| panic!("{u}'s webhook never arrived"));
        assert!(ids.iter().all(|id| *id == ids[0]), "{u}: {ids:?}");
    }
    let copies = requests.len() - ids_by_user.len();
    eprintln!(
        "{} acknowledged, {} webhooks received, {copies} copies (same webhook-id)",
        acked.len(),
        requests.len()
    );
    // At most the messages in flight at each kill: four workers' worth.
    assert!(copies <= 4 * KILLS, "{copies} copies after {KILLS} kills");
}

#[test]
fn email_survives_kill_9_every_message_arrives_and_a_crash_repeats_at_most_those_in_flight() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mail.jsonl");
    let Some(_smtp) = smtp_sink(port, &out) else {
        return;
    };
    let project = project(dir.path(), MAIL);
    let settings = mail_settings(dir.path(), port);
    let data = dir.path().join("data");
    let args = ["--config", settings.to_str().unwrap()];
    let acked = under_kills(
        || Server::start(&project, &data, &args),
        |next| {
            let mut calls = signups(next..next + 10);
            for (i, c) in calls["batch"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .enumerate()
            {
                c["messageId"] = json!(format!("m-{next}-{i}"));
            }
            calls
        },
    );
    let server = Server::start(&project, &data, &args);
    let deadline = Instant::now() + Duration::from_secs(60);
    while outcomes(&data).len() < acked.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    server.stop();
    let got = mails(&out);
    let mut by_rcpt: HashMap<String, Vec<String>> = HashMap::new();
    for m in &got {
        let d = m["data"].as_str().unwrap();
        let start = d.find("Message-ID: ").unwrap() + 12;
        let id = d[start..].lines().next().unwrap().to_owned();
        by_rcpt
            .entry(m["rcpt_tos"][0].as_str().unwrap().to_owned())
            .or_default()
            .push(id);
    }
    for i in &acked {
        let ids = by_rcpt
            .get(&format!("u{i}@example.com"))
            .unwrap_or_else(|| panic!("u{i}'s email never arrived"));
        assert!(ids.iter().all(|id| *id == ids[0]), "u{i}: {ids:?}");
    }
    let copies = got.len() - by_rcpt.len();
    eprintln!(
        "{} acknowledged, {} emails received, {copies} copies (same Message-ID)",
        acked.len(),
        got.len()
    );
    assert!(copies <= 4 * KILLS, "{copies} copies after {KILLS} kills");
}

const CONSENT: &str = r#"
profile {
  email: email?
}

event promo {}
event bought {}

workflow offer {
  on promo
  audience profile.email != none
  send email { subject: "A deal", text: "Half price." }
}

workflow receipt {
  on bought
  audience profile.email != none
  priority transactional
  send email { subject: "Your receipt", text: "Thanks." }
}
"#;

#[test]
fn unsubscribed_profiles_get_no_marketing_email_but_still_transactional_and_links_unsubscribe() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mail.jsonl");
    let Some(smtp) = smtp_sink(port, &out) else {
        return;
    };
    let project = project(dir.path(), CONSENT);
    let settings = mail_settings(dir.path(), port);
    let data = dir.path().join("data");
    let server = Server::start(&project, &data, &["--config", settings.to_str().unwrap()]);
    let call = |user: &str, event: &str| json!({"type": "track", "userId": user, "event": event});
    let who = |user: &str| json!({"type": "identify", "userId": user, "traits": {"email": format!("{user}@example.com")}});
    assert_eq!(
        server
            .post("/v1/batch", &json!({"batch": [who("u1"), who("u2")]}))
            .0,
        200
    );
    // u1 unsubscribes from email through the API.
    let consent = json!({"userId": "u1", "channel": "email", "subscribed": false});
    assert_eq!(server.post("/v1/consent", &consent).0, 200);
    let bad = json!({"userId": "u1", "channel": "fax", "subscribed": false});
    assert_eq!(server.post("/v1/consent", &bad).0, 400);
    assert_eq!(
        server
            .post(
                "/v1/batch",
                &json!({"batch": [call("u1", "promo"), call("u1", "bought"), call("u2", "promo")]})
            )
            .0,
        200
    );
    let o = wait_for_count(&data, 3);
    let of = |user: &str, subject: &str| {
        let sent = mails(&out);
        sent.iter()
            .filter(|m| {
                m["rcpt_tos"][0] == format!("{user}@example.com")
                    && m["data"].as_str().unwrap().contains(subject)
            })
            .count()
    };
    assert_eq!(of("u1", "A deal"), 0, "{o:?}");
    assert_eq!(of("u1", "Your receipt"), 1, "{o:?}");
    assert_eq!(of("u2", "A deal"), 1, "{o:?}");
    assert!(
        o.iter()
            .any(|v| v["profile"] == "u1" && v["outcome"] == "suppressed"),
        "{o:?}"
    );
    let (_, p) = server.api("/api/profiles/u1", Some(&server.admin));
    assert_eq!(p["consent"]["email"]["subscribed"], false, "{p}");

    // u2's deal carries a one-click unsubscribe link (not the receipt's).
    let sent = mails(&out);
    let deal = sent
        .iter()
        .find(|m| m["rcpt_tos"][0] == "u2@example.com")
        .unwrap()["data"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        deal.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{deal}"
    );
    let receipt = sent
        .iter()
        .find(|m| m["data"].as_str().unwrap().contains("Your receipt"))
        .unwrap()["data"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!receipt.contains("List-Unsubscribe"), "{receipt}");
    let start = deal.find("List-Unsubscribe: <").unwrap() + "List-Unsubscribe: <".len();
    let url = deal[start..].split('>').next().unwrap().replace("\r\n", "");
    let http = reqwest::blocking::Client::new();
    // Opening the link only asks; posting it unsubscribes.
    let page = http.get(&url).send().unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().unwrap().contains("<form method=post>"));
    assert_eq!(
        server.api("/api/profiles/u2", Some(&server.admin)).1["consent"],
        json!({})
    );
    let posted = http
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .unwrap();
    assert_eq!(posted.status(), 200);
    let forged = url.replace("/unsubscribe/", "/unsubscribe/x");
    assert_eq!(http.post(&forged).send().unwrap().status(), 404);
    assert_eq!(
        server
            .post("/v1/batch", &json!({"batch": [call("u2", "promo")]}))
            .0,
        200
    );
    let o = wait_for_count(&data, 4);
    // The unsubscribe counts for the message whose link it was.
    let (_, report) = server.api("/api/report", Some(&server.admin));
    server.stop();
    drop(smtp);
    let offer = report["engagement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["workflow"] == "offer")
        .unwrap_or_else(|| panic!("{report}"))
        .clone();
    assert_eq!(offer["unsubscribed"], 1, "{offer}");
    assert!(url.contains("?m="), "{url}");
    assert_eq!(of("u2", "A deal"), 1, "{o:?}");
    assert_eq!(
        o.iter()
            .filter(|v| v["profile"] == "u2" && v["outcome"] == "suppressed")
            .count(),
        1,
        "{o:?}"
    );
}

#[test]
fn sms_goes_out_twilio_shaped_and_push_as_json_each_with_its_key() {
    let sink = Sink::start(|_, _| (200, Duration::ZERO));
    let dir = tempfile::tempdir().unwrap();
    let flow = r#"
profile {
  phone: phone?
  push_token: string?
}

event shipped {}

workflow notify {
  on shipped
  priority transactional
  if profile.phone != none {
    send sms "Your parcel is on its way"
  }
  if profile.push_token != none {
    send push { title: "Shipped", body: "On its way" }
  }
}
"#;
    let project = project(dir.path(), flow);
    let settings = dir.path().join("nudge.toml");
    std::fs::write(
        &settings,
        format!(
            "quiet = true\n\n[delivery.sms]\nbase_url = \"http://127.0.0.1:{port}\"\naccount = \"AC123\"\ntoken_env = \"TEST_SMS_TOKEN\"\nfrom = \"+15550000000\"\n\n[delivery.push]\nurl = \"http://127.0.0.1:{port}/push\"\nheaders_env = {{ Authorization = \"TEST_PUSH_AUTH\" }}\n",
            port = sink.port
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let server = Server::start_with(
        &project,
        &data,
        &["--config", settings.to_str().unwrap()],
        &[
            ("TEST_SMS_TOKEN", "tok"),
            ("TEST_PUSH_AUTH", "Bearer push-secret"),
        ],
    );
    let batch = json!({"batch": [
        {"type": "identify", "userId": "u1", "traits": {"phone": "+15551234567", "push_token": "dev-1"}},
        {"type": "track", "userId": "u1", "event": "shipped"},
    ]});
    assert_eq!(server.post("/v1/batch", &batch).0, 200);
    let o = wait_for_count(&data, 2);
    server.stop();
    assert!(o.iter().all(|v| v["outcome"] == "delivered"), "{o:?}");
    let requests = sink.requests.lock().unwrap().clone();
    let sms = requests
        .iter()
        .find(|r| r.path == "/2010-04-01/Accounts/AC123/Messages.json")
        .unwrap_or_else(|| panic!("{requests:?}"));
    assert_eq!(
        sms.headers["authorization"],
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("AC123:tok")
        )
    );
    assert!(sms.headers["content-type"].starts_with("application/x-www-form-urlencoded"));
    assert!(
        sms.body
            .starts_with("To=%2B15551234567&From=%2B15550000000&Body=Your+parcel+is+on+its+way&StatusCallback=http%3A%2F%2F127.0.0.1%3A"),
        "{}",
        sms.body
    );
    let push = requests.iter().find(|r| r.path == "/push").unwrap();
    assert_eq!(push.headers["authorization"], "Bearer push-secret");
    let body: Value = serde_json::from_str(&push.body).unwrap();
    assert_eq!(body["to"], "dev-1");
    assert_eq!(body["title"], "Shipped");
    assert_eq!(
        push.headers["idempotency-key"],
        body["send_id"].as_str().unwrap()
    );
}

#[test]
fn a_parked_message_is_listed_and_retried_through_the_admin_api() {
    let up = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = up.clone();
    let sink = Sink::start(move |_, _| {
        let ok = flag.load(std::sync::atomic::Ordering::SeqCst);
        (if ok { 200 } else { 503 }, Duration::ZERO)
    });
    let dir = tempfile::tempdir().unwrap();
    let flow = format!(
        "profile {{}}\n\nevent ping {{}}\n\nworkflow hook {{\n  on ping\n  send webhook {{ url: \"http://127.0.0.1:{}/hook\", body: {{ user: profile.id }} }}\n}}\n",
        sink.port
    );
    let project = project(dir.path(), &flow);
    let settings = dir.path().join("nudge.toml");
    std::fs::write(
        &settings,
        "quiet = true\n\n[delivery.webhook]\nsecret_env = \"TEST_WEBHOOK_SECRET\"\n\n[delivery.retry]\nattempts = 2\nfirst_wait_ms = 20\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let server = Server::start_with(
        &project,
        &data,
        &["--config", settings.to_str().unwrap()],
        &[("TEST_WEBHOOK_SECRET", SECRET)],
    );
    let ping = json!({"batch": [{"type": "track", "userId": "u5", "event": "ping"}]});
    assert_eq!(server.post("/v1/batch", &ping).0, 200);
    let o = wait_for_count(&data, 1);
    assert_eq!(o[0]["outcome"], "parked", "{o:?}");
    let (status, parked) = server.api("/api/deliveries/parked", Some(&server.admin));
    assert_eq!(status, 200);
    let list = parked["parked"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{parked}");
    let send_id = list[0]["send_id"].as_str().unwrap().to_owned();
    assert_eq!(server.api("/api/deliveries/parked", None).0, 401);

    up.store(true, std::sync::atomic::Ordering::SeqCst);
    let http = reqwest::blocking::Client::new();
    let retry = |id: &str| {
        http.post(format!("{}/api/deliveries/{id}/retry", server.base))
            .bearer_auth(&server.admin)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(retry("0000000000000000"), 404);
    assert_eq!(retry(&send_id), 200);
    let o = wait_for_count(&data, 2);
    assert_eq!(o[1]["outcome"], "delivered", "{o:?}");
    let (_, parked) = server.api("/api/deliveries/parked", Some(&server.admin));
    assert_eq!(parked["parked"], json!([]), "{parked}");
    server.stop();
    assert_eq!(sink.received("u5").len(), 3);
}

const TRACKED: &str = r#"
profile {
  email: email?
}

event signed_up {}
event message_opened { send_id: string, workflow: string }
event message_clicked { send_id: string, url: url }

workflow welcome {
  on signed_up
  audience profile.email != none
  goal clicked = message_clicked within 1d

  send email welcome_mail
  wait for message_opened within 5s
    then { send in_app { body: "Glad you read it" } }
    else { send in_app { body: "You missed our email" } }
}

template welcome_mail: email {
  subject: "Welcome"
  html: "<p><a href=\"https://shop.example/start\">Start here</a></p>"
}
"#;

#[test]
fn opens_and_clicks_come_back_as_events_a_flow_branches_on_and_counts_as_goals() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mail.jsonl");
    let Some(smtp) = smtp_sink(port, &out) else {
        return;
    };
    let project = project(dir.path(), TRACKED);
    let settings = mail_settings(dir.path(), port);
    let data = dir.path().join("data");
    let server = Server::start(&project, &data, &["--config", settings.to_str().unwrap()]);
    let batch = json!({"batch": [
        {"type": "identify", "userId": "u1", "traits": {"email": "u1@example.com"}},
        {"type": "track", "userId": "u1", "event": "signed_up"},
    ]});
    assert_eq!(server.post("/v1/batch", &batch).0, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while mails(&out).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let raw = mails(&out)[0]["data"].as_str().unwrap().to_owned();
    // Undo quoted-printable soft breaks and escapes, if the body has them.
    let body = raw.replace("=\r\n", "").replace("=3D", "=");
    let url_after = |marker: &str| {
        let start = body
            .find(marker)
            .unwrap_or_else(|| panic!("no {marker} in {body}"));
        let from = body[..start].rfind("http://").unwrap();
        body[from..].split('"').next().unwrap().to_owned()
    };
    let pixel = url_after("/o/");
    let click = url_after("/c/");
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A click while the journey waits for the open counts as its goal.
    let followed = http.get(&click).send().unwrap();
    assert_eq!(followed.status(), 302);
    assert_eq!(followed.headers()["location"], "https://shop.example/start");
    let opened = http.get(&pixel).send().unwrap();
    assert_eq!(opened.status(), 200);
    assert_eq!(opened.headers()["content-type"], "image/gif");
    // A link pointed elsewhere is refused.
    let elsewhere =
        click.split("?u=").next().unwrap().to_owned() + "?u=https%3A%2F%2Fevil.example%2F";
    assert_eq!(http.get(&elsewhere).send().unwrap().status(), 404);
    // Opened twice: the flow hears of it once.
    assert_eq!(http.get(&pixel).send().unwrap().status(), 200);
    let (_, w) = server.api("/api/workflows", Some(&server.admin));
    let (_, report) = server.api("/api/report", Some(&server.admin));
    let sent = serve_common::messages(server.stop());
    drop(smtp);
    assert_eq!(w["workflows"]["welcome"]["goals"], 1, "{w}");
    // Engagement: the email opened (twice, counted once) and clicked.
    let email = report["engagement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["channel"] == "email")
        .unwrap_or_else(|| panic!("{report}"))
        .clone();
    assert_eq!(
        (&email["sent"], &email["opened"], &email["clicked"]),
        (&json!(1), &json!(1), &json!(1)),
        "{email}"
    );
    let in_app: Vec<&str> = sent
        .iter()
        .filter(|m| m["channel"] == "in_app")
        .map(|m| m["content"]["body"].as_str().unwrap())
        .collect();
    assert_eq!(in_app, ["Glad you read it"], "{sent:#?}");
}

#[test]
fn a_message_still_waiting_to_go_out_when_its_journey_exits_is_not_sent() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mail.jsonl");
    let Some(probe) = smtp_sink(free_port(), &dir.path().join("probe.jsonl")) else {
        return;
    };
    drop(probe);
    let flow = r#"
profile {
  email: email?
}

event checkout_started {}
event bought {}

workflow reminder {
  on checkout_started
  audience profile.email != none
  exit on bought
  send email { subject: "Your cart", text: "Still thinking?" }
  wait 1h
}
"#;
    let project = project(dir.path(), flow);
    // The SMTP server is down at first: the reminders wait for a retry.
    let settings = mail_settings(dir.path(), port);
    let data = dir.path().join("data");
    let server = Server::start(&project, &data, &["--config", settings.to_str().unwrap()]);
    let calls = json!({"batch": [
        {"type": "identify", "userId": "u1", "traits": {"email": "u1@example.com"}},
        {"type": "identify", "userId": "u2", "traits": {"email": "u2@example.com"}},
        {"type": "track", "userId": "u1", "event": "checkout_started"},
        {"type": "track", "userId": "u2", "event": "checkout_started"},
    ]});
    assert_eq!(server.post("/v1/batch", &calls).0, 200);
    std::thread::sleep(Duration::from_millis(500));
    let bought = json!({"batch": [{"type": "track", "userId": "u1", "event": "bought"}]});
    assert_eq!(server.post("/v1/batch", &bought).0, 200);
    std::thread::sleep(Duration::from_millis(300));
    let smtp = smtp_sink(port, &out).unwrap();
    let o = wait_for_outcomes(&data, 2, 30);
    server.stop();
    drop(smtp);
    assert_eq!(o["u1"]["outcome"], "suppressed", "{o:?}");
    assert!(
        o["u1"]["detail"]
            .as_str()
            .unwrap()
            .contains("the journey exited"),
        "{o:?}"
    );
    assert_eq!(o["u2"]["outcome"], "delivered", "{o:?}");
    let got = mails(&out);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["rcpt_tos"], json!(["u2@example.com"]));
}
