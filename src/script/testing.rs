//! `announcer --test FILE_test.lua`: tests of a game, written in Lua. A test file registers
//! tests with `test(name, fn)`; each test starts simulated games (`game(path, options)`), has
//! players join, type and leave, lets game time pass, and checks what the players saw, with
//! the events shaped as `player --json` prints them. The games are [`crate::simulate::Game`]s:
//! the real script and announcer, on a virtual clock, so that a test of a whole game takes
//! milliseconds.
//!
//! The test file runs in a sandbox like a game's, in a Lua state of its own: a test cannot
//! reach into the game's state, only see what a player would.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mlua::serde::SerializeOptions;
use mlua::{Function, Lua, LuaSerdeExt, Table, UserData, UserDataFields, UserDataMethods, Value};
use serde_json::Value as Json;

use super::{Limits, ScriptError, describe, describe_in, limits, sandbox};
use crate::announcer::{Config, Settings};
use crate::simulate::{Game, PlayerId, Simulation};

/// How long a wait for an event lasts when the test gives no limit, in game time.
const WAIT: Duration = Duration::from_secs(60);

/// How long `run_to_end` lasts when the test gives no limit, in game time.
const TO_END: Duration = Duration::from_secs(3600);

/// How long one test may run, in real time: a test that loops forever is stopped.
const PER_TEST: Duration = Duration::from_secs(60);

/// What a run of a test file found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// The tests that passed.
    pub passed: usize,
    /// The tests that failed, with why (`file:line: what`).
    pub failed: Vec<(String, String)>,
}

/// One game a test started, with how many of its script errors the test has looked at.
struct Started {
    game: Game,
    errors_seen: usize,
}

type Shared = Rc<RefCell<Started>>;

/// What the test functions share: the tests registered, and the games the running test
/// started (checked for script errors when it ends).
#[derive(Default)]
struct Registry {
    tests: Vec<(String, Function)>,
    folder: PathBuf,
    games: Vec<Shared>,
}

/// Whether `path` names a test file (`…_test.lua`) rather than a game.
pub fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.ends_with("_test.lua"))
}

/// Loads the tests in `path` without running them (`--check` of a test file): how many it
/// registers. An error is a test file that does not load, or that registers no test.
pub fn check(path: &Path) -> Result<usize, ScriptError> {
    load(path).map(|(_, tests)| tests.len())
}

/// Runs the tests in `path`, writing what happens to `out`. An error is a test file that does
/// not load, or that registers no test.
pub fn run(path: &Path, out: &mut dyn Write) -> Result<Summary, ScriptError> {
    let (lua, tests) = load(path)?;
    let _ = writeln!(out, "{}", path.display());
    let mut summary = Summary::default();
    let began = Instant::now();
    for (name, function) in tests {
        let started = Instant::now();
        let result = limits::guarded(&lua, || function.call::<()>(()))
            .map_err(|e| describe_in(&function, &e).0)
            .and_then(|()| unseen_errors(&lua));
        registry(&lua).games.clear();
        // Each test's games (a runtime each) go now, not whenever Lua collects them.
        let _ = lua.gc_collect();
        let took = started.elapsed().as_secs_f64();
        match result {
            Ok(()) => {
                summary.passed += 1;
                let _ = writeln!(out, "ok    {name} ({took:.3} s)");
            }
            Err(why) => {
                let _ = writeln!(out, "FAIL  {name} ({took:.3} s)");
                for line in why.lines() {
                    let _ = writeln!(out, "      {line}");
                }
                summary.failed.push((name, why));
            }
        }
    }
    let count = summary.passed + summary.failed.len();
    let _ = writeln!(
        out,
        "{count} test{}: {} passed, {} failed, in {:.3} s",
        if count == 1 { "" } else { "s" },
        summary.passed,
        summary.failed.len(),
        began.elapsed().as_secs_f64()
    );
    Ok(summary)
}

/// The state a test file's top level ran in, and the tests it registered.
fn load(path: &Path) -> Result<(Lua, Vec<(String, Function)>), ScriptError> {
    let source = sandbox::read_source(path)
        .map_err(|why| ScriptError(format!("{}: cannot read the tests: {why}", path.display())))?;
    let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let lua = state(folder).map_err(|e| describe(&e))?;
    limits::install(
        &lua,
        Limits {
            per_call: PER_TEST,
            ..Limits::default()
        },
    )
    .map_err(|e| describe(&e))?;
    let chunk = lua
        .load(source)
        .set_name(format!("@{}", path.display()))
        .set_mode(mlua::chunk::ChunkMode::Text)
        .into_function()
        .map_err(|e| describe(&e))?;
    limits::guarded(&lua, || chunk.call::<()>(())).map_err(|e| describe_in(&chunk, &e))?;
    let tests = std::mem::take(&mut registry(&lua).tests);
    if tests.is_empty() {
        return Err(ScriptError(format!(
            "{}: no tests: register them with test(\"what it checks\", function() … end)",
            path.display()
        )));
    }
    Ok((lua, tests))
}

