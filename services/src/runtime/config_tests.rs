use super::*;
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh base directory holding `config.yml` with `yaml` (none if `yaml` is `None`).
fn basedir(yaml: Option<&str>) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "koinos-config-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let _ = std::fs::remove_file(dir.join("config.yml"));
    if let Some(yaml) = yaml {
        std::fs::write(dir.join("config.yml"), yaml).unwrap();
    }
    dir
}

fn load_with<A: ServiceArgs>(dir: &Path, flags: &[&str]) -> Result<Settings<A>, ConfigError> {
    let mut argv = vec![
        "koinos-test".to_owned(),
        "-d".to_owned(),
        dir.display().to_string(),
    ];
    argv.extend(flags.iter().map(|f| (*f).to_owned()));
    load::<A>("block_store", argv)
}

#[derive(Debug, Clone, Default, clap::Args, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct StoreArgs {
    /// Seconds a transaction stays pending.
    #[arg(short = 'e', long)]
    transaction_expiration: Option<u64>,
    #[arg(long)]
    statedir: Option<String>,
}

#[test]
fn defaults_apply_without_a_config_file() {
    let dir = basedir(None);
    let s = load_with::<NoArgs>(&dir, &[]).unwrap();
    assert_eq!(s.basedir, dir);
    assert_eq!(s.config_file, None);
    assert_eq!(s.amqp, DEFAULT_AMQP);
    assert_eq!(s.log_level, "info");
    assert!(s.jobs >= 2);
    assert_eq!(s.metrics_address, "0.0.0.0:9100".parse().unwrap());
    assert_eq!(s.instance_id.len(), 5);
    assert_eq!(s.service_dir(), dir.join("block_store"));
}

#[test]
fn cli_beats_service_section_beats_global() {
    let dir = basedir(Some(
        "global:\n  amqp: amqp://g:g@global:5672/\n  log-level: debug\n  jobs: 3\n  instance-id: from-global\n\
         block_store:\n  amqp: amqp://s:s@service:5672/\n  jobs: 5\n  metrics-address: 127.0.0.1:9200\n\
         chain:\n  jobs: 99\n  log-level: trace\n",
    ));
    let s = load_with::<NoArgs>(&dir, &["-j", "7"]).unwrap();
    assert_eq!(s.jobs, 7, "CLI wins");
    assert_eq!(
        s.amqp, "amqp://s:s@service:5672/",
        "service section beats global"
    );
    assert_eq!(s.metrics_address, "127.0.0.1:9200".parse().unwrap());
    assert_eq!(
        s.log_level, "debug",
        "global applies; another service's section does not"
    );
    assert_eq!(s.instance_id, "from-global");
    assert_eq!(s.config_file, Some(dir.join("config.yml")));

    let s = load_with::<NoArgs>(&dir, &[]).unwrap();
    assert_eq!(s.jobs, 5, "service section beats global");
    let s =
        load_with::<NoArgs>(&dir, &["--amqp", "amqp://c:c@cli:5672/", "-l", "warning"]).unwrap();
    assert_eq!(s.amqp, "amqp://c:c@cli:5672/");
    assert_eq!(
        s.log_level, "warn",
        "official `warning` maps to tracing's warn"
    );
}

#[test]
fn service_options_follow_the_same_precedence() {
    let dir = basedir(Some(
        "global:\n  transaction-expiration: 60\n  statedir: g\n  listen: /ip4/0.0.0.0/tcp/8888\n\
         block_store:\n  statedir: s\n",
    ));
    let s = load_with::<StoreArgs>(&dir, &[]).unwrap();
    assert_eq!(s.args.transaction_expiration, Some(60));
    assert_eq!(s.args.statedir.as_deref(), Some("s"));
    let s = load_with::<StoreArgs>(&dir, &["-e", "30", "--statedir", "c"]).unwrap();
    assert_eq!(s.args.transaction_expiration, Some(30));
    assert_eq!(s.args.statedir.as_deref(), Some("c"));
}

#[test]
fn empty_sections_and_yaml_extension_are_accepted() {
    let dir = basedir(None);
    std::fs::write(
        dir.join("config.yaml"),
        "global:\nblock_store:\n  jobs: 4\n",
    )
    .unwrap();
    let s = load_with::<NoArgs>(&dir, &[]).unwrap();
    assert_eq!(s.jobs, 4);
    assert_eq!(s.config_file, Some(dir.join("config.yaml")));
}

fn error_of(yaml: &str, flags: &[&str]) -> String {
    let dir = basedir(Some(yaml));
    load_with::<StoreArgs>(&dir, flags).unwrap_err().to_string()
}

