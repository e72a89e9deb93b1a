//! The `pob` algorithm (docs/protocol.md "Proof of Burn devnet"): as the official
//! `pob_producer`, each round reads the pob contract's metadata (seed, difficulty) and
//! consensus parameters and the producer's VHP balance, then walks the time quanta after the
//! head (after checking that the key registered for the producer, `get_public_key`, is ours):
//! for each it proves the VRF over `vrf_payload{seed, quantum}` and checks the output
//! against the difficulty and the VHP (`koinos_protocol::devnet::pob::difficulty_met`, the
//! contract's rule). At the first winning quantum it waits for that time, and proposes the block
//! with that timestamp and the `signature_data{vrf_proof, vrf_hash, signature}` the contract
//! checks. A new head seen meanwhile ends the round.
//!
//! Where we differ from the official producer: the pob and VHP contract ids come from the
//! options (`pob-contract-id`, `vhp-contract-id`; the official one asks the name service), the
//! VHP balance is `balance_of` (our VHP has no `effective_balance_of`), and the block is
//! proposed at its quantum's time rather than up to 5 s ahead of it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use koinos_protocol::BlockReceipt;
use koinos_protocol::crypto::{PrivateKey, vrf};
use koinos_protocol::devnet::pob::{
    self as pob, GET_CONSENSUS_PARAMETERS_ENTRY_POINT, GET_METADATA_ENTRY_POINT,
    GET_PUBLIC_KEY_ENTRY_POINT, difficulty_met, vrf_payload,
};
use koinos_protocol::pb::koinos::contracts::pob::{
    GetConsensusParametersResult, GetMetadataResult, GetPublicKeyArguments, GetPublicKeyResult,
};
use koinos_protocol::pb::koinos::contracts::token::{BalanceOfArguments, BalanceOfResult};
use koinos_protocol::pb::koinos::rpc::chain::{
    ChainRequest, ReadContractRequest, chain_request, chain_response,
};
use prost::Message;
use tokio_util::sync::CancellationToken;

use super::producer::{ProduceError, Producer, now_millis};

/// KCS-4 `balance_of`.
const BALANCE_OF_ENTRY_POINT: u32 = 0x5c72_1497;
/// Quanta proved per batch (one blocking task); between batches the round looks for a new head.
const QUANTA_PER_BATCH: u64 = 100;
/// How far ahead of the clock the search may run before it waits.
const SEARCH_AHEAD_MS: u64 = 5_000;

/// The `pob` algorithm's settings (the `block_producer` options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PobSettings {
    pub pob_contract: Vec<u8>,
    pub vhp_contract: Vec<u8>,
    /// The address blocks are produced for (the header's `signer`, whose VHP counts and whose
    /// registered key is ours); the key's own address when unset.
    pub producer: Option<Vec<u8>>,
}

/// What a round reads from the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundData {
    pub seed: Vec<u8>,
    pub difficulty: Vec<u8>,
    pub quantum_length: u64,
    pub vhp: u64,
}

/// Whether `registered` (the pob contract's `get_public_key` result for `producer`) is `key`'s
/// public key: a block with another key's proof would fail "proof failed vrf validation".
pub fn check_registered_key(
    registered: &[u8],
    key: &PrivateKey,
    producer: &[u8],
) -> Result<(), ProduceError> {
    let ours = key.public_key().to_compressed();
    if registered == ours {
        return Ok(());
    }
    Err(ProduceError::KeyNotRegistered {
        producer: bs58::encode(producer).into_string(),
        registered: hex::encode(registered),
        ours: hex::encode(ours),
    })
}

/// The first quantum boundary at or after `timestamp`.
pub fn first_quantum(timestamp: u64, quantum_length: u64) -> u64 {
    timestamp.div_ceil(quantum_length) * quantum_length
}

