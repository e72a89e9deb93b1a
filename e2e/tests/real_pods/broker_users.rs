//! A managed broker's users on real pods: every workload connects as its own user (never the
//! administrator), and rotating the chain's (a StatefulSet, replaced in place) and mempool's
//! (a Deployment, surged) by deleting their Secrets rolls them onto new users while the chain
//! keeps producing; the old users are retired once nothing uses them.

use super::*;
use k8s_openapi::api::core::v1::Secret;

/// `rabbitmqctl -q <args>` in the cluster's broker pod, its lines (header dropped).
fn rabbitmqctl(cp: &ControlPlane, ns: &str, cluster: &str, args: &[&str]) -> Result<Vec<String>> {
    let pod = format!("{cluster}-rabbitmq-0");
    let mut command = vec![
        "-n",
        ns,
        "exec",
        &pod,
        "-c",
        "rabbitmq",
        "--",
        "rabbitmqctl",
        "-q",
    ];
    command.extend_from_slice(args);
    let out = cp.kubectl_ok(&command)?;
    Ok(out.lines().skip(1).map(str::to_owned).collect())
}

async fn username(secrets: &Api<Secret>, name: &str) -> Result<Option<String>> {
    let Some(secret) = secrets.get_opt(name).await? else {
        return Ok(None);
    };
    let bytes = secret
        .data
        .and_then(|d| d.get("username").cloned())
        .context("username")?;
    Ok(Some(String::from_utf8(bytes.0)?))
}

#[tokio::test]
async fn broker_users_rotate_while_the_chain_produces() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    operator_installed(&cp).await?;
    let ns = TestNamespace::create(&cp.client, "users").await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    let name = "users";
    kcs.apply(name, small_devnet(name)?).await?;
    wait_pods_ready(&cp.client, &ns.name, name, SMALL_DEVNET_PODS, START_TIMEOUT).await?;
    let rpc = PortForward::start(&cp, &ns.name, &format!("svc/{name}-jsonrpc"), 8080)?;
    let url = rpc.url();
    wait_height_above(&url, 2, START_TIMEOUT).await?;

    // Every connection is a workload's own user or the operator's; none is the admin's.
    let secrets: Api<Secret> = ns.api();
    let admin = username(&secrets, &format!("{name}-amqp"))
        .await?
        .context("the administrator's Secret")?;
    let connected = rabbitmqctl(&cp, &ns.name, name, &["list_connections", "user"])?;
    ensure!(
        !connected.contains(&admin),
        "a workload connects as the administrator: {connected:?}"
    );
    for component in [
        "chain",
        "block-store",
        "mempool",
        "block-producer",
        "jsonrpc",
    ] {
        let user = username(&secrets, &format!("{name}-{component}-amqp"))
            .await?
            .with_context(|| format!("{component}'s Secret"))?;
        ensure!(
            connected.contains(&user),
            "{component} is not connected as {user}: {connected:?}"
        );
    }

    // Rotate chain and mempool.
    let mut old = Vec::new();
    for component in ["chain", "mempool"] {
        let secret = format!("{name}-{component}-amqp");
        old.push(username(&secrets, &secret).await?.context("user")?);
        secrets.delete(&secret, &DeleteParams::default()).await?;
    }
    let rotated_at = head_height(&url)?;
    let pods: Api<Pod> = ns.api();
    let new = wait_until("chain and mempool on new users", START_TIMEOUT, || async {
        let mut new = Vec::new();
        for component in ["chain", "mempool"] {
            let Some(user) = username(&secrets, &format!("{name}-{component}-amqp")).await? else {
                return Ok(None);
            };
            let selector = format!(
                "app.kubernetes.io/instance={name},app.kubernetes.io/component={component}"
            );
            let listed = pods.list(&ListParams::default().labels(&selector)).await?;
            let rolled = !listed.items.is_empty()
                && listed.items.iter().all(|p| {
                    pod_ready(p)
                        && p.metadata.deletion_timestamp.is_none()
                        && p.annotations().get("koinos.io/amqp-user") == Some(&user)
                });
            if !rolled {
                return Ok(None);
            }
            new.push(user);
        }
        Ok(Some(new))
    })
    .await?;
    ensure!(new.iter().all(|u| !old.contains(u)), "{old:?} -> {new:?}");
    // The chain produces on: blocks go through chain, mempool and block_store on new users.
    let after = wait_height_above(&url, rotated_at + 3, START_TIMEOUT).await?;
    eprintln!("[real-pods] rotated {old:?} -> {new:?}; height {rotated_at} -> {after}");
    // The old users are retired once their pods are gone.
    wait_until("the old users retired", START_TIMEOUT, || async {
        let users = rabbitmqctl(&cp, &ns.name, name, &["list_users"])?;
        let names: Vec<&str> = users
            .iter()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        let retired = old.iter().all(|u| !names.contains(&u.as_str()));
        let present = new.iter().all(|u| names.contains(&u.as_str()));
        Ok((retired && present).then_some(()))
    })
    .await?;
    let kc = kcs.api.get(name).await?;
    let broker = condition(&kc, "BrokerReady").context("BrokerReady")?;
    ensure!(broker["status"] == "True", "BrokerReady: {broker}");
    drop(rpc);
    ns.delete().await
}
