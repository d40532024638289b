//! The Lua state a game runs in: a safe standard library only, and a `require` that loads
//! Lua files from the script's own folder and nothing else.
//!
//! Scripts are shared between friends and classmates, so a script gets no `io`, no `os` beyond
//! `time`, `clock` and `date`, no `debug`, no C modules, no `dofile`/`loadfile`, and `load`
//! accepts text only (Lua does not verify bytecode: a crafted binary chunk can crash the host).

use std::path::{Path, PathBuf};

use mlua::{Lua, LuaOptions, MultiValue, StdLib, Table, Value};

use super::Shared;

/// A fresh Lua 5.4 state with the safe library, ready for the game API.
pub fn new_state() -> mlua::Result<Lua> {
    let libs = StdLib::TABLE
        | StdLib::STRING
        | StdLib::MATH
        | StdLib::UTF8
        | StdLib::COROUTINE
        | StdLib::OS;
    let lua = Lua::new_with(libs, LuaOptions::default())?;
    let globals = lua.globals();

    // Keep the clock of `os`, drop everything that touches files, processes or the environment.
    let full_os: Table = globals.get("os")?;
    let os = lua.create_table()?;
    for name in ["time", "clock", "date", "difftime"] {
        os.set(name, full_os.get::<Value>(name)?)?;
    }
    globals.set("os", os)?;

    globals.set("dofile", Value::Nil)?;
    globals.set("loadfile", Value::Nil)?;
    let raw_load: mlua::Function = globals.get("load")?;
    globals.set(
        "load",
        lua.create_function(move |lua, args| text_only_load(lua, &raw_load, args))?,
    )?;
    globals.set("require", lua.create_function(require)?)?;
    // Lua runs finalizers with its hooks off: a `__gc` that loops could never be stopped.
    let raw_setmetatable: mlua::Function = globals.get("setmetatable")?;
    globals.set(
        "setmetatable",
        lua.create_function(move |_, (table, metatable): (Value, Value)| {
            if let Value::Table(metatable) = &metatable
                && !metatable.raw_get::<Value>("__gc")?.is_nil()
            {
                return Err(mlua::Error::runtime(
                    "setmetatable: __gc finalizers are not available to game scripts (Lua runs \
                     them where the time limit cannot stop them)",
                ));
            }
            raw_setmetatable.call::<Value>((table, metatable))
        })?,
    )?;
    super::bounded::register(&lua)?;
    guard_globals(&lua)?;
    Ok(lua)
}

/// Where the protected globals live, in the Lua registry (see [`protect`]).
const PROTECTED_KEY: &str = "gamecast.protected";

/// What the sandbox took out, and what to say when a script reaches for it.
const REFUSED: &[(&str, &str)] = &[
    (
        "io",
        "io is not available to gamecast scripts: they run in a sandbox without files (print writes a line on the host's console)",
    ),
    (
        "debug",
        "debug is not available to gamecast scripts: it could reach into the runtime",
    ),
    (
        "package",
        "package is not available to gamecast scripts: require loads Lua files from the script's folder",
    ),
    (
        "dofile",
        "dofile is not available to gamecast scripts: require(name) runs name.lua from the script's folder",
    ),
    (
        "loadfile",
        "loadfile is not available to gamecast scripts: require(name) runs name.lua from the script's folder",
    ),
];

/// What the sandbox's `os` lacks, and why.
const REFUSED_OS: &[(&str, &str)] = &[
    (
        "exit",
        "os.exit is not available to gamecast scripts: stop() ends the game",
    ),
    (
        "execute",
        "os.execute is not available to gamecast scripts: they run no programs",
    ),
    (
        "getenv",
        "os.getenv is not available to gamecast scripts: settings come from --set, as args",
    ),
    (
        "remove",
        "os.remove is not available to gamecast scripts: they touch no files",
    ),
    (
        "rename",
        "os.rename is not available to gamecast scripts: they touch no files",
    ),
    (
        "tmpname",
        "os.tmpname is not available to gamecast scripts: they touch no files",
    ),
    (
        "setlocale",
        "os.setlocale is not available to gamecast scripts: the host's locale is its own",
    ),
];

