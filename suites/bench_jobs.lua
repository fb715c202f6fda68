-- bench_jobs.lua -- four short RNN cells for measuring `optbench run -j N`
-- throughput (docs/PERFORMANCE.md): cells per hour with --threads 2 -j 1
-- (one cell at a time, 2 BLAS threads) against -j 2 (two cells at once, 1
-- BLAS thread each). The addition problem at T = 20, 100 tanh units,
-- batch 100 (suites/rnn_addition.lua's model), 400 updates per cell.
local ob = require "optbench"

return ob.suite {
  name = "bench_jobs",
  description = "4 short addition RNN cells for -j throughput",
  seed = 2013,
  task = ob.task("addition", { T = 20, batch = 100, eval_sequences = 1000,
                               train_eval_sequences = 1000 },
                 { init = { esn = { input_scale = 0.001 } } }),
  init = ob.init("esn", { spectral_radius = 1.1, connections = 15, output_scale = 0.1 }),
  methods = {
    ob.method { label = "mu0=0", optimizer = ob.optimizer("nag"),
                schedule = ob.schedule("rnn_warmup", { mu = 0 }) },
    ob.method { label = "NAG mu0=0.995", optimizer = ob.optimizer("nag"),
                schedule = ob.schedule("rnn_warmup", { mu = 0.995 }) },
  },
  lr = { 1e-3, 1e-4 },
  seeds = { 1 },
  budgets = { run = { updates = 400, eval_every = 200 } },
  default_budget = "run",
}
