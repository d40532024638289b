//! The standard library's functions that can loop inside C for as long as their arguments
//! say, replaced by ones that cannot: the instruction-count hook ([`super::limits`]) never fires
//! inside C, so a pattern that backtracks, `string.rep("", math.maxinteger)` or a `table.move`
//! over the whole integer range would freeze the announcer for good.
//!
//! - `string.find`, `match`, `gmatch`, `gsub`: Lua's own matcher, ported ([`super::patterns`]),
//!   that asks the call's time limit as it goes; results as large as the memory limit refused.
//! - `string.rep`: built in Rust in a few copies, its size checked against the memory limit
//!   before anything is made.
//! - `table.insert`, `remove`, `move`: written in Lua, so that every step is an instruction the
//!   hook counts.
//! - `os.date` takes formats of at most [`MAX_DATE_FORMAT`] bytes, `load` chunks of at most
//!   [`MAX_CHUNK`] bytes.
//!
//! Everything else in the sandbox's library works in time proportional to sizes the memory
//! limit bounds.

use mlua::{Function, Integer, Lua, MultiValue, Table, Value};

use super::limits;
use crate::patterns::{self, Budget, Capture, Matcher};

/// The longest format `os.date` takes.
pub const MAX_DATE_FORMAT: usize = 256;

/// The largest chunk `load` compiles (its parser runs in C).
pub const MAX_CHUNK: usize = 1 << 20;

/// Installs the bounded functions over the library's own.
pub fn register(lua: &Lua) -> mlua::Result<()> {
    let string: Table = lua.globals().get("string")?;
    string.set("find", lua.create_function(find)?)?;
    string.set("match", lua.create_function(str_match)?)?;
    string.set("gmatch", lua.create_function(gmatch)?)?;
    string.set("gsub", lua.create_function(gsub)?)?;
    string.set("rep", lua.create_function(rep)?)?;
    let table: Table = lua.globals().get("table")?;
    let functions: Table = lua
        .load(TABLE_FUNCTIONS)
        .set_name("=[gamecast table]")
        .set_mode(mlua::chunk::ChunkMode::Text)
        .call(())?;
    for name in ["insert", "remove", "move"] {
        table.set(name, functions.get::<Function>(name)?)?;
    }
    let os: Table = lua.globals().get("os")?;
    let date: Function = os.get("date")?;
    os.set(
        "date",
        lua.create_function(move |_, args: MultiValue| {
            if let Some(Value::String(format)) = args.front()
                && format.as_bytes().len() > MAX_DATE_FORMAT
            {
                return Err(mlua::Error::runtime(format!(
                    "bad argument #1 to 'date' (a format of {} bytes; at most {MAX_DATE_FORMAT})",
                    format.as_bytes().len()
                )));
            }
            date.call::<MultiValue>(args)
        })?,
    )?;
    Ok(())
}

/// The time limit of the call in progress, for the matcher.
struct CallBudget<'l>(&'l Lua);

impl Budget for CallBudget<'_> {
    fn check(&mut self) -> Result<(), String> {
        limits::charge(self.0).map_err(|e| e.to_string())
    }
}

/// An error of the matcher, as Lua words it: a stopped call's error as it is, so that
/// `pcall` and friends raise it again.
fn pattern_error(lua: &Lua, why: String) -> mlua::Error {
    match limits::stopped(lua) {
        Some(stopped) => mlua::Error::runtime(stopped),
        None => mlua::Error::runtime(why),
    }
}

fn string_arg(lua: &Lua, value: Value, n: usize, name: &str) -> mlua::Result<mlua::LuaString> {
    let type_name = value.type_name();
    lua.coerce_string(value)?.ok_or_else(|| {
        mlua::Error::runtime(format!(
            "bad argument #{n} to '{name}' (string expected, got {type_name})"
        ))
    })
}

fn integer_arg(
    lua: &Lua,
    value: Value,
    n: usize,
    name: &str,
    default: Integer,
) -> mlua::Result<Integer> {
    if value.is_nil() {
        return Ok(default);
    }
    let type_name = value.type_name();
    lua.coerce_integer(value)?.ok_or_else(|| {
        mlua::Error::runtime(format!(
            "bad argument #{n} to '{name}' (number has no integer representation, or is a {type_name})"
        ))
    })
}

