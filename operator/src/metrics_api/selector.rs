//! The `labelSelector` of a metric request (Kubernetes label-selector syntax). Each series of
//! `koinos_rpc_queue_depth` is one queue of one cluster, so a selector must pin both labels to
//! one value: `cluster=<name>,queue=koinos.rpc.<service>` (what the operator's HPAs send).

use std::collections::BTreeMap;

use crate::model::metric::{METRIC_LABEL_CLUSTER, METRIC_LABEL_QUEUE};

/// The one series a selector names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesSelector {
    pub cluster: String,
    pub queue: String,
}

impl SeriesSelector {
    /// The series' labels, as `metricLabels` of the answer.
    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (METRIC_LABEL_CLUSTER.to_string(), self.cluster.clone()),
            (METRIC_LABEL_QUEUE.to_string(), self.queue.clone()),
        ])
    }
}

/// One requirement of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    /// `key=v`, `key==v`, `key in (v, ...)`.
    In(String, Vec<String>),
    /// `key!=v`, `key notin (...)`, `!key`.
    Excludes(String),
    /// `key` (exists).
    Exists(String),
}

/// Parses `selector` into the series it names, or says (for a 400 answer) what is wrong.
pub fn parse(selector: &str) -> Result<SeriesSelector, String> {
    let mut cluster = None;
    let mut queue = None;
    for requirement in requirements(selector)? {
        let (key, values) = match requirement {
            Requirement::In(key, values) => (key, values),
            Requirement::Excludes(key) | Requirement::Exists(key) => {
                return Err(format!(
                    "label {key:?}: only `{key}=<value>` selects a series of this metric"
                ));
            }
        };
        let slot = match key.as_str() {
            METRIC_LABEL_CLUSTER => &mut cluster,
            METRIC_LABEL_QUEUE => &mut queue,
            other => {
                return Err(format!(
                    "unknown label {other:?}: series are labelled {METRIC_LABEL_CLUSTER} and {METRIC_LABEL_QUEUE}"
                ));
            }
        };
        let [value] = values.as_slice() else {
            return Err(format!("label {key:?} must select exactly one value"));
        };
        match slot {
            Some(previous) if previous != value => {
                return Err(format!(
                    "label {key:?} selected twice ({previous:?}, {value:?})"
                ));
            }
            _ => *slot = Some(value.clone()),
        }
    }
    match (cluster, queue) {
        (Some(cluster), Some(queue)) => Ok(SeriesSelector { cluster, queue }),
        _ => Err(format!(
            "labelSelector must select one {METRIC_LABEL_CLUSTER} and one {METRIC_LABEL_QUEUE}, e.g. \
             {METRIC_LABEL_CLUSTER}=my-node,{METRIC_LABEL_QUEUE}=koinos.rpc.block_store"
        )),
    }
}

/// Splits on the commas between requirements (not those inside `in (...)` lists).
fn requirements(selector: &str) -> Result<Vec<Requirement>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("unbalanced ')' in {selector:?}"))?;
            }
            ',' if depth == 0 => {
                parts.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced '(' in {selector:?}"));
    }
    parts.push(&selector[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(requirement)
        .collect()
}

fn requirement(text: &str) -> Result<Requirement, String> {
    if let Some(key) = text.strip_prefix('!') {
        return Ok(Requirement::Excludes(label_key(key.trim())?));
    }
    if let Some((key, value)) = text.split_once("!=") {
        label_value(value.trim())?;
        return Ok(Requirement::Excludes(label_key(key.trim())?));
    }
    if let Some((key, value)) = text.split_once("==").or_else(|| text.split_once('=')) {
        let value = value.trim();
        label_value(value)?;
        return Ok(Requirement::In(
            label_key(key.trim())?,
            vec![value.to_string()],
        ));
    }
    if let Some(open) = text.find('(') {
        let close = text
            .strip_suffix(')')
            .ok_or_else(|| format!("{text:?}: a value list ends with ')'"))?;
        let mut words = text[..open].split_whitespace();
        let (Some(key), Some(operator), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!("{text:?} is not `<key> in (<values>)`"));
        };
        let values = close[open + 1..]
            .split(',')
            .map(str::trim)
            .map(|v| label_value(v).map(|()| v.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        let key = label_key(key)?;
        return match operator {
            "in" => Ok(Requirement::In(key, values)),
            "notin" => Ok(Requirement::Excludes(key)),
            other => Err(format!("unknown selector operator {other:?} in {text:?}")),
        };
    }
    Ok(Requirement::Exists(label_key(text)?))
}

/// A qualified label name: `[prefix/]name` of alphanumerics, `-`, `_`, `.`.
fn label_key(key: &str) -> Result<String, String> {
    let name = key.rsplit('/').next().unwrap_or(key);
    let valid = !name.is_empty()
        && name.len() <= 63
        && key.len() <= 317
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if valid {
        Ok(key.to_string())
    } else {
        Err(format!("invalid label key {key:?}"))
    }
}

/// A label value: at most 63 of alphanumerics, `-`, `_`, `.` (may be empty).
fn label_value(value: &str) -> Result<(), String> {
    let valid = value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(format!("invalid label value {value:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(cluster: &str, queue: &str) -> SeriesSelector {
        SeriesSelector {
            cluster: cluster.into(),
            queue: queue.into(),
        }
    }

    #[test]
    fn the_hpa_selector_names_one_series() {
        // What the HPA controller sends: labels.Selector.String() of the HPA's matchLabels.
        assert_eq!(
            parse("cluster=api-node,queue=koinos.rpc.block_store"),
            Ok(series("api-node", "koinos.rpc.block_store"))
        );
        assert_eq!(
            parse(" queue == koinos.rpc.mempool , cluster in (n1) "),
            Ok(series("n1", "koinos.rpc.mempool"))
        );
        assert_eq!(
            parse("cluster=a,cluster==a,queue=q").map(|s| s.labels()),
            Ok(BTreeMap::from([
                ("cluster".to_string(), "a".to_string()),
                ("queue".to_string(), "q".to_string())
            ]))
        );
    }

    #[test]
    fn selectors_that_do_not_name_one_series_are_rejected_with_a_reason() {
        let cases = [
            ("", "must select one cluster and one queue"),
            ("cluster=a", "must select one cluster and one queue"),
            ("cluster=a,queue=q,pod=x", "unknown label \"pod\""),
            ("cluster in (a,b),queue=q", "exactly one value"),
            ("cluster!=a,queue=q", "only `cluster=<value>`"),
            ("!cluster,queue=q", "only `cluster=<value>`"),
            ("cluster,queue=q", "only `cluster=<value>`"),
            ("cluster notin (a),queue=q", "only `cluster=<value>`"),
            ("cluster=a,cluster=b,queue=q", "selected twice"),
            ("cluster=a b,queue=q", "invalid label value"),
            ("clu$ter=a,queue=q", "invalid label key"),
            ("cluster in (a,queue=q", "unbalanced '('"),
            ("cluster in a),queue=q", "unbalanced ')'"),
            ("cluster within (a),queue=q", "unknown selector operator"),
        ];
        for (selector, expected) in cases {
            let error = parse(selector).expect_err(selector);
            assert!(error.contains(expected), "{selector:?}: {error}");
        }
    }
}
