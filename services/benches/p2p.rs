//! p2p benchmark, on nodes of our release binaries (block_store, mempool, chain, p2p; each node
//! on a RabbitMQ vhost of its own, joined only by koinos-p2p). A leader node holds `blocks`
//! blocks (built in-process on its genesis, each with `transfers` signed token transfers, then
//! applied by its chain through `chain.submit_block`). Then, for each of `BENCH_ROUNDS` rounds
//! (default 3; the figures printed are the median round by ratio, as in the jsonrpc bench):
//!
//! - the baseline: a fresh node's chain applying the same blocks through `chain.submit_block`
//!   over AMQP, one at a time (what p2p does per block);
//! - sync: a fresh follower syncing all of them from the leader over p2p, timed from its p2p
//!   start to its `koinos.block.accept` of the last block; printed as a ratio of the baseline.
//!
//! Where the sync time went: the follower's "sync batch applied" lines (time fetching each
//! batch from the peer, time applying it) and the rest (start-up, dial, handshake); for the
//! apply part, the same blocks applied in this process by `Chain::submit_block` with durable
//! commits (no block_store, no broker, no broadcasts), and the time of one broadcast published
//! with a broker confirm (the chain awaits one per broadcast before it answers).
//!
//! Gossip latency: with the last follower synced and gossip on, `gossip` more blocks given to
//! the leader's chain one at a time; for each, the time from the leader's `koinos.block.accept`
//! to the follower's `koinos.block.accept` of the same block id (both subscribed to in this
//! process), p50/p99/max, split into the leader mempool's relay (to its
//! `koinos.mempool.block_accepted`, which p2p publishes), the follower chain's work (taken as
//! the leader chain's for the same block: from the bench's `submit_block` to the leader's
//! `block.accept`) and the rest (gossipsub between the p2p processes, p2p's decode and call).
//!
//! `cargo bench -p koinos-services --bench p2p [-- <blocks> <gossip blocks> <transfers per
//! block>]` (defaults 3000, 50, 1; needs RabbitMQ on 127.0.0.1:5672 and `rabbitmqctl`;
//! `BENCH_BIN_DIR` runs the binaries of another build).

#[path = "../tests/node_support/mod.rs"]
mod node_support;
#[path = "support/p2p_nodes.rs"]
mod p2p_nodes;
#[path = "support/proc_cpu.rs"]
mod proc_cpu;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use koinos_protocol::Block;
use koinos_protocol::broadcast::BlockAccepted;
use koinos_services::chain::genesis::load_genesis;
use koinos_services::chain::{Chain, ForkAlgorithm};
use koinos_services::mq::Subscriber;
use koinos_services::mq::topology::topic::{BLOCK_ACCEPT, MEMPOOL_BLOCK_ACCEPTED};
use p2p_nodes::{BlockBuilder, P2pNode, SyncBatch, now_ms, sync_batches};
use proc_cpu::{cpu_seconds, rabbitmq_pid};
use prost::Message;

/// Pause between gossiped blocks (the next one is given once the follower has the last).
const GOSSIP_PAUSE: Duration = Duration::from_millis(100);

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(bench());
}

/// (id, height) of a `block_accepted` body.
fn accepted(body: &[u8]) -> Option<(Vec<u8>, u64)> {
    let block = BlockAccepted::decode(body).ok()?.block?;
    let height = block.header.as_ref()?.height;
    Some((block.id, height))
}

/// When each (topic, block id) first arrived, recorded by a task per subscriber.
type Arrivals = Arc<Mutex<HashMap<(String, Vec<u8>), Instant>>>;

fn record(mut subscriber: Subscriber, arrivals: Arrivals, prefix: &'static str) {
    tokio::spawn(async move {
        while let Some(broadcast) = subscriber.recv().await {
            let at = Instant::now();
            if let Some((id, _)) = accepted(&broadcast.body) {
                arrivals
                    .lock()
                    .expect("arrivals")
                    .entry((format!("{prefix}{}", broadcast.topic), id))
                    .or_insert(at);
            }
        }
    });
}

