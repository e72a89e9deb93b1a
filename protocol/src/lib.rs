//! The Koinos protocol: protobuf messages, Koinos JSON, ids and cryptography.
