-- table3.lua -- the paper's Table 3 (SPEC §6, §4.2): CURVES trained with the
-- best NAG setting (mu_max 0.999) from sparse initializations whose weights
-- are scaled by 0.25, 0.5, 1, 2 and 4. The paper: 0.25 and 0.5 never leave
-- the mean-image plateau (error 16), 1 and 2 train well (0.074, 0.083), 4 is
-- clearly worse (0.35).
local ob = require "optbench"

local inits = {}
for _, s in ipairs { 0.25, 0.5, 1, 2, 4 } do inits[#inits + 1] = ob.init("sparse", { scale = s }) end

return ob.suite {
  name = "table3",
  description = "Table 3: CURVES training error by sparse-initialization scale (NAG, mu_max 0.999)",
  seed = 2013,
  task = ob.task("curves"),
  inits = inits,
  methods = {
    ob.method { label = "0.999N", optimizer = ob.optimizer("nag"),
                schedule = ob.schedule("sutskever2013", { mu_max = 0.999, final_updates = 1000 }) },
  },
  lr = { 0.05, 0.01, 0.005, 0.001, 0.0005, 0.0001 },
  seeds = { 1 },
  budgets = {
    smoke = { updates = 10, eval_every = 5, lr = { 0.005 },
              task = { train_cases = 1000, test_cases = 500 },
              schedule = { sutskever2013 = { final_updates = 3 } } },
    short = { updates = 4000, eval_every = 500, eval_train_cases = 5000, lr = { 0.005 },
              schedule = { sutskever2013 = { final_updates = 400 } } },
    paper = { updates = 750000, eval_every = 25000 },
  },
  default_budget = "short",
}
