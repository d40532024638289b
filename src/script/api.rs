//! The game API a script sees: one named Rust function per Lua global, registered in one list.
//!
//! Every function that speaks to players only queues an [`Action`]; the announcer sends them
//! after the handler returns. Errors raised here carry no position: the runtime adds the
//! script's `file:line` from the Lua traceback when it reports them.

use std::collections::BTreeMap;
use std::time::Duration;

use mlua::{Function, Lua, LuaSerdeExt, Table, UserData, UserDataMethods, Value, Variadic};

use super::{Action, Shared, Timer};
use crate::protocol::{Announcement, Payload};

/// Installs the game API as globals, with `args` as the `args` table.
pub fn register(lua: &Lua, args: &BTreeMap<String, String>) -> mlua::Result<()> {
    let globals = lua.globals();
    globals.set("announce", lua.create_function(announce)?)?;
    globals.set("tell", lua.create_function(tell)?)?;
    globals.set("ranking", lua.create_function(ranking)?)?;
    globals.set("rank", lua.create_function(rank)?)?;
    globals.set("congratulate", lua.create_function(congratulate)?)?;
    globals.set("game_start", lua.create_function(game_start)?)?;
    globals.set("game_end", lua.create_function(game_end)?)?;
    globals.set("countdown", lua.create_function(countdown)?)?;
    globals.set("question", lua.create_function(question)?)?;
    globals.set("answered", lua.create_function(answered)?)?;
    globals.set("tally", lua.create_function(tally)?)?;
    globals.set("moves", lua.create_function(moves)?)?;
    globals.set("on_message", lua.create_function(on_message)?)?;
    globals.set("on_join", lua.create_function(on_join)?)?;
    globals.set("on_leave", lua.create_function(on_leave)?)?;
    globals.set("on_reload", lua.create_function(on_reload)?)?;
    // `on_bot` is the name in line with the other hooks; `bot`, the first one, still works.
    globals.set("on_bot", lua.create_function(bot)?)?;
    globals.set("bot", lua.create_function(bot)?)?;
    globals.set("after", lua.create_function(after)?)?;
    globals.set("every", lua.create_function(every)?)?;
    globals.set("players", lua.create_function(players)?)?;
    globals.set("is_bot", lua.create_function(is_bot)?)?;
    globals.set("now", lua.create_function(now)?)?;
    globals.set("stop", lua.create_function(stop)?)?;
    globals.set("print", lua.create_function(print)?)?;
    globals.set("setting", lua.create_function(setting)?)?;
    globals.set("args", lua.create_table_from(args.clone())?)?;
    let state = lua.create_table()?;
    // Kept in the registry too, so that a reload can put it back if a script replaced it.
    lua.set_named_registry_value(STATE_KEY, &state)?;
    globals.set("state", state)?;
    // A script that assigns `players = {}` or defines `function ranking()` would break the
    // game later, far from its mistake: the API's names are read-only, an error at that line.
    super::sandbox::protect(lua, API)
}

/// Every global the game API registers.
pub const API: &[&str] = &[
    "announce",
    "tell",
    "ranking",
    "rank",
    "congratulate",
    "game_start",
    "game_end",
    "countdown",
    "question",
    "answered",
    "tally",
    "moves",
    "on_message",
    "on_join",
    "on_leave",
    "on_reload",
    "on_bot",
    "bot",
    "after",
    "every",
    "players",
    "is_bot",
    "now",
    "stop",
    "print",
    "setting",
    "args",
    "state",
    "require",
];

/// Where the `state` table is kept in the Lua registry.
pub const STATE_KEY: &str = "gamecast.state";

fn shared(lua: &Lua) -> mlua::AppDataRefMut<'_, Shared> {
    // Set by `Script::load` before the API is registered.
    lua.app_data_mut::<Shared>()
        .expect("the script's shared state is set at load")
}

