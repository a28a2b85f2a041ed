//! The printed control vocabularies a keeper scans: zone labels (`Z-…`) on shelves and
//! tables, and command codes (`CMD-…`) from the printed command sheet.

use std::fmt;

use crate::domain::ids::{BinCode, IdError};

/// A scanned zone label: `Z-PENDING`, `Z-GOOD`, `Z-DEFECT`, or `Z-<BIN>` with
/// BIN `[A-Z0-9-]{1,16}` (a shelf bin). The three reserved names are never bins.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ZoneScan {
    /// The pending (first-check) table.
    Pending,
    /// The good-goods zone.
    Good,
    /// The defect zone.
    Defect,
    /// A specific bin.
    Bin(BinCode),
}

impl ZoneScan {
    pub const PREFIX: &'static str = "Z-";

    /// Parses a zone label. Letters are case-insensitive (scanners with caps-lock quirks)
    /// and normalised to uppercase; positions in errors refer to the whole label.
    pub fn parse(s: &str) -> Result<ZoneScan, IdError> {
        let has_prefix = s
            .get(..Self::PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(Self::PREFIX));
        let Some(rest) = s.get(Self::PREFIX.len()..).filter(|_| has_prefix) else {
            return Err(IdError::MissingPrefix {
                expected: Self::PREFIX,
            });
        };
        if rest.is_empty() {
            return Err(IdError::MissingPart { part: "zone" });
        }
        // Uppercasing ASCII keeps every character where it was, so a bad one is reported
        // at its place in the label as scanned.
        let name = rest.to_ascii_uppercase();
        Ok(match name.as_str() {
            "PENDING" => ZoneScan::Pending,
            "GOOD" => ZoneScan::Good,
            "DEFECT" => ZoneScan::Defect,
            _ => ZoneScan::Bin(BinCode::parse_at(&name, Self::PREFIX.len())?),
        })
    }

    /// The printed label, e.g. `Z-GOOD`, `Z-A01-03`.
    pub fn label(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ZoneScan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::PREFIX)?;
        match self {
            ZoneScan::Pending => f.write_str("PENDING"),
            ZoneScan::Good => f.write_str("GOOD"),
            ZoneScan::Defect => f.write_str("DEFECT"),
            ZoneScan::Bin(b) => f.write_str(b.as_str()),
        }
    }
}

/// A command from the printed command sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CommandCode {
    Unpack,
    Done,
    Void,
    Reprint,
    Cancel,
    Logout,
    KindCustomer,
    KindCarrier,
    KindRefused,
    VisualOk,
    VisualDamaged,
    VisualMissingParts,
    CardPresent,
    CardMissing,
}

impl CommandCode {
    pub const PREFIX: &'static str = "CMD-";

    /// Every command, in command-sheet order.
    pub const ALL: [CommandCode; 14] = [
        CommandCode::Unpack,
        CommandCode::Done,
        CommandCode::Void,
        CommandCode::Reprint,
        CommandCode::Cancel,
        CommandCode::Logout,
        CommandCode::KindCustomer,
        CommandCode::KindCarrier,
        CommandCode::KindRefused,
        CommandCode::VisualOk,
        CommandCode::VisualDamaged,
        CommandCode::VisualMissingParts,
        CommandCode::CardPresent,
        CommandCode::CardMissing,
    ];