/// Lua's `posrelatI`: a 1-based position (negative from the end) as an index from 0, clamped.
fn start_index(pos: Integer, len: usize) -> usize {
    let len_i = Integer::try_from(len).unwrap_or(Integer::MAX);
    let one_based = if pos > 0 {
        pos
    } else if pos == 0 || pos < len_i.saturating_neg() {
        1
    } else {
        len_i.saturating_add(pos).saturating_add(1)
    };
    usize::try_from(one_based.saturating_sub(1)).unwrap_or(usize::MAX)
}

/// The captures as Lua values.
fn capture_values(lua: &Lua, src: &[u8], captures: Vec<Capture>) -> mlua::Result<MultiValue> {
    captures
        .into_iter()
        .map(|capture| {
            Ok(match capture {
                Capture::Span(start, end) => {
                    Value::String(lua.create_string(src.get(start..end).unwrap_or_default())?)
                }
                Capture::Position(pos) => {
                    Value::Integer(Integer::try_from(pos).unwrap_or(Integer::MAX))
                }
            })
        })
        .collect()
}

fn to_integer(n: usize) -> Value {
    Value::Integer(Integer::try_from(n).unwrap_or(Integer::MAX))
}

/// `string.find(s, pattern [, init [, plain]])`.
fn find(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    find_aux(lua, args, true)
}

/// `string.match(s, pattern [, init])`.
fn str_match(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    find_aux(lua, args, false)
}

/// Lua's `str_find_aux`.
fn find_aux(lua: &Lua, args: MultiValue, find: bool) -> mlua::Result<MultiValue> {
    let name = if find { "find" } else { "match" };
    let mut args = args.into_iter();
    let src = string_arg(lua, args.next().unwrap_or(Value::Nil), 1, name)?;
    let pat = string_arg(lua, args.next().unwrap_or(Value::Nil), 2, name)?;
    let init = integer_arg(lua, args.next().unwrap_or(Value::Nil), 3, name, 1)?;
    let plain = args
        .next()
        .is_some_and(|v| v.as_boolean() != Some(false) && !v.is_nil());
    let (src, pat) = (src.as_bytes(), pat.as_bytes());
    let init = start_index(init, src.len());
    if init > src.len() {
        return Ok(MultiValue::from_iter([Value::Nil]));
    }
    if find && (plain || patterns::no_specials(&pat)) {
        let rest = src.get(init..).unwrap_or_default();
        return Ok(match memchr::memmem::find(rest, &pat) {
            Some(at) => {
                let start = init.saturating_add(at);
                MultiValue::from_iter([
                    to_integer(start.saturating_add(1)),
                    to_integer(start.saturating_add(pat.len())),
                ])
            }
            None => MultiValue::from_iter([Value::Nil]),
        });
    }
    let (pat, anchor) = match pat.strip_prefix(b"^") {
        Some(rest) => (rest, true),
        None => (&pat[..], false),
    };
    let mut budget = CallBudget(lua);
    let mut matcher = Matcher::new(&src, pat, &mut budget);
    let mut start = init;
    loop {
        if let Some(end) = matcher.at(start).map_err(|e| pattern_error(lua, e))? {
            return if find {
                let captures = matcher
                    .captures(start, end, false)
                    .map_err(|e| pattern_error(lua, e))?;
                let mut out =
                    MultiValue::from_iter([to_integer(start.saturating_add(1)), to_integer(end)]);
                out.extend(capture_values(lua, &src, captures)?);
                Ok(out)
            } else {
                let captures = matcher
                    .captures(start, end, true)
                    .map_err(|e| pattern_error(lua, e))?;
                capture_values(lua, &src, captures)
            };
        }
        if anchor || start >= src.len() {
            return Ok(MultiValue::from_iter([Value::Nil]));
        }
        start = start.saturating_add(1);
    }
}

