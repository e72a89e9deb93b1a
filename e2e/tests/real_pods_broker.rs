//! The managed broker's life on real pods, while a devnet produces: a pod template change
//! replaces the broker's pod (one node: a short outage), after which the chain produces on, a
//! persistent message queued before is still there and a transfer submitted during it is
//! included; then its administrator is rotated: the old one is refused, the operator goes on
//! with the new one. Run by `e2e/node/run-tests.sh`
//! (`cargo test -p koinos-e2e --features real-pods --test real_pods_broker`).

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Secret};
use koinos_e2e::koinos::condition;
use koinos_e2e::real_pods::{
    PortForward, SMALL_DEVNET_PODS, START_TIMEOUT, broker_credentials, head_height, json_rpc,
    operator_devnet_info, operator_installed, pod_ready, small_devnet, wait_pods_ready,
};
use koinos_e2e::{ControlPlane, KoinosClusters, TestNamespace, wait_until};
use koinos_protocol::pb::koinos::contracts::token::{BalanceOfArguments, BalanceOfResult};
use koinos_protocol::pb::koinos::protocol::CallContractOperation;
use koinos_services::block_producer::ProducerKey;
use koinos_services::chain::builder::{transaction, transfer_operation};
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use prost::Message;
use serde_json::{Value, json};

/// KCS-4 `balance_of`.
const BALANCE_OF: u32 = 0x5c72_1497;
/// A durable queue of the test's own, holding one persistent message across the rollout.
const KEPT_QUEUE: &str = "koinos-e2e.rollout";

/// A management API call through curl (`base` is a port-forward's URL): the status code and
/// the JSON body (`null` when empty).
fn management(
    base: &str,
    (user, password): (&str, &str),
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value)> {
    let mut curl = Command::new("curl");
    curl.args(["-sS", "-m", "10", "-X", method, "-u"])
        .arg(format!("{user}:{password}"))
        .args([
            "-H",
            "content-type: application/json",
            "-w",
            "\n%{http_code}",
        ]);
    if let Some(body) = body {
        curl.arg("--data-binary").arg(body.to_string());
    }
    let out = curl
        .arg(format!("{}{}", base.trim_end_matches('/'), path))
        .output()?;
    ensure!(
        out.status.success(),
        "curl {method} {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout)?;
    let (body, code) = text
        .rsplit_once('\n')
        .context("curl wrote no status code")?;
    let body = if body.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.into()))
    };
    Ok((code.trim().parse()?, body))
}

/// The balance of `owner` in the devnet's KOIN (`token`: its base58 contract id).
fn balance(url: &str, token: &str, owner: &[u8]) -> Result<u64> {
    let args = BalanceOfArguments {
        owner: owner.to_vec(),
    };
    let result = json_rpc(
        url,
        "chain.read_contract",
        json!({"contract_id": token, "entry_point": BALANCE_OF,
               "args": URL_SAFE.encode(args.encode_to_vec())}),
    )?;
    let bytes = URL_SAFE.decode(result["result"].as_str().unwrap_or(""))?;
    Ok(BalanceOfResult::decode(bytes.as_slice())?.value)
}

async fn broker_condition(kcs: &KoinosClusters, name: &str) -> Result<Value> {
    let kc = kcs.api.get(name).await?;
    condition(&kc, "BrokerReady")
        .cloned()
        .context("no BrokerReady")
}

/// Pod `name`'s uid when it exists, runs the current template and is Ready.
async fn ready_uid(pods: &Api<Pod>, name: &str) -> Result<Option<String>> {
    Ok(pods
        .get_opt(name)
        .await?
        .filter(pod_ready)
        .and_then(|p| p.metadata.uid))
}

