//! The Lua runtime that runs a game's rules: loads the script, calls its handlers and timers,
//! and collects what it asked for as [`Action`]s. The only module that touches mlua.
//!
//! The announcer owns one [`Script`] and drives it from its event loop: it tells the script who
//! joined, left or typed what, fires timers when they are due, then carries out the actions
//! (sending datagrams, printing, stopping). The script never touches the network itself.

mod api;
mod bounded;
mod limits;
mod reload;
mod sandbox;
pub mod testing;

pub use limits::Limits;
pub use reload::Reload;

/// Which clock the script's `now()` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The host's monotonic clock, read at the call: the same clock in every process of the
    /// host, so that benchmarks compare it with a player's.
    #[default]
    System,
    /// The time the announcer last said ([`Script::set_now`]), in seconds since the script
    /// was loaded: a simulated game's clock, which passes only when the simulation says so.
    Game,
}

/// How a script starts: what it may take, when, and its random numbers.
#[derive(Debug, Clone, Copy)]
pub struct Start {
    /// Memory, and time per call.
    pub limits: Limits,
    /// The time its top level runs at: its timers count from here.
    pub now: Instant,
    /// The seed of `math.random`: the same seed gives the same numbers.
    pub seed: u64,
    /// What `now()` reads.
    pub clock: Clock,
}

impl Start {
    /// The default limits, now, a random seed and the system clock.
    pub fn new() -> Start {
        Start {
            limits: Limits::default(),
            now: Instant::now(),
            seed: random_seed(),
            clock: Clock::System,
        }
    }
}

impl Default for Start {
    fn default() -> Start {
        Start::new()
    }
}

/// A seed for a game that was given none: short enough to type back (`--seed 123456`).
pub fn random_seed() -> u64 {
    fastrand::u64(..1_000_000_000)
}

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mlua::{Function, IntoLuaMulti, Lua, LuaSerdeExt, Value};

use crate::event::Event;
use crate::protocol::{Announcement, Payload};

/// What a script asked the announcer to do, in the order it asked.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this to the group: the announcement, and its encoding (made when the script
    /// called, so that one too large is refused at the script's line, and encoded only once).
    Send(Announcement, Payload),
    /// The set of lines that are moves changed: tell the players.
    Moves(Vec<String>),
    /// A line for the host's console (Lua `print`).
    Print(String),
    /// A handler or timer failed: for the host's console, after what it did before failing.
    Error(ScriptError),
    /// End the announcer.
    Stop,
}

/// A script error, already worded for the host's console: `file:line: what went wrong`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError(pub String);

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScriptError {}

/// The handlers a script registered with `on_message`, `on_join`, `on_leave`, `on_reload`
/// and `bot`.
#[derive(Default, Clone)]
struct Hooks {
    on_message: Option<Function>,
    on_join: Option<Function>,
    on_leave: Option<Function>,
    on_reload: Option<Function>,
    bot: Option<Function>,
}

/// What `on_join` decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Joined {
    /// The player is in the game.
    Welcome,
    /// `return false, reason`: the player is refused, and told why.
    Refused(String),
}

/// A setting a script declared: `setting("target", 30, "the position that wins", {min = 1})`.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// Its `--set` key.
    pub name: String,
    /// Its default, as `--settings` shows it.
    pub default: String,
    /// What it means.
    pub description: String,
    /// What values it takes, in words: "a number from 1 up", "an integer from 1 to 16".
    pub takes: String,
}

/// A pending `after` or `every`.
#[derive(Clone)]
struct Timer {
    due: Instant,
    every: Option<Duration>,
    func: Function,
    /// Started by the file's top level rather than by a handler: such timers belong to one
    /// version of the file and are replaced when it is reloaded.
    top_level: bool,
}