/// `string.gmatch(s, pattern [, init])`: an iterator over the matches.
fn gmatch(lua: &Lua, args: MultiValue) -> mlua::Result<Function> {
    let mut args = args.into_iter();
    let src = string_arg(lua, args.next().unwrap_or(Value::Nil), 1, "gmatch")?;
    let pat = string_arg(lua, args.next().unwrap_or(Value::Nil), 2, "gmatch")?;
    let init = integer_arg(lua, args.next().unwrap_or(Value::Nil), 3, "gmatch", 1)?;
    let len = src.as_bytes().len();
    // Past the end: start after it, so that nothing is found.
    let mut at = start_index(init, len).min(len.saturating_add(1));
    let mut last_match: Option<usize> = None;
    lua.create_function_mut(move |lua, ()| {
        let (bytes, pattern) = (src.as_bytes(), pat.as_bytes());
        let mut budget = CallBudget(lua);
        let mut matcher = Matcher::new(&bytes, &pattern, &mut budget);
        while at <= bytes.len() {
            let start = at;
            at = at.saturating_add(1);
            if let Some(end) = matcher.at(start).map_err(|e| pattern_error(lua, e))?
                && Some(end) != last_match
            {
                at = end;
                last_match = Some(end);
                let captures = matcher
                    .captures(start, end, true)
                    .map_err(|e| pattern_error(lua, e))?;
                return capture_values(lua, &bytes, captures);
            }
        }
        Ok(MultiValue::new())
    })
}

/// `string.gsub(s, pattern, repl [, n])`.
fn gsub(lua: &Lua, args: MultiValue) -> mlua::Result<(Value, Integer)> {
    let mut args = args.into_iter();
    let original = args.next().unwrap_or(Value::Nil);
    let src = string_arg(lua, original.clone(), 1, "gsub")?;
    let pat = string_arg(lua, args.next().unwrap_or(Value::Nil), 2, "gsub")?;
    let repl = args.next().unwrap_or(Value::Nil);
    if !matches!(
        repl,
        Value::String(_)
            | Value::Integer(_)
            | Value::Number(_)
            | Value::Table(_)
            | Value::Function(_)
    ) {
        return Err(mlua::Error::runtime(format!(
            "bad argument #3 to 'gsub' (string/function/table expected, got {})",
            repl.type_name()
        )));
    }
    let (bytes, pattern) = (src.as_bytes(), pat.as_bytes());
    let default_max = Integer::try_from(bytes.len())
        .unwrap_or(Integer::MAX)
        .saturating_add(1);
    let max = integer_arg(
        lua,
        args.next().unwrap_or(Value::Nil),
        4,
        "gsub",
        default_max,
    )?;
    let (pattern, anchor) = match pattern.strip_prefix(b"^") {
        Some(rest) => (rest, true),
        None => (&pattern[..], false),
    };
    let repl_text = match &repl {
        Value::String(_) | Value::Integer(_) | Value::Number(_) => Some(
            lua.coerce_string(repl.clone())?
                .map(|s| s.as_bytes().to_vec()),
        ),
        _ => None,
    };
    let room = limits::memory_room(lua);
    let mut budget = CallBudget(lua);
    let mut matcher = Matcher::new(&bytes, pattern, &mut budget);
    let mut out: Vec<u8> = Vec::new();
    let (mut src_at, mut count, mut changed) = (0usize, 0 as Integer, false);
    let mut last_match: Option<usize> = None;
    while count < max {
        let found = matcher
            .at(src_at)
            .map_err(|e| pattern_error(lua, e))?
            .filter(|&end| Some(end) != last_match);
        if let Some(end) = found {
            count = count.saturating_add(1);
            let whole = bytes.get(src_at..end).unwrap_or_default();
            let replaced: Option<Vec<u8>> = match (&repl_text, &repl) {
                (Some(text), _) => Some(add_s(
                    lua,
                    &matcher,
                    &bytes,
                    text.as_deref().unwrap_or_default(),
                    (src_at, end),
                    room.saturating_sub(out.len()),
                )?),
                (None, Value::Table(table)) => {
                    let key = capture_values(
                        lua,
                        &bytes,
                        vec![
                            matcher
                                .capture(0, src_at, end)
                                .map_err(|e| pattern_error(lua, e))?,
                        ],
                    )?;
                    replacement(lua, table.get::<Value>(key.into_iter().next())?)?
                }
                (None, Value::Function(function)) => {
                    let captures = matcher
                        .captures(src_at, end, true)
                        .map_err(|e| pattern_error(lua, e))?;
                    let args = capture_values(lua, &bytes, captures)?;
                    replacement(lua, function.call::<Value>(args)?)?
                }
                _ => None,
            };
            match replaced {
                Some(text) => {
                    changed = true;
                    out.extend_from_slice(&text);
                }
                None => out.extend_from_slice(whole),
            }
            src_at = end;
            last_match = Some(end);
        } else if src_at < bytes.len() {
            out.push(bytes[src_at]);
            src_at = src_at.saturating_add(1);
        } else {
            break;
        }
        if out.len() > room {
            return Err(too_large());
        }
        if anchor {
            break;
        }
    }
    if !changed {
        return Ok((Value::String(src), count));
    }
    out.extend_from_slice(bytes.get(src_at..).unwrap_or_default());
    Ok((Value::String(lua.create_string(&out)?), count))
}

