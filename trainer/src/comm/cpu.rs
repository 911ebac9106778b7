//! The `cpu` backend: ring collectives over TCP between neighbouring ranks.
//!
//! Rank r sends to r+1 and receives from r-1. Reduce-scatter and all-gather
//! take W-1 steps each, every rank sending 1/W of the data per step, so each
//! rank sends (W-1)/W of the tensor per collective, as NCCL's rings do. CUDA
//! tensors are staged through host memory, so several ranks can share a GPU.

use super::bytes::{host, nbytes, slice_mut};
use super::{chunk_offsets, chunk_sizes, Comm, ReduceOp};
use anyhow::{bail, Context, Result};
use rendezvous::StoreClient;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;
use tch::{Kind, Tensor};

/// Ring links of one rank.
pub struct CpuComm {
    rank: usize,
    world: usize,
    next: Option<TcpStream>,
    prev: Option<TcpStream>,
    sent: u64,
}

const SETUP_TIMEOUT: Duration = Duration::from_secs(300);

impl CpuComm {
    /// A world of one rank (no sockets).
    pub fn single() -> CpuComm {
        CpuComm {
            rank: 0,
            world: 1,
            next: None,
            prev: None,
            sent: 0,
        }
    }

    /// Publishes this rank's listening address in the store and connects the ring.
    pub fn connect(rank: usize, world: usize, store: &mut StoreClient) -> Result<CpuComm> {
        if world == 1 {
            return Ok(CpuComm {
                rank,
                world,
                next: None,
                prev: None,
                sent: 0,
            });
        }
        // The address this host reaches the store from is reachable by the other nodes.
        let listener = TcpListener::bind(SocketAddr::new(store.local_addr().ip(), 0))?;
        let me = listener.local_addr()?;
        store.set(&format!("cpu-comm/addr/{rank}"), me.to_string().as_bytes())?;
        let to = (rank + 1) % world;
        let addr = store.get(&format!("cpu-comm/addr/{to}"), SETUP_TIMEOUT)?;
        let addr: SocketAddr = String::from_utf8_lossy(&addr)
            .parse()
            .context("bad peer address in the store")?;
        let mut next = TcpStream::connect(addr)
            .with_context(|| format!("rank {rank}: cannot connect to rank {to} at {addr}"))?;
        next.write_all(&(rank as u64).to_le_bytes())?;
        let (mut prev, _) = listener.accept()?;
        let mut who = [0u8; 8];
        prev.read_exact(&mut who)?;
        let from = (rank + world - 1) % world;
        if u64::from_le_bytes(who) != from as u64 {
            bail!(
                "rank {rank}: expected a connection from rank {from}, got rank {}",
                u64::from_le_bytes(who)
            );
        }
        for s in [&next, &prev] {
            s.set_nodelay(true)?;
        }
        Ok(CpuComm {
            rank,
            world,
            next: Some(next),
            prev: Some(prev),
            sent: 0,
        })
    }

    /// Sends `out` to the next rank while receiving `inp` from the previous one.
    fn exchange(&mut self, out: &[u8], inp: &mut [u8]) -> Result<()> {
        let (rank, world) = (self.rank, self.world);
        let (next, prev) = (self.next.as_mut().unwrap(), self.prev.as_mut().unwrap());
        std::thread::scope(|s| -> Result<()> {
            let sender = s.spawn(move || next.write_all(out));
            let got = prev.read_exact(inp);
            let put = sender.join().expect("sender thread panicked");
            got.with_context(|| {
                format!(
                    "rank {rank}: lost the connection from rank {} (did it exit?)",
                    (rank + world - 1) % world
                )
            })?;
            put.with_context(|| {
                format!(
                    "rank {rank}: lost the connection to rank {} (did it exit?)",
                    (rank + 1) % world
                )
            })?;
            Ok(())
        })?;
        self.sent += out.len() as u64;
        Ok(())
    }

    /// Ring all-gather of the byte blocks `sizes[i]` at `offsets[i]` of `buf`,
    /// block `rank` being already in place.
    fn ring_gather(&mut self, buf: &Tensor, offsets: &[usize], sizes: &[usize]) -> Result<()> {
        let (r, w) = (self.rank, self.world);
        for step in 0..w - 1 {
            let (s, d) = ((r + w - step) % w, (r + 2 * w - step - 1) % w);
            // SAFETY: blocks s and d are distinct regions of the contiguous host `buf`.
            let (out, inp) = unsafe {
                (
                    slice_mut(buf, offsets[s], sizes[s]),
                    slice_mut(buf, offsets[d], sizes[d]),
                )
            };
            self.exchange(out, inp)?;
        }
        Ok(())
    }
}

fn check_reducible(t: &Tensor) -> Result<()> {
    match t.kind() {
        Kind::Float | Kind::Double | Kind::BFloat16 | Kind::Half | Kind::Int | Kind::Int64 => {
            Ok(())
        }
        k => bail!("cannot reduce tensors of kind {k:?}"),
    }
}

fn finish(t: Tensor, op: ReduceOp, world: usize) -> Tensor {
    match op {
        ReduceOp::Sum => t,
        ReduceOp::Avg if t.is_floating_point() => t / world as f64,
        ReduceOp::Avg => t.divide_scalar_mode(world as i64, "trunc"),
    }
}

