//! The chart's alerts (`files/prometheus-rules.yaml`) and Grafana dashboard
//! (`files/koinos-cluster-dashboard.json`) use only metrics that exist: the operator's (this
//! registry), the services' RPC metrics (the messaging layer's `RpcMetrics`, one family per
//! service with an RPC queue) and a short list of others' (Prometheus' `up`, RabbitMQ's
//! `rabbitmq_prometheus`). Renaming a metric in the code without the chart fails here.
//!
//! Metric names are found with a small PromQL scanner: identifiers that are not functions,
//! keywords, label lists, label matchers, strings, durations or Grafana variables, plus
//! `{__name__=~"..."}` selectors (whose regex must match some exported name).

use std::collections::BTreeSet;

use prometheus::core::Collector;

use super::Metrics;
use crate::model::profile::ServiceKind;

const RULES: &str = include_str!("../../../charts/koinos-operator/files/prometheus-rules.yaml");
const RULE_TEMPLATE: &str =
    include_str!("../../../charts/koinos-operator/templates/prometheusrule.yaml");
const DASHBOARD: &str =
    include_str!("../../../charts/koinos-operator/files/koinos-cluster-dashboard.json");

/// Metrics the dashboard reads that other software exports: Prometheus' own per-target `up`,
/// and RabbitMQ's (the `rabbitmq_prometheus` plugin of the managed broker, aggregated endpoint).
const OTHERS: &[&str] = &[
    "up",
    "rabbitmq_connections",
    "rabbitmq_queue_messages_unacked",
];

/// Every metric name this repository's code exports, histogram series included.
fn exported() -> BTreeSet<String> {
    let mut families = Metrics::new().family_names();
    for kind in ServiceKind::ALL {
        let profile = kind.profile();
        if profile.rpc_queue.is_none() {
            continue;
        }
        // The name each service's RPC server registers its metrics under.
        let rpc = koinos_mq::metrics::RpcMetrics::for_service(profile.section);
        let collectors: [&dyn Collector; 5] = [
            &rpc.requests,
            &rpc.duration,
            &rpc.dropped,
            &rpc.in_flight,
            &rpc.redelivered,
        ];
        for collector in collectors {
            families.extend(collector.desc().iter().map(|d| d.fq_name.clone()));
        }
    }
    families
        .into_iter()
        .flat_map(|name| ["", "_bucket", "_sum", "_count"].map(|suffix| format!("{name}{suffix}")))
        .collect()
}

/// A metric named by an expression.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Selected {
    Name(String),
    /// `{__name__=~"regex"}`.
    Regex(String),
}

const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "atan2",
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
    "limitk",
    "limit_ratio",
];
/// Keywords followed by a parenthesized list of label names.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}
fn is_ident(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit()
}

