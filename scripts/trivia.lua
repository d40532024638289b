--[[
trivia.lua — a networking and IP multicast quiz for gamecast.

Questions are asked in file order (the order of QUESTIONS below), so every
class sees the same quiz; set `questions` to ask only the first few.

Settings (pass them as --set key=value):
  countdown         default 10   seconds from "enough players" to the start (0 = start at once)
  min_players       default 2    players needed before the countdown begins
  question_seconds  default 20   seconds to answer each question
  questions         default all  how many questions to ask (the first N, in file order)
  pause             default 3    seconds between a question's result and the next question
  rematch           default 30   seconds after the end to type again for a rematch (0: none)

Moves (typed lines sent privately to the announcer, never shown to others):
  a, b, c, d   your answer to the open question (only your first answer counts)
  start        start the quiz now, without waiting for more players or the countdown
  again        after the end: a rematch with everyone still here

Scoring: a correct answer scores 500 + floor(500 * time_left / question_seconds),
so faster answers score more (500 to 1000); a wrong or missing answer scores 0.
A question closes when everyone in the game has answered or the time runs out.
At the end every player tied for the top score is congratulated.

All mutable game data lives in the runtime's `state` table, so that reloading
this file keeps a quiz in progress (the top level only fills in missing fields).
]]

local lobby = require "lib.lobby" -- the lobby and helpers shared with dice.lua

