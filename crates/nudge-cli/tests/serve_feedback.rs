//! What providers report back, through the real server: a Twilio-shaped
//! SMS provider on 127.0.0.1 gets a status callback URL with each message,
//! and a `delivered` posted there is `message_delivered`, which a flow
//! waits for (unsigned callbacks are refused); a signed `STOP` reply
//! unsubscribes the number's profile
//! (`subscription_changed`, and no more marketing SMS), an unsigned one
//! does nothing; `POST /v1/feedback` turns a bounce into
//! `message_bounced` and unsubscribes; `message_sent` comes from the
//! outcome files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod serve_common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use serde_json::{json, Value};
use serve_common::sink::Sink;
use serve_common::{channel_outcomes, outbox, project_of, Server};

const FLOW: &str = r#"
profile {
  phone: phone?
}

event promo {}
event promo2 {}
event message_sent { send_id: string, channel: string }
event message_delivered { send_id: string, channel: string }
event message_bounced { send_id: string, channel: string, reason: string, permanent: bool }
event subscription_changed { channel: string, subscribed: bool, source: string }

workflow offer {
  on promo
  audience profile.phone != none
  send sms "Half price today"
  wait for message_delivered where event.channel == "sms" within 10s
    then { send in_app { body: "Delivered" } }
    else { send in_app { body: "Not delivered" } }
}

workflow second_offer {
  on promo2
  audience profile.phone != none
  send sms "Last chance"
}

workflow sent {
  on message_sent where event.channel == "sms"
  send in_app { body: "Sent {event.send_id}" }
}

workflow bounced {
  on message_bounced
  send in_app { body: "Bounced: {event.reason}" }
}

workflow farewell {
  on subscription_changed where event.subscribed == false
  send in_app { body: "Goodbye from {event.channel} by {event.source}" }
}
"#;

const TOKEN: &str = "twilio-token";

