-- rnn_small.lua -- two small RNN cells (addition with its linear output,
-- 20-bit memorization with its softmax output; esn initialization, NAG
-- with the warm-up schedule) for checks that run whole cells slowly, such
-- as valgrind memcheck (docs/RELIABILITY.md).
local ob = require "optbench"

return ob.suite {
  name = "rnn_small",
  seed = 5,
  tasks = {
    ob.task("addition", { T = 20, batch = 20, eval_sequences = 100, train_eval_sequences = 100 },
            { init = { esn = { input_scale = 0.001 } } }),
    ob.task("mem20", { T = 24, batch = 20, eval_sequences = 100, train_eval_sequences = 100 },
            { init = { esn = { input_scale = 0.1 } } }),
  },
  init = ob.init("esn"),
  methods = {
    ob.method { label = "NAG", optimizer = ob.optimizer("nag"),
                schedule = ob.schedule("rnn_warmup", { mu = 0.99, warmup_updates = 5 }) },
  },
  lr = { 1e-3 },
  budgets = { smoke = { updates = 10, eval_every = 5 } },
}
