//! Helpers shared by the fuzz targets. This folder is a module, not a target:
//! `run-all.sh` and cargo-fuzz only run the `fuzz_targets/*.rs` files named as `[[bin]]`.

/// xorshift64*, seeded with FNV-1a of the input: targets draw their "random" choices
/// from the input itself so that a crash reproduces from the input file alone.
pub struct Rng(u64);

impl Rng {
    pub fn new(data: &[u8]) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in data {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Rng(h | 1)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        if n == 0 {
            0
        } else {
            (x % n as u64) as usize
        }
    }

    /// One element of a non-empty slice.
    #[allow(dead_code)] // not every target picks from slices
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
