//! What a script may take: a memory limit for its Lua state, and a time limit on each call into
//! it (a handler, a timer, a bot, a file's top level), so that `while true do end` written by
//! accident stops with an error naming the script and line while the game goes on.
//!
//! The time limit is checked by an instruction-count hook: every [`CHECK_EVERY`] Lua
//! instructions it looks at the clock. Once a call is over its time, the hook raises an error,
//! and keeps raising one at every check until the call returns; and `pcall`, `xpcall` and
//! `coroutine.resume` (which would catch it) raise it again, so that the same loop inside a
//! `pcall` is stopped too.

use std::time::{Duration, Instant};

use mlua::{Function, HookTriggers, Lua, MultiValue, Table, Value, VmState};

/// Lua instructions between two looks at the clock: a look costs about as much as a few dozen
/// instructions, so this keeps the hook's cost near 1% while stopping a loop within
/// microseconds of its limit.
pub const CHECK_EVERY: u32 = 1000;

/// How much a script may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most memory the Lua state may hold, in bytes.
    pub memory: usize,
    /// The longest one call into the script may run.
    pub per_call: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory: 64 << 20,
            per_call: Duration::from_millis(100),
        }
    }
}

/// What one call may print on the host's console, in bytes: a `print` in a loop must not
/// fill the host's memory (its lines live outside the Lua heap) nor bury the game.
pub const MAX_PRINTED: usize = 64 << 10;

/// What one call may queue to send, in bytes (announcements are encoded when they are made,
/// outside the Lua heap): far more than any game sends at once, far less than the host has.
pub const MAX_QUEUED: usize = 16 << 20;

/// The state of the watchdog, kept as the Lua state's app data.
#[derive(Debug, Default)]
struct Watchdog {
    /// When the running call must have returned, if a call is running.
    deadline: Option<Instant>,
    /// Why the running call was stopped (`file:line: …`), once it was.
    stopped: Option<String>,
    limit: Duration,
    memory: usize,
    /// What the running call printed and queued so far, in bytes.
    printed: usize,
    queued: usize,
}

/// Puts `limits` on `lua`: the memory limit, the hook, and the re-raising `pcall`, `xpcall`
/// and `coroutine.resume`. Call before any script code runs.
pub fn install(lua: &Lua, limits: Limits) -> mlua::Result<()> {
    lua.set_memory_limit(limits.memory)?;
    lua.set_app_data(Watchdog {
        limit: limits.per_call,
        memory: limits.memory,
        ..Watchdog::default()
    });
    let triggers = HookTriggers {
        every_nth_instruction: Some(CHECK_EVERY),
        ..HookTriggers::new()
    };
    // The global hook, not a per-thread one: coroutines a script creates inherit it.
    lua.set_global_hook(triggers, |lua, debug| {
        let Some(mut watchdog) = lua.app_data_mut::<Watchdog>() else {
            return Ok(VmState::Continue);
        };
        if let Some(why) = &watchdog.stopped {
            return Err(mlua::Error::runtime(why.clone()));
        }
        let now = Instant::now();
        // Lua running outside any call we made (none should: Lua runs `__gc` finalizers with
        // hooks off, and the sandbox refuses them): it gets a call's time from the first look,
        // until the next call starts the clock again.
        let limit = watchdog.limit;
        let deadline = *watchdog.deadline.get_or_insert(now + limit);
        if now <= deadline {
            return Ok(VmState::Continue);
        }
        let source = debug.source();
        let file = source.short_src.as_deref().unwrap_or("?").to_string();
        let line = debug.current_line().unwrap_or(0);
        let why = stopped_at(&file, line, limit);
        watchdog.stopped = Some(why.clone());
        Err(mlua::Error::runtime(why))
    })?;
    let globals = lua.globals();
    let raw: Function = globals.get("pcall")?;
    globals.set("pcall", reraising(lua, raw)?)?;
    let raw: Function = globals.get("xpcall")?;
    globals.set(
        "xpcall",
        lua.create_function(move |lua, args| xpcall(lua, &raw, args))?,
    )?;
    let coroutine: Table = globals.get("coroutine")?;
    let raw: Function = coroutine.get("resume")?;
    coroutine.set("resume", reraising(lua, raw)?)?;
    Ok(())
}

/// `xpcall(f, handler, ...)`, raising again the error of a stopped call. Lua calls a message
/// handler for an error raised by the hook with the hook turned off (and does not turn it back
/// on first), so a handler that loops could never be stopped: once the call is stopped, the
/// handler is not run at all.
fn xpcall(lua: &Lua, raw: &Function, args: MultiValue) -> mlua::Result<MultiValue> {
    let mut args: Vec<Value> = args.into_iter().collect();
    if let Some(Value::Function(handler)) = args.get(1).cloned() {
        let guarded_handler = lua.create_function(move |lua, error: Value| {
            if stopped(lua).is_some() {
                return Ok(MultiValue::from_iter([error]));
            }
            handler.call::<MultiValue>(super::caught(lua, error)?)
        })?;
        args[1] = Value::Function(guarded_handler);
    }
    let results: MultiValue = raw.call(MultiValue::from_iter(args))?;
    if let Some(why) = stopped(lua) {
        return Err(mlua::Error::runtime(why));
    }
    Ok(results)
}