/// The first quantum among `count` from `start` whose VRF output meets the difficulty for
/// `round`'s VHP.
pub fn winning_quantum(key: &PrivateKey, round: &RoundData, start: u64, count: u64) -> Option<u64> {
    (0..count)
        .map(|i| start + i * round.quantum_length)
        .find(|&quantum| {
            let (_, output) = vrf::prove(key, &vrf_payload(&round.seed, quantum));
            difficulty_met(&output, round.vhp, &round.difficulty)
        })
}

impl Producer {
    async fn read_contract(
        &self,
        contract_id: &[u8],
        entry_point: u32,
        args: Vec<u8>,
        what: &'static str,
    ) -> Result<Vec<u8>, ProduceError> {
        let request = ChainRequest {
            request: Some(chain_request::Request::ReadContract(ReadContractRequest {
                contract_id: contract_id.to_vec(),
                entry_point,
                args,
            })),
        };
        let response = self
            .chain
            .call(&request)
            .await
            .map_err(|source| ProduceError::Call { what, source })?;
        match response.response {
            Some(chain_response::Response::ReadContract(read)) => Ok(read.result),
            _ => Err(ProduceError::UnexpectedResponse("read_contract")),
        }
    }

    /// The pob contract's metadata and consensus parameters and `producer`'s VHP.
    pub async fn round_data(
        &self,
        settings: &PobSettings,
        producer: &[u8],
    ) -> Result<RoundData, ProduceError> {
        let decode = |what: &'static str| move |_| ProduceError::UnexpectedResponse(what);
        let metadata = self
            .read_contract(
                &settings.pob_contract,
                GET_METADATA_ENTRY_POINT,
                Vec::new(),
                "error while retrieving metadata from the pob contract",
            )
            .await?;
        let metadata = GetMetadataResult::decode(metadata.as_slice())
            .map_err(decode("get_metadata"))?
            .value
            .unwrap_or_default();
        let params = self
            .read_contract(
                &settings.pob_contract,
                GET_CONSENSUS_PARAMETERS_ENTRY_POINT,
                Vec::new(),
                "error while retrieving consensus parameters from the pob contract",
            )
            .await?;
        let params = GetConsensusParametersResult::decode(params.as_slice())
            .map_err(decode("get_consensus_parameters"))?
            .value
            .unwrap_or_default();
        let args = BalanceOfArguments {
            owner: producer.to_vec(),
        }
        .encode_to_vec();
        let vhp = self
            .read_contract(
                &settings.vhp_contract,
                BALANCE_OF_ENTRY_POINT,
                args,
                "error while retrieving VHP balance",
            )
            .await?;
        let vhp = BalanceOfResult::decode(vhp.as_slice())
            .map_err(decode("balance_of"))?
            .value;
        let args = GetPublicKeyArguments {
            producer: producer.to_vec(),
        }
        .encode_to_vec();
        let registered = self
            .read_contract(
                &settings.pob_contract,
                GET_PUBLIC_KEY_ENTRY_POINT,
                args,
                "error while retrieving the producer's public key from the pob contract",
            )
            .await?;
        let registered = GetPublicKeyResult::decode(registered.as_slice())
            .map_err(decode("get_public_key"))?
            .value;
        check_registered_key(&registered, self.key.private_key(), producer)?;
        Ok(RoundData {
            seed: metadata.seed,
            difficulty: metadata.difficulty,
            quantum_length: u64::from(params.quantum_length.max(1)),
            vhp,
        })
    }

