//! Setting up the cpu backend's ring: every rank listens, publishes its
//! address in the store, connects to the next rank and accepts the previous
//! one. A connecting rank proves it knows the run's secret as store clients
//! do (challenge-response, [`rendezvous::auth`]) and then says which rank it
//! is. Each incoming connection is checked on its own thread and dropped
//! when it fails the proof or sends nothing for [`HANDSHAKE`], so a stranger
//! on the port can neither join the ring nor stall its setup.

use anyhow::{bail, Context, Result};
use rendezvous::{auth, Secret, StoreClient};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the ranks wait for each other's listeners and connections.
const SETUP_TIMEOUT: Duration = Duration::from_secs(300);
/// How long an incoming connection has to prove itself.
pub const HANDSHAKE: Duration = Duration::from_secs(5);

/// Connects `rank` to its ring neighbours: the streams to the next rank and
/// from the previous one, with `timeout` (`comm_timeout_s`) as their read
/// and write timeout.
pub fn connect(
    rank: usize,
    world: usize,
    store: &mut StoreClient,
    timeout: Duration,
) -> Result<(TcpStream, TcpStream)> {
    let (to, from) = ((rank + 1) % world, (rank + world - 1) % world);
    // The address this host reaches the store from is reachable by the other nodes.
    let listener = TcpListener::bind(SocketAddr::new(store.local_addr().ip(), 0))
        .with_context(|| format!("rank {rank}: ring setup: cannot listen"))?;
    listener.set_nonblocking(true)?;
    let me = listener.local_addr()?;
    let secret = store.secret().clone();
    let deadline = Instant::now() + SETUP_TIMEOUT.max(timeout);
    let give_up = AtomicBool::new(false);
    let (next, prev) = std::thread::scope(|s| {
        let admitted = s.spawn(|| admit(&listener, &secret, rank, from, deadline, &give_up));
        let next = store
            .set(&format!("cpu-comm/addr/{rank}"), me.to_string().as_bytes())
            .map_err(anyhow::Error::from)
            .and_then(|()| join(rank, to, store, &secret, deadline));
        if next.is_err() {
            give_up.store(true, Ordering::Relaxed);
        }
        let prev = admitted.join().expect("the ring listener thread panicked");
        (next, prev)
    });
    let (next, prev) = (next?, prev?);
    for s in [&next, &prev] {
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
    }
    Ok((next, prev))
}

/// Connects to rank `to`'s listener and proves who this rank is.
fn join(
    rank: usize,
    to: usize,
    store: &mut StoreClient,
    secret: &Secret,
    deadline: Instant,
) -> Result<TcpStream> {
    let wait = deadline.saturating_duration_since(Instant::now());
    let addr = store.get(&format!("cpu-comm/addr/{to}"), wait)?;
    let addr: SocketAddr = String::from_utf8_lossy(&addr).parse().with_context(|| {
        format!("rank {rank}: ring setup: bad address of rank {to} in the store")
    })?;
    let fail = |e: io::Error| {
        anyhow::anyhow!("rank {rank}: ring setup: connecting to rank {to} at {addr}: {e}")
    };
    let mut next = TcpStream::connect_timeout(&addr, Duration::from_secs(30)).map_err(fail)?;
    next.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(fail)?;
    secret
        .answer(auth::RING, &mut &next, &mut &next)
        .and_then(|()| next.write_all(&(rank as u64).to_le_bytes()))
        .map_err(fail)?;
    Ok(next)
}

/// Accepts connections until one proves to be rank `from`.
fn admit(
    listener: &TcpListener,
    secret: &Secret,
    rank: usize,
    from: usize,
    deadline: Instant,
    give_up: &AtomicBool,
) -> Result<TcpStream> {
    let (tx, rx) = mpsc::channel();
    loop {
        match listener.accept() {
            Ok((stream, addr)) => {
                let (tx, secret) = (tx.clone(), secret.clone());
                std::thread::spawn(move || {
                    let _ = tx.send((addr, check(stream, &secret, from)));
                });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e).with_context(|| format!("rank {rank}: ring setup: accepting")),
        }
        while let Ok((addr, checked)) = rx.try_recv() {
            match checked {
                Ok(stream) => return Ok(stream),
                Err(why) => eprintln!(
                    "rank {rank}: ring setup: dropped a connection from {addr} to the ring port: {why}"
                ),
            }
        }
        if give_up.load(Ordering::Relaxed) {
            bail!("rank {rank}: ring setup: stopped waiting for rank {from}");
        }
        if Instant::now() >= deadline {
            bail!("rank {rank}: ring setup: rank {from} did not connect within {SETUP_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether an incoming connection is rank `from`, proven with the secret.
fn check(stream: TcpStream, secret: &Secret, from: usize) -> Result<TcpStream, String> {
    let setup = || -> io::Result<()> {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(HANDSHAKE))?;
        stream.set_write_timeout(Some(HANDSHAKE))
    };
    setup().map_err(|e| e.to_string())?;
    let said = |e: io::Error| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            format!("it sent nothing for {} s", HANDSHAKE.as_secs())
        }
        _ => format!("it broke off the handshake ({e})"),
    };
    if !secret
        .challenge(auth::RING, &mut &stream, &mut &stream)
        .map_err(said)?
    {
        return Err("it does not know the run secret".into());
    }
    let mut who = [0u8; 8];
    (&stream).read_exact(&mut who).map_err(said)?;
    match u64::from_le_bytes(who) {
        r if r == from as u64 => Ok(stream),
        r => Err(format!("it says it is rank {r}, expected rank {from}")),
    }
}