#[tokio::test]
async fn broker_rolls_out_and_rotates_its_admin_while_the_chain_produces() -> Result<()> {
    let started = Instant::now();
    let cp = ControlPlane::connect().await?;
    operator_installed(&cp).await?;
    let ns = TestNamespace::create(&cp.client, "broker").await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    let name = "broker";
    kcs.apply(name, small_devnet(name)?).await?;
    wait_pods_ready(&cp.client, &ns.name, name, SMALL_DEVNET_PODS, START_TIMEOUT).await?;
    let rpc = PortForward::start(&cp, &ns.name, &format!("svc/{name}-jsonrpc"), 8080)?;
    let url = rpc.url();
    wait_until("the chain to produce", START_TIMEOUT, || async {
        Ok((head_height(&url)? > 2).then_some(()))
    })
    .await?;
    eprintln!("[broker] devnet up in {:?}", started.elapsed());

    // Before the rollout: one persistent message in a durable queue.
    let (admin, admin_password) = broker_credentials(&cp.client, &ns.name, name).await?;
    let broker_svc = format!("svc/{name}-rabbitmq");
    let api = PortForward::start(&cp, &ns.name, &broker_svc, 15672)?;
    let as_admin = (admin.as_str(), admin_password.as_str());
    let queue_path = format!("/api/queues/%2F/{KEPT_QUEUE}");
    let (code, _) = management(
        &api.url(),
        as_admin,
        "PUT",
        &queue_path,
        Some(json!({"durable": true, "auto_delete": false})),
    )?;
    ensure!(
        code == 201 || code == 204,
        "declaring {KEPT_QUEUE}: HTTP {code}"
    );
    let (_, published) = management(
        &api.url(),
        as_admin,
        "POST",
        "/api/exchanges/%2F/amq.default/publish",
        Some(
            json!({"properties": {"delivery_mode": 2}, "routing_key": KEPT_QUEUE,
                    "payload": "queued before the rollout", "payload_encoding": "string"}),
        ),
    )?;
    ensure!(published["routed"] == true, "publish: {published}");
    drop(api);

    // The transfer to send during the rollout.
    let devnet = operator_devnet_info(&cp.client, &ns.name, name).await?;
    let token = devnet["token_contract_id"].as_str().context("token id")?;
    let token_id = koinos_protocol::json::from_value::<CallContractOperation>(
        &json!({"contract_id": token, "entry_point": 0, "args": ""}),
    )?
    .contract_id;
    let funded = ProducerKey::from_wif(devnet["funded_account_wif"].as_str().context("wif")?)?;
    let receiver = ProducerKey::generate();
    let chain_id = URL_SAFE.decode(devnet["chain_id"].as_str().context("chain id")?)?;
    let account = &devnet["funded_account_address"];
    let nonce = json_rpc(&url, "chain.get_account_nonce", json!({"account": account}))?;
    let nonce = match nonce["nonce"].as_str() {
        None => 0,
        Some(text) => koinos_protocol::nonce::decode_nonce(&URL_SAFE.decode(text)?)?,
    };
    let rc = json_rpc(&url, "chain.get_account_rc", json!({"account": account}))?;
    let rc: u64 = rc["rc"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .context("rc")?;
    let transfer = transfer_operation(&token_id, funded.address(), receiver.address(), 1234);
    let tx = transaction(
        &chain_id,
        funded.private_key(),
        nonce + 1,
        rc,
        vec![transfer],
    );
    let tx_json = koinos_protocol::json::to_value(&tx)?;

    // The rollout: a harmless change of the broker's pod template.
    let pods: Api<Pod> = ns.api();
    let broker_pod = format!("{name}-rabbitmq-0");
    let old_uid = ready_uid(&pods, &broker_pod).await?.context("broker pod")?;
    let before = head_height(&url)?;
    let patch = json!({"spec": {"amqp": {"managed": {"podOverrides": {
        "annotations": {"koinos.io/e2e-rollout": "1"}}}}}});
    kcs.api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    let rollout = Instant::now();
    let statefulsets: Api<StatefulSet> = ns.api();
    let (mut reported, mut accepted_after, mut refused, mut last_refusal) =
        (false, None, 0, String::new());
    loop {
        ensure!(
            rollout.elapsed() < START_TIMEOUT,
            "the broker rollout or the transfer did not complete: transfer accepted after \
             {accepted_after:?}, {refused} refusals, the last {last_refusal}"
        );
        let broker = broker_condition(&kcs, name).await?;
        reported |= broker["reason"] == "BrokerRollingOut";
        let replaced = pods.get_opt(&broker_pod).await?.is_none_or(|p| {
            p.metadata.deletion_timestamp.is_some() || p.uid().as_ref() != Some(&old_uid)
        });
        // Sent once the old pod is going, through JSON-RPC as a wallet would, until accepted
        // (or found included: an attempt whose answer was lost may still have gone through).
        if replaced && accepted_after.is_none() {
            let submitted = json_rpc(
                &url,
                "chain.submit_transaction",
                json!({"transaction": tx_json, "broadcast": true}),
            );
            match submitted {
                Ok(_) => accepted_after = Some(rollout.elapsed()),
                Err(error) => {
                    refused += 1;
                    last_refusal = error.to_string();
                    if balance(&url, token, receiver.address()).unwrap_or(0) == 1234 {
                        accepted_after = Some(rollout.elapsed());
                    }
                }
            }
        }
        let sts = statefulsets.get(&format!("{name}-rabbitmq")).await?;
        let status = sts.status.unwrap_or_default();
        let done = status.current_revision == status.update_revision
            && ready_uid(&pods, &broker_pod)
                .await?
                .is_some_and(|uid| uid != old_uid);
        if done && accepted_after.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let rolled_in = rollout.elapsed();
    ensure!(reported, "BrokerReady never said BrokerRollingOut");
    eprintln!(
        "[broker] rollout {rolled_in:?}; transfer accepted after {accepted_after:?} \
         ({refused} refused while the broker was down, the last: {last_refusal})"
    );

    // After it: the transfer is included, the chain produces, the message is still queued.
    wait_until("the transfer included", START_TIMEOUT, || async {
        let got = balance(&url, token, receiver.address())?;
        ensure!(got == 0 || got == 1234, "receiver holds {got}");
        Ok((got == 1234).then_some(()))
    })
    .await?;
    wait_until(
        "the chain to produce after the rollout",
        START_TIMEOUT,
        || async { Ok((head_height(&url)? > before + 3).then_some(())) },
    )
    .await?;
    let api = PortForward::start(&cp, &ns.name, &broker_svc, 15672)?;
    wait_until(
        "the persistent message kept",
        Duration::from_secs(60),
        || async {
            let (code, queue) = management(&api.url(), as_admin, "GET", &queue_path, None)?;
            ensure!(code == 200, "{KEPT_QUEUE}: HTTP {code} {queue}");
            Ok((queue["messages"] == 1).then_some(()))
        },
    )
    .await?;
    let (code, chain_queue) = management(
        &api.url(),
        as_admin,
        "GET",
        "/api/queues/%2F/koinos.rpc.chain",
        None,
    )?;
    ensure!(
        code == 200 && chain_queue["durable"] == true,
        "{chain_queue}"
    );
    wait_until("BrokerReady again", START_TIMEOUT, || async {
        Ok((broker_condition(&kcs, name).await?["status"] == "True").then_some(()))
    })
    .await?;

    // The administrator's rotation.
    let secrets: Api<Secret> = ns.api();
    let admin_secret = format!("{name}-amqp");
    let request = json!({"metadata": {"annotations": {"koinos.io/rotate": "e2e"}}});
    secrets
        .patch(
            &admin_secret,
            &PatchParams::default(),
            &Patch::Merge(&request),
        )
        .await?;
    let rotation = Instant::now();
    let new_admin = wait_until("the old administrator retired", START_TIMEOUT, || async {
        let secret = secrets.get(&admin_secret).await?;
        let data = secret.data.clone().unwrap_or_default();
        let text = |k: &str| {
            data.get(k)
                .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        };
        let rotated = text("username").is_some_and(|u| u != admin)
            && !secret.annotations().contains_key("koinos.io/rotate")
            && text("retiring-username").is_none();
        Ok(rotated.then(|| {
            (
                text("username").unwrap(),
                text("password").unwrap_or_default(),
            )
        }))
    })
    .await?;
    let as_new = (new_admin.0.as_str(), new_admin.1.as_str());
    let (old_code, _) = management(&api.url(), as_admin, "GET", "/api/whoami", None)?;
    let (new_code, _) = management(&api.url(), as_new, "GET", "/api/whoami", None)?;
    ensure!(old_code == 401, "the old administrator: HTTP {old_code}");
    ensure!(new_code == 200, "the new administrator: HTTP {new_code}");
    // The operator goes on with the new one: its users are provisioned on every pass (a refusal
    // would be BrokerUsersNotProvisioned) and the chain still produces through them.
    let at = head_height(&url)?;
    wait_until(
        "the chain to produce after the rotation",
        START_TIMEOUT,
        || async { Ok((head_height(&url)? > at + 2).then_some(())) },
    )
    .await?;
    let broker = broker_condition(&kcs, name).await?;
    ensure!(broker["status"] == "True", "BrokerReady: {broker}");
    eprintln!(
        "[broker] admin {admin} -> {} in {:?}; whole test {:?}",
        new_admin.0,
        rotation.elapsed(),
        started.elapsed()
    );
    drop((rpc, api));
    ns.delete().await
}
