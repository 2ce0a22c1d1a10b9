//! A callback receiver on loopback that counts webhook-ids: `/ok…` answers 200 at once;
//! `/held…` holds each request unanswered while the hold is on (so the instance that sent it
//! keeps its claim on the delivery) and notes a sender that went away meanwhile (killed).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Held,
    Answered,
    /// The sender closed the connection before an answer: it died mid-attempt.
    Abandoned,
}

#[derive(Clone, Debug)]
pub struct Hit {
    pub path: String,
    pub webhook_id: String,
    pub signed: bool,
    pub at: Instant,
    pub outcome: Outcome,
}

type Hits = Arc<Mutex<Vec<Hit>>>;

pub struct Receiver {
    /// Two ports: two receivers to an instance, which sends at most two at once to each.
    addrs: [SocketAddr; 2],
    hits: Hits,
    hold: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Receiver {
    /// Listening, with the hold on.
    pub async fn start() -> Receiver {
        let hits: Hits = Arc::default();
        let (hold, holding) = watch::channel(true);
        let mut addrs = Vec::new();
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
            addrs.push(listener.local_addr().expect("bound"));
            let (hits, holding) = (hits.clone(), holding.clone());
            tasks.push(tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(serve(stream, hits.clone(), holding.clone()));
                }
            }));
        }
        Receiver {
            addrs: [addrs[0], addrs[1]],
            hits,
            hold,
            tasks,
        }
    }

    /// `path` on the first port.
    pub fn url(&self, path: &str) -> String {
        self.url_at(0, path)
    }

    /// `path` on port `i` (0 or 1).
    pub fn url_at(&self, i: usize, path: &str) -> String {
        format!("http://{}{path}", self.addrs[i % 2])
    }

    /// Answers the held requests and every later one at once.
    pub fn release(&self) {
        let _ = self.hold.send(false);
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().map(|h| h.clone()).unwrap_or_default()
    }
}

/// One connection: requests one after another (kept alive), each recorded.
async fn serve(stream: TcpStream, hits: Hits, mut holding: watch::Receiver<bool>) {
    let mut conn = BufReader::new(stream);
    loop {
        let Some((path, headers, _body)) = read_request(&mut conn).await else {
            return;
        };
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let at = {
            let Ok(mut hits) = hits.lock() else { return };
            hits.push(Hit {
                path: path.clone(),
                webhook_id: header("webhook-id").unwrap_or_default(),
                signed: header("webhook-signature").is_some(),
                at: Instant::now(),
                outcome: Outcome::Held,
            });
            hits.len() - 1
        };
        let outcome = |o: Outcome| {
            if let Ok(mut hits) = hits.lock() {
                hits[at].outcome = o;
            }
        };
        if path.starts_with("/held") {
            let mut probe = [0u8; 1];
            tokio::select! {
                // Nothing more comes before the answer: a read ending is the sender gone, noted
                // even when the hold ends at the same moment.
                biased;
                _ = conn.read(&mut probe) => {
                    outcome(Outcome::Abandoned);
                    return;
                }
                _ = holding.wait_for(|on| !*on) => {}
            }
        }
        let answered = conn
            .get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .await;
        outcome(if answered.is_ok() {
            Outcome::Answered
        } else {
            Outcome::Abandoned
        });
        if answered.is_err() {
            return;
        }
    }
}

type Request = (String, Vec<(String, String)>, Vec<u8>);

async fn read_request(conn: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if conn.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        conn.read_line(&mut h).await.ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0usize);
    let mut body = vec![0; length];
    conn.read_exact(&mut body).await.ok()?;
    Some((path, headers, body))
}