/// Queues an announcement, refusing one that cannot fit in a datagram while the script can
/// still be told where.
fn send(lua: &Lua, announcement: Announcement) -> mlua::Result<()> {
    // Encoding a large announcement is work the instruction hook does not see.
    super::limits::charge(lua)?;
    // Text over the event limit is refused before it is encoded: escaping can make JSON six
    // times the text (a 60 MB string of control characters would take 360 MB to find out).
    let text = text_bytes(&announcement);
    if text > crate::protocol::MAX_EVENT {
        return Err(mlua::Error::runtime(crate::protocol::TooLarge {
            bytes: text,
            limit: crate::protocol::MAX_EVENT,
        }));
    }
    let payload = Payload::announcement(&announcement).map_err(mlua::Error::runtime)?;
    super::limits::spend_queued(lua, payload.len())?;
    shared(lua)
        .actions
        .push(Action::Send(announcement, payload));
    Ok(())
}

/// The bytes of the text an announcement carries (its encoding takes at least as many).
fn text_bytes(announcement: &Announcement) -> usize {
    let strings: Vec<&str> = match announcement {
        Announcement::Announce { text }
        | Announcement::GameEnd { text }
        | Announcement::Countdown { text, .. } => vec![text],
        Announcement::Tell { to, text } => vec![to, text],
        Announcement::GameStart { title, text } => vec![title, text],
        Announcement::Congratulate { player, text } => vec![player, text],
        Announcement::Question { text, choices, .. } => std::iter::once(text.as_str())
            .chain(choices.iter().map(String::as_str))
            .collect(),
        Announcement::Ranking { entries } => entries.iter().map(|e| e.name.as_str()).collect(),
        Announcement::Answered { .. } | Announcement::Tally { .. } => Vec::new(),
    };
    strings
        .iter()
        .map(|s| s.len())
        .fold(0, usize::saturating_add)
}

/// `setting(name, default, description [, {min = , max = , integer = }])`: declares a `--set`
/// setting and returns its value: the default, or what `--set name=value` gave, parsed as the
/// default's type (a number, a boolean or a string) and checked against the range (and, with
/// `integer = true`, whole). A bad value is an error at this line, naming the flag; so is a
/// declaration that cannot be right (twice the same name, a default out of its own range, a
/// range on text, a declaration outside the top level, which `--settings` would not list).
fn setting(
    lua: &Lua,
    (name, default, description, range): (String, Value, String, Option<Table>),
) -> mlua::Result<Value> {
    let wrong = |why: String| Err(mlua::Error::runtime(format!("setting {name:?}: {why}")));
    {
        let mut shared = shared(lua);
        if !shared.loading {
            return wrong(
                "settings are declared at the top level of the script (where --settings and \
                 --check see them), not in a handler or a timer"
                    .into(),
            );
        }
        if shared.declared.contains(&name) {
            return wrong("declared twice; give each setting one name".into());
        }
        shared.declared.push(name.clone());
    }
    let (min, max, integer) = match &range {
        Some(range) => {
            only_fields(range, "setting: the range", &["min", "max", "integer"])?;
            (
                range.get::<Option<f64>>("min")?,
                range.get::<Option<f64>>("max")?,
                range.get::<Option<bool>>("integer")?.unwrap_or(false),
            )
        }
        None => (None, None, false),
    };
    let number = |value: &Value| match value {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    };
    let kind = match &default {
        Value::Integer(_) | Value::Number(_) if integer => "a whole number",
        Value::Integer(_) | Value::Number(_) => "a number",
        Value::Boolean(_) => "true or false",
        Value::String(_) => "text",
        other => {
            return wrong(format!(
                "the default is a {}; give a number, a boolean or a string",
                other.type_name()
            ));
        }
    };
    match number(&default) {
        None if range.is_some() => {
            return wrong(format!(
                "a range (min, max, integer) is for numbers, and the default is {kind}"
            ));
        }
        None => {}
        Some(n) => {
            if let (Some(min), Some(max)) = (min, max)
                && min > max
            {
                return wrong(format!(
                    "the range is reversed: min {min} is above max {max}"
                ));
            }
            if min.is_some_and(|min| n < min) || max.is_some_and(|max| n > max) {
                return wrong(format!("the default {n} is outside its own range"));
            }
            if integer && n.fract() != 0.0 {
                return wrong(format!("the default {n} is not a whole number"));
            }
        }
    }
    let takes = match (min, max) {
        (Some(min), Some(max)) => format!("{kind} from {min} to {max}"),
        (Some(min), None) => format!("{kind} from {min} up"),
        (None, Some(max)) => format!("{kind} up to {max}"),
        (None, None) => kind.to_string(),
    };
    let default_text = match &default {
        Value::String(s) => s.to_string_lossy(),
        other => other.to_string()?,
    };
    let given = shared(lua).given.get(&name).cloned();
    let value = match &given {
        None => default.clone(),
        Some(raw) => {
            let bad = || {
                mlua::Error::runtime(format!(
                    "--set {name}={raw}: {name} ({description}) takes {takes}, not {raw:?}"
                ))
            };
            let text = raw.trim();
            let value = match &default {
                // A whole number is an integer, as the same number written in the script is
                // (so that "%d" formats it).
                Value::Integer(_) | Value::Number(_) => match text.parse::<i64>() {
                    Ok(n) => Value::Integer(n),
                    Err(_) => {
                        let n = text.parse::<f64>().map_err(|_| bad())?;
                        if !n.is_finite() {
                            return Err(bad());
                        }
                        Value::Number(n)
                    }
                },
                Value::Boolean(_) => Value::Boolean(match text.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "on" | "1" => true,
                    "false" | "no" | "off" | "0" => false,
                    _ => return Err(bad()),
                }),
                _ => Value::String(lua.create_string(raw)?),
            };
            if let Some(n) = number(&value)
                && (min.is_some_and(|min| n < min)
                    || max.is_some_and(|max| n > max)
                    || (integer && n.fract() != 0.0))
            {
                return Err(bad());
            }
            value
        }
    };
    let declared = super::Setting {
        name: name.clone(),
        default: default_text,
        description,
        takes,
    };
    let mut shared = shared(lua);
    // A reload declares them again: the new version's words replace the old ones.
    match shared.settings.iter_mut().find(|s| s.name == name) {
        Some(known) => *known = declared,
        None => shared.settings.push(declared),
    }
    Ok(value)
}

