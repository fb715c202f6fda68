-- toy.lua -- a seconds-long suite on the synthetic toy task, for tests.
local ob = require "optbench"

local sched = ob.schedule("sutskever2013", { mu_max = 0.9, final_updates = 10 })

return ob.suite {
  name = "toy",
  seed = 7,
  task = ob.task("toy"),
  init = ob.init("sparse"),
  methods = {
    ob.method { label = "SGD", optimizer = ob.optimizer("sgd"), schedule = ob.schedule("constant", { mu = 0 }) },
    ob.method { label = "CM", optimizer = ob.optimizer("cm"), schedule = sched },
    ob.method { label = "NAG", optimizer = ob.optimizer("nag"), schedule = sched },
  },
  lr = { 0.05 },
  seeds = { 1 },
  budgets = {
    smoke = { updates = 60, eval_every = 20 },
  },
  default_budget = "smoke",
}