impl Comm for CpuComm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.world
    }

    fn all_gather(&mut self, input: &Tensor) -> Result<Tensor> {
        if self.world == 1 {
            return Ok(input.flatten(0, -1));
        }
        let device = input.device();
        let input = host(&input.flatten(0, -1));
        let lens = Tensor::from_slice(&[input.numel() as i64]);
        let lens: Vec<i64> = Vec::try_from(self.all_gather_fixed(&lens)?)?;
        let elt = input.kind().elt_size_in_bytes();
        let sizes: Vec<usize> = lens.iter().map(|&n| n as usize * elt).collect();
        let offsets = chunk_offsets(&sizes);
        let total: i64 = lens.iter().sum();
        let out = Tensor::empty([total], (input.kind(), tch::Device::Cpu));
        // SAFETY: `out` is a fresh contiguous host tensor sized for every block.
        unsafe { slice_mut(&out, offsets[self.rank], sizes[self.rank]) }
            .copy_from_slice(unsafe { slice_mut(&input, 0, nbytes(&input)) });
        self.ring_gather(&out, &offsets, &sizes)?;
        Ok(out.to_device(device))
    }

    fn reduce_scatter(&mut self, input: &Tensor, op: ReduceOp) -> Result<Tensor> {
        check_reducible(input)?;
        if self.world == 1 {
            return Ok(finish(input.flatten(0, -1), op, 1));
        }
        let device = input.device();
        let buf = host(&input.flatten(0, -1)).copy();
        let (r, w) = (self.rank, self.world);
        let sizes = chunk_sizes(buf.numel(), w);
        let offsets = chunk_offsets(&sizes);
        let elt = buf.kind().elt_size_in_bytes();
        let mut scratch = vec![0u8; sizes[0] * elt];
        for step in 0..w.saturating_sub(1) {
            let (s, d) = ((r + 2 * w - step - 1) % w, (r + 2 * w - step - 2) % w);
            // SAFETY: block s of the contiguous host `buf`, read while `scratch` is written.
            let out = unsafe { slice_mut(&buf, offsets[s] * elt, sizes[s] * elt) };
            let inp = &mut scratch[..sizes[d] * elt];
            self.exchange(out, inp)?;
            if sizes[d] > 0 {
                let got = Tensor::from_data_size(inp, &[sizes[d] as i64], buf.kind());
                let _ = buf
                    .narrow(0, offsets[d] as i64, sizes[d] as i64)
                    .g_add_(&got);
            }
        }
        let mine = buf.narrow(0, offsets[r] as i64, sizes[r] as i64).copy();
        Ok(finish(mine, op, w).to_device(device))
    }

    fn all_reduce(&mut self, tensor: &mut Tensor, op: ReduceOp) -> Result<()> {
        if self.world == 1 {
            return Ok(());
        }
        let piece = self.reduce_scatter(tensor, ReduceOp::Sum)?;
        let full = self.all_gather(&piece)?;
        let full = finish(full, op, self.world).view(tensor.size().as_slice());
        tensor.copy_(&full);
        Ok(())
    }

    fn broadcast(&mut self, tensor: &mut Tensor, root: usize) -> Result<()> {
        let (r, w) = (self.rank, self.world);
        if root >= w {
            bail!("broadcast root {root} is not a rank of a world of {w}");
        }
        if w == 1 {
            return Ok(());
        }
        let buf = host(tensor).copy();
        let n = nbytes(&buf);
        // SAFETY: the whole of the contiguous host `buf`.
        let data = unsafe { slice_mut(&buf, 0, n) };
        let pos = (r + w - root) % w; // distance from the root along the ring
        if pos > 0 {
            self.prev
                .as_mut()
                .unwrap()
                .read_exact(data)
                .with_context(|| format!("rank {r}: broadcast from rank {root} broke off"))?;
        }
        if pos < w - 1 {
            self.next
                .as_mut()
                .unwrap()
                .write_all(data)
                .with_context(|| {
                    format!("rank {r}: broadcast to rank {} broke off", (r + 1) % w)
                })?;
            self.sent += n as u64;
        }
        tensor.copy_(&buf);
        Ok(())
    }

    fn barrier(&mut self) -> Result<()> {
        let mut t = Tensor::from_slice(&[1i64]);
        self.all_reduce(&mut t, ReduceOp::Sum)
    }

    fn bytes_sent(&self) -> u64 {
        self.sent
    }
}

impl CpuComm {
    /// All-gather of equal-length host tensors (no length exchange).
    fn all_gather_fixed(&mut self, input: &Tensor) -> Result<Tensor> {
        let n = nbytes(input);
        let sizes = vec![n; self.world];
        let offsets = chunk_offsets(&sizes);
        let out = Tensor::empty(
            [input.numel() as i64 * self.world as i64],
            (input.kind(), tch::Device::Cpu),
        );
        // SAFETY: fresh contiguous host tensors.
        unsafe { slice_mut(&out, offsets[self.rank], n) }
            .copy_from_slice(unsafe { slice_mut(input, 0, n) });
        self.ring_gather(&out, &offsets, &sizes)?;
        Ok(out)
    }
}
