// Our proof-of-burn consensus contract (written for this repository, docs/protocol.md "Proof of
// Burn devnet"). It implements the public interface of Koinos' pob contract (entry points,
// messages, object spaces, the VRF check and the difficulty rule) so that a chain whose
// `process_block_signature` system call is overridden to `process_block_signature` here accepts
// a block only from a producer that won the block's time quantum:
//
//   - the timestamp is a multiple of the quantum length;
//   - the signer has a registered VRF public key, active for 20 blocks;
//   - `signature_data.vrf_proof` proves `vrf_hash` for vrf_payload{seed, timestamp} with that key;
//   - the upper 128 bits of the VRF output, divided by the signer's VHP balance, are below
//     u128::MAX / difficulty;
//   - `signature_data.signature` is the same key's signature of the block id (ours; see below).
//
// A block that passes sets the next seed to sha256(vrf_hash) and adjusts the difficulty towards
// the target block interval (Ethereum Homestead's rule, as the official contract uses).
//
// Where this contract differs from the official one (docs/protocol.md lists them): the VHP
// contract id is read from this contract's metadata space (key 0x02, written at genesis) since
// our chain has no name service; a producer without VHP is refused with "producer has no VHP"
// (the official contract divides by zero); the digest must be the id of the block being applied
// and the block signature is checked; there is no block
// reward, no VHP deduction per block and no `burn` (the devnet's KOIN has no burn entry point
// and mints only with its own signature).
//
// index.ts (the entry-point dispatch) and proto/pob.ts (the message classes) are generated from
// proto/pob.proto by build.sh, as `koinos-sdk-as-cli build-all` would.
import { System, Protobuf, authority, chain, Crypto, Token, u128 } from "@koinos/sdk-as";
import { pob } from "./proto/pob";

const DEFAULT_ANNUAL_INFLATION_RATE: u32 = 19802; // 2 %, in millionths
const DEFAULT_TARGET_BURN_PERCENT: u32 = 501000; // 50.1 %, in millionths
const DEFAULT_TARGET_BLOCK_INTERVAL_MS: u32 = 3000;
const DEFAULT_QUANTUM_LENGTH_MS: u32 = 10;
const INITIAL_DIFFICULTY_BITS: i32 = 48;
// A registered key produces from this many blocks after its registration on.
const DELAY_BLOCKS: u64 = 20;

const METADATA_KEY = new Uint8Array(0);
const CONSENSUS_PARAMS_KEY = bytes1(1);
const VHP_CONTRACT_KEY = bytes1(2);

function bytes1(b: u8): Uint8Array {
  const a = new Uint8Array(1);
  a[0] = b;
  return a;
}

function requireBytes(value: Uint8Array | null, what: string): Uint8Array {
  System.require(value != null && value.length > 0, what + " is required");
  return value!;
}

function equalBytes(a: Uint8Array, b: Uint8Array): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

export class Pob {
  // The official contract's spaces: system spaces in its own zone.
  registrationSpace: chain.object_space = new chain.object_space(true, System.getContractId(), 0);
  metadataSpace: chain.object_space = new chain.object_space(true, System.getContractId(), 1);

  register_public_key(args: pob.register_public_key_arguments): pob.register_public_key_result {
    const producer = requireBytes(args.producer, "producer");
    System.requireAuthority(authority.authorization_type.contract_call, producer);
    const publicKey = args.public_key;
    if (publicKey == null || publicKey.length == 0) {
      System.removeObject(this.registrationSpace, producer);
    } else {
      // The block being applied is the head while it is applied; outside a block both this and
      // the official contract's get_block_field("header.height") give the head's height.
      const height = System.getHeadInfo().head_topology!.height;
      const record = new pob.public_key_record(publicKey, height);
      System.putObject(this.registrationSpace, producer, record, pob.public_key_record.encode);
    }
    const event = new pob.register_public_key_event(producer, publicKey);
    System.event(
      "koinos.contracts.pob.register_public_key_event",
      Protobuf.encode(event, pob.register_public_key_event.encode),
      [producer]
    );
    return new pob.register_public_key_result();
  }

  get_public_key(args: pob.get_public_key_arguments): pob.get_public_key_result {
    const producer = requireBytes(args.producer, "producer");
    const record = System.getObject<Uint8Array, pob.public_key_record>(this.registrationSpace, producer, pob.public_key_record.decode);
    System.require(record != null, "given address has no public key record");
    return new pob.get_public_key_result(record!.public_key);
  }

  get_metadata(args: pob.get_metadata_arguments): pob.get_metadata_result {
    return new pob.get_metadata_result(this.fetchMetadata());
  }

  get_consensus_parameters(args: pob.get_consensus_parameters_arguments): pob.get_consensus_parameters_result {
    return new pob.get_consensus_parameters_result(this.fetchConsensusParameters());
  }

  update_consensus_parameters(args: pob.update_consensus_parameters_arguments): pob.update_consensus_parameters_result {
    System.require(System.checkSystemAuthority(), "caller must have system authority to update consensus parameters");
    System.require(args.value != null, "value is required");
    const value = args.value!;
    System.require(value.quantum_length > 0, "quantum_length must be positive");
    System.require(value.target_block_interval > 0, "target_block_interval must be positive");
    System.putObject(this.metadataSpace, CONSENSUS_PARAMS_KEY, value, pob.consensus_parameters.encode);
    return new pob.update_consensus_parameters_result();
  }

