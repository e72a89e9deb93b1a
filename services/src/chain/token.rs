//! A native Rust implementation of the KCS-4 fungible token (docs/protocol.md "KCS-4 token"),
//! reached through `call_contract` operations and `read_contract` exactly as a WASM token
//! would be.
//!
//! # Devnet genesis entries and state layout
//! A contract id becomes this token when genesis stores [`NATIVE_TOKEN_BYTECODE`] as its
//! bytecode (system space 2, key = contract id); [`super::devnet::genesis`] writes:
//! - system space 2 (`contract_bytecode`), key contract id → [`NATIVE_TOKEN_BYTECODE`];
//! - system space 3 (`contract_metadata`), key contract id → `contract_metadata_object{hash =
//!   multihash(sha256(bytecode)), system = true}`;
//! - contract space `{system: false, zone: contract id, id: 3}` key `""` → `get_info_result
//!   {name, symbol, decimals}`;
//! - contract space id 0 key `""` → total supply, id 1 key owner address → balance, id 2 key
//!   owner ‖ spender → allowance; each value a `{uint64 value = 1}` message.
//!
//! Authority: `transfer`/`burn` need `from`'s signature on the transaction, or an allowance
//! from `from` to one of the signers (which it then spends); `approve` needs `owner`'s
//! signature; `mint` needs the genesis key's. Failed checks and overdrafts revert (code 1).

use koinos_protocol::pb::koinos::contracts::token as kcs4;
use prost::Message;

use super::context::ApplyContext;
use super::error::{ChainError, ChainResult, code};
use super::state::{contract_space, state_key};

/// The bytecode marker and space ids the devnet genesis writes (one definition for both).
pub use koinos_protocol::devnet::{
    ALLOWANCES_SPACE, BALANCES_SPACE, INFO_SPACE, NATIVE_TOKEN_BYTECODE, SUPPLY_SPACE,
};

/// KCS-4 entry points.
pub mod entry {
    pub const NAME: u32 = 0x82a3537f;
    pub const SYMBOL: u32 = 0xb76a7ca1;
    pub const DECIMALS: u32 = 0xee80fd2f;
    pub const GET_INFO: u32 = 0xbd7f6850;
    pub const TOTAL_SUPPLY: u32 = 0xb0da3934;
    pub const BALANCE_OF: u32 = 0x5c721497;
    pub const ALLOWANCE: u32 = 0x32f09fa1;
    pub const GET_ALLOWANCES: u32 = 0x8fa16456;
    pub const APPROVE: u32 = 0x74e21680;
    pub const TRANSFER: u32 = 0x27f576ca;
    pub const MINT: u32 = 0xdc6f17bb;
    pub const BURN: u32 = 0x859facc5;
}

/// The token state entries for `contract_id` (used by genesis builders): info, balances and
/// the supply they sum to.
pub fn genesis_state(
    contract_id: &[u8],
    info: &kcs4::GetInfoResult,
    balances: &[(Vec<u8>, u64)],
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut entries = vec![(
        state_key(&contract_space(contract_id, INFO_SPACE), b""),
        info.encode_to_vec(),
    )];
    let mut supply = 0u64;
    for (owner, value) in balances {
        supply = supply.saturating_add(*value);
        entries.push((balance_key(contract_id, owner), u64_value(*value)));
    }
    entries.push((
        state_key(&contract_space(contract_id, SUPPLY_SPACE), b""),
        u64_value(supply),
    ));
    entries
}

fn balance_key(contract_id: &[u8], owner: &[u8]) -> Vec<u8> {
    state_key(&contract_space(contract_id, BALANCES_SPACE), owner)
}

fn allowance_key(contract_id: &[u8], owner: &[u8], spender: &[u8]) -> Vec<u8> {
    state_key(
        &contract_space(contract_id, ALLOWANCES_SPACE),
        &[owner, spender].concat(),
    )
}

fn u64_value(value: u64) -> Vec<u8> {
    kcs4::BalanceOfResult { value }.encode_to_vec()
}

fn revert(message: impl Into<String>) -> ChainError {
    ChainError::new(code::REVERSION, message)
}

fn args<M: Message + Default>(bytes: &[u8]) -> ChainResult<M> {
    M::decode(bytes).map_err(|e| revert(format!("invalid arguments: {e}")))
}

/// The token at `contract` as seen by one call.
struct Token<'c, 'p> {
    ctx: &'c mut ApplyContext<'p>,
    contract: Vec<u8>,
}