/// `raw` (a function that catches errors), raising again the error of a stopped call.
fn reraising(lua: &Lua, raw: Function) -> mlua::Result<Function> {
    lua.create_function(move |lua, args: MultiValue| {
        let mut results: Vec<Value> = raw.call::<MultiValue>(args)?.into_iter().collect();
        if let Some(why) = lua
            .app_data_ref::<Watchdog>()
            .and_then(|w| w.stopped.clone())
        {
            return Err(mlua::Error::runtime(why));
        }
        // `false, error`: the error as a Lua string with its `file:line`.
        if matches!(results.first(), Some(Value::Boolean(false))) && results.len() > 1 {
            results[1] = super::caught(lua, results[1].clone())?;
        }
        Ok(MultiValue::from_iter(results))
    })
}

/// Why a call was stopped, at `file:line`.
fn stopped_at(file: &str, line: usize, limit: Duration) -> String {
    format!(
        "{file}:{line}: stopped after {} ms of work in one call (an endless loop, or work \
         too large for one call?)",
        limit.as_millis()
    )
}

/// For functions that work in Rust on the script's behalf (a pattern match, say): an error
/// once the call in progress is out of time, placed at the script's line that called them.
pub fn charge(lua: &Lua) -> mlua::Result<()> {
    let (stopped, deadline, limit) = match lua.app_data_ref::<Watchdog>() {
        Some(w) => (w.stopped.clone(), w.deadline, w.limit),
        None => return Ok(()),
    };
    if let Some(why) = stopped {
        return Err(mlua::Error::runtime(why));
    }
    if deadline.is_none_or(|deadline| Instant::now() <= deadline) {
        return Ok(());
    }
    // Level 1: the Lua function that called the Rust one now running.
    let (file, line) = lua
        .inspect_stack(1, |debug| {
            (
                debug
                    .source()
                    .short_src
                    .as_deref()
                    .unwrap_or("?")
                    .to_string(),
                debug.current_line().unwrap_or(0),
            )
        })
        .unwrap_or_else(|| ("?".to_string(), 0));
    let why = stopped_at(&file, line, limit);
    if let Some(mut watchdog) = lua.app_data_mut::<Watchdog>() {
        watchdog.stopped = Some(why.clone());
    }
    Err(mlua::Error::runtime(why))
}

/// The longest one call may run.
pub fn call_limit(lua: &Lua) -> Duration {
    lua.app_data_ref::<Watchdog>()
        .map_or(Duration::from_millis(100), |w| w.limit)
}

/// Why the call in progress was stopped, if it was.
pub fn stopped(lua: &Lua) -> Option<String> {
    lua.app_data_ref::<Watchdog>()?.stopped.clone()
}

/// How many bytes the script may still allocate.
pub fn memory_room(lua: &Lua) -> usize {
    let limit = lua
        .app_data_ref::<Watchdog>()
        .map_or(usize::MAX, |w| w.memory);
    limit.saturating_sub(lua.used_memory())
}

/// Takes `bytes` from what the call in progress may print: false once it printed
/// [`MAX_PRINTED`].
pub fn spend_printed(lua: &Lua, bytes: usize) -> bool {
    let Some(mut watchdog) = lua.app_data_mut::<Watchdog>() else {
        return true;
    };
    let fits = watchdog.printed.saturating_add(bytes) <= MAX_PRINTED;
    watchdog.printed = watchdog.printed.saturating_add(bytes);
    fits
}

/// Takes `bytes` from what the call in progress may queue to send: an error past
/// [`MAX_QUEUED`].
pub fn spend_queued(lua: &Lua, bytes: usize) -> mlua::Result<()> {
    let Some(mut watchdog) = lua.app_data_mut::<Watchdog>() else {
        return Ok(());
    };
    watchdog.queued = watchdog.queued.saturating_add(bytes);
    if watchdog.queued > MAX_QUEUED {
        return Err(mlua::Error::runtime(format!(
            "this call queued over {} MiB to send: that is more than a game sends at once",
            MAX_QUEUED >> 20
        )));
    }
    Ok(())
}

/// Runs `call` with the time limit armed. Calls do not nest: the runtime calls into the script
/// one at a time.
pub fn guarded<R>(lua: &Lua, call: impl FnOnce() -> mlua::Result<R>) -> mlua::Result<R> {
    if let Some(mut watchdog) = lua.app_data_mut::<Watchdog>() {
        watchdog.deadline = Some(Instant::now() + watchdog.limit);
        watchdog.stopped = None;
        watchdog.printed = 0;
        watchdog.queued = 0;
    }
    let result = call();
    let stopped = lua.app_data_mut::<Watchdog>().and_then(|mut w| {
        w.deadline = None;
        w.stopped.take()
    });
    match (result, stopped) {
        // Whatever the error became on its way out, say why the call was stopped.
        (Err(_), Some(why)) => Err(mlua::Error::runtime(why)),
        (Err(mlua::Error::MemoryError(_)), None) => {
            // Free what the failed call left behind, so that the next call has room.
            let _ = lua.gc_collect();
            let limit = lua.app_data_ref::<Watchdog>().map_or(0, |w| w.memory);
            Err(mlua::Error::MemoryError(format!(
                "the script went over its memory limit of {} MiB",
                limit >> 20
            )))
        }
        (result, _) => result,
    }
}
