-- Benchmark load for `cargo bench --bench gamecast`: once a player says "go", announces `count`
-- events at `rate` per second (0: as fast as the event loop goes), each "@<n> <now()> <padding>"
-- so that receivers can count them and time them.
local count = setting("count", 10000, "events to announce", { min = 0, integer = true })
local rate = setting("rate", 0, "events a second (0: as fast as the event loop goes)", { min = 0 })
local padding = string.rep("x", setting("size", 100, "bytes of padding per event",
  { min = 0, max = 1300, integer = true }))

on_message(function(player, text)
  if text ~= "go" or state.sending then
    return
  end
  state.sending, state.sent = true, 0
  local start = now()
  -- Every millisecond, catch up with the schedule: the rate holds on average even when a
  -- tick comes late.
  state.timer = every(0.001, function()
    local due
    if rate > 0 then
      due = math.min(count, math.floor((now() - start) * rate))
    else
      due = math.min(count, state.sent + 2000)
    end
    while state.sent < due do
      state.sent = state.sent + 1
      announce(("@%d %.6f %s"):format(state.sent, now(), padding))
    end
    if state.sent >= count then
      state.timer:cancel()
    end
  end)
end)