/// `announce(text)`: a plain announcement to every player.
fn announce(lua: &Lua, text: String) -> mlua::Result<()> {
    send(lua, Announcement::Announce { text })
}

/// `tell(player, text)`: a line only `player` sees.
fn tell(lua: &Lua, (to, text): (String, String)) -> mlua::Result<()> {
    send(lua, Announcement::Tell { to, text })
}

/// `ranking(scores [, order])`: sends the scores ranked ("desc", the default: the highest
/// first; "asc": the lowest first), and returns the ranked entries.
fn ranking(lua: &Lua, (scores, order): (Table, Option<String>)) -> mlua::Result<Value> {
    let entries = ranked(scores, order.as_deref())?;
    let limit = crate::protocol::codec::MAX_RANKED_NAME;
    if let Some(long) = entries.iter().find(|e| e.name.chars().count() > limit) {
        return Err(mlua::Error::runtime(format!(
            "ranking: the name {:?}… has {} characters; a ranked name has at most {limit}",
            long.name.chars().take(16).collect::<String>(),
            long.name.chars().count()
        )));
    }
    let ranked = lua.to_value(&entries)?;
    send(lua, Announcement::Ranking { entries })?;
    Ok(ranked)
}

/// `rank(scores [, order])`: the ranked entries, as `ranking` would send them, without
/// sending anything (to find the leader, or to word a result).
fn rank(lua: &Lua, (scores, order): (Table, Option<String>)) -> mlua::Result<Value> {
    lua.to_value(&ranked(scores, order.as_deref())?)
}

