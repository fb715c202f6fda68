-- optbench.lua -- the library suites use: `local ob = require "optbench"`.
--
-- A suite is data: which tasks, initializers, methods (an optimizer with its
-- schedule), learning rates and seeds to cross, and named budgets. This
-- library checks the shape of what a suite declares, remembers where each
-- declaration was made (file:line, for error messages), and expands a suite
-- and a budget into the flat list of cells the runner executes. Plugin
-- names and parameters are validated by the host against the plugins
-- themselves, with the file:line recorded here.
--
-- It runs inside the suite sandbox, so it uses nothing beyond the safe base
-- library; `where` is supplied by the host.

local where = ...   -- host function: where(level) -> "file:line"

local ob = {}

local function fail(msg, level)
  error(msg, (level or 1) + 1)
end

local function check_name(kind, name, level)
  if type(name) ~= "string" or not name:match("^[%a_][%w_%-%.]*$") then
    fail(("bad argument #1 to '%s' (name expected, got %s)"):format(kind, type(name)), level + 1)
  end
end

local function check_params(kind, name, params, level)
  if params == nil then return {} end
  if type(params) ~= "table" then
    fail(("bad argument #2 to '%s' (table of parameters expected, got %s)"):format(kind, type(params)),
         level + 1)
  end
  local copy = {}
  for k, v in pairs(params) do
    if type(k) ~= "string" then
      fail(("%s '%s': parameter names must be strings"):format(kind, name), level + 1)
    end
    local tv = type(v)
    if tv ~= "number" and tv ~= "boolean" and not (tv == "table" and kind == "task") then
      fail(("%s '%s': parameter '%s' must be a number or boolean, got %s"):format(kind, name, k, tv),
           level + 1)
    end
    if tv == "number" and (v ~= v or v == math.huge or v == -math.huge) then
      fail(("%s '%s': parameter '%s' is %s; give a finite number"):format(kind, name, k,
           v ~= v and "NaN" or "infinite"), level + 1)
    end
    copy[k] = v
  end
  return copy
end

-- A task's overrides: { init = { <initializer name> = { params } } }, the
-- initializer parameters that apply to this task's cells only (e.g. the
-- RNN input scale, which the paper sets per problem).
local function check_overrides(name, over, level)
  if type(over) ~= "table" then
    fail(("bad argument #3 to 'task' (table of overrides expected, got %s)"):format(type(over)), level + 1)
  end
  local copy = {}
  for kind, per_plugin in pairs(over) do
    if kind ~= "init" then
      fail(("task '%s': overrides may only set 'init' parameters, not '%s'"):format(name, tostring(kind)),
           level + 1)
    end
    if type(per_plugin) ~= "table" then
      fail(("task '%s': overrides.init must map initializer names to parameter tables"):format(name),
           level + 1)
    end
    copy.init = {}
    for pname, params in pairs(per_plugin) do
      check_name("initializer", pname, level + 1)
      copy.init[pname] = check_params("initializer", pname, params, level + 1)
    end
  end
  return copy
end

-- where(2) is the line of the suite that called the declaring function.
local function declaration(kind)
  return function(name, params, overrides)
    check_name(kind, name, 2)
    local d = { kind = kind, name = name, params = check_params(kind, name, params, 2), where = where(2) }
    if overrides ~= nil then
      if kind ~= "task" then fail(("bad argument #3 to '%s' (only tasks take overrides)"):format(kind), 2) end
      d.overrides = check_overrides(name, overrides, 2)
    end
    return d
  end
end

--- ob.optimizer(name [, params])    e.g. ob.optimizer("nag")
ob.optimizer = declaration("optimizer")
--- ob.schedule(name [, params])     e.g. ob.schedule("sutskever2013", {mu_max = 0.99})
ob.schedule = declaration("schedule")
--- ob.init(name [, params])         e.g. ob.init("sparse", {scale = 1})
ob.init = declaration("initializer")
--- ob.task(name [, options [, overrides]])   e.g. ob.task("mnist", {batch = 200}),
--  ob.task("addition", {T = 80}, {init = {esn = {input_scale = 0.001}}})
ob.task = declaration("task")

local method_budget_keys = { updates = true, eval_every = true, eval_train_cases = true }

--- ob.method{optimizer = ..., schedule = ..., label = "..." [, tasks = {...}] [, budgets = {...}]
--             [, task = {...}]}
-- An optimizer paired with the schedule that drives it (SGD needs no
-- momentum schedule; CM and NAG share one). The label names it in reports.
-- Optional: `tasks` lists the task names the method runs on (default: all
-- of the suite's tasks), for settings that differ per task (HF's curvature
-- chunks); `budgets` = { <budget> = { updates, eval_every, eval_train_cases } }
-- overrides those counts of a suite budget for this method's cells (an HF
-- iteration is not an SGD update); `task` = { <option> = value } adds task
-- options to this method's cells only (Table 5's "biases" column trains the
-- model with biases_only = true beside the full RNNs of the other columns);
-- a budget's task options still apply on top.
local method_keys = { optimizer = true, schedule = true, label = true, tasks = true, budgets = true,
                      task = true }

