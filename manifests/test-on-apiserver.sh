#!/usr/bin/env bash
# Checks the packaging against a real control plane (e2e/control-plane: kube-apiserver, etcd,
# kube-controller-manager, kube-scheduler, kwok), on its own ports so it never meets another run:
#   - manifests/install.yaml applies server-side, the CRD becomes Established and the operator
#     Deployment becomes Available in a namespace that enforces Pod Security "restricted";
#   - every manifests/examples/*.yaml is accepted with strict field validation (unknown fields
#     are errors) and the CRD's CEL rules;
#   - the operator's ServiceAccount can do exactly what it needs (SubjectAccessReview through
#     `kubectl auth can-i`), cluster-wide by default and in one namespace with watchNamespace;
#   - the aggregated roles give namespace editors KoinosCluster access.
# The operator binary is not run here (kwok fakes the pod); the e2e suite runs it.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

export E2E_RUN_DIR="${PACKAGING_RUN_DIR:-$(mktemp -d /tmp/koinos-packaging.XXXXXX)}"
export E2E_APISERVER_PORT="${PACKAGING_APISERVER_PORT:-16443}" E2E_ETCD_PORT="${PACKAGING_ETCD_PORT:-12379}"
export E2E_KCM_PORT=20257 E2E_SCHEDULER_PORT=20259 E2E_KWOK_PORT=20247 E2E_NODES=1

passes=0 failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok   $*"; passes=$((passes + 1)); }

kubeconfig=$(bash e2e/control-plane/up.sh | tail -1)
trap 'bash e2e/control-plane/down.sh "$E2E_RUN_DIR" >/dev/null 2>&1 || true' EXIT
bin="${E2E_BIN:-$(bash e2e/control-plane/build.sh | tail -1)}"
k() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }
helm=$(bash scripts/render-manifests.sh --helm)

# install.yaml: a restricted namespace, the CRD, RBAC and a Deployment that is admitted.
k apply --server-side --field-manager=packaging-test -f manifests/install.yaml >/dev/null
if k wait --for=condition=Established crd/koinosclusters.koinos.io --timeout=60s >/dev/null; then
  pass "CRD established"
else
  fail "CRD not established"
fi
if k -n koinos-system wait --for=condition=Available deployment/koinos-operator --timeout=90s >/dev/null; then
  pass "operator Deployment available under Pod Security restricted"
else
  fail "operator Deployment not available"
  k -n koinos-system get events --field-selector type=Warning >&2 || true
fi
# install.yaml registers the operator as the external metrics provider by default.
if k get apiservice v1beta1.external.metrics.k8s.io -o jsonpath='{.spec.service.namespace}/{.spec.service.name}' \
  | grep -qx koinos-system/koinos-operator-external-metrics; then
  pass "install.yaml registers APIService v1beta1.external.metrics.k8s.io at the operator"
else
  fail "install.yaml does not register the operator's external metrics APIService"
fi
# No operator process serves it here (kwok fakes the pod): an unavailable aggregated API breaks
# discovery, so unregister it at once.
k delete apiservice v1beta1.external.metrics.k8s.io >/dev/null

