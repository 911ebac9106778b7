//! Request bodies: `Content-Length` bytes or `Transfer-Encoding: chunked`,
//! read straight from the connection; a body cut short is an error.

use std::io::{self, BufRead, BufReader, Read};
use std::net::TcpStream;

/// A request body: a fixed length or chunked.
pub enum Body<'a> {
    /// `Content-Length` bytes left.
    Fixed(io::Take<&'a mut BufReader<TcpStream>>),
    /// Chunked transfer encoding.
    Chunked(Chunked<'a>),
}

impl Read for Body<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Body::Fixed(t) => {
                let want = t.limit();
                let n = t.read(buf)?;
                if n == 0 && want > 0 && !buf.is_empty() {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                Ok(n)
            }
            Body::Chunked(c) => c.read(buf),
        }
    }
}

/// Decoder for `Transfer-Encoding: chunked`.
pub struct Chunked<'a> {
    inner: &'a mut BufReader<TcpStream>,
    left: u64,
    done: bool,
}

impl<'a> Chunked<'a> {
    /// A decoder of the chunked body that follows on `inner`.
    pub fn new(inner: &'a mut BufReader<TcpStream>) -> Self {
        Chunked {
            inner,
            left: 0,
            done: false,
        }
    }
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let line = read_line(self.inner)?;
            let size = line.split(';').next().unwrap_or("").trim();
            self.left = u64::from_str_radix(size, 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if self.left == 0 {
                // Trailers, then the empty line.
                while !read_line(self.inner)?.is_empty() {}
                self.done = true;
                return Ok(0);
            }
        }
        let want = buf.len().min(self.left as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.left -= n as u64;
        if self.left == 0 {
            read_line(self.inner)?; // CRLF after the chunk
        }
        Ok(n)
    }
}

/// One line of the connection, without its CRLF; at most 64 KiB, an error at
/// the end of the stream.
pub fn read_line(r: &mut impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    let n = r.take(64 * 1024).read_line(&mut line)?;
    if n == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