/// A test file's Lua state: the sandbox, with the test API, its games found from `folder`.
pub(super) fn state(folder: PathBuf) -> mlua::Result<Lua> {
    let lua = sandbox::new_state()?;
    lua.set_app_data(Registry {
        folder,
        ..Registry::default()
    });
    register(&lua)?;
    sandbox::protect(&lua, &["test", "game", "expect", "expect_eq"])?;
    Ok(lua)
}

fn registry(lua: &Lua) -> mlua::AppDataRefMut<'_, Registry> {
    // Set in `run` before any Lua runs.
    lua.app_data_mut::<Registry>()
        .expect("the test registry is set at load")
}

/// A script error in a game of the test that the test did not look at (with `g:errors()`)
/// fails it: an error in a handler is a bug, even when the game went on.
fn unseen_errors(lua: &Lua) -> Result<(), String> {
    for game in &registry(lua).games {
        let game = game.borrow();
        if let Some(error) = script_errors(&game.game).get(game.errors_seen) {
            return Err(format!(
                "the game's script failed (g:errors() takes it, if the test expects it): {error}"
            ));
        }
    }
    Ok(())
}

/// The script errors a game's host console shows.
fn script_errors(game: &Game) -> Vec<String> {
    game.host()
        .into_iter()
        .filter(|l| l.starts_with("script error: "))
        .collect()
}

fn register(lua: &Lua) -> mlua::Result<()> {
    let globals = lua.globals();
    globals.set(
        "test",
        lua.create_function(|lua, (name, function): (String, Function)| {
            registry(lua).tests.push((name, function));
            Ok(())
        })?,
    )?;
    globals.set("game", lua.create_function(start_game)?)?;
    globals.set(
        "expect",
        lua.create_function(|_, (ok, message): (Value, Option<String>)| {
            if matches!(ok, Value::Nil | Value::Boolean(false)) {
                return Err(mlua::Error::runtime(
                    message.unwrap_or_else(|| "expectation failed".into()),
                ));
            }
            Ok(())
        })?,
    )?;
    globals.set(
        "expect_eq",
        lua.create_function(
            |lua, (actual, expected, message): (Value, Value, Option<String>)| {
                let (actual, expected) = (json(lua, &actual), json(lua, &expected));
                if actual != expected {
                    let what = message.map(|m| format!("{m}: ")).unwrap_or_default();
                    return Err(mlua::Error::runtime(format!(
                        "{what}expected {expected}, got {actual}"
                    )));
                }
                Ok(())
            },
        )?,
    )?;
    Ok(())
}

/// A Lua value as JSON, for comparing and for messages (a function or userdata by its type).
fn json(lua: &Lua, value: &Value) -> Json {
    match value {
        Value::Nil => Json::Null,
        Value::Function(_) | Value::UserData(_) | Value::Thread(_) | Value::LightUserData(_) => {
            Json::String(format!("<{}>", value.type_name()))
        }
        other => lua
            .from_value::<Json>(other.clone())
            .unwrap_or_else(|_| Json::String(format!("<{}>", other.type_name()))),
    }
}