  process_block_signature(args: pob.process_block_signature_arguments): pob.process_block_signature_result {
    System.require(
      System.getCaller().caller_privilege == chain.privilege.kernel_mode,
      "pob contract process block signature must be called from kernel"
    );
    // Ours: the arguments must be the block being applied. A transaction's call cannot name
    // the id of the block that contains it, so the seed and difficulty move only with blocks
    // (whichever way a chain reports the privilege of a transaction's caller).
    const digest = requireBytes(args.digest, "digest");
    const block = System.getBlockField("id");
    System.require(block != null && equalBytes(block!.bytes_value, digest), "process_block_signature is only for the block being applied");
    System.require(args.header != null, "header is required");
    const header = args.header!;
    const signer = requireBytes(header.signer, "header.signer");
    const signature = Protobuf.decode<pob.signature_data>(requireBytes(args.signature, "signature"), pob.signature_data.decode);
    const vrfProof = requireBytes(signature.vrf_proof, "signature_data.vrf_proof");
    const vrfHash = requireBytes(signature.vrf_hash, "signature_data.vrf_hash");

    const metadata = this.fetchMetadata();
    const params = this.fetchConsensusParameters();

    System.require(header.timestamp % params.quantum_length == 0, "time stamp does not match time quanta");

    const registration = System.getObject<Uint8Array, pob.public_key_record>(this.registrationSpace, signer, pob.public_key_record.decode);
    System.require(registration != null, "signer address has no public key record");
    const publicKey = registration!.public_key!;
    let height = header.height;
    if (height < DELAY_BLOCKS) height = DELAY_BLOCKS;
    System.require(registration!.set_block_height <= height - DELAY_BLOCKS, "public key not yet active");

    const payload = Protobuf.encode(new pob.vrf_payload(metadata.seed, header.timestamp), pob.vrf_payload.encode);
    System.require(System.verifyVRFProof(publicKey, vrfProof, vrfHash, payload), "proof failed vrf validation");

    // Ours: the VRF output is bound to the quantum, not to the block, so the producer's signature
    // of the block id is what ties this block's contents to the winner.
    const recovered = System.recoverPublicKey(requireBytes(signature.signature, "signature_data.signature"), digest);
    System.require(recovered != null && equalBytes(recovered!, publicKey), "block signature does not match the producer's public key");

    const vhpBalance = new Token(this.vhpContractId()).balanceOf(signer);
    System.require(vhpBalance > 0, "producer has no VHP");

    const difficulty = u128.fromBytes(metadata.difficulty!, true);
    const target = u128.Max / difficulty;
    const mh = new Crypto.Multihash();
    mh.deserialize(vrfHash);
    // The upper 128 bits of the 256-bit output, big-endian.
    const mark = u128.fromBytes(mh.digest, true) / u128.fromU64(vhpBalance);
    System.require(mark < target, "provided hash is not sufficient");

    this.updateDifficulty(difficulty, metadata, params, header.timestamp, vrfHash);
    return new pob.process_block_signature_result(true);
  }

  // Ethereum Homestead's adjustment, generalized to the target interval: faster than
  // target·10/14 raises the difficulty by difficulty/2048, each further such span lowers it
  // by as much, at most 99 times.
  updateDifficulty(difficulty: u128, metadata: pob.metadata, params: pob.consensus_parameters, blockTime: u64, vrfHash: Uint8Array): void {
    const denominator = i64((10000 * u64(params.target_block_interval)) / 14000);
    const step = difficulty / u128.fromU64(2048);
    let multiplier: i64 = 1 - i64(blockTime - metadata.last_block_time) / (denominator > 0 ? denominator : 1);
    if (multiplier < -99) multiplier = -99;
    let next: u128;
    if (multiplier >= 0) {
      next = difficulty + step * u128.fromU64(u64(multiplier));
    } else {
      next = difficulty - step * u128.fromU64(u64(-multiplier));
    }
    const seed = System.hash(Crypto.multicodec.sha2_256, vrfHash)!;
    const updated = new pob.metadata(seed, next.toUint8Array(true), blockTime);
    System.putObject(this.metadataSpace, METADATA_KEY, updated, pob.metadata.encode);
  }

  fetchMetadata(): pob.metadata {
    const stored = System.getObject<Uint8Array, pob.metadata>(this.metadataSpace, METADATA_KEY, pob.metadata.decode);
    if (stored) return stored;
    return new pob.metadata(
      System.getChainId(),
      (u128.One << INITIAL_DIFFICULTY_BITS - 1).toUint8Array(true),
      System.getHeadInfo().head_block_time
    );
  }

  fetchConsensusParameters(): pob.consensus_parameters {
    const stored = System.getObject<Uint8Array, pob.consensus_parameters>(this.metadataSpace, CONSENSUS_PARAMS_KEY, pob.consensus_parameters.decode);
    if (stored) return stored;
    return new pob.consensus_parameters(
      DEFAULT_ANNUAL_INFLATION_RATE,
      DEFAULT_TARGET_BURN_PERCENT,
      DEFAULT_TARGET_BLOCK_INTERVAL_MS,
      DEFAULT_QUANTUM_LENGTH_MS
    );
  }

  // Written at genesis (koinos_protocol::devnet): the raw 25-byte id of the VHP token.
  vhpContractId(): Uint8Array {
    const id = System.getBytes(this.metadataSpace, VHP_CONTRACT_KEY);
    System.require(id != null && id.length > 0, "no VHP contract configured (metadata key 0x02)");
    return id!;
  }
}
