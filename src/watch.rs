//! Watching a script's files for saves. The only module that touches notify.
//!
//! We watch the *folders* that hold the files, not the files: editors that save by writing a
//! temporary file and renaming it over the original (vim, VS Code, JetBrains "safe write"), or
//! by deleting and recreating it, replace the file's inode, and a watch on the old inode would
//! go quiet after the first save. A folder's watch sees every name in it come and go.
//!
//! Debouncing (one reload per save, however many events an editor makes) is the announcer's
//! job: this module only reports which watched file was touched.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

/// Reports changes to a set of files on a channel.
pub struct Watcher {
    watcher: notify::RecommendedWatcher,
    folders: BTreeSet<PathBuf>,
    files: std::sync::Arc<std::sync::Mutex<BTreeSet<PathBuf>>>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("folders", &self.folders)
            .finish()
    }
}

impl Watcher {
    /// Starts a watcher; the paths of touched watched files arrive on the returned channel.
    pub fn new() -> anyhow::Result<(Watcher, mpsc::UnboundedReceiver<PathBuf>)> {
        let (tx, rx) = mpsc::unbounded_channel();
        let files = std::sync::Arc::new(std::sync::Mutex::new(BTreeSet::<PathBuf>::new()));
        let watched = files.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            // Reading a file or changing its permissions is not a save.
            if matches!(
                event.kind,
                EventKind::Access(_) | EventKind::Modify(notify::event::ModifyKind::Metadata(_))
            ) {
                return;
            }
            // The lock only guards a set of paths; a panic while holding it cannot happen.
            let files = watched.lock().expect("the watched set is never poisoned");
            for path in event.paths {
                if files.contains(&path) {
                    // The receiver is gone only when the announcer is stopping.
                    let _ = tx.send(path);
                }
            }
        })
        .context("cannot start watching files")?;
        Ok((
            Watcher {
                watcher,
                folders: BTreeSet::new(),
                files,
            },
            rx,
        ))
    }

    /// Watches exactly these files from now on (the script and the modules it loaded).
    pub fn watch(&mut self, files: &[PathBuf]) -> anyhow::Result<()> {
        let files: BTreeSet<PathBuf> = files.iter().map(|f| absolute(f)).collect();
        for file in &files {
            let folder = file.parent().unwrap_or(Path::new("/")).to_path_buf();
            if !self.folders.contains(&folder) {
                self.watcher
                    .watch(&folder, RecursiveMode::NonRecursive)
                    .with_context(|| format!("cannot watch {}", folder.display()))?;
                self.folders.insert(folder);
            }
        }
        *self
            .files
            .lock()
            .expect("the watched set is never poisoned") = files;
        Ok(())
    }
}

/// The absolute form of a path, as the watcher reports it (without resolving links, so that
/// the name the user edits is the name we watch).
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
