//! The printable form of a scanned byte string, for logs and screens: control characters
//! become `<GS>`-style names, invalid UTF-8 bytes become `\xNN`, and the result is capped
//! at [`MAX_TEXT_CHARS`] characters (ending in `…` when cut).

/// The longest printable form, in characters.
pub const MAX_TEXT_CHARS: usize = 200;

const C0_NAMES: [&str; 32] = [
    "<NUL>", "<SOH>", "<STX>", "<ETX>", "<EOT>", "<ENQ>", "<ACK>", "<BEL>", "<BS>", "<HT>", "<LF>",
    "<VT>", "<FF>", "<CR>", "<SO>", "<SI>", "<DLE>", "<DC1>", "<DC2>", "<DC3>", "<DC4>", "<NAK>",
    "<SYN>", "<ETB>", "<CAN>", "<EM>", "<SUB>", "<ESC>", "<FS>", "<GS>", "<RS>", "<US>",
];

/// Accumulates tokens until the cap is reached.
struct Capped {
    /// The printable text so far.
    out: String,
    /// Its length in characters, counted as tokens are added.
    chars: usize,
    /// Byte length of `out` at the last token boundary that left room for the `…`.
    cut: usize,
    /// The cap was hit and `…` written: nothing more is added.
    done: bool,
}

impl Capped {
    /// Appends one token; returns false once the cap has been hit (and `…` written).
    fn push(&mut self, token: &str) -> bool {
        self.out.push_str(token);
        self.chars += token.chars().count();
        if self.chars < MAX_TEXT_CHARS {
            self.cut = self.out.len();
        }
        if self.chars > MAX_TEXT_CHARS {
            self.out.truncate(self.cut);
            self.out.push('…');
            self.done = true;
        }
        !self.done
    }
}

/// Renders `bytes` printably (see the module doc). Never contains control characters.
pub fn printable(bytes: &[u8]) -> String {
    let mut capped = Capped {
        out: String::new(),
        chars: 0,
        cut: 0,
        done: false,
    };
    let mut buf = [0u8; 4];
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            let more = if c.is_control() {
                match C0_NAMES.get(c as usize) {
                    Some(name) => capped.push(name),
                    None if c == '\u{7F}' => capped.push("<DEL>"),
                    None => capped.push(&format!("<U+{:04X}>", u32::from(c))),
                }
            } else {
                capped.push(c.encode_utf8(&mut buf))
            };
            if !more {
                return capped.out;
            }
        }
        for b in chunk.invalid() {
            if !capped.push(&format!("\\x{b:02X}")) {
                return capped.out;
            }
        }
    }
    capped.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_table() {
        // (input, output): proves control names, \xNN escapes and that plain text is kept.
        let cases: &[(&[u8], &str)] = &[
            (b"SF1234567890123", "SF1234567890123"),
            (b"01095011015300031\x1d10AB", "01095011015300031<GS>10AB"),
            (b"a\x00b\x7fc", "a<NUL>b<DEL>c"),
            (b"\xff\xfeok", "\\xFF\\xFEok"),
            ("退货\u{85}".as_bytes(), "退货<U+0085>"),
            (b"", ""),
        ];
        for (input, want) in cases {
            assert_eq!(printable(input), *want, "{input:?}");
        }
    }

    #[test]
    fn printable_caps_length() {
        // Proves exactly-200 is kept whole, longer input is cut to ≤ 200 chars ending in `…`,
        // and escapes are never split.
        assert_eq!(printable(&[b'a'; 200]).chars().count(), 200);
        let long = printable(&[b'a'; 201]);
        assert_eq!(long.chars().count(), 200);
        assert!(long.ends_with('…'));
        let escapes = printable(&[0xFF; 100]);
        assert!(escapes.chars().count() <= MAX_TEXT_CHARS);
        assert!(escapes.ends_with("\\xFF…"));
        let names = printable(&[0x1D; 100]);
        assert!(names.chars().count() <= MAX_TEXT_CHARS);
        assert!(names.ends_with("<GS>…"));
    }
}