function ob.method(spec)
  if type(spec) ~= "table" then fail("bad argument #1 to 'method' (table expected)", 2) end
  for k in pairs(spec) do
    if not method_keys[k] then
      fail(("method: unknown field '%s' (known: optimizer, schedule, label, tasks, budgets, task)")
           :format(tostring(k)), 2)
    end
  end
  local tasks, budgets = spec.tasks, spec.budgets
  local task_options = spec.task ~= nil and check_params("task", "method", spec.task, 2) or nil
  if tasks ~= nil then
    if type(tasks) ~= "table" or #tasks == 0 then fail("method: 'tasks' must be a list of task names", 2) end
    local set = {}
    for _, t in ipairs(tasks) do
      if type(t) ~= "string" then fail("method: 'tasks' must be a list of task names", 2) end
      set[t] = true
    end
    tasks = set
  end
  if budgets ~= nil then
    if type(budgets) ~= "table" then fail("method: 'budgets' must be a table of budget overrides", 2) end
    for bname, mb in pairs(budgets) do
      if type(mb) ~= "table" then fail(("method: budget override '%s' must be a table"):format(tostring(bname)), 2) end
      for k, v in pairs(mb) do
        if not method_budget_keys[k] then
          fail(("method: budget override '%s' has unknown field '%s' (known: updates, eval_every, " ..
                "eval_train_cases)"):format(tostring(bname), tostring(k)), 2)
        end
        if type(v) ~= "number" or v < 0 or v % 1 ~= 0 then
          fail(("method: budget override '%s': '%s' must be a non-negative integer"):format(tostring(bname), k), 2)
        end
      end
    end
  end
  local opt, sched = spec.optimizer, spec.schedule
  if type(opt) == "string" then opt = { kind = "optimizer", name = opt, params = {}, where = where(2) } end
  if type(sched) == "string" then sched = { kind = "schedule", name = sched, params = {}, where = where(2) } end
  if type(opt) ~= "table" or opt.kind ~= "optimizer" then
    fail("method: 'optimizer' must be ob.optimizer(...) or a name", 2)
  end
  sched = sched or { kind = "schedule", name = "constant", params = { mu = 0 }, where = where(2) }
  if sched.kind ~= "schedule" then fail("method: 'schedule' must be ob.schedule(...)", 2) end
  return { optimizer = opt, schedule = sched, label = spec.label or opt.name, tasks = tasks,
           budgets = budgets, task_options = task_options, where = where(2) }
end

local budget_keys = {
  updates = true, eval_every = true, eval_train_cases = true, task = true, schedule = true,
  optimizer = true, seeds = true, lr = true, description = true,
}

local function check_budget(suite_name, bname, b)
  if type(b) ~= "table" then fail(("suite '%s': budget '%s' must be a table"):format(suite_name, bname), 3) end
  for k in pairs(b) do
    if not budget_keys[k] then
      fail(("suite '%s': budget '%s' has unknown field '%s' (known: updates, eval_every, " ..
            "eval_train_cases, task, schedule, optimizer, seeds, lr, description)"):format(suite_name, bname, k), 3)
    end
  end
  if type(b.updates) ~= "number" or b.updates < 1 or b.updates % 1 ~= 0 then
    fail(("suite '%s': budget '%s' needs 'updates', a positive integer"):format(suite_name, bname), 3)
  end
end

