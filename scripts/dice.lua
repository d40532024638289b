--[[
dice.lua — a dice race for gamecast.

Every round each player types "roll"; the die (1 to 6) moves them forward.
The first to reach the target wins.

Settings (pass them as --set key=value):
  countdown     default 10  seconds from "enough players" to the start (0 = start at once)
  min_players   default 2   players needed before the countdown begins
  turn_seconds  default 15  seconds to roll in a round; after that the game rolls for you
  target        default 30  position to reach to win the race

Moves (typed lines sent privately to the announcer, never shown to others):
  start   start the race now, without waiting for more players or the countdown
  roll    roll your die for this round

Rules in short:
  * Lobby: when min_players have joined a countdown starts; if players drop
    below min_players during it, it is cancelled.
  * Each round every racer rolls once (a second roll is refused). Whoever has not
    rolled after turn_seconds is rolled for automatically.
  * When everyone has rolled the round ends with a ranking. If someone reached
    the target, the highest position wins; on a tie, whoever got there first.
  * A player joining mid-race starts at 0. If only one racer is left, they win.

All mutable game data lives in the runtime's `state` table, so that reloading
this file keeps a race in progress (that's why the top level only fills in
missing fields: `state.x = state.x or ...`).
]]

---------------------------------------------------------------------------
-- Settings
---------------------------------------------------------------------------

-- Reads a numeric --set option. `args` values are strings, so convert them,
-- and fall back to the default (with a note on the host console) when the
-- value is missing or not a number >= lowest.
local function setting(key, default, lowest)
  local raw = (args or {})[key]
  if raw == nil then
    return default
  end
  local value = tonumber(raw)
  if value == nil or value < lowest then
    print(("dice.lua: ignoring --set %s=%s (want a number >= %s); using %s")
      :format(key, tostring(raw), lowest, default))
    return default
  end
  return value
end

local COUNTDOWN    = setting("countdown", 10, 0)
local MIN_PLAYERS  = math.floor(setting("min_players", 2, 1))
local TURN_SECONDS = setting("turn_seconds", 15, 0.1)
local TARGET       = math.floor(setting("target", 30, 1))

moves{ "roll", "start" }

---------------------------------------------------------------------------
-- State (kept across reloads: only fill in what is missing)
---------------------------------------------------------------------------

state.phase      = state.phase or "lobby"  -- "lobby", "countdown", "playing" or "over"
state.racers     = state.racers or {}      -- names in the race, in join order
state.positions  = state.positions or {}   -- name -> position on the track
state.round      = state.round or 0        -- current round number (0 before the start)
state.rolled     = state.rolled or {}      -- name -> true once they rolled this round
state.roll_count = state.roll_count or 0   -- counts every roll of the game...
state.reached_at = state.reached_at or {}  -- ...name -> roll_count when they reached TARGET (ties)
state.timers     = state.timers or {}      -- "countdown" / "turn" -> timer handle
state.bot_round  = state.bot_round or {}   -- bot name -> round in which it last typed "roll"

---------------------------------------------------------------------------
-- Small helpers
---------------------------------------------------------------------------

-- "  Roll \n" -> "roll": moves are compared trimmed and case-insensitively.
local function normalize(text)
  return (text:gsub("^%s+", ""):gsub("%s+$", ""):lower())
end

local function index_of(list, value)
  for i, v in ipairs(list) do
    if v == value then
      return i
    end
  end
  return nil
end

local function remove_value(list, value)
  local i = index_of(list, value)
  if i then
    table.remove(list, i)
  end
end

-- Cancels the named timer, if any. Every timer handle is kept in
-- state.timers so that whoever ends a phase can stop its timer.
local function cancel_timer(key)
  local handle = state.timers[key]
  if handle then
    handle:cancel()
    state.timers[key] = nil
  end
end

local function cancel_all_timers()
  for key in pairs(state.timers) do
    cancel_timer(key)
  end
end