/// CPU time of named processes over a window.
struct Cpu(Vec<(String, String, f64)>);

impl Cpu {
    /// Starts the window for `processes` (label, pid), plus RabbitMQ.
    fn start(processes: Vec<(String, Option<u32>)>) -> Self {
        let mut all: Vec<(String, String)> = processes
            .into_iter()
            .filter_map(|(label, pid)| Some((label, pid?.to_string())))
            .collect();
        all.extend(rabbitmq_pid().map(|pid| ("rabbitmq".to_owned(), pid)));
        Self(
            all.into_iter()
                .map(|(label, pid)| {
                    let at = cpu_seconds(&pid);
                    (label, pid, at)
                })
                .collect(),
        )
    }

    /// Milliseconds of CPU per block of each process since the start.
    fn per_block(&self, blocks: u64) -> Vec<(String, f64)> {
        self.0
            .iter()
            .map(|(label, pid, at)| {
                let used = cpu_seconds(pid) - at;
                (label.clone(), used * 1e3 / blocks as f64)
            })
            .collect()
    }
}

fn node_processes(node: &P2pNode, prefix: &str, names: &[&str]) -> Vec<(String, Option<u32>)> {
    names
        .iter()
        .map(|name| (format!("{prefix}{name}"), node.node.pid(name)))
        .collect()
}

fn print_cpu(what: &str, cpu: &[(String, f64)]) {
    let total: f64 = cpu.iter().map(|(_, ms)| ms).sum();
    let parts: Vec<String> = cpu
        .iter()
        .map(|(label, ms)| format!("{label} {ms:.2}"))
        .collect();
    println!("  {what}: {total:.2} in all: {}", parts.join(", "));
}

/// Blocks per second of a node's chain applying `chain`, one `submit_block` at a time, and the
/// CPU per block of its processes, this one and the broker. This process subscribes to the
/// node's `koinos.block.accept` meanwhile, as it does to time a sync.
async fn submit_rate(node: &P2pNode, chain: &[Block]) -> (f64, Vec<(String, f64)>) {
    let mut accepts = node.subscribe(&[BLOCK_ACCEPT]).await;
    let count = chain.len();
    let drain = tokio::spawn(async move {
        let mut seen = 0;
        while seen < count {
            match tokio::time::timeout(Duration::from_secs(30), accepts.recv()).await {
                Ok(Some(broadcast)) => seen += usize::from(accepted(&broadcast.body).is_some()),
                _ => break,
            }
        }
    });
    let mut processes = node_processes(node, "", &["chain", "block_store", "mempool"]);
    processes.push(("bench client".to_owned(), Some(std::process::id())));
    let cpu = Cpu::start(processes);
    let started = Instant::now();
    for block in chain {
        if let Err(error) = node.submit_block(block).await {
            panic!("{} submit_block: {error}\n{}", node.name, node.logs(30));
        }
    }
    let rate = chain.len() as f64 / started.elapsed().as_secs_f64();
    let _ = drain.await;
    (rate, cpu.per_block(chain.len() as u64))
}

/// Blocks per second of an in-process chain on `node`'s genesis applying `chain` (durable).
fn in_process_rate(node: &P2pNode, chain: &[Block]) -> f64 {
    let genesis = load_genesis(&node.dir.path().join("chain/genesis_data.json")).expect("genesis");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut state = Chain::open(dir.path(), &genesis, ForkAlgorithm::Fifo).expect("chain");
    let started = Instant::now();
    for block in chain {
        state
            .submit_block(block, now_ms())
            .expect("block applies")
            .expect("new block");
    }
    chain.len() as f64 / started.elapsed().as_secs_f64()
}

