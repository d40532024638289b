//! Temporary folders for the unit tests, removed when the test that made them ends.
//!
//! A test's scripts must outlive the helper that wrote them (a reload reads the file again),
//! so each folder is kept by the test's thread and removed with it: libtest runs every test on
//! a thread of its own. Without this, a run of the property tests left ~100,000 folders behind.

use std::cell::RefCell;
use std::path::PathBuf;

thread_local! {
    static KEPT: RefCell<Vec<tempfile::TempDir>> = const { RefCell::new(Vec::new()) };
}

/// A fresh folder, named `gamecast-PREFIX-…`, that lives until the current test ends.
pub(crate) fn folder(prefix: &str) -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix(&format!("gamecast-{prefix}-"))
        .tempdir()
        .expect("a temporary folder");
    let path = dir.path().to_path_buf();
    KEPT.with(|kept| kept.borrow_mut().push(dir));
    path
}
