//! The gateway's whitelist and blacklist (`whitelist` / `blacklist` in the `grpc` and `global`
//! config sections). An entry names a service (`chain`) or one method (`chain.submit_block`),
//! optionally prefixed with `koinos.rpc.`.
//!
//! The official gateway splits an entry at its first dot but then compares a `service.method`
//! entry's method with calls to *other* services only, so such entries never match and only
//! whole-service entries act. Here a method entry refuses or admits exactly that method (a
//! deliberate difference, listed in docs/protocol.md); whole-service entries behave the same.

/// A parsed list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Service(String),
    Method { service: String, method: String },
}

impl Entry {
    fn parse(text: &str) -> Self {
        let text = text.trim();
        let text = text.strip_prefix("koinos.rpc.").unwrap_or(text);
        match text.split_once('.') {
            Some((service, method)) => Entry::Method {
                service: service.to_owned(),
                method: method.to_owned(),
            },
            None => Entry::Service(text.to_owned()),
        }
    }

    fn matches(&self, service: &str, method: &str) -> bool {
        match self {
            Entry::Service(s) => s == service,
            Entry::Method {
                service: s,
                method: m,
            } => s == service && m == method,
        }
    }
}

/// Why a call is refused; the text is the official gateway's status message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NotWhitelisted,
    Blacklisted,
}

impl Refusal {
    pub fn message(self) -> &'static str {
        match self {
            Refusal::NotWhitelisted => "method not whitelisted",
            Refusal::Blacklisted => "method is blacklisted",
        }
    }
}

/// The merged lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessList {
    whitelist: Vec<Entry>,
    blacklist: Vec<Entry>,
}

impl AccessList {
    pub fn new(whitelist: &[String], blacklist: &[String]) -> Self {
        Self {
            whitelist: whitelist.iter().map(|e| Entry::parse(e)).collect(),
            blacklist: blacklist.iter().map(|e| Entry::parse(e)).collect(),
        }
    }

    /// A non-empty whitelist must name the call; then no blacklist entry may.
    pub fn check(&self, service: &str, method: &str) -> Result<(), Refusal> {
        if !self.whitelist.is_empty() && !self.whitelist.iter().any(|e| e.matches(service, method))
        {
            return Err(Refusal::NotWhitelisted);
        }
        if self.blacklist.iter().any(|e| e.matches(service, method)) {
            return Err(Refusal::Blacklisted);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(white: &[&str], black: &[&str]) -> AccessList {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        AccessList::new(&owned(white), &owned(black))
    }

    #[test]
    fn empty_lists_admit_everything() {
        assert_eq!(list(&[], &[]).check("chain", "submit_block"), Ok(()));
    }

    #[test]
    fn a_service_entry_covers_every_method_of_that_service_only() {
        let access = list(&[], &["mempool"]);
        assert_eq!(
            access.check("mempool", "get_pending_transactions"),
            Err(Refusal::Blacklisted)
        );
        assert_eq!(access.check("chain", "get_head_info"), Ok(()));
        let access = list(&["chain"], &[]);
        assert_eq!(access.check("chain", "get_head_info"), Ok(()));
        assert_eq!(
            access.check("block_store", "get_highest_block"),
            Err(Refusal::NotWhitelisted)
        );
    }

    #[test]
    fn a_method_entry_covers_that_method_with_or_without_the_package_prefix() {
        for entry in ["chain.submit_block", "koinos.rpc.chain.submit_block"] {
            let access = list(&[], &[entry]);
            assert_eq!(
                access.check("chain", "submit_block"),
                Err(Refusal::Blacklisted)
            );
            assert_eq!(access.check("chain", "submit_transaction"), Ok(()));
            // Same method name, other service: not covered.
            assert_eq!(access.check("block_store", "submit_block"), Ok(()));
        }
    }

    #[test]
    fn the_blacklist_applies_after_the_whitelist_admits() {
        let access = list(&["chain"], &["chain.submit_block"]);
        assert_eq!(access.check("chain", "get_head_info"), Ok(()));
        assert_eq!(
            access.check("chain", "submit_block"),
            Err(Refusal::Blacklisted)
        );
        assert_eq!(Refusal::Blacklisted.message(), "method is blacklisted");
        assert_eq!(Refusal::NotWhitelisted.message(), "method not whitelisted");
    }
}
