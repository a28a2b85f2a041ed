//! Codes the tests and benches scan.

/// A valid EAN-13 for `n`: the `690` prefix, `n` in nine digits and its check digit —
/// distinct product codes, so no two scans of them are a double read.
pub fn ean13(n: u32) -> String {
    let body = format!("690{n:09}");
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}
