//! The store server: one thread per connection, values in a map guarded by a
//! mutex, blocking reads woken by a condition variable.

use crate::auth::{self, Secret};
use crate::proto::{self, BAD, MISSING, OK};
use std::collections::HashMap;
use std::io::{self, BufReader, BufWriter};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Shared {
    map: Mutex<HashMap<String, Vec<u8>>>,
    changed: Condvar,
}

/// A running store. It serves until the process exits.
pub struct StoreServer {
    addr: SocketAddr,
}

impl StoreServer {
    /// Binds `bind` (port 0 picks a free port) and serves clients that know `secret`.
    pub fn start(bind: SocketAddr, secret: &str) -> io::Result<StoreServer> {
        let listener = TcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let secret = Secret::new(secret);
        std::thread::Builder::new()
            .name("store-accept".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let (shared, secret) = (shared.clone(), secret.clone());
                    let _ =
                        std::thread::Builder::new()
                            .name("store-conn".into())
                            .spawn(move || {
                                let _ = serve(stream, &shared, &secret);
                            });
                }
            })?;
        Ok(StoreServer { addr })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

fn serve(stream: TcpStream, shared: &Shared, secret: &Secret) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let peer = stream.peer_addr()?;
    tracing::debug!("rendezvous: connection from {peer}");
    let mut r = BufReader::new(stream.try_clone()?);
    let mut w = BufWriter::new(stream);
    // A client has a few seconds to prove it knows the secret.
    r.get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))?;
    if !secret.challenge(auth::STORE, &mut r, &mut w)? {
        tracing::debug!("rendezvous: {peer} refused (wrong secret)");
        return Ok(());
    }
    tracing::debug!("rendezvous: {peer} admitted");
    r.get_ref().set_read_timeout(None)?;
    loop {
        let (op, key, payload) = match proto::read_request(&mut r) {
            Ok(req) => req,
            Err(_) => return Ok(()), // client gone
        };
        match op {
            proto::OP_SET => {
                shared.map.lock().unwrap().insert(key, payload);
                shared.changed.notify_all();
                proto::write_response(&mut w, OK, &[])?;
            }
            proto::OP_TRY => match shared.map.lock().unwrap().get(&key) {
                Some(v) => proto::write_response(&mut w, OK, v)?,
                None => proto::write_response(&mut w, MISSING, &[])?,
            },
            proto::OP_GET => {
                let ms = payload
                    .get(..8)
                    .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap()));
                let deadline = Instant::now() + Duration::from_millis(ms);
                let mut map = shared.map.lock().unwrap();
                loop {
                    if let Some(v) = map.get(&key) {
                        let v = v.clone();
                        drop(map);
                        proto::write_response(&mut w, OK, &v)?;
                        break;
                    }
                    let now = Instant::now();
                    if now >= deadline {
                        drop(map);
                        proto::write_response(&mut w, MISSING, &[])?;
                        break;
                    }
                    map = shared.changed.wait_timeout(map, deadline - now).unwrap().0;
                }
            }
            proto::OP_ADD => {
                let delta = payload
                    .get(..8)
                    .map_or(0, |b| i64::from_le_bytes(b.try_into().unwrap()));
                let mut map = shared.map.lock().unwrap();
                let old = map
                    .get(&key)
                    .and_then(|v| v.get(..8))
                    .map_or(0, |b| i64::from_le_bytes(b.try_into().unwrap()));
                let new = old + delta;
                map.insert(key, new.to_le_bytes().to_vec());
                drop(map);
                shared.changed.notify_all();
                proto::write_response(&mut w, OK, &new.to_le_bytes())?;
            }
            _ => {
                proto::write_response(&mut w, BAD, b"unknown operation")?;
                return Ok(());
            }
        }
    }
}
