//! PodDisruptionBudgets for services that run more than one pod: voluntary disruptions
//! (drains, upgrades) take one pod at a time.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{object_meta, selector};
use crate::model::ValidatedCluster;
use crate::model::naming::child_name;

pub fn build_pdb(vc: &ValidatedCluster, component: &str) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: object_meta(vc, child_name(vc, component), component),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(selector(vc, component)),
            ..Default::default()
        }),
        ..Default::default()
    }
}
