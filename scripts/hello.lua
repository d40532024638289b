--[[
hello.lua — the lab's first exercise for gamecast.

Everybody who joins is greeted. Players chat freely; as soon as anyone says
"Adiós" the game ends for everyone together.

"Adiós" is recognised in any case, with or without the accent, ignoring
surrounding spaces and trailing punctuation: "adios", "ADIÓS!", " Adiós. ".

Settings: none.
Moves: none (every line is public chat).

Bots (announcer --bots N): a bot says "Hola!" when it is welcomed, answers
the first line another player says, and says "Adiós" once it has seen two
chat lines from others. So `announcer scripts/hello.lua --bots 2` ends by itself.
]]

-- State kept across reloads: only fill in what is missing.
state.over     = state.over or false      -- true once someone said Adiós
state.bot_seen = state.bot_seen or {}     -- bot name -> chat lines from others it has seen
state.bot_bye  = state.bot_bye or {}      -- bot name -> true once it said Adiós

-- Turns a chat line into a comparable word: "  ADIÓS!! " -> "adios".
-- string.lower only knows ASCII letters, so the accented O (UTF-8 bytes
-- C3 93 for "Ó", C3 B3 for "ó") is replaced by a plain "o" by hand.
-- (The end is trimmed by looking for the last character to keep from the end, in the
-- reversed text: a pattern like "%s+$" backtracks over a long run of spaces.)
local function trim_end(s, keep)
  local from_end = s:reverse():find(keep)
  return from_end and s:sub(1, #s - from_end + 1) or ""
end

local function simplify(text)
  local s = text:sub(text:find("%S") or #text + 1)   -- leading spaces
  s = trim_end(s, "[^%p%s]")                          -- trailing spaces, "!", ".", "?"...
  s = s:lower()
  s = s:gsub("^\194\161", "")                        -- a leading "¡" too
  s = s:gsub("\195\147", "o"):gsub("\195\179", "o")   -- "Ó" / "ó" -> "o"
  s = s:gsub("o\204\129", "o")                        -- "o" + combining accent
  return s
end

local function is_goodbye(text)
  return simplify(text) == "adios"
end

on_join(function(player)
  announce(("Hola %s! Say Adiós to end for everyone."):format(player))
end)

on_message(function(player, text)
  if state.over or not is_goodbye(text) then
    return -- ordinary chat: the runtime already showed it to everybody
  end
  state.over = true
  game_end(("%s said Adiós: everybody leaves together"):format(player))
  stop()
end)

-- Simulated players. The hook runs for every event a bot receives; a
-- returned string is what the bot types.
on_bot(function(name, event)
  if event.kind == "welcome" then
    return "Hola!"
  end
  if event.kind ~= "chat" or event.from == name or state.over then
    return nil -- only other players' chat lines matter
  end
  local seen = (state.bot_seen[name] or 0) + 1
  state.bot_seen[name] = seen
  if seen == 1 then
    -- Answer the first line: with two bots, each one's greeting only
    -- gives the other bot one line, so the reply is the second line.
    return ("Hola %s, ¿qué tal?"):format(event.from)
  end
  if not state.bot_bye[name] then
    state.bot_bye[name] = true
    return "Adiós"
  end
  return nil
end)