/// The median time of a broadcast published with a broker confirm (what the chain awaits for
/// each of its broadcasts before it answers `submit_block`), over `count` publishes.
async fn confirmed_publish(node: &P2pNode, count: usize) -> Duration {
    let broadcaster = node.broadcaster();
    let body = vec![0u8; 512];
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        broadcaster
            .publish("bench.p2p.nobody", &body)
            .await
            .expect("confirmed publish");
        times.push(started.elapsed());
    }
    times.sort();
    times[count / 2]
}

/// One fresh follower's sync of the leader's chain.
struct Sync {
    follower: P2pNode,
    /// Its `koinos.block.accept` subscriber, still bound.
    accepts: Subscriber,
    figures: SyncFigures,
}

#[derive(Debug, Clone, Default)]
struct SyncFigures {
    time: Duration,
    first_block: Duration,
    batches: Vec<SyncBatch>,
    /// CPU ms per block of the processes involved.
    cpu: Vec<(String, f64)>,
}

/// Starts a follower (all but p2p first), then its p2p, and waits for its accept of `last_id`
/// at height `blocks`.
async fn sync(name: &str, bin_dir: &Path, leader: &mut P2pNode, blocks: u64) -> Sync {
    let last_id = leader.head().await.expect("leader head").id;
    let peers = [leader.p2p_addr.as_str()];
    let mut follower = P2pNode::joining(name, bin_dir, leader, &peers).await;
    follower.start_base().await;
    let mut accepts = follower.subscribe(&[BLOCK_ACCEPT]).await;
    let started = Instant::now();
    follower.start_p2p();
    let mut processes = node_processes(&follower, "", &["chain", "block_store", "mempool", "p2p"]);
    processes.extend(node_processes(leader, "leader ", &["p2p", "block_store"]));
    let cpu = Cpu::start(processes);
    let deadline = started + Duration::from_secs(300.max(blocks / 5));
    let mut first_block = None;
    loop {
        match tokio::time::timeout(Duration::from_secs(1), accepts.recv()).await {
            Ok(Some(broadcast)) => {
                let Some((id, height)) = accepted(&broadcast.body) else {
                    continue;
                };
                first_block.get_or_insert(started.elapsed());
                if height >= blocks {
                    assert_eq!(id, last_id, "the follower's block {height} is the leader's");
                    break;
                }
            }
            Ok(None) => panic!("follower subscriber closed"),
            Err(_) => {}
        }
        let mut exited = follower.node.exited();
        exited.extend(leader.node.exited());
        if !exited.is_empty() || Instant::now() > deadline {
            panic!(
                "sync did not finish (exited: {exited:?})\n{}\n{}",
                follower.logs(40),
                leader.logs(20)
            );
        }
    }
    let time = started.elapsed();
    let cpu = cpu.per_block(blocks);
    // the last batch's line comes after its last block's broadcast
    let mut batches = sync_batches(&follower.p2p_log());
    let wait_log = Instant::now() + Duration::from_secs(5);
    while batches.iter().map(|b| b.from + b.count).max().unwrap_or(0) <= blocks
        && Instant::now() < wait_log
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
        batches = sync_batches(&follower.p2p_log());
    }
    Sync {
        follower,
        accepts,
        figures: SyncFigures {
            time,
            first_block: first_block.unwrap_or_default(),
            batches,
            cpu,
        },
    }
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn bench() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with('-'));
    let blocks: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(3000);
    let gossip: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let transfers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let bin_dir = std::env::var_os("BENCH_BIN_DIR").map_or_else(
        || {
            Path::new(env!("CARGO_BIN_EXE_koinos-p2p"))
                .parent()
                .expect("binary directory")
                .to_path_buf()
        },
        PathBuf::from,
    );
    println!(
        "p2p bench: {blocks} blocks of {transfers} transfer(s), {rounds} rounds, {gossip} \
         gossiped; binaries: {}",
        bin_dir.display()
    );

    // the leader: the blocks built on its genesis, then applied by its chain
    let mut leader = P2pNode::genesis("bench-p2p-leader", &bin_dir).await;
    leader.start_base().await;
    let mut builder = BlockBuilder::new(&leader);
    let building = Instant::now();
    let chain = builder.chain_of(blocks, transfers);
    let built = building.elapsed();
    let (leader_rate, _) = submit_rate(&leader, &chain).await;
    leader.start_p2p();
    println!(
        "built in-process in {:.1} s; the leader's chain applied them at {leader_rate:.1} \
         blocks/s",
        built.as_secs_f64()
    );

    // rounds: a fresh node's chain applies them; a fresh follower syncs them
    println!(
        "{:<6} {:>16} {:>14} {:>8} {:>14} {:>14}",
        "round", "apply blocks/s", "sync blocks/s", "x apply", "fetch ms", "apply ms"
    );
    let mut runs = Vec::new();
    let mut last = None;
    for round in 0..rounds {
        let (apply_rate, apply_cpu) = {
            let name = format!("bench-p2p-apply-{round}");
            let mut fresh = P2pNode::joining(&name, &bin_dir, &leader, &[]).await;
            fresh.start_base().await;
            submit_rate(&fresh, &chain).await
        };
        let run = sync(
            &format!("bench-p2p-follower-{round}"),
            &bin_dir,
            &mut leader,
            blocks,
        )
        .await;
        let figures = run.figures.clone();
        let sync_rate = blocks as f64 / figures.time.as_secs_f64();
        println!(
            "{round:<6} {apply_rate:>16.1} {sync_rate:>14.1} {:>8.2} {:>14} {:>14}",
            sync_rate / apply_rate,
            figures.batches.iter().map(|b| b.fetch_ms).sum::<u64>(),
            figures.batches.iter().map(|b| b.apply_ms).sum::<u64>(),
        );
        runs.push((
            sync_rate / apply_rate,
            apply_rate,
            sync_rate,
            figures,
            apply_cpu,
        ));
        // the last follower stays for the gossip phase; the others stop now
        last = Some(run);
    }
    let Sync {
        mut follower,
        accepts: follower_accepts,
        ..
    } = last.expect("one round");
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (ratio, apply_rate, sync_rate, figures, apply_cpu) = runs[runs.len() / 2].clone();
    let SyncFigures {
        time,
        first_block,
        batches,
        cpu: sync_cpu,
    } = figures;

    let in_process = in_process_rate(&leader, &chain);
    let confirm = confirmed_publish(&leader, 200).await;

    println!(
        "median round by ratio: sync {sync_rate:.1} blocks/s, apply {apply_rate:.1} blocks/s, \
         ratio {ratio:.2}"
    );
    let fetched: u64 = batches.iter().map(|b| b.count).sum();
    let fetch_ms: u64 = batches.iter().map(|b| b.fetch_ms).sum();
    let apply_ms: u64 = batches.iter().map(|b| b.apply_ms).sum();
    let total_ms = ms(time);
    println!(
        "  {blocks} blocks in {:.2} s: first block after {:.0} ms; {} batches of {fetched} \
         blocks ({} fetched again from the LIB); fetch {fetch_ms} ms ({:.1} %, {:.0} blocks/s), \
         apply {apply_ms} ms ({:.1} %, {:.1} blocks/s), the rest {:.0} ms (start-up, dial, \
         handshake, per-step queries)",
        time.as_secs_f64(),
        ms(first_block),
        batches.len(),
        fetched.saturating_sub(blocks),
        fetch_ms as f64 * 100.0 / total_ms,
        fetched as f64 * 1e3 / fetch_ms.max(1) as f64,
        apply_ms as f64 * 100.0 / total_ms,
        fetched as f64 * 1e3 / apply_ms.max(1) as f64,
        total_ms - (fetch_ms + apply_ms) as f64
    );
    println!("CPU per block, ms (median round; 2 cores shared with other work):");
    print_cpu("apply by submit_block", &apply_cpu);
    print_cpu("p2p sync", &sync_cpu);
    println!(
        "apply per block: {:.2} ms through chain.submit_block (median round), {:.2} ms by \
         Chain::submit_block in-process ({in_process:.0} blocks/s, durable); the rest is the \
         chain service's path around it: block_store.add_block, then {} broadcasts each \
         awaiting a broker confirm ({:.2} ms p50 here) before the reply",
        1e3 / apply_rate,
        1e3 / in_process,
        3 + transfers,
        ms(confirm)
    );

    // gossip: both nodes need a peer and a fresh head; feed the leader until both gossip and
    // the follower holds the leader's head
    let arrivals: Arrivals = Arc::default();
    record(follower_accepts, arrivals.clone(), "follower ");
    record(
        leader
            .subscribe(&[BLOCK_ACCEPT, MEMPOOL_BLOCK_ACCEPTED])
            .await,
        arrivals.clone(),
        "leader ",
    );
    let warm_deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let block = builder.next(transfers, now_ms());
        leader
            .submit_block(&block)
            .await
            .expect("leader submit_block");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let same_head = matches!(
            (leader.head().await, follower.head().await),
            (Ok(l), Ok(f)) if l.id == f.id
        );
        if same_head && leader.gossip_enabled().await && follower.gossip_enabled().await {
            break;
        }
        let exited = follower.node.exited();
        assert!(
            Instant::now() < warm_deadline && exited.is_empty(),
            "gossip never came on with the follower at the leader's head (exited {exited:?})\
             \n{}\n{}",
            follower.logs(30),
            leader.logs(30)
        );
    }

    let mut latencies = Vec::new();
    let mut relays = Vec::new();
    let mut chain_work = Vec::new();
    let mut rest = Vec::new();
    let mut missed = 0;
    for _ in 0..gossip {
        let block = builder.next(transfers, now_ms());
        let submitted = Instant::now();
        leader
            .submit_block(&block)
            .await
            .expect("leader submit_block");
        let key = |topic: &str| (topic.to_owned(), block.id.clone());
        let wait = Instant::now() + Duration::from_secs(15);
        let times = loop {
            let times = {
                let arrivals = arrivals.lock().expect("arrivals");
                (
                    arrivals.get(&key("leader koinos.block.accept")).copied(),
                    arrivals
                        .get(&key("leader koinos.mempool.block_accepted"))
                        .copied(),
                    arrivals.get(&key("follower koinos.block.accept")).copied(),
                )
            };
            if let (Some(accept), Some(relay), Some(follower)) = times {
                break Some((accept, relay, follower));
            }
            if Instant::now() > wait {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        match times {
            Some((accept, relay, follower)) => {
                let latency = follower.saturating_duration_since(accept);
                let relay = relay.saturating_duration_since(accept);
                let work = accept.saturating_duration_since(submitted);
                latencies.push(latency);
                relays.push(relay);
                chain_work.push(work);
                rest.push(latency.saturating_sub(relay + work));
            }
            None => missed += 1,
        }
        tokio::time::sleep(GOSSIP_PAUSE).await;
    }
    let leader_height = leader.head().await.expect("leader head").height;
    let follower_height = follower.head().await.expect("follower head").height;
    if latencies.is_empty() {
        println!("gossip: no block crossed ({missed} missed)");
        return;
    }
    for list in [&mut latencies, &mut relays, &mut chain_work, &mut rest] {
        list.sort();
    }
    let summary = |list: &[Duration]| {
        format!(
            "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            ms(percentile(list, 50)),
            ms(percentile(list, 99)),
            ms(*list.last().expect("samples"))
        )
    };
    println!(
        "gossip, leader block.accept -> follower block.accept, {} blocks ({missed} missed; \
         heads {leader_height}/{follower_height}): {}",
        latencies.len(),
        summary(&latencies)
    );
    println!(
        "  leader mempool relay (-> mempool.block_accepted): {}",
        summary(&relays)
    );
    println!(
        "  the follower chain's work (as the leader's: submit_block -> block.accept): {}",
        summary(&chain_work)
    );
    println!(
        "  the rest (gossipsub, p2p decode and call): {}",
        summary(&rest)
    );
}
