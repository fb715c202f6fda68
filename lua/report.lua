-- report.lua -- Markdown report of a results directory.
--
-- report.markdown{run = <run.json>, cells = {<result>, ...}} returns the
-- report text: per task, one row per cell with the final errors and the
-- optimizer's time per update, plus the data provenance and environment.
-- Runs in the suite sandbox (pure Lua).

local report = {}

local function fmt(x, digits)
  if x == nil then return "–" end
  if type(x) ~= "number" then return tostring(x) end
  if x ~= x or x == math.huge or x == -math.huge then return "–" end
  return ("%." .. (digits or 4) .. "g"):format(x)
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local source_note = {
  real = "the real data set",
  original = "the paper's original data files",
  regenerated = "REGENERATED data: a statistical match to the paper's data, not the original; " ..
                "numbers are not directly comparable with the paper's tables",
  synthetic = "a small synthetic data set (for tests and examples only)",
}

function report.markdown(arg)
  local run, cells = arg.run or {}, arg.cells or {}
  local out = {}
  local function add(s) out[#out + 1] = s end

  add(("# optbench report: suite `%s`, budget `%s`"):format(run.suite or "?", run.budget or "?"))
  add("")

  local by_task = {}
  for _, r in ipairs(cells) do
    local t = r.cell.task.name
    by_task[t] = by_task[t] or {}
    table.insert(by_task[t], r)
  end

  for _, task in ipairs(sorted_keys(by_task)) do
    local rs = by_task[task]
    table.sort(rs, function(a, b)
      if a.cell.label ~= b.cell.label then return a.cell.label < b.cell.label end
      if a.cell.lr ~= b.cell.lr then return a.cell.lr > b.cell.lr end
      return a.cell.seed < b.cell.seed
    end)
    local d = rs[1].data or {}
    add(("## Task `%s`"):format(task))
    add("")
    add(("Data: `%s`, %s (%s training cases in use, %s test cases; checksum %s)."):format(
      d.name or "?", source_note[d.source] or (d.source or "unknown source"),
      fmt(d.train_cases, 10), fmt(d.test_cases, 10), d.checksum or "?"))
    add(("Budget: %s updates per cell, batch %s."):format(fmt(rs[1].cell.updates, 10),
      fmt(rs[1].cell.task.batch or 200, 10)))
    add("")
    add("| method | optimizer | schedule | lr | seed | status | updates | train error | test error | ms/update |")
    add("|---|---|---|---|---|---|---|---|---|---|")
    for _, r in ipairs(rs) do
      local sched = r.cell.schedule
      local sp = {}
      for _, k in ipairs(sorted_keys(sched.params or {})) do
        sp[#sp + 1] = ("%s=%s"):format(k, fmt(sched.params[k], 6))
      end
      local sdesc = sched.name .. (#sp > 0 and (" (" .. table.concat(sp, ", ") .. ")") or "")
      add(("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"):format(
        r.cell.label, r.cell.optimizer.name, sdesc, fmt(r.cell.lr), fmt(r.cell.seed, 10),
        r.status, fmt(r.updates_done, 10), fmt(r.final.train_error), fmt(r.final.test_error),
        fmt(r.timing.ms_per_update, 3)))
    end
    add("")
  end

  add("Errors are per-case sums of squared reconstruction errors (SPEC §3.2), on the whole")
  add("training and test sets, at the end of the budget. ms/update is optimizer time only;")
  add("evaluation time is excluded.")
  add("")
  local env = run.environment or (cells[1] and cells[1].environment) or {}
  add("## Environment")
  add("")
  add(("optbench %s (git %s, numerics %s), %s %s build; OpenBLAS %s with %s threads; CPU %s (%s online); %s."):format(
    env.optbench_version or "?", env.git_hash or "?", env.numerics_version or "?",
    env.compiler or "?", env.build_type or "?", env.openblas or "?", fmt(env.blas_threads, 4),
    env.cpu or "?", fmt(env.cpus_online, 4), env.date or "?"))
  add("")
  return table.concat(out, "\n")
end

return report
