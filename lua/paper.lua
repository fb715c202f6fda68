-- paper.lua -- the published numbers of Sutskever et al. (ICML 2013) that
-- reports print beside optbench's (SPEC.md §6, verbatim).
--
-- Every number is stored as the text the paper prints ("0.10", "1.20",
-- "0.00005", "8.0"), so a report shows it digit for digit; "NA" where the
-- paper has no number. paper.number(text) is its value (nil for "NA").
local paper = {}

function paper.number(text) return tonumber(text) end

-- Table 1: final training squared error per case. Columns: mu_max with N
-- (NAG) or M (CM); "sgd" is the mu = 0 column; hf_dagger the paper's
-- hybrid HF, hf_star Martens 2010.
paper.table1 = {
  columns = { "sgd", "0.9N", "0.99N", "0.995N", "0.999N", "0.9M", "0.99M", "0.995M", "0.999M",
              "sgd_c", "hf_dagger", "hf_star" },
  headers = { "0 (SGD)", "0.9N", "0.99N", "0.995N", "0.999N", "0.9M", "0.99M", "0.995M", "0.999M",
              "SGD-C", "HF†", "HF*" },
  rows = {
    curves = { sgd = "0.48", ["0.9N"] = "0.16", ["0.99N"] = "0.096", ["0.995N"] = "0.091", ["0.999N"] = "0.074",
               ["0.9M"] = "0.15", ["0.99M"] = "0.10", ["0.995M"] = "0.10", ["0.999M"] = "0.10",
               sgd_c = "0.16", hf_dagger = "0.058", hf_star = "0.11" },
    mnist = { sgd = "2.1", ["0.9N"] = "1.0", ["0.99N"] = "0.73", ["0.995N"] = "0.75", ["0.999N"] = "0.80",
              ["0.9M"] = "1.0", ["0.99M"] = "0.77", ["0.995M"] = "0.84", ["0.999M"] = "0.90",
              sgd_c = "0.9", hf_dagger = "0.69", hf_star = "1.40" },
    faces = { sgd = "36.4", ["0.9N"] = "14.2", ["0.99N"] = "8.5", ["0.995N"] = "7.8", ["0.999N"] = "7.7",
              ["0.9M"] = "15.3", ["0.99M"] = "8.7", ["0.995M"] = "8.3", ["0.999M"] = "9.3",
              sgd_c = "NA", hf_dagger = "7.5", hf_star = "12.0" },
  },
  tasks = { "curves", "mnist", "faces" },
}

-- Table 2: NAG before and after the final low-momentum phase; the mu_max
-- of the best Table 1 entry (SPEC §6).
paper.table2 = {
  curves = { mu_max = "0.999", before = "0.096", after = "0.074" },
  mnist = { mu_max = "0.99", before = "1.20", after = "0.73" },
  faces = { mu_max = "0.999", before = "10.83", after = "7.7" },
}

-- Table 3: CURVES, best NAG setting, by sparse-init scale.
paper.table3 = { scales = { "0.25", "0.5", "1", "2", "4" }, errors = { "16", "16", "0.074", "0.083", "0.35" } }

-- Table 5: RNN zero-one errors averaged over 4 seeds. Columns: mu_0 with
-- N or M; "biases" a model learning only its output biases; "0" is mu_0 = 0.
paper.table5 = {
  columns = { "biases", "0", "0.9N", "0.98N", "0.995N", "0.9M", "0.98M", "0.995M" },
  rows = {
    addition = { biases = "0.82", ["0"] = "0.39", ["0.9N"] = "0.02", ["0.98N"] = "0.21", ["0.995N"] = "0.00025",
                 ["0.9M"] = "0.43", ["0.98M"] = "0.62", ["0.995M"] = "0.036" },
    multiplication = { biases = "0.84", ["0"] = "0.48", ["0.9N"] = "0.36", ["0.98N"] = "0.22", ["0.995N"] = "0.0013",
                       ["0.9M"] = "0.029", ["0.98M"] = "0.025", ["0.995M"] = "0.37" },
    mem5 = { biases = "2.5", ["0"] = "1.27", ["0.9N"] = "1.02", ["0.98N"] = "0.96", ["0.995N"] = "0.63",
             ["0.9M"] = "1.12", ["0.98M"] = "1.09", ["0.995M"] = "0.92" },
    mem20 = { biases = "8.0", ["0"] = "5.37", ["0.9N"] = "2.77", ["0.98N"] = "0.0144", ["0.995N"] = "0.00005",
              ["0.9M"] = "1.75", ["0.98M"] = "0.0017", ["0.995M"] = "0.053" },
  },
  tasks = { "addition", "multiplication", "mem5", "mem20" },
}

-- The paper's budget: what a number must have been produced at to be
-- called a reproduction (SPEC §3, §5).
paper.budget = { autoencoder_updates = 750000, autoencoder_batch = 200,
                 rnn_updates = 50000, rnn_batch = 100 }

return paper
