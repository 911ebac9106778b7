//! Proof of the run secret, challenge-response: the side that accepts a
//! connection sends a fresh nonce, the side that connects answers with
//! SHA-256 over the secret and the nonce, so the secret itself never crosses
//! the network and an answer cannot be replayed. The store and the ring links
//! between ranks both admit peers this way, each under its own greeting (an
//! answer for one is worthless for the other).

use crate::proto::read_line;
use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};

/// Greeting of the rendezvous store.
pub const STORE: &str = "FSTORE1";
/// Greeting of a rank's ring listener (the cpu backend's links).
pub const RING: &str = "FRING1";

/// A run's shared secret.
#[derive(Clone)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

fn error(kind: io::ErrorKind, message: &str) -> io::Error {
    io::Error::new(kind, message.to_string())
}

impl Secret {
    /// Wraps the secret text (`FERROSPEED_RUN_ID`).
    pub fn new(secret: &str) -> Secret {
        Secret(secret.to_string())
    }

    /// The secret itself, for a new connection of this process.
    pub(crate) fn text(&self) -> &str {
        &self.0
    }

    /// The answer to `nonce` under `greeting`.
    fn proof(&self, greeting: &str, nonce: &str) -> String {
        let mut h = Sha256::new();
        for part in ["ferrospeed", greeting, &self.0, nonce] {
            h.update(part.as_bytes());
            h.update(b"\0");
        }
        hex::encode(h.finalize())
    }

    /// The accepting side: sends a challenge, reads the answer and replies
    /// `OK` or `DENIED`. True when the peer proved it knows the secret. Read
    /// timeouts are the caller's (set them on the stream first).
    pub fn challenge(
        &self,
        greeting: &str,
        r: &mut impl Read,
        w: &mut impl Write,
    ) -> io::Result<bool> {
        let nonce = crate::new_secret();
        w.write_all(format!("{greeting} {nonce}\n").as_bytes())?;
        w.flush()?;
        let answer = read_line(r)?;
        let want = self.proof(greeting, &nonce);
        let ok = answer
            .strip_prefix("AUTH ")
            .is_some_and(|got| same(got.as_bytes(), want.as_bytes()));
        w.write_all(if ok { b"OK\n" } else { b"DENIED\n" })?;
        w.flush()?;
        Ok(ok)
    }

    /// The connecting side: answers the challenge. `InvalidData` when the
    /// other end does not speak `greeting`, `PermissionDenied` when it
    /// refuses the answer (another run's secret).
    pub fn answer(&self, greeting: &str, r: &mut impl Read, w: &mut impl Write) -> io::Result<()> {
        let line = read_line(r)?;
        let nonce = line
            .strip_prefix(greeting)
            .and_then(|rest| rest.strip_prefix(' '))
            .ok_or_else(|| error(io::ErrorKind::InvalidData, "unexpected greeting"))?;
        w.write_all(format!("AUTH {}\n", self.proof(greeting, nonce.trim())).as_bytes())?;
        w.flush()?;
        match read_line(r)?.as_str() {
            "OK" => Ok(()),
            _ => Err(error(
                io::ErrorKind::PermissionDenied,
                "the secret was refused",
            )),
        }
    }
}

/// Compares in time independent of where the inputs differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    fn handshake(server: &str, client: &str, greetings: (&str, &str)) -> (bool, io::Result<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (server, client) = (Secret::new(server), Secret::new(client));
        let (g_server, g_client) = (greetings.0.to_string(), greetings.1.to_string());
        let t = std::thread::spawn(move || {
            let s = TcpStream::connect(addr).unwrap();
            client.answer(&g_client, &mut &s, &mut &s)
        });
        let (s, _) = listener.accept().unwrap();
        let admitted = server
            .challenge(&g_server, &mut &s, &mut &s)
            .unwrap_or(false);
        (admitted, t.join().unwrap())
    }

    #[test]
    fn only_the_same_secret_under_the_same_greeting_is_admitted() {
        let (ok, answered) = handshake("s3cret", "s3cret", (RING, RING));
        assert!(ok && answered.is_ok());
        let (ok, answered) = handshake("s3cret", "guess", (RING, RING));
        assert!(!ok);
        assert_eq!(
            answered.unwrap_err().kind(),
            io::ErrorKind::PermissionDenied
        );
        let (ok, answered) = handshake("s3cret", "s3cret", (STORE, RING));
        assert!(!ok);
        assert_eq!(answered.unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
