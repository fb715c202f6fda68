-- regression.lua -- the golden-baseline suite for the autoencoder family:
-- every bundled first-order optimizer, schedule and feed-forward initializer,
-- and HF, on the synthetic toy task and on a slice of (regenerated) CURVES
-- with the paper's 12-layer network, at budgets of seconds. Its results are
-- committed in results/baselines/regression/ and a ctest target reruns and
-- compares them (docs/REGRESSION.md). suites/regression_rnn.lua covers the
-- RNN family.
local ob = require "optbench"

local paper = ob.schedule("sutskever2013", { mu_max = 0.99, final_updates = 10 })

return ob.suite {
  name = "regression",
  description = "golden baselines: bundled plugins on the autoencoder family",
  seed = 20130616,
  tasks = { ob.task("toy"), ob.task("curves", { train_cases = 600, test_cases = 200 }) },
  inits = { ob.init("sparse"), ob.init("gaussian", { std = 0.1 }) },
  methods = {
    ob.method { label = "SGD", optimizer = ob.optimizer("sgd"), schedule = ob.schedule("constant", { mu = 0 }) },
    ob.method { label = "CM", optimizer = ob.optimizer("cm"), schedule = paper },
    ob.method { label = "NAG", optimizer = ob.optimizer("nag"), schedule = paper },
    ob.method { label = "NAG-const", optimizer = ob.optimizer("nag"), schedule = ob.schedule("constant", { mu = 0.9 }) },
    ob.method { label = "HF", optimizer = ob.optimizer("hf", { numchunks = 3, max_cg = 8 }),
                schedule = ob.schedule("constant", { mu = 0 }),
                budgets = { smoke = { updates = 3, eval_every = 1 } } },
  },
  lr = { 0.05 },
  seeds = { 1 },
  budgets = {
    smoke = { updates = 40, eval_every = 10 },
  },
  default_budget = "smoke",
}
