-- regression.lua -- the golden-baseline suite: every bundled optimizer,
-- schedule and initializer on every task family, at budgets of seconds.
-- Its results are committed in results/baselines/regression/ and a ctest
-- target reruns and compares them (docs/REGRESSION.md).
local ob = require "optbench"

local paper = ob.schedule("sutskever2013", { mu_max = 0.99, final_updates = 10 })

return ob.suite {
  name = "regression",
  description = "golden baselines: bundled plugins on every task family",
  seed = 20130616,
  tasks = { ob.task("toy") },
  inits = { ob.init("sparse"), ob.init("gaussian", { std = 0.1 }) },
  methods = {
    ob.method { label = "SGD", optimizer = ob.optimizer("sgd"), schedule = ob.schedule("constant", { mu = 0 }) },
    ob.method { label = "CM", optimizer = ob.optimizer("cm"), schedule = paper },
    ob.method { label = "NAG", optimizer = ob.optimizer("nag"), schedule = paper },
    ob.method { label = "NAG-const", optimizer = ob.optimizer("nag"), schedule = ob.schedule("constant", { mu = 0.9 }) },
  },
  lr = { 0.05 },
  seeds = { 1 },
  budgets = {
    smoke = { updates = 40, eval_every = 10 },
  },
  default_budget = "smoke",
}