/// `game(path [, options])`: starts a simulated game of the script at `path` (relative to the
/// test file's folder). Options: `set` (the `--set` settings), `seed` (default 1: a test plays
/// the same game each run), `bots`, `bot_think` (seconds), `loss` (percent).
fn start_game(lua: &Lua, (path, options): (String, Option<Table>)) -> mlua::Result<GameHandle> {
    let script = registry(lua).folder.join(&path);
    let options = match options {
        Some(options) => options,
        None => lua.create_table()?,
    };
    for pair in options.pairs::<String, Value>() {
        let (key, _) = pair?;
        if !["set", "seed", "bots", "bot_think", "loss"].contains(&key.as_str()) {
            return Err(mlua::Error::runtime(format!(
                "game: unknown option {key:?} (set, seed, bots, bot_think, loss)"
            )));
        }
    }
    let mut args = BTreeMap::new();
    if let Some(set) = options.get::<Option<Table>>("set")? {
        for pair in set.pairs::<String, Value>() {
            let (key, value) = pair?;
            let value = match value {
                Value::String(s) => s.to_str()?.to_string(),
                Value::Integer(n) => n.to_string(),
                Value::Number(n) => n.to_string(),
                Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(mlua::Error::runtime(format!(
                        "game: the setting {key:?} is a {}; give a string or a number",
                        other.type_name()
                    )));
                }
            };
            args.insert(key, value);
        }
    }
    let seed = options.get::<Option<u64>>("seed")?.unwrap_or(1);
    let bots = options.get::<Option<usize>>("bots")?.unwrap_or(0);
    let think = options.get::<Option<f64>>("bot_think")?.unwrap_or(1.0);
    let loss = options.get::<Option<f64>>("loss")?.unwrap_or(0.0);
    if !(0.0..=90.0).contains(&loss) {
        return Err(mlua::Error::runtime(format!(
            "game: loss is a percentage from 0 to 90, not {loss}"
        )));
    }
    let bot_think = Duration::try_from_secs_f64(think)
        .ok()
        .filter(|d| *d <= Duration::from_secs(3600))
        .ok_or_else(|| {
            mlua::Error::runtime(format!("game: bot_think is 0 to 3600 seconds, not {think}"))
        })?;
    let config = Config {
        script: script.clone(),
        args,
        settings: Settings::default(),
        bots,
        bot_think,
        watch: false,
        limits: Limits::default(),
        seed,
        clock: super::Clock::Game,
        record: None,
    };
    let simulation = Simulation {
        loss: loss / 100.0,
        ..Simulation::default()
    };
    let game = Game::start(config, simulation).map_err(|e| {
        // A script that does not load says its own file:line; keep it first.
        mlua::Error::runtime(format!("{e:#}"))
    })?;
    let shared = Rc::new(RefCell::new(Started {
        game,
        errors_seen: 0,
    }));
    registry(lua).games.push(shared.clone());
    Ok(GameHandle(shared))
}

/// Reads a number of seconds of game time, or the default.
fn seconds(value: Option<f64>, default: Duration) -> mlua::Result<Duration> {
    match value {
        None => Ok(default),
        Some(s) => Duration::try_from_secs_f64(s)
            .ok()
            .filter(|d| *d <= Duration::from_secs(86_400))
            .ok_or_else(|| {
                mlua::Error::runtime(format!("give 0 to 86400 seconds of game time, not {s}"))
            }),
    }
}

/// A game, as the test file holds it.
struct GameHandle(Shared);

impl UserData for GameHandle {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("join", |_, this, name: String| {
            if let Some(problem) = crate::text::name_problem(&name) {
                return Err(mlua::Error::runtime(format!(
                    "join({}): {problem}",
                    crate::text::visible_quoted(&name)
                )));
            }
            let id = this
                .0
                .borrow_mut()
                .game
                .join(&name)
                .map_err(|e| mlua::Error::runtime(format!("{e:#}")))?;
            Ok(PlayerHandle {
                game: this.0.clone(),
                id,
            })
        });
        methods.add_method("wait", |_, this, time: f64| {
            let time = seconds(Some(time), Duration::ZERO)?;
            this.0.borrow_mut().game.advance(time);
            Ok(())
        });
        methods.add_method("run_to_end", |_, this, limit: Option<f64>| {
            let limit = seconds(limit, TO_END)?;
            if this.0.borrow_mut().game.run_to_end(limit) {
                Ok(())
            } else {
                Err(mlua::Error::runtime(format!(
                    "the game did not end within {} s of game time (does the script call stop()?)",
                    limit.as_secs_f64()
                )))
            }
        });
        methods.add_method("ended", |_, this, ()| Ok(this.0.borrow().game.ended()));
        methods.add_method("time", |_, this, ()| {
            Ok(this.0.borrow().game.time().as_secs_f64())
        });
        methods.add_method("host", |lua, this, ()| {
            lua.create_sequence_from(this.0.borrow().game.host())
        });
        methods.add_method("errors", |lua, this, ()| {
            let mut started = this.0.borrow_mut();
            let errors = script_errors(&started.game);
            started.errors_seen = errors.len();
            lua.create_sequence_from(errors)
        });
    }
}

/// A player of a game, as the test file holds it.
struct PlayerHandle {
    game: Shared,
    id: PlayerId,
}

impl PlayerHandle {
    fn events(&self) -> mlua::Result<Vec<Json>> {
        self.game
            .borrow()
            .game
            .events(self.id)
            .iter()
            .map(|e| serde_json::to_value(e).map_err(mlua::Error::external))
            .collect()
    }
}

/// An event as a Lua table (absent fields absent, not a `null` that Lua would find true).
fn to_lua(lua: &Lua, event: &Json) -> mlua::Result<Value> {
    lua.to_value_with(
        event,
        SerializeOptions::new()
            .serialize_none_to_null(false)
            .serialize_unit_to_null(false),
    )
}

/// What a test looks for: a string is text that one of the event's fields contains; a table
/// is fields the event has with these values (lists compared from their start).
#[derive(Debug, Clone)]
enum Pattern {
    Text(String),
    Fields(Json),
}

