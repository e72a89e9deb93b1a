//! A managed broker's users on the real control plane: each workload reads its own user's
//! Secret (never the administrator's `<c>-amqp`) and names the user on its pod template;
//! deleting a user's Secret rotates that user, rolling that workload and no other. (The
//! broker pods are kwok's, so no management API answers here: BrokerReady says the users
//! could not be provisioned. Provisioning itself is `broker::users::with_rabbitmq`, and the
//! real-pods tier runs the services under their users.)

use std::collections::BTreeMap;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{PodTemplateSpec, Secret};
use koinos_e2e::fixtures::{CONVERGE_TIMEOUT, wait_condition};
use koinos_e2e::install::install_operator;
use koinos_e2e::operator::Operator;
use koinos_e2e::{ControlPlane, KoinosClusters, TestNamespace, wait_until};
use kube::Api;
use kube::api::{DeleteParams, ListParams};
use serde_json::json;

const CLUSTER: &str = "users";
const USER_ANNOTATION: &str = "koinos.io/amqp-user";

/// Each workload's pod template, by name.
async fn templates(ns: &TestNamespace) -> Result<BTreeMap<String, PodTemplateSpec>> {
    let selector = ListParams::default().labels(&format!("app.kubernetes.io/instance={CLUSTER}"));
    let mut out = BTreeMap::new();
    for sts in ns.api::<StatefulSet>().list(&selector).await? {
        let name = sts.metadata.name.clone().unwrap_or_default();
        out.insert(name, sts.spec.context("spec")?.template);
    }
    for deployment in ns.api::<Deployment>().list(&selector).await? {
        let name = deployment.metadata.name.clone().unwrap_or_default();
        out.insert(name, deployment.spec.context("spec")?.template);
    }
    Ok(out)
}

fn username(secret: &Secret) -> Result<String> {
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get("username"))
        .context("username")?;
    Ok(String::from_utf8(bytes.0.clone())?)
}

fn annotation(template: &PodTemplateSpec) -> Option<String> {
    template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(USER_ANNOTATION)
        .cloned()
}

/// The Secret `KOINOS_AMQP_URL` comes from.
fn url_secret(template: &PodTemplateSpec) -> Option<String> {
    let container = template.spec.as_ref()?.containers.first()?;
    let env = container
        .env
        .as_ref()?
        .iter()
        .find(|e| e.name == "KOINOS_AMQP_URL")?;
    Some(
        env.value_from
            .as_ref()?
            .secret_key_ref
            .as_ref()?
            .name
            .clone(),
    )
}

#[tokio::test]
async fn each_workload_has_its_own_broker_user_and_deleting_its_secret_rotates_it() -> Result<()> {
    let cp = ControlPlane::connect().await?;
    install_operator(&cp)?;
    let ns = TestNamespace::create(&cp.client, "broker-users").await?;
    let _operator = Operator::start(&cp, &ns.name).await?;
    let kcs = KoinosClusters::new(&cp.client, &ns.name);
    kcs.apply(
        CLUSTER,
        json!({"metadata": {"name": CLUSTER}, "spec": {
            "network": {"devnet": {}},
            "extraServices": [{"name": "indexer", "image": "registry.example.com/indexer:1"}],
        }}),
    )
    .await?;
    let secrets: Api<Secret> = ns.api();

    // Every workload but the broker reads its own user's Secret and names that user.
    let users = wait_until(
        "every workload on its own user",
        CONVERGE_TIMEOUT,
        || async {
            let templates = templates(&ns).await?;
            let mut users = BTreeMap::new();
            for (name, template) in &templates {
                if name == &format!("{CLUSTER}-rabbitmq") {
                    continue;
                }
                let Some(secret_name) = url_secret(template) else {
                    return Ok(None);
                };
                ensure!(
                    secret_name == format!("{name}-amqp"),
                    "{name} reads {secret_name}, not its own user's Secret"
                );
                let Some(secret) = secrets.get_opt(&secret_name).await? else {
                    return Ok(None);
                };
                let user = username(&secret)?;
                if annotation(template).as_deref() != Some(user.as_str()) {
                    return Ok(None);
                }
                users.insert(name.clone(), user);
            }
            Ok((users.len() == 10).then_some(users))
        },
    )
    .await?;
    ensure!(
        users.contains_key(&format!("{CLUSTER}-indexer")),
        "the extra service has a user: {users:?}"
    );
    let distinct: std::collections::BTreeSet<_> = users.values().collect();
    ensure!(
        distinct.len() == users.len(),
        "users are distinct: {users:?}"
    );
    let reader = secrets
        .get(&format!("{CLUSTER}-amqp-reader"))
        .await
        .context("the operator's own user")?;
    ensure!(username(&reader)?.starts_with("operator-"));

    // No management API answers on kwok's broker: BrokerReady names the users.
    let kc = wait_condition(&kcs, CLUSTER, "BrokerReady", "False").await?;
    let broker = koinos_e2e::koinos::condition(&kc, "BrokerReady").context("BrokerReady")?;
    ensure!(
        broker["reason"] == "BrokerUsersNotProvisioned"
            && broker["message"]
                .as_str()
                .is_some_and(|m| m.contains("chain") && m.contains("indexer")),
        "BrokerReady: {broker}"
    );

    // Rotation: delete mempool's Secret; a new user rolls mempool, and only mempool.
    let mempool = format!("{CLUSTER}-mempool");
    let old = users[&mempool].clone();
    secrets
        .delete(&format!("{mempool}-amqp"), &DeleteParams::default())
        .await?;
    let new = wait_until(
        "mempool rolled onto a new user",
        CONVERGE_TIMEOUT,
        || async {
            let Some(secret) = secrets.get_opt(&format!("{mempool}-amqp")).await? else {
                return Ok(None);
            };
            let user = username(&secret)?;
            let templates = templates(&ns).await?;
            let rolled = templates
                .get(&mempool)
                .and_then(annotation)
                .is_some_and(|a| a == user);
            Ok((user != old && rolled).then_some(user))
        },
    )
    .await?;
    ensure!(new.starts_with("mempool-"), "{new}");
    let templates = templates(&ns).await?;
    for (name, user) in &users {
        if name != &mempool {
            let now = templates.get(name).and_then(annotation);
            ensure!(
                now.as_deref() == Some(user.as_str()),
                "{name} rolled too: {now:?}"
            );
        }
    }
    ns.delete().await
}
