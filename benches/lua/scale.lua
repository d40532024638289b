-- Benchmark load for the scale suite (`cargo bench --bench gamecast -- scale`): a game of
-- hundreds of players. A player's "rank" sends a ranking of everyone in the game (an event in
-- many pieces); "go N" announces N events of ~200 bytes at `rate` a second, the last one
-- "@N done"; "end" stops the game, so that every player ends and reports what loss repair did.
local rate = setting("rate", 200, "events a second", { min = 1 })
local padding = string.rep("x", 180)

on_message(function(_, text)
  if text == "rank" then
    local scores = {}
    for i, name in ipairs(players()) do
      scores[name] = (i * 7919) % 1000
    end
    ranking(scores)
  elseif text == "end" then
    stop()
  else
    local count = tonumber(text:match("^go (%d+)$"))
    if not count or state.sending then
      return
    end
    state.sending, state.sent = true, 0
    local start = now()
    -- A tick per event: what each costs the announcer, not the ticks between.
    state.timer = every(1 / rate, function()
      local due = math.min(count, math.floor((now() - start) * rate))
      while state.sent < due do
        state.sent = state.sent + 1
        local last = state.sent == count and " done" or ""
        announce(("@%d %s%s"):format(state.sent, padding, last))
      end
      if state.sent >= count then
        state.timer:cancel()
        state.sending = false
      end
    end)
  end
end)
