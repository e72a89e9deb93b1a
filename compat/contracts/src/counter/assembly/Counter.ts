// Our own test contract (written for this repository, not taken from anywhere): a counter per
// account. It exercises the host API a real contract needs: get_arguments/exit (through the
// generated index.ts), get_contract_id, get_object/put_object/remove_object on the contract's
// object space, event, log, check_authority (increment) and the SDK's requireAuthority, which
// also reads the arguments and the caller, and the owner's contract metadata when another
// contract is the caller (reset).
//
// index.ts (the entry-point dispatch) and proto/counter.ts (the message classes) are generated
// from proto/counter.proto by build.sh, as `koinos-sdk-as-cli build-all` would.
import { System, Protobuf, authority, chain } from "@koinos/sdk-as";
import { counter } from "./proto/counter";

// Object space 0 of this contract holds the counters, keyed by the owner's address.
const COUNTERS_SPACE_ID: u32 = 0;

// Protobuf `bytes` fields decode as `Uint8Array | null`; an absent or empty owner reverts.
function requireOwner(owner: Uint8Array | null): Uint8Array {
  System.require(owner != null && owner.length > 0, "owner is required");
  return owner!;
}

export class Counter {
  space: chain.object_space = new chain.object_space(false, System.getContractId(), COUNTERS_SPACE_ID);

  // Writes: needs the owner's authority (check_authority), stores the updated object and emits
  // `counter.incremented` with the owner as impacted account.
  increment(args: counter.increment_arguments): counter.increment_result {
    const owner = requireOwner(args.owner);
    System.require(args.amount > 0, "amount must be positive");
    const authorized = System.checkAuthority(authority.authorization_type.contract_call, owner);
    System.require(authorized, "owner has not authorized the increment");

    const stored = System.getObject<Uint8Array, counter.counter_object>(this.space, owner, counter.counter_object.decode);
    let obj = new counter.counter_object(0, 0);
    if (stored) {
      obj = stored;
    }
    // Checked addition: an overflow reverts the transaction instead of wrapping.
    System.require(obj.value <= U64.MAX_VALUE - args.amount, "counter overflow");
    obj.value += args.amount;
    obj.updates += 1;
    System.putObject(this.space, owner, obj, counter.counter_object.encode);

    const event = new counter.incremented_event(owner, args.amount, obj.value);
    System.event("counter.incremented", Protobuf.encode(event, counter.incremented_event.encode), [owner]);

    return new counter.increment_result(obj.value);
  }

  // Reads only: the owner's counter, zero when absent.
  get(args: counter.get_arguments): counter.get_result {
    const owner = requireOwner(args.owner);
    const obj = System.getObject<Uint8Array, counter.counter_object>(this.space, owner, counter.counter_object.decode);
    if (!obj) {
      return new counter.get_result(0, 0);
    }
    return new counter.get_result(obj.value, obj.updates);
  }

  // Writes: the SDK's requireAuthority (reverts when not authorized), then removes the object.
  reset(args: counter.reset_arguments): counter.reset_result {
    const owner = requireOwner(args.owner);
    System.requireAuthority(authority.authorization_type.contract_call, owner);
    System.removeObject(this.space, owner);
    System.log("counter reset");
    return new counter.reset_result();
  }
}