# Every example, strictly validated by the API server.
k create namespace koinos >/dev/null
for example in manifests/examples/*.yaml; do
  if out=$(k apply --server-side --field-manager=packaging-test --validate=strict -n koinos -f "$example" 2>&1); then
    pass "example $example"
  else
    fail "example $example: $out"
  fi
done

# can-i VERB RESOURCE [flags...] EXPECTED as SERVICEACCOUNT
expect_can() {
  local sa=$1 want=$2
  shift 2
  local got
  got=$(k auth can-i --as="$sa" "$@" 2>/dev/null || true)
  if [[ "$got" == "$want" ]]; then pass "$sa can-i $* = $want"; else fail "$sa can-i $*: got '$got', want '$want'"; fi
}

sa=system:serviceaccount:koinos-system:koinos-operator
expect_can "$sa" yes watch koinosclusters.koinos.io --all-namespaces
expect_can "$sa" yes patch koinosclusters.koinos.io --subresource=status -n koinos
expect_can "$sa" yes update koinosclusters.koinos.io --subresource=finalizers -n koinos
for kind in statefulsets.apps deployments.apps services configmaps secrets persistentvolumeclaims \
  horizontalpodautoscalers.autoscaling poddisruptionbudgets.policy networkpolicies.networking.k8s.io; do
  expect_can "$sa" yes patch "$kind" -n koinos
  expect_can "$sa" yes delete "$kind" -n koinos
  expect_can "$sa" no update "$kind" -n koinos
done
expect_can "$sa" yes create events.events.k8s.io -n koinos
expect_can "$sa" yes create leases.coordination.k8s.io -n koinos-system
expect_can "$sa" yes update leases.coordination.k8s.io/koinos-operator-leader -n koinos-system
expect_can "$sa" no patch leases.coordination.k8s.io/koinos-operator-leader -n koinos-system
expect_can "$sa" no update leases.coordination.k8s.io/kube-controller-manager -n koinos-system
expect_can "$sa" no create leases.coordination.k8s.io -n koinos
expect_can "$sa" no update koinosclusters.koinos.io -n koinos
expect_can "$sa" no get pods -n koinos
expect_can "$sa" no list nodes
expect_can "$sa" no create customresourcedefinitions.apiextensions.k8s.io

# Confined to one namespace: a second release watching only team-a.
k create namespace ops >/dev/null
k create namespace team-a >/dev/null
"$helm" template scoped charts/koinos-operator -n ops --kube-version 1.36.0 \
  --set watchNamespace=team-a --set rbac.aggregateToDefaultRoles=false \
  | k apply --server-side --field-manager=packaging-test -f - >/dev/null
scoped=system:serviceaccount:ops:scoped-koinos-operator
expect_can "$scoped" yes patch statefulsets.apps -n team-a
expect_can "$scoped" yes list koinosclusters.koinos.io -n team-a
expect_can "$scoped" no patch statefulsets.apps -n koinos
expect_can "$scoped" no list koinosclusters.koinos.io --all-namespaces

# The external metrics API registration in a scoped release: the APIService is accepted and the operator
# may delegate authentication (TokenReview) and read the aggregator's client CA.
"$helm" template scoped charts/koinos-operator -n ops --kube-version 1.36.0 \
  --set watchNamespace=team-a --set rbac.aggregateToDefaultRoles=false \
  --set externalMetrics.enabled=true --show-only templates/external-metrics.yaml \
  | k apply --server-side --field-manager=packaging-test -f - >/dev/null
expect_can "$scoped" yes create tokenreviews.authentication.k8s.io
expect_can "$scoped" yes create subjectaccessreviews.authorization.k8s.io
expect_can "$scoped" yes get configmaps/extension-apiserver-authentication -n kube-system
expect_can "$scoped" no get configmaps/kube-root-ca.crt -n kube-system
if k get apiservice v1beta1.external.metrics.k8s.io -o jsonpath='{.spec.service.name}' | grep -qx scoped-koinos-operator-external-metrics; then
  pass "APIService v1beta1.external.metrics.k8s.io points at the operator"
else
  fail "APIService v1beta1.external.metrics.k8s.io missing or not pointing at the operator"
fi
# No server answers it here: unregister at once (an unavailable aggregated API breaks discovery).
k delete apiservice v1beta1.external.metrics.k8s.io >/dev/null

# People: the edit role of a namespace now covers KoinosClusters there.
k create rolebinding alice-edit --clusterrole=edit --user=alice -n koinos >/dev/null
for _ in $(seq 20); do
  [[ $(k auth can-i --as=alice create koinosclusters.koinos.io -n koinos 2>/dev/null) == yes ]] && break
  sleep 0.5
done
expect_can alice yes create koinosclusters.koinos.io -n koinos
expect_can alice no create koinosclusters.koinos.io -n team-a

echo "packaging on kube-apiserver: $passes passed, $failures failed"
((failures == 0))