    /// The printed (barcode) form.
    pub fn code(self) -> &'static str {
        match self {
            CommandCode::Unpack => "CMD-UNPACK",
            CommandCode::Done => "CMD-DONE",
            CommandCode::Void => "CMD-VOID",
            CommandCode::Reprint => "CMD-REPRINT",
            CommandCode::Cancel => "CMD-CANCEL",
            CommandCode::Logout => "CMD-LOGOUT",
            CommandCode::KindCustomer => "CMD-KIND-CUSTOMER",
            CommandCode::KindCarrier => "CMD-KIND-CARRIER",
            CommandCode::KindRefused => "CMD-KIND-REFUSED",
            CommandCode::VisualOk => "CMD-VIS-OK",
            CommandCode::VisualDamaged => "CMD-VIS-DAMAGED",
            CommandCode::VisualMissingParts => "CMD-VIS-MISSING",
            CommandCode::CardPresent => "CMD-CARD-YES",
            CommandCode::CardMissing => "CMD-CARD-NO",
        }
    }

    /// Parses the printed form, ignoring ASCII case.
    pub fn parse(s: &str) -> Option<CommandCode> {
        Self::ALL
            .into_iter()
            .find(|c| c.code().eq_ignore_ascii_case(s))
    }

    /// snake_case key for translation tables.
    pub fn key(self) -> &'static str {
        match self {
            CommandCode::Unpack => "unpack",
            CommandCode::Done => "done",
            CommandCode::Void => "void",
            CommandCode::Reprint => "reprint",
            CommandCode::Cancel => "cancel",
            CommandCode::Logout => "logout",
            CommandCode::KindCustomer => "kind_customer",
            CommandCode::KindCarrier => "kind_carrier",
            CommandCode::KindRefused => "kind_refused",
            CommandCode::VisualOk => "visual_ok",
            CommandCode::VisualDamaged => "visual_damaged",
            CommandCode::VisualMissingParts => "visual_missing_parts",
            CommandCode::CardPresent => "card_present",
            CommandCode::CardMissing => "card_missing",
        }
    }
}

/// The printed form.
impl fmt::Display for CommandCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_parse_table() {
        // (input, expected): proves reserved names, bins, case folding and errors.
        let cases: &[(&str, Result<ZoneScan, IdError>)] = &[
            ("Z-PENDING", Ok(ZoneScan::Pending)),
            ("Z-GOOD", Ok(ZoneScan::Good)),
            ("z-defect", Ok(ZoneScan::Defect)),
            (
                "Z-A01-03",
                Ok(ZoneScan::Bin(BinCode::parse("A01-03").unwrap())),
            ),
            ("Z-b7", Ok(ZoneScan::Bin(BinCode::parse("B7").unwrap()))),
            ("Z-", Err(IdError::MissingPart { part: "zone" })),
            ("Z-A_1", Err(IdError::BadChar { at: 3, ch: '_' })),
            ("Z-货架1", Err(IdError::BadChar { at: 2, ch: '货' })),
            (
                "Z-ABCDEFGHIJKLMNOPQ",
                Err(IdError::TooLong { len: 17, max: 16 }),
            ),
            ("GOOD", Err(IdError::MissingPrefix { expected: "Z-" })),
        ];
        for (input, want) in cases {
            assert_eq!(ZoneScan::parse(input), *want, "{input:?}");
        }
    }

    #[test]
    fn zone_labels_round_trip() {
        // Proves the printed label parses back to the same zone.
        for z in [
            ZoneScan::Pending,
            ZoneScan::Good,
            ZoneScan::Defect,
            ZoneScan::Bin(BinCode::parse("R3-S2").unwrap()),
        ] {
            assert_eq!(ZoneScan::parse(&z.label()), Ok(z));
        }
    }

    #[test]
    fn command_codes_round_trip_and_are_unique() {
        // Proves every command's code parses back, case-insensitively, and codes/keys are unique.
        let mut codes = Vec::new();
        let mut keys = Vec::new();
        for c in CommandCode::ALL {
            assert_eq!(CommandCode::parse(c.code()), Some(c));
            assert_eq!(CommandCode::parse(&c.code().to_lowercase()), Some(c));
            assert!(c.code().starts_with(CommandCode::PREFIX));
            assert_eq!(c.to_string(), c.code());
            codes.push(c.code());
            keys.push(c.key());
        }
        codes.sort_unstable();
        codes.dedup();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(codes.len(), 14);
        assert_eq!(keys.len(), 14);
        assert_eq!(CommandCode::parse("CMD-FLY"), None);
        assert_eq!(CommandCode::KindCustomer.key(), "kind_customer");
    }
}
