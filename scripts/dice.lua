--[[
dice.lua — a dice race for gamecast.

Every round each player types "roll"; the die (1 to 6) moves them forward.
The first to reach the target wins.

Settings (pass them as --set key=value):
  countdown     default 10  seconds from "enough players" to the start (0 = start at once)
  min_players   default 2   players needed before the countdown begins
  turn_seconds  default 15  seconds to roll in a round; after that the game rolls for you
  target        default 30  position to reach to win the race
  rematch       default 30  seconds after the end to type again for a rematch (0 = stop at the end)

Moves (typed lines sent privately to the announcer, never shown to others):
  start   start the race now, without waiting for more players or the countdown
  roll    roll your die for this round
  again   after the end: a rematch with everyone still here

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

local lobby = require "lib.lobby" -- the lobby and helpers shared with trivia.lua

-- This game as lib/lobby.lua sees it (the lobby's functions take it first).
-- The settings below add countdown and min_players; start, moves, join and
-- leave are defined further down, just before the runtime hooks.
local GAME = {
  noun       = "race",     -- in the lobby's texts: "the race starts in 10 seconds"
  already_on = "The race is already on: type roll.", -- to whoever types start now
}

---------------------------------------------------------------------------
-- Settings: `announcer --settings scripts/dice.lua` lists them; a bad --set
-- value is an error at its line, before the game starts.
---------------------------------------------------------------------------

GAME.countdown     = lobby.countdown_setting()
GAME.min_players   = lobby.min_players_setting()
GAME.rematch       = lobby.rematch_setting()
local TURN_SECONDS = setting("turn_seconds", 15,
  "seconds to roll in a round; after that the game rolls for you", { min = 0.1, max = 3600 })
local TARGET       = setting("target", 30, "the position that wins",
  { min = 1, max = 1000000, integer = true })

moves{ "roll", "start", "again" }

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
-- Small helpers (more, shared with trivia.lua, are in lib/lobby.lua)
---------------------------------------------------------------------------

-- Racers from first to last: by position, then (on equal positions) whoever
-- reached the target first, then join order. Used for the winner and the
-- final text.
local function standings()
  return lobby.ranked(state.racers, state.positions, function(name)
    return state.reached_at[name] or math.huge -- never reached: after everyone who did
  end)
end

-- "alice 31, bob 25, carol 12" (the first 10 racers)
local function positions_text()
  return lobby.points_text(standings(), state.positions, 10)
end

---------------------------------------------------------------------------
-- End of the game
---------------------------------------------------------------------------

-- (If everybody leaves, lobby.player_quit ends the race without a winner.)
local function finish(winner, praise)
  lobby.game_over()
  congratulate(winner, praise)
  game_end("Final positions: " .. positions_text())
  lobby.after_the_end(GAME)
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

-- The turn timer of `round` ran out: roll for everyone who hasn't rolled
-- yet. The timer tells which round it was for: if it ever fires late (e.g.
-- after a reload) it must not roll for a later round.
local function roll_for_slow_players(round)
  if state.phase ~= "playing" or state.round ~= round then
    return
  end
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
  -- A countdown: players see the time left to roll.
  countdown(TURN_SECONDS, ("Round %d: type roll"):format(state.round))

  local round = state.round -- the timer must remember its round
  lobby.start_timer("turn", TURN_SECONDS, function()
    roll_for_slow_players(round)
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
  lobby.cancel_timer("turn") -- everybody rolled before the time ran out
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
-- What lib/lobby.lua calls: the start, and moves, joins and leaves during the race
---------------------------------------------------------------------------

function GAME.start(present)
  state.phase = "playing"
  state.racers, state.positions = {}, {}
  state.rolled, state.reached_at = {}, {}
  state.round, state.roll_count = 0, 0
  state.bot_round = {} -- a rematch counts its rounds from 1 again
  for _, name in ipairs(present) do
    lobby.add_player(state.racers, state.positions, name)
  end
  game_start("Dice race", ("First to %d wins. Type roll each round."):format(TARGET))
  start_round()
end

-- A player joining mid-race starts at 0.
function GAME.join(player)
  lobby.add_player(state.racers, state.positions, player)
  tell(player, ("The race is on (round %d, first to %d). You join at position 0: type roll now.")
    :format(state.round, TARGET))
  announce(player .. " joins the race at 0.")
end

local function on_roll(player)
  if state.positions[player] == nil then
    return -- not a racer (should not happen: joiners are added at once)
  elseif state.rolled[player] then
    tell(player, ("You already rolled this round (you are at %d). Wait for the others.")
      :format(state.positions[player]))
  else
    roll_for(player, false)
    end_round_if_all_rolled()
    -- One racer left to roll: say who everybody waits for.
    local waiting = {}
    for _, name in ipairs(state.racers) do
      if not state.rolled[name] then
        waiting[#waiting + 1] = name
      end
    end
    if state.phase == "playing" and #waiting == 1 and #state.racers > 1 then
      announce(("Waiting for %s."):format(waiting[1]))
    end
  end
end

-- Each move (but "start") and what it does while the race is on.
GAME.moves = { roll = on_roll }

function GAME.leave(player)
  if state.positions[player] == nil then
    return -- not a racer
  end
  state.rolled[player] = nil
  state.reached_at[player] = nil
  -- Announces it and drops them; with nobody left the race ends there.
  local remaining = lobby.player_quit(GAME, state.racers, state.positions, player)
  if remaining == 1 then
    local last = state.racers[1]
    ranking(state.positions) -- the final ranking, without whoever left
    finish(last, ("%s is the last one in the race and wins!"):format(last))
  elseif remaining > 1 then
    end_round_if_all_rolled() -- the round may have been waiting only for them
  end
end

---------------------------------------------------------------------------
-- Runtime hooks
---------------------------------------------------------------------------

-- on_message, on_join and on_leave: lib/lobby.lua registers them. It runs the
-- lobby and the "start" move itself, and calls the GAME functions above
-- while the race is on.
lobby.setup(GAME)

-- Simulated players: roll once per round, do nothing in the lobby.
on_bot(function(name, event)
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
