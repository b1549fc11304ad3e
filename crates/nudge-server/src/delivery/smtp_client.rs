//! A small SMTP client for the messages lettre builds: pooled connections
//! with `TCP_NODELAY`, and the message and its closing dot in one write.
//!
//! lettre's own transports write the message, then `\r\n.\r\n` apart, on
//! a socket with Nagle's algorithm on: the dot waits for the server's
//! delayed acknowledgement of the message's last segment, about 40 ms per
//! message on Linux, which held a connection to about 25 messages a
//! second. lettre still builds every message (MIME, headers, encodings).
//!
//! Connections are plain, upgraded with STARTTLS, or TLS from the first
//! byte (port 465), per [`Security`]; rustls checks the server's
//! certificate against the trusted roots and the host name.

use std::io::{BufRead as _, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpError {
    /// Worth trying again (a 4xx reply, a network error).
    pub transient: bool,
    /// What happened.
    pub message: String,
}

impl SmtpError {
    fn network(e: std::io::Error) -> SmtpError {
        SmtpError {
            transient: true,
            message: format!("SMTP connection: {e}"),
        }
    }
}

/// How a connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// Plain text throughout (a relay on the same machine or network).
    None,
    /// Plain, then `STARTTLS` before anything else; a server that does not
    /// offer it is refused.
    StartTls,
    /// TLS from the first byte ("implicit TLS", usually port 465).
    Tls,
}

/// A connection's byte stream.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// One connection, after EHLO (and AUTH).
struct Conn {
    reader: BufReader<Stream>,
}

impl Conn {
    fn write(&mut self, bytes: &[u8]) -> Result<(), SmtpError> {
        let stream = self.reader.get_mut();
        stream.write_all(bytes).map_err(SmtpError::network)?;
        stream.flush().map_err(SmtpError::network)
    }

    /// Reads one reply (its lines joined); its code.
    fn reply(&mut self) -> Result<(u16, String), SmtpError> {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = self
                .reader
                .read_line(&mut line)
                .map_err(SmtpError::network)?;
            if n == 0 {
                return Err(SmtpError {
                    transient: true,
                    message: "the SMTP server closed the connection".into(),
                });
            }
            let line = line.trim_end();
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| SmtpError {
                    transient: true,
                    message: format!("not an SMTP reply: {line:?}"),
                })?;
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(line.get(4..).unwrap_or(""));
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok((code, text));
            }
        }
    }

    /// Sends a command and reads its reply; a reply outside `ok` fails.
    fn command(&mut self, line: &str, ok: &[u16]) -> Result<String, SmtpError> {
        self.write(format!("{line}\r\n").as_bytes())?;
        // A password is not repeated in an error.
        let what = if line.starts_with("AUTH") {
            "AUTH"
        } else {
            line
        };
        self.expect(what, ok)
    }

    fn expect(&mut self, what: &str, ok: &[u16]) -> Result<String, SmtpError> {
        let (code, text) = self.reply()?;
        if ok.contains(&code) {
            return Ok(text);
        }
        let verb = what.split([' ', ':']).next().unwrap_or(what);
        Err(SmtpError {
            transient: (400..500).contains(&code),
            message: format!("SMTP {verb}: {code} {text}"),
        })
    }
}

/// Where and how to connect.
#[derive(Clone, Debug)]
pub struct Target {
    /// The server's host.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// How long connecting, and each reply, may take.
    pub timeout: Duration,
    /// The name EHLO gives.
    pub hello: String,
    /// A user name and password for `AUTH PLAIN`.
    pub credentials: Option<(String, String)>,
    /// Plain, STARTTLS or TLS.
    pub security: Security,
    /// The TLS settings (trusted roots).
    pub tls: Arc<rustls::ClientConfig>,
}

/// Pooled connections to one SMTP server.
pub struct Client {
    target: Target,
    idle: Mutex<Vec<Conn>>,
}

