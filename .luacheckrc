-- luacheck for gamecast scripts: the sandbox's standard library and the game API, nothing else,
-- so that `io`, `os.execute`, `debug` or a misspelled global is an error at its line.
-- (The API's own list is scripts/types/gamecast.lua; a test keeps the two in step.)

local api = {
  "announce", "countdown", "tell", "game_start", "ranking", "rank", "question", "answered", "tally",
  "congratulate", "game_end",
  "moves", "on_message", "on_join", "on_leave", "on_reload", "on_bot", "bot", "after", "every",
  "players", "is_bot", "now", "stop", "setting", "args",
}

local tests = { "test", "game", "expect", "expect_eq" }

local function fields(names)
  local set = {}
  for _, name in ipairs(names) do
    set[name] = {}
  end
  return set
end

stds.sandbox = {
  read_globals = {
    -- Lua 5.4's base library, without dofile and loadfile.
    "assert", "collectgarbage", "error", "getmetatable", "ipairs", "load", "next", "pairs",
    "pcall", "print", "rawequal", "rawget", "rawlen", "rawset", "require", "select",
    "setmetatable", "tonumber", "tostring", "type", "warn", "xpcall", "_G", "_VERSION",
    string = { other_fields = true },
    table = { other_fields = true },
    math = { other_fields = true },
    utf8 = { other_fields = true },
    coroutine = { other_fields = true },
    -- The clock of `os`, nothing else.
    os = { fields = fields({ "time", "clock", "date", "difftime" }) },
  },
}

stds.gamecast = {
  read_globals = api,
  -- `state` is the game's own table: its fields are written, the table itself is kept.
  globals = { state = { other_fields = true, read_only = false } },
}

stds.gamecast_tests = { read_globals = tests }

std = "sandbox+gamecast"
max_line_length = 100
-- Handlers have the signatures the API gives them: an argument a handler ignores is fine.
unused_args = false
exclude_files = { "scripts/types/**" }

files["**/*_test.lua"] = { std = "sandbox+gamecast_tests" }
