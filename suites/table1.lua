-- table1.lua -- the paper's Table 1 (SPEC §6): deep autoencoders on CURVES,
-- MNIST and FACES; SGD, and CM and NAG under the paper's schedule at
-- mu_max in {0.9, 0.99, 0.995, 0.999}, over the paper's learning-rate grid,
-- with the final low-momentum phase (last 1000 updates at mu = 0.9).
-- Sparse initialization (SPEC §4.1). The report picks the best learning
-- rate per cell, as the paper did.
--
-- Budgets: `paper` is the paper's protocol (750,000 updates, 162 cells;
-- weeks of CPU: see `optbench plan`); `short` a few thousand updates on a
-- subset of the grid; `smoke` seconds per cell on data subsets.
-- CURVES and FACES are regenerated unless the original files are present:
-- the report says which.
local ob = require "optbench"

local methods = {
  ob.method { label = "SGD", optimizer = ob.optimizer("sgd"), schedule = ob.schedule("constant", { mu = 0 }) },
}
for _, opt in ipairs { { "nag", "N" }, { "cm", "M" } } do
  for _, mu_max in ipairs { 0.9, 0.99, 0.995, 0.999 } do
    methods[#methods + 1] = ob.method {
      label = ("%g%s"):format(mu_max, opt[2]),
      optimizer = ob.optimizer(opt[1]),
      schedule = ob.schedule("sutskever2013", { mu_max = mu_max, final_updates = 1000 }),
    }
  end
end

return ob.suite {
  name = "table1",
  description = "Table 1: SGD, CM and NAG on the three deep autoencoders",
  seed = 2013,
  tasks = { ob.task("curves"), ob.task("mnist"), ob.task("faces") },
  init = ob.init("sparse", { scale = 1 }),
  methods = methods,
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