-- This game as lib/lobby.lua sees it (the lobby's functions take it first).
-- The settings below add countdown and min_players; start, moves, join and
-- leave are defined further down, just before the runtime hooks.
local GAME = {
  noun       = "quiz",       -- in the lobby's texts: "the quiz starts in 10 seconds"
  already_on = "The quiz is already on.", -- to whoever types start now
}

---------------------------------------------------------------------------
-- Questions: text, four choices, and the letter of the correct one
---------------------------------------------------------------------------

local QUESTIONS = {
  {
    text = "Which IPv4 address range is reserved for multicast?",
    choices = { "10.0.0.0/8", "192.168.0.0/16", "224.0.0.0/4", "127.0.0.0/8" },
    answer = "c",
  },
  {
    text = "What does IGMP do?",
    choices = {
      "Hosts tell their local routers which multicast groups they want to receive",
      "It translates host names into IP addresses",
      "It encrypts multicast datagrams",
      "It hands out IP addresses to new hosts",
    },
    answer = "a",
  },
  {
    text = "A multicast datagram is sent with TTL 1. How far does it go?",
    choices = {
      "Across the whole Internet",
      "It lives for exactly 1 second",
      "It is dropped before it leaves the sender",
      "Only the local network: routers don't forward it",
    },
    answer = "d",
  },
  {
    text = "Why do multicast receivers set SO_REUSEADDR before bind()?",
    choices = {
      "To resend lost datagrams automatically",
      "So several programs on the same host can bind the same port",
      "To receive datagrams sent to any port",
      "To make the socket non-blocking",
    },
    answer = "b",
  },
  {
    text = "Which is true of UDP compared with TCP?",
    choices = {
      "UDP guarantees that datagrams arrive in order",
      "UDP needs a three-way handshake before sending",
      "UDP is connectionless: datagrams may be lost, duplicated or reordered",
      "UDP only works on the loopback interface",
    },
    answer = "c",
  },
  {
    text = "Who receives a datagram sent to 224.0.0.1?",
    choices = {
      "All multicast-capable hosts on the local network",
      "Only the default router",
      "Nobody: it is a reserved address",
      "Every host on the Internet",
    },
    answer = "a",
  },
  {
    text = "Which socket option makes a socket join a multicast group?",
    choices = { "SO_BROADCAST", "IP_MULTICAST_TTL", "TCP_NODELAY", "IP_ADD_MEMBERSHIP" },
    answer = "d",
  },
  {
    text = "What is 127.0.0.1?",
    choices = {
      "The default gateway",
      "The loopback address: this same host",
      "The all-hosts multicast group",
      "The limited broadcast address",
    },
    answer = "b",
  },
  {
    text = "Which UDP port do the lab's multicast examples use by default?",
    choices = { "80", "22", "5007", "53" },
    answer = "c",
  },
  {
    text = "Why can't multicast be done over TCP?",
    choices = {
      "A TCP connection joins exactly two endpoints",
      "TCP has no port numbers",
      "Routers drop every TCP segment",
      "TCP is too slow for groups",
    },
    answer = "a",
  },
  {
    text = "Which socket option sets how many router hops a multicast datagram may cross?",
    choices = { "SO_RCVBUF", "IP_MULTICAST_TTL", "IP_MULTICAST_LOOP", "SO_LINGER" },
    answer = "b",
  },
  {
    text = "What does IP_MULTICAST_LOOP control?",
    choices = {
      "How many times a datagram is retransmitted",
      "Whether routing loops are detected",
      "The TTL of outgoing datagrams",
      "Whether the sending host also receives its own multicast datagrams",
    },
    answer = "d",
  },
  {
    text = "Which of these is a multicast address?",
    choices = { "192.168.1.255", "10.0.0.1", "255.255.255.255", "239.255.0.1" },
    answer = "d",
  },
  {
    text = "How does a host stop receiving a multicast group?",
    choices = {
      "With IP_DROP_MEMBERSHIP (or by closing the socket)",
      "By sending a TCP FIN to the group",
      "By setting the TTL to 0",
      "It can't: membership lasts until reboot",
    },
    answer = "a",
  },
  {
    text = "Besides the data, what does recvfrom() tell a UDP receiver?",
    choices = {
      "The number of hops the datagram crossed",
      "The sender's IP address and port",
      "How many other hosts received it",
      "The datagram's sequence number",
    },
    answer = "b",
  },
  {
    text = "A receiver binds to 0.0.0.0 (INADDR_ANY). What does that mean?",
    choices = {
      "It receives only from the loopback interface",
      "It sends to every host on the network",
      "It accepts datagrams arriving on any local interface",
      "The socket is not bound at all",
    },
    answer = "c",
  },
}

local LETTERS = { "a", "b", "c", "d" }

---------------------------------------------------------------------------
-- Settings: `announcer --settings scripts/trivia.lua` lists them; a bad --set
-- value is an error at its line, before the game starts.
---------------------------------------------------------------------------

GAME.countdown         = lobby.countdown_setting()
GAME.min_players       = lobby.min_players_setting()
GAME.rematch           = lobby.rematch_setting()
local QUESTION_SECONDS = setting("question_seconds", 20, "seconds to answer each question",
  { min = 1, max = 3600 })
local TOTAL            = setting("questions", #QUESTIONS,
  "how many to ask (the first N, in file order)", { min = 1, max = #QUESTIONS, integer = true })
local PAUSE            = setting("pause", 3,
  "seconds between a question's result and the next one", { min = 0, max = 3600 })

-- Moves: the letters, and what else looks like an answer (these are Lua patterns, tried on
-- the line trimmed and lowercased): "(b)", "c.", "a) 224.0.0.0/4", "answer c", and any one
-- letter, e included. A line that looks like an answer is never shown to the other players.
local MOVES = { "a", "b", "c", "d", "start", "again",
  "^%(?%a%)?[%.:]?$",      -- a letter alone: "a", "(b)", "c.", "d:", "e"
  "^%(?[a-d][%).:]",       -- a choice copied: "a) 224.0.0.0/4"
  "^answer%s*:?%s*%(?%a",  -- "answer c", "answer: (b)"
}

-- The moves while question `q` is open: those above, and the text of each of its choices
-- ("224.0.0.0/4" typed without its letter is an answer too, never chat).
local function moves_for(q)
  local list = {}
  for i, move in ipairs(MOVES) do
    list[i] = move
  end
  for _, choice in ipairs(q and q.choices or {}) do
    local text = lobby.normalize(choice)
    if text ~= "" and text:sub(1, 1) ~= "^" then
      list[#list + 1] = text
    end
  end
  return list
end

-- (A reload during a question keeps its choices as moves.)
moves(moves_for(state.phase == "question" and QUESTIONS[state.number or 0] or nil))

---------------------------------------------------------------------------
-- State (kept across reloads: only fill in what is missing)
---------------------------------------------------------------------------

-- phase: "lobby", "countdown", "question", "between" or "over"
state.phase        = state.phase or "lobby"
state.contestants  = state.contestants or {}   -- names in the game, in join order
state.scores       = state.scores or {}        -- name -> points
state.number       = state.number or 0         -- number of the current / last question
state.asked        = state.asked or {}         -- name -> true: who must answer the open question
state.answers      = state.answers or {}       -- name -> { letter =, at = now() }
state.answer_order = state.answer_order or {}  -- names in the order they answered
state.opened_at    = state.opened_at or 0      -- now() when the open question was sent
state.timers       = state.timers or {}        -- "countdown" / "question" / "pause" -> timer handle

---------------------------------------------------------------------------
-- Small helpers (more, shared with dice.lua, are in lib/lobby.lua)
---------------------------------------------------------------------------

-- Contestants from best to worst score (join order on equal scores).
local function by_score()
  return lobby.ranked(state.contestants, state.scores)
end

-- "alice 1830, bob 940": every contestant (no limit given, so not cut short)
local function scores_text()
  return lobby.points_text(by_score(), state.scores)
end

---------------------------------------------------------------------------
-- End of the game
---------------------------------------------------------------------------

-- (If everybody leaves, lobby.player_quit ends the quiz without a winner.)
local function finish()
  lobby.game_over()

  local order = by_score()
  local top = state.scores[order[1]]
  if top > 0 then
    -- Everybody with the top score shares the win: congratulate each of them.
    local winners = {}
    for _, name in ipairs(order) do
      if state.scores[name] == top then
        winners[#winners + 1] = name
      end
    end
    for _, name in ipairs(winners) do
      if #winners == 1 then
        congratulate(name, ("%s wins the quiz with %d points!"):format(name, top))
      else
        congratulate(name, ("%s shares first place with %d points!"):format(name, top))
      end
    end
  else
    announce("Nobody scored this time: no winner.")
  end

  game_end(("Final scores: %s. Thanks for playing!"):format(scores_text()))
  lobby.after_the_end(GAME)
end

---------------------------------------------------------------------------
-- Questions
---------------------------------------------------------------------------

-- These call each other (a question closes -> the next one is asked), so
-- declare them first and define them below.
local ask_next, close_question, close_if_everyone_answered

ask_next = function()
  state.number = state.number + 1
  local q = QUESTIONS[state.number]
  state.phase = "question"
  state.answers, state.answer_order = {}, {}
  -- Only the players in the game now must answer; someone who joins while
  -- the question is open never saw it and plays from the next one.
  state.asked = {}
  for _, name in ipairs(state.contestants) do
    state.asked[name] = true
  end
  state.opened_at = now()
  moves(moves_for(q))

  question{
    text = q.text,
    choices = q.choices,
    seconds = QUESTION_SECONDS,
    number = state.number,
    total = TOTAL,
  }

  -- The timer remembers its question: if it fires late it must not close a later one.
  local number = state.number
  lobby.start_timer("question", QUESTION_SECONDS, function()
    if state.phase == "question" and state.number == number then
      close_question()
    end
  end)
end

-- Points for a correct answer given at time `at`: faster = more.
local function points_for(at)
  local time_left = QUESTION_SECONDS - (at - state.opened_at)
  time_left = math.max(0, math.min(QUESTION_SECONDS, time_left))
  return 500 + math.floor(500 * time_left / QUESTION_SECONDS)
end

close_question = function()
  lobby.cancel_timer("question") -- everybody answered before the time ran out
  state.phase = "between"
  local q = QUESTIONS[state.number]

  -- Award points, fastest first, and name who got it right.
  local right = {}
  for _, name in ipairs(state.answer_order) do
    local answer = state.answers[name]
    if state.scores[name] ~= nil and answer.letter == q.answer then
      local points = points_for(answer.at)
      state.scores[name] = state.scores[name] + points
      right[#right + 1] = name
      tell(name, ("Right! +%d points"):format(points))
    end
  end

  -- How the answers were spread, for the scoreboard's bars.
  local counts = {}
  for i = 1, #q.choices do
    counts[i] = 0
  end
  for _, name in ipairs(state.answer_order) do
    local i = lobby.index_of(LETTERS, state.answers[name].letter)
    if i and counts[i] then
      counts[i] = counts[i] + 1
    end
  end
  tally{ counts = counts, correct = lobby.index_of(LETTERS, q.answer) }

  local who = #right > 0 and (lobby.short_list(right, 10) .. " got it") or "nobody got it"
  local correct_text = q.choices[lobby.index_of(LETTERS, q.answer)]
  announce(("Answer: %s) %s — %s"):format(q.answer, correct_text, who))
  ranking(state.scores)

  if state.number >= TOTAL then
    finish()
  else
    if PAUSE > 0 then
      -- Replaces the question's countdown: players see the pause, not a question still open.
      countdown(PAUSE, ("Question %d of %d next"):format(state.number + 1, TOTAL))
    end
    lobby.start_timer("pause", PAUSE, function()
      if state.phase == "between" then
        ask_next()
      end
    end)
  end
end

close_if_everyone_answered = function()
  if state.phase ~= "question" then
    return
  end
  for name in pairs(state.asked) do
    if not state.answers[name] then
      return -- still waiting for someone
    end
  end
  close_question()
end

---------------------------------------------------------------------------
-- What lib/lobby.lua calls: the start, and moves, joins and leaves during the quiz
---------------------------------------------------------------------------

function GAME.start(present)
  state.contestants, state.scores = {}, {}
  state.number = 0
  for _, name in ipairs(present) do
    lobby.add_player(state.contestants, state.scores, name)
  end
  game_start("Trivia", ("%s on networking and IP multicast, %s each. "
    .. "Type a, b, c or d: your first answer counts, and faster right answers score more.")
    :format(lobby.count(TOTAL, "question"), lobby.count(QUESTION_SECONDS, "second")))
  ask_next()
end

-- A player joining mid-quiz starts with 0 points, from the next question.
function GAME.join(player)
  lobby.add_player(state.contestants, state.scores, player)
  tell(player, ("The quiz is on (question %d of %d). You join with 0 points and "
    .. "play from the next question."):format(state.number, TOTAL))
  announce(player .. " joins the quiz.")
end

local function on_answer(player, letter)
  if state.phase == "question" and not lobby.index_of(LETTERS, letter) then
    tell(player, ("%s is not one of the choices: answer a, b, c or d."):format(letter))
  elseif state.phase == "between" then
    tell(player, "No question is open right now: wait for the next one.")
  elseif state.phase == "question" then
    local previous = state.answers[player]
    if not state.asked[player] then
      tell(player, "You joined during this question: you can answer from the next one.")
    elseif previous then
      tell(player, ("Only your first answer counts: %s"):format(previous.letter))
    else
      -- Record it privately: no gamecast player learns it before the question closes (a text
      -- player typed it on the open text channel, where the lab's other scripts see it).
      state.answers[player] = { letter = letter, at = now() }
      state.answer_order[#state.answer_order + 1] = player
      tell(player, "answer recorded: " .. letter)
      -- The room sees how many are in, never what.
      local asked = 0
      for _ in pairs(state.asked) do
        asked = asked + 1
      end
      answered(#state.answer_order, math.max(asked, #state.answer_order))
      close_if_everyone_answered()
    end
  end
end

-- Each move (but "start") and what it does while the quiz is on: every letter is an answer
-- (one that is not a choice is told so).
GAME.moves = {}
for code = string.byte("a"), string.byte("z") do
  GAME.moves[string.char(code)] = on_answer
end

-- What an answer-like line means: "(b)", "c.", "a) 224…" and "answer c" are answers.
function GAME.parse_move(move)
  local letter = move:match("^%(?(%a)%)?[%.:]?$") or move:match("^%(?([a-d])[%).:]")
    or move:match("^answer%s*:?%s*%(?(%a)")
  if letter then
    return letter
  end
  -- A choice's text typed without its letter, while its question is open.
  local q = QUESTIONS[state.number]
  if state.phase == "question" and q then
    for i, choice in ipairs(q.choices) do
      if lobby.normalize(choice) == move then
        return LETTERS[i]
      end
    end
  end
  return nil
end

function GAME.leave(player)
  if state.scores[player] == nil then
    return -- not a contestant
  end
  lobby.remove_value(state.answer_order, player)
  state.asked[player] = nil
  state.answers[player] = nil
  -- Announces it and drops them; with nobody left the quiz ends there.
  if lobby.player_quit(GAME, state.contestants, state.scores, player) > 0 then
    close_if_everyone_answered() -- the question may have been waiting only for them
  end
end

---------------------------------------------------------------------------
-- Runtime hooks
---------------------------------------------------------------------------

-- on_message, on_join and on_leave: lib/lobby.lua registers them. It runs the
-- lobby and the "start" move itself, and calls the GAME functions above
-- while the quiz is on.
lobby.setup(GAME)

-- Simulated players: answer each question once, right about 60% of the time.
on_bot(function(name, event)
  if event.kind ~= "question" then
    return nil
  end
  if state.phase ~= "question" or event.number ~= state.number
      or not state.asked[name] or state.answers[name] then
    return nil
  end
  local correct = QUESTIONS[state.number].answer
  if math.random() < 0.6 then
    return correct
  end
  -- Otherwise one of the three wrong letters.
  local wrong = {}
  for _, letter in ipairs(LETTERS) do
    if letter ~= correct then
      wrong[#wrong + 1] = letter
    end
  end
  return wrong[math.random(#wrong)]
end)
