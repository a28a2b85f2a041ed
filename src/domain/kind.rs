//! Small closed vocabularies of the returns business: the three kinds of returned parcel,
//! the inspection grade, and the parties that can be charged freight.

use std::fmt;

/// The three kinds of returned parcel (seed 000 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReturnKind {
    /// 自退件: the customer sent goods back.
    CustomerReturn,
    /// 在途退件: the courier brought it back (undeliverable, or recalled by the shop).
    CarrierReturn,
    /// 拒收件: the customer refused it at delivery.
    Refused,
}

impl ReturnKind {
    pub const ALL: [ReturnKind; 3] = [
        ReturnKind::CustomerReturn,
        ReturnKind::CarrierReturn,
        ReturnKind::Refused,
    ];

    /// The wire and code name (`customer_return`, `carrier_return`, `refused`).
    pub fn as_str(self) -> &'static str {
        match self {
            ReturnKind::CustomerReturn => "customer_return",
            ReturnKind::CarrierReturn => "carrier_return",
            ReturnKind::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<ReturnKind> {
        ReturnKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for ReturnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of the second inspection of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grade {
    /// 良品: resellable.
    Good,
    /// 不良品: defective; goes to the defect zone.
    Defect,
}

impl Grade {
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Good => "good",
            Grade::Defect => "defect",
        }
    }

    pub fn parse(s: &str) -> Option<Grade> {
        match s {
            "good" => Some(Grade::Good),
            "defect" => Some(Grade::Defect),
            _ => None,
        }
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who pays a leg of freight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    Seller,
    Buyer,
}

impl Party {
    pub fn as_str(self) -> &'static str {
        match self {
            Party::Seller => "seller",
            Party::Buyer => "buyer",
        }
    }
}
