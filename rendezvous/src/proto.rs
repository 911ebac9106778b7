//! Wire format: a challenge handshake ([`crate::auth`]), then length-prefixed requests.
//!
//! Request: op (1 byte) | key length (u32 LE) | key | payload length (u64 LE) | payload.
//! Response: status (1 byte) | payload length (u64 LE) | payload.

use std::io::{self, Read, Write};

pub const OP_SET: u8 = b'S';
pub const OP_GET: u8 = b'G';
pub const OP_TRY: u8 = b'T';
pub const OP_ADD: u8 = b'A';
pub const OK: u8 = 0;
pub const MISSING: u8 = 1;
pub const BAD: u8 = 2;
/// Largest value the store accepts (the NCCL id is 128 bytes; addresses are short).
pub const MAX_VALUE: u64 = 1 << 20;

pub fn read_line(r: &mut impl Read) -> io::Result<String> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while out.len() < 256 {
        r.read_exact(&mut b)?;
        if b[0] == b'\n' {
            return String::from_utf8(out)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not utf-8"));
        }
        out.push(b[0]);
    }
    Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"))
}

pub fn write_request(w: &mut impl Write, op: u8, key: &str, payload: &[u8]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(13 + key.len() + payload.len());
    buf.push(op);
    buf.extend_from_slice(&(key.len() as u32).to_le_bytes());
    buf.extend_from_slice(key.as_bytes());
    buf.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    buf.extend_from_slice(payload);
    w.write_all(&buf)?;
    w.flush()
}

pub fn read_request(r: &mut impl Read) -> io::Result<(u8, String, Vec<u8>)> {
    let mut op = [0u8; 1];
    r.read_exact(&mut op)?;
    let mut n4 = [0u8; 4];
    r.read_exact(&mut n4)?;
    let klen = u32::from_le_bytes(n4) as usize;
    if klen > 4096 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "key too long"));
    }
    let mut key = vec![0u8; klen];
    r.read_exact(&mut key)?;
    let payload = read_sized(r)?;
    let key = String::from_utf8(key)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "key not utf-8"))?;
    Ok((op[0], key, payload))
}

pub fn write_response(w: &mut impl Write, status: u8, payload: &[u8]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(9 + payload.len());
    buf.push(status);
    buf.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    buf.extend_from_slice(payload);
    w.write_all(&buf)?;
    w.flush()
}

pub fn read_response(r: &mut impl Read) -> io::Result<(u8, Vec<u8>)> {
    let mut st = [0u8; 1];
    r.read_exact(&mut st)?;
    Ok((st[0], read_sized(r)?))
}

fn read_sized(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut n8 = [0u8; 8];
    r.read_exact(&mut n8)?;
    let n = u64::from_le_bytes(n8);
    if n > MAX_VALUE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "value too large",
        ));
    }
    let mut v = vec![0u8; n as usize];
    r.read_exact(&mut v)?;
    Ok(v)
}
