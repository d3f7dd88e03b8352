//! Files read again whenever a connection is opened, and what they hold made again when they
//! changed. cert-manager renews a certificate well before it expires by rewriting the Secret
//! that pods mount, and Kubernetes swaps the mounted files in place; a process that read them
//! once would keep presenting (or trusting) the old ones until it was restarted.
//!
//! New files that cannot be used — caught half-swapped, a key that does not go with its
//! certificate — are refused with a warning, and the last good ones stay in use: a renewal
//! gone wrong must not cut a running process off its servers while its old certificate is
//! still valid. Reading a few kilobytes per new connection costs nothing next to the handshake.

use super::{TlsFile, TlsProblem};
use rustls::crypto::CryptoProvider;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

/// Why the contents of one of the files cannot be used.
pub(super) struct Unusable {
    pub file: TlsFile,
    pub reason: String,
}

type Make<T> = fn(&[Vec<u8>], &Arc<CryptoProvider>) -> Result<T, Unusable>;

pub(super) struct Renewing<T> {
    files: Vec<(TlsFile, PathBuf)>,
    provider: Arc<CryptoProvider>,
    make: Make<T>,
    state: Mutex<State<T>>,
}

struct State<T> {
    /// What the files held when `current` was made from them.
    contents: Vec<Vec<u8>>,
    current: T,
    /// The contents last refused, so that a bad renewal is reported once, not per connection.
    refused: Option<Vec<Vec<u8>>>,
}

impl<T: Clone> Renewing<T> {
    /// Reads the files and makes their value, or names the file that is missing or unusable.
    pub fn load(
        files: Vec<(TlsFile, PathBuf)>,
        provider: Arc<CryptoProvider>,
        make: Make<T>,
    ) -> Result<Self, TlsProblem> {
        let problem = |file: TlsFile, reason: String| TlsProblem {
            file,
            path: path_of(&files, file),
            reason,
        };
        let contents = read(&files).map_err(|(file, reason)| problem(file, reason))?;
        let current = make(&contents, &provider)
            .map_err(|unusable| problem(unusable.file, unusable.reason))?;
        Ok(Renewing {
            files,
            provider,
            make,
            state: Mutex::new(State {
                contents,
                current,
                refused: None,
            }),
        })
    }

    /// The value of the files as they are now, made again if they changed and can be used;
    /// otherwise the last good one.
    pub fn current(&self) -> T {
        let now = read(&self.files);
        let mut state = self.lock();
        match now {
            Ok(contents) if contents != state.contents => self.renew(&mut state, contents),
            Ok(_) => {}
            Err((file, reason)) => {
                tracing::warn!(file = %self.path(file), %reason, "cannot read a renewed TLS file; the previous one stays in use")
            }
        }
        state.current.clone()
    }

    /// The value in use, without looking at the files: for the steps of one handshake after
    /// the first, which must agree with it.
    pub fn unchanged(&self) -> T {
        self.lock().current.clone()
    }

    fn renew(&self, state: &mut State<T>, contents: Vec<Vec<u8>>) {
        match (self.make)(&contents, &self.provider) {
            Ok(renewed) => {
                tracing::info!(files = %self, "renewed TLS files are in use");
                state.current = renewed;
                state.contents = contents;
                state.refused = None;
            }
            Err(unusable) => {
                if state.refused.as_ref() != Some(&contents) {
                    tracing::warn!(file = %self.path(unusable.file), reason = %unusable.reason, "renewed TLS files cannot be used; the previous ones stay in use");
                    state.refused = Some(contents);
                }
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic elsewhere while holding it left whole values behind: nothing to repair.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn path(&self, file: TlsFile) -> String {
        path_of(&self.files, file).display().to_string()
    }
}

fn path_of(files: &[(TlsFile, PathBuf)], file: TlsFile) -> PathBuf {
    files
        .iter()
        .find(|(kind, _)| *kind == file)
        .map(|(_, path)| path.clone())
        .expect("every problem is in one of the files read")
}

fn read(files: &[(TlsFile, PathBuf)]) -> Result<Vec<Vec<u8>>, (TlsFile, String)> {
    files
        .iter()
        .map(|(file, path)| std::fs::read(path).map_err(|error| (*file, error.to_string())))
        .collect()
}

impl<T> fmt::Debug for Renewing<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, formatter)
    }
}

impl<T> fmt::Display for Renewing<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let paths: Vec<String> = self
            .files
            .iter()
            .map(|(_, path)| path.display().to_string())
            .collect();
        formatter.write_str(&paths.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(contents: &[Vec<u8>], _: &Arc<CryptoProvider>) -> Result<u32, Unusable> {
        std::str::from_utf8(&contents[0])
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .ok_or(Unusable {
                file: TlsFile::Roots,
                reason: "not a number".into(),
            })
    }

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    #[test]
    fn a_changed_file_is_made_again_and_an_unusable_one_leaves_the_last_good() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("value");
        std::fs::write(&path, "1").unwrap();
        let renewing =
            Renewing::load(vec![(TlsFile::Roots, path.clone())], provider(), number).unwrap();
        assert_eq!(renewing.current(), 1);

        std::fs::write(&path, "2").unwrap();
        assert_eq!(
            renewing.unchanged(),
            1,
            "unchanged() must not read the files"
        );
        assert_eq!(renewing.current(), 2);

        std::fs::write(&path, "half-writ").unwrap();
        assert_eq!(renewing.current(), 2);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(renewing.current(), 2);

        std::fs::write(&path, "3").unwrap();
        assert_eq!(renewing.current(), 3);
    }

    #[test]
    fn files_that_cannot_be_used_at_start_are_named() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("value");
        let missing =
            Renewing::load(vec![(TlsFile::Roots, path.clone())], provider(), number).unwrap_err();
        assert_eq!((missing.file, &missing.path), (TlsFile::Roots, &path));

        std::fs::write(&path, "x").unwrap();
        let unusable =
            Renewing::load(vec![(TlsFile::Roots, path.clone())], provider(), number).unwrap_err();
        assert_eq!(unusable.path, path);
        assert_eq!(unusable.reason, "not a number");
    }
}
