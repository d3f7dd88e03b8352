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
        4..=7 => {
            let head = (from as *const u32).read_unaligned();
            let tail = (from.add(length - 4) as *const u32).read_unaligned();
            (destination as *mut u32).write_unaligned(head);
            (destination.add(length - 4) as *mut u32).write_unaligned(tail);
        }
        8..=16 => {
            let head = (from as *const u64).read_unaligned();
            let tail = (from.add(length - 8) as *const u64).read_unaligned();
            (destination as *mut u64).write_unaligned(head);
            (destination.add(length - 8) as *mut u64).write_unaligned(tail);
        }
        _ => std::ptr::copy_nonoverlapping(from, destination, length),
    }
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
