-- report.lua -- the comparison report of a results directory.
--
-- report.build{run = <run.json>, cells = {<result>, ...}} returns
--   { markdown = <text>, html = <text>, csv = <summary.csv text>,
--     plots = { {name = ..., title = ..., script = <gnuplot script>}, ... } }
-- The host renders each plot with gnuplot (SVG), writes plots/<name>.svg
-- beside report.md and replaces the marker @@PLOT:<name>@@ in the HTML with
-- the SVG itself, so report.html is self-contained.
--
-- Aggregation rules (stated in the report itself):
--   * a method is a (task, initializer, label) group; seeds are aggregated;
--   * the best learning rate of a method is the one with the lowest median
--     final training error over seeds (diverged runs count as +inf), the
--     way the paper chose its learning rates (SPEC §3);
--   * statistics over seeds: mean with a 95% t confidence interval, and
--     median with the inter-quartile range;
--   * time-to-target: optimizer seconds until the training error first
--     reaches the task's target (2x the best final median error of any
--     method in the run, unless the suite sets one); never reached = inf.

local stats = require "stats"
local paper = require "paper"

local report = {}

local inf = math.huge

---------------------------------------------------------------------------
-- small helpers

local function isnum(x) return type(x) == "number" and x == x end

local function fmt(x, digits)
  if x == nil then return "–" end
  if type(x) ~= "number" then return tostring(x) end
  if x ~= x then return "–" end
  if x == inf then return "∞" end
  if x == -inf then return "-∞" end
  return ("%." .. (digits or 4) .. "g"):format(x)
end

local function sorted_keys(t, cmp)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, cmp)
  return keys
end

