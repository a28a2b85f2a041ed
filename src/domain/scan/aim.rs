//! AIM symbology identifiers (ISO/IEC 15424): the optional `]Xm` prefix a scanner can be
//! configured to send before the data, telling which kind of barcode was read.

use std::fmt;

/// A symbology identifier: `]` + code letter + modifier character.
///
/// Common ones: `]C0` Code 128, `]C1` GS1-128, `]E0` EAN-13/UPC-A, `]E4` EAN-8,
/// `]d2` GS1 DataMatrix, `]Q3` GS1 QR Code, `]e0` GS1 DataBar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Symbology {
    /// The code letter; case matters (`d` is Data Matrix, `D` is another symbology).
    pub letter: char,
    /// The modifier character, usually a digit.
    pub modifier: char,
}

impl Symbology {
    /// Splits a leading `]` + ASCII letter + ASCII alphanumeric off `bytes`.
    /// Returns the identifier (if any) and the rest.
    pub fn split_prefix(bytes: &[u8]) -> (Option<Symbology>, &[u8]) {
        match bytes {
            [b']', letter, modifier, rest @ ..]
                if letter.is_ascii_alphabetic() && modifier.is_ascii_alphanumeric() =>
            {
                let sym = Symbology {
                    letter: char::from(*letter),
                    modifier: char::from(*modifier),
                };
                (Some(sym), rest)
            }
            _ => (None, bytes),
        }
    }

    /// True for the symbologies whose data is a GS1 element string
    /// (`]C1` GS1-128, `]d2` GS1 DataMatrix, `]Q3` GS1 QR, `]e0` GS1 DataBar).
    pub fn is_gs1(self) -> bool {
        matches!(
            (self.letter, self.modifier),
            ('C', '1') | ('d', '2') | ('Q', '3') | ('e', '0')
        )
    }

    /// True for EAN/UPC symbols (`]E…`): retail product barcodes, never courier waybills.
    pub fn is_ean_upc(self) -> bool {
        self.letter == 'E'
    }
}

/// The wire form, e.g. `]C1`.
impl fmt::Display for Symbology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "]{}{}", self.letter, self.modifier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_prefix_table() {
        // (input, identifier, rest, gs1?): proves which prefixes are recognised and stripped.
        type Case = (&'static [u8], Option<&'static str>, &'static [u8], bool);
        let cases: &[Case] = &[
            (
                b"]C1010950110153000317261231",
                Some("]C1"),
                b"010950110153000317261231",
                true,
            ),
            (b"]d2abc", Some("]d2"), b"abc", true),
            (b"]Q3abc", Some("]Q3"), b"abc", true),
            (b"]e0abc", Some("]e0"), b"abc", true),
            (b"]E06901234567892", Some("]E0"), b"6901234567892", false),
            (b"]E496385074", Some("]E4"), b"96385074", false),
            (
                b"]C0SF1234567890123",
                Some("]C0"),
                b"SF1234567890123",
                false,
            ),
            (b"]C", None, b"]C", false),
            (b"]1C0", None, b"]1C0", false),
            (b"]C-1", None, b"]C-1", false),
            (b"C01", None, b"C01", false),
            (b"", None, b"", false),
        ];
        for (input, sym, rest, gs1) in cases {
            let (got, got_rest) = Symbology::split_prefix(input);
            assert_eq!(got.map(|s| s.to_string()).as_deref(), *sym, "{input:?}");
            assert_eq!(got_rest, *rest, "{input:?}");
            assert_eq!(got.is_some_and(Symbology::is_gs1), *gs1, "{input:?}");
        }
    }
}
