//! contract_meta_store: the ABI of an upload in an accepted block, from broadcasts and from
//! block_store at start-up.

use std::time::Duration;

use koinos_protocol::pb::koinos::contract_meta_store::ContractMetaItem;
use koinos_protocol::pb::koinos::protocol::{Operation, UploadContractOperation, operation::Op};
use koinos_protocol::rpc::block_store::{BlockStoreRequest, BlockStoreResponse};
use koinos_protocol::rpc::contract_meta_store::{
    ContractMetaStoreRequest, ContractMetaStoreResponse, GetContractMetaRequest,
    contract_meta_store_request, contract_meta_store_response,
};
use koinos_services::block_store::BlockStore;
use koinos_services::mq::typed::TypedClient;

use crate::stores_support::*;
use crate::*;

type MetaClient = TypedClient<ContractMetaStoreRequest, ContractMetaStoreResponse>;

fn upload(
    n: u32,
    contract: &[u8],
    abi: &str,
) -> (
    koinos_protocol::Transaction,
    koinos_protocol::TransactionReceipt,
) {
    let mut transaction = transaction(n, &ALICE, u64::from(n), 10);
    transaction.operations = vec![Operation {
        op: Some(Op::UploadContract(UploadContractOperation {
            contract_id: contract.to_vec(),
            bytecode: vec![0, 0x61, 0x73, 0x6d],
            abi: abi.into(),
            ..Default::default()
        })),
    }];
    (transaction, Default::default())
}

async fn meta(client: &MetaClient, contract: &[u8]) -> Option<ContractMetaItem> {
    let request = contract_meta_store_request::Request::GetContractMeta(GetContractMetaRequest {
        contract_id: contract.to_vec(),
    });
    let response = client
        .call(&ContractMetaStoreRequest {
            request: Some(request),
        })
        .await
        .expect("get_contract_meta");
    match response.response {
        Some(contract_meta_store_response::Response::GetContractMeta(r)) => r.meta,
        other => panic!("unexpected response {other:?}"),
    }
}

fn spawn_meta_store(vhost: &Vhost, dir: &std::path::Path) -> ServiceProcess {
    ServiceProcess::spawn(
        env!("CARGO_BIN_EXE_koinos-contract-meta-store"),
        vhost,
        dir,
        &[],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_meta_of_an_uploaded_contract_is_served_and_survives_a_restart() {
    let vhost = Vhost::new("contract_meta_store");
    let dir = tempfile::tempdir().unwrap();
    let process = spawn_meta_store(&vhost, dir.path());
    let conn = vhost.connect().await;
    let client: MetaClient = client(&conn, "contract_meta_store");
    wait_serving(&client, &process).await;

    assert_eq!(
        meta(&client, &TOKEN).await,
        None,
        "unknown contract: no meta"
    );
    publish(
        &conn,
        &accepted(1, 1, zero_id(), vec![upload(1, &TOKEN, "{\"v\":1}")]),
    )
    .await;
    eventually(Duration::from_secs(10), "the uploaded ABI", || async {
        meta(&client, &TOKEN).await.is_some()
    })
    .await;
    assert_eq!(meta(&client, &TOKEN).await.unwrap().abi, "{\"v\":1}");
    // A later upload replaces it; other contracts stay unknown.
    publish(
        &conn,
        &accepted(1, 2, block_id(1, 1), vec![upload(2, &TOKEN, "{\"v\":2}")]),
    )
    .await;
    eventually(Duration::from_secs(10), "the second ABI", || async {
        meta(&client, &TOKEN)
            .await
            .is_some_and(|m| m.abi == "{\"v\":2}")
    })
    .await;
    assert_eq!(meta(&client, &BOB).await, None);

    drop(process);
    let process = spawn_meta_store(&vhost, dir.path());
    wait_serving(&client, &process).await;
    assert_eq!(meta(&client, &TOKEN).await.unwrap().abi, "{\"v\":2}");
    drop(process);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_contract_meta_store_records_uploads_from_block_store_before_serving() {
    const HEIGHT: u64 = 1200;
    let vhost = Vhost::new("contract_meta_store_catch_up");
    let (block_store_dir, meta_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    {
        // An upload of contract `h % 7` in every 100th block: the last one of each wins.
        let store = BlockStore::open(block_store_dir.path(), false).unwrap();
        let mut page = Vec::new();
        for h in 1..=HEIGHT {
            let previous = if h == 1 {
                zero_id()
            } else {
                block_id(1, h - 1)
            };
            let txs = if h % 100 == 0 {
                vec![upload(h as u32, &[(h % 7) as u8; 25], &format!("abi-{h}"))]
            } else {
                vec![]
            };
            let accepted = accepted(1, h, previous, txs);
            page.push((accepted.block.unwrap(), None));
            if page.len() == 500 || h == HEIGHT {
                store.add_blocks(std::mem::take(&mut page)).unwrap();
            }
        }
    }
    let block_store = ServiceProcess::spawn(
        env!("CARGO_BIN_EXE_koinos-block-store"),
        &vhost,
        block_store_dir.path(),
        &[],
    );
    let conn = vhost.connect().await;
    let blocks: TypedClient<BlockStoreRequest, BlockStoreResponse> = client(&conn, "block_store");
    wait_serving(&blocks, &block_store).await;
    let process = spawn_meta_store(&vhost, meta_dir.path());
    eventually(
        Duration::from_secs(90),
        "contract_meta_store to be ready",
        || async { process.is_ready() },
    )
    .await;
    let client: MetaClient = client(&conn, "contract_meta_store");
    // Contract 3 was uploaded at 500 and 1200 (the last wins); 700 is the only multiple of 100
    // up to 1200 divisible by 7.
    assert_eq!(meta(&client, &[3; 25]).await.unwrap().abi, "abi-1200");
    assert_eq!(meta(&client, &[0; 25]).await.unwrap().abi, "abi-700");
    drop(process);
    drop(block_store);
}
