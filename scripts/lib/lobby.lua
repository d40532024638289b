--[[
lib/lobby.lua — what the dice race (dice.lua) and the quiz (trivia.lua) have
in common: the lobby before the game (waiting for players, the countdown,
"start"), players joining and leaving, the end, and a few small helpers.

A game loads it with

  local lobby = require "lib.lobby"

The runtime runs this file once and every require gets the same table of
functions. It runs in the game's own global environment, so it uses the game
API (announce, tell, after, players, state...) like the game does.

How a game uses it
------------------

The game describes itself in one table, GAME (`game` below), and calls

  lobby.setup(GAME)

which registers the game's on_message, on_join and on_leave hooks. Before
the start and after the end the lobby does everything itself (the texts are
the same in every game but for the game's noun): after the end it offers a
rematch, and a player who types again (or start) brings everyone still here
back to the lobby for a new game, with no process restarted. While the game runs, it
passes moves, joins and leaves on to the game's own functions in GAME:

  file         "dice.lua": names the game in console notes on bad --set values
  noun         "race": used in the lobby's texts ("the race starts in 10 seconds")
  already_on   what someone who types start while the game runs is told
  countdown    seconds from "enough players" to the start (0 = at once)
  min_players  players needed before the countdown begins
  rematch      seconds after the end in which a player may type again (0 = no rematch)
  start(present)      begins the game with the players in the list `present`;
                      called once: when the countdown runs out or a player
                      types start. It must leave the phases "lobby" and "countdown".
  moves[move](player, move)  a move typed while the game runs ("start" aside)
  join(player)        a player joined while the game runs
  leave(player)       a player left while the game runs

The game keeps in `state`, besides its own data:

  state.phase   "lobby" (waiting for players), "countdown", then the game's
                own phases (e.g. "playing"), and "over" at the end (then
                "lobby" again for a rematch)
  state.rematch true from a rematch's lobby to its start
  state.timers  name -> handle of every running timer (see lobby.start_timer)

Why the lobby registers the hooks: before the start and after the end both
games do exactly the same, and while a game runs only the game knows what to
do. So the lobby owns the hooks and asks the game (through GAME) only for
what differs; each game script keeps just its own rules.

Why functions only, and the game's data in `state`: the runtime will run the
game and this file again when a script is reloaded, keeping only `state`. So
nothing that changes during a game may live in this file's locals (GAME is
built again by the game script on every load, and holds no game data).

Functions
---------

Hooks:     lobby.setup(game)   registers on_message, on_join and on_leave
Settings:  lobby.countdown_setting()   lobby.min_players_setting()
           lobby.rematch_setting()   the lobby's three
Players:   lobby.add_player(roster, points, name)   joins with 0 points
           lobby.player_quit(game, roster, points, name)   left mid-game
           lobby.ranked(roster, points [, first])   best first
           lobby.points_text(names, points [, limit])   "alice 31, bob 25"
Timers:    lobby.start_timer(key, seconds, fn)   lobby.cancel_timer(key)
The end:   lobby.game_over()   marks the game over, cancels every timer
           lobby.after_the_end(game)   offers a rematch, or stops the announcer
Lists and text:  lobby.index_of(list, value)   lobby.remove_value(list, value)
           lobby.short_list(items, limit)   lobby.normalize(text)
           lobby.count(n, "question")   "1 question", "2 questions", "1.5 seconds"

A roster is the game's list of players' names in join order (dice: state.racers,
trivia: state.contestants); `points` maps each of them to a number (dice:
state.positions, trivia: state.scores): being in `points` = being in the game.
]]

local lobby = {}

---------------------------------------------------------------------------
-- Lists and text
---------------------------------------------------------------------------

function lobby.index_of(list, value)
  for i, v in ipairs(list) do
    if v == value then
      return i
    end
  end
  return nil
end

function lobby.remove_value(list, value)
  local i = lobby.index_of(list, value)
  if i then
    table.remove(list, i)
  end
end

-- Joins at most `limit` items with commas: "a, b, c and 7 more". A whole
-- A number with its noun, in the singular for exactly 1: lobby.count(1, "second") is
-- "1 second", lobby.count(2.5, "second") "2.5 seconds".
function lobby.count(n, noun)
  return ("%g %s%s"):format(n, noun, n == 1 and "" or "s")
end

-- announcement must fit in one datagram (about 1400 bytes), so a long list
-- of names is cut short.
function lobby.short_list(items, limit)
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

