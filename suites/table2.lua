-- table2.lua -- the paper's Table 2 (SPEC §6): the effect of the final
-- low-momentum phase on NAG. The best Table 1 settings (CURVES and FACES at
-- mu_max 0.999, MNIST at 0.99) with the final phase; the report shows the
-- training error when the phase starts (the harness evaluates there) and at
-- the end. Each setting runs only on the tasks it is best for: 3 tasks x 6
-- learning rates = 18 cells at the paper's budget.
local ob = require "optbench"

local function nag(mu_max, tasks)
  return ob.method {
    label = ("%gN"):format(mu_max),
    tasks = tasks,
    optimizer = ob.optimizer("nag"),
    schedule = ob.schedule("sutskever2013", { mu_max = mu_max, final_updates = 1000 }),
  }
end

return ob.suite {
  name = "table2",
  description = "Table 2: NAG before and after the final low-momentum phase",
  seed = 2013,
  tasks = { ob.task("curves"), ob.task("mnist"), ob.task("faces") },
  init = ob.init("sparse", { scale = 1 }),
  methods = { nag(0.999, { "curves", "faces" }), nag(0.99, { "mnist" }) },
  lr = { 0.05, 0.01, 0.005, 0.001, 0.0005, 0.0001 },
  seeds = { 1 },
  budgets = {
    smoke = { updates = 10, eval_every = 5, lr = { 0.005 },
              task = { train_cases = 1000, test_cases = 500 },
              schedule = { sutskever2013 = { final_updates = 3 } } },
    short = { updates = 600, eval_every = 200, eval_train_cases = 5000, lr = { 0.005 },
              schedule = { sutskever2013 = { final_updates = 100 } } },
    paper = { updates = 750000, eval_every = 25000 },
  },
  default_budget = "short",
}
