//! The closed vocabularies of the returns business that every part of the domain speaks:
//! the kinds of returned parcel, the inspection grade, the parties charged freight, the
//! operator roles, the visual result of a first check, where a unit is (its zone), the
//! class of a bin, and a manifest's expected line. They depend on the identifiers alone,
//! so the events, the state and the ports can all use them without knowing each other.

use std::fmt;

use super::ids::BinCode;

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

/// Operator roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Keeper,
    Inspector,
    Supervisor,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Keeper, Role::Inspector, Role::Supervisor];
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Keeper => "keeper",
            Role::Inspector => "inspector",
            Role::Supervisor => "supervisor",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The keeper's visual result at first check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visual {
    NotRecorded,
    Ok,
    Damaged,
    MissingParts,
}

impl Visual {
    pub fn as_str(self) -> &'static str {
        match self {
            Visual::NotRecorded => "not_recorded",
            Visual::Ok => "ok",
            Visual::Damaged => "damaged",
            Visual::MissingParts => "missing_parts",
        }
    }
    pub fn parse(s: &str) -> Option<Visual> {
        [
            Visual::NotRecorded,
            Visual::Ok,
            Visual::Damaged,
            Visual::MissingParts,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// Where one unit is. `Bench` means received at the station but not yet booked in;
/// `Vendor`, `Customer` and `Sellable` are where units go when they leave the returns
/// zones (see [`ItemZone::is_out`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemZone {
    Bench,
    Pending,
    Good(Option<BinCode>),
    Defect(Option<BinCode>),
    Vendor,
    Customer,
    /// Restocked: back in the warehouse's sellable stock (退库 / 商品入库), no longer
    /// waiting in the returns good zone for an exchange order.
    Sellable,
}

/// The ledger zones of goods that left the station's returns zones: the ledger records
/// the movement into them, but they hold no balance the station looks after.
pub const OUT_ZONES: [&str; 3] = ["vendor", "customer", "sellable"];

impl ItemZone {
    /// The ledger's name of the zone: `pending`, `good`, `good/A01`, `defect/B02`, …
    pub fn ledger_name(&self) -> String {
        match self {
            ItemZone::Bench => "in".to_string(),
            ItemZone::Pending => "pending".to_string(),
            ItemZone::Good(None) => "good".to_string(),
            ItemZone::Good(Some(b)) => format!("good/{b}"),
            ItemZone::Defect(None) => "defect".to_string(),
            ItemZone::Defect(Some(b)) => format!("defect/{b}"),
            ItemZone::Vendor => "vendor".to_string(),
            ItemZone::Customer => "customer".to_string(),
            ItemZone::Sellable => "sellable".to_string(),
        }
    }

    pub fn parse_ledger_name(s: &str) -> Option<ItemZone> {
        Some(match s {
            "in" => ItemZone::Bench,
            "pending" => ItemZone::Pending,
            "good" => ItemZone::Good(None),
            "defect" => ItemZone::Defect(None),
            "vendor" => ItemZone::Vendor,
            "customer" => ItemZone::Customer,
            "sellable" => ItemZone::Sellable,
            _ => {
                if let Some(b) = s.strip_prefix("good/") {
                    ItemZone::Good(Some(BinCode::parse(b).ok()?))
                } else if let Some(b) = s.strip_prefix("defect/") {
                    ItemZone::Defect(Some(BinCode::parse(b).ok()?))
                } else {
                    return None;
                }
            }
        })
    }

    /// Goods that left the returns zones (to the vendor, the customer or sellable
    /// stock): nothing can move them again.
    pub fn is_out(&self) -> bool {
        matches!(
            self,
            ItemZone::Vendor | ItemZone::Customer | ItemZone::Sellable
        )
    }
}

/// The class of a configured bin: which grade of goods it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinClass {
    Good,
    Defect,
}

impl BinClass {
    pub fn as_str(self) -> &'static str {
        match self {
            BinClass::Good => "good",
            BinClass::Defect => "defect",
        }
    }
    pub fn parse(s: &str) -> Option<BinClass> {
        match s {
            "good" => Some(BinClass::Good),
            "defect" => Some(BinClass::Defect),
            _ => None,
        }
    }
}

/// An expected line copied from the manifest into the return when it is received, so the
/// return stays self-contained even if the manifest line changes later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedLine {
    /// The product, as the seller names it: counts are per SKU.
    pub sku: String,
    /// The barcode a scanned product is matched against.
    pub barcode: String,
    /// The product's name, for people (lists, labels).
    pub name: String,
    /// Units expected: more is an over exception, fewer an under one.
    pub qty: u32,
}
