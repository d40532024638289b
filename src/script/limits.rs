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

use mlua::{Function, HookTriggers, Lua, MultiValue, Table, VmState};

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

/// The state of the watchdog, kept as the Lua state's app data.
#[derive(Debug, Default)]
struct Watchdog {
    /// When the running call must have returned, if a call is running.
    deadline: Option<Instant>,
    /// Why the running call was stopped (`file:line: …`), once it was.
    stopped: Option<String>,
    limit: Duration,
    memory: usize,
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
        match watchdog.deadline {
            Some(deadline) if Instant::now() > deadline => {
                let source = debug.source();
                let file = source.short_src.as_deref().unwrap_or("?").to_string();
                let line = debug.current_line().unwrap_or(0);
                let why = format!(
                    "{file}:{line}: stopped after {} ms of work in one call \
                     (an endless loop?); the game goes on",
                    watchdog.limit.as_millis()
                );
                watchdog.stopped = Some(why.clone());
                Err(mlua::Error::runtime(why))
            }
            _ => Ok(VmState::Continue),
        }
    })?;
    let globals = lua.globals();
    for name in ["pcall", "xpcall"] {
        let raw: Function = globals.get(name)?;
        globals.set(name, reraising(lua, raw)?)?;
    }
    let coroutine: Table = globals.get("coroutine")?;
    let raw: Function = coroutine.get("resume")?;
    coroutine.set("resume", reraising(lua, raw)?)?;
    Ok(())
}

/// `raw` (a function that catches errors), raising again the error of a stopped call.
fn reraising(lua: &Lua, raw: Function) -> mlua::Result<Function> {
    lua.create_function(move |lua, args: MultiValue| {
        let results: MultiValue = raw.call(args)?;
        if let Some(why) = lua
            .app_data_ref::<Watchdog>()
            .and_then(|w| w.stopped.clone())
        {
            return Err(mlua::Error::runtime(why));
        }
        Ok(results)
    })
}

/// Runs `call` with the time limit armed. Calls do not nest: the runtime calls into the script
/// one at a time.
pub fn guarded<R>(lua: &Lua, call: impl FnOnce() -> mlua::Result<R>) -> mlua::Result<R> {
    if let Some(mut watchdog) = lua.app_data_mut::<Watchdog>() {
        watchdog.deadline = Some(Instant::now() + watchdog.limit);
        watchdog.stopped = None;
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
