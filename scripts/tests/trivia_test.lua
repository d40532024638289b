-- Tests of trivia.lua: announcer --test scripts/tests/trivia_test.lua

local function quiz(settings)
  local set = { countdown = 0, questions = 2, pause = 1 }
  for key, value in pairs(settings or {}) do
    set[key] = value
  end
  return game("../trivia.lua", { set = set })
end

test("a right answer scores, a wrong one does not, and both are ranked", function()
  local g = quiz()
  local alice = g:join("alice")
  local bob = g:join("bob")
  local q = alice:wait_for({ kind = "question", number = 1, total = 2 })
  expect_eq(#q.choices, 4)
  alice:say("c") -- the first question's answer: 224.0.0.0/4
  bob:say("a")
  alice:wait_for("Right! +")
  bob:wait_for("Answer: c)")
  expect(not bob:saw("Right!"), "bob answered wrong")
  local ranking = bob:wait_for({ kind = "ranking" })
  expect_eq(ranking.entries[1].name, "alice")
end)

test("an answer is never shown to the other players", function()
  local g = quiz()
  local alice = g:join("alice")
  local bob = g:join("bob")
  alice:wait_for({ kind = "question", number = 1 })
  alice:say("c")
  bob:wait_for("Answer: c)")
  expect(not bob:saw({ kind = "chat", from = "alice" }), "alice's answer reached bob as chat")
end)

test("only the first answer counts", function()
  local g = quiz()
  local alice = g:join("alice")
  g:join("bob")
  alice:wait_for({ kind = "question", number = 1 })
  alice:say("a")
  alice:say("c")
  alice:wait_for("Only your first answer counts: a")
end)

test("a question closes when its time is up", function()
  local g = quiz({ question_seconds = 5 })
  local alice = g:join("alice")
  g:join("bob")
  alice:wait_for({ kind = "question", number = 1, seconds = 5 })
  local asked = g:time()
  alice:wait_for("Answer: c)", 10)
  expect(g:time() - asked >= 5, "closed before its time")
end)

test("the quiz ends with the best player congratulated", function()
  local g = quiz({ questions = 1 })
  local alice = g:join("alice")
  local bob = g:join("bob")
  alice:wait_for({ kind = "question", number = 1 })
  alice:say("c")
  g:wait(2)
  bob:say("c")
  local winner = bob:wait_for({ kind = "congratulate" })
  -- Both were right; alice answered two seconds sooner, so she scored more.
  expect_eq(winner.player, "alice")
  bob:wait_for({ kind = "game_end" })
  bob:wait_for("Type again within 30 seconds for a rematch")
  g:run_to_end(31)
end)

test("again after the quiz asks the questions again, scores from 0", function()
  local g = quiz({ questions = 1 })
  local alice = g:join("alice")
  local bob = g:join("bob")
  alice:wait_for({ kind = "question", number = 1 })
  alice:say("c")
  bob:say("a")
  bob:wait_for("Type again within")
  bob:say("again")
  alice:wait_for("bob wants a rematch.")
  local asked = alice:wait_for({ kind = "question", number = 1 })
  expect_eq(asked.text, "Which IPv4 address range is reserved for multicast?")
  alice:say("a")
  bob:say("a")
  local ranking = alice:wait_for({ kind = "ranking" })
  for _, entry in ipairs(ranking.entries) do
    expect_eq(entry.score, 0, "nobody scored in the rematch: " .. entry.name)
  end
end)

test("a whole quiz with three bots plays to its end", function()
  local g = game("../trivia.lua", { bots = 3, seed = 3 })
  g:run_to_end(3600)
  expect_eq(#g:errors(), 0, "no script error")
end)

test("one of anything is said in the singular", function()
  local g = game("../trivia.lua", {
    set = { questions = 1, question_seconds = 1, countdown = 1, min_players = 1 },
  })
  local alice = g:join("alice")
  alice:wait_for("1 player here: the quiz starts in 1 second (type start")
  local start = alice:wait_for({ kind = "game_start" })
  local text = start.text or ""
  expect(text:find("^1 question on networking and IP multicast, 1 second each%."), text)
end)

test("what looks like an answer is an answer, never chat", function()
  local g = quiz({ min_players = 3 })
  local alice = g:join("alice")
  local bob = g:join("bob")
  local carol = g:join("carol")
  alice:wait_for({ kind = "question", number = 1 })
  alice:say(" C. ")
  alice:wait_for("answer recorded: c")
  bob:say("e")
  bob:wait_for("e is not one of the choices")
  bob:say("Answer: (a)")
  bob:wait_for("answer recorded: a")
  carol:say("b) 224.0.0.0/8")
  carol:wait_for("answer recorded: b")
  carol:wait_for("Answer: c)")
  for _, player in ipairs({ alice, bob, carol }) do
    local chat = player:saw({ kind = "chat" })
    expect(chat == nil, player.name .. " saw an answer as chat: " .. tostring(chat and chat.text))
  end
  -- Chat that is not answer-like is still chat.
  alice:say("good luck everyone")
  bob:wait_for({ kind = "chat", from = "alice", text = "good luck everyone" })
end)
