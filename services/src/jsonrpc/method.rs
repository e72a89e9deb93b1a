//! Method names (`service.method` or `koinos.rpc.service.method`) and the whitelist/blacklist.

use std::fmt;

/// Prefix of every RPC package and of the full method names the access lists match.
pub const RPC_PACKAGE_PREFIX: &str = "koinos.rpc.";

/// A method name is split into at most this many dot-separated segments.
pub const MAX_SEGMENTS: usize = 4;

/// Methods the public configuration blacklists: clients must not write blocks directly.
pub const DEFAULT_BLACKLIST: [&str; 2] = ["block_store.add_block", "chain.propose_block"];

/// Why a request could not be translated; each maps to the gateway's `-32601` data string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TranslateError {
    MalformedMethod,
    InvalidService,
    UnknownMethod,
    NotWhitelisted,
    Blacklisted,
    BadParams(String),
}

impl TranslateError {
    /// The `error.data` string the official gateway sends.
    pub fn data(&self) -> &'static str {
        match self {
            Self::MalformedMethod => "methods should be in the format service_name.method_name",
            Self::InvalidService => "invalid service name provided",
            Self::UnknownMethod => "unknown method",
            Self::NotWhitelisted => "method not whitelisted",
            Self::Blacklisted => "method blacklisted",
            Self::BadParams(_) => "parameters could not be parsed",
        }
    }
}

impl fmt::Display for TranslateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadParams(detail) => write!(f, "{}: {detail}", self.data()),
            _ => f.write_str(self.data()),
        }
    }
}

impl std::error::Error for TranslateError {}

/// A method split into its service (second-to-last segment) and method (last segment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodName {
    pub service: String,
    pub method: String,
}

impl MethodName {
    /// Splits at the first three dots, as the official gateway does: fewer than two segments
    /// is malformed; past the fourth segment the dots stay in the method (`a.b.c.d.e` is method
    /// `d.e` of service `c`), which then resolves to no service or no method.
    pub fn parse(name: &str) -> Result<Self, TranslateError> {
        let segments: Vec<&str> = name.splitn(MAX_SEGMENTS, '.').collect();
        let n = segments.len();
        if n < 2 {
            return Err(TranslateError::MalformedMethod);
        }
        Ok(Self {
            service: segments[n - 2].to_owned(),
            method: segments[n - 1].to_owned(),
        })
    }

    /// `koinos.rpc.<service>.<method>`, the name the access lists are matched against.
    pub fn full_name(&self) -> String {
        format!("{RPC_PACKAGE_PREFIX}{}.{}", self.service, self.method)
    }
}

/// Whitelist and blacklist of full method-name prefixes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessList {
    whitelist: Vec<String>,
    blacklist: Vec<String>,
}

fn normalize(entry: &str) -> String {
    if entry.starts_with(RPC_PACKAGE_PREFIX) {
        entry.to_owned()
    } else {
        format!("{RPC_PACKAGE_PREFIX}{entry}")
    }
}

impl AccessList {
    /// Entries without the `koinos.rpc.` prefix get it; empty entries are ignored.
    pub fn new<I, J, S, T>(whitelist: I, blacklist: J) -> Self
    where
        I: IntoIterator<Item = S>,
        J: IntoIterator<Item = T>,
        S: AsRef<str>,
        T: AsRef<str>,
    {
        let clean = |entry: &str| (!entry.trim().is_empty()).then(|| normalize(entry.trim()));
        Self {
            whitelist: whitelist
                .into_iter()
                .filter_map(|e| clean(e.as_ref()))
                .collect(),
            blacklist: blacklist
                .into_iter()
                .filter_map(|e| clean(e.as_ref()))
                .collect(),
        }
    }

    /// A non-empty whitelist must match; then no blacklist entry may match. Matching is by
    /// string prefix, so `chain` covers every chain method.
    pub fn check(&self, full_name: &str) -> Result<(), TranslateError> {
        let matches = |list: &[String]| list.iter().any(|p| full_name.starts_with(p.as_str()));
        if !self.whitelist.is_empty() && !matches(&self.whitelist) {
            return Err(TranslateError::NotWhitelisted);
        }
        if matches(&self.blacklist) {
            return Err(TranslateError::Blacklisted);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_is_the_second_to_last_segment() {
        for (name, service, method) in [
            ("chain.get_head_info", "chain", "get_head_info"),
            ("koinos.rpc.chain.get_head_info", "chain", "get_head_info"),
            (
                "rpc.block_store.get_highest_block",
                "block_store",
                "get_highest_block",
            ),
        ] {
            let parsed = MethodName::parse(name).unwrap();
            assert_eq!(
                (parsed.service.as_str(), parsed.method.as_str()),
                (service, method)
            );
            assert_eq!(parsed.full_name(), format!("koinos.rpc.{service}.{method}"));
        }
    }

    #[test]
    fn one_segment_is_malformed() {
        for name in ["", "get_head_info"] {
            assert_eq!(
                MethodName::parse(name),
                Err(TranslateError::MalformedMethod)
            );
        }
    }

    #[test]
    fn past_four_segments_the_dots_stay_in_the_method() {
        for (name, service, method) in [
            ("a.b.c.d.e", "c", "d.e"),
            (
                "koinos.rpc.chain.get_head_info.x",
                "chain",
                "get_head_info.x",
            ),
            (
                "x.koinos.rpc.chain.get_head_info",
                "rpc",
                "chain.get_head_info",
            ),
        ] {
            let parsed = MethodName::parse(name).unwrap();
            assert_eq!(
                (parsed.service.as_str(), parsed.method.as_str()),
                (service, method),
                "{name}"
            );
        }
    }

    #[test]
    fn default_blacklist_blocks_writes_by_prefix() {
        let access = AccessList::new(Vec::<String>::new(), DEFAULT_BLACKLIST);
        assert_eq!(
            access.check("koinos.rpc.block_store.add_block"),
            Err(TranslateError::Blacklisted)
        );
        assert_eq!(
            access.check("koinos.rpc.chain.propose_block"),
            Err(TranslateError::Blacklisted)
        );
        assert_eq!(access.check("koinos.rpc.chain.get_head_info"), Ok(()));
        assert_eq!(
            access.check("koinos.rpc.block_store.get_highest_block"),
            Ok(())
        );
    }

    #[test]
    fn whitelist_must_match_and_blacklist_still_applies() {
        let access = AccessList::new(["chain", "koinos.rpc.block_store.get_"], ["chain.submit"]);
        assert_eq!(access.check("koinos.rpc.chain.get_head_info"), Ok(()));
        assert_eq!(
            access.check("koinos.rpc.block_store.get_blocks_by_id"),
            Ok(())
        );
        assert_eq!(
            access.check("koinos.rpc.block_store.add_block"),
            Err(TranslateError::NotWhitelisted)
        );
        assert_eq!(
            access.check("koinos.rpc.chain.submit_transaction"),
            Err(TranslateError::Blacklisted)
        );
        assert_eq!(
            access.check("koinos.rpc.mempool.get_pending_transactions"),
            Err(TranslateError::NotWhitelisted)
        );
    }

    #[test]
    fn error_data_strings_are_the_documented_ones() {
        assert_eq!(TranslateError::UnknownMethod.data(), "unknown method");
        assert_eq!(
            TranslateError::BadParams("x".into()).data(),
            "parameters could not be parsed"
        );
    }
}