local function budget_names_of(budgets)
  local names = {}
  for k in pairs(budgets) do names[#names + 1] = k end
  table.sort(names)
  return table.concat(names, ", ")
end

local function list_of(x) if x == nil then return nil end if x.kind or x.optimizer then return { x } end return x end

--- ob.suite{...} declares a suite; the suite file returns it.
-- Fields: name, description, seed, tasks, inits, methods, lr (list),
-- seeds (list), budgets = {smoke = {...}, short = {...}, paper = {...}},
-- default_budget, plugin_dirs (relative to the suite file).
function ob.suite(s)
  if type(s) ~= "table" then fail("bad argument #1 to 'suite' (table expected)", 2) end
  if type(s.name) ~= "string" or not s.name:match("^[%w_%-]+$") then
    fail("suite: 'name' must be a string of letters, digits, '_' or '-'", 2)
  end
  local known = { name = 1, description = 1, seed = 1, tasks = 1, task = 1, inits = 1, init = 1,
                  methods = 1, lr = 1, seeds = 1, budgets = 1, default_budget = 1, plugin_dirs = 1,
                  paper = 1 }
  for k in pairs(s) do
    if not known[k] then fail(("suite '%s': unknown field '%s'"):format(s.name, tostring(k)), 2) end
  end
  s.tasks = list_of(s.tasks or s.task)
  s.inits = list_of(s.inits or s.init) or { ob.init("sparse") }
  if not s.tasks or #s.tasks == 0 then fail(("suite '%s': no tasks"):format(s.name), 2) end
  if type(s.methods) ~= "table" or #s.methods == 0 then fail(("suite '%s': no methods"):format(s.name), 2) end
  if type(s.lr) == "number" then s.lr = { s.lr } end
  if type(s.lr) ~= "table" or #s.lr == 0 then fail(("suite '%s': 'lr' must list learning rates"):format(s.name), 2) end
  s.seeds = s.seeds or { 1 }
  s.seed = s.seed or 0
  if type(s.budgets) ~= "table" then fail(("suite '%s': no budgets"):format(s.name), 2) end
  for bname, b in pairs(s.budgets) do check_budget(s.name, bname, b) end
  s.default_budget = s.default_budget or (s.budgets.short and "short") or next(s.budgets)
  -- names inside override tables must name something of this suite: a typo
  -- would otherwise be ignored silently
  local used = { schedule = {}, optimizer = {}, task = {} }
  for _, m in ipairs(s.methods) do
    used.schedule[m.schedule.name] = true
    used.optimizer[m.optimizer.name] = true
  end
  for _, t in ipairs(s.tasks) do used.task[t.name] = true end
  local function known(set)
    local names = {}
    for k in pairs(set) do names[#names + 1] = k end
    table.sort(names)
    return table.concat(names, ", ")
  end
  for bname, b in pairs(s.budgets) do
    for _, kind in ipairs({ "schedule", "optimizer" }) do
      if b[kind] ~= nil and type(b[kind]) ~= "table" then
        fail(("suite '%s': budget '%s': '%s' must map %s names to parameter tables"):format(s.name, bname, kind, kind), 2)
      end
      for name in pairs(b[kind] or {}) do
        if not used[kind][name] then
          fail(("suite '%s': budget '%s' sets parameters of %s '%s', which no method uses (the methods use: %s)")
               :format(s.name, bname, kind, tostring(name), known(used[kind])), 2)
        end
      end
    end
  end
  for _, m in ipairs(s.methods) do
    for bname in pairs(m.budgets or {}) do
      if not s.budgets[bname] then
        fail(("suite '%s': method '%s' overrides budget '%s', which the suite does not have (it has: %s)")
             :format(s.name, m.label, tostring(bname), budget_names_of(s.budgets)), 2)
      end
    end
    for tname in pairs(m.tasks or {}) do
      if not used.task[tname] then
        fail(("suite '%s': method '%s' names task '%s', which is not among the suite's tasks (%s)")
             :format(s.name, m.label, tname, known(used.task)), 2)
      end
    end
  end
  s.where = where(2)
  s.is_suite = true
  return s
end

local function merge(base, over)
  local out = {}
  for k, v in pairs(base or {}) do out[k] = v end
  for k, v in pairs(over or {}) do out[k] = v end
  return out
end

local function budget_names(s)
  local names = {}
  for k in pairs(s.budgets) do names[#names + 1] = k end
  table.sort(names)
  return table.concat(names, ", ")
end

--- Expands a suite and a budget name into the list of cells (host use).
function ob.expand(s, budget_name)
  if type(s) ~= "table" or not s.is_suite then
    error("the suite file must return ob.suite{...}", 0)
  end
  budget_name = budget_name or s.default_budget
  local b = s.budgets[budget_name]
  if not b then
    error(("suite '%s' has no budget '%s' (it has: %s)"):format(s.name, budget_name, budget_names(s)), 0)
  end
  local lrs = b.lr or s.lr
  local seeds = b.seeds or s.seeds
  local cells = {}
  for _, task in ipairs(s.tasks) do
    for _, init in ipairs(s.inits) do
      for _, m in ipairs(s.methods) do
        local mb = (m.budgets and m.budgets[budget_name]) or {}
        for _, lr in ipairs((m.tasks == nil or m.tasks[task.name]) and lrs or {}) do
          for _, seed in ipairs(seeds) do
            local sched_over = b.schedule and b.schedule[m.schedule.name]
            local opt_over = b.optimizer and b.optimizer[m.optimizer.name]
            cells[#cells + 1] = {
              suite = s.name,
              budget = budget_name,
              task = merge(merge(merge(task.params, m.task_options), b.task), { name = task.name }),
              init = { name = init.name,
                       params = merge(init.params, task.overrides and task.overrides.init and
                                                   task.overrides.init[init.name]) },
              optimizer = { name = m.optimizer.name, params = merge(m.optimizer.params, opt_over) },
              schedule = { name = m.schedule.name, params = merge(m.schedule.params, sched_over) },
              label = m.label,
              lr = lr,
              seed = seed,
              suite_seed = s.seed,
              updates = mb.updates or b.updates,
              eval_every = mb.eval_every or b.eval_every or mb.updates or b.updates,
              eval_train_cases = mb.eval_train_cases or b.eval_train_cases or 0,
              where = { task = task.where, init = init.where, optimizer = m.optimizer.where,
                        schedule = m.schedule.where, method = m.where },
            }
          end
        end
      end
    end
  end
  return cells
end

return ob