/// Everything the Lua API functions share with the runtime; kept as the Lua state's app data.
struct Shared {
    actions: Vec<Action>,
    hooks: Hooks,
    timers: HashMap<u64, Timer>,
    next_timer: u64,
    players: Vec<String>,
    /// The names of the announcer's own `--bots` players (`is_bot`).
    bots: Vec<String>,
    moves: Vec<String>,
    /// The settings the script declared with `setting()`, in the order it did.
    settings: Vec<Setting>,
    /// The names `setting()` declared in the top level running now (a name twice is a mistake;
    /// a reload declaring them again is not).
    declared: Vec<String>,
    /// The `--set` pairs it was given (what `setting()` reads).
    given: BTreeMap<String, String>,
    folder: PathBuf,
    /// True while the file's top level runs (at load and at each reload).
    loading: bool,
    /// The modules `require` loaded, with the text they were loaded from.
    modules: Vec<(PathBuf, String)>,
    /// The time as the announcer last said it: timers count from here. The script never reads
    /// the clock for its timers itself, so that a test (or a simulation) drives time.
    now: Instant,
    /// What `now()` reads, and when the script was loaded (the origin of [`Clock::Game`]).
    clock: Clock,
    loaded: Instant,
}

/// A loaded game script and its Lua state.
pub struct Script {
    lua: Lua,
    path: PathBuf,
    /// The text the running version was loaded from.
    source: String,
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script").field("path", &self.path).finish()
    }
}

impl Script {
    /// Loads the script at `path` and runs its top level, with `args` as the Lua `args` table,
    /// under the default [`Limits`].
    pub fn load(path: &Path, args: &BTreeMap<String, String>) -> Result<Script, ScriptError> {
        Script::load_with(path, args, Start::new())
    }

    /// [`Script::load`] as `start` says: limits on memory and on the time of each call, the
    /// time its top level runs at, the seed of its random numbers and its clock.
    pub fn load_with(
        path: &Path,
        args: &BTreeMap<String, String>,
        start: Start,
    ) -> Result<Script, ScriptError> {
        let Start {
            limits,
            now,
            seed,
            clock,
        } = start;
        let source = read(path)?;
        let lua = sandbox::new_state().map_err(|e| describe(&e))?;
        // Lua seeds math.random from the time and an address; a given seed makes a game that
        // went wrong play again the same way (`--seed`). Lua takes a signed integer: the bits
        // are what count.
        let math: mlua::Table = lua.globals().get("math").map_err(|e| describe(&e))?;
        math.get::<Function>("randomseed")
            .and_then(|randomseed| randomseed.call::<()>(seed as i64))
            .map_err(|e| describe(&e))?;
        let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
        lua.set_app_data(Shared {
            actions: Vec::new(),
            hooks: Hooks::default(),
            timers: HashMap::new(),
            next_timer: 1,
            players: Vec::new(),
            bots: Vec::new(),
            moves: Vec::new(),
            settings: Vec::new(),
            declared: Vec::new(),
            given: args.clone(),
            folder,
            loading: false,
            modules: Vec::new(),
            now,
            clock,
            loaded: now,
        });
        api::register(&lua, args).map_err(|e| describe(&e))?;
        limits::install(&lua, limits).map_err(|e| describe(&e))?;
        let script = Script {
            lua,
            path: path.to_path_buf(),
            source,
        };
        script.run_top_level(&script.source)?;
        Ok(script)
    }

    /// Compiles and runs the file's top level (a text chunk named after the file, so that
    /// errors say `file:line`).
    fn run_top_level(&self, source: &str) -> Result<(), ScriptError> {
        let chunk = self
            .lua
            .load(source)
            .set_name(format!("@{}", self.path.display()))
            .set_mode(mlua::chunk::ChunkMode::Text)
            .into_function()
            .map_err(|e| describe(&e))?;
        {
            let mut shared = self.shared();
            shared.loading = true;
            shared.declared.clear();
        }
        let result = limits::guarded(&self.lua, || chunk.call::<()>(()));
        self.shared().loading = false;
        result.map_err(|e| describe_in(&chunk, &e))
    }

    /// The time is `now`: the timers the next calls start count from it.
    pub fn set_now(&self, now: Instant) {
        self.shared().now = now;
    }

    /// The settings the script declared, in the order it did.
    pub fn settings(&self) -> Vec<Setting> {
        self.shared().settings.clone()
    }

