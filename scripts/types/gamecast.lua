---@meta gamecast
-- The gamecast API for editors: LuaCATS annotations that a Lua language server (LuaLS,
-- EmmyLua) reads to complete, document and type-check game scripts. .luarc.json at the
-- repository root points editors here. This file is never run: the announcer registers the
-- real functions (src/script/api.rs), and a test fails when the two disagree.

---------------------------------------------------------------------------
-- What players see: events
---------------------------------------------------------------------------

---One ranked player, as `ranking` returns them and events carry them.
---@class gamecast.Entry
---@field rank integer 1 for the best score; equal scores share a rank
---@field name string
---@field score integer

---The game in progress, as a late joiner's welcome tells it.
---@class gamecast.Game
---@field title string
---@field text string

---An event as a player sees it: a `player --json` line. `kind` says which fields it has: each
---field's note names the kinds that carry it, and the others have it nil. The fields are typed
---as present, so that `if event.kind == "announce" and event.text:find("Round")` checks clean
---(a type checker cannot follow `kind`).
---@class gamecast.Event
---@field kind "welcome"|"refused"|"join"|"leave"|"chat"|"close"|"lost"|"announcer"|"protection"|"notice"|"announce"|"countdown"|"tell"|"game_start"|"ranking"|"question"|"answered"|"tally"|"congratulate"|"game_end"
---@field text string announce, countdown, tell, chat, close, notice, game_start, question, congratulate, game_end
---@field from string chat: who wrote it; lost: whose datagrams
---@field player string welcome (ourselves), refused, join, leave, congratulate
---@field players string[] welcome: everyone in the game, in join order
---@field moves string[] welcome: the lines that are moves
---@field game gamecast.Game welcome: the game in progress
---@field ranking gamecast.Entry[] welcome: the ranking so far
---@field reason string refused, leave
---@field to string tell: the player it is for
---@field title string game_start
---@field entries gamecast.Entry[] ranking
---@field number integer question: which, from 1
---@field total integer question: how many the game asks
---@field choices string[] question: lettered a, b, c…
---@field seconds number question, countdown: the time to answer, or left
---@field count integer lost: how many datagrams in a row
---@field state "unreachable"|"back"|"restarted"|"handed_over" announcer
---@field protected boolean protection

---------------------------------------------------------------------------
-- The game API (game scripts)
---------------------------------------------------------------------------

---An announcement for every player.
---@param text string
function announce(text) end

---An announcement with a deadline (a turn, a phase): players show the time left. The game's
---own timer (`after`) still decides what happens when it runs out.
---@param seconds number 0 to 86400
---@param text string
function countdown(seconds, text) end

---A line only `player` sees.
---@param player string
---@param text string
function tell(player, text) end

---The start banner.
---@param title string
---@param text? string a line under the title: the rules in short
function game_start(title, text) end

---Which scores are best: "desc" the highest (points, the default), "asc" the lowest (times).
---@alias gamecast.Order "desc"|"asc"

---Sends a ranking: sorted best first, equal scores share a rank. Returns the ranked list.
---@param scores table<string, number>|{name: string, score: number}[] `{name = score}`, or a list of `{name = , score = }` (equal scores keep the list's order)
---@param order? gamecast.Order
---@return gamecast.Entry[]
function ranking(scores, order) end

---The ranked list `ranking` would send, without sending anything.
---@param scores table<string, number>|{name: string, score: number}[]
---@param order? gamecast.Order
---@return gamecast.Entry[]
function rank(scores, order) end

---What `question{…}` takes.
---@class (exact) gamecast.Question
---@field text string
---@field choices string[] 2 to 26 choices, lettered a, b, c…
---@field seconds? number the time to answer (default 20)
---@field number? integer which question this is (default 1)
---@field total? integer how many the game asks (default `number`)

---A question with lettered choices.
---@param spec gamecast.Question
function question(spec) end

---How many of the players asked have answered the open question (not what): the scoreboard
---and the players' status line show it as answers come in.
---@param count integer answers in
---@param of integer players asked (at least `count`)
function answered(count, of) end

---What `tally{…}` takes.
---@class (exact) gamecast.Tally
---@field counts integer[] answers for each choice, in order (2 to 26)
---@field correct? integer which choice was right, from 1

---How a closed question's answers were spread over its choices: the scoreboard draws it.
---@param spec gamecast.Tally
function tally(spec) end

---Congratulates the winner publicly.
---@param name string
---@param text? string
function congratulate(name, text) end

---The end banner.
---@param text? string
function game_end(text) end

---The lines that are moves: a player's line equal to one of them (ignoring case and spaces)
---goes to the announcer only; any other line is public chat. An entry that starts with `^` is
---a Lua pattern, tried on the line trimmed and lowercased: `"^answer%s"`.
---@param list string[]
function moves(list) end

---Every line a joined player types (chat and moves). `nil` removes the handler.
---@param handler? fun(player: string, text: string)
function on_message(handler) end

---A player joined (`players()` includes them already). Returning `false, reason` refuses them:
---they are told why, and are not in the game.
---@param handler? fun(player: string): (boolean?, string?)
function on_join(handler) end

---A player left (`players()` no longer includes them).
---@param handler? fun(player: string, reason: "quit"|"end of input"|"interrupted"|"connection lost")
function on_leave(handler) end

---Runs after each successful reload of the file, to migrate `state`.
---@param handler? fun()
function on_reload(handler) end

---How `--bots` players play: called with each event a bot sees; return a line for the bot to
---type, or nil.
---@param handler? fun(name: string, event: gamecast.Event): string?
function on_bot(handler) end

---The first name of `on_bot`, which still works.
---@param handler? fun(name: string, event: gamecast.Event): string?
function bot(handler) end

---A pending timer.
---@class gamecast.Timer
local Timer = {}

---Stops the timer: it will not run (again).
function Timer:cancel() end

---Runs `fn` once, `seconds` from now (0 to 86,400: a day).
---@param seconds number
---@param fn fun()
---@return gamecast.Timer
function after(seconds, fn) end

---Runs `fn` every `seconds` (at least a millisecond apart, at most a day).
---@param seconds number
---@param fn fun()
---@return gamecast.Timer
function every(seconds, fn) end

---The names of the players in the game, in join order.
---@return string[]
function players() end

---Whether `name` is one of the announcer's own `--bots` players (a game can tell that only
---bots are left, who cannot ask for a rematch).
---@param name string
---@return boolean
function is_bot(name) end

