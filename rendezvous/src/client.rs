//! The store client used by ranks and by `launch` on other nodes.

use crate::auth::{self, Secret};
use crate::proto::{self, OK};
use std::io::{self, BufReader, BufWriter};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// A connection to the run's store. Keys are prefixed with a namespace (the
/// restart attempt) so that attempts never see each other's values.
pub struct StoreClient {
    r: BufReader<TcpStream>,
    w: BufWriter<TcpStream>,
    prefix: String,
    local: SocketAddr,
    host: String,
    port: u16,
    secret: Secret,
}

fn err(kind: io::ErrorKind, m: String) -> io::Error {
    io::Error::new(kind, m)
}

/// Opens a TCP connection to `host:port`, retrying until `timeout`.
fn reach(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let deadline = Instant::now() + timeout;
    loop {
        let attempt = (host, port)
            .to_socket_addrs()
            .and_then(|mut a| {
                a.next()
                    .ok_or_else(|| err(io::ErrorKind::NotFound, format!("no address for {host}")))
            })
            .and_then(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)));
        match attempt {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() >= deadline => {
                return Err(err(
                    e.kind(),
                    format!("cannot reach the rendezvous store at {host}:{port}: {e}"),
                ))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

impl StoreClient {
    /// Connects to `host:port`, retrying until `timeout` (the server may not be up yet),
    /// and authenticates with `secret`.
    pub fn connect(
        host: &str,
        port: u16,
        secret: &str,
        prefix: &str,
        timeout: Duration,
    ) -> io::Result<StoreClient> {
        let secret = Secret::new(secret);
        let stream = reach(host, port, timeout)?;
        stream.set_nodelay(true)?;
        let local = stream.local_addr()?;
        let mut r = BufReader::new(stream.try_clone()?);
        let mut w = BufWriter::new(stream);
        r.get_ref()
            .set_read_timeout(Some(Duration::from_secs(30)))?;
        secret
            .answer(auth::STORE, &mut r, &mut w)
            .map_err(|e| match e.kind() {
                io::ErrorKind::InvalidData => err(e.kind(), format!("{host}:{port} is not a Ferrospeed store")),
                io::ErrorKind::PermissionDenied => err(e.kind(), format!("the rendezvous store at {host}:{port} refused this process: wrong run secret (FERROSPEED_RUN_ID)")),
                _ => e,
            })?;
        r.get_ref().set_read_timeout(None)?;
        tracing::debug!("rendezvous: connected to the store at {host}:{port} as {local}");
        Ok(StoreClient {
            r,
            w,
            prefix: prefix.to_string(),
            local,
            host: host.to_string(),
            port,
            secret,
        })
    }

    /// A second connection to the same store, in the same namespace (for
    /// another thread).
    pub fn reconnect(&self, timeout: Duration) -> io::Result<StoreClient> {
        let secret = self.secret.text();
        StoreClient::connect(&self.host, self.port, secret, &self.prefix, timeout)
    }

    /// The run's secret, to admit peers on other links ([`Secret::challenge`]).
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// This end's address as the store sees it: a routable address of this host.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn call(&mut self, op: u8, key: &str, payload: &[u8]) -> io::Result<(u8, Vec<u8>)> {
        let key = format!("{}{key}", self.prefix);
        proto::write_request(&mut self.w, op, &key, payload)?;
        proto::read_response(&mut self.r)
    }

    /// Stores `value` under `key`.
    pub fn set(&mut self, key: &str, value: &[u8]) -> io::Result<()> {
        self.call(proto::OP_SET, key, value).map(|_| ())
    }

    /// Waits up to `timeout` for `key` and returns its value.
    pub fn get(&mut self, key: &str, timeout: Duration) -> io::Result<Vec<u8>> {
        let ms = timeout.as_millis().min(u64::MAX as u128) as u64;
        match self.call(proto::OP_GET, key, &ms.to_le_bytes())? {
            (OK, v) => Ok(v),
            _ => Err(err(io::ErrorKind::TimedOut, format!("timed out after {timeout:?} waiting for `{key}` in the rendezvous store (did every rank start?)"))),
        }
    }

    /// The value of `key` if it is set now.
    pub fn try_get(&mut self, key: &str) -> io::Result<Option<Vec<u8>>> {
        Ok(match self.call(proto::OP_TRY, key, &[])? {
            (OK, v) => Some(v),
            _ => None,
        })
    }

    /// Adds `delta` to the counter `key` and returns the new value.
    pub fn add(&mut self, key: &str, delta: i64) -> io::Result<i64> {
        let (_, v) = self.call(proto::OP_ADD, key, &delta.to_le_bytes())?;
        Ok(i64::from_le_bytes(
            v.get(..8).and_then(|b| b.try_into().ok()).unwrap_or([0; 8]),
        ))
    }

    /// Blocks until `n` callers have reached the barrier `name`.
    pub fn barrier(&mut self, name: &str, n: i64, timeout: Duration) -> io::Result<()> {
        let arrived = self.add(&format!("{name}/count"), 1)?;
        if arrived == n {
            self.set(&format!("{name}/done"), b"1")?;
        }
        self.get(&format!("{name}/done"), timeout).map(|_| ())
    }
}