    /// Whether the `--set` keys given are the script's: an error naming a key it does not
    /// declare (a typo must not be ignored without a word), or, for a script that declares no
    /// settings (it reads `args` as it likes), a warning naming what it was given unchecked.
    pub fn check_given(&self) -> Result<Option<String>, ScriptError> {
        let shared = self.shared();
        let file = self.path.display();
        if shared.settings.is_empty() {
            return Ok((!shared.given.is_empty()).then(|| {
                let keys: Vec<&str> = shared.given.keys().map(String::as_str).collect();
                format!(
                    "warning: {file} declares no settings (setting(name, default, what)), so \
                     --set {} {} it unchecked, as args",
                    keys.join(", "),
                    if keys.len() == 1 { "reaches" } else { "reach" }
                )
            }));
        }
        let unknown: Vec<&str> = shared
            .given
            .keys()
            .filter(|key| !shared.settings.iter().any(|s| &s.name == *key))
            .map(String::as_str)
            .collect();
        if unknown.is_empty() {
            return Ok(None);
        }
        let known: Vec<&str> = shared.settings.iter().map(|s| s.name.as_str()).collect();
        Err(ScriptError(format!(
            "--set {}: {file} has no such setting (it has {}; announcer --settings {file} \
             says what each means)",
            unknown.join(", "),
            known.join(", ")
        )))
    }

    /// The announcer runs players of these names itself (`--bots`): `is_bot(name)` is true
    /// for them, so that a game can tell whether anybody is left to play but bots.
    pub fn set_bots(&self, names: Vec<String>) {
        self.shared().bots = names;
    }

    /// Whether the script has a `bot` hook (without one, `--bots` only join and never type).
    pub fn has_bot(&self) -> bool {
        self.shared().hooks.bot.is_some()
    }

