//! Push through FCM's HTTP v1 API, against a server on 127.0.0.1 standing
//! in for Google's token endpoint and FCM (they cannot be reached from a
//! test): the service account's RSA key, made by `openssl`, signs the
//! token request (checked here with the public key), the access token is
//! asked for once and reused, and an unregistered device token is a
//! permanent failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod serve_common;

use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use serve_common::peers::openssl;
use serve_common::sink::Sink;
use serve_common::{channel_outcomes, project_of, Server};

const FLOW: &str = r#"
profile {
  push_token: string?
}

event shipped {}

workflow notify {
  on shipped
  audience profile.push_token != none
  send push { title: "Shipped", body: "On its way", url: "https://shop.example/orders" }
}
"#;

fn b64(part: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap()
}

#[test]
fn push_goes_through_fcm_v1_with_a_service_account_token() {
    let dir = tempfile::tempdir().unwrap();
    openssl(
        dir.path(),
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "key.pem",
        ],
    );
    openssl(
        dir.path(),
        &[
            "rsa",
            "-in",
            "key.pem",
            "-RSAPublicKey_out",
            "-outform",
            "DER",
            "-out",
            "public.der",
        ],
    );
    let public = std::fs::read(dir.path().join("public.der")).unwrap();

    let sink = Sink::answering(|r, _| match r.path.as_str() {
        "/token" => (
            200,
            Duration::ZERO,
            json!({"access_token": "ya29.test", "expires_in": 3599, "token_type": "Bearer"})
                .to_string(),
        ),
        "/v1/projects/demo-project/messages:send" => {
            let body: Value = serde_json::from_str(&r.body).unwrap();
            if r.headers.get("authorization").map(String::as_str) != Some("Bearer ya29.test") {
                (401, Duration::ZERO, "{}".into())
            } else if body["message"]["token"] == "stale" {
                (
                    404,
                    Duration::ZERO,
                    json!({"error": {"code": 404, "status": "NOT_FOUND", "details": [{"errorCode": "UNREGISTERED"}]}})
                        .to_string(),
                )
            } else {
                (
                    200,
                    Duration::ZERO,
                    json!({"name": "projects/demo-project/messages/1"}).to_string(),
                )
            }
        }
        _ => (404, Duration::ZERO, "{}".into()),
    });
    let account = json!({
        "type": "service_account",
        "project_id": "demo-project",
        "private_key_id": "key-1",
        "private_key": std::fs::read_to_string(dir.path().join("key.pem")).unwrap(),
        "client_email": "nudge@demo-project.iam.gserviceaccount.com",
        "token_uri": format!("http://127.0.0.1:{}/token", sink.port),
    });
    std::fs::write(dir.path().join("account.json"), account.to_string()).unwrap();
    let project = project_of(dir.path(), FLOW);
    let settings = format!(
        "quiet = true\n\n[delivery.push]\nprovider = \"fcm\"\nservice_account_file = {:?}\nbase_url = \"http://127.0.0.1:{}\"\n",
        dir.path().join("account.json"),
        sink.port
    );
    let data = dir.path().join("data");
    let server = Server::configured(&project, &data, &settings, &[]);
    let first = json!({"batch": [
        {"type": "identify", "userId": "u1", "traits": {"push_token": "device-1"}},
        {"type": "track", "userId": "u1", "event": "shipped"},
    ]});
    assert_eq!(server.post("/v1/batch", &first).0, 200);
    assert_eq!(channel_outcomes(&data, "push", 1).len(), 1);
    let second = json!({"batch": [
        {"type": "identify", "userId": "u2", "traits": {"push_token": "stale"}},
        {"type": "track", "userId": "u2", "event": "shipped"},
    ]});
    assert_eq!(server.post("/v1/batch", &second).0, 200);
    let o = channel_outcomes(&data, "push", 2);
    server.stop();

    let of = |user: &str| o.iter().find(|v| v["profile"] == user).unwrap().clone();
    assert_eq!(of("u1")["outcome"], "delivered", "{o:?}");
    assert_eq!(of("u2")["outcome"], "failed", "{o:?}");
    assert!(
        of("u2")["detail"]
            .as_str()
            .unwrap()
            .contains("UNREGISTERED"),
        "{o:?}"
    );

    let requests = sink.requests.lock().unwrap().clone();
    let tokens: Vec<_> = requests.iter().filter(|r| r.path == "/token").collect();
    assert_eq!(tokens.len(), 1, "the access token is reused: {tokens:?}");
    let form: Vec<(String, String)> = url::form_urlencoded::parse(tokens[0].body.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(
        form[0],
        (
            "grant_type".into(),
            "urn:ietf:params:oauth:grant-type:jwt-bearer".into()
        )
    );
    let jwt = &form[1].1;
    let parts: Vec<&str> = jwt.split('.').collect();
    let header: Value = serde_json::from_slice(&b64(parts[0])).unwrap();
    assert_eq!(
        header,
        json!({"alg": "RS256", "typ": "JWT", "kid": "key-1"})
    );
    let claims: Value = serde_json::from_slice(&b64(parts[1])).unwrap();
    assert_eq!(claims["iss"], "nudge@demo-project.iam.gserviceaccount.com");
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/firebase.messaging"
    );
    assert_eq!(
        claims["aud"],
        format!("http://127.0.0.1:{}/token", sink.port)
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, &public)
        .verify(
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &b64(parts[2]),
        )
        .expect("the token request is signed by the service account's key");

    let send = requests
        .iter()
        .find(|r| r.path.ends_with("/messages:send") && r.body.contains("device-1"))
        .unwrap();
    let body: Value = serde_json::from_str(&send.body).unwrap();
    assert_eq!(
        body,
        json!({"message": {
            "token": "device-1",
            "notification": {"title": "Shipped", "body": "On its way"},
            "data": {"send_id": of("u1")["send_id"], "url": "https://shop.example/orders"},
        }})
    );
}