/// Idle connections kept at most.
const POOL: usize = 8;

impl Client {
    /// A client of `target` (connections are made when needed).
    pub fn new(target: Target) -> Client {
        Client {
            target,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn connect(&self) -> Result<Conn, SmtpError> {
        let t = &self.target;
        let addr = (t.host.as_str(), t.port)
            .to_socket_addrs()
            .map_err(SmtpError::network)?
            .next()
            .ok_or_else(|| SmtpError {
                transient: true,
                message: format!("`{}` has no address", t.host),
            })?;
        let tcp = TcpStream::connect_timeout(&addr, t.timeout).map_err(SmtpError::network)?;
        tcp.set_nodelay(true).map_err(SmtpError::network)?;
        tcp.set_read_timeout(Some(t.timeout))
            .map_err(SmtpError::network)?;
        tcp.set_write_timeout(Some(t.timeout))
            .map_err(SmtpError::network)?;
        let stream = match t.security {
            Security::Tls => self.tls(tcp)?,
            Security::None | Security::StartTls => Stream::Plain(tcp),
        };
        let mut conn = Conn {
            reader: BufReader::new(stream),
        };
        conn.expect("greeting", &[220])?;
        let offered = conn.command(&format!("EHLO {}", t.hello), &[250])?;
        if t.security == Security::StartTls {
            let starttls = offered
                .split(' ')
                .any(|word| word.eq_ignore_ascii_case("STARTTLS"));
            if !starttls {
                // Sending in the clear when TLS was asked for would leak
                // the messages (and the password). Retried: a relay that
                // cannot load its certificate stops offering STARTTLS
                // until it is fixed; the messages park meanwhile.
                return Err(SmtpError {
                    transient: true,
                    message: format!(
                        "SMTP server {}:{} does not offer STARTTLS (set `tls = \"none\"` to send in plain text)",
                        t.host, t.port
                    ),
                });
            }
            conn.command("STARTTLS", &[220])?;
            let Stream::Plain(tcp) = conn.reader.into_inner() else {
                return Err(SmtpError {
                    transient: true,
                    message: "STARTTLS on a TLS connection".into(),
                });
            };
            conn = Conn {
                reader: BufReader::new(self.tls(tcp)?),
            };
            // RFC 3207: the client forgets what it knew and says EHLO again.
            conn.command(&format!("EHLO {}", t.hello), &[250])?;
        }
        if let Some((user, password)) = &t.credentials {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
            conn.command(&format!("AUTH PLAIN {token}"), &[235])?;
        }
        Ok(conn)
    }

    /// `tcp` wrapped in TLS, the handshake done (so that a certificate
    /// problem shows here, named).
    fn tls(&self, tcp: TcpStream) -> Result<Stream, SmtpError> {
        let t = &self.target;
        let name =
            rustls::pki_types::ServerName::try_from(t.host.clone()).map_err(|e| SmtpError {
                transient: false,
                message: format!("`{}` is not a TLS server name: {e}", t.host),
            })?;
        let conn = rustls::ClientConnection::new(t.tls.clone(), name).map_err(|e| SmtpError {
            transient: false,
            message: format!("TLS to {}:{}: {e}", t.host, t.port),
        })?;
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            if let Err(e) = stream.conn.complete_io(&mut stream.sock) {
                // Retried, also for a certificate the roots do not vouch
                // for: an expired one gets renewed, and the messages park
                // (visible, retryable) rather than fail for good.
                return Err(SmtpError {
                    transient: true,
                    message: format!("TLS to {}:{}: {e}", t.host, t.port),
                });
            }
        }
        Ok(Stream::Tls(Box::new(stream)))
    }

    /// Sends `data` (a whole message, CRLF line ends) from `from` to
    /// `to`; the server's reply.
    pub fn send(&self, from: &str, to: &str, data: &[u8]) -> Result<String, SmtpError> {
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut conn = match pooled {
            Some(c) => c,
            None => self.connect()?,
        };
        let sent = Self::transaction(&mut conn, from, to, data);
        match &sent {
            Ok(_) => {
                if let Ok(mut idle) = self.idle.lock() {
                    if idle.len() < POOL {
                        idle.push(conn);
                    }
                }
            }
            // A refusal leaves the connection usable after RSET; anything
            // else drops it.
            Err(e) if !e.message.starts_with("SMTP connection") => {
                if conn.command("RSET", &[250]).is_ok() {
                    if let Ok(mut idle) = self.idle.lock() {
                        if idle.len() < POOL {
                            idle.push(conn);
                        }
                    }
                }
            }
            Err(_) => {}
        }
        sent
    }

    fn transaction(
        conn: &mut Conn,
        from: &str,
        to: &str,
        data: &[u8],
    ) -> Result<String, SmtpError> {
        conn.command(&format!("MAIL FROM:<{from}>"), &[250])?;
        conn.command(&format!("RCPT TO:<{to}>"), &[250, 251])?;
        conn.command("DATA", &[354])?;
        // The message, dot-stuffed, and its closing dot: one write.
        let mut out = Vec::with_capacity(data.len() + 64);
        let mut line_start = true;
        for &b in data {
            if line_start && b == b'.' {
                out.push(b'.');
            }
            out.push(b);
            line_start = b == b'\n';
        }
        if !out.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        conn.write(&out)?;
        conn.expect("DATA", &[250])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A server that answers as told and records what it reads.
    fn server(script: &'static [&'static str]) -> (u16, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut seen = String::new();
            s.write_all(b"220 hi\r\n").unwrap();
            for answer in script {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                seen.push_str(&line);
                if line.starts_with("DATA") {
                    s.write_all(b"354 go\r\n").unwrap();
                    loop {
                        let mut l = String::new();
                        reader.read_line(&mut l).unwrap();
                        seen.push_str(&l);
                        if l == ".\r\n" {
                            break;
                        }
                    }
                }
                s.write_all(answer.as_bytes()).unwrap();
            }
            seen
        });
        (port, handle)
    }

    fn client(port: u16) -> Client {
        Client::new(Target {
            host: "127.0.0.1".into(),
            port,
            timeout: Duration::from_secs(5),
            hello: "test".into(),
            credentials: None,
            security: Security::None,
            tls: crate::tls::client_config(None).unwrap(),
        })
    }

    #[test]
    fn a_message_is_sent_dot_stuffed() {
        let (port, server) = server(&[
            "250-hi\r\n250 SIZE 1000\r\n",
            "250 ok\r\n",
            "250 ok\r\n",
            "250 queued as 7\r\n",
        ]);
        let reply = client(port)
            .send(
                "a@x.example",
                "b@y.example",
                b"Subject: s\r\n\r\n.hidden\r\nend",
            )
            .unwrap();
        assert_eq!(reply, "queued as 7");
        let seen = server.join().unwrap();
        assert!(seen.contains("MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n"));
        assert!(seen.contains("\r\n..hidden\r\nend\r\n.\r\n"), "{seen:?}");
    }

    #[test]
    fn replies_4xx_are_transient_and_5xx_permanent() {
        let (port, _s) = server(&["250 hi\r\n", "451 try later\r\n", "250 ok\r\n"]);
        let e = client(port).send("a@x", "b@y", b"x").unwrap_err();
        assert!(e.transient, "{e:?}");
        assert!(e.message.contains("451 try later"), "{e:?}");
        let (port, _s) = server(&[
            "250 hi\r\n",
            "250 ok\r\n",
            "550 no such user\r\n",
            "250 ok\r\n",
        ]);
        let e = client(port).send("a@x", "b@y", b"x").unwrap_err();
        assert!(!e.transient, "{e:?}");
        assert!(e.message.contains("550 no such user"), "{e:?}");
    }
}