/// `scores` ranked in `order` (`"desc"` when none is given).
fn ranked(scores: Table, order: Option<&str>) -> mlua::Result<Vec<crate::protocol::Entry>> {
    let order = match order {
        None | Some("desc") => crate::ranking::Order::Descending,
        Some("asc") => crate::ranking::Order::Ascending,
        Some(other) => {
            return Err(mlua::Error::runtime(format!(
                "ranking: the order is \"desc\" (the highest first) or \"asc\" (the lowest \
                 first), not {other:?}"
            )));
        }
    };
    Ok(crate::ranking::rank_by(scores_from(scores)?, order))
}

/// Reads `{name = score}` or `{ {name = , score = }, … }`. In the map form, equal scores are
/// listed by name (Lua tables have no order); in the list form, in the script's order.
fn scores_from(table: Table) -> mlua::Result<Vec<(String, i64)>> {
    let mut by_name: Vec<(String, i64)> = Vec::new();
    let mut listed: Vec<(i64, String, i64)> = Vec::new();
    for pair in table.pairs::<Value, Value>() {
        match pair? {
            (Value::String(name), score) => {
                let name = name.to_str()?.to_string();
                let score = score_from(&name, score)?;
                by_name.push((name, score));
            }
            (Value::Integer(index), Value::Table(entry)) => {
                only_fields(
                    &entry,
                    &format!("ranking: entry {index}"),
                    &["name", "score"],
                )?;
                let name: String = entry.get("name").map_err(|_| {
                    mlua::Error::runtime(format!("ranking: entry {index} has no string `name`"))
                })?;
                let score = score_from(&name, entry.get("score")?)?;
                listed.push((index, name, score));
            }
            (key, value) => {
                return Err(mlua::Error::runtime(format!(
                    "ranking takes {{name = score}} or a list of {{name = , score = }}; found {} = {}",
                    key.type_name(),
                    value.type_name()
                )));
            }
        }
    }
    if !by_name.is_empty() && !listed.is_empty() {
        return Err(mlua::Error::runtime(
            "ranking: use either {name = score} or a list of {name = , score = }, not both in one table",
        ));
    }
    if listed.is_empty() {
        by_name.sort();
        return Ok(by_name);
    }
    listed.sort_by_key(|(index, _, _)| *index);
    Ok(listed
        .into_iter()
        .map(|(_, name, score)| (name, score))
        .collect())
}