-- `text` up to its last character that matches `keep` (a pattern for one character, like
-- "%S"). It looks from the end, in the reversed text: `gsub("%s+$", "")` would try every run
-- of spaces against the end, which takes seconds on a long line of spaces.
function lobby.trim_end(text, keep)
  local from_end = text:reverse():find(keep)
  if not from_end then return "" end
  return text:sub(1, #text - from_end + 1)
end

-- "  Roll \n" -> "roll": moves are compared trimmed and case-insensitively.
function lobby.normalize(text)
  local first = text:find("%S")
  if not first then return "" end
  return lobby.trim_end(text:sub(first), "%S"):lower()
end

---------------------------------------------------------------------------
-- Settings
---------------------------------------------------------------------------

-- The lobby's settings, the same in every game that uses it.
function lobby.countdown_setting()
  return setting("countdown", 10, 'seconds from "enough players" to the start (0: at once)',
    { min = 0, max = 3600 })
end

function lobby.min_players_setting()
  return setting("min_players", 2, "players needed before the countdown begins",
    { min = 1, max = 256, integer = true })
end

function lobby.rematch_setting()
  return setting("rematch", 30,
    "seconds after the end to type again for a rematch (0: the announcer stops at the end)",
    { min = 0, max = 3600 })
end

---------------------------------------------------------------------------
-- Timers: every handle is kept in state.timers, so that whoever ends a
-- phase can stop its timer (and the end of the game can stop them all).
---------------------------------------------------------------------------

-- Cancels the named timer, if any.
function lobby.cancel_timer(key)
  local handle = state.timers[key]
  if handle then
    handle:cancel()
    state.timers[key] = nil
  end
end

-- Runs fn after `seconds`, as the timer named `key` (replacing a timer of
-- that name still running).
function lobby.start_timer(key, seconds, fn)
  lobby.cancel_timer(key)
  state.timers[key] = after(seconds, function()
    state.timers[key] = nil
    fn()
  end)
end

---------------------------------------------------------------------------
-- Players in the game
---------------------------------------------------------------------------

-- Adds `name` at the end of `roster` with 0 points, unless it is there already.
function lobby.add_player(roster, points, name)
  if points[name] == nil then
    roster[#roster + 1] = name
    points[name] = 0
  end
end

-- `roster` sorted from the most points to the fewest. On equal points a
-- lower `first(name)` comes first, if `first` is given (dice: who reached
-- the target first); then join order.
function lobby.ranked(roster, points, first)
  local order = {}
  for i, name in ipairs(roster) do
    order[i] = name
  end
  table.sort(order, function(a, b)
    if points[a] ~= points[b] then
      return points[a] > points[b]
    end
    if first and first(a) ~= first(b) then
      return first(a) < first(b)
    end
    return lobby.index_of(roster, a) < lobby.index_of(roster, b)
  end)
  return order
end

-- "alice 31, bob 25": each name in `names` with its points, in that order;
-- only the first `limit` names if a limit is given ("... and 7 more").
function lobby.points_text(names, points, limit)
  local parts = {}
  for i, name in ipairs(names) do
    parts[i] = ("%s %d"):format(name, points[name])
  end
  return lobby.short_list(parts, limit or #parts)
end

---------------------------------------------------------------------------
-- The end
---------------------------------------------------------------------------

-- The game is over: nothing may happen any more, so every timer is
-- cancelled. The caller then announces the result, calls game_end and
-- lobby.after_the_end(game).
function lobby.game_over()
  state.phase = "over"
  for key in pairs(state.timers) do
    lobby.cancel_timer(key)
  end
end

-- How many of the players here are people: the announcer's own bots never ask for a rematch,
-- so a game with nobody else left is really over.
local function people_here()
  local count = 0
  for _, name in ipairs(players()) do
    if not is_bot(name) then
      count = count + 1
    end
  end
  return count
end

-- True while a player may type again for a rematch.
local function rematch_open()
  return state.phase == "over" and state.timers.rematch ~= nil
end

-- After the end (the result announced, game_end sent): for game.rematch seconds anyone here
-- may type again for a new game with everyone here. Without a rematch setting, with nobody but
-- bots here, or when nobody asks in time, the announcer stops and every player leaves.
function lobby.after_the_end(game)
  state.rematch = false
  if game.rematch <= 0 or people_here() == 0 then
    stop()
    return
  end
  countdown(game.rematch,
    ("Type again within %s for a rematch with everyone here, or quit to leave.")
      :format(lobby.count(game.rematch, "second")))
  lobby.start_timer("rematch", game.rematch, function()
    announce("No rematch this time. Goodbye!")
    stop()
  end)
end

-- A player in `roster` left while the game runs: announces it and removes
-- them from `roster` and `points` (the game forgets the rest of their data).
-- With nobody left the game ends here, without a winner. Returns how many
-- players are still in the game.
function lobby.player_quit(game, roster, points, player)
  announce(("%s left the %s"):format(player, game.noun))
  lobby.remove_value(roster, player)
  points[player] = nil
  if #roster == 0 then
    lobby.game_over()
    game_end(("Everybody left the %s: no winner this time."):format(game.noun))
    lobby.after_the_end(game)
  end
  return #roster
end

---------------------------------------------------------------------------
-- Before the start
---------------------------------------------------------------------------

-- True while waiting for players ("lobby") or counting down to the start.
local function waiting()
  return state.phase == "lobby" or state.phase == "countdown"
end

-- Starts the game with the players in `present`, unless it already started.
local function start(game, present)
  if not waiting() then
    return -- already started (e.g. "start" typed as the countdown ran out)
  end
  lobby.cancel_timer("countdown")
  if #present == 0 then
    state.phase = "lobby" -- nobody to play with: keep waiting
    return
  end
  state.rematch = false
  game.start(present)
end

-- Called whenever the lobby changes (join / leave): starts or cancels the countdown.
local function update(game, present)
  local count = #present
  if state.phase == "lobby" then
    if count >= game.min_players then
      state.phase = "countdown"
      if game.countdown > 0 then
        countdown(game.countdown, ("%s here: the %s starts in %s (type start to go now).")
          :format(lobby.count(count, "player"), game.noun, lobby.count(game.countdown, "second")))
      end
      -- Even with countdown 0 the start goes through a timer: after(0) runs
      -- once the join being handled is complete, so the newcomer gets the
      -- start banner like everybody else and players() is exact.
      lobby.start_timer("countdown", game.countdown, function()
        start(game, players())
      end)
    elseif count > 0 then
      announce(("%d of %s here. Waiting for more, or type start to play now.")
        :format(count, lobby.count(game.min_players, "player")))
    end
  elseif state.phase == "countdown" and count < game.min_players then
    lobby.cancel_timer("countdown")
    state.phase = "lobby"
    announce(("Countdown cancelled: %d of %s left. Waiting for more, or type start.")
      :format(count, lobby.count(game.min_players, "player")))
  end
end

---------------------------------------------------------------------------
-- Hooks: what the lobby does itself, and when it calls the game
---------------------------------------------------------------------------

-- The lobby changed: `update` runs once the joins and leaves arriving together are all in, so
-- that three players joining at once are told "3 players here", never "1 of 2 players here".
-- Together means within half a second of each other: a player's join is one exchange with
-- the announcer, and several started at once do not all arrive in the same instant.
local SETTLE = 0.5

local function update_soon(game)
  lobby.start_timer("lobby", SETTLE, function()
    if waiting() then
      update(game, players())
    end
  end)
end

-- A player asked for a rematch: back to the lobby with everyone here, as before the first game
-- (the countdown begins if there are enough players; anyone may type start).
local function back_to_lobby()
  lobby.cancel_timer("rematch")
  state.phase = "lobby"
  state.rematch = true
end

local function rematch(game, player)
  back_to_lobby()
  announce(("%s wants a rematch."):format(player))
  update(game, players())
end

-- A line typed by a player. "start" starts the game now, without waiting for
-- more players or the countdown. The game's moves go to game.moves while the
-- game runs. Anything else is chat: the runtime already showed it to everybody.
local function handle_message(game, player, text)
  local move = lobby.normalize(text)
  -- A game may read more than exact words as its moves (trivia: "a)" is "a").
  if game.parse_move then
    move = game.parse_move(move) or move
  end
  if move == "again" then
    if rematch_open() then
      rematch(game, player)
    elseif waiting() then
      tell(player, ("The next %s starts soon: type start to go now."):format(game.noun))
    elseif state.phase ~= "over" then
      tell(player, ("The %s is on: you can ask for a rematch when it ends."):format(game.noun))
    end
  elseif move == "start" then
    if rematch_open() then
      back_to_lobby() -- a rematch, at once
    end
    if waiting() then
      announce(("%s starts the %s now."):format(player, game.noun))
      start(game, players()) -- `player` is present, so there is at least 1
    elseif state.phase ~= "over" then
      tell(player, game.already_on)
    end
  elseif game.moves[move] then
    if waiting() then
      tell(player, ("The %s hasn't started yet: wait for the countdown, or type start.")
        :format(game.noun))
    elseif state.phase ~= "over" then
      game.moves[move](player, move)
    elseif rematch_open() then
      tell(player, ("The %s is over: type again for a rematch."):format(game.noun))
    else
      tell(player, ("The %s is over."):format(game.noun))
    end
  end
end

-- A player joined: in the lobby, the countdown may begin.
local function handle_join(game, player)
  if waiting() then
    if state.phase == "countdown" then
      tell(player, ("The %s starts soon. Type start to go now."):format(game.noun))
    end
    update_soon(game)
  elseif rematch_open() then
    tell(player, ("This %s is over: type again for a rematch."):format(game.noun))
  elseif state.phase == "over" then
    tell(player, ("This %s is over."):format(game.noun))
  else
    game.join(player)
  end
end

-- A player left: in the lobby, the countdown may have to be cancelled. Once the game is over,
-- or in a rematch's lobby, the announcer stops when nobody but bots is left to play.
local function handle_leave(game, player)
  local over = state.phase == "over" or (waiting() and state.rematch)
  if over and people_here() == 0 then
    lobby.game_over()
    announce(("Nobody left for another %s. Goodbye!"):format(game.noun))
    stop()
  elseif waiting() then
    update_soon(game)
  elseif state.phase ~= "over" then
    game.leave(player)
  end
end

-- Registers the game's hooks: the runtime calls them with the player (and the
-- line typed, or the reason for leaving), and they pass `game` on.
function lobby.setup(game)
  on_message(function(player, text)
    handle_message(game, player, text)
  end)
  on_join(function(player)
    handle_join(game, player)
  end)
  on_leave(function(player, reason)
    handle_leave(game, player)
  end)
end

return lobby