fn too_large() -> mlua::Error {
    mlua::Error::MemoryError("the result of gsub would not fit in the memory limit".into())
}

/// A table's or function's replacement: `None` keeps the match (nil or false), a string or
/// number replaces it.
fn replacement(lua: &Lua, value: Value) -> mlua::Result<Option<Vec<u8>>> {
    match value {
        Value::Nil | Value::Boolean(false) => Ok(None),
        Value::String(_) | Value::Integer(_) | Value::Number(_) => {
            Ok(lua.coerce_string(value)?.map(|s| s.as_bytes().to_vec()))
        }
        other => Err(mlua::Error::runtime(format!(
            "invalid replacement value (a {})",
            other.type_name()
        ))),
    }
}

/// Lua's `add_s`: a replacement string with `%0`-`%9` and `%%`, refused once it would pass
/// `room` bytes (each `%0` copies the whole match).
fn add_s<B: Budget>(
    lua: &Lua,
    matcher: &Matcher<'_, B>,
    src: &[u8],
    repl: &[u8],
    (s, e): (usize, usize),
    room: usize,
) -> mlua::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(repl.len());
    let mut chars = repl.iter().copied();
    while let Some(c) = chars.next() {
        if out.len() > room {
            return Err(too_large());
        }
        if c != b'%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(b'%') => out.push(b'%'),
            Some(b'0') => out.extend_from_slice(src.get(s..e).unwrap_or_default()),
            Some(d) if d.is_ascii_digit() => {
                let index = usize::from(d.saturating_sub(b'1'));
                match matcher
                    .capture(index, s, e)
                    .map_err(|why| pattern_error(lua, why))?
                {
                    Capture::Span(a, b) => out.extend_from_slice(src.get(a..b).unwrap_or_default()),
                    Capture::Position(p) => out.extend_from_slice(p.to_string().as_bytes()),
                }
            }
            _ => {
                return Err(mlua::Error::runtime(
                    "invalid use of '%' in replacement string",
                ));
            }
        }
    }
    Ok(out)
}

