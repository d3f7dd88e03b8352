//! Files and progress: each output file is written to `NAME.partial` through a large buffer and
//! renamed when complete; rows are formatted by rayon in windows of fixed chunks and written in
//! chunk order by a writer thread, so the bytes never depend on the thread count.

use anyhow::{Context as _, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

const BUFFER_BYTES: usize = 8 << 20;

/// One output file being written.
pub struct OutputFile {
    name: &'static str,
    partial: PathBuf,
    path: PathBuf,
    writer: Option<BufWriter<File>>,
    written: u64,
}

impl OutputFile {
    pub fn create(dir: &Path, name: &'static str) -> Result<OutputFile> {
        let path = dir.join(name);
        let partial = dir.join(format!("{name}.partial"));
        let file = File::create(&partial)
            .with_context(|| format!("{}: cannot create", partial.display()))?;
        Ok(OutputFile {
            name,
            partial,
            path,
            writer: Some(BufWriter::with_capacity(BUFFER_BYTES, file)),
            written: 0,
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let writer = self.writer.as_mut().expect("an open file");
        writer
            .write_all(bytes)
            .with_context(|| format!("{}: cannot write", self.partial.display()))?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Flushes, renames into place and returns the file's name and size.
    pub fn finish(mut self) -> Result<(&'static str, u64)> {
        let writer = self.writer.take().expect("an open file");
        let file = writer
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("{}: cannot write", self.partial.display()))?;
        drop(file);
        fs::rename(&self.partial, &self.path)
            .with_context(|| format!("{}: cannot rename into place", self.path.display()))?;
        Ok((self.name, self.written))
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            // Unfinished (an error happened): leave no partial file behind.
            let _ = fs::remove_file(&self.partial);
        }
    }
}

/// Writes a whole small file at once.
pub fn write_small(dir: &Path, name: &'static str, bytes: &[u8]) -> Result<(&'static str, u64)> {
    let mut file = OutputFile::create(dir, name)?;
    file.write(bytes)?;
    file.finish()
}

/// Formats the rows of `chunks` (`(chunk, start, end)`) with `format` in parallel and appends
/// them to `file` in chunk order; `progress` gets `end - start` for every chunk written.
pub fn write_chunks<F>(
    file: &mut OutputFile,
    chunks: &[(u64, usize, usize)],
    format: F,
    progress: &ProgressBar,
) -> Result<()>
where
    F: Fn(&mut Vec<u8>, u64, usize, usize) + Sync,
{
    let window = (rayon::current_num_threads() * 2).max(4);
    let (sender, receiver) = mpsc::sync_channel::<(Vec<u8>, u64)>(window);
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> Result<()> {
            for (bytes, rows) in receiver {
                file.write(&bytes)?;
                progress.inc(rows);
            }
            Ok(())
        });
        'groups: for group in chunks.chunks(window) {
            let buffers: Vec<(Vec<u8>, u64)> = group
                .par_iter()
                .map(|&(chunk, start, end)| {
                    let mut out = Vec::with_capacity((end - start) * 64);
                    format(&mut out, chunk, start, end);
                    (out, (end - start) as u64)
                })
                .collect();
            for buffer in buffers {
                if sender.send(buffer).is_err() {
                    // The writer stopped on an error; it reports it below.
                    break 'groups;
                }
            }
        }
        drop(sender);
        writer.join().expect("the writer thread does not panic")
    })
}

/// A progress bar on standard error for one phase (hidden when standard error is not a
/// terminal).
pub fn bar(phase: &str, len: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>12.bold} [{bar:40}] {human_pos}/{human_len} {per_sec} eta {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(phase.to_string());
    bar
}