impl Token<'_, '_> {
    fn read_u64(&self, key: &[u8]) -> ChainResult<u64> {
        Ok(match self.ctx.session.get(key)? {
            Some(bytes) => {
                kcs4::BalanceOfResult::decode(bytes.as_slice())
                    .map_err(|e| ChainError::internal(format!("bad token value: {e}")))?
                    .value
            }
            None => 0,
        })
    }

    fn write_u64(&mut self, key: Vec<u8>, value: u64) -> ChainResult<()> {
        if value == 0 {
            self.ctx.remove(key)
        } else {
            self.ctx.put(key, u64_value(value))
        }
    }

    fn info(&self) -> ChainResult<kcs4::GetInfoResult> {
        let key = state_key(&contract_space(&self.contract, INFO_SPACE), b"");
        Ok(match self.ctx.session.get(&key)? {
            Some(bytes) => kcs4::GetInfoResult::decode(bytes.as_slice())
                .map_err(|e| ChainError::internal(format!("bad token info: {e}")))?,
            None => kcs4::GetInfoResult::default(),
        })
    }

    fn balance(&self, owner: &[u8]) -> ChainResult<u64> {
        self.read_u64(&balance_key(&self.contract, owner))
    }

    fn supply_key(&self) -> Vec<u8> {
        state_key(&contract_space(&self.contract, SUPPLY_SPACE), b"")
    }

    /// `from` signed, or a signer holds enough allowance from `from` (which is spent).
    fn authorize_spend(&mut self, from: &[u8], value: u64) -> ChainResult<()> {
        if self.ctx.has_authority(from) {
            return Ok(());
        }
        for spender in self.ctx.signers.clone() {
            let key = allowance_key(&self.contract, from, &spender);
            let allowance = self.read_u64(&key)?;
            if allowance >= value {
                return self.write_u64(key, allowance - value);
            }
        }
        Err(revert("from has not authorized the operation"))
    }

    fn move_balance(&mut self, from: &[u8], to: &[u8], value: u64) -> ChainResult<()> {
        let from_balance = self.balance(from)?;
        if from_balance < value {
            return Err(revert("account 'from' has insufficient balance"));
        }
        self.write_u64(balance_key(&self.contract, from), from_balance - value)?;
        let to_balance = self.balance(to)?;
        let new_balance = to_balance
            .checked_add(value)
            .ok_or_else(|| revert("balance overflow"))?;
        self.write_u64(balance_key(&self.contract, to), new_balance)
    }

    fn event(&mut self, name: &str, data: Vec<u8>, impacted: Vec<Vec<u8>>) {
        let contract = self.contract.clone();
        self.ctx.emit_event(&contract, name, data, impacted);
    }