impl Pattern {
    fn from_lua(lua: &Lua, value: Value) -> mlua::Result<Pattern> {
        match value {
            Value::String(text) => Ok(Pattern::Text(text.to_str()?.to_string())),
            Value::Table(_) => Ok(Pattern::Fields(json(lua, &value))),
            other => Err(mlua::Error::runtime(format!(
                "look for text (\"wins\") or fields ({{kind = \"ranking\"}}), not a {}",
                other.type_name()
            ))),
        }
    }

    fn matches(&self, event: &Json) -> bool {
        match self {
            Pattern::Text(text) => contains_text(event, text),
            Pattern::Fields(fields) => subset(fields, event),
        }
    }

    fn describe(&self) -> String {
        match self {
            Pattern::Text(text) => format!("{text:?}"),
            Pattern::Fields(fields) => fields.to_string(),
        }
    }
}

fn contains_text(event: &Json, text: &str) -> bool {
    match event {
        Json::String(s) => s.contains(text),
        Json::Array(items) => items.iter().any(|i| contains_text(i, text)),
        Json::Object(fields) => fields.values().any(|v| contains_text(v, text)),
        _ => false,
    }
}

fn subset(pattern: &Json, value: &Json) -> bool {
    match (pattern, value) {
        (Json::Object(wanted), Json::Object(have)) => wanted
            .iter()
            .all(|(key, wanted)| have.get(key).is_some_and(|have| subset(wanted, have))),
        // An empty Lua table reads as an empty list or object: it asks for nothing.
        (Json::Array(wanted), _) if wanted.is_empty() => value.is_array() || value.is_object(),
        (Json::Object(wanted), Json::Array(_)) if wanted.is_empty() => true,
        (Json::Array(wanted), Json::Array(have)) => {
            wanted.len() <= have.len() && wanted.iter().zip(have).all(|(w, h)| subset(w, h))
        }
        (Json::Number(a), Json::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

/// The last events of a player, for a failure message (on one line: the error's).
fn last_events(events: &[Json]) -> String {
    let shown: Vec<String> = events
        .iter()
        .rev()
        .take(6)
        .rev()
        .map(|e| {
            let kind = e["kind"].as_str().unwrap_or("?");
            match e["text"].as_str().or(e["title"].as_str()) {
                Some(text) if !text.is_empty() => format!("{kind} {text:?}"),
                _ => kind.to_string(),
            }
        })
        .collect();
    if shown.is_empty() {
        "nothing".into()
    } else {
        shown.join(", ")
    }
}

impl UserData for PlayerHandle {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_field_method_get("name", |_, this| {
            Ok(this.game.borrow().game.name(this.id).to_string())
        });
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("say", |_, this, line: String| {
            this.game
                .borrow_mut()
                .game
                .say(this.id, &line)
                .map_err(|e| mlua::Error::runtime(format!("{e:#}")))
        });
        methods.add_method("leave", |_, this, ()| {
            this.game.borrow_mut().game.leave(this.id);
            Ok(())
        });
        methods.add_method("events", |lua, this, ()| {
            let events = this.events()?;
            let list = lua.create_table()?;
            for event in &events {
                list.push(to_lua(lua, event)?)?;
            }
            Ok(list)
        });
        methods.add_method("saw", |lua, this, pattern: Value| {
            let pattern = Pattern::from_lua(lua, pattern)?;
            match this.events()?.iter().find(|e| pattern.matches(e)) {
                Some(event) => to_lua(lua, event),
                None => Ok(Value::Nil),
            }
        });
        methods.add_method(
            "wait_for",
            |lua, this, (pattern, limit): (Value, Option<f64>)| {
                let pattern = Pattern::from_lua(lua, pattern)?;
                let limit = seconds(limit, WAIT)?;
                let found = this.game.borrow_mut().game.wait_for(this.id, limit, |e| {
                    serde_json::to_value(e).is_ok_and(|e| pattern.matches(&e))
                });
                match found {
                    Some(event) => {
                        let event = serde_json::to_value(&event).map_err(mlua::Error::external)?;
                        to_lua(lua, &event)
                    }
                    None => {
                        let started = this.game.borrow();
                        let name = started.game.name(this.id).to_string();
                        drop(started);
                        Err(mlua::Error::runtime(format!(
                            "{name} saw nothing like {} within {} s of game time (the last \
                             events {name} saw: {})",
                            pattern.describe(),
                            limit.as_secs_f64(),
                            last_events(&this.events()?)
                        )))
                    }
                }
            },
        );
        methods.add_method("outcome", |_, this, ()| {
            Ok(this.game.borrow().game.outcome(this.id))
        });
    }
}