/// Refuses a table with a field `what` does not take: `second = 5` for `seconds` would
/// otherwise be ignored without a word.
fn only_fields(table: &Table, what: &str, allowed: &[&str]) -> mlua::Result<()> {
    for pair in table.pairs::<Value, Value>() {
        let (key, _) = pair?;
        let known = match &key {
            Value::String(name) => allowed.iter().any(|a| name.as_bytes() == a.as_bytes()),
            _ => false,
        };
        if !known {
            let key = match &key {
                Value::String(name) => format!("`{}`", name.to_string_lossy()),
                other => format!("a {} key", other.type_name()),
            };
            return Err(mlua::Error::runtime(format!(
                "{what}: unknown field {key} (it takes {})",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

/// Scores are whole numbers; a fractional one is rounded.
fn score_from(name: &str, value: Value) -> mlua::Result<i64> {
    match value {
        Value::Integer(score) => Ok(score),
        Value::Number(score) if score.is_finite() => Ok(score.round() as i64),
        other => Err(mlua::Error::runtime(format!(
            "ranking: the score of {name:?} is {}, not a number",
            other.type_name()
        ))),
    }
}

/// `congratulate(name [, text])`: congratulates the winner publicly.
fn congratulate(lua: &Lua, (player, text): (String, Option<String>)) -> mlua::Result<()> {
    let text = text.unwrap_or_default();
    send(lua, Announcement::Congratulate { player, text })
}

/// `game_start(title [, text])`: the game-start banner.
fn game_start(lua: &Lua, (title, text): (String, Option<String>)) -> mlua::Result<()> {
    let text = text.unwrap_or_default();
    send(lua, Announcement::GameStart { title, text })
}

/// `game_end([text])`: the game-end banner.
fn game_end(lua: &Lua, text: Option<String>) -> mlua::Result<()> {
    let text = text.unwrap_or_default();
    send(lua, Announcement::GameEnd { text })
}

/// `countdown(seconds, text)`: an announcement with a deadline, such as a turn: players show
/// the time left (the game's own timer still decides what happens when it runs out).
fn countdown(lua: &Lua, (seconds, text): (f64, String)) -> mlua::Result<()> {
    if !(0.0..=crate::protocol::MAX_COUNTDOWN).contains(&seconds) {
        return Err(mlua::Error::runtime(format!(
            "countdown: {seconds} seconds; give 0 to {} (a day)",
            crate::protocol::MAX_COUNTDOWN
        )));
    }
    send(lua, Announcement::Countdown { seconds, text })
}

/// `question{text = , choices = {…}, seconds = 20, number = 1, total = 1}`: a question that
/// players answer with a letter.
fn question(lua: &Lua, spec: Table) -> mlua::Result<()> {
    only_fields(
        &spec,
        "question",
        &["text", "choices", "seconds", "number", "total"],
    )?;
    let text: String = spec
        .get("text")
        .map_err(|_| mlua::Error::runtime("question: `text` must be a string"))?;
    let choices: Vec<String> = spec
        .get("choices")
        .map_err(|_| mlua::Error::runtime("question: `choices` must be a list of strings"))?;
    if !(2..=26).contains(&choices.len()) {
        return Err(mlua::Error::runtime(format!(
            "question: {} choices; give 2 to 26 (they are lettered a, b, c…)",
            choices.len()
        )));
    }
    let seconds: Option<f64> = spec.get("seconds")?;
    let number: Option<u32> = spec.get("number")?;
    let total: Option<u32> = spec.get("total")?;
    let number = number.unwrap_or(1);
    let question = Announcement::Question {
        number,
        total: total.unwrap_or(number),
        text,
        choices,
        seconds: seconds.unwrap_or(20.0).max(0.0).round() as u32,
    };
    send(lua, question)
}

/// `answered(count, of)`: how many of the players asked have answered the open question, for
/// a room to see the answers come in (what they answered stays the script's).
fn answered(lua: &Lua, (count, of): (u32, u32)) -> mlua::Result<()> {
    if count > of {
        return Err(mlua::Error::runtime(format!(
            "answered: {count} answers of {of} players; the count is at most the players asked"
        )));
    }
    send(lua, Announcement::Answered { count, of })
}

/// `tally{counts = {3, 1, 0, 0}, correct = 2}`: how a closed question's answers were spread
/// over its choices, and which was right (optional, from 1).
fn tally(lua: &Lua, spec: Table) -> mlua::Result<()> {
    only_fields(&spec, "tally", &["counts", "correct"])?;
    let counts: Vec<u32> = spec.get("counts").map_err(|_| {
        mlua::Error::runtime("tally: `counts` must be a list of whole numbers, one per choice")
    })?;
    if !(2..=26).contains(&counts.len()) {
        return Err(mlua::Error::runtime(format!(
            "tally: {} counts; give one per choice, 2 to 26",
            counts.len()
        )));
    }
    let correct: Option<u32> = spec
        .get("correct")
        .map_err(|_| mlua::Error::runtime("tally: `correct` must be a choice's number, from 1"))?;
    if let Some(c) = correct
        && (c == 0 || c as usize > counts.len())
    {
        return Err(mlua::Error::runtime(format!(
            "tally: correct = {c}; give a choice's number, 1 to {}",
            counts.len()
        )));
    }
    send(lua, Announcement::Tally { counts, correct })
}

/// `moves{"roll", "start", "^answer%s"}`: the lines that are moves. A player's line equal to
/// one of them (ignoring case and surrounding spaces), or matched by one that is a Lua pattern
/// (an entry starting with `^`, matched against the line trimmed and lowercased), goes to the
/// announcer only; anything else is chat.
fn moves(lua: &Lua, list: Vec<String>) -> mlua::Result<()> {
    let mut words: Vec<String> = Vec::new();
    for entry in &list {
        // A pattern keeps its case (`%a` is not `%A`) and must be one the players can run.
        let entry = if entry.starts_with('^') {
            let mut budget = crate::patterns::Steps(u64::MAX);
            crate::patterns::matches_start(b"", entry.as_bytes(), &mut budget)
                .and_then(|_| crate::patterns::matches_start(b"x", entry.as_bytes(), &mut budget))
                .map_err(|why| {
                    mlua::Error::runtime(format!("moves: the pattern {entry:?}: {why}"))
                })?;
            entry.clone()
        } else {
            entry.trim().to_lowercase()
        };
        if !entry.is_empty() && !words.contains(&entry) {
            words.push(entry);
        }
    }
    if shared(lua).moves == words {
        return Ok(());
    }
    // Each change queues the whole list, outside the Lua heap: it counts as sent bytes.
    super::limits::spend_queued(lua, words.iter().map(String::len).sum())?;
    let mut shared = shared(lua);
    shared.moves = words.clone();
    shared.actions.push(Action::Moves(words));
    Ok(())
}

/// `on_message(function(player, text))`: every line a joined player types. `nil` removes it.
fn on_message(lua: &Lua, f: Option<Function>) -> mlua::Result<()> {
    shared(lua).hooks.on_message = f;
    Ok(())
}

/// `on_join(function(player))`: a player joined.
fn on_join(lua: &Lua, f: Option<Function>) -> mlua::Result<()> {
    shared(lua).hooks.on_join = f;
    Ok(())
}

/// `on_leave(function(player, reason))`: a player left.
fn on_leave(lua: &Lua, f: Option<Function>) -> mlua::Result<()> {
    shared(lua).hooks.on_leave = f;
    Ok(())
}

/// `on_reload(function())`: runs after each successful reload, to migrate `state`.
fn on_reload(lua: &Lua, f: Option<Function>) -> mlua::Result<()> {
    shared(lua).hooks.on_reload = f;
    Ok(())
}

/// `on_bot(function(name, event) return line_or_nil end)` (or `bot`, its first name): how
/// `--bots` players play.
fn bot(lua: &Lua, f: Option<Function>) -> mlua::Result<()> {
    shared(lua).hooks.bot = f;
    Ok(())
}

/// The handle `after` and `every` return; `handle:cancel()` stops the timer.
struct TimerHandle(u64);

impl UserData for TimerHandle {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("cancel", |lua, this, ()| {
            shared(lua).timers.remove(&this.0);
            Ok(())
        });
    }
}

/// The longest a timer may wait: a day. Longer is a mistake (a setting in milliseconds read as
/// seconds, `1e19`), and a clear error at the script's line beats a timer that never fires.
pub const MAX_DELAY: Duration = Duration::from_secs(86_400);

fn delay(seconds: f64) -> mlua::Result<Duration> {
    match Duration::try_from_secs_f64(seconds) {
        Ok(delay) if delay <= MAX_DELAY => Ok(delay),
        _ => Err(mlua::Error::runtime(format!(
            "a timer takes 0 to {} seconds (a day), not {seconds}",
            MAX_DELAY.as_secs()
        ))),
    }
}

/// The most timers pending at once: they live outside the Lua heap.
pub const MAX_TIMERS: usize = 10_000;

fn schedule(
    lua: &Lua,
    due_in: Duration,
    every: Option<Duration>,
    func: Function,
) -> mlua::Result<TimerHandle> {
    let mut shared = shared(lua);
    if shared.timers.len() >= MAX_TIMERS {
        return Err(mlua::Error::runtime(format!(
            "{MAX_TIMERS} timers are pending already: cancel some (handle:cancel()) before \
             starting more"
        )));
    }
    let id = shared.next_timer;
    shared.next_timer += 1;
    // At most a day from a clock that started with this process: no overflow.
    let due = shared.now.checked_add(due_in).unwrap_or(shared.now);
    let top_level = shared.loading;
    let timer = Timer {
        due,
        every,
        func,
        top_level,
    };
    shared.timers.insert(id, timer);
    Ok(TimerHandle(id))
}

/// `after(seconds, fn)`: runs `fn` once, `seconds` from now.
fn after(lua: &Lua, (seconds, func): (f64, Function)) -> mlua::Result<TimerHandle> {
    schedule(lua, delay(seconds)?, None, func)
}

/// `every(seconds, fn)`: runs `fn` every `seconds` (at least a millisecond apart).
fn every(lua: &Lua, (seconds, func): (f64, Function)) -> mlua::Result<TimerHandle> {
    let period = delay(seconds)?.max(Duration::from_millis(1));
    schedule(lua, period, Some(period), func)
}

/// `players()`: the names of the players in the game, in join order.
fn players(lua: &Lua, (): ()) -> mlua::Result<Table> {
    let names = shared(lua).players.clone();
    lua.create_sequence_from(names)
}

/// `is_bot(name)`: whether `name` is one of the announcer's own `--bots` players (a bot
/// cannot ask for a rematch, so a game with only bots left can end).
fn is_bot(lua: &Lua, name: String) -> mlua::Result<bool> {
    Ok(shared(lua).bots.contains(&name))
}

/// `now()`: the time in seconds, with sub-microsecond precision. In a real game it is the
/// system's monotonic clock, read at the call: its origin is arbitrary (use differences), and
/// it is the same clock in every process of the host, so that benchmarks can compare it with a
/// player's. In a simulated game it is the game's clock, from 0 at load. (`os.clock` is CPU
/// time, not time passing.)
fn now(lua: &Lua, (): ()) -> mlua::Result<f64> {
    let (clock, game) = {
        let shared = shared(lua);
        (
            shared.clock,
            shared.now.saturating_duration_since(shared.loaded),
        )
    };
    match clock {
        super::Clock::Game => Ok(game.as_secs_f64()),
        super::Clock::System => {
            let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
                .map_err(|e| mlua::Error::runtime(format!("now(): the clock failed: {e}")))?;
            Ok(now.tv_sec() as f64 + now.tv_nsec() as f64 / 1e9)
        }
    }
}

/// `stop()`: ends the announcer once the current handler returns.
fn stop(lua: &Lua, (): ()) -> mlua::Result<()> {
    let mut shared = shared(lua);
    if !shared.actions.iter().any(|a| matches!(a, Action::Stop)) {
        shared.actions.push(Action::Stop);
    }
    Ok(())
}

/// The longest line `print` puts on the host's console, in bytes; the rest is cut.
const MAX_PRINT_LINE: usize = 2048;

/// `print(...)`: a line on the host's console, values separated by tabs as Lua's own print.
/// A line is cut at [`MAX_PRINT_LINE`] bytes and a call prints [`super::limits::MAX_PRINTED`]
/// bytes at most: the lines live outside the Lua heap, where the memory limit does not reach.
fn print(lua: &Lua, values: Variadic<Value>) -> mlua::Result<()> {
    super::limits::charge(lua)?;
    let tostring: Function = lua.globals().get("tostring")?;
    let mut line = String::new();
    for (i, value) in values.into_iter().enumerate() {
        if i > 0 {
            line.push('\t');
        }
        let text: mlua::LuaString = tostring.call(value)?;
        let bytes = text.as_bytes();
        let room = MAX_PRINT_LINE.saturating_sub(line.len());
        line.push_str(&String::from_utf8_lossy(&bytes[..bytes.len().min(room)]));
        if line.len() >= MAX_PRINT_LINE {
            break;
        }
    }
    if line.len() >= MAX_PRINT_LINE {
        let mut cut = MAX_PRINT_LINE;
        while !line.is_char_boundary(cut) {
            cut = cut.saturating_sub(1);
        }
        line.truncate(cut);
        line.push_str(" … (cut)");
    }
    let before = super::limits::spend_printed(lua, 0);
    if super::limits::spend_printed(lua, line.len()) {
        shared(lua).actions.push(Action::Print(line));
    } else if before {
        shared(lua).actions.push(Action::Print(format!(
            "… (this call printed over {} KiB: the rest of its output is dropped)",
            super::limits::MAX_PRINTED >> 10
        )));
    }
    Ok(())
}
