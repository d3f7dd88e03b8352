//! Input files mapped into memory, named by their base name in messages.

use memmap2::{Mmap, MmapOptions};
use std::fs::File;
use std::path::Path;

pub struct InputFile {
    name: String,
    map: Option<Mmap>,
}

impl InputFile {
    pub fn open(path: &Path) -> Result<InputFile, String> {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |name| name.to_string_lossy().into_owned(),
        );
        let file = File::open(path)
            .map_err(|error| format!("{name}: cannot read {}: {error}", path.display()))?;
        let length = file
            .metadata()
            .map_err(|error| format!("{name}: cannot read {}: {error}", path.display()))?
            .len();
        // An empty file cannot be mapped; it has no bytes to read anyway.
        let map = if length == 0 {
            None
        } else {
            // SAFETY: the file is only read; Upline does not write its own inputs while a run
            // reads them. A file truncated by another program during the run would fault,
            // which is why outputs never go to the input paths. `populate` maps every page in
            // one call instead of one fault per page as the parser reaches it.
            Some(
                unsafe { MmapOptions::new().populate().map(&file) }
                    .map_err(|error| format!("{name}: cannot map {}: {error}", path.display()))?,
            )
        };
        Ok(InputFile { name, map })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or_default()
    }

    /// Unmaps the file on a thread of its own: unmapping tens of megabytes takes
    /// milliseconds the run need not wait for.
    pub fn release_in_background(self) {
        std::thread::spawn(move || drop(self));
    }
}