    /// The files this script is made of: the script, then the modules it required.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files = vec![self.path.clone()];
        files.extend(self.shared().modules.iter().map(|(path, _)| path.clone()));
        files
    }

    /// The script's path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the actions queued since the last call.
    pub fn take_actions(&self) -> Vec<Action> {
        std::mem::take(&mut self.shared().actions)
    }

    /// Whether the script called `stop()` and the announcer has not yet taken that action:
    /// nothing more should reach the script (a batch of queued moves after the winning one).
    pub fn stop_requested(&self) -> bool {
        self.shared()
            .actions
            .iter()
            .any(|action| matches!(action, Action::Stop))
    }

    /// The lines that are moves in this game, lowercased.
    pub fn moves(&self) -> Vec<String> {
        self.shared().moves.clone()
    }

    /// A player joined: `players()` includes them from now on, then `on_join` runs; it may
    /// refuse them (`return false, "why"`), and they are not in the game then. A hook that
    /// fails does not refuse (its error is queued as an action).
    pub fn join(&self, player: &str) -> Joined {
        self.shared().players.push(player.to_string());
        let Some(hook) = self.shared().hooks.on_join.clone() else {
            return Joined::Welcome;
        };
        let returned = limits::guarded(&self.lua, || hook.call::<mlua::MultiValue>(player))
            .map_err(|e| describe_in(&hook, &e));
        let returned = match returned {
            Ok(returned) => returned,
            // A hook that failed does not refuse: the game goes on with the player in it.
            Err(error) => {
                self.failed(error);
                return Joined::Welcome;
            }
        };
        let mut values = returned.into_iter();
        if !matches!(values.next(), Some(Value::Boolean(false))) {
            return Joined::Welcome;
        }
        let reason = match values.next() {
            Some(Value::String(reason)) => reason.to_string_lossy(),
            _ => "the game does not take you".to_string(),
        };
        self.shared().players.retain(|p| p != player);
        Joined::Refused(reason)
    }

    /// A player left: `players()` no longer includes them, then `on_leave` runs.
    pub fn leave(&self, player: &str, reason: &str) -> Result<(), ScriptError> {
        self.shared().players.retain(|p| p != player);
        let hook = self.shared().hooks.on_leave.clone();
        self.call(hook, (player, reason))
    }

    /// A player typed a line (chat or a move): `on_message` runs.
    pub fn message(&self, player: &str, text: &str) -> Result<(), ScriptError> {
        let hook = self.shared().hooks.on_message.clone();
        self.call(hook, (player, text))
    }

    /// A bot saw an event: the `bot` hook says what the bot types, if anything.
    pub fn bot(&self, name: &str, event: &Event) -> Result<Option<String>, ScriptError> {
        let Some(hook) = self.shared().hooks.bot.clone() else {
            return Ok(None);
        };
        let event = self.lua.to_value(event).map_err(|e| describe(&e))?;
        let typed = limits::guarded(&self.lua, || hook.call::<Value>((name, event)))
            .map_err(|e| describe_in(&hook, &e))?;
        match typed {
            Value::Nil => Ok(None),
            Value::String(line) => Ok(Some(line.to_string_lossy())),
            other => Err(describe_in(
                &hook,
                &mlua::Error::runtime(format!(
                    "on_bot returned a {}: it returns the line the bot types (a string), or nil",
                    other.type_name()
                )),
            )),
        }
    }

    /// A call into the script failed with `error`: it is queued after the actions the call
    /// queued before it failed, so that the host's console shows them in the order they came.
    pub fn failed(&self, error: ScriptError) {
        self.shared().actions.push(Action::Error(error));
    }

    /// When the earliest timer is due, if any is pending.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.shared().timers.values().map(|t| t.due).min()
    }

    /// Runs every timer due at `now`, earliest first. Timers created meanwhile wait for the
    /// next call, so that `after(0, f)` inside a timer cannot keep this loop going forever.
    /// Returns the errors of the timers that failed (queued as actions too, each after what
    /// its timer did); the others ran.
    pub fn fire_due(&self, now: Instant) -> Vec<ScriptError> {
        let mut due: Vec<(Instant, u64)> = self
            .shared()
            .timers
            .iter()
            .filter(|(_, t)| t.due <= now)
            .map(|(id, t)| (t.due, *id))
            .collect();
        due.sort();
        let mut errors = Vec::new();
        // Each timer has the call limit, and all of them together have it too: the timers left
        // when it is spent run at the next turn, after the network was read (a thousand timers
        // that each loop for their limit must not keep the game from its players).
        let started = Instant::now();
        let limit = limits::call_limit(&self.lua);
        for (_, id) in due {
            if started.elapsed() > limit {
                break;
            }
            // A timer that ran before this one may have cancelled it.
            let func = {
                let mut shared = self.shared();
                let Some(timer) = shared.timers.get_mut(&id) else {
                    continue;
                };
                let func = timer.func.clone();
                match timer.every {
                    // The next tick counts from the one due, not from now, so that `every`
                    // keeps its rhythm; but never in the past, or a slow loop would race.
                    Some(every) => {
                        timer.due = timer.due.checked_add(every).unwrap_or(now).max(now);
                    }
                    None => {
                        shared.timers.remove(&id);
                    }
                }
                func
            };
            if let Err(e) = limits::guarded(&self.lua, || func.call::<()>(())) {
                let error = describe_in(&func, &e);
                self.failed(error.clone());
                errors.push(error);
            }
        }
        errors
    }

    fn shared(&self) -> mlua::AppDataRefMut<'_, Shared> {
        // Set in `load` before any Lua runs, and never removed.
        self.lua
            .app_data_mut::<Shared>()
            .expect("the script's shared state is set at load")
    }

    fn call(&self, hook: Option<Function>, args: impl IntoLuaMulti) -> Result<(), ScriptError> {
        match hook {
            Some(f) => limits::guarded(&self.lua, || f.call::<Value>(args))
                .map(drop)
                .map_err(|e| describe_in(&f, &e)),
            None => Ok(()),
        }
    }
}

/// Reads a script file, with its name in the error.
fn read(path: &Path) -> Result<String, ScriptError> {
    sandbox::read_source(path)
        .map_err(|why| ScriptError(format!("{}: cannot read the script: {why}", path.display())))
}

