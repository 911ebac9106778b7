//! The cpu backend's collectives against a direct computation, for world
//! sizes 1, 2, 3, 4 and 8, several dtypes, odd and empty lengths.

use rendezvous::{StoreClient, StoreServer};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tch::{Kind, Tensor};
use trainer::comm::{chunk_offsets, chunk_sizes, Comm, CpuComm, Queued, ReduceOp};

/// Runs `body(rank, comm)` on `world` threads connected through a store.
fn with_world<F>(world: usize, body: F)
where
    F: Fn(usize, &mut CpuComm) + Send + Sync + Copy + 'static,
{
    with_world_owned(world, move |rank, mut comm| body(rank, &mut comm));
}

/// [`with_world`], the body owning its comm.
fn with_world_owned<F>(world: usize, body: F)
where
    F: Fn(usize, CpuComm) + Send + Sync + Copy + 'static,
{
    tch::set_num_threads(1);
    let server = StoreServer::start("127.0.0.1:0".parse().unwrap(), "t").unwrap();
    let port = server.addr().port();
    let handles: Vec<_> = (0..world)
        .map(|rank| {
            std::thread::spawn(move || {
                let comm = CpuComm::connect(rank, world, &mut store(port, "t")).unwrap();
                body(rank, comm);
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a rank failed");
    }
}

/// Rank r's deterministic input of `n` elements.
fn input(rank: usize, n: usize, kind: Kind) -> Tensor {
    let base = Tensor::arange(n as i64, (Kind::Double, tch::Device::Cpu));
    ((base * 0.37 + rank as f64 * 1.5).sin() * 8.0)
        .round()
        .to_kind(kind)
}

fn sum_over_ranks(world: usize, n: usize, kind: Kind) -> Tensor {
    (0..world)
        .map(|r| input(r, n, kind).to_kind(Kind::Double))
        .fold(
            Tensor::zeros([n as i64], (Kind::Double, tch::Device::Cpu)),
            |a, b| a + b,
        )
}

fn assert_same(got: &Tensor, want: &Tensor) {
    assert_eq!(got.size(), want.size());
    let diff = (got.to_kind(Kind::Double) - want.to_kind(Kind::Double))
        .abs()
        .sum(Kind::Double)
        .double_value(&[]);
    assert!(diff == 0.0, "total difference {diff}");
}

const WORLDS: [usize; 5] = [1, 2, 3, 4, 8];
const LENGTHS: [usize; 5] = [0, 1, 7, 1000, 4099];

#[test]
fn collectives_started_on_the_comm_thread_finish_in_any_order_with_the_right_results() {
    for world in [2, 3] {
        with_world_owned(world, move |rank, comm| {
            let mut q = Queued::start(Box::new(comm)).unwrap();
            let (a, b) = (
                input(rank, 12, Kind::Float),
                input(rank, 9 * world, Kind::Float),
            );
            let gather = q.start_all_gather(&a).unwrap();
            let scatter = q.start_reduce_scatter(&b, ReduceOp::Sum).unwrap();
            let mut c = input(rank, 5, Kind::Int64);
            q.all_reduce(&mut c, ReduceOp::Sum).unwrap();
            assert_same(&c, &sum_over_ranks(world, 5, Kind::Int64));
            let piece = sum_over_ranks(world, 9 * world, Kind::Float).narrow(0, 9 * rank as i64, 9);
            assert_same(&scatter.wait().unwrap(), &piece);
            let all: Vec<Tensor> = (0..world).map(|r| input(r, 12, Kind::Float)).collect();
            assert_same(&gather.wait().unwrap(), &Tensor::cat(&all, 0));
            q.barrier().unwrap();
        });
    }
}
const KINDS: [Kind; 4] = [Kind::Float, Kind::BFloat16, Kind::Double, Kind::Int64];

#[test]
fn all_reduce_equals_the_sum() {
    for world in WORLDS {
        with_world(world, move |rank, comm| {
            for kind in KINDS {
                for n in LENGTHS {
                    // Integer-valued inputs: sums are exact in every dtype here.
                    let mut t = input(rank, n, kind).view([-1, 1]);
                    comm.all_reduce(&mut t, ReduceOp::Sum).unwrap();
                    assert_eq!(t.size(), vec![n as i64, 1]);
                    assert_same(&t.view([-1]), &sum_over_ranks(world, n, kind).to_kind(kind));
                }
            }
        });
    }
}

#[test]
fn reduce_scatter_gives_each_rank_its_reduced_piece() {
    for world in WORLDS {
        with_world(world, move |rank, comm| {
            for kind in KINDS {
                for n in LENGTHS {
                    let got = comm
                        .reduce_scatter(&input(rank, n, kind), ReduceOp::Sum)
                        .unwrap();
                    let sizes = chunk_sizes(n, world);
                    let off = chunk_offsets(&sizes)[rank] as i64;
                    let want = sum_over_ranks(world, n, kind).narrow(0, off, sizes[rank] as i64);
                    assert_eq!(got.kind(), kind);
                    assert_same(&got, &want);
                }
            }
        });
    }
}

#[test]
fn all_gather_concatenates_in_rank_order() {
    for world in WORLDS {
        with_world(world, move |rank, comm| {
            for kind in KINDS {
                for n in LENGTHS {
                    let got = comm.all_gather(&input(rank, n, kind)).unwrap();
                    let want = Tensor::cat(
                        &(0..world).map(|r| input(r, n, kind)).collect::<Vec<_>>(),
                        0,
                    );
                    assert_same(&got, &want);
                }
            }
        });
    }
}

#[test]
fn barrier_returns_on_every_rank_only_after_the_last_one_arrives() {
    // When the last rank arrived: late enough for a rank not held to leave first.
    static LAST_ARRIVAL: Mutex<Option<Instant>> = Mutex::new(None);
    for world in WORLDS {
        *LAST_ARRIVAL.lock().unwrap() = None;
        with_world(world, move |rank, comm| {
            if rank == world - 1 {
                std::thread::sleep(Duration::from_millis(100));
                *LAST_ARRIVAL.lock().unwrap() = Some(Instant::now());
            }
            comm.barrier().unwrap();
            let (left, arrived) = (Instant::now(), *LAST_ARRIVAL.lock().unwrap());
            assert!(
                arrived.is_some_and(|a| left >= a),
                "world {world}: rank {rank} left the barrier before the last rank arrived"
            );
        });
    }
}

/// pip's NCCL ships only `libnccl.so.2`, a name cudarc does not try: the
/// trainer links it where cudarc looks, and cudarc then loads it (no GPU is
/// needed to load the library).
#[test]
fn nccl_from_the_torch_wheel_is_found_and_loadable() {
    trainer::cuda::load().expect("libtorch_cuda loads on a machine without a GPU");
    let found = trainer::comm::prepare_nccl().expect("libnccl.so.2 is found and cudarc loads it");
    assert!(found.ends_with("libnccl.so.2"), "{}", found.display());
    let link = std::env::current_exe()
        .unwrap()
        .with_file_name("libnccl.so");
    assert_eq!(
        std::fs::canonicalize(link).unwrap(),
        std::fs::canonicalize(&found).unwrap()
    );
}

/// Runs `body` on a thread and waits for it at most `limit` (a hang fails the test).
fn within<T: Send + 'static>(limit: Duration, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(body());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("did not finish within {limit:?}"))
}

fn store(port: u16, secret: &str) -> StoreClient {
    StoreClient::connect("127.0.0.1", port, secret, "", Duration::from_secs(10)).unwrap()
}

/// Connects `rank` of a world of 2 (with `timeout`, else the default), then
/// all-reduces its index + 1.
fn rank_of_two(port: u16, rank: usize, timeout: Option<Duration>) -> anyhow::Result<f64> {
    let mut store = store(port, "t");
    let mut comm = match timeout {
        Some(t) => CpuComm::connect_within(rank, 2, &mut store, t)?,
        None => CpuComm::connect(rank, 2, &mut store)?,
    };
    let mut t = Tensor::from_slice(&[rank as f64 + 1.0]);
    comm.all_reduce(&mut t, ReduceOp::Sum)?;
    Ok(t.double_value(&[0]))
}

#[test]
fn strangers_on_the_ring_port_are_dropped_and_the_ring_connects() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    let server = StoreServer::start("127.0.0.1:0".parse().unwrap(), "t").unwrap();
    let port = server.addr().port();
    let rank0 = std::thread::spawn(move || rank_of_two(port, 0, None));
    // Rank 0's ring port, as a port scan would find it.
    let addr = String::from_utf8(
        store(port, "t")
            .get("cpu-comm/addr/0", Duration::from_secs(30))
            .unwrap(),
    )
    .unwrap();
    // Connected before rank 1: a silent stranger, one sending garbage that
    // claims to be rank 1, and one that guesses the secret.
    let mut silent = TcpStream::connect(&addr).unwrap();
    let mut garbage = TcpStream::connect(&addr).unwrap();
    garbage.write_all(&1u64.to_le_bytes()).unwrap();
    garbage.write_all(b"AUTH 0000\n").unwrap();
    let mut guess = TcpStream::connect(&addr).unwrap();
    guess
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut challenge = [0u8; 7];
    guess.read_exact(&mut challenge).unwrap();
    assert_eq!(&challenge, b"FRING1 ");
    guess
        .write_all(format!("AUTH {}\n", "ab".repeat(32)).as_bytes())
        .unwrap();
    let mut reply = String::new();
    let _ = guess.read_to_string(&mut reply);
    assert!(reply.ends_with("DENIED\n"), "{reply:?}");
    std::thread::sleep(Duration::from_millis(300));
    let sums = within(Duration::from_secs(60), move || {
        let rank1 = rank_of_two(port, 1, None).unwrap();
        (rank0.join().unwrap().unwrap(), rank1)
    });
    assert_eq!(sums, (3.0, 3.0));
    // The silent stranger saw a challenge, then was dropped.
    silent
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut seen = String::new();
    silent.read_to_string(&mut seen).unwrap();
    assert!(seen.starts_with("FRING1 "), "{seen:?}");
}

#[test]
fn a_rank_that_leaves_is_named_with_the_operation() {
    let server = StoreServer::start("127.0.0.1:0".parse().unwrap(), "t").unwrap();
    let port = server.addr().port();
    let leaver = std::thread::spawn(move || {
        drop(CpuComm::connect(1, 2, &mut store(port, "t")).unwrap());
    });
    let err = within(Duration::from_secs(60), move || {
        let mut comm = CpuComm::connect(0, 2, &mut store(port, "t")).unwrap();
        leaver.join().unwrap();
        comm.all_gather(&Tensor::ones([1000], (Kind::Float, tch::Device::Cpu)))
            .unwrap_err()
    });
    assert_eq!(
        format!("{err:#}"),
        "rank 0: all_gather: lost the connection from rank 1 (it exited or failed)"
    );
}

#[test]
fn a_collective_a_rank_never_enters_times_out_naming_that_rank() {
    let server = StoreServer::start("127.0.0.1:0".parse().unwrap(), "t").unwrap();
    let port = server.addr().port();
    let timeout = Duration::from_secs(3);
    // Rank 1 connects and stays alive (beating) but never enters the all-reduce.
    let (release, wait) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let comm = CpuComm::connect_within(1, 2, &mut store(port, "t"), timeout).unwrap();
        let _ = wait.recv();
        drop(comm);
    });
    let err = within(Duration::from_secs(60), move || {
        rank_of_two(port, 0, Some(timeout)).unwrap_err()
    });
    drop(release);
    assert_eq!(
        format!("{err:#}"),
        "rank 0: all_reduce: rank 1 did not arrive within 3 s (comm_timeout_s); it has not entered this collective"
    );
}
