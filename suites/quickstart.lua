-- quickstart.lua -- SGD vs classical momentum vs Nesterov on the real MNIST
-- autoencoder (784-1000-500-250-30, SPEC §3.1), sparse initialization,
-- the paper's momentum schedule with mu_max = 0.99 (SPEC §2).
--
-- The `short` budget (the default) takes 2 to 10 minutes on two cores,
-- depending on the CPU (the README gives a measured time, build and
-- download included); it shows the early part of training, far from the paper's
-- 750,000 updates, so its numbers are NOT the paper's Table 1.
local ob = require "optbench"

local paper_schedule = ob.schedule("sutskever2013", { mu_max = 0.99 })

return ob.suite {
  name = "quickstart",
  description = "SGD vs CM vs NAG on the MNIST autoencoder (short run)",
  seed = 2013,
  task = ob.task("mnist"),
  init = ob.init("sparse", { scale = 1 }),
  methods = {
    ob.method { label = "SGD", optimizer = ob.optimizer("sgd"), schedule = ob.schedule("constant", { mu = 0 }) },
    ob.method { label = "CM mu_max=0.99", optimizer = ob.optimizer("cm"), schedule = paper_schedule },
    ob.method { label = "NAG mu_max=0.99", optimizer = ob.optimizer("nag"), schedule = paper_schedule },
  },
  lr = { 0.01 },
  seeds = { 1 },
  budgets = {
    -- a few seconds: checks that everything runs
    smoke = { updates = 20, eval_every = 10, eval_train_cases = 2000,
              schedule = { sutskever2013 = { final_updates = 5 } } },
    -- 2 to 10 minutes on two cores
    short = { updates = 1500, eval_every = 250, eval_train_cases = 10000,
              schedule = { sutskever2013 = { final_updates = 250 } } },
    -- the paper's budget (SPEC §3): 750,000 updates, last 1000 at mu = 0.9
    paper = { updates = 750000, eval_every = 10000 },
  },
  default_budget = "short",
}
