-- hf_curves.lua -- Martens' HF on CURVES, set up like his reference run
-- (paper/HESSIAN_FREE.md section 3; shared/data/reference_logs/
-- HF_martens_HFDemo_CURVES_HFtestrun2_expectedoutput.txt): HFDemo constants
-- (lambda0 45, drop 2/3, boost 3/2, 4 curvature chunks, weightcost 2e-5,
-- CG decay 0.95, at most 250 CG steps), sparse initialization, the full
-- training and test sets evaluated after every HF iteration (as his log
-- does). docs/REPRODUCTION.md compares the result with his log.
--
-- UNITS: one update is one HF iteration (his "epoch").
-- Budgets: smoke 2 iterations on 2,000 cases; log20 20 iterations (~10 min
-- on one core); log100 100 iterations (~10,000 CG steps: 79 min with 2
-- BLAS threads on a 180 GFLOP/s 2-core machine); log300 his whole run
-- (~60,000 CG steps, several hours).
local ob = require "optbench"
local hf = require "hf_presets"

return ob.suite {
  name = "hf_curves",
  description = "Martens (2010) HF on CURVES, compared with his HFDemo reference log",
  seed = 1234,
  task = ob.task("curves"),
  init = ob.init("sparse", { scale = 1 }),
  methods = {
    ob.method { label = "HF*", optimizer = ob.optimizer("hf", hf.martens_curves),
                schedule = ob.schedule("constant", { mu = 0 }) },
  },
  lr = { 1 }, -- unused: the line search sets the rate
  seeds = { 1 },
  budgets = {
    smoke = { updates = 2, eval_every = 1, task = { train_cases = 2000 } },
    log20 = { updates = 20, eval_every = 1 },
    log100 = { updates = 100, eval_every = 1 },
    log300 = { updates = 300, eval_every = 1 },
  },
  default_budget = "log20",
}
