//! Runs a node's services as child processes of this one, each with `--basedir` and its log in
//! `basedir/logs/<service>.log`; used by `koinos-devnet run` and by the node tests (which stop,
//! kill and restart single services).

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::mq::topology::service;

/// The services of a complete producing node, in start order: the stores and mempool first
/// (chain pings block_store and mempool), then chain, then its clients (account_history
/// catches up from chain's head before it serves).
pub const SERVICES: [&str; 8] = [
    service::BLOCK_STORE,
    service::MEMPOOL,
    service::TRANSACTION_STORE,
    service::CONTRACT_META_STORE,
    service::CHAIN,
    service::ACCOUNT_HISTORY,
    service::BLOCK_PRODUCER,
    service::JSONRPC,
];

/// How long a service gets to drain after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// `koinos-<service with dashes>`.
pub fn binary_name(service: &str) -> String {
    format!("koinos-{}", service.replace('_', "-"))
}

/// A set of running service processes sharing one base directory.
#[derive(Debug)]
pub struct Node {
    basedir: PathBuf,
    bin_dir: PathBuf,
    children: BTreeMap<String, Child>,
}

impl Node {
    pub fn new(basedir: &Path, bin_dir: &Path) -> Self {
        Self {
            basedir: basedir.to_path_buf(),
            bin_dir: bin_dir.to_path_buf(),
            children: BTreeMap::new(),
        }
    }

    pub fn basedir(&self) -> &Path {
        &self.basedir
    }

    /// The log file of `service`.
    pub fn log_path(&self, service: &str) -> PathBuf {
        self.basedir.join("logs").join(format!("{service}.log"))
    }

    /// Starts `service` (appending to its log).
    pub fn start(&mut self, service: &str) -> std::io::Result<()> {
        ensure_not_running(!self.children.contains_key(service), service)?;
        let binary = self.bin_dir.join(binary_name(service));
        std::fs::create_dir_all(self.basedir.join("logs"))?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(service))?;
        let child = Command::new(&binary)
            .arg("--basedir")
            .arg(&self.basedir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .env("NO_COLOR", "1")
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", binary.display())))?;
        self.children.insert(service.to_owned(), child);
        Ok(())
    }

    /// Starts every service of [`SERVICES`] in order.
    pub fn start_all(&mut self) -> std::io::Result<()> {
        for service in SERVICES {
            self.start(service)?;
        }
        Ok(())
    }

    /// The pid of a running `service`.
    pub fn pid(&self, service: &str) -> Option<u32> {
        self.children.get(service).map(Child::id)
    }

    /// True while `service` runs; a service that exited is reported and forgotten.
    pub fn is_running(&mut self, service: &str) -> bool {
        match self.children.get_mut(service).map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.children.remove(service);
                false
            }
            None => false,
        }
    }

    /// Names of services that have exited since they were started.
    pub fn exited(&mut self) -> Vec<String> {
        let names: Vec<String> = self.children.keys().cloned().collect();
        names
            .into_iter()
            .filter(|name| !self.is_running(name))
            .collect()
    }

    /// SIGKILL: the process gets no chance to clean up (crash test).
    pub fn kill(&mut self, service: &str) {
        if let Some(mut child) = self.children.remove(service) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within the grace period.
    pub fn stop(&mut self, service: &str) {
        let Some(mut child) = self.children.remove(service) else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Stops every service, clients first.
    pub fn stop_all(&mut self) {
        for service in SERVICES.iter().rev() {
            self.stop(service);
        }
        let rest: Vec<String> = self.children.keys().cloned().collect();
        for service in rest {
            self.stop(&service);
        }
    }

    /// The last `lines` lines of every service log there is (for failure reports): those of
    /// [`SERVICES`] in start order, then any other service's (p2p, grpc) by name.
    pub fn log_tail(&self, lines: usize) -> String {
        let mut others: Vec<String> = std::fs::read_dir(self.basedir.join("logs"))
            .into_iter()
            .flatten()
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                let service = name.strip_suffix(".log")?;
                (!SERVICES.contains(&service)).then(|| service.to_owned())
            })
            .collect();
        others.sort();
        let mut out = String::new();
        for service in SERVICES.iter().map(|s| s.to_string()).chain(others) {
            let Ok(text) = std::fs::read_to_string(self.log_path(&service)) else {
                continue;
            };
            let all: Vec<&str> = text.lines().collect();
            out.push_str(&format!("--- {service} ---\n"));
            for line in &all[all.len().saturating_sub(lines)..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

fn ensure_not_running(ok: bool, service: &str) -> std::io::Result<()> {
    if ok {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "{service} is already running"
        )))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop_all();
    }
}
