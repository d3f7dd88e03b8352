//! Progress of the bulk imports running (or recently finished) in this process.
//!
//! A client names its import (`?import_id=` on the upload) and reads the counts while the
//! stream is still being sent: a million-row upload should not be a silent minute. Only the
//! latest [`IMPORTS_KEPT_MAX`] imports are kept; ids are per tenant.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Mutex;
use utoipa::ToSchema;

/// Imports remembered per process (the oldest are forgotten first).
const IMPORTS_KEPT_MAX: usize = 256;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImportProgressView {
    /// Data lines read so far.
    pub rows: u64,
    pub enrolled: u64,
    pub refused: u64,
    /// Whether the import has ended (its answer holds the full report).
    pub done: bool,
}

#[derive(Default)]
pub struct ImportProgress {
    imports: Mutex<VecDeque<((String, String), ImportProgressView)>>,
}

impl ImportProgress {
    /// Records the counts of a tenant's import.
    pub fn set(&self, tenant_id: &str, import_id: &str, progress: ImportProgressView) {
        let mut imports = self.imports.lock().expect("import progress lock");
        let key = (tenant_id.to_owned(), import_id.to_owned());
        match imports.iter_mut().find(|(known, _)| *known == key) {
            Some((_, current)) => *current = progress,
            None => {
                if imports.len() >= IMPORTS_KEPT_MAX {
                    imports.pop_front();
                }
                imports.push_back((key, progress));
            }
        }
    }

    pub fn get(&self, tenant_id: &str, import_id: &str) -> Option<ImportProgressView> {
        let imports = self.imports.lock().expect("import progress lock");
        imports
            .iter()
            .find(|((tenant, import), _)| tenant == tenant_id && import == import_id)
            .map(|(_, progress)| progress.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_are_per_tenant_and_bounded() {
        let progress = ImportProgress::default();
        let counts = |rows| ImportProgressView {
            rows,
            ..ImportProgressView::default()
        };
        progress.set("a", "i1", counts(1));
        progress.set("a", "i1", counts(5));
        assert_eq!(progress.get("a", "i1"), Some(counts(5)));
        assert_eq!(progress.get("b", "i1"), None, "another tenant's import");
        for index in 0..IMPORTS_KEPT_MAX {
            progress.set("a", &format!("later-{index}"), counts(0));
        }
        assert_eq!(progress.get("a", "i1"), None, "the oldest is forgotten");
        assert!(progress.get("a", "later-1").is_some());
    }
}
