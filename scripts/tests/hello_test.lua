-- Tests of hello.lua, the lab's first exercise: announcer --test scripts/tests/hello_test.lua

test("everybody who joins is greeted", function()
  local g = game("../hello.lua")
  local alice = g:join("alice")
  local bob = g:join("bob")
  alice:wait_for("Hola bob! Say Adiós to end for everyone.")
  expect(bob:saw("Hola alice!") == nil, "bob joined after alice's greeting")
end)

test("chat reaches everyone, tagged with who wrote it", function()
  local g = game("../hello.lua")
  local alice = g:join("alice")
  local bob = g:join("bob")
  alice:say("hi all")
  bob:wait_for({ kind = "chat", from = "alice", text = "hi all" })
end)

test("Adiós in any spelling ends the game for everyone", function()
  for _, goodbye in ipairs({ "Adiós", "adios", " ADIÓS! ", "Adiós." }) do
    local g = game("../hello.lua")
    local alice = g:join("alice")
    local bob = g:join("bob")
    alice:say(goodbye)
    bob:wait_for({ kind = "game_end" })
    g:run_to_end(10)
    expect_eq(bob:outcome(), "closed", goodbye)
  end
end)

test("two bots greet each other and say goodbye by themselves", function()
  local g = game("../hello.lua", { bots = 2 })
  g:run_to_end(60)
end)
