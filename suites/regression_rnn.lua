-- regression_rnn.lua -- the golden-baseline suite for the RNN family: the
-- echo-state initializer, the RNN warm-up schedule, SGD, CM, NAG and HF
-- with structural damping, on short addition and 5-bit memorization
-- sequences, at budgets of seconds (docs/REGRESSION.md).
local ob = require "optbench"
local hf = require "hf_presets"

local warm = ob.schedule("rnn_warmup", { mu = 0.98, warmup_updates = 10 })

return ob.suite {
  name = "regression_rnn",
  description = "golden baselines: bundled plugins on the RNN family",
  seed = 20130616,
  tasks = {
    ob.task("addition", { T = 20, batch = 20, eval_sequences = 200, train_eval_sequences = 200 },
            { init = { esn = { input_scale = 0.001 } } }),
    ob.task("mem5", { T = 20, batch = 20, eval_sequences = 200, train_eval_sequences = 200 },
            { init = { esn = { input_scale = 0.1 } } }),
  },
  init = ob.init("esn"),
  methods = {
    ob.method { label = "SGD", optimizer = ob.optimizer("sgd"), schedule = ob.schedule("constant", { mu = 0 }) },
    ob.method { label = "CM", optimizer = ob.optimizer("cm"), schedule = warm },
    ob.method { label = "NAG", optimizer = ob.optimizer("nag"), schedule = warm },
    ob.method { label = "HF", optimizer = ob.optimizer("hf", hf.rnn),
                schedule = ob.schedule("constant", { mu = 0 }),
                budgets = { smoke = { updates = 3, eval_every = 1 } } },
  },
  lr = { 1e-3 },
  seeds = { 1 },
  budgets = {
    smoke = { updates = 30, eval_every = 10 },
  },
  default_budget = "smoke",
}
