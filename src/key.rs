//! The game key: where it comes from (a private file, or the environment; never the command
//! line, where every user of the host can read it in the process list) and how it is kept out
//! of logs. What the key does on the wire is `protocol::seal`'s business.

use std::path::Path;

use anyhow::{Context, bail};

/// The environment variable that may hold the key itself.
pub const KEY_ENV: &str = "GAMECAST_KEY";

/// The shortest key accepted, in bytes: a guessable key protects nothing.
pub const MIN_KEY_BYTES: usize = 16;

/// A game's shared secret. Its `Debug` never shows it, so that no log or error message can.
#[derive(Clone, PartialEq, Eq)]
pub struct GameKey(std::sync::Arc<[u8]>);

impl std::fmt::Debug for GameKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GameKey(hidden, {} bytes)", self.0.len())
    }
}

impl GameKey {
    /// A key from its bytes (white space around it, such as a file's last newline, is not
    /// part of it). `source` says where it came from, for the error.
    pub fn new(bytes: &[u8], source: &str) -> anyhow::Result<GameKey> {
        let key = bytes.trim_ascii();
        if key.len() < MIN_KEY_BYTES {
            bail!(
                "the game key in {source} is {} bytes long; a key needs at least {MIN_KEY_BYTES} \
                 (make one with: head -c 32 /dev/urandom | base64)",
                key.len()
            );
        }
        Ok(GameKey(key.into()))
    }

    /// The key's bytes, for the MAC.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Reads a key file, refusing one that other users could read or change, or one that is
    /// not a regular file (a FIFO would block, a device never end). Everything is checked on
    /// the path before the file is opened, and again on what was opened (non-blocking, so that
    /// nothing swapped in between can hang us), and what is checked is what is read.
    pub fn from_file(path: &Path) -> anyhow::Result<GameKey> {
        let bytes = read_secret_file(path, "key", MAX_KEY_FILE)?;
        GameKey::new(&bytes, &path.display().to_string())
    }
}

/// The largest key file read.
const MAX_KEY_FILE: u64 = 4096;

/// Reads a file that holds a secret (`what`: "key", "credentials"), refusing one that other
/// users could read or change, or one that is not a regular file (a FIFO would block, a device
/// never end), or one over `max` bytes. Everything is checked on the path before the file is
/// opened, and again on what was opened (non-blocking, so that nothing swapped in between can
/// hang us), and what is checked is what is read.
pub fn read_secret_file(path: &Path, what: &str, max: u64) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let shown = path.display();
    let before = match std::fs::metadata(path) {
        // Not echoed: a secret typed where its path belongs must not end up on the screen.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "there is no such file (give the path of a file that holds the {what}, never the \
             {what} itself)"
        ),
        found => found.with_context(|| format!("{shown}: cannot look at it"))?,
    };
    check_secret_file(&shown, what, &before)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .with_context(|| format!("{shown}: cannot open it"))?;
    let opened = file.metadata()?;
    if (opened.dev(), opened.ino()) != (before.dev(), before.ino()) {
        bail!("{shown}: the file changed while it was being opened; try again");
    }
    check_secret_file(&shown, what, &opened)?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("{shown}: cannot read it"))?;
    if bytes.len() as u64 > max {
        bail!("{shown}: over {max} bytes, which is not a {what} file");
    }
    Ok(bytes)
}

/// A secret's file must be a regular file, yours, that nobody else may read or change.
fn check_secret_file(
    shown: &impl std::fmt::Display,
    what: &str,
    metadata: &std::fs::Metadata,
) -> anyhow::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if !metadata.is_file() {
        bail!("{shown}: not a regular file (a {what} file is a file that holds the {what})");
    }
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "{shown}: other users can read or change it (mode {mode:03o}); make it yours \
             alone with: chmod 600 {shown}"
        );
    }
    let me = nix::unistd::geteuid().as_raw();
    if metadata.uid() != me {
        bail!(
            "{shown}: it belongs to user {}, not to you (user {me}), who could change it; use \
             a copy of your own",
            metadata.uid()
        );
    }
    Ok(())
}

/// The game key from a key file or from the value of [`KEY_ENV`], or `None` when neither is
/// given. Both at once is an error: which one was meant?
pub fn load(
    file: Option<&Path>,
    from_env: Option<std::ffi::OsString>,
) -> anyhow::Result<Option<GameKey>> {
    match (file, from_env) {
        (Some(_), Some(_)) => {
            bail!("both a key file and {KEY_ENV} give a game key; unset {KEY_ENV} or drop the file")
        }
        (Some(path), None) => GameKey::from_file(path).map(Some),
        (None, Some(value)) => GameKey::new(value.as_encoded_bytes(), KEY_ENV).map(Some),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_refused_and_no_key_is_ever_printed() {
        let err = GameKey::new(b"  hunter2\n", "test")
            .unwrap_err()
            .to_string();
        assert!(err.contains("7 bytes"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let key = GameKey::new(b"correct horse battery staple\n", "test").unwrap();
        assert_eq!(key.bytes(), b"correct horse battery staple");
        assert!(!format!("{key:?}").contains("horse"));
    }

    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = crate::scratch::folder("key");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("game.key");
        std::fs::write(&path, "a secret that is long enough\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = GameKey::from_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("mode 644") && err.contains("chmod 600"),
            "{err}"
        );
        assert!(!err.contains("secret"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            GameKey::from_file(&path).unwrap().bytes(),
            b"a secret that is long enough"
        );
        let err = GameKey::from_file(&dir.join("s3cr3t-typed-here"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no such file") && !err.contains("s3cr3t"),
            "{err}"
        );
        // A FIFO is refused before it is opened (opening one for reading blocks until a
        // writer comes), and so is a folder.
        let fifo = dir.join("fifo.key");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let err = GameKey::from_file(&fifo).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        let err = GameKey::from_file(&dir).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
