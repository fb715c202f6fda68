-- bench_memory.lua -- nine short cells whose results' timing.peak_rss_mb
-- are checked against the memory budget in docs/PERFORMANCE.md (data +
-- 6 x parameters x 4 bytes + activations + 64 MiB): the CURVES, MNIST and
-- FACES autoencoders with SGD, CM and NAG, 50 updates each and one
-- evaluation at the end. MNIST needs its files (`optbench data fetch mnist`).
local ob = require "optbench"

return ob.suite {
  name = "bench_memory",
  description = "peak memory of SGD, CM and NAG cells on the three autoencoders",
  seed = 1,
  tasks = { ob.task("curves"), ob.task("mnist"), ob.task("faces") },
  init = ob.init("sparse", { scale = 1 }),
  methods = {
    ob.method { label = "SGD", optimizer = ob.optimizer("sgd"),
                schedule = ob.schedule("constant", { mu = 0 }) },
    ob.method { label = "CM", optimizer = ob.optimizer("cm"),
                schedule = ob.schedule("constant", { mu = 0.9 }) },
    ob.method { label = "NAG", optimizer = ob.optimizer("nag"),
                schedule = ob.schedule("constant", { mu = 0.9 }) },
  },
  lr = { 0.001 },
  seeds = { 1 },
  budgets = { run = { updates = 50, eval_every = 50 } },
  default_budget = "run",
}