/// Puts a metatable on the globals: names moved into the protected table by [`protect`] are
/// read from there and cannot be assigned (an error at the script's line, rather than a game
/// that breaks later), and what the sandbox took out says so when a script reaches for it,
/// instead of "attempt to index a nil value".
fn guard_globals(lua: &Lua) -> mlua::Result<()> {
    let protected = lua.create_table()?;
    let refused = lua.create_table_from(REFUSED.iter().copied())?;
    let refused_os = lua.create_table_from(REFUSED_OS.iter().copied())?;
    let os: Table = lua.globals().get("os")?;
    lua.load(
        r#"
        local protected, refused, os, refused_os = ...
        local error, rawget, rawset, type = error, rawget, rawset, type
        local function refuse(list)
          return function(_, name)
            local why = list[name]
            if why then error(why, 2) end
          end
        end
        setmetatable(protected, { __index = refuse(refused) })
        setmetatable(os, { __index = refuse(refused_os), __metatable = false })
        setmetatable(_G, {
          __index = protected,
          __newindex = function(globals, name, value)
            if rawget(protected, name) == nil then
              return rawset(globals, name, value)
            end
            if name == "state" then
              error("state is the game's table: set its fields (state.round = 1), not state "
                .. "itself", 2)
            end
            local what = type(rawget(protected, name)) == "function" and "function" or "table"
            error(("%s is a gamecast %s and cannot be replaced: give yours another name, or "
              .. "make it local (local %s = …)"):format(name, what, name), 2)
          end,
          __metatable = false,
        })
        "#,
    )
    .set_name("=gamecast sandbox")
    .call::<()>((protected.clone(), refused, os, refused_os))?;
    lua.set_named_registry_value(PROTECTED_KEY, protected)
}

/// Makes globals `names` (set already) read-only for the script: they move into the
/// protected table, where the globals' metatable finds them.
pub fn protect(lua: &Lua, names: &[&str]) -> mlua::Result<()> {
    let protected: Table = lua.named_registry_value(PROTECTED_KEY)?;
    let globals = lua.globals();
    for &name in names {
        let value: Value = globals.raw_get(name)?;
        protected.raw_set(name, value)?;
        globals.raw_set(name, Value::Nil)?;
    }
    Ok(())
}

/// The protected globals, for tests: the names and their values.
#[cfg(test)]
pub fn protected(lua: &Lua) -> mlua::Result<Vec<String>> {
    let protected: Table = lua.named_registry_value(PROTECTED_KEY)?;
    protected
        .pairs::<String, Value>()
        .map(|pair| pair.map(|(name, _)| name))
        .collect()
}

/// `load(chunk [, name [, mode [, env]]])` with the mode forced to text.
fn text_only_load(
    lua: &Lua,
    raw_load: &mlua::Function,
    args: MultiValue,
) -> mlua::Result<MultiValue> {
    let mut args: Vec<Value> = args.into_iter().collect();
    // Lua's load tells "no env given" from "env = nil" by the argument count, so keep it.
    while args.len() < 3 {
        args.push(Value::Nil);
    }
    args[2] = Value::String(lua.create_string("t")?);
    // The parser runs in C: a chunk's size bounds its time. A reader function's pieces are
    // gathered first (the reader is Lua: its own work is counted), then parsed at once.
    if let Value::Function(reader) = &args[0] {
        let mut chunk = Vec::new();
        loop {
            let piece: Value = reader.call(())?;
            match piece {
                Value::String(piece) if !piece.as_bytes().is_empty() => {
                    chunk.extend_from_slice(&piece.as_bytes());
                }
                Value::Nil | Value::String(_) => break,
                other => {
                    return Err(mlua::Error::runtime(format!(
                        "load: the reader returned a {}, not a string",
                        other.type_name()
                    )));
                }
            }
            if chunk.len() > super::bounded::MAX_CHUNK {
                break;
            }
        }
        args[0] = Value::String(lua.create_string(&chunk)?);
    }
    if let Value::String(chunk) = &args[0]
        && chunk.as_bytes().len() > super::bounded::MAX_CHUNK
    {
        return Err(mlua::Error::runtime(format!(
            "load: a chunk of over {} KiB is more than a game script compiles at once",
            super::bounded::MAX_CHUNK >> 10
        )));
    }
    raw_load.call(MultiValue::from_iter(args))
}

/// Where `require` keeps the modules it loaded, in the Lua registry.
pub const LOADED_KEY: &str = "gamecast.loaded";

