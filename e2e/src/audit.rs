//! Reads the API server's audit log (written by the policy in `up.sh`: one JSON event per
//! write request, at ResponseComplete) to count the writes a given identity makes.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::Value;

/// One write request as the API server recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub verb: String,
    /// The authenticated user.
    pub user: String,
    /// The user acted as, when the request impersonated someone.
    pub impersonated_user: Option<String>,
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub code: Option<u16>,
    pub request_uri: String,
    /// When the API server completed the request (RFC 3339, microseconds).
    pub stage_timestamp: Option<String>,
}

impl AuditEvent {
    /// The identity the request was authorized as (the impersonated user if any).
    pub fn actor(&self) -> &str {
        self.impersonated_user.as_deref().unwrap_or(&self.user)
    }

    /// [`Self::stage_timestamp`] as seconds since the Unix epoch.
    pub fn completed_at(&self) -> Option<f64> {
        self.stage_timestamp.as_deref().and_then(rfc3339_seconds)
    }

    fn parse(v: &Value) -> Self {
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
        Self {
            verb: s("/verb").unwrap_or_default(),
            user: s("/user/username").unwrap_or_default(),
            impersonated_user: s("/impersonatedUser/username"),
            resource: s("/objectRef/resource").unwrap_or_default(),
            subresource: s("/objectRef/subresource"),
            namespace: s("/objectRef/namespace"),
            name: s("/objectRef/name"),
            code: v
                .pointer("/responseStatus/code")
                .and_then(Value::as_u64)
                .map(|c| c as u16),
            request_uri: s("/requestURI").unwrap_or_default(),
            stage_timestamp: s("/stageTimestamp"),
        }
    }
}

impl std::fmt::Display for AuditEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} ({}, code {:?})",
            self.actor(),
            self.verb,
            self.request_uri,
            self.resource,
            self.code
        )
    }
}

/// The audit log file; positions are byte offsets, so a test reads only what happened after
/// the position it took.
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The current end of the log.
    pub fn position(&self) -> Result<u64> {
        Ok(std::fs::metadata(&self.path)
            .with_context(|| format!("audit log {}", self.path.display()))?
            .len())
    }

    /// Every complete event written after `position`.
    pub fn events_since(&self, position: u64) -> Result<Vec<AuditEvent>> {
        let mut file =
            File::open(&self.path).with_context(|| format!("audit log {}", self.path.display()))?;
        file.seek(SeekFrom::Start(position))?;
        let mut events = Vec::new();
        for line in BufReader::new(file).lines() {
            let line = line?;
            // A line still being written does not parse yet; it belongs to a later read.
            if let Ok(value) = serde_json::from_str::<Value>(&line) {
                events.push(AuditEvent::parse(&value));
            }
        }
        Ok(events)
    }

    /// Writes made after `position` by `actor` (matched against [`AuditEvent::actor`]).
    pub fn writes_by(&self, position: u64, actor: &str) -> Result<Vec<AuditEvent>> {
        Ok(self
            .events_since(position)?
            .into_iter()
            .filter(|e| e.actor() == actor)
            .collect())
    }
}

/// Seconds since the Unix epoch of a UTC RFC 3339 timestamp (`2026-11-23T11:25:16.123456Z`).
pub fn rfc3339_seconds(text: &str) -> Option<f64> {
    let (date, time) = text.strip_suffix('Z')?.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.splitn(3, ':');
    let (h, min) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
    );
    let sec: f64 = t.next()?.parse().ok()?;
    // Days from civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + min * 60) as f64 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_impersonated_write() {
        let line = r#"{"kind":"Event","verb":"patch","requestURI":"/apis/apps/v1/namespaces/a/deployments/x?fieldManager=m",
            "user":{"username":"koinos-e2e-admin","groups":["system:masters"]},
            "impersonatedUser":{"username":"system:serviceaccount:s:op"},
            "objectRef":{"resource":"deployments","namespace":"a","name":"x","apiGroup":"apps"},
            "responseStatus":{"code":200}}"#;
        let event = AuditEvent::parse(&serde_json::from_str(line).unwrap());
        assert_eq!(event.actor(), "system:serviceaccount:s:op");
        assert_eq!(event.verb, "patch");
        assert_eq!(event.namespace.as_deref(), Some("a"));
        assert_eq!(event.code, Some(200));
    }

    #[test]
    fn timestamps_convert_to_epoch_seconds() {
        assert_eq!(rfc3339_seconds("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(
            rfc3339_seconds("2000-03-01T00:00:01.5Z"),
            Some(951_868_801.5)
        );
        assert_eq!(
            rfc3339_seconds("2026-11-23T11:25:16.123456Z"),
            Some(1_795_433_116.123456)
        );
        assert_eq!(rfc3339_seconds("yesterday"), None);
    }

    #[test]
    fn reads_only_after_position_and_skips_partial_line() {
        let dir = std::env::temp_dir().join(format!("koinos-e2e-audit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.log");
        let ev = |user: &str| {
            format!(
                r#"{{"verb":"create","user":{{"username":"{user}"}},"objectRef":{{"resource":"pods"}}}}"#
            )
        };
        std::fs::write(&path, format!("{}\n", ev("before"))).unwrap();
        let log = AuditLog::new(&path);
        let pos = log.position().unwrap();
        let mut content = std::fs::read_to_string(&path).unwrap();
        content.push_str(&format!("{}\n{}\n{{\"verb\":\"par", ev("a"), ev("b")));
        std::fs::write(&path, content).unwrap();
        let actors: Vec<String> = log
            .events_since(pos)
            .unwrap()
            .iter()
            .map(|e| e.actor().to_owned())
            .collect();
        assert_eq!(actors, ["a", "b"]);
        assert_eq!(log.writes_by(pos, "b").unwrap().len(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
