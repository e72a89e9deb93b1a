//! block_store benchmark: blocks per second served by `get_blocks_by_height` in 1000-block
//! pages (blocks and receipts returned), next to baselines measured in the same run on the same
//! records: raw redb reads of the records by id (the floor any implementation pays), and raw
//! reads plus protobuf decoding of each `block_record`.
//!
//! `cargo bench -p koinos-services --bench block_store [-- <blocks> <rounds>]`
//!
//! Measured paths, each over every page of the chain, `rounds` times:
//! - `raw read`: one read transaction per page, copy each record's bytes out of redb;
//! - `read + decode`: the same, plus decoding each record as a `block_record`;
//! - `get_blocks_by_height`: the store's query (skip-list descent to the page end, then the
//!   walk down `previous_block_ids[0]`, records decoded as items);
//! - `rpc, decoded items`: `handle_request` on an encoded request plus encoding the response
//!   (the generic typed path);
//! - `rpc, spliced bytes`: what the service runs per request (except the AMQP transfer): the
//!   response encoded straight from the stored record bytes.

use std::hint::black_box;
use std::time::Instant;

#[path = "support/blocks.rs"]
mod blocks;

use blocks::{block_and_receipt, id};
use koinos_protocol::pb::koinos::block_store::BlockRecord;
use koinos_protocol::rpc::block_store::{
    BlockStoreRequest, BlockStoreResponse, GetBlocksByHeightRequest, block_store_request,
};
use koinos_services::block_store::{
    BLOCKS, BlockStore, MAX_BLOCKS_PER_REQUEST, ZERO_BLOCK_ID, handle_request,
};
use prost::Message;

/// Runs `page` over every page `rounds` times; returns blocks per second.
fn rate(blocks: u64, rounds: usize, mut page: impl FnMut(u64) -> usize) -> f64 {
    let started = Instant::now();
    let mut served = 0usize;
    for _ in 0..rounds {
        let mut start = 1;
        while start <= blocks {
            let n = page(start);
            assert!(n > 0, "empty page at {start}");
            served += n;
            start += n as u64;
        }
    }
    assert_eq!(served as u64, blocks * rounds as u64);
    served as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with('-'));
    let blocks: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let page_size = MAX_BLOCKS_PER_REQUEST as u64;

    let dir = tempfile::tempdir().expect("temp dir");
    let store = BlockStore::open(dir.path(), false).expect("open store");
    let loading = Instant::now();
    let mut previous = ZERO_BLOCK_ID.to_vec();
    let mut record_bytes = 0usize;
    for first in (1..=blocks).step_by(page_size as usize) {
        let last = (first + page_size - 1).min(blocks);
        let batch: Vec<_> = (first..=last)
            .map(|h| {
                let (block, receipt) = block_and_receipt(h, previous.clone());
                previous = block.id.clone();
                record_bytes += block.encoded_len() + receipt.encoded_len();
                (block, Some(receipt))
            })
            .collect();
        store.add_blocks(batch).expect("add blocks");
    }
    println!(
        "block_store bench: {blocks} blocks of ~{} bytes (block + receipt) loaded in {:.1?}; \
         pages of {page_size}, {rounds} rounds",
        record_bytes / blocks as usize,
        loading.elapsed()
    );
    let head = id(1, blocks);
    let ids: Vec<Vec<u8>> = (1..=blocks).map(|h| id(1, h)).collect();
    let page_ids = |start: u64| {
        let end = (start + page_size - 1).min(blocks);
        &ids[(start - 1) as usize..end as usize]
    };

    let raw = rate(blocks, rounds, |start| {
        let read = store.storage().read().expect("read txn");
        let table = read.table(&BLOCKS).expect("table");
        let page = page_ids(start);
        for id in page {
            black_box(table.get_raw(id).expect("read").expect("present"));
        }
        page.len()
    });
    let decoded = rate(blocks, rounds, |start| {
        let read = store.storage().read().expect("read txn");
        let table = read.table(&BLOCKS).expect("table");
        let page = page_ids(start);
        for id in page {
            let bytes = table.get_raw(id).expect("read").expect("present");
            black_box(BlockRecord::decode(bytes.as_slice()).expect("decode"));
        }
        page.len()
    });
    let served = rate(blocks, rounds, |start| {
        let items = store
            .get_blocks_by_height(&head, start, page_size as u32, true, true)
            .expect("get_blocks_by_height");
        black_box(&items);
        items.len()
    });
    let handled = rate(blocks, rounds, |start| {
        let request = BlockStoreRequest {
            request: Some(block_store_request::Request::GetBlocksByHeight(
                GetBlocksByHeightRequest {
                    head_block_id: head.clone(),
                    ancestor_start_height: start,
                    num_blocks: page_size as u32,
                    return_block: true,
                    return_receipt: true,
                },
            )),
        };
        let request = BlockStoreRequest::decode(request.encode_to_vec().as_slice()).unwrap();
        let response = BlockStoreResponse {
            response: Some(handle_request(&store, request).expect("handled")),
        };
        let body = response.encode_to_vec();
        black_box(&body);
        (start..=(start + page_size - 1).min(blocks)).count()
    });

    let spliced = rate(blocks, rounds, |start| {
        let request = GetBlocksByHeightRequest {
            head_block_id: head.clone(),
            ancestor_start_height: start,
            num_blocks: page_size as u32,
            return_block: true,
            return_receipt: true,
        };
        let request = GetBlocksByHeightRequest::decode(request.encode_to_vec().as_slice()).unwrap();
        let body = store
            .get_blocks_by_height_response(
                &request.head_block_id,
                request.ancestor_start_height,
                request.num_blocks,
                request.return_block,
                request.return_receipt,
            )
            .expect("spliced");
        black_box(&body);
        (start..=(start + page_size - 1).min(blocks)).count()
    });

    println!("{:<24} {:>12} {:>10}", "path", "blocks/s", "x raw");
    for (name, value) in [
        ("raw read (baseline)", raw),
        ("read + decode", decoded),
        ("get_blocks_by_height", served),
        ("rpc, decoded items", handled),
        ("rpc, spliced bytes", spliced),
    ] {
        println!("{name:<24} {value:>12.0} {:>10.2}", value / raw);
    }
}
