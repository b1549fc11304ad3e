//! An HTTP server that records the requests it gets, for the tests of
//! HTTP providers.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the sink received.
#[derive(Clone, Debug)]
pub struct Request {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

/// An HTTP server that records requests and answers each one as `answer`
/// says for its body: a status, after a delay.
pub struct Sink {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl Sink {
    pub fn start(answer: impl Fn(&str, usize) -> (u16, Duration) + Send + Sync + 'static) -> Sink {
        Sink::answering(move |r: &Request, nth| {
            let (status, delay) = answer(&r.body, nth);
            (status, delay, String::new())
        })
    }

    /// A sink whose answers are told by the whole request (and how many
    /// with its body came before): a status, a delay and a JSON body.
    pub fn answering(
        answer: impl Fn(&Request, usize) -> (u16, Duration, String) + Send + Sync + 'static,
    ) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let seen = requests.clone();
        let answer = Arc::new(answer);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (seen, answer) = (seen.clone(), answer.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut headers = HashMap::new();
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split(' ').nth(1).unwrap_or("").to_owned();
                    // A request cut short (its sender was killed) is not
                    // a request.
                    loop {
                        line.clear();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) if line == "\r\n" => break,
                            Ok(_) => {}
                        }
                        if let Some((k, v)) = line.trim_end().split_once(':') {
                            headers.insert(k.to_ascii_lowercase(), v.trim().to_owned());
                        }
                    }
                    let Some(len) = headers
                        .get("content-length")
                        .and_then(|v| v.parse::<usize>().ok())
                    else {
                        return;
                    };
                    let mut body = vec![0; len];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let body = String::from_utf8(body).unwrap();
                    let request = Request {
                        path,
                        headers,
                        body: body.clone(),
                    };
                    let nth = {
                        let mut s = seen.lock().unwrap();
                        s.push(request.clone());
                        s.iter().filter(|r| r.body == body).count()
                    };
                    let (status, delay, text) = answer(&request, nth);
                    std::thread::sleep(delay);
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                        text.len()
                    );
                });
            }
        });
        Sink { port, requests }
    }

    pub fn received(&self, user: &str) -> Vec<Request> {
        let needle = format!("\"user\":\"{user}\"");
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.body.contains(&needle))
            .cloned()
            .collect()
    }
}
