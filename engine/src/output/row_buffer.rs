//! Appending one CSV row at a time into a byte vector, without a libc call per field.
//!
//! `Vec::extend_from_slice` of a short id is a call to `memcpy`; formatting tens of millions
//! of rows made those calls a fifth of a run. A [`RowBuffer`] reserves room for the whole
//! row once and copies short slices with [`copy_short`].

use crate::number::{self, VOLUME_SCALE};
use crate::short_copy::copy_short;

/// Room reserved per number of a row: 40 digits, a sign and a point.
pub const NUMBER_BYTES_MAX: usize = 42;

/// A row under construction at the end of `out`; the bytes become part of `out` on drop.
pub struct RowBuffer<'v> {
    out: &'v mut Vec<u8>,
    start: *mut u8,
    written: usize,
    capacity: usize,
}

impl<'v> RowBuffer<'v> {
    /// Starts a row that writes at most `bound` bytes.
    #[inline]
    pub fn new(out: &'v mut Vec<u8>, bound: usize) -> RowBuffer<'v> {
        out.reserve(bound);
        let start = unsafe { out.as_mut_ptr().add(out.len()) };
        RowBuffer {
            out,
            start,
            written: 0,
            capacity: bound,
        }
    }

    #[inline(always)]
    pub fn byte(&mut self, byte: u8) {
        assert!(self.written < self.capacity, "row longer than its bound");
        // SAFETY: `written < capacity`, and `capacity` bytes were reserved after `start`.
        unsafe { *self.start.add(self.written) = byte };
        self.written += 1;
    }

    #[inline(always)]
    pub fn bytes(&mut self, bytes: &[u8]) {
        let length = bytes.len();
        assert!(
            self.written + length <= self.capacity,
            "row longer than its bound"
        );
        // SAFETY: the destination range lies inside the reserved capacity and cannot overlap
        // `bytes`, which is borrowed immutably from elsewhere.
        unsafe { copy_short(bytes, self.start.add(self.written)) };
        self.written += length;
    }

    /// An unsigned integer, two digits per division.
    #[inline]
    pub fn unsigned(&mut self, value: u64) {
        let mut buffer = [0u8; 20];
        let at = number::format_u64(&mut buffer, value);
        self.bytes(&buffer[at..]);
    }

    /// A volume in 1/10,000 units with exactly four fractional digits.
    #[inline]
    pub fn volume(&mut self, volume: i64) {
        self.fixed::<VOLUME_SCALE>(volume);
    }

    /// An amount in units of `10^-decimals`, with exactly `decimals` fractional digits,
    /// formatted in place (its length is known first, so no scratch buffer and no copy).
    /// The usual decimals — cents, whole units, volumes — each have a path of their own,
    /// inlined where the row is formatted.
    #[inline(always)]
    pub fn amount(&mut self, amount: i64, decimals: u32) {
        match decimals {
            2 => self.fixed::<2>(amount),
            0 => self.fixed::<0>(amount),
            VOLUME_SCALE => self.fixed::<VOLUME_SCALE>(amount),
            _ => self.any_amount(amount, decimals),
        }
    }

    /// [`RowBuffer::amount`] with its decimals known when compiled.
    #[inline(always)]
    fn fixed<const DECIMALS: u32>(&mut self, amount: i64) {
        if amount == 0 {
            let length = if DECIMALS == 0 {
                1
            } else {
                DECIMALS as usize + 2
            };
            self.bytes(&b"0.000000"[..length]);
            return;
        }
        let length = number::amount_text_length(amount, DECIMALS);
        number::write_with_decimals::<DECIMALS>(self.reserve_exact(length), amount);
        self.written += length;
    }

    /// The next `length` bytes of the row, to be written and then counted in `written`.
    #[inline(always)]
    fn reserve_exact(&mut self, length: usize) -> &mut [std::mem::MaybeUninit<u8>] {
        assert!(
            self.written + length <= self.capacity,
            "row longer than its bound"
        );
        // SAFETY: the range lies inside the reserved capacity, and nothing else borrows it.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.start
                    .add(self.written)
                    .cast::<std::mem::MaybeUninit<u8>>(),
                length,
            )
        }
    }

    /// [`RowBuffer::amount`] for any number of decimals.
    fn any_amount(&mut self, amount: i64, decimals: u32) {
        // Most amounts of an output file are zero: `0.00`, `0.0000` as one copy.
        if amount == 0 && decimals <= 6 {
            let length = if decimals == 0 {
                1
            } else {
                decimals as usize + 2
            };
            self.bytes(&b"0.000000"[..length]);
            return;
        }
        let length = number::amount_text_length(amount, decimals);
        number::write_amount_exact(self.reserve_exact(length), amount, decimals);
        self.written += length;
    }

    /// Any other decimal, through the general (slower) formatter.
    pub fn text(&mut self, text: &[u8]) {
        self.bytes(text);
    }
}

impl Drop for RowBuffer<'_> {
    fn drop(&mut self) {
        let length = self.out.len() + self.written;
        // SAFETY: the first `written` bytes after the old length were initialized above.
        unsafe { self.out.set_len(length) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_every_length_exactly() {
        let source: Vec<u8> = (0u8..40).collect();
        for length in 0..40 {
            let mut out = b"x".to_vec();
            {
                let mut row = RowBuffer::new(&mut out, 64);
                row.bytes(&source[..length]);
                row.byte(b',');
            }
            let mut expected = b"x".to_vec();
            expected.extend_from_slice(&source[..length]);
            expected.push(b',');
            assert_eq!(out, expected, "length {length}");
        }
    }

    #[test]
    fn formats_numbers() {
        let mut out = Vec::new();
        {
            let mut row = RowBuffer::new(&mut out, 200);
            row.unsigned(0);
            row.byte(b' ');
            row.unsigned(1_234_567_890_123);
            row.byte(b' ');
            row.volume(3_333_333);
            row.byte(b' ');
            row.volume(-5);
            row.byte(b' ');
            row.amount(10_793, 2);
            row.byte(b' ');
            row.amount(-7, 3);
            row.byte(b' ');
            row.amount(0, 2);
            row.byte(b' ');
            row.amount(0, 0);
            row.byte(b' ');
            row.amount(0, 7);
            row.byte(b' ');
            row.amount(1079, 0);
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "0 1234567890123 333.3333 -0.0005 107.93 -0.007 0.00 0 0.0000000 1079"
        );
    }
}