/// Index just past the string starting at `start` (a quote).
fn end_of_string(b: &[u8], start: usize) -> usize {
    let quote = b[start];
    let mut i = start + 1;
    while i < b.len() && b[i] != quote {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    i + 1
}

/// Index just past the bracket closing the one at `start` (`(`, `[` or `{`), skipping strings.
fn end_of_group(b: &[u8], start: usize) -> usize {
    let (open, close) = match b[start] {
        b'(' => (b'(', b')'),
        b'[' => (b'[', b']'),
        _ => (b'{', b'}'),
    };
    let (mut depth, mut i) = (0, start);
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' | b'`' => {
                i = end_of_string(b, i);
                continue;
            }
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// `__name__` matchers (`=` or `=~`) inside `{...}`.
fn name_matchers(body: &str) -> Vec<Selected> {
    let b = body.as_bytes();
    let (mut matchers, mut start, mut i) = (Vec::new(), 0, 0);
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' | b'`' => {
                i = end_of_string(b, i);
                continue;
            }
            b',' => {
                matchers.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    matchers.push(&body[start..]);
    matchers
        .iter()
        .filter_map(|m| {
            let rest = m.trim().strip_prefix("__name__")?.trim_start();
            let (regex, value) = match rest.strip_prefix("=~") {
                Some(value) => (true, value),
                None => (false, rest.strip_prefix('=')?),
            };
            let value = value.trim();
            let text = value.get(1..value.len().checked_sub(1)?)?.to_string();
            Some(if regex {
                Selected::Regex(text)
            } else {
                Selected::Name(text)
            })
        })
        .collect()
}

/// The metrics an expression selects.
fn selected(expr: &str) -> Vec<Selected> {
    let b = expr.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if matches!(c, b'"' | b'\'' | b'`') {
            i = end_of_string(b, i);
        } else if c == b'[' {
            i = end_of_group(b, i);
        } else if c == b'{' {
            let end = end_of_group(b, i);
            found.extend(name_matchers(&expr[i + 1..end - 1]));
            i = end;
        } else if c == b'$' {
            // A Grafana variable: `$name` or `${name}`.
            i += 1;
            if b.get(i) == Some(&b'{') {
                i = end_of_group(b, i);
            } else {
                while i < b.len() && is_ident(b[i]) {
                    i += 1;
                }
            }
        } else if c.is_ascii_digit() || c == b'.' {
            while i < b.len() && (is_ident(b[i]) || b[i] == b'.') {
                i += 1;
            }
        } else if is_ident_start(c) {
            let start = i;
            while i < b.len() && is_ident(b[i]) {
                i += 1;
            }
            let word = &expr[start..i];
            let next = b[i..].iter().position(|c| !c.is_ascii_whitespace());
            let next_char = next.map(|n| b[i + n]);
            if LABEL_LISTS.contains(&word) {
                if let Some(n) = next.filter(|_| next_char == Some(b'(')) {
                    i = end_of_group(b, i + n);
                }
            } else if next_char == Some(b'(')
                || KEYWORDS.contains(&word)
                || (word.starts_with("__") && word.ends_with("__"))
            {
                // A function, an operator, or a placeholder the chart fills in.
            } else {
                found.push(Selected::Name(word.to_string()));
            }
        } else {
            i += 1;
        }
    }
    found
}

/// Whether `text` matches `pattern` (anchored), for the regex subset the chart uses: literals,
/// `.`, and `+`/`*` after a character or `.`.
fn regex_matches(pattern: &[u8], text: &[u8]) -> bool {
    let Some(&first) = pattern.first() else {
        return text.is_empty();
    };
    assert!(
        !b"()[]{}|?^$\\".contains(&first),
        "extend regex_matches for {:?}",
        String::from_utf8_lossy(pattern)
    );
    let one = |t: Option<&u8>| t.is_some_and(|&t| first == b'.' || first == t);
    match pattern.get(1) {
        Some(b'+') => {
            one(text.first())
                && regex_matches(&[&[first, b'*'], &pattern[2..]].concat(), &text[1..])
        }
        Some(b'*') => {
            regex_matches(&pattern[2..], text)
                || (one(text.first()) && regex_matches(pattern, &text[1..]))
        }
        _ => one(text.first()) && regex_matches(&pattern[1..], &text[1..]),
    }
}