/// `string.rep(s, n [, sep])`, its size checked before anything is built.
fn rep(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::LuaString> {
    let mut args = args.into_iter();
    let s = string_arg(lua, args.next().unwrap_or(Value::Nil), 1, "rep")?;
    let n = integer_arg(
        lua,
        args.next().unwrap_or(Value::Nil),
        2,
        "rep",
        Integer::MIN,
    )?;
    if n == Integer::MIN {
        return Err(mlua::Error::runtime(
            "bad argument #2 to 'rep' (number expected, got no value)",
        ));
    }
    let sep = match args.next() {
        Some(v) if !v.is_nil() => Some(string_arg(lua, v, 3, "rep")?),
        _ => None,
    };
    let (s, sep) = (
        s.as_bytes().to_vec(),
        sep.map(|sep| sep.as_bytes().to_vec()).unwrap_or_default(),
    );
    let Ok(n) = usize::try_from(n) else {
        return lua.create_string(""); // n <= 0
    };
    if n == 0 {
        return lua.create_string("");
    }
    let total = s
        .len()
        .checked_mul(n)
        .and_then(|t| t.checked_add(sep.len().checked_mul(n.saturating_sub(1))?));
    match total {
        Some(total) if total <= limits::memory_room(lua) => {}
        _ => {
            return Err(mlua::Error::MemoryError(
                "string.rep: the resulting string would not fit in the memory limit".into(),
            ));
        }
    }
    if sep.is_empty() {
        return lua.create_string(s.repeat(n));
    }
    let mut unit = sep;
    unit.extend_from_slice(&s);
    let mut out = Vec::with_capacity(total.unwrap_or_default());
    out.extend_from_slice(&s);
    // `repeat` copies in doubling blocks: a few copies however large `n` is.
    out.extend_from_slice(&unit.repeat(n.saturating_sub(1)));
    lua.create_string(out)
}

/// `table.insert`, `table.remove` and `table.move` in Lua, with the C library's checks and
/// words, so that the hook counts their loops.
const TABLE_FUNCTIONS: &str = r##"
local type, tonumber, mtype, error, select = type, tonumber, math.type, error, select
local getmetatable, tointeger = getmetatable, math.tointeger
local maxinteger = math.maxinteger

local function int(v, n, name)
  if type(v) == "string" then v = tonumber(v) end
  if mtype(v) == "float" then v = tointeger(v) end
  if mtype(v) ~= "integer" then
    error(("bad argument #%d to '%s' (number has no integer representation)"):format(n, name), 3)
  end
  return v
end

local function tab(t, n, name)
  local kind = type(t)
  local mt = kind ~= "table" and getmetatable(t)
  if kind ~= "table" and not (type(mt) == "table" and (mt.__index or mt.__newindex or mt.__len)) then
    error(("bad argument #%d to '%s' (table expected, got %s)"):format(n, name, kind), 3)
  end
  return t
end

local M = {}

function M.insert(t, ...)
  tab(t, 1, "insert")
  local e = #t + 1
  local count = select("#", ...)
  if count == 1 then
    t[e] = ...
    return
  elseif count ~= 2 then
    error("wrong number of arguments to 'insert'", 2)
  end
  local pos, v = ...
  pos = int(pos, 2, "insert")
  if pos < 1 or pos > e then
    error("bad argument #2 to 'insert' (position out of bounds)", 2)
  end
  for i = e, pos + 1, -1 do t[i] = t[i - 1] end
  t[pos] = v
end

function M.remove(t, pos)
  tab(t, 1, "remove")
  local size = #t
  if pos == nil then pos = size else pos = int(pos, 2, "remove") end
  if pos ~= size and (pos < 1 or pos > size + 1) then
    error("bad argument #2 to 'remove' (position out of bounds)", 2)
  end
  local result = t[pos]
  while pos < size do
    t[pos] = t[pos + 1]
    pos = pos + 1
  end
  t[pos] = nil
  return result
end

function M.move(a1, f, e, t, a2)
  f, e, t = int(f, 2, "move"), int(e, 3, "move"), int(t, 4, "move")
  if a2 == nil then a2 = a1 end
  tab(a1, 1, "move")
  tab(a2, 5, "move")
  if e >= f then
    if not (f > 0 or e < maxinteger + f) then
      error("bad argument #3 to 'move' (too many elements to move)", 2)
    end
    local n = e - f + 1
    if t > maxinteger - n + 1 then
      error("bad argument #4 to 'move' (destination wrap around)", 2)
    end
    if t > e or t <= f or a1 ~= a2 then
      for i = 0, n - 1 do a2[t + i] = a1[f + i] end
    else
      for i = n - 1, 0, -1 do a2[t + i] = a1[f + i] end
    end
  end
  return a2
end

return M
"##;

#[cfg(test)]
mod tests {
    //! The bounded functions against Lua's own C ones: the same answers (and the same errors)
    //! for arbitrary subjects and patterns built from Lua's pattern syntax.
    use mlua::{Lua, LuaOptions, StdLib, Value};
    use proptest::prelude::*;

    /// A plain Lua state with the C string library, and one with ours.
    fn states() -> (Lua, Lua) {
        let plain = Lua::new_with(
            StdLib::STRING | StdLib::TABLE | StdLib::MATH,
            LuaOptions::default(),
        )
        .unwrap();
        let ours = Lua::new_with(
            StdLib::STRING | StdLib::TABLE | StdLib::OS | StdLib::MATH,
            LuaOptions::default(),
        )
        .unwrap();
        super::register(&ours).unwrap();
        (plain, ours)
    }

    /// What a call gives, as text: its results, or its error's message.
    fn outcome(lua: &Lua, code: &str, subject: &str, pattern: &str) -> String {
        let function: mlua::Function = lua.load(code).eval().unwrap();
        match function.call::<mlua::MultiValue>((subject, pattern)) {
            Ok(values) => values
                .iter()
                .map(|v| match v {
                    Value::String(s) => format!("{:?}", s.to_string_lossy()),
                    other => format!("{other:?}"),
                })
                .collect::<Vec<_>>()
                .join(", "),
            Err(error) => {
                let mut error = &error;
                while let mlua::Error::CallbackError { cause, .. } = error {
                    error = cause;
                }
                let message = match error {
                    mlua::Error::RuntimeError(message) => {
                        message.lines().next().unwrap_or("").to_string()
                    }
                    other => other.to_string(),
                };
                // Lua's C functions put the caller's place first; ours leave that to the
                // runtime, which adds it when it reports the error.
                let message = match message.split_once(": ") {
                    Some((place, rest)) if place.contains(".rs:") => rest.to_string(),
                    _ => message,
                };
                format!("error: {message}")
            }
        }
    }

    const CALLS: &[&str] = &[
        "return function(s, p) return string.find(s, p) end",
        "return function(s, p) return string.find(s, p, 2) end",
        "return function(s, p) return string.find(s, p, -3) end",
        "return function(s, p) return string.match(s, p) end",
        "return function(s, p) local t = {} for a, b in string.gmatch(s, p) do t[#t + 1] = tostring(a) .. '/' .. tostring(b) end return table.concat(t, ',') end",
        "return function(s, p) return string.gsub(s, p, '<%0>') end",
        "return function(s, p) return math.type(string.gsub(12345, p, '<%0>')), string.gsub(12345, p, 'x') end",
        "return function(s, p) return string.find(12.5, p, 1, true) end",
        "return function(s, p) return string.gsub(s, p, '%1!', 2) end",
        "return function(s, p) return string.gsub(s, p, { a = 'A', [''] = 'E' }) end",
        "return function(s, p) return string.gsub(s, p, function(x) if x == 'b' then return false end return '[' .. tostring(x) .. ']' end) end",
    ];

    fn pattern() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![
                "a", "b", ".", "%a", "%d", "%s", "%S", "%W", "[ab]", "[^a]", "[a-c]", "[%d]", "*",
                "+", "-", "?", "(", ")", "()", "%1", "%b()", "%f[%a]", "^", "$", "%", "[", "]",
                " ", "%%", "%.",
            ]),
            0..8,
        )
        .prop_map(|parts| parts.concat())
    }

    fn subject() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec!["a", "b", "(", ")", " ", "1", ".", "%", "é"]),
            0..12,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(crate::reliable::peers::tests::config())]

        #[test]
        fn the_same_answers_as_luas_own(subject in subject(), pattern in pattern()) {
            let (plain, ours) = states();
            for code in CALLS {
                let want = outcome(&plain, code, &subject, &pattern);
                let got = outcome(&ours, code, &subject, &pattern);
                prop_assert_eq!(&got, &want, "{} on {:?} with {:?}", code, subject, pattern);
            }
        }
    }

    #[test]
    fn rep_gives_luas_answers_and_refuses_what_does_not_fit() {
        let (plain, ours) = states();
        for code in [
            "return string.rep('ab', 3)",
            "return string.rep('ab', 3, ', ')",
            "return string.rep('ab', 0)",
            "return string.rep('ab', -5)",
            "return string.rep('', 10, 'x')",
            "return string.rep('x', 1, 'sep')",
        ] {
            let want: String = plain.load(code).eval().unwrap();
            let got: String = ours.load(code).eval().unwrap();
            assert_eq!(got, want, "{code}");
        }
        let nothing: String = ours
            .load("return string.rep('', math.maxinteger)")
            .eval()
            .unwrap();
        assert_eq!(nothing, "");
    }

    #[test]
    fn table_functions_give_luas_answers() {
        let (plain, ours) = states();
        for code in [
            "local t = {1, 2, 3} table.insert(t, 4) table.insert(t, 1, 0) return table.concat(t, ',')",
            "local t = {1, 2, 3} local r = table.remove(t, 1) return r .. ':' .. table.concat(t, ',')",
            "local t = {1, 2, 3} local r = table.remove(t) return r .. ':' .. table.concat(t, ',')",
            "local t = {} return tostring(table.remove(t))",
            "local t = {1, 2, 3, 4, 5} table.move(t, 2, 4, 1) return table.concat(t, ',')",
            "local t = {1, 2, 3, 4, 5} table.move(t, 1, 3, 3) return table.concat(t, ',')",
            "local t = {1, 2, 3} local u = table.move(t, 1, 3, 2, {}) return tostring(u[1]) .. table.concat(u, ',', 2, 4)",
            "local ok, e = pcall(table.insert, {1}, 5, 2) return tostring(ok)",
            "local ok, e = pcall(table.move, {}, 1, math.maxinteger, 2) return tostring(ok)",
        ] {
            let want: String = plain.load(code).eval().unwrap();
            let got: String = ours.load(code).eval().unwrap();
            assert_eq!(got, want, "{code}");
        }
    }
}
