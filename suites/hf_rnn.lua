-- hf_rnn.lua -- Hessian-free with structural damping (Martens & Sutskever
-- 2011; paper/HESSIAN_FREE.md section 5) on the addition problem.
--
-- NOTE: this suite needs the RNN task family (task "addition", with
-- Gauss-Newton products that honour ob_problem.gn_product's
-- structural_damping argument). Until that family is in the build, loading
-- this suite fails with "unknown task 'addition'"; it lives apart from
-- suites/hf.lua so that the autoencoder suite keeps working meanwhile.
--
-- Optimizer: lua/hf_presets.lua's `rnn` preset (no preconditioner, 300 CG
-- steps, lambda0 0.01, mu_s 0.03 -- the task's G v gets mu_s * lambda --, rho
-- with the damped model, no Armijo term, CG restart after a rejected step).
-- Initialization: sparse, 15 connections scaled 1/sqrt(15) as in Sutskever's
-- HF-RNN release (its extra x0.25 on the input weights is not applied).
--
-- UNITS: one update is one HF iteration (up to 300 CG steps), not an SGD
-- step. The HF-RNN release stops when the test zero-one loss is below 0.001;
-- the runner runs the whole budget instead.
local ob = require "optbench"
local hf = require "hf_presets"

return ob.suite {
  name = "hf_rnn",
  description = "HF with structural damping on the addition problem (T = the task's default)",
  seed = 2011,
  task = ob.task("addition"),
  init = ob.init("sparse", { scale = 0.2581988897 }), -- 1/sqrt(15)
  methods = {
    ob.method { label = "HF-RNN", optimizer = ob.optimizer("hf", hf.rnn),
                schedule = ob.schedule("constant", { mu = 0 }) },
  },
  lr = { 1 }, -- unused: the line search sets the rate
  seeds = { 1, 2, 3, 4 },
  budgets = {
    smoke = { updates = 2, eval_every = 1, seeds = { 1 }, optimizer = { hf = { max_cg = 10, min_cg = 10 } } },
    short = { updates = 50, eval_every = 5, seeds = { 1 } },
    paper = { updates = 1000, eval_every = 10 },
  },
  default_budget = "short",
}
