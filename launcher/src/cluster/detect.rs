//! The job's environment: Slurm's `SLURM_NNODES`, `SLURM_NODEID`,
//! `SLURM_JOB_NODELIST` (its first host is node 0) and `SLURM_JOB_ID` (the
//! rendezvous port is `FERROSPEED_MASTER_PORT_BASE` (29500) plus the job id
//! modulo 1000); Open MPI's `OMPI_COMM_WORLD_RANK/SIZE` or PMI's
//! `PMI_RANK/PMI_SIZE`, with node 0's address in `MASTER_ADDR` (or
//! `--master-addr`). An `mpirun` inside a Slurm allocation is read as MPI.

use super::hostlist;

/// What the environment says about this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// `Slurm`, `Open MPI` or `PMI`, and the variables read.
    pub source: String,
    pub nnodes: usize,
    pub node_rank: usize,
    pub master_addr: Option<String>,
    pub master_port: Option<u16>,
    /// The scheduler's job id, when it has one (names the run secret file).
    pub job_id: Option<String>,
}

impl Detected {
    /// `node 1 of 2 from Slurm (SLURM_NNODES, ...)`.
    pub fn describe(&self) -> String {
        format!(
            "node {} of {} from {}",
            self.node_rank, self.nnodes, self.source
        )
    }
}

type Var<'a> = &'a dyn Fn(&str) -> Option<String>;

fn number(var: Var, name: &str) -> Result<Option<usize>, String> {
    match var(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{name}={v:?} is not a number")),
    }
}

/// This node as the environment describes it; `None` outside a
/// multi-node job.
pub fn detect(var: Var) -> Result<Option<Detected>, String> {
    let mpi = [
        ("Open MPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
        ("PMI", "PMI_RANK", "PMI_SIZE"),
    ];
    for (source, rank, size) in mpi {
        if let (Some(r), Some(n)) = (number(var, rank)?, number(var, size)?) {
            return from_mpi(var, source, (rank, r), (size, n));
        }
    }
    match (number(var, "SLURM_NODEID")?, number(var, "SLURM_NNODES")?) {
        (Some(r), Some(n)) if n > 1 => from_slurm(var, r, n).map(Some),
        _ => Ok(None),
    }
}

fn from_slurm(var: Var, rank: usize, nnodes: usize) -> Result<Detected, String> {
    if let Some(tasks) = number(var, "SLURM_NTASKS")?.filter(|&t| t != nnodes) {
        return Err(format!(
            "Slurm started {tasks} tasks on {nnodes} nodes: start one `launch` per node \
             (`srun --ntasks-per-node=1 launch N cfg.yaml`); it starts the ranks itself"
        ));
    }
    let (list_var, list) = ["SLURM_JOB_NODELIST", "SLURM_NODELIST"]
        .iter()
        .find_map(|k| var(k).map(|v| (*k, v)))
        .ok_or(
            "Slurm says SLURM_NNODES > 1 but sets no SLURM_JOB_NODELIST: pass --master-addr HOST",
        )?;
    let head = hostlist::expand(&list).map_err(|e| format!("{list_var}: {e}"))?;
    let job_id = var("SLURM_JOB_ID");
    let port = match &job_id {
        Some(id) => Some(port_of(var, id)?),
        None => None,
    };
    Ok(Detected {
        source: format!("Slurm (SLURM_NNODES, SLURM_NODEID, {list_var}, SLURM_JOB_ID)"),
        nnodes,
        node_rank: rank,
        master_addr: head.into_iter().next(),
        master_port: port,
        job_id,
    })
}

/// `FERROSPEED_MASTER_PORT_BASE` (default 29500) + job id mod 1000.
fn port_of(var: Var, job_id: &str) -> Result<u16, String> {
    let base = number(var, "FERROSPEED_MASTER_PORT_BASE")?.unwrap_or(29500);
    let id: u64 = job_id
        .trim()
        .parse()
        .map_err(|_| format!("SLURM_JOB_ID={job_id:?} is not a number"))?;
    u16::try_from(base as u64 + id % 1000)
        .map_err(|_| format!("FERROSPEED_MASTER_PORT_BASE={base} leaves no port below 65536"))
}

fn from_mpi(
    var: Var,
    source: &str,
    (rank_var, rank): (&str, usize),
    (size_var, size): (&str, usize),
) -> Result<Option<Detected>, String> {
    if size < 2 {
        return Ok(None);
    }
    if let Some(local) = number(var, "OMPI_COMM_WORLD_LOCAL_SIZE")?.filter(|&l| l > 1) {
        return Err(format!(
            "mpirun started {local} copies of `launch` on one node: start one per node \
             (`mpirun -N 1 launch N cfg.yaml`); it starts the ranks itself"
        ));
    }
    Ok(Some(Detected {
        source: format!("{source} ({rank_var}, {size_var}, MASTER_ADDR)"),
        nnodes: size,
        node_rank: rank,
        master_addr: var("MASTER_ADDR"),
        master_port: None,
        job_id: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn slurm_gives_the_node_the_head_and_a_port_from_the_job() {
        let e = [
            ("SLURM_NNODES", "2"),
            ("SLURM_NODEID", "1"),
            ("SLURM_JOB_NODELIST", "gpu[07-08]"),
            ("SLURM_JOB_ID", "123456"),
        ];
        let d = detect(&env(&e)).unwrap().unwrap();
        assert_eq!((d.nnodes, d.node_rank), (2, 1));
        assert_eq!(d.master_addr.as_deref(), Some("gpu07"));
        assert_eq!(d.master_port, Some(29956));
        let one = [("SLURM_NNODES", "1"), ("SLURM_NODEID", "0")];
        assert_eq!(detect(&env(&one)).unwrap(), None);
        let many = [e[0], e[1], e[2], ("SLURM_NTASKS", "16")];
        assert!(detect(&env(&many))
            .unwrap_err()
            .contains("--ntasks-per-node=1"));
    }

    #[test]
    fn mpi_wins_inside_an_allocation_and_needs_an_address() {
        let e = [
            ("SLURM_NNODES", "4"),
            ("SLURM_NODEID", "3"),
            ("OMPI_COMM_WORLD_RANK", "1"),
            ("OMPI_COMM_WORLD_SIZE", "2"),
            ("MASTER_ADDR", "head"),
        ];
        let d = detect(&env(&e)).unwrap().unwrap();
        assert_eq!((d.nnodes, d.node_rank), (2, 1));
        assert_eq!(d.master_addr.as_deref(), Some("head"));
        assert!(d.describe().contains("from Open MPI"), "{}", d.describe());
        let pmi = [("PMI_RANK", "0"), ("PMI_SIZE", "3")];
        assert_eq!(detect(&env(&pmi)).unwrap().unwrap().nnodes, 3);
    }
}
