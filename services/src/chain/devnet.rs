//! Devnet genesis: [`koinos_protocol::devnet`] builds it (pure, shared with the operator). KOIN
//! is the WebAssembly token by default, run by [`super::wasm`]; the native one is run by
//! [`super::token`], whose layout constants are the same ones. Write it with [`koinos_protocol::genesis::genesis_to_json`] to
//! `basedir/chain/genesis_data.json`.

pub use koinos_protocol::devnet::{DevnetToken, genesis, token_contract_id, token_info};

#[cfg(test)]
mod tests {
    use koinos_protocol::crypto::{PrivateKey, sha256};
    use koinos_protocol::devnet::{ACCOUNT_RC, resource_limits, token_state_entries};

    use super::super::context::{DEFAULT_ACCOUNT_RC, default_resource_limits};
    use super::super::state::state_key;
    use super::super::token;
    use super::*;

    /// The chain's token reads its state where the shared genesis builder writes it.
    #[test]
    fn genesis_token_state_is_where_the_chain_token_reads_it() {
        let owner = PrivateKey::from_bytes(&sha256(b"owner")).unwrap().address();
        let contract = token_contract_id(owner.as_bytes()).to_vec();
        let balances = [(owner.to_vec(), 42)];
        let written: Vec<(Vec<u8>, Vec<u8>)> =
            token_state_entries(&contract, &token_info(), &balances)
                .into_iter()
                .map(|e| (state_key(&e.space.unwrap(), &e.key), e.value))
                .collect();
        assert_eq!(
            written,
            token::genesis_state(&contract, &token_info(), &balances)
        );
        assert!(
            genesis(owner.as_bytes(), &contract, DevnetToken::Native, &balances)
                .entries
                .iter()
                .any(|e| e.key == contract && e.value == token::NATIVE_TOKEN_BYTECODE)
        );
    }

    #[test]
    fn devnet_resources_match_the_chain_defaults() {
        assert_eq!(ACCOUNT_RC, DEFAULT_ACCOUNT_RC);
        assert_eq!(resource_limits(), default_resource_limits());
    }
}
