-- Runs an Argo CD health script against test cases the way Argo CD does: a fresh global `obj`
-- per case, the script's returned table compared on status and message.
-- usage: lua5.1 run_tests.lua HEALTH_LUA BUNDLE_LUA   (bundle from yaml2lua.py)
local health_path, bundle_path = arg[1], arg[2]
local bundle = dofile(bundle_path)

local passed, failed = 0, 0
for i, case in ipairs(bundle.tests) do
  local script = assert(loadfile(health_path))
  obj = bundle.inputs[case.inputPath]
  local ok, hs = pcall(script)
  local want = case.healthStatus
  if not ok then
    failed = failed + 1
    print(string.format("FAIL %s: script error: %s", case.inputPath, tostring(hs)))
  elseif type(hs) ~= "table" or hs.status ~= want.status or hs.message ~= want.message then
    failed = failed + 1
    local got = type(hs) == "table" and hs or {}
    print(string.format("FAIL %s (case %d)\n  want: %s | %s\n  got:  %s | %s", case.inputPath, i,
      tostring(want.status), tostring(want.message), tostring(got.status), tostring(got.message)))
  else
    passed = passed + 1
    print(string.format("ok   %s -> %s", case.inputPath, hs.status))
  end
end
print(string.format("%d passed, %d failed", passed, failed))
if failed > 0 or passed == 0 then os.exit(1) end