/// Waits until an outbox line contains `needle`.
fn wait_for_outbox(server: &Server, needle: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if outbox(&server.data).iter().any(|l| l.contains(needle)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Twilio's signature of a form POSTed to `url` (its documented algorithm).
fn twilio_signature(url: &str, fields: &[(&str, &str)]) -> String {
    let mut sorted = fields.to_vec();
    sorted.sort();
    let mut data = url.to_owned();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(TOKEN.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn post_form(url: &str, fields: &[(&str, &str)], signature: Option<&str>) -> u16 {
    let mut request = reqwest::blocking::Client::new().post(url).form(fields);
    if let Some(s) = signature {
        request = request.header("X-Twilio-Signature", s);
    }
    request.send().unwrap().status().as_u16()
}

#[test]
fn provider_reports_come_back_as_events_and_consent() {
    let sink = Sink::start(|_, _| (201, Duration::ZERO));
    let dir = tempfile::tempdir().unwrap();
    let project = project_of(dir.path(), FLOW);
    let settings = format!(
        "quiet = true\n\n[delivery.sms]\nbase_url = \"http://127.0.0.1:{}\"\naccount = \"AC1\"\ntoken_env = \"TEST_SMS_TOKEN\"\nfrom = \"+15550000000\"\n",
        sink.port
    );
    let data = dir.path().join("data");
    let server = Server::configured(&project, &data, &settings, &[("TEST_SMS_TOKEN", TOKEN)]);
    let calls = json!({"batch": [
        {"type": "identify", "userId": "u1", "traits": {"phone": "+15551230001"}},
        {"type": "identify", "userId": "u2", "traits": {"phone": "+15551230002"}},
        {"type": "track", "userId": "u1", "event": "promo"},
        {"type": "track", "userId": "u2", "event": "promo"},
    ]});
    assert_eq!(server.post("/v1/batch", &calls).0, 200);
    let sms = channel_outcomes(&data, "sms", 2);
    assert_eq!(sms.len(), 2, "{sms:?}");

    // message_sent, from the outcome files.
    for o in &sms {
        let id = o["send_id"].as_str().unwrap();
        assert!(
            wait_for_outbox(&server, &format!("Sent {id}")),
            "message_sent of {id}"
        );
    }

    // The status callback each SMS carried: u1's is delivered.
    let form_of = |phone: &str| -> Vec<(String, String)> {
        let requests = sink.requests.lock().unwrap();
        let r = requests
            .iter()
            .find(|r| r.body.contains(&phone.replace('+', "%2B")))
            .unwrap_or_else(|| panic!("no SMS to {phone}"));
        url::form_urlencoded::parse(r.body.as_bytes())
            .into_owned()
            .collect()
    };
    let callback = |phone: &str| {
        form_of(phone)
            .into_iter()
            .find(|(k, _)| k == "StatusCallback")
            .unwrap()
            .1
    };
    let u1 = callback("+15551230001");
    assert!(
        u1.starts_with(&format!("{}/v1/feedback/twilio/", server.base)),
        "{u1}"
    );
    let status = |s: &'static str| [("MessageStatus", s)];
    // Unsigned: refused.
    assert_eq!(post_form(&u1, &status("delivered"), None), 403);
    let sent = status("sent");
    assert_eq!(
        post_form(&u1, &sent, Some(&twilio_signature(&u1, &sent))),
        204
    );
    let delivered = status("delivered");
    let signature = twilio_signature(&u1, &delivered);
    assert_eq!(post_form(&u1, &delivered, Some(&signature)), 204);
    assert!(
        wait_for_outbox(&server, "\"Delivered\""),
        "u1's flow saw the delivery"
    );
    // A forged callback URL is refused.
    let forged = format!("{}x", &u1[..u1.len() - 1]);
    let signature = twilio_signature(&forged, &delivered);
    assert_eq!(post_form(&forged, &delivered, Some(&signature)), 404);

    // u2 replies STOP: unsigned, nothing happens; signed, it unsubscribes.
    let inbound = format!("{}/v1/feedback/twilio/inbound", server.base);
    let reply = [
        ("From", "+15551230002"),
        ("To", "+15550000000"),
        ("Body", " stop "),
    ];
    assert_eq!(post_form(&inbound, &reply, Some("bm90IGl0")), 403);
    let signature = twilio_signature(&inbound, &reply);
    assert_eq!(post_form(&inbound, &reply, Some(&signature)), 200);
    assert!(
        wait_for_outbox(&server, "Goodbye from sms by sms_reply"),
        "subscription_changed from the STOP"
    );
    let (_, profile) = server.api("/api/profiles/u2", Some(&server.admin));
    assert_eq!(profile["consent"]["sms"]["subscribed"], false, "{profile}");
    // A second STOP changes nothing, and says nothing.
    assert_eq!(post_form(&inbound, &reply, Some(&signature)), 200);

    // The next promo goes to u1 only: u2's SMS is suppressed.
    let again = json!({"batch": [
        {"type": "track", "userId": "u1", "event": "promo2"},
        {"type": "track", "userId": "u2", "event": "promo2"},
    ]});
    assert_eq!(server.post("/v1/batch", &again).0, 200);
    let sms_outcomes = channel_outcomes(&data, "sms", 4);
    let of = |user: &str| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = sms_outcomes
            .iter()
            .filter(|o| o["profile"] == user)
            .map(|o| {
                (
                    o["workflow"].as_str().unwrap().to_owned(),
                    o["outcome"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };
    assert_eq!(
        of("u1"),
        pairs(&[("offer", "delivered"), ("second_offer", "delivered")])
    );
    assert_eq!(
        of("u2"),
        pairs(&[("offer", "delivered"), ("second_offer", "suppressed")])
    );

    // A bounce through the generic endpoint: needs the admin token.
    let u1_first = sms.iter().find(|o| o["profile"] == "u1").unwrap()["send_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = reqwest::blocking::Client::new();
    let report = json!([
        {"type": "bounced", "send_id": u1_first, "reason": "number not in service"},
        {"type": "delivered", "message_id": "<ffffffffffffffff@shop.example>"},
    ]);
    let feedback = format!("{}/v1/feedback", server.base);
    let r = client.post(&feedback).json(&report).send().unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // The feedback token, as providers' webhook URLs carry it.
    let (status, token) = server.api("/api/feedback_token", Some(&server.admin));
    assert_eq!(status, 200);
    let token = token["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("fbk_"), "{token}");
    let (status, _) = server.api("/api/deliveries/parked", Some(&token));
    assert_eq!(status, 401, "the feedback token opens nothing else");
    let r = client
        .post(&feedback)
        .basic_auth("nudge", Some(&token))
        .json(&report)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let answer: Value = r.json().unwrap();
    assert_eq!(
        answer,
        json!({"applied": 1, "unknown": ["ffffffffffffffff"]})
    );
    assert!(wait_for_outbox(&server, "Bounced: number not in service"));
    assert!(wait_for_outbox(&server, "Goodbye from sms by bounce"));
    let bad = client
        .post(&feedback)
        .bearer_auth(&server.admin)
        .json(&json!({"type": "opened", "send_id": "ab"}))
        .send()
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);

    // Engagement per message, whether or not the flows declare the events.
    let (status, report) = server.api("/api/report", Some(&server.admin));
    assert_eq!(status, 200, "{report}");
    let offer = report["engagement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["workflow"] == "offer" && m["channel"] == "sms")
        .unwrap_or_else(|| panic!("{report}"))
        .clone();
    assert_eq!(offer["sent"], 2, "{offer}");
    assert_eq!(offer["delivered"], 1, "one `delivered` callback: {offer}");
    assert_eq!(offer["bounced"], 1, "one bounce report: {offer}");
    let second = report["engagement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["workflow"] == "second_offer")
        .unwrap_or_else(|| panic!("{report}"))
        .clone();
    assert_eq!(
        (second["sent"].as_u64(), second["suppressed"].as_u64()),
        (Some(1), Some(1))
    );
    server.stop();

    // Every event counted once: one goodbye per unsubscribe.
    let lines = outbox(&data);
    let goodbyes = lines.iter().filter(|l| l.contains("Goodbye from")).count();
    assert_eq!(goodbyes, 2, "{lines:#?}");
}