#[test]
fn bad_config_is_reported_with_the_key_or_file() {
    let e = error_of("global: [unclosed", &[]);
    assert!(e.contains("config.yml"), "{e}");
    let e = error_of("block_store:\n  jobs: many\n", &[]);
    assert!(e.contains("config.yml") && e.contains("`jobs`"), "{e}");
    let e = error_of("block_store:\n  jobs: 0\n", &[]);
    assert!(e.contains("`jobs`"), "{e}");
    let e = error_of("global:\n  log-level: loud\n", &[]);
    assert!(
        e.contains("`log-level`") && e.contains("trace, debug"),
        "{e}"
    );
    let e = error_of("global:\n  amqp: http://user:pw@host/\n", &[]);
    assert!(e.contains("`amqp`") && !e.contains(":pw@"), "{e}");
    let e = error_of("block_store:\n  - jobs\n", &[]);
    assert!(e.contains("section `block_store` must be a mapping"), "{e}");
    let e = error_of("global:\n  metrics-address: nine-one-hundred\n", &[]);
    assert!(e.contains("`metrics-address`"), "{e}");
    let e = error_of("block_store:\n  transaction-expiration: soon\n", &[]);
    assert!(e.contains("transaction-expiration"), "{e}");
    let e = error_of("", &["--no-such-flag"]);
    assert!(e.contains("--no-such-flag"), "{e}");
}

#[test]
fn help_is_informational_not_an_error() {
    let dir = basedir(None);
    let err = load_with::<StoreArgs>(&dir, &["--help"]).unwrap_err();
    assert!(err.is_informational());
    let help = err.to_string();
    assert!(
        help.contains("--amqp") && help.contains("--transaction-expiration"),
        "{help}"
    );
    let err = load_with::<StoreArgs>(&dir, &["--jobs", "x"]).unwrap_err();
    assert!(!err.is_informational());
}

/// A self-signed CA certificate (any PEM certificate will do for loading).
const CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBlzCCAT2gAwIBAgIUFkBZSpxoZAK45WVAIZcBFmA4B+cwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOa29pbm9zLXRlc3QtY2EwHhcNMjYxMjA2MDQzNzA2WhcNMzYx
MjAzMDQzNzA2WjAZMRcwFQYDVQQDDA5rb2lub3MtdGVzdC1jYTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABE44/yd7alQecmS8PdRCazG1wF2/8VRM2GABWRAK4MZN
tKlJ6dxlTr2JJuQ/9U/NZrYwAuleWbb8+BLCRAtbd2WjYzBhMB0GA1UdDgQWBBRB
KCm9tSTPz0l60DIP1a843oQPbTAfBgNVHSMEGDAWgBRBKCm9tSTPz0l60DIP1a84
3oQPbTAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAKBggqhkjOPQQD
AgNIADBFAiAg2fzXcNCD6wc8McRam3VjtxxUXba/LpOvV7nOdXyliwIhAOIWTeH0
guKsk2hgOVuiylVZOU6d9JYy+uel5hEhnI6p
-----END CERTIFICATE-----
";

#[test]
fn amqp_ca_file_is_read_from_global_and_needs_an_amqps_url() {
    let dir = basedir(None);
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, CA_PEM).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "global:\n  amqp: amqps://u:p@broker:5671/\n  amqp-ca-file: {}\n",
            ca.display()
        ),
    )
    .unwrap();
    let s = load_with::<NoArgs>(&dir, &[]).unwrap();
    assert!(s.amqp_ca.is_some());
    assert!(load_with::<NoArgs>(&dir, &["--amqp", "amqps://u:p@b/"]).is_ok());

    let e = load_with::<NoArgs>(&dir, &["--amqp", "amqp://u:p@b/"])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`amqp-ca-file`") && e.contains("not amqps://"),
        "{e}"
    );

    let missing = dir.join("missing.pem").display().to_string();
    let e = load_with::<NoArgs>(&dir, &["--amqp-ca-file", &missing])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`amqp-ca-file`") && e.contains("missing.pem"),
        "{e}"
    );

    std::fs::write(&ca, "not a certificate").unwrap();
    let e = load_with::<NoArgs>(&dir, &[]).unwrap_err().to_string();
    assert!(e.contains("no PEM certificate"), "{e}");
}

#[test]
fn no_amqp_ca_file_means_system_roots() {
    let dir = basedir(Some("global:\n  amqp: amqps://u:p@broker/\n"));
    assert!(load_with::<NoArgs>(&dir, &[]).unwrap().amqp_ca.is_none());
}

#[test]
fn rpc_queue_is_the_services_own_unless_the_command_line_names_another() {
    let dir = basedir(None);
    let s = load_with::<NoArgs>(&dir, &[]).unwrap();
    assert_eq!(s.rpc_queue, "koinos.rpc.block_store");
    let s = load_with::<NoArgs>(&dir, &["--rpc-queue", "koinos.rpc.archive"]).unwrap();
    assert_eq!(s.rpc_queue, "koinos.rpc.archive");
    for bad in ["", "amq.gen-1"] {
        let e = load_with::<NoArgs>(&dir, &["--rpc-queue", bad]).unwrap_err();
        assert!(e.to_string().contains("rpc-queue"), "{bad}: {e}");
    }
    // Never from config.yml, where `global` would send every service to one queue.
    let dir = basedir(Some("global:\n  rpc-queue: koinos.rpc.shared\n"));
    let s = load_with::<NoArgs>(&dir, &[]).unwrap();
    assert_eq!(s.rpc_queue, "koinos.rpc.block_store");
}
