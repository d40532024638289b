//! Reloading a script while its game runs.
//!
//! The design: the new version of the file runs **in the same Lua state**, so that everything
//! the game holds stays where it is: the `state` table, pending timers (their functions too),
//! the players. Before it runs, the handlers are cleared (a handler removed from the file stops
//! being called) and modules are forgotten (`require` reads them again). A reload is all or
//! nothing: if the file does not compile, fails while its top level runs, or its `on_reload`
//! fails, every global name is bound again to what it was, every handler, move, timer (a
//! cancelled one too) and queued event is put back, and so is `state`, every table in it
//! restored in place (other code that holds one of its tables sees it as it was); the previous
//! version goes on. Tables reached only through other globals are not copied: what the game
//! must keep belongs in `state`.
//!
//! A save that leaves the files as the running version (undoing a broken edit, say) changes
//! nothing: the announcer says so, and `on_reload` does not run (nothing was reloaded).

use std::time::{Duration, Instant};

use mlua::{Table, Value};

use super::api::STATE_KEY;
use super::sandbox::LOADED_KEY;
use super::{Hooks, Script, ScriptError, describe, read};

/// What a reload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// The files hold what is already running: nothing to do.
    Unchanged,
    /// The new version runs; compiling and running its top level took this long.
    Reloaded(Duration),
}

/// What a failed reload puts back.
struct Snapshot {
    globals: Vec<(Value, Value)>,
    hooks: Hooks,
    moves: Vec<String>,
    actions: usize,
    timers: std::collections::HashMap<u64, super::Timer>,
    first_new_timer: u64,
    loaded: Option<Table>,
    modules: Vec<(std::path::PathBuf, String)>,
    /// Every table reachable from `state`, as it was.
    state: Vec<SavedTable>,
}

/// A table, its entries and its metatable, as they were.
type SavedTable = (Table, Vec<(Value, Value)>, Option<Table>);

/// Every table reachable from `root` (through keys and values), each with its entries and its
/// metatable: what it takes to put `state` back exactly, in place.
fn tables_under(root: &Table) -> mlua::Result<Vec<SavedTable>> {
    let mut seen = std::collections::HashSet::new();
    let mut pending = vec![root.clone()];
    let mut tables = Vec::new();
    while let Some(table) = pending.pop() {
        if !seen.insert(table.to_pointer()) {
            continue;
        }
        let entries = table
            .clone()
            .pairs::<Value, Value>()
            .collect::<mlua::Result<Vec<_>>>()?;
        for (key, value) in &entries {
            for inner in [key, value] {
                if let Value::Table(inner) = inner {
                    pending.push(inner.clone());
                }
            }
        }
        let metatable = table.metatable();
        tables.push((table, entries, metatable));
    }
    Ok(tables)
}

impl Script {
    /// Loads the files again and runs the new version, keeping the game's state; on any error
    /// the previous version keeps running unchanged.
    pub fn reload(&mut self) -> Result<Reload, ScriptError> {
        let started = Instant::now();
        let source = read(&self.path)?;
        if source == self.source && self.modules_unchanged() {
            return Ok(Reload::Unchanged);
        }
        let snapshot = self.snapshot().map_err(|e| describe(&e))?;
        {
            let mut shared = self.shared();
            shared.hooks = Hooks::default();
            shared.modules.clear();
        }
        self.lua
            .set_named_registry_value(LOADED_KEY, Value::Nil)
            .map_err(|e| describe(&e))?;

        let result = self.run_top_level(&source).and_then(|()| {
            let hook = self.shared().hooks.on_reload.clone();
            self.call(hook, ())
        });
        match result {
            Ok(()) => {
                self.source = source;
                self.retire_top_level_timers(snapshot.first_new_timer);
                Ok(Reload::Reloaded(started.elapsed()))
            }
            Err(error) => {
                self.restore(snapshot).map_err(|e| describe(&e))?;
                Err(error)
            }
        }
    }

    fn modules_unchanged(&self) -> bool {
        self.shared()
            .modules
            .iter()
            .all(|(path, source)| super::sandbox::read_source(path).is_ok_and(|now| now == *source))
    }

    fn snapshot(&self) -> mlua::Result<Snapshot> {
        let globals = self
            .lua
            .globals()
            .pairs::<Value, Value>()
            .collect::<mlua::Result<Vec<_>>>()?;
        let state: Table = self.lua.named_registry_value(STATE_KEY)?;
        let state = tables_under(&state)?;
        let shared = self.shared();
        Ok(Snapshot {
            globals,
            hooks: shared.hooks.clone(),
            moves: shared.moves.clone(),
            actions: shared.actions.len(),
            timers: shared.timers.clone(),
            first_new_timer: shared.next_timer,
            loaded: self.lua.named_registry_value(LOADED_KEY)?,
            modules: shared.modules.clone(),
            state,
        })
    }

    /// Puts back what a failed reload changed.
    fn restore(&self, snapshot: Snapshot) -> mlua::Result<()> {
        let globals = self.lua.globals();
        // Globals the failed version added go; those it changed get their old values back.
        let now: Vec<Value> = globals
            .pairs::<Value, Value>()
            .map(|pair| pair.map(|(key, _)| key))
            .collect::<mlua::Result<_>>()?;
        for key in now {
            globals.raw_set(key, Value::Nil)?;
        }
        for (key, value) in snapshot.globals {
            globals.raw_set(key, value)?;
        }
        self.lua
            .set_named_registry_value(LOADED_KEY, snapshot.loaded)?;
        // `state`'s tables, each emptied and filled again as it was (raw: no metamethod runs).
        for (table, entries, metatable) in snapshot.state {
            let keys: Vec<Value> = table
                .clone()
                .pairs::<Value, Value>()
                .map(|pair| pair.map(|(key, _)| key))
                .collect::<mlua::Result<_>>()?;
            for key in keys {
                table.raw_set(key, Value::Nil)?;
            }
            for (key, value) in entries {
                table.raw_set(key, value)?;
            }
            // Only a metatable the failed version changed is put back, and never one that has
            // gained a `__gc` since: setting it would mark the table for a finalizer, which Lua
            // runs where no time limit reaches.
            let now = table.metatable();
            if now.as_ref().map(Table::to_pointer) != metatable.as_ref().map(Table::to_pointer) {
                let finalizer = match &metatable {
                    Some(metatable) => !metatable.raw_get::<Value>("__gc")?.is_nil(),
                    None => false,
                };
                table.set_metatable(if finalizer { None } else { metatable })?;
            }
        }
        let mut shared = self.shared();
        shared.hooks = snapshot.hooks;
        shared.moves = snapshot.moves;
        shared.actions.truncate(snapshot.actions);
        // Timers the failed version started go; those it cancelled come back.
        shared.timers = snapshot.timers;
        shared.modules = snapshot.modules;
        Ok(())
    }

    /// Timers the previous version's top level started are replaced by the new version's.
    fn retire_top_level_timers(&self, first_new_timer: u64) {
        self.shared()
            .timers
            .retain(|id, timer| *id >= first_new_timer || !timer.top_level);
    }
}