local function html_escape(s)
  return (tostring(s):gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"):gsub('"', "&quot;"))
end

local function canon(t)
  -- a stable string for a flat table of parameters
  if type(t) ~= "table" then return tostring(t) end
  local parts = {}
  for _, k in ipairs(sorted_keys(t)) do parts[#parts + 1] = k .. "=" .. canon(t[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end

local function final_train(r)
  if r.status ~= "done" then return inf end
  local e = r.final and r.final.train_error
  return isnum(e) and e or inf
end

-- Table 5's errors: the held-out set (fresh sequences from the task's
-- generator), which the RNN tasks always have.
local function final_test(r)
  if r.status ~= "done" then return inf end
  local e = r.final and r.final.test_error
  return isnum(e) and e or inf
end

local function mu_label(x) return ("%g"):format(x) end

-- What a report shows for timings and an environment the results lack.
local not_recorded = "not recorded"

-- The initialization of the paper's Tables 1 and 2: sparse at scale 1.
local function is_paper_init(c)
  return c.init.name == "sparse" and ((c.init.params or {}).scale or 1) == 1
end

---------------------------------------------------------------------------
-- a document model rendered to Markdown and to HTML

local Doc = {}
Doc.__index = Doc

local function new_doc() return setmetatable({ blocks = {} }, Doc) end
function Doc:h(level, text) self.blocks[#self.blocks + 1] = { "h", level, text } end
function Doc:p(text) self.blocks[#self.blocks + 1] = { "p", text } end
function Doc:note(text) self.blocks[#self.blocks + 1] = { "note", text } end
function Doc:table(header, rows, caption) self.blocks[#self.blocks + 1] = { "table", header, rows, caption } end
function Doc:plot(name, title) self.blocks[#self.blocks + 1] = { "plot", name, title } end
function Doc:details(summary, header, rows) self.blocks[#self.blocks + 1] = { "details", summary, header, rows } end

local function md_table(out, header, rows)
  out[#out + 1] = "| " .. table.concat(header, " | ") .. " |"
  local sep = {}
  for i = 1, #header do sep[i] = "---" end
  out[#out + 1] = "|" .. table.concat(sep, "|") .. "|"
  for _, r in ipairs(rows) do out[#out + 1] = "| " .. table.concat(r, " | ") .. " |" end
  out[#out + 1] = ""
end

function Doc:markdown()
  local out = {}
  for _, b in ipairs(self.blocks) do
    local kind = b[1]
    if kind == "h" then
      out[#out + 1] = ("#"):rep(b[2]) .. " " .. b[3]
      out[#out + 1] = ""
    elseif kind == "p" then
      out[#out + 1] = b[2]
      out[#out + 1] = ""
    elseif kind == "note" then
      out[#out + 1] = "> " .. b[2]
      out[#out + 1] = ""
    elseif kind == "table" then
      if b[4] then out[#out + 1] = b[4]; out[#out + 1] = "" end
      md_table(out, b[2], b[3])
    elseif kind == "plot" then
      out[#out + 1] = ("![%s](plots/%s.svg)"):format(b[3], b[2])
      out[#out + 1] = ""
    elseif kind == "details" then
      out[#out + 1] = b[2] .. ":"
      out[#out + 1] = ""
      md_table(out, b[3], b[4])
    end
  end
  return table.concat(out, "\n")
end

local css = [[
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1150px;color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.6em;border-bottom:2px solid #333;padding-bottom:.2em}
h2{font-size:1.3em;margin-top:1.6em;border-bottom:1px solid #ccc}
h3{font-size:1.1em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:right}
th{background:#f0f0f0}
td:first-child,th:first-child{text-align:left}
.note{background:#fff6d6;border-left:4px solid #e0b000;padding:.5em .8em;margin:1em 0}
.caption{color:#555;font-size:.9em}
.plot{display:inline-block;width:560px;max-width:100%;margin:.3em;vertical-align:top}
.plot svg{width:100%;height:auto}
details{margin:.5em 0 1em}
code{background:#f4f4f4;padding:0 .2em}
]]

local function inline_md(s)
  s = html_escape(s)
  s = s:gsub("%*%*(.-)%*%*", "<b>%1</b>")
  s = s:gsub("`(.-)`", "<code>%1</code>")
  return s
end

local function html_table(out, header, rows)
  out[#out + 1] = "<table><thead><tr>"
  for _, h in ipairs(header) do out[#out + 1] = "<th>" .. inline_md(h) .. "</th>" end
  out[#out + 1] = "</tr></thead><tbody>"
  for _, r in ipairs(rows) do
    out[#out + 1] = "<tr>"
    for _, c in ipairs(r) do out[#out + 1] = "<td>" .. inline_md(c) .. "</td>" end
    out[#out + 1] = "</tr>"
  end
  out[#out + 1] = "</tbody></table>"
end

function Doc:html(title)
  local out = { "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>" .. html_escape(title) ..
                "</title><style>" .. css .. "</style></head><body>" }
  for _, b in ipairs(self.blocks) do
    local kind = b[1]
    if kind == "h" then
      out[#out + 1] = ("<h%d>%s</h%d>"):format(b[2], inline_md(b[3]), b[2])
    elseif kind == "p" then
      out[#out + 1] = "<p>" .. inline_md(b[2]) .. "</p>"
    elseif kind == "note" then
      out[#out + 1] = "<div class=\"note\">" .. inline_md(b[2]) .. "</div>"
    elseif kind == "table" then
      if b[4] then out[#out + 1] = "<p class=\"caption\">" .. inline_md(b[4]) .. "</p>" end
      html_table(out, b[2], b[3])
    elseif kind == "plot" then
      out[#out + 1] = "<div class=\"plot\">@@PLOT:" .. b[2] .. "@@</div>"
    elseif kind == "details" then
      out[#out + 1] = "<details><summary>" .. inline_md(b[2]) .. "</summary>"
      html_table(out, b[3], b[4])
      out[#out + 1] = "</details>"
    end
  end
  out[#out + 1] = "</body></html>"
  return table.concat(out, "\n")
end

---------------------------------------------------------------------------
-- grouping

-- The paper-table column a cell belongs to, or nil.
local function table1_column(c)
  local opt, sched = c.optimizer.name, c.schedule
  local p = sched.params or {}
  -- HF first: it runs under a constant mu = 0 schedule, which is not SGD.
  -- The paper's momentum-like HF (HF†, lua/hf_presets.lua's dagger_*)
  -- takes mini-batch gradients without a line search; Martens' full-batch
  -- HF with his line search (the plugin's defaults) is HF*.
  if opt == "hf" then
    local op = c.optimizer.params or {}
    if op.line_search == false or (op.grad_chunks or 1) > 1 then return "hf_dagger" end
    return "hf_star"
  end
  if opt == "sgd" then return "sgd" end
  if sched.name == "constant" and (p.mu or 0.9) == 0 then return "sgd" end
  if (opt == "nag" or opt == "cm") and sched.name == "sutskever2013" then
    local m = p.mu_max or 0.99
    if m == 0 then return "sgd" end
    return mu_label(m) .. (opt == "nag" and "N" or "M")
  end
  return nil
end

local function table5_column(c)
  local opt, sched = c.optimizer.name, c.schedule
  local p = sched.params or {}
  if c.task.train_only == "output_bias" or c.task.biases_only then return "biases" end
  if sched.name == "rnn_warmup" and (opt == "nag" or opt == "cm") then
    local m = p.mu or 0
    if m == 0 then return "0" end
    return mu_label(m) .. (opt == "nag" and "N" or "M")
  end
  return nil
end

local function group_cells(cells)
  -- task -> method key -> { label, init, lr -> {results} }
  local tasks = {}
  for _, r in ipairs(cells) do
    local c = r.cell
    local t = c.task.name
    tasks[t] = tasks[t] or { methods = {}, order = {} }
    local key = c.label .. " " .. canon(c.init) .. canon(c.optimizer) .. canon(c.schedule)
    local m = tasks[t].methods[key]
    if not m then
      m = { key = key, label = c.label, cell = c, by_lr = {} }
      tasks[t].methods[key] = m
      tasks[t].order[#tasks[t].order + 1] = key
    end
    m.by_lr[c.lr] = m.by_lr[c.lr] or {}
    table.insert(m.by_lr[c.lr], r)
  end
  for _, t in pairs(tasks) do
    -- where a task ran several initializations, name them in the labels
    local inits, n_inits = {}, 0
    for _, m in pairs(t.methods) do
      local k = canon(m.cell.init)
      if not inits[k] then inits[k] = true; n_inits = n_inits + 1 end
    end
    if n_inits > 1 then
      for _, m in pairs(t.methods) do
        local p = {}
        for _, k in ipairs(sorted_keys(m.cell.init.params or {})) do
          p[#p + 1] = ("%s=%s"):format(k, fmt(m.cell.init.params[k], 6))
        end
        m.label = ("%s, %s%s"):format(m.label, m.cell.init.name, #p > 0 and (" " .. table.concat(p, " ")) or "")
      end
    end
    table.sort(t.order)
    for _, m in pairs(t.methods) do
      local best, best_med = nil, nil
      for lr, rs in pairs(m.by_lr) do
        table.sort(rs, function(a, b) return a.cell.seed < b.cell.seed end)
        local finals = {}
        for i, r in ipairs(rs) do finals[i] = final_train(r) end
        local med = stats.quantile(finals, 0.5)
        if best_med == nil or med < best_med or (med == best_med and lr > best) then
          best, best_med = lr, med
        end
      end
      m.best_lr, m.best = best, m.by_lr[best]
    end
  end
  return tasks
end

local function values(rs, f)
  local xs = {}
  for _, r in ipairs(rs) do xs[#xs + 1] = f(r) end
  return xs
end

local function median_str(xs)
  local med, q1, q3 = stats.median_iqr(xs)
  if #xs == 1 then return fmt(med) end
  return ("%s [%s, %s]"):format(fmt(med), fmt(q1), fmt(q3))
end

local function mean_str(xs)
  local mean, ci = stats.mean_ci(xs)
  if #xs == 1 or ci == nil then return fmt(mean) end
  return ("%s ± %s"):format(fmt(mean), fmt(ci, 2))
end

---------------------------------------------------------------------------
-- plots

local palette = { "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                  "#17becf", "#7f7f7f", "#bcbd22" }

-- Median and quartiles of train_error at each evaluation point over seeds.
local function curve_band(rs, xfield)
  local pts = {}
  local n = math.huge
  for _, r in ipairs(rs) do n = math.min(n, #((r.curve or {}).update or {})) end
  if n == math.huge then return pts end
  for i = 1, n do
    local ys, xs = {}, {}
    for _, r in ipairs(rs) do
      local y = (r.curve.train_error or {})[i]
      if isnum(y) and y > 0 then ys[#ys + 1] = y end
      local x = (xfield == "update") and r.curve.update[i] or (r.curve.opt_seconds or {})[i]
      if x then xs[#xs + 1] = x end
    end
    if #ys > 0 and #xs > 0 then
      local med, q1, q3 = stats.median_iqr(ys)
      pts[#pts + 1] = { stats.quantile(xs, 0.5), med, q1, q3 }
    end
  end
  return pts
end

local function plot_script(title, xlabel, ylabel, series, logx)
  local s = {
    "set terminal svg size 560,380 dynamic noenhanced font 'sans,10' background rgb 'white'",
    ("set title %q"):format(title),
    ("set xlabel %q"):format(xlabel),
    ("set ylabel %q"):format(ylabel),
    "set logscale y",
    logx and "set logscale x" or "",
    "set grid lc rgb '#dddddd'",
    "set key top right font 'sans,9'",
    "set style fill transparent solid 0.18 noborder",
  }
  local plots = {}
  for i, ser in ipairs(series) do
    if #ser.points > 0 then
      s[#s + 1] = ("$d%d << EOD"):format(i)
      for _, p in ipairs(ser.points) do
        s[#s + 1] = ("%.10g %.10g %.10g %.10g"):format(p[1], p[2], p[3], p[4])
      end
      s[#s + 1] = "EOD"
      local col = palette[(i - 1) % #palette + 1]
      plots[#plots + 1] = ("$d%d using 1:3:4 with filledcurves lc rgb '%s' notitle"):format(i, col)
      plots[#plots + 1] = ("$d%d using 1:2 with linespoints lw 2 pt 7 ps 0.4 lc rgb '%s' title %q"):format(
        i, col, ser.title)
    end
  end
  if #plots == 0 then return nil end
  s[#s + 1] = "plot " .. table.concat(plots, ", \\\n     ")
  return table.concat(s, "\n") .. "\n"
end

---------------------------------------------------------------------------
-- the report

local source_note = {
  real = "the real data set",
  original = "the paper's original data files",
  regenerated = "**regenerated** data: a statistical match to the paper's data set, not the original",
  synthetic = "synthetic data generated by optbench",
}

--- The BLAS threads the cells ran with (from the cell results: the runner's
--- own process may have a different default) and how many ran at once.
local function blas_threads_used(run, cells, env)
  local seen, list = {}, {}
  for _, r in ipairs(cells) do
    local t = r.environment and r.environment.blas_threads
    if t ~= nil and not seen[t] then seen[t] = true; list[#list + 1] = t end
  end
  table.sort(list)
  local threads
  if #list > 0 then
    threads = table.concat(list, ", ")
  else
    threads = tostring(run.blas_threads_per_cell or env.blas_threads or "?")
  end
  return ("%s, -j %s"):format(threads, tostring(run.jobs or "?"))
end

--- How the cells treated float32 denormals (each result records it; older
--- results do not).
local function denormals_used(cells)
  local seen, list = {}, {}
  for _, r in ipairs(cells) do
    local d = r.environment and r.environment.denormals
    if d ~= nil and not seen[d] then seen[d] = true; list[#list + 1] = tostring(d) end
  end
  table.sort(list)
  return #list > 0 and table.concat(list, "; ") or "not recorded"
end

function report.build(arg)
  local run, cells = arg.run or {}, arg.cells or {}
  local doc = new_doc()
  local plots = {}
  -- a baseline directory has no run.json: its cells name suite and budget
  local c1 = cells[1] and cells[1].cell or {}
  local title = ("optbench report: suite %s, budget %s"):format(run.suite or c1.suite or "?",
                                                                run.budget or c1.budget or "?")
  doc:h(1, title)

  local tasks = group_cells(cells)
  local task_names = sorted_keys(tasks)

  -- provenance and budget, up front
  local regenerated, below_budget = {}, false
  for _, r in ipairs(cells) do
    if r.data and r.data.source == "regenerated" then regenerated[r.data.name] = true end
    local fam_budget = (r.cell.task.name == "addition" or r.cell.task.name == "multiplication" or
                        r.cell.task.name == "mem5" or r.cell.task.name == "mem20")
                       and paper.budget.rnn_updates or paper.budget.autoencoder_updates
    if (r.cell.updates or 0) < fam_budget then below_budget = true end
  end
  local total = #cells
  local done, diverged = 0, 0
  for _, r in ipairs(cells) do
    if r.status == "done" then done = done + 1 elseif r.status == "diverged" then diverged = diverged + 1 end
  end
  doc:p(("%d cells: %d done, %d diverged, %d other. Errors are per-case sums of squared " ..
         "reconstruction errors (autoencoders, SPEC §3.2) or the paper's zero-one errors (RNNs), " ..
         "measured on the whole training and test sets at the end of each run."):format(
         total, done, diverged, total - done - diverged))
  if next(regenerated) then
    doc:note(("Data: %s ran on regenerated data: statistical matches to the paper's data sets, not the " ..
              "originals, so their numbers are not directly comparable with the paper's."):format(
              table.concat(sorted_keys(regenerated), ", ")))
  end
  if below_budget then
    doc:note("Budget: these runs are shorter than the paper's (750,000 updates per autoencoder run, " ..
             "50,000 per RNN run), so the paper's numbers shown beside ours are a reference, " ..
             "not a reproduction.")
  end

  -- Table 1 layout
  local t1rows = {}
  for _, t in ipairs(paper.table1.tasks) do
    if tasks[t] then
      local ours = {}
      for _, key in ipairs(tasks[t].order) do
        local m = tasks[t].methods[key]
        local col = table1_column(m.cell)
        if col and is_paper_init(m.cell) then
          local med = stats.quantile(values(m.best, final_train), 0.5)
          if not ours[col] or med < ours[col].med then ours[col] = { med = med, lr = m.best_lr } end
        end
      end
      local row = { t }
      for _, col in ipairs(paper.table1.columns) do
        local p = paper.table1.rows[t][col]
        local o = ours[col]
        if o then
          row[#row + 1] = ("%s (lr %s) / %s"):format(fmt(o.med, 3), fmt(o.lr, 2), p)
        else
          row[#row + 1] = ("not run / %s"):format(p)
        end
      end
      t1rows[#t1rows + 1] = row
    end
  end
  if #t1rows > 0 then
    doc:h(2, "Table 1 layout: final training error, ours / paper")
    local header = { "task" }
    for _, h in ipairs(paper.table1.headers) do header[#header + 1] = h end
    doc:table(header, t1rows, "Each cell: our median final training error over seeds at the best " ..
              "learning rate (shown), then the paper's number (SPEC §6). N = NAG, M = CM; columns are " ..
              "mu_max of the paper's schedule. SGD-C and HF* are quoted by the paper from other work.")
  end

  -- Table 2: NAG before/after the final phase, from the paper's
  -- initialization (sparse, scale 1) like Table 1; each row names its method,
  -- so two NAG methods with the same mu_max stay apart.
  local t2rows = {}
  for _, t in ipairs(paper.table1.tasks) do
    if tasks[t] then
      for _, key in ipairs(tasks[t].order) do
        local m = tasks[t].methods[key]
        local sp = m.cell.schedule.params or {}
        local fu = sp.final_updates or 1000
        if m.cell.optimizer.name == "nag" and m.cell.schedule.name == "sutskever2013" and fu > 0 and
           is_paper_init(m.cell) then
          local before = {}
          for _, r in ipairs(m.best) do
            local target = r.cell.updates - fu
            local cv = r.curve or {}
            for i, u in ipairs(cv.update or {}) do
              if u == target and isnum((cv.train_error or {})[i]) then before[#before + 1] = cv.train_error[i] end
            end
          end
          if #before > 0 then
            local pt = paper.table2[t]
            t2rows[#t2rows + 1] = { t, ("%s: mu_max %s"):format(m.label, fmt(sp.mu_max or 0.99)),
              median_str(before), median_str(values(m.best, final_train)),
              pt and ("%s → %s (mu_max %s)"):format(pt.before, pt.after, pt.mu_max) or "–" }
          end
        end
      end
    end
  end
  if #t2rows > 0 then
    doc:h(2, "Table 2 layout: NAG before and after the final low-momentum phase")
    doc:table({ "task", "NAG method: setting", "before (ours)", "after (ours)", "paper before → after" }, t2rows,
              "Training error at the start of the final phase (mu lowered to 0.9, learning rate unchanged) " ..
              "and at the end; median [IQR] over seeds at the best learning rate. NAG methods from the " ..
              "paper's initialization (sparse, scale 1), as in Table 1.")
  end

  -- Table 3: sparse-init scale on CURVES
  if tasks.curves then
    local by_scale = {}
    for _, key in ipairs(tasks.curves.order) do
      local m = tasks.curves.methods[key]
      if m.cell.init.name == "sparse" and m.cell.optimizer.name == "nag" then
        local s = (m.cell.init.params or {}).scale or 1
        local med = stats.quantile(values(m.best, final_train), 0.5)
        if not by_scale[s] or med < by_scale[s] then by_scale[s] = med end
      end
    end
    if next(by_scale) and next(by_scale, next(by_scale)) then
      local header, ours, theirs = { "" }, { "ours (best NAG)" }, { "paper" }
      for i, s in ipairs(paper.table3.scales) do
        local o = by_scale[paper.number(s)]
        header[#header + 1] = "scale " .. s
        ours[#ours + 1] = o and fmt(o, 3) or "not run"
        theirs[#theirs + 1] = paper.table3.errors[i]
      end
      doc:h(2, "Table 3 layout: CURVES training error by sparse-initialization scale")
      doc:table(header, { ours, theirs }, "Ours: the lowest median final training error over seeds of " ..
                "any NAG method from that scale, at its best learning rate; beneath it the paper's " ..
                "number (SPEC §6).")
    end
  end

  -- Table 5 layout
  local t5rows = {}
  for _, t in ipairs(paper.table5.tasks) do
    if tasks[t] then
      local ours = {}
      for _, key in ipairs(tasks[t].order) do
        local m = tasks[t].methods[key]
        local col = table5_column(m.cell)
        if col then
          -- the best learning rate by mean held-out error over seeds
          for lr, rs in pairs(m.by_lr) do
            local mean = stats.mean_ci(values(rs, final_test))
            if not ours[col] or mean < ours[col].mean or (mean == ours[col].mean and lr > ours[col].lr) then
              ours[col] = { mean = mean, lr = lr }
            end
          end
        end
      end
      local row = { t }
      for _, col in ipairs(paper.table5.columns) do
        local p = paper.table5.rows[t][col]
        local o = ours[col]
        row[#row + 1] = o and ("%s (lr %s) / %s"):format(fmt(o.mean, 3), fmt(o.lr, 2), p)
                        or ("not run / %s"):format(p)
      end
      t5rows[#t5rows + 1] = row
    end
  end
  if #t5rows > 0 then
    doc:h(2, "Table 5 layout: RNN zero-one errors, ours / paper")
    local header = { "problem" }
    for _, c in ipairs(paper.table5.columns) do header[#header + 1] = c end
    doc:table(header, t5rows, "Each cell: our held-out error (fresh sequences, the task's test set), " ..
              "mean over seeds at the learning rate with the lowest such mean, then the paper's number " ..
              "(SPEC §6). Columns are mu_0 after the 0.9 warm-up; N = NAG, M = CM; biases = a net that " ..
              "learns only its output biases. ∞: a cell diverged or did not finish.")
  end

  -- per task
  local timing = {}
  for ti, t in ipairs(task_names) do
    local T = tasks[t]
    local first = T.methods[T.order[1]].best[1]
    local d = first.data or {}
    doc:h(2, ("Task `%s`"):format(t))
    doc:p(("Data: `%s`, %s (%s training cases in use, %s test cases, checksum `%s`). " ..
           "Budget: %s updates per cell, batch %s."):format(
           d.name or "?", source_note[d.source] or (d.source or "?"), fmt(d.train_cases, 10),
           fmt(d.test_cases, 10), d.checksum or "?", fmt(first.cell.updates, 10),
           fmt(first.cell.task.batch or (first.model and first.model.batch) or 200, 10)))

    -- target for time-to-target
    local best_final = inf
    for _, key in ipairs(T.order) do
      local med = stats.quantile(values(T.methods[key].best, final_train), 0.5)
      if med < best_final then best_final = med end
    end
    local target = (arg.targets and arg.targets[t]) or (best_final < inf and 2 * best_final or nil)

    local rows, untimed = {}, false
    local series_u, series_s = {}, {}
    for _, key in ipairs(T.order) do
      local m = T.methods[key]
      local rs = m.best
      local finals = values(rs, final_train)
      local tests = values(rs, final_test)
      -- inf: never reached; nil: reached, but the result has no timings
      -- (a baseline), so it is left out
      local ttt = values(rs, function(r)
        if not target then return inf end
        local cv = r.curve or {}
        for i = 1, #(cv.update or {}) do
          local e = (cv.train_error or {})[i]
          if isnum(e) and e <= target then return (cv.opt_seconds or {})[i] end
        end
        return inf
      end)
      local statuses = {}
      for _, r in ipairs(rs) do statuses[r.status] = (statuses[r.status] or 0) + 1 end
      local st = {}
      for _, k in ipairs(sorted_keys(statuses)) do st[#st + 1] = ("%d %s"):format(statuses[k], k) end
      rows[#rows + 1] = { m.label, fmt(m.best_lr), tostring(#rs), table.concat(st, ", "),
                          median_str(finals), mean_str(finals), median_str(tests),
                          #ttt > 0 and median_str(ttt) or not_recorded }
      if #ttt == 0 then untimed = true end
      series_u[#series_u + 1] = { title = m.label, points = curve_band(rs, "update") }
      series_s[#series_s + 1] = { title = m.label, points = curve_band(rs, "seconds") }
      -- timing per optimizer label
      local tk = t .. "\0" .. m.label
      local ms, ups, gf, share = {}, {}, {}, {}
      for _, lr_rs in pairs(m.by_lr) do
        for _, r in ipairs(lr_rs) do
          local x = r.timing and r.timing.ms_per_update
          if isnum(x) and x > 0 then
            ms[#ms + 1] = x
            ups[#ups + 1] = 1000 / x
            if r.model and isnum(r.model.flops_per_update) then
              gf[#gf + 1] = r.model.flops_per_update / (x * 1e6)
            end
            local o, e = r.timing.optimizer_seconds, r.timing.eval_seconds
            if isnum(o) and isnum(e) and o + e > 0 then share[#share + 1] = e / (o + e) end
          end
        end
      end
      timing[#timing + 1] = { t, m.label, m.cell.optimizer.name, ms, ups, gf, share }
    end
    doc:table({ "method", "best lr", "seeds", "status", "final train error, median [IQR]",
                "mean ± 95% CI", "test error, median [IQR]",
                ("optimizer s to train error ≤ %s"):format(fmt(target, 3)) }, rows,
              "Statistics over seeds at each method's best learning rate (lowest median final " ..
              "training error). ∞: diverged, or the target was never reached." ..
              (untimed and (" " .. not_recorded .. ": the results carry no timings (a baseline).") or ""))
    local name_u, name_s = ("curve-%d-updates"):format(ti), ("curve-%d-seconds"):format(ti)
    local su = plot_script(("%s: training error vs updates"):format(t), "updates",
                           "training error (median, IQR band over seeds)", series_u, false)
    local ss = plot_script(("%s: training error vs optimizer time"):format(t), "optimizer seconds",
                           "training error (median, IQR band over seeds)", series_s, false)
    if su then
      plots[#plots + 1] = { name = name_u, title = t .. ": training error vs updates", script = su }
      doc:plot(name_u, t .. ": training error vs updates")
    end
    if ss then
      plots[#plots + 1] = { name = name_s, title = t .. ": training error vs optimizer seconds", script = ss }
      doc:plot(name_s, t .. ": training error vs optimizer seconds")
    end

    -- every cell
    local all = {}
    local results = {}
    local label_of = {}
    for _, key in ipairs(T.order) do
      for _, lr in ipairs(sorted_keys(T.methods[key].by_lr, function(a, b) return a > b end)) do
        for _, r in ipairs(T.methods[key].by_lr[lr]) do
          results[#results + 1] = r
          label_of[r] = T.methods[key].label
        end
      end
    end
    for _, r in ipairs(results) do
      local fin = r.final or {}
      all[#all + 1] = { label_of[r], fmt(r.cell.lr), tostring(r.cell.seed), r.status,
                        fmt(r.updates_done, 10), fmt(fin.train_error), fmt(fin.test_error),
                        r.timing and fmt(r.timing.ms_per_update, 3) or not_recorded }
    end
    doc:details(("All %d cells of task `%s`"):format(#results, t),
                { "method", "lr", "seed", "status", "updates", "train error", "test error", "ms/update" }, all)
  end

  -- timing
  if #timing > 0 then
    doc:h(2, "Timing")
    local rows, timed = {}, 0
    for _, x in ipairs(timing) do
      if #x[4] > 0 then
        timed = timed + 1
        rows[#rows + 1] = { x[1], x[2], x[3], median_str(x[4]), fmt(stats.quantile(x[5], 0.5), 4),
                            #x[6] > 0 and fmt(stats.quantile(x[6], 0.5), 3) or "–",
                            #x[7] > 0 and (fmt(100 * stats.quantile(x[7], 0.5), 3) .. "%") or "–" }
      else
        rows[#rows + 1] = { x[1], x[2], x[3], not_recorded, not_recorded, not_recorded, not_recorded }
      end
    end
    if timed == 0 then
      doc:p("Timing: " .. not_recorded .. ". These results carry no timings (a baseline directory: " ..
            "`optbench baseline` drops them, docs/REGRESSION.md).")
    else
      doc:table({ "task", "method", "optimizer", "ms/update, median [IQR]", "updates/s", "GFLOP/s",
                  "evaluation share of wall time" }, rows,
                "Over all cells of each method. Optimizer time excludes evaluation. GFLOP/s from the " ..
                "model's FLOP count (about 6 x parameters x batch per autoencoder update)." ..
                (timed < #timing and (" " .. not_recorded .. ": the method's results carry no timings.") or ""))
    end
  end

  -- environment
  local env = run.environment or (cells[1] and cells[1].environment)
  doc:h(2, "Environment")
  if env then
    doc:table({ "item", "value" }, {
      { "optbench", ("%s (git %s)"):format(env.optbench_version or "?", env.git_hash or "?") },
      { "numerics version", tostring(env.numerics_version or "?") },
      { "compiler, build", ("%s, %s"):format(env.compiler or "?", env.build_type or "?") },
      { "OpenBLAS", tostring(env.openblas or "?") },
      { "BLAS threads per cell, cells at once", blas_threads_used(run, cells, env) },
      { "float32 denormals", denormals_used(cells) },
      { "CPU", ("%s (%s online)"):format(env.cpu or "?", tostring(env.cpus_online or "?")) },
      { "date", tostring(env.date or "?") },
    })
  else
    local nv = {}
    for _, r in ipairs(cells) do
      if r.numerics_version ~= nil then nv[tostring(r.numerics_version)] = true end
    end
    doc:p(("Environment: %s (a baseline directory keeps no environment). Numerics version of the " ..
           "results: %s."):format(not_recorded, next(nv) and table.concat(sorted_keys(nv), ", ") or "?"))
  end

  return { markdown = doc:markdown(), html = doc:html(title), plots = plots, csv = report.csv(cells) }
end

-- The shortest decimal that reads back as the same double (0.99, not
-- 0.98999999999999999); integers as integers.
local function shortest(x)
  if math.type(x) == "integer" then return tostring(x) end
  for digits = 15, 17 do
    local s = ("%." .. digits .. "g"):format(x)
    if tonumber(s) == x then return s end
  end
  return ("%.17g"):format(x)
end

-- Parameters as one canonical string: k=v pairs sorted by key, joined by
-- ';' ("final_updates=10;mu_max=0.99"); a nested table as {k=v;...}; ""
-- when there are none. `skip` names a key left out.
local function params_string(t, skip)
  local parts = {}
  for _, k in ipairs(sorted_keys(t or {})) do
    if k ~= skip then
      local v = t[k]
      if type(v) == "table" then v = "{" .. params_string(v) .. "}"
      elseif type(v) == "number" then v = shortest(v)
      else v = tostring(v) end
      parts[#parts + 1] = k .. "=" .. v
    end
  end
  return table.concat(parts, ";")
end

--- summary.csv in long format: one row per cell, seed and evaluation point.
-- The *_params columns hold the cell's task options, optimizer, schedule
-- and initializer parameters as params_string writes them, so cells that
-- differ only in a parameter (Table 3's sparse scales) stay apart.
function report.csv(cells)
  local out = { "cell_key,task,data_source,label,optimizer,schedule,init,task_params,optimizer_params," ..
                "schedule_params,init_params,lr,seed,status,update," ..
                "opt_seconds,eval_seconds,train_loss,train_error,test_error,lr_t,mu_t" }
  local function num(x) return isnum(x) and shortest(x) or "" end
  local function str(s)
    s = tostring(s or "")
    if s:find('[,"\n]') then s = '"' .. s:gsub('"', '""') .. '"' end
    return s
  end
  for _, r in ipairs(cells) do
    local c, cv = r.cell, r.curve or {}
    local none = {}
    local function col(k) return cv[k] or none end
    local described = { str(r.cell_key), str(c.task.name), str(r.data and r.data.source), str(c.label),
                        str(c.optimizer.name), str(c.schedule.name), str(c.init.name),
                        str(params_string(c.task, "name")), str(params_string(c.optimizer.params)),
                        str(params_string(c.schedule.params)), str(params_string(c.init.params)),
                        num(c.lr), tostring(c.seed), str(r.status) }
    local lead = table.concat(described, ",")
    for i, u in ipairs(cv.update or {}) do
      out[#out + 1] = lead .. "," .. table.concat({
        tostring(u), num(col("opt_seconds")[i]), num(col("eval_seconds")[i]),
        num(col("train_loss")[i]), num(col("train_error")[i]), num(col("test_error")[i]),
        num(col("lr")[i]), num(col("mu")[i]) }, ",")
    end
  end
  return table.concat(out, "\n") .. "\n"
end

-- Markdown alone (kept for callers that want only the text).
function report.markdown(arg) return report.build(arg).markdown end

return report
