//! Copying a few bytes whose count is known only at run time, without a library call.
//!
//! `copy_from_slice` of a short id is a call to `memcpy`; done once per row of a million-row
//! file, the calls cost more than the copies. Up to sixteen bytes move as two overlapping
//! loads and stores instead.

/// Copies `source` to `destination`.
///
/// # Safety
/// `destination` is valid for writing `source.len()` bytes and does not overlap `source`.
#[inline(always)]
pub unsafe fn copy_short(source: &[u8], destination: *mut u8) {
    let length = source.len();
    let from = source.as_ptr();
    match length {
        0 => {}
        // Bytes 0, length / 2 and length - 1 cover 1, 2 or 3 bytes (a loop here would be
        // turned back into the library call).
        1..=3 => {
            *destination = *from;
            *destination.add(length / 2) = *from.add(length / 2);
            *destination.add(length - 1) = *from.add(length - 1);
        }
        4..=7 => copy_head_and_tail::<u32>(from, destination, length),
        8..=16 => copy_head_and_tail::<u64>(from, destination, length),
        _ => std::ptr::copy_nonoverlapping(from, destination, length),
    }
}

/// Copies `length` bytes as two words of type `Word`, the first and the last, which overlap
/// when `length` is under twice the word's size.
///
/// # Safety
/// `size_of::<Word>() <= length <= 2 * size_of::<Word>()`; `from` is valid for reading and
/// `destination` for writing `length` bytes, and they do not overlap.
#[inline(always)]
unsafe fn copy_head_and_tail<Word: Copy>(from: *const u8, destination: *mut u8, length: usize) {
    let tail_at = length - std::mem::size_of::<Word>();
    let head = from.cast::<Word>().read_unaligned();
    let tail = from.add(tail_at).cast::<Word>().read_unaligned();
    destination.cast::<Word>().write_unaligned(head);
    destination
        .add(tail_at)
        .cast::<Word>()
        .write_unaligned(tail);
}

/// [`copy_short`] for a list of `u32`s, such as a node's few children: one to four values move
/// as one or two overlapping words.
///
/// # Safety
/// `destination` is valid for writing `source.len()` values and does not overlap `source`.
#[inline(always)]
pub unsafe fn copy_short_u32s(source: &[u32], destination: *mut u32) {
    // SAFETY: the values' bytes are initialized, and bytes need no alignment.
    let bytes =
        std::slice::from_raw_parts(source.as_ptr().cast::<u8>(), std::mem::size_of_val(source));
    copy_short(bytes, destination.cast::<u8>());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_every_length_exactly_and_nothing_beyond() {
        let source: Vec<u8> = (1u8..=40).collect();
        for length in 0..40 {
            let mut destination = vec![0u8; 48];
            // SAFETY: 48 bytes of room, a separate vector.
            unsafe { copy_short(&source[..length], destination.as_mut_ptr().add(3)) };
            let mut expected = vec![0u8; 48];
            expected[3..3 + length].copy_from_slice(&source[..length]);
            assert_eq!(destination, expected, "length {length}");
        }
    }

    #[test]
    fn copies_lists_of_u32s_exactly_and_nothing_beyond() {
        let source: Vec<u32> = (1..=12).map(|value| value * 0x0101_0101).collect();
        for length in 0..12 {
            let mut destination = vec![0u32; 16];
            // SAFETY: 16 values of room, a separate vector.
            unsafe { copy_short_u32s(&source[..length], destination.as_mut_ptr().add(2)) };
            let mut expected = vec![0u32; 16];
            expected[2..2 + length].copy_from_slice(&source[..length]);
            assert_eq!(destination, expected, "length {length}");
        }
    }
}