/// Lua's `require` for game modules: `require "cards"` runs `cards.lua` from the script's folder
/// (dots are folders: `require "lib.deck"` is `lib/deck.lua`) once, and returns what it returned.
fn require(lua: &Lua, name: String) -> mlua::Result<Value> {
    let loaded = match lua.named_registry_value::<Option<Table>>(LOADED_KEY)? {
        Some(table) => table,
        None => {
            let table = lua.create_table()?;
            lua.set_named_registry_value(LOADED_KEY, &table)?;
            table
        }
    };
    if let Some(module) = loaded.get::<Option<Value>>(name.as_str())? {
        return Ok(module);
    }
    if name.is_empty() || name.contains(['/', '\\']) || name.split('.').any(|part| part.is_empty())
    {
        return Err(mlua::Error::runtime(format!(
            "require {name:?}: a module name is words joined by dots, like \"cards\" or \"lib.deck\""
        )));
    }
    let folder = lua
        .app_data_ref::<Shared>()
        .map(|shared| shared.folder.clone())
        .unwrap_or_default();
    let file: PathBuf = folder.join(format!("{}.lua", name.replace('.', "/")));
    let source = read_module(&folder, &file).map_err(|why| {
        mlua::Error::runtime(format!("require {name:?}: {}: {why}", file.display()))
    })?;
    // Recorded (once: a `pcall(require, …)` that fails again and again must not grow the list)
    // before it runs, so that saving a module that failed reloads the game too.
    if let Some(mut shared) = lua.app_data_mut::<Shared>() {
        match shared.modules.iter_mut().find(|(path, _)| *path == file) {
            Some(known) => known.1 = source.clone(),
            None => shared.modules.push((file.clone(), source.clone())),
        }
    }
    let value: Value = lua
        .load(source)
        .set_name(format!("@{}", file.display()))
        .set_mode(mlua::chunk::ChunkMode::Text)
        .call(name.as_str())?;
    // As Lua's own require: a module that returns nothing is recorded as `true`.
    let value = if value.is_nil() {
        Value::Boolean(true)
    } else {
        value
    };
    loaded.set(name.as_str(), &value)?;
    Ok(value)
}

/// The largest script or module read, in bytes (its parser runs in C).
pub const MAX_SOURCE: u64 = super::bounded::MAX_CHUNK as u64;

/// Reads a game's source file: a regular file (not a FIFO, which would block, nor a device,
/// which would never end) of at most [`MAX_SOURCE`] bytes. The file is checked on its path,
/// opened without blocking, checked again on what was opened, and what was checked is read.
pub fn read_source(path: &Path) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let before = std::fs::metadata(path).map_err(|e| io_why(&e))?;
    check_source(&before)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .map_err(|e| io_why(&e))?;
    let opened = file.metadata().map_err(|e| io_why(&e))?;
    if (opened.dev(), opened.ino()) != (before.dev(), before.ino()) {
        return Err("the file changed while it was being opened".into());
    }
    check_source(&opened)?;
    let mut bytes = Vec::new();
    file.take(MAX_SOURCE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_why(&e))?;
    if bytes.len() as u64 > MAX_SOURCE {
        return Err(format!(
            "over {} KiB, more than a game script",
            MAX_SOURCE >> 10
        ));
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())
}

/// Why a file could not be read, in words for a script author: "no such file", not
/// "No such file or directory (os error 2)".
fn io_why(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "a folder, not a file".into(),
        _ => {
            let text = error.to_string();
            match text.split_once(" (os error") {
                Some((words, _)) => words.to_string(),
                None => text,
            }
        }
    }
}

fn check_source(metadata: &std::fs::Metadata) -> Result<(), String> {
    if !metadata.is_file() {
        return Err("not a regular file".into());
    }
    if metadata.len() > MAX_SOURCE {
        return Err(format!(
            "over {} KiB, more than a game script",
            MAX_SOURCE >> 10
        ));
    }
    Ok(())
}

/// Reads module `file` for `require`: inside the script's `folder` only, even through links
/// (a link to a secret elsewhere is not a module).
fn read_module(folder: &Path, file: &Path) -> Result<String, String> {
    let folder = std::fs::canonicalize(if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    })
    .map_err(|e| io_why(&e))?;
    let real = std::fs::canonicalize(file).map_err(|e| io_why(&e))?;
    if !real.starts_with(&folder) {
        return Err(format!(
            "it leads outside the script's folder (to {}); modules are read from there only",
            real.display()
        ));
    }
    read_source(&real)
}
