//! The error texts a client sees over AMQP are the official services' own (`error_status.message`
//! compared exactly), and bad input the official services accept is accepted.

use koinos_protocol::TransactionReceipt;
use koinos_protocol::broadcast::TransactionAccepted;
use koinos_protocol::rpc::mempool::{
    CheckAccountNonceRequest, CheckPendingAccountResourcesRequest, GetPendingNonceRequest,
    GetPendingTransactionCountRequest, GetPendingTransactionsByIdRequest,
    GetPendingTransactionsRequest, MempoolRequest, MempoolResponse, mempool_request,
    mempool_response,
};
use koinos_services::mempool::encode_nonce;
use koinos_services::mq::{Broadcaster, Subscriber};
use std::time::Duration;

use super::*;

/// The `error_status.message` of a failed call (panics on any other outcome).
fn remote_message<T: std::fmt::Debug>(result: Result<T, CallError>) -> String {
    match result {
        Err(CallError::Remote { message, .. }) => message,
        other => panic!("expected an error response, got {other:?}"),
    }
}

async fn block_store_call(
    client: &BlockStoreClient,
    request: block_store_request::Request,
) -> Result<block_store_response::Response, CallError> {
    let response = client
        .call(&BlockStoreRequest {
            request: Some(request),
        })
        .await?;
    Ok(response.response.expect("a response"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_store_answers_with_the_official_error_texts() {
    let vhost = Vhost::new("block_store_errors");
    let dir = tempfile::tempdir().unwrap();
    let process = ServiceProcess::spawn(
        env!("CARGO_BIN_EXE_koinos-block-store"),
        &vhost,
        dir.path(),
        &[],
    );
    let conn = vhost.connect().await;
    let client: BlockStoreClient = client(&conn, "block_store");
    wait_serving(&client, &process).await;
    let mut previous = zero_id();
    for h in 1..=3 {
        add_block(&client, block(1, h, previous, vec![]), receipt(1, h, 8)).await;
        previous = block_id(1, h);
    }

    // An empty id list is an error.
    let by_id = |block_ids: Vec<Vec<u8>>| {
        block_store_request::Request::GetBlocksById(GetBlocksByIdRequest {
            block_ids,
            return_block: true,
            return_receipt: true,
        })
    };
    assert_eq!(
        remote_message(block_store_call(&client, by_id(vec![])).await),
        "expected field 'block_id' was nil"
    );
    assert_eq!(
        remote_message(block_store_call(&client, by_id(vec![block_id(1, 1); 1001])).await),
        "requested too many blocks: 1001, max: 1000"
    );

    // A missing head block is named in hex, on the spliced path and the typed one alike.
    let missing = block_id(9, 9);
    let expected = format!("Block not present - ID: 0x{}", hex::encode(&missing));
    for (return_block, return_receipt) in [(true, true), (false, false)] {
        let request = block_store_request::Request::GetBlocksByHeight(GetBlocksByHeightRequest {
            head_block_id: missing.clone(),
            ancestor_start_height: 1,
            num_blocks: 1,
            return_block,
            return_receipt,
        });
        assert_eq!(
            remote_message(block_store_call(&client, request).await),
            expected
        );
    }
    let by_height = |head_block_id: Vec<u8>, ancestor_start_height: u64, num_blocks: u32| {
        block_store_request::Request::GetBlocksByHeight(GetBlocksByHeightRequest {
            head_block_id,
            ancestor_start_height,
            num_blocks,
            return_block: false,
            return_receipt: false,
        })
    };
    for (request, message) in [
        (
            by_height(block_id(1, 3), 0, 1),
            "ancestor_start_height must be greater than 0",
        ),
        (
            by_height(vec![], 1, 1),
            "expected field, 'head_block_id' was nil",
        ),
        (by_height(block_id(1, 3), 4, 1), "Block height mismatch"),
        (
            by_height(block_id(1, 3), 1, 1001),
            "requested too many blocks: 1001, max: 1000",
        ),
    ] {
        assert_eq!(
            remote_message(block_store_call(&client, request).await),
            message
        );
    }
    // num_blocks 0 answers an empty list before any other check, as the official one does.
    assert!(matches!(
        block_store_call(&client, by_height(vec![], 0, 0)).await.unwrap(),
        block_store_response::Response::GetBlocksByHeight(r) if r.block_items.is_empty()
    ));

    // add_block: no block is the official error; no receipt, or a receipt naming another
    // block, is stored as given (the official service checks neither).
    let add = |block: Option<koinos_protocol::Block>, receipt| {
        block_store_request::Request::AddBlock(AddBlockRequest {
            block_to_add: block,
            receipt_to_add: receipt,
        })
    };
    assert_eq!(
        remote_message(block_store_call(&client, add(None, Some(receipt(1, 4, 8)))).await),
        "Cannot add empty optional block"
    );
    let four = block(1, 4, block_id(1, 3), vec![]);
    assert!(matches!(
        block_store_call(&client, add(Some(four), None))
            .await
            .unwrap(),
        block_store_response::Response::AddBlock(_)
    ));
    let five = block(1, 5, block_id(1, 4), vec![]);
    assert!(matches!(
        block_store_call(&client, add(Some(five), Some(receipt(7, 7, 8))))
            .await
            .unwrap(),
        block_store_response::Response::AddBlock(_)
    ));
    let items = match block_store_call(&client, by_id(vec![block_id(1, 4), block_id(1, 5)]))
        .await
        .unwrap()
    {
        block_store_response::Response::GetBlocksById(r) => r.block_items,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(items[0].receipt, None);
    assert_eq!(items[1].receipt, Some(receipt(7, 7, 8)));
    drop(process);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_store_refuses_an_empty_id_list_like_the_official_one() {
    let vhost = Vhost::new("transaction_store_errors");
    let dir = tempfile::tempdir().unwrap();
    let process = ServiceProcess::spawn(
        env!("CARGO_BIN_EXE_koinos-transaction-store"),
        &vhost,
        dir.path(),
        &[],
    );
    let conn = vhost.connect().await;
    let client: TypedClient<TransactionStoreRequest, TransactionStoreResponse> =
        client(&conn, "transaction_store");
    wait_serving(&client, &process).await;
    let call = |transaction_ids: Vec<Vec<u8>>| {
        let client = client.clone();
        async move {
            let request = transaction_store_request::Request::GetTransactionsById(
                GetTransactionsByIdRequest { transaction_ids },
            );
            client
                .call(&TransactionStoreRequest {
                    request: Some(request),
                })
                .await
        }
    };
    assert_eq!(
        remote_message(call(vec![]).await),
        "expected field transaction_ids was nil"
    );
    // An unknown id is skipped, not an error.
    let response = call(vec![tx_id(1)]).await.unwrap();
    assert!(matches!(
        response.response,
        Some(transaction_store_response::Response::GetTransactionsById(r)) if r.transactions.is_empty()
    ));
    drop(process);
}

type MempoolClient = TypedClient<MempoolRequest, MempoolResponse>;

async fn mempool_call(
    client: &MempoolClient,
    request: mempool_request::Request,
) -> Result<mempool_response::Response, CallError> {
    let response = client
        .call(&MempoolRequest {
            request: Some(request),
        })
        .await?;
    Ok(response.response.expect("a response"))
}

/// Before any block: the listings read the pending set whatever block they name, the checks and
/// nonce queries refuse an unknown block with the official texts. A pending transaction keeps
/// the `system_*` usage chain put in its `transaction_accepted`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mempool_answers_unknown_blocks_and_system_usage_like_the_official_one() {
    const PAYER: [u8; 25] = [0xa1; 25];
    let vhost = Vhost::new("mempool_errors");
    let dir = tempfile::tempdir().unwrap();
    let process = ServiceProcess::spawn(
        env!("CARGO_BIN_EXE_koinos-mempool"),
        &vhost,
        dir.path(),
        &["--readiness-delay", "0"],
    );
    let conn = vhost.connect().await;
    let client: MempoolClient = client(&conn, "mempool");
    wait_serving(&client, &process).await;
    let mut accepts = Subscriber::subscribe(&conn, &["koinos.mempool.accept"]);
    accepts.wait_bound(Duration::from_secs(10)).await.unwrap();
    let accepted = TransactionAccepted {
        transaction: Some(transaction(1, &PAYER, 1, 100)),
        receipt: Some(TransactionReceipt {
            id: tx_id(1),
            payer: PAYER.to_vec(),
            max_payer_rc: 1000,
            rc_limit: 100,
            disk_storage_used: 11,
            network_bandwidth_used: 13,
            compute_bandwidth_used: 17,
            ..Default::default()
        }),
        height: 1,
        system_disk_storage_used: 2,
        system_network_bandwidth_used: 3,
        system_compute_bandwidth_used: 5,
    };
    Broadcaster::new(&conn)
        .publish("koinos.transaction.accept", &accepted.encode_to_vec())
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), accepts.recv())
        .await
        .expect("koinos.mempool.accept")
        .expect("subscription open");

    let unknown = Some(block_id(5, 500));
    let pending = match mempool_call(
        &client,
        mempool_request::Request::GetPendingTransactions(GetPendingTransactionsRequest {
            limit: 10,
            block_id: unknown.clone(),
        }),
    )
    .await
    .unwrap()
    {
        mempool_response::Response::GetPendingTransactions(r) => r.pending_transactions,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(pending.len(), 1);
    let p = &pending[0];
    assert_eq!(
        (
            p.disk_storage_used,
            p.network_bandwidth_used,
            p.compute_bandwidth_used
        ),
        (11, 13, 17)
    );
    assert_eq!(
        (
            p.system_disk_storage_used,
            p.system_network_bandwidth_used,
            p.system_compute_bandwidth_used
        ),
        (2, 3, 5)
    );
    assert!(matches!(
        mempool_call(
            &client,
            mempool_request::Request::GetPendingTransactionsById(
                GetPendingTransactionsByIdRequest {
                    transaction_ids: vec![tx_id(1)],
                    block_id: unknown.clone(),
                }
            ),
        )
        .await
        .unwrap(),
        mempool_response::Response::GetPendingTransactionsById(r) if r.pending_transactions.len() == 1
    ));

    for (request, message) in [
        (
            mempool_request::Request::CheckPendingAccountResources(
                CheckPendingAccountResourcesRequest {
                    payer: PAYER.to_vec(),
                    max_payer_rc: 1000,
                    rc_limit: 1,
                    block_id: unknown.clone(),
                },
            ),
            "cannot check pending account resources from an unknown block",
        ),
        (
            mempool_request::Request::CheckAccountNonce(CheckAccountNonceRequest {
                payee: PAYER.to_vec(),
                nonce: encode_nonce(2),
                block_id: unknown.clone(),
            }),
            "cannot check pending account resources from an unknown block",
        ),
        (
            mempool_request::Request::GetPendingNonce(GetPendingNonceRequest {
                payee: PAYER.to_vec(),
                block_id: unknown.clone(),
            }),
            "cannot check pending nonce from an unknown block",
        ),
        (
            mempool_request::Request::GetPendingTransactionCount(
                GetPendingTransactionCountRequest {
                    payee: PAYER.to_vec(),
                    block_id: unknown.clone(),
                },
            ),
            "cannot check pending nonce from an unknown block",
        ),
        (
            mempool_request::Request::GetPendingTransactions(GetPendingTransactionsRequest {
                limit: 2001,
                block_id: None,
            }),
            "requested too many pending transactions. max: 2000",
        ),
        (
            mempool_request::Request::GetPendingTransactionsById(
                GetPendingTransactionsByIdRequest {
                    transaction_ids: vec![tx_id(1); 2001],
                    block_id: None,
                },
            ),
            "requested too many pending transactions. max: 2000",
        ),
    ] {
        assert_eq!(
            remote_message(mempool_call(&client, request).await),
            message
        );
    }
    drop(process);
}
