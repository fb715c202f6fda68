-- hf.lua -- Hessian-free on the paper's three deep autoencoders (SPEC §3.1):
-- the two HF columns of Table 1, one method per task because HF's settings
-- differ per data set (paper/HESSIAN_FREE.md):
--
--   "HF*"  Martens 2010 HF with L2 (HFDemo constants; CURVES 4 curvature
--          chunks and weightcost 2e-5, MNIST 8 and 1e-5, FACES 20 and 5e-6);
--   "HF†"  the paper's momentum-like hybrid (fixed rate, mini-batch gradient
--          and curvature, raised CG decay, annealed rate, full-batch finish;
--          the FACES schedule is not in the paper and is inferred).
--
-- The labels are Table 1's column names, so a Table 1 report can put these
-- cells beside the CM and NAG cells of the momentum suites.
--
-- UNITS: one update of an HF cell is one HF iteration (one parameter update
-- made of up to 250 CG steps, each a Gauss-Newton product on a curvature
-- chunk of thousands of cases), NOT one SGD step on 200 cases. Each cell
-- records the CG steps per evaluation interval (curve.cg_iters) and the
-- chosen iterate, lambda, rho and line-search rate of the last iteration.
-- Optimizer time counts everything HF does (gradients, CG, backtracking,
-- line search, the rho evaluations); evaluations are timed apart.
--
-- Budgets (estimates from `ob_bench_hf` on one core, see
-- docs/REPRODUCTION.md: a CG step costs ~1.1 s on CURVES, ~7 s on MNIST,
-- ~12 s on FACES with full-size chunks):
--   smoke  2 HF iterations on the first 2,000 training cases, at most 10 CG
--          steps each: checks that the cells run (about a minute in all);
--   short  20 HF iterations, full data: HF* reaches the end of CURVES's
--          plateau phase (~10 min on CURVES; hours on MNIST and FACES);
--   paper  HF*: 300 iterations (Martens' CURVES reference run; the same for
--          MNIST and FACES [inferred]); HF†: the whole schedule of
--          lua/hf_presets.lua (CURVES 13,000, MNIST 7,500, FACES 7,500
--          iterations). Far beyond a small CPU machine.
local ob = require "optbench"
local hf = require "hf_presets"

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- HF* and HF† for one task; `dagger_iters` is the full HF† schedule length.
local function hf_methods(task, martens, dagger, dagger_iters)
  return
    ob.method {
      label = "HF*", tasks = { task },
      optimizer = ob.optimizer("hf", copy(martens)),
      schedule = ob.schedule("constant", { mu = 0 }),
      budgets = { paper = { updates = 300, eval_every = 1 } },
    },
    ob.method {
      label = "HF†", tasks = { task },
      optimizer = ob.optimizer("hf", copy(dagger)),
      schedule = ob.schedule("constant", { mu = 0 }),
      budgets = { paper = { updates = dagger_iters, eval_every = 100, eval_train_cases = 5000 } },
    }
end

local methods = {}
for _, m in ipairs({
  { hf_methods("curves", hf.martens_curves, hf.dagger_curves, 13000) },
  { hf_methods("mnist", hf.martens_mnist, hf.dagger_mnist, 7500) },
  { hf_methods("faces", hf.martens_faces, hf.dagger_faces, 7500) },
}) do
  for _, x in ipairs(m) do methods[#methods + 1] = x end
end

return ob.suite {
  name = "hf",
  description = "Hessian-free (HF* Martens 2010, HF† the paper's hybrid) on CURVES, MNIST and FACES",
  seed = 2013,
  tasks = { ob.task("curves"), ob.task("mnist"), ob.task("faces") },
  init = ob.init("sparse", { scale = 1 }),
  methods = methods,
  lr = { 1 }, -- HF* ignores it (line search); HF† uses it as its fixed rate epsilon = 1
  seeds = { 1 },
  budgets = {
    smoke = { updates = 2, eval_every = 1, eval_train_cases = 2000,
              task = { train_cases = 2000 }, optimizer = { hf = { max_cg = 10 } } },
    short = { updates = 20, eval_every = 1, eval_train_cases = 5000 },
    paper = { updates = 300, eval_every = 1 },
  },
  default_budget = "short",
}
