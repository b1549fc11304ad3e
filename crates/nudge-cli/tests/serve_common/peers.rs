//! Real peers for the delivery tests: an SMTP server (aiosmtpd, from
//! `tests/clients/`), plain or with TLS and a password, an HTTPS server,
//! and keys and certificates made with the `openssl` command.

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A process killed (and waited for) when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A real SMTP server (aiosmtpd) on `port`, writing what it accepts to
/// `out`; `None` when the client packages are not installed (outside CI).
pub fn smtp_sink(port: u16, out: &Path) -> Option<Running> {
    smtp_sink_with(port, out, &[])
}

/// [`smtp_sink`] with `tests/clients/smtp_sink.py`'s options
/// (`--starttls CERT KEY`, `--tls CERT KEY`, `--auth USER:PASSWORD`).
pub fn smtp_sink_with(port: u16, out: &Path, options: &[&str]) -> Option<Running> {
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients");
    if !clients.join(".pydeps/aiosmtpd").exists() {
        let message = "aiosmtpd is not installed: run `bash tests/clients/install.sh` (skipping)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}");
        }
        eprintln!("{message}");
        return None;
    }
    Some(python_peer(
        "smtp_sink.py",
        &[&port.to_string(), out.to_str().unwrap()],
        options,
    ))
}

/// Starts `tests/clients/SCRIPT` with `args` and `more`, and waits for the
/// "ready" it prints once it listens.
pub fn python_peer(script: &str, args: &[&str], more: &[&str]) -> Running {
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/clients");
    let mut child = Running(
        Command::new("python3")
            .arg(clients.join(script))
            .args(args)
            .args(more)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "{script}");
    child
}

/// A port nothing listens on (yet).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The messages the sink writing `out` accepted so far.
pub fn mails(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Certificates made in a folder: a CA, and a server certificate it signed
/// for `localhost` and 127.0.0.1.
pub struct Certificates {
    /// The CA's certificate (PEM): what a client trusts.
    pub ca: PathBuf,
    /// The server's certificate (PEM).
    pub cert: PathBuf,
    /// The server's private key (PEM).
    pub key: PathBuf,
}

/// Runs `openssl` with `args` in `dir`.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the `openssl` command");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes [`Certificates`] in `dir` with `openssl`.
pub fn certificates(dir: &Path) -> Certificates {
    let run = |args: &[&str]| openssl(dir, args);
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Nudge test CA",
    ]);
    run(&ca);
    let mut request = vec!["req"];
    request.extend(ec);
    request.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    run(&request);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    Certificates {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    }
}