    fn call(&mut self, entry_point: u32, raw: &[u8]) -> ChainResult<Vec<u8>> {
        Ok(match entry_point {
            entry::NAME => kcs4::NameResult {
                value: self.info()?.name,
            }
            .encode_to_vec(),
            entry::SYMBOL => kcs4::SymbolResult {
                value: self.info()?.symbol,
            }
            .encode_to_vec(),
            entry::DECIMALS => kcs4::DecimalsResult {
                value: self.info()?.decimals,
            }
            .encode_to_vec(),
            entry::GET_INFO => self.info()?.encode_to_vec(),
            entry::TOTAL_SUPPLY => u64_value(self.read_u64(&self.supply_key())?),
            entry::BALANCE_OF => {
                let a: kcs4::BalanceOfArguments = args(raw)?;
                u64_value(self.balance(&a.owner)?)
            }
            entry::ALLOWANCE => {
                let a: kcs4::AllowanceArguments = args(raw)?;
                u64_value(self.read_u64(&allowance_key(&self.contract, &a.owner, &a.spender))?)
            }
            entry::GET_ALLOWANCES => self.get_allowances(args(raw)?)?.encode_to_vec(),
            entry::APPROVE => {
                let a: kcs4::ApproveArguments = args(raw)?;
                if !self.ctx.has_authority(&a.owner) {
                    return Err(revert("owner has not authorized approval"));
                }
                self.write_u64(allowance_key(&self.contract, &a.owner, &a.spender), a.value)?;
                let event = kcs4::ApproveEvent {
                    owner: a.owner.clone(),
                    spender: a.spender.clone(),
                    value: a.value,
                    memo: a.memo,
                };
                self.event(
                    "token.approve_event",
                    event.encode_to_vec(),
                    vec![a.spender, a.owner],
                );
                Vec::new()
            }
            entry::TRANSFER => {
                let a: kcs4::TransferArguments = args(raw)?;
                if a.from == a.to {
                    return Err(revert("cannot transfer to self"));
                }
                self.authorize_spend(&a.from, a.value)?;
                self.move_balance(&a.from, &a.to, a.value)?;
                let event = kcs4::TransferEvent {
                    from: a.from.clone(),
                    to: a.to.clone(),
                    value: a.value,
                    memo: a.memo,
                };
                self.event(
                    "token.transfer_event",
                    event.encode_to_vec(),
                    vec![a.to, a.from],
                );
                Vec::new()
            }
            entry::MINT => {
                let a: kcs4::MintArguments = args(raw)?;
                if !self.ctx.has_system_authority() {
                    return Err(revert("mint requires the genesis key's authority"));
                }
                let supply = self.read_u64(&self.supply_key())?;
                let new_supply = supply
                    .checked_add(a.value)
                    .ok_or_else(|| revert("mint would overflow supply"))?;
                let balance = self.balance(&a.to)?;
                self.write_u64(self.supply_key(), new_supply)?;
                self.write_u64(balance_key(&self.contract, &a.to), balance + a.value)?;
                let event = kcs4::MintEvent {
                    to: a.to.clone(),
                    value: a.value,
                    memo: a.memo,
                };
                self.event("token.mint_event", event.encode_to_vec(), vec![a.to]);
                Vec::new()
            }
            entry::BURN => {
                let a: kcs4::BurnArguments = args(raw)?;
                self.authorize_spend(&a.from, a.value)?;
                let balance = self.balance(&a.from)?;
                if balance < a.value {
                    return Err(revert("account 'from' has insufficient balance"));
                }
                let supply = self.read_u64(&self.supply_key())?;
                self.write_u64(balance_key(&self.contract, &a.from), balance - a.value)?;
                self.write_u64(self.supply_key(), supply.saturating_sub(a.value))?;
                let event = kcs4::BurnEvent {
                    from: a.from.clone(),
                    value: a.value,
                    memo: a.memo,
                };
                self.event("token.burn_event", event.encode_to_vec(), vec![a.from]);
                Vec::new()
            }
            other => {
                return Err(ChainError::new(
                    code::REVERSION,
                    format!("unknown entry point 0x{other:08x} of the native token"),
                ));
            }
        })
    }

    fn get_allowances(
        &self,
        a: kcs4::GetAllowancesArguments,
    ) -> ChainResult<kcs4::GetAllowancesResult> {
        let space = contract_space(&self.contract, ALLOWANCES_SPACE);
        // Allowance keys are owner ‖ spender (25 + 25 bytes), so one owner's keys are contiguous.
        let owner_start = state_key(&space, &[a.owner.as_slice(), &[0u8; 25]].concat());
        let owner_end = super::state::prefix_end(&state_key(
            &space,
            &[a.owner.as_slice(), &[0xffu8; 25]].concat(),
        ));
        let mut entries = self.ctx.session.range(&owner_start, &owner_end)?;
        if a.descending {
            entries.reverse();
        }
        let after_start = |spender: &[u8]| {
            a.start.is_empty()
                || if a.descending {
                    spender < a.start.as_slice()
                } else {
                    spender > a.start.as_slice()
                }
        };
        let mut allowances = Vec::new();
        for (key, value) in entries {
            if allowances.len() >= a.limit.max(0) as usize {
                break;
            }
            let Some((_, raw_key)) = super::state::split_state_key(&key) else {
                continue;
            };
            if raw_key.len() != a.owner.len() + 25 || !raw_key.starts_with(&a.owner) {
                continue;
            }
            let spender = raw_key[a.owner.len()..].to_vec();
            if !after_start(&spender) {
                continue;
            }
            let value = kcs4::BalanceOfResult::decode(value.as_slice())
                .map_err(|e| ChainError::internal(format!("bad allowance: {e}")))?
                .value;
            allowances.push(kcs4::SpenderValue { spender, value });
        }
        Ok(kcs4::GetAllowancesResult {
            owner: a.owner,
            allowances,
        })
    }
}

/// Runs entry point `entry_point` of the native token at `contract_id`; returns the result.
pub fn call(
    ctx: &mut ApplyContext<'_>,
    contract_id: &[u8],
    entry_point: u32,
    args: &[u8],
) -> ChainResult<Vec<u8>> {
    Token {
        ctx,
        contract: contract_id.to_vec(),
    }
    .call(entry_point, args)
}