---A clock in seconds, sub-millisecond: the host's monotonic clock (use differences), or a
---simulated game's clock.
---@return number
function now() end

---Ends the announcer once the current handler returns; players are told and leave.
function stop() end

---A line on the host's console (cut at 2 KiB; 64 KiB a call at most).
---@param ... any
function print(...) end

---The range `setting` checks a value against.
---@class (exact) gamecast.Range
---@field min? number
---@field max? number
---@field integer? boolean only whole numbers

---Declares a `--set` setting and returns its value: `default`, or the `--set name=value`
---given, parsed as the default's type and checked against `range` (a bad value is an error
---at this line). `--set` of a name the script does not declare is an error, and
---`announcer --settings SCRIPT` lists them.
---@generic T: number|string|boolean
---@param name string
---@param default T
---@param description string what it means, for --settings
---@param range? gamecast.Range
---@return T
function setting(name, default, description, range) end

---The `--set KEY=VALUE` settings, as strings.
---@type table<string, string>
args = {}

---The game's state: keep scores, rounds and phases here; it survives reloads.
---@type table<string, any>
state = {}

---Runs `name.lua` from the script's folder once (`lib.x` is `lib/x.lua`) and returns what it
---returned.
---@param name string
---@return any
function require(name) end

---The sandbox's `os`: the clock only.
---@class gamecast.os
os = {}

---@param date? osdateparam
---@return integer
function os.time(date) end

---@return number
function os.clock() end

---@param format? string
---@param time? integer
---@return string|osdate
function os.date(format, time) end

---@param t2 integer
---@param t1 integer
---@return number
function os.difftime(t2, t1) end

---------------------------------------------------------------------------
-- == The test API (test files, named *_test.lua, run with announcer --test) ==
---------------------------------------------------------------------------

---What `game(path, options)` takes.
---@class (exact) gamecast.GameOptions
---@field set? table<string, string|number|boolean> the `--set` settings
---@field seed? integer the seed of every random draw (default 1)
---@field bots? integer `--bots` players
---@field bot_think? number the longest a bot thinks, in seconds (default 1)
---@field loss? number the share of datagrams each member loses, in percent (0 to 90)

---A simulated game, steered by a test.
---@class gamecast.SimulatedGame
local SimulatedGame = {}

---A player joins; returns once the announcer welcomed or refused them.
---@param name string
---@return gamecast.Player
function SimulatedGame:join(name) end

---Lets `seconds` of game time pass.
---@param seconds number
function SimulatedGame:wait(seconds) end

---Lets time pass until the script calls `stop()`; an error if it has not within `seconds`
---(default an hour).
---@param seconds? number
function SimulatedGame:run_to_end(seconds) end

---Whether the game ended.
---@return boolean
function SimulatedGame:ended() end

---The game time, in seconds since the announcer started.
---@return number
function SimulatedGame:time() end

---The host's console, line by line.
---@return string[]
function SimulatedGame:host() end

---The host's `script error:` lines (looking at them keeps them from failing the test).
---@return string[]
function SimulatedGame:errors() end

---What a test looks for: text one of the event's fields contains, or fields it has.
---@alias gamecast.Pattern string|table

---A player of a simulated game.
---@class gamecast.Player
---@field name string
local Player = {}

---Types a line (it is sent as time passes).
---@param text string
function Player:say(text) end

---The player's input ends: they quit.
function Player:leave() end

---Lets time pass until the player sees such an event (60 s at most, or `seconds`) and returns
---it; an error, naming the last events the player saw, if not. It reads in order: only events
---after the one this player's previous `wait_for` returned count (`saw` looks at all of them).
---@param what gamecast.Pattern
---@param seconds? number
---@return gamecast.Event
function Player:wait_for(what, seconds) end

---The first such event the player saw so far, or nil.
---@param what gamecast.Pattern
---@return gamecast.Event?
function Player:saw(what) end

---Every event the player saw so far.
---@return gamecast.Event[]
function Player:events() end

---How the player's program ended (`closed`, `left`, `refused: …`, `interrupted`), or nil.
---@return string?
function Player:outcome() end

---Registers a test; they run in order.
---@param name string
---@param fn fun()
function test(name, fn) end

---Starts a simulated game of the script at `path` (relative to the test file).
---@param path string
---@param options? gamecast.GameOptions
---@return gamecast.SimulatedGame
function game(path, options) end

---Fails the test at this line unless `value` is true.
---@param value any
---@param message? string
function expect(value, message) end

---Fails the test at this line unless the two are equal (tables compared by content).
---@param actual any
---@param expected any
---@param message? string
function expect_eq(actual, expected, message) end
