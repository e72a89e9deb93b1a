//! Filling in the derived fields of transactions and blocks (roots, ids, signatures) and
//! checking them, as wallets, the block producer and tests need.

use crate::crypto::signature::recover_address_from_id;
use crate::crypto::{Address, CryptoError, PrivateKey};
use crate::ids::{block_id, transaction_id};
use crate::merkle::{operation_merkle_root, transaction_merkle_root};
use crate::pb::koinos::protocol::{Block, Transaction};

/// Sets `header.operation_merkle_root` from the operations and `id` from the header (creating
/// a default header if there is none). Existing signatures are kept.
pub fn finalize_transaction(transaction: &mut Transaction) {
    let root = operation_merkle_root(&transaction.operations);
    let header = transaction.header.get_or_insert_with(Default::default);
    header.operation_merkle_root = root;
    transaction.id = transaction_id(header);
}

/// Finalizes the transaction, then appends `key`'s signature over its id.
pub fn sign_transaction(
    transaction: &mut Transaction,
    key: &PrivateKey,
) -> Result<(), CryptoError> {
    finalize_transaction(transaction);
    let signature = key.sign_id(&transaction.id)?;
    transaction.signatures.push(signature.to_vec());
    Ok(())
}

/// Sets `header.transaction_merkle_root` from the transactions and `id` from the header.
pub fn finalize_block(block: &mut Block) {
    let root = transaction_merkle_root(&block.transactions);
    let header = block.header.get_or_insert_with(Default::default);
    header.transaction_merkle_root = root;
    block.id = block_id(header);
}

/// Finalizes the block, then sets its signature to `key`'s signature over the id (the
/// federated / genesis-key block signature).
pub fn sign_block(block: &mut Block, key: &PrivateKey) -> Result<(), CryptoError> {
    finalize_block(block);
    block.signature = key.sign_id(&block.id)?.to_vec();
    Ok(())
}

/// Whether `id` and the operation root match the transaction's contents.
pub fn transaction_is_consistent(transaction: &Transaction) -> bool {
    transaction.header.as_ref().is_some_and(|header| {
        header.operation_merkle_root == operation_merkle_root(&transaction.operations)
            && transaction.id == transaction_id(header)
    })
}

/// Whether `id` and the transaction root match the block's contents.
pub fn block_is_consistent(block: &Block) -> bool {
    block.header.as_ref().is_some_and(|header| {
        header.transaction_merkle_root == transaction_merkle_root(&block.transactions)
            && block.id == block_id(header)
    })
}

/// The addresses recovered from each signature of the transaction, in order.
pub fn transaction_signers(transaction: &Transaction) -> Result<Vec<Address>, CryptoError> {
    transaction
        .signatures
        .iter()
        .map(|signature| recover_address_from_id(&transaction.id, signature))
        .collect()
}

/// The address recovered from a 65-byte block signature.
pub fn block_signer(block: &Block) -> Result<Address, CryptoError> {
    recover_address_from_id(&block.id, &block.signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::sha256;
    use crate::nonce::encode_nonce;
    use crate::pb::koinos::protocol::{
        BlockHeader, CallContractOperation, Operation, TransactionHeader, operation::Op,
    };

    fn transfer(key: &PrivateKey) -> Transaction {
        Transaction {
            header: Some(TransactionHeader {
                chain_id: vec![1, 2, 3],
                rc_limit: 10,
                nonce: encode_nonce(1),
                payer: key.address().to_vec(),
                ..Default::default()
            }),
            operations: vec![Operation {
                op: Some(Op::CallContract(CallContractOperation {
                    contract_id: vec![7],
                    entry_point: 1,
                    args: vec![],
                })),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn signed_transaction_is_consistent_and_recovers_its_signer() {
        let key = PrivateKey::from_bytes(&sha256(b"payer")).unwrap();
        let mut transaction = transfer(&key);
        sign_transaction(&mut transaction, &key).unwrap();
        assert!(transaction_is_consistent(&transaction));
        assert_eq!(
            transaction_signers(&transaction).unwrap(),
            vec![key.address()]
        );
        transaction.header.as_mut().unwrap().rc_limit = 11;
        assert!(!transaction_is_consistent(&transaction));
    }

    #[test]
    fn signed_block_is_consistent_and_recovers_its_signer() {
        let key = PrivateKey::from_bytes(&sha256(b"producer")).unwrap();
        let mut transaction = transfer(&key);
        sign_transaction(&mut transaction, &key).unwrap();
        let mut block = Block {
            header: Some(BlockHeader {
                height: 1,
                timestamp: 5,
                signer: key.address().to_vec(),
                ..Default::default()
            }),
            transactions: vec![transaction],
            ..Default::default()
        };
        sign_block(&mut block, &key).unwrap();
        assert!(block_is_consistent(&block));
        assert_eq!(block_signer(&block).unwrap(), key.address());
        block.transactions[0].signatures[0][5] ^= 1;
        assert!(!block_is_consistent(&block));
    }
}
