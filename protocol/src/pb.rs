//! Generated protobuf types, one module per protobuf package
//! (e.g. `pb::koinos::protocol::Block`, `pb::koinos::rpc::chain::ChainRequest`), and the
//! descriptor pool used for reflection (Koinos JSON, the JSON-RPC gateway).

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, ExtensionDescriptor};

#[allow(clippy::all, missing_docs)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/koinos_includes.rs"));
}

pub use generated::koinos;

/// The encoded `FileDescriptorSet` of every Koinos `.proto` file plus its imports, with custom
/// options (`koinos.btype`) intact.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/koinos_descriptor.bin"));

/// Full name of the `bytes` rendering option (FieldOptions extension 50000).
pub const BTYPE_EXTENSION: &str = "koinos.btype";

/// The descriptor pool of all built-in Koinos messages, decoded once.
pub fn descriptor_pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(FILE_DESCRIPTOR_SET).expect("embedded descriptor set is valid")
    })
}

/// The `koinos.btype` extension in [`descriptor_pool`].
pub fn btype_extension() -> &'static ExtensionDescriptor {
    static EXT: OnceLock<ExtensionDescriptor> = OnceLock::new();
    EXT.get_or_init(|| {
        descriptor_pool()
            .get_extension_by_name(BTYPE_EXTENSION)
            .expect("options.proto declares koinos.btype")
    })
}

#[cfg(test)]
mod tests {
    use super::koinos::{self, protocol, rpc};
    use super::*;
    use prost::{Message, Name};
    use prost_reflect::Value;

    fn btype_of(message: &str, field: &str) -> Option<i32> {
        let desc = descriptor_pool().get_message_by_name(message).unwrap();
        let options = desc.get_field_by_name(field).unwrap().options();
        options.has_extension(btype_extension()).then(|| {
            match options.get_extension(btype_extension()).as_ref() {
                Value::EnumNumber(n) => *n,
                other => panic!("btype is not an enum: {other:?}"),
            }
        })
    }

    #[test]
    fn generated_names_resolve_in_descriptor_pool() {
        for name in [
            koinos::BlockTopology::full_name(),
            protocol::Block::full_name(),
            rpc::chain::ChainRequest::full_name(),
            rpc::p2p::P2pResponse::full_name(),
            koinos::chain::ValueType::full_name(),
            koinos::contracts::token::TransferArguments::full_name(),
        ] {
            assert!(
                descriptor_pool().get_message_by_name(&name).is_some(),
                "{name}"
            );
        }
        assert_eq!(protocol::Block::full_name(), "koinos.protocol.block");
        assert_eq!(
            koinos::chain::ErrorDetails::type_url(),
            "type.googleapis.com/koinos.chain.error_details"
        );
    }

    #[test]
    fn btype_option_survives_in_descriptor_set() {
        let block_id = koinos::BytesType::BlockId as i32;
        assert_eq!(btype_of("koinos.protocol.block", "id"), Some(block_id));
        assert_eq!(
            btype_of("koinos.protocol.block_header", "signer"),
            Some(koinos::BytesType::Address as i32)
        );
        assert_eq!(
            btype_of("koinos.rpc.mempool.get_pending_nonce_request", "block_id"),
            Some(block_id)
        );
        assert_eq!(
            btype_of("koinos.protocol.transaction_header", "nonce"),
            None
        );
    }

    #[test]
    fn oneof_and_optional_members_are_written_even_when_zero() {
        let nonce = koinos::chain::ValueType {
            kind: Some(koinos::chain::value_type::Kind::Uint64Value(0)),
        };
        assert_eq!(nonce.encode_to_vec(), [0x28, 0x00]);
        let entry = protocol::StateDeltaEntry {
            value: Some(Vec::new()),
            ..Default::default()
        };
        assert_eq!(entry.encode_to_vec(), [0x1a, 0x00]);
        let decoded = protocol::StateDeltaEntry::decode(&[0x1a, 0x00][..]).unwrap();
        assert_eq!(decoded.value, Some(Vec::new()));
    }
}
