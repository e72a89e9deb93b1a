//! The default devnet's KOIN: the WebAssembly KCS-4 contract installed by genesis, run by the
//! VM. It reads the balances genesis wrote, and behaves as the native token does wherever a
//! client can see it (balances, events, reversions), transaction by transaction.

use koinos_protocol::pb::koinos::contracts::token as kcs4;

use super::*;
use crate::chain::devnet::DevnetToken;

fn read<M: Message + Default>(f: &Fixture, entry_point: u32) -> M {
    let (result, _) = f.chain.read_contract(&f.token, entry_point, &[]).unwrap();
    M::decode(result.as_slice()).unwrap()
}

#[test]
fn the_wasm_koin_reads_what_genesis_wrote() {
    let f = Fixture::with_token(DevnetToken::Wasm);
    let info: kcs4::GetInfoResult = read(&f, entry::GET_INFO);
    let expected = DevnetToken::Wasm.info();
    assert_eq!(
        (info.name.as_str(), info.symbol.as_str(), info.decimals),
        (expected.name.as_str(), "KOIN", 8)
    );
    assert_eq!(read::<kcs4::NameResult>(&f, entry::NAME).value, "Koin");
    assert_eq!(
        read::<kcs4::TotalSupplyResult>(&f, entry::TOTAL_SUPPLY).value,
        1_000_000
    );
    assert_eq!(f.balance(f.alice.address().as_bytes()), 1_000_000);
    assert_eq!(f.balance(f.bob.address().as_bytes()), 0);
}

/// What a client sees of one transaction: reverted or not, and its events.
type Seen = (bool, Vec<(String, Vec<u8>, Vec<u8>, Vec<Vec<u8>>)>);
/// Makes the next transaction on a devnet.
type Step<'a> = Box<dyn Fn(&Fixture) -> Transaction + 'a>;

/// Runs the same transactions on a devnet of each token, one block each, and returns what a
/// client sees of them and the final balances of alice and bob.
fn run(token: DevnetToken) -> (Vec<Seen>, (u64, u64)) {
    let mut f = Fixture::with_token(token);
    let (alice, bob) = (f.alice.address().to_vec(), f.bob.address().to_vec());
    let mut seen = Vec::new();
    let steps: Vec<Step> = vec![
        Box::new(|f| f.transfer(&f.alice, &bob, 250)),
        // A transfer from alice that bob signs: refused by the token's authority check.
        Box::new(|f| {
            f.tx(
                &f.bob,
                vec![builder::transfer_operation(&f.token, &alice, &bob, 1)],
            )
        }),
        // More than bob holds.
        Box::new(|f| f.transfer(&f.bob, &alice, 251)),
        Box::new(|f| f.transfer(&f.bob, &alice, 50)),
        // Zero is a valid transfer.
        Box::new(|f| f.transfer(&f.alice, &bob, 0)),
    ];
    for step in &steps {
        let tx = step(&f);
        let committed = f.produce(vec![tx]);
        let receipt = &committed.receipt.transaction_receipts[0];
        let events = receipt
            .events
            .iter()
            .map(|e| {
                (
                    e.name.clone(),
                    e.source.clone(),
                    e.data.clone(),
                    e.impacted.clone(),
                )
            })
            .collect();
        seen.push((receipt.reverted, events));
    }
    let balances = (f.balance(&alice), f.balance(&bob));
    (seen, balances)
}

#[test]
fn the_wasm_koin_behaves_as_the_native_token_for_a_client() {
    let (wasm, wasm_balances) = run(DevnetToken::Wasm);
    let (native, native_balances) = run(DevnetToken::Native);
    assert_eq!(wasm_balances, (1_000_000 - 250 + 50, 200));
    assert_eq!(wasm_balances, native_balances);
    let reverted: Vec<bool> = wasm.iter().map(|(r, _)| *r).collect();
    assert_eq!(reverted, [false, true, true, false, false]);
    for (step, (w, n)) in wasm.iter().zip(&native).enumerate() {
        assert_eq!(w, n, "step {step}: same reversion and events");
    }
    assert_eq!(wasm[0].1[0].0, "token.transfer_event");
}