-- The joined players right now. Inside on_join / on_leave we don't rely on
-- whether players() already counts the joining player or still counts the
-- leaving one: `joining` is added if missing and `leaving` is left out.
local function present_players(joining, leaving)
  local list = {}
  for _, name in ipairs(players()) do
    if name ~= leaving then
      list[#list + 1] = name
    end
  end
  if joining and not index_of(list, joining) then
    list[#list + 1] = joining
  end
  return list
end

-- Racers from first to last: by position, then (on equal positions) whoever
-- reached the target first, then join order. Used for the winner and the
-- final text.
local function standings()
  local order = {}
  for i, name in ipairs(state.racers) do
    order[i] = name
  end
  local function key_reached(name)
    return state.reached_at[name] or math.huge -- never reached: after everyone who did
  end
  table.sort(order, function(a, b)
    local pa, pb = state.positions[a], state.positions[b]
    if pa ~= pb then
      return pa > pb
    end
    if key_reached(a) ~= key_reached(b) then
      return key_reached(a) < key_reached(b)
    end
    return index_of(state.racers, a) < index_of(state.racers, b)
  end)
  return order
end

-- Joins at most `limit` items with commas: "a, b, c and 7 more". A whole
-- announcement must fit in one datagram (about 1400 bytes), so a long list
-- of names is cut short.
local function short_list(items, limit)
  local shown = {}
  for i = 1, math.min(#items, limit) do
    shown[i] = items[i]
  end
  local text = table.concat(shown, ", ")
  if #items > limit then
    text = text .. (" and %d more"):format(#items - limit)
  end
  return text
end

-- "alice 31, bob 25, carol 12" (the first 10 racers)
local function positions_text()
  local parts = {}
  for _, name in ipairs(standings()) do
    parts[#parts + 1] = ("%s %d"):format(name, state.positions[name])
  end
  return short_list(parts, 10)
end

---------------------------------------------------------------------------
-- End of the game
---------------------------------------------------------------------------

local function finish(winner, praise)
  state.phase = "over"
  cancel_all_timers()
  congratulate(winner, praise)
  game_end("Final positions: " .. positions_text())
  stop()
end

local function finish_without_winner()
  state.phase = "over"
  cancel_all_timers()
  game_end("Everybody left the race: no winner this time.")
  stop()
end

---------------------------------------------------------------------------
-- Rounds
---------------------------------------------------------------------------

-- These call each other (a round ends -> the next one starts), so declare
-- them first and define them below.
local start_round, end_round, end_round_if_all_rolled

-- Rolls the die for `name` and announces it. `automatic` = the turn timer
-- rolled for a player who was too slow.
local function roll_for(name, automatic)
  local die = math.random(6)
  state.rolled[name] = true
  state.roll_count = state.roll_count + 1
  local position = state.positions[name] + die
  state.positions[name] = position
  if position >= TARGET and not state.reached_at[name] then
    state.reached_at[name] = state.roll_count -- for "who got there first" on a tie
  end
  if automatic then
    announce(("%s didn't roll in time, so the game rolls for them: %d → %d")
      :format(name, die, position))
  else
    announce(("%s rolls %d → %d"):format(name, die, position))
  end
end

-- The turn timer ran out: roll for everyone who hasn't rolled yet.
local function roll_for_slow_players()
  -- Collect first, then roll: rolling doesn't change the list of racers,
  -- but it keeps "who was late" separate from "what happens next".
  local slow = {}
  for _, name in ipairs(state.racers) do
    if not state.rolled[name] then
      slow[#slow + 1] = name
    end
  end
  for _, name in ipairs(slow) do
    roll_for(name, true)
  end
  end_round_if_all_rolled()
end

start_round = function()
  state.round = state.round + 1
  state.rolled = {}
  announce(("Round %d: type roll"):format(state.round))

  -- The timer remembers which round it belongs to: if it ever fires late
  -- (e.g. after a reload) it must not roll for a later round.
  local round = state.round
  cancel_timer("turn")
  state.timers.turn = after(TURN_SECONDS, function()
    state.timers.turn = nil
    if state.phase == "playing" and state.round == round then
      roll_for_slow_players()
    end
  end)
end

end_round_if_all_rolled = function()
  if state.phase ~= "playing" or #state.racers == 0 then
    return
  end
  for _, name in ipairs(state.racers) do
    if not state.rolled[name] then
      return -- still waiting for someone
    end
  end
  end_round()
end

end_round = function()
  cancel_timer("turn") -- everybody rolled before the time ran out
  ranking(state.positions)

  local leader = standings()[1]
  if state.positions[leader] >= TARGET then
    finish(leader, ("%s wins the dice race with %d in round %d!")
      :format(leader, state.positions[leader], state.round))
  else
    start_round()
  end
end

---------------------------------------------------------------------------
-- Lobby and start
---------------------------------------------------------------------------

local function start_game(present)
  if state.phase ~= "lobby" and state.phase ~= "countdown" then
    return -- already started (e.g. "start" typed as the countdown ran out)
  end
  cancel_timer("countdown")
  if #present == 0 then
    state.phase = "lobby" -- nobody to race: keep waiting
    return
  end
  state.phase = "playing"
  state.racers, state.positions = {}, {}
  state.rolled, state.reached_at = {}, {}
  state.round, state.roll_count = 0, 0
  for _, name in ipairs(present) do
    state.racers[#state.racers + 1] = name
    state.positions[name] = 0
  end
  game_start("Dice race", ("First to %d wins. Type roll each round."):format(TARGET))
  start_round()
end

-- Called whenever the lobby changes (join / leave): starts or cancels the countdown.
local function update_lobby(present)
  local count = #present
  if state.phase == "lobby" then
    if count >= MIN_PLAYERS then
      state.phase = "countdown"
      if COUNTDOWN > 0 then
        announce(("%d players here: the race starts in %g seconds (type start to go now).")
          :format(count, COUNTDOWN))
      end
      -- Even with countdown 0 the start goes through a timer: after(0) runs
      -- once the join being handled is complete, so the newcomer gets the
      -- start banner like everybody else and players() is exact.
      cancel_timer("countdown")
      state.timers.countdown = after(COUNTDOWN, function()
        state.timers.countdown = nil
        start_game(players())
      end)
    elseif count > 0 then
      announce(("%d of %d players here. Waiting for more, or type start to play now.")
        :format(count, MIN_PLAYERS))
    end
  elseif state.phase == "countdown" and count < MIN_PLAYERS then
    cancel_timer("countdown")
    state.phase = "lobby"
    announce(("Countdown cancelled: %d of %d players left. Waiting for more, or type start.")
      :format(count, MIN_PLAYERS))
  end
end

---------------------------------------------------------------------------
-- Moves
---------------------------------------------------------------------------

local function on_start(player)
  if state.phase == "lobby" or state.phase == "countdown" then
    announce(player .. " starts the race now.")
    start_game(present_players()) -- `player` is present, so there is at least 1
  elseif state.phase == "playing" then
    tell(player, "The race is already on: type roll.")
  end
end

local function on_roll(player)
  if state.phase == "lobby" or state.phase == "countdown" then
    tell(player, "The race hasn't started yet: wait for the countdown, or type start.")
  elseif state.phase == "playing" then
    if state.positions[player] == nil then
      return -- not a racer (should not happen: joiners are added at once)
    elseif state.rolled[player] then
      tell(player, ("You already rolled this round (you are at %d). Wait for the others.")
        :format(state.positions[player]))
    else
      roll_for(player, false)
      end_round_if_all_rolled()
    end
  end
end

---------------------------------------------------------------------------
-- Runtime hooks
---------------------------------------------------------------------------

on_message(function(player, text)
  local move = normalize(text)
  if move == "start" then
    on_start(player)
  elseif move == "roll" then
    on_roll(player)
  end
  -- anything else is chat: the runtime already showed it to everybody
end)

on_join(function(player)
  if state.phase == "lobby" or state.phase == "countdown" then
    if state.phase == "countdown" then
      tell(player, "The race starts soon. Type start to go now.")
    end
    update_lobby(present_players(player, nil))
  elseif state.phase == "playing" then
    if state.positions[player] == nil then
      state.racers[#state.racers + 1] = player
      state.positions[player] = 0
    end
    tell(player, ("The race is on (round %d, first to %d). You join at position 0: type roll now.")
      :format(state.round, TARGET))
    announce(player .. " joins the race at 0.")
  else
    tell(player, "This race is over.")
  end
end)

on_leave(function(player, reason)
  if state.phase == "lobby" or state.phase == "countdown" then
    update_lobby(present_players(nil, player))
  elseif state.phase == "playing" and state.positions[player] ~= nil then
    announce(player .. " left the race")
    remove_value(state.racers, player)
    state.positions[player] = nil
    state.rolled[player] = nil
    state.reached_at[player] = nil

    if #state.racers == 0 then
      finish_without_winner()
    elseif #state.racers == 1 then
      local last = state.racers[1]
      finish(last, ("%s is the last one in the race and wins!"):format(last))
    else
      end_round_if_all_rolled() -- the round may have been waiting only for them
    end
  end
end)

-- Simulated players: roll once per round, do nothing in the lobby.
bot(function(name, event)
  if state.phase ~= "playing" or state.positions[name] == nil or state.rolled[name] then
    return nil
  end
  -- The bot is called for every event, and its line arrives only after a
  -- short delay: remember that it already typed "roll" in this round so
  -- it doesn't type it again for the next event.
  if state.bot_round[name] == state.round then
    return nil
  end
  state.bot_round[name] = state.round
  return "roll"
end)