    /// One pob round: the block of the first winning quantum after the head, proposed at its
    /// time. `None` when a new head ended the round first, or on shutdown.
    pub async fn produce_pob_once(
        &self,
        settings: &PobSettings,
        shutdown: &CancellationToken,
    ) -> Result<Option<BlockReceipt>, ProduceError> {
        let producer = settings
            .producer
            .clone()
            .unwrap_or_else(|| self.key.address().to_vec());
        let seen_head = self.heads_seen.load(Ordering::Relaxed);
        let mut block = self.next_block().await?;
        let round = self.round_data(settings, &producer).await?;
        if round.vhp == 0 {
            return Err(ProduceError::NoVhp(bs58::encode(&producer).into_string()));
        }
        let header = block.header.get_or_insert_with(Default::default);
        header.signer = producer;
        let mut start = first_quantum(header.timestamp, round.quantum_length);
        let winner = loop {
            let key = self.key.private_key().clone();
            let batch_round = round.clone();
            let found = tokio::task::spawn_blocking(move || {
                winning_quantum(&key, &batch_round, start, QUANTA_PER_BATCH)
            })
            .await
            .expect("the VRF search does not panic");
            if let Some(quantum) = found {
                break quantum;
            }
            start += QUANTA_PER_BATCH * round.quantum_length;
            // Not too far ahead of the clock: a block that arrives meanwhile ends the round.
            let ahead = start.saturating_sub(now_millis() + SEARCH_AHEAD_MS);
            if ahead > 0 && !self.pause(Duration::from_millis(ahead), shutdown).await {
                return Ok(None);
            }
            if self.heads_seen.load(Ordering::Relaxed) != seen_head {
                return Ok(None);
            }
        };
        tracing::debug!(quantum = winner, "burn difficulty met");
        let wait = winner.saturating_sub(now_millis());
        if !self.pause(Duration::from_millis(wait), shutdown).await
            || self.heads_seen.load(Ordering::Relaxed) != seen_head
        {
            return Ok(None);
        }
        block.header.get_or_insert_with(Default::default).timestamp = winner;
        let key = self.key.private_key().clone();
        let seed = round.seed;
        self.propose_until_accepted(block, move |block| {
            pob::sign_block(block, &key, &seed).expect("a finalized id is a sha2-256 multihash");
        })
        .await
        .map(Some)
    }

    /// Sleeps `duration`; false on shutdown.
    async fn pause(&self, duration: Duration, shutdown: &CancellationToken) -> bool {
        tokio::select! {
            _ = shutdown.cancelled() => false,
            _ = tokio::time::sleep(duration) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_registered_key_produces() {
        let key = PrivateKey::from_seed("pob producer key");
        let ours = key.public_key().to_compressed();
        assert!(check_registered_key(&ours, &key, b"p").is_ok());
        let other = PrivateKey::from_seed("another key")
            .public_key()
            .to_compressed();
        let error = check_registered_key(&other, &key, &[0; 25])
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("the pob contract registers key "),
            "{error}"
        );
        assert!(error.contains(&hex::encode(ours)), "{error}");
    }

    #[test]
    fn quanta_start_at_the_next_boundary() {
        assert_eq!(first_quantum(1_000, 10), 1_000);
        assert_eq!(first_quantum(1_001, 10), 1_010);
        assert_eq!(first_quantum(1_009, 10), 1_010);
    }

    #[test]
    fn the_search_finds_the_first_quantum_the_contract_rule_accepts() {
        let key = PrivateKey::from_seed("pob search");
        let round = RoundData {
            seed: b"seed".to_vec(),
            difficulty: (1u128 << 47).to_be_bytes().to_vec(),
            quantum_length: 10,
            // About one quantum in two wins.
            vhp: 1 << 46,
        };
        let found = winning_quantum(&key, &round, 1_000, 64).expect("a win in 64 quanta");
        assert_eq!(found % 10, 0);
        for quantum in (1_000..found).step_by(10) {
            let (_, output) = vrf::prove(&key, &vrf_payload(b"seed", quantum));
            assert!(!difficulty_met(&output, round.vhp, &round.difficulty));
        }
        let (_, output) = vrf::prove(&key, &vrf_payload(b"seed", found));
        assert!(difficulty_met(&output, round.vhp, &round.difficulty));
        let no_vhp = RoundData { vhp: 0, ..round };
        assert_eq!(winning_quantum(&key, &no_vhp, 1_000, 64), None);
    }
}