/// Every expression of the rule file, with its alert name.
fn rule_exprs() -> Vec<(String, String)> {
    let rules: serde_yaml::Value = serde_yaml::from_str(RULES).expect("the rule file is YAML");
    rules["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_sequence().cloned().unwrap_or_default())
        .map(|r| {
            let name = r["alert"]
                .as_str()
                .or(r["record"].as_str())
                .unwrap_or_default();
            (
                name.to_string(),
                r["expr"].as_str().expect("expr").to_string(),
            )
        })
        .collect()
}

/// Every PromQL expression of the dashboard: panel targets, and the selector inside each
/// templating `label_values(<selector>, <label>)`.
fn dashboard_exprs() -> Vec<String> {
    fn walk(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v.as_str()) {
                        ("expr", Some(expr)) => out.push(expr.to_string()),
                        ("definition", Some(query)) => {
                            let inner = query
                                .strip_prefix("label_values(")
                                .and_then(|q| q.strip_suffix(')'))
                                .and_then(|q| q.rsplit_once(','))
                                .map(|(selector, _label)| selector)
                                .expect("templating queries are label_values(selector, label)");
                            out.push(inner.to_string());
                        }
                        _ => walk(v, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let dashboard: serde_json::Value =
        serde_json::from_str(DASHBOARD).expect("the dashboard is JSON");
    let mut out = Vec::new();
    walk(&dashboard, &mut out);
    out
}

fn unknown(exprs: &[String]) -> Vec<String> {
    let exported = exported();
    let known = |name: &str| exported.contains(name) || OTHERS.contains(&name);
    let mut unknown = Vec::new();
    for expr in exprs {
        for selected in selected(expr) {
            let ok = match &selected {
                Selected::Name(name) => known(name),
                Selected::Regex(regex) => exported
                    .iter()
                    .any(|name| regex_matches(regex.as_bytes(), name.as_bytes())),
            };
            if !ok {
                unknown.push(format!("{selected:?} in {expr}"));
            }
        }
    }
    unknown
}

#[test]
fn the_scanner_finds_metrics_and_nothing_else() {
    let found = selected(
        r#"histogram_quantile(0.95, sum by (cluster, le) (rate({__name__=~"koinos_.+_x_bucket", namespace="$namespace"}[$__rate_interval])))
           - on (cluster) group_left (pod) a_metric{job="j"} offset 5m > bool __THRESHOLD__ and time() - b:c"#,
    );
    assert_eq!(
        found,
        [
            Selected::Regex("koinos_.+_x_bucket".into()),
            Selected::Name("a_metric".into()),
            Selected::Name("b:c".into()),
        ]
    );
    assert!(regex_matches(
        b"koinos_.+_rpc_in_flight",
        b"koinos_block_store_rpc_in_flight"
    ));
    assert!(!regex_matches(
        b"koinos_.+_rpc_in_flight",
        b"koinos__rpc_in_flight"
    ));
    assert!(!regex_matches(
        b"koinos_.+_rpc_in_flight",
        b"koinos_chain_rpc_in_flight_x"
    ));
}

#[test]
fn every_alert_uses_exported_metrics() {
    let rules = rule_exprs();
    let alerts: Vec<&str> = rules.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        alerts,
        [
            "KoinosChainStalled",
            "KoinosChainLagGrowing",
            "KoinosQueueBacklog",
            "KoinosQueueConsumerMissing"
        ]
    );
    let exprs: Vec<String> = rules.into_iter().map(|(_, expr)| expr).collect();
    let used: BTreeSet<_> = exprs.iter().flat_map(|e| selected(e)).collect();
    assert!(used.len() >= 4, "the scanner found {used:?}");
    assert_eq!(unknown(&exprs), Vec::<String>::new());
}

#[test]
fn every_dashboard_query_uses_exported_metrics() {
    let exprs = dashboard_exprs();
    assert!(exprs.len() >= 15, "{exprs:#?}");
    let used: BTreeSet<_> = exprs.iter().flat_map(|e| selected(e)).collect();
    for expected in [
        Selected::Name("koinos_operator_chain_head_height".into()),
        Selected::Name("koinos_operator_queue_consumers".into()),
        Selected::Regex("koinos_.+_rpc_requests_total".into()),
    ] {
        assert!(used.contains(&expected), "{expected:?} not in {used:?}");
    }
    assert_eq!(unknown(&exprs), Vec::<String>::new());
}

#[test]
fn a_renamed_metric_would_be_caught() {
    let exprs = ["rate(koinos_operator_reconciles_totals[5m])".to_string()];
    assert_eq!(unknown(&exprs).len(), 1);
    let regex = [r#"{__name__=~"koinos_.+_rpc_requests_count"}"#.to_string()];
    assert_eq!(unknown(&regex).len(), 1);
}

/// Each `__PLACEHOLDER__` of the rule file is filled in by the chart's template.
#[test]
fn every_rule_placeholder_has_a_value() {
    let mut rest = RULES;
    let mut placeholders = BTreeSet::new();
    while let Some(start) = rest.find("__") {
        let after = &rest[start + 2..];
        let len = after
            .bytes()
            .take_while(|c| c.is_ascii_uppercase() || *c == b'_')
            .count();
        let word = &after[..len];
        if let Some(name) = word.strip_suffix("__").filter(|n| !n.is_empty()) {
            placeholders.insert(format!("__{name}__"));
        }
        rest = &after[len..];
    }
    assert!(placeholders.len() >= 8, "{placeholders:?}");
    for placeholder in placeholders {
        assert!(
            RULE_TEMPLATE.contains(&format!("\"{placeholder}\"")),
            "{placeholder} is not replaced by templates/prometheusrule.yaml"
        );
    }
}
