//! A follower killed in the middle of its sync resumes: a leader node holds a chain of
//! several sync batches (built in-process, applied by its chain through `submit_block`); a
//! second node (same genesis, no producer) syncs it over koinos-p2p. Mid-way through the first
//! batch its p2p process is SIGKILLed and started again; mid-way through a later batch every
//! process of the node is SIGKILLed and the node started again on the same data directory.
//! Each time the chain keeps what it had applied, p2p resumes from the follower's last
//! irreversible block (not from genesis), and in the end the follower is at the leader's
//! height holding the leader's block ids. The blocks are recent, so the follower's gossip is
//! on during part of its sync: the leader must not have scored any block the follower synced
//! as an offence (it did when p2p gossiped its catch-up back). Needs RabbitMQ (see
//! node_support).

mod node_support;
#[path = "../benches/support/p2p_nodes.rs"]
mod p2p_nodes;

use std::path::Path;
use std::time::{Duration, Instant};

use p2p_nodes::{BlockBuilder, P2pNode, sync_batches};

/// Three sync batches of 500 (each from the follower's LIB, 60 blocks below its head).
const BLOCKS: u64 = 1200;
/// Where the follower is killed: its p2p alone in the first batch, the whole node in the
/// second.
const KILL_P2P_AT: u64 = 200;
const KILL_NODE_AT: u64 = 650;
const TIMEOUT: Duration = Duration::from_secs(180);

fn report(leader: &P2pNode, follower: &P2pNode) -> String {
    format!("{}\n{}", follower.logs(60), leader.logs(30))
}

/// Waits until the follower's head reaches `height` (its processes must stay up); returns
/// the head seen.
async fn wait_height(follower: &mut P2pNode, leader: &mut P2pNode, height: u64) -> u64 {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Ok(head) = follower.head().await
            && head.height >= height
        {
            return head.height;
        }
        let mut exited = follower.node.exited();
        exited.extend(
            leader
                .node
                .exited()
                .into_iter()
                .map(|s| format!("leader {s}")),
        );
        if !exited.is_empty() || Instant::now() > deadline {
            let seen = follower.head().await.map(|h| h.height).ok();
            panic!(
                "follower at {seen:?}, waiting for {height} (exited: {exited:?})\n{}",
                report(leader, follower)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The follower's head right after a restart: at least `before`, what it reported before the
/// kill (an applied block survives SIGKILL).
async fn head_after_restart(follower: &P2pNode, leader: &P2pNode, before: u64) -> u64 {
    let head = follower
        .head()
        .await
        .unwrap_or_else(|e| panic!("head after restart: {e}\n{}", report(leader, follower)));
    assert!(
        head.height >= before,
        "the follower's head went back from {before} to {} across the restart\n{}",
        head.height,
        report(leader, follower)
    );
    head.height
}

/// The first sync batch in the p2p log after byte `offset` starts above genesis and no higher
/// than the head the restarted node had: p2p resumed where the chain was.
async fn first_batch_resumes(
    follower: &mut P2pNode,
    leader: &mut P2pNode,
    offset: usize,
    head: u64,
) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let log = follower.p2p_log();
        if let Some(batch) = sync_batches(log.get(offset..).unwrap_or_default()).first() {
            assert!(
                batch.from > 1 && batch.from <= head + 1,
                "after the restart at head {head}, sync started at {}: {batch:?}\n{}",
                batch.from,
                report(leader, follower)
            );
            return;
        }
        let exited = follower.node.exited();
        if !exited.is_empty() || Instant::now() > deadline {
            panic!(
                "no sync batch after the restart at head {head} (exited: {exited:?})\n{}",
                report(leader, follower)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_killed_mid_sync_resumes_and_holds_the_leaders_chain() {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_koinos-p2p"))
        .parent()
        .expect("binary directory");
    let mut leader = P2pNode::genesis("p2p-restart-leader", bin_dir).await;
    leader.start_base().await;
    let mut builder = BlockBuilder::new(&leader);
    for block in builder.chain_of(BLOCKS, 1) {
        if let Err(error) = leader.submit_block(&block).await {
            panic!("leader submit_block: {error}\n{}", leader.logs(30));
        }
    }
    let target = leader.head().await.expect("leader head");
    assert_eq!(target.height, BLOCKS);
    leader.start_p2p();

    let peers = [leader.p2p_addr.as_str()];
    let mut follower = P2pNode::joining("p2p-restart-follower", bin_dir, &leader, &peers).await;
    follower.start_base().await;
    follower.start_p2p();

    // SIGKILL of p2p alone, in the first batch; chain keeps running
    let seen = wait_height(&mut follower, &mut leader, KILL_P2P_AT).await;
    assert!(
        seen < BLOCKS,
        "the follower synced everything before the kill"
    );
    follower.node.kill("p2p");
    let offset = follower.p2p_log().len();
    let head = head_after_restart(&follower, &leader, seen).await;
    follower.start_p2p();
    first_batch_resumes(&mut follower, &mut leader, offset, head).await;
    println!("p2p killed at height {seen}, restarted at {head}");

    // SIGKILL of every process of the node, in a later batch; restarted on the same directory
    let seen = wait_height(&mut follower, &mut leader, KILL_NODE_AT).await;
    assert!(
        seen < BLOCKS,
        "the follower synced everything before the kill"
    );
    follower.kill_all();
    let offset = follower.p2p_log().len();
    follower.start_base().await;
    let head = head_after_restart(&follower, &leader, seen).await;
    follower.start_p2p();
    first_batch_resumes(&mut follower, &mut leader, offset, head).await;
    println!("node killed at height {seen}, restarted at {head}");

    // the follower reaches the leader's head, holding the leader's blocks
    wait_height(&mut follower, &mut leader, BLOCKS).await;
    let head = follower.head().await.expect("follower head");
    assert_eq!(
        (head.height, &head.id),
        (target.height, &target.id),
        "the follower's head is the leader's\n{}",
        report(&leader, &follower)
    );
    let ours = follower.block_ids(BLOCKS).await.expect("follower blocks");
    let theirs = leader.block_ids(BLOCKS).await.expect("leader blocks");
    assert_eq!(ours.len() as u64, BLOCKS);
    if let Some(height) = (0..ours.len()).find(|&i| ours[i] != theirs[i]) {
        panic!(
            "block {} differs: follower {}, leader {}\n{}",
            height + 1,
            hex::encode(&ours[height]),
            hex::encode(&theirs[height]),
            report(&leader, &follower)
        );
    }
    // the follower did not gossip its catch-up back: the leader scored no synced block as an
    // offence (each one below its LIB would be, and ~1000 of them ban the follower)
    let offences: Vec<String> = leader
        .p2p_log()
        .lines()
        .filter(|l| l.contains("offence=BlockIrreversibility") || l.contains("banned=true"))
        .map(str::to_owned)
        .collect();
    assert!(
        offences.is_empty(),
        "the leader scored {} offences of the follower:\n{}\n{}",
        offences.len(),
        offences[..offences.len().min(5)].join("\n"),
        report(&leader, &follower)
    );
    let batches = sync_batches(&follower.p2p_log());
    println!(
        "synced {BLOCKS} blocks across two kills in {} batches: {:?}",
        batches.len(),
        batches
            .iter()
            .map(|b| (b.from, b.count))
            .collect::<Vec<_>>()
    );
}
