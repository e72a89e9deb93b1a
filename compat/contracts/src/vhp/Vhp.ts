// The devnet's VHP (virtual hash power, what the pob contract weighs a producer by): the KCS-4
// token of @koinosbox/contracts (class Token, unchanged) named Virtual Hash Power / VHP with 8
// decimals, built exactly as src/koin/Koin.ts is (the package's dispatch, this class in place of
// Token, the package's token-abi.json). Balances are set at genesis.
//
// Note: the official vhp contract adds effective_balance_of (a balance that counts new VHP only
// after a delay); ours has none, and our pob contract and producer read balance_of.
import { Token } from "@koinosbox/contracts";

export class Vhp extends Token {
  constructor() {
    super();
    this._name = "Virtual Hash Power";
    this._symbol = "VHP";
    this._decimals = 8;
  }
}
