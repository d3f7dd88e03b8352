//! Batch commands turn transparent huge pages off for their own process.
//!
//! Why: mimalloc asks the kernel for huge pages on its arenas. On the virtual machines we run
//! on, faulting in a fresh 2 MiB page (compaction, zeroing, the host backing it) stalled a
//! one-million-distributor close by 0.1–0.4 s, differently on every run; with 4 KiB pages the
//! same memory faults in steadily, and a batch run touches each page only a few times. The
//! server keeps huge pages: it lives long and reuses its memory.

/// Applies to the memory this process maps from now on (and to its children).
pub fn disable_for_this_process() {
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and only sets a flag on this process;
    // on a kernel without it the call fails harmlessly.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