/// Words an mlua error for the host's console, leading with the script's `file:line`.
fn describe(error: &mlua::Error) -> ScriptError {
    ScriptError(match error {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(message) => first_line(message),
        mlua::Error::CallbackError { traceback, cause } => {
            let mut cause = describe(cause).0;
            // mlua does not know the Lua name of a Rust function; the traceback does.
            if let (Some(rest), Some(name)) =
                (cause.strip_prefix("bad argument #"), called_in(traceback))
                && let Some((position, why)) = rest.split_once(": ")
            {
                cause = format!("bad argument #{position} to '{name}': {why}");
            }
            if starts_with_location(&cause) {
                cause
            } else {
                match location_in(traceback) {
                    Some(place) => format!("{place}: {cause}"),
                    None => cause,
                }
            }
        }
        mlua::Error::MemoryError(message) => format!("out of memory: {message}"),
        mlua::Error::BadArgument { to, pos, cause, .. } => {
            let to = to
                .as_deref()
                .map(|name| format!(" to '{}'", name.strip_prefix("_G.").unwrap_or(name)))
                .unwrap_or_default();
            format!("bad argument #{pos}{to}: {}", describe(cause))
        }
        // mlua names the Rust type it wanted (`String`, `f64`): say it in Lua's words.
        mlua::Error::FromLuaConversionError { from, to, .. } => {
            format!("expected {}, got {from}", lua_kind(to))
        }
        other => first_line(&other.to_string()),
    })
}

/// What a Rust type that mlua converts to is, in Lua's words.
fn lua_kind(rust: &str) -> &'static str {
    match rust {
        "String" | "str" | "LuaString" | "BorrowedStr" => "a string",
        "f64" | "f32" => "a number",
        "i64" | "i32" | "u64" | "u32" | "usize" | "u16" | "u8" | "isize" | "Integer" => {
            "an integer"
        }
        "bool" => "a boolean",
        "Function" => "a function",
        "Table" => "a table",
        _ if rust.starts_with("Vec<") || rust.contains("HashMap") || rust.contains("BTreeMap") => {
            "a table"
        }
        _ if rust.starts_with("Option<") => "a value or nil",
        _ => "a value of another type",
    }
}

/// An error a script caught (`pcall`, `xpcall`, `coroutine.resume`), as the script sees it: a
/// Lua string `file:line: what`, as Lua's own errors read, not the runtime's error object with
/// its traceback. Other values (a script's own `error({code = 1})`) stay as they are.
fn caught(lua: &Lua, error: Value) -> mlua::Result<Value> {
    match error {
        Value::Error(error) => Ok(Value::String(lua.create_string(describe(&error).0)?)),
        other => Ok(other),
    }
}

/// [`describe`], for an error of a call to `function`: an error without a place of its own
/// (out of memory: Lua knows no line then) is placed where the function is defined.
fn describe_in(function: &Function, error: &mlua::Error) -> ScriptError {
    let described = describe(error);
    if starts_with_location(&described.0) {
        return described;
    }
    let info = function.info();
    match (info.short_src, info.line_defined) {
        (Some(file), Some(line)) if line > 0 => ScriptError(format!(
            "{file}:{line}: in the function defined here: {described}"
        )),
        (Some(file), _) => ScriptError(format!("{file}: {described}")),
        _ => described,
    }
}

/// The first line of a Lua error message: the rest is a stack traceback.
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or_default().to_string()
}

/// Whether a message starts with `something.lua:12:` (Lua's own `error` adds that).
fn starts_with_location(message: &str) -> bool {
    location_prefix(message).is_some()
}

fn location_prefix(line: &str) -> Option<&str> {
    let mut parts = line.splitn(3, ':');
    let file = parts.next()?;
    let number = parts.next()?;
    parts.next()?;
    let ok = !file.is_empty()
        && !file.starts_with('[')
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit());
    ok.then(|| &line[..file.len() + 1 + number.len()])
}

/// The Rust function a traceback starts in: `[C]: in function 'announce'`.
fn called_in(traceback: &str) -> Option<&str> {
    let line = traceback
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("[C]: in "))?;
    let name = line.split('\'').nth(1)?;
    Some(name.strip_prefix("_G.").unwrap_or(name))
}

/// The innermost script position in a Lua traceback: the line that called into Rust.
fn location_in(traceback: &str) -> Option<String> {
    traceback
        .lines()
        .map(str::trim)
        .find_map(location_prefix)
        .map(str::to_string)
}

#[cfg(test)]
mod tests;
