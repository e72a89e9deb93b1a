-- Argo CD health check for koinos.io/KoinosCluster (Lua 5.1, as gopher-lua runs it).
-- Conditions follow metav1.Condition; a condition counts only when its observedGeneration
-- (or status.observedGeneration) has caught up with metadata.generation, so a fresh spec
-- change is Progressing until the operator has looked at it.
local hs = {}

local function condition(conditions, type_)
  if conditions == nil then return nil end
  for _, c in ipairs(conditions) do
    if c.type == type_ then return c end
  end
  return nil
end

local function message_or(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then return c.message end
  return fallback
end

local generation = 0
if obj.metadata ~= nil and obj.metadata.generation ~= nil then
  generation = obj.metadata.generation
end
local status = obj.status or {}
local conditions = status.conditions

-- Is this condition about the current spec?
local function current(c)
  local observed = c.observedGeneration or status.observedGeneration or 0
  return observed >= generation
end

-- Paused reconciliation: the operator deliberately leaves the cluster as it is.
local paused = condition(conditions, "ReconciliationPaused")
local operation = (obj.spec or {}).clusterOperation or {}
if (paused ~= nil and paused.status == "True") or operation.reconciliationPaused == true then
  hs.status = "Suspended"
  hs.message = message_or(paused, "Reconciliation is paused (spec.clusterOperation.reconciliationPaused)")
  return hs
end

if conditions == nil or #conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

if (status.observedGeneration or 0) < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local stalled = condition(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" and current(stalled) then
  hs.status = "Degraded"
  hs.message = message_or(stalled, "Reconciliation is stalled")
  return hs
end

-- A stopped cluster has scaled every service to zero on purpose.
if operation.stopped == true then
  hs.status = "Suspended"
  hs.message = "Cluster is stopped (spec.clusterOperation.stopped)"
  return hs
end

local ready = condition(conditions, "Ready")
if ready ~= nil and ready.status == "True" and current(ready) then
  hs.status = "Healthy"
  hs.message = message_or(ready, "Cluster is ready")
  return hs
end

-- The node is catching up with its network (pods may all be ready): Progressing, saying how
-- far behind it is.
local progressing = condition(conditions, "Progressing")
if progressing ~= nil and progressing.status == "True" then
  hs.status = "Progressing"
  hs.message = message_or(progressing, "The chain is catching up")
  return hs
end

local reconciling = condition(conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = message_or(reconciling, "Reconciling")
  return hs
end

hs.status = "Progressing"
if ready ~= nil and not current(ready) then
  hs.message = "Waiting for the Ready condition to observe generation " .. tostring(generation)
else
  hs.message = message_or(ready, "Waiting for the cluster to become ready")
end
return hs
