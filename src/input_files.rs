//! Input files, mapped into memory when they are regular files and read whole when they are
//! streams, named in messages by their base name.

use memmap2::{Mmap, MmapOptions};
use std::fs::File;
use std::io::Read;
use std::path::Path;

pub struct InputFile {
    name: String,
    bytes: Contents,
}

/// Where an input's bytes are held.
enum Contents {
    /// A regular file, mapped: its pages come straight from the page cache.
    Mapped(Mmap),
    /// A pipe, a terminal or a device (`<(zcat orders.csv.gz)`, `/dev/stdin`), which reports
    /// no length and cannot be mapped, read to its end; or an empty file, which cannot be
    /// mapped and has nothing to read.
    Held(Vec<u8>),
}

impl InputFile {
    pub fn open(path: &Path) -> Result<InputFile, String> {
        let base_name = name_of(path);
        let cannot = |verb: &str, name: &str, error: std::io::Error| {
            format!("{name}: cannot {verb} {}: {error}", path.display())
        };
        let file = File::open(path).map_err(|error| cannot("read", &base_name, error))?;
        let metadata = file
            .metadata()
            .map_err(|error| cannot("read", &base_name, error))?;
        if metadata.is_dir() {
            return Err(format!(
                "{base_name}: {} is a folder; give the path of the file in it",
                path.display()
            ));
        }
        if !metadata.is_file() {
            // A stream's base name says little (`63` for `/dev/fd/63`): it is named whole.
            let name = path.display().to_string();
            let mut bytes = Vec::new();
            (&file)
                .read_to_end(&mut bytes)
                .map_err(|error| cannot("read", &name, error))?;
            return Ok(InputFile {
                name,
                bytes: Contents::Held(bytes),
            });
        }
        let bytes = if metadata.len() == 0 {
            Contents::Held(Vec::new())
        } else {
            // SAFETY: the file is only read; Upline does not write its own inputs while a run
            // reads them. A file truncated by another program during the run would fault,
            // which is why outputs never go to the input paths. `populate` maps every page in
            // one call instead of one fault per page as the parser reaches it.
            let map = unsafe { MmapOptions::new().populate().map(&file) }
                .map_err(|error| cannot("map", &base_name, error))?;
            Contents::Mapped(map)
        };
        Ok(InputFile {
            name: base_name,
            bytes,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn bytes(&self) -> &[u8] {
        match &self.bytes {
            Contents::Mapped(map) => map,
            Contents::Held(bytes) => bytes,
        }
    }

    /// Unmaps (or frees) the file on a thread of its own: unmapping tens of megabytes takes
    /// milliseconds the run need not wait for.
    pub fn release_in_background(self) {
        std::thread::spawn(move || drop(self));
    }
}

/// A regular file's name in messages: its base name (`orders.csv`), as the spec's errors read.
fn name_of(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}
