-- Benchmark load for `cargo bench --bench gamecast`: counts every line players type, and when
-- one says "end", prints how many lines arrived and over how long.
state.count, state.first, state.last = 0, nil, nil

on_message(function(player, text)
  if text == "end" then
    print(("handled %d in %.6f s"):format(state.count, (state.last or 0) - (state.first or 0)))
    return
  end
  state.count = state.count + 1
  state.first = state.first or now()
  state.last = now()
end)
