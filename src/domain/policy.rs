//! Business policies the station can compute from facts it already holds: the 7-day
//! no-reason return window, who pays freight, the 24-hour after-sales deadlines and
//! whether a refund is due.
//!
//! Everything here is pure: time is passed in (never read from a clock), there is no I/O
//! and no serialisation. Each rule names the seed text it implements:
//!
//! * seed 002 §1(1) — the no-reason window: "在签收货物7天内(签收当日第二天零时起计算时间,
//!   满168小时为7天)" (within 7 days of signing, counted from 00:00 of the day after signing;
//!   168 full hours make the 7 days).
//! * seed 002 §1(5) a–d — freight disputes, "谁过错,谁承担" (whoever is at fault pays).
//! * seed 000 4.8 — goods graded good after a claim: "双程运费客服部通知客户承担" (customer
//!   service tells the customer to bear freight both ways).
//! * seed 003 (after-sales duties ②) — an order recalled from the courier because "客户又不想要了"
//!   (the customer no longer wants it) comes back as the original parcel and is refunded.
//! * seed 000 after-sales rules — "在收到换货的商品后24小时内完成换货发出快递" and
//!   "在收到客户的退款申请后…24小时内退款给客户" (24-hour exchange and refund deadlines).
//!
//! ## Freight rules implemented by [`decide_freight`]
//!
//! | rule id | kind | condition | fault |
//! |---|---|---|---|
//! | [`rule::SELLER_DEFECT`] | customer return, refused | a defect whose reason is seller fault | seller |
//! | [`rule::BUYER_DAMAGE`] | customer return | a defect whose reason is not seller fault | buyer |
//! | [`rule::QUALITY_NOT_FOUND`] | customer return | quality claimed, graded good | buyer |
//! | [`rule::DESCRIPTION_DISPUTED`] | customer return | not-as-described claimed, graded good | unclear |
//! | [`rule::BUYER_REASON`] | customer return | buyer's own reason, graded good | buyer |
//! | [`rule::REASON_UNKNOWN`] | customer return | unknown reason, graded good | unclear |
//! | [`rule::NOT_INSPECTED`] | customer return, refused | not inspected yet | unclear |
//! | [`rule::REFUSED_NO_SELLER_FAULT`] | refused | inspected, no seller-fault defect | buyer |
//! | [`rule::CARRIER_CUSTOMER_CANCELLED`] | carrier return | claimed reason is a cancellation | buyer |
//! | [`rule::CARRIER_UNDELIVERED`] | carrier return | anything else | seller |
//!
//! Who pays which leg follows from the fault alone (seed 002 §1(5) b–d): seller → seller
//! pays both legs; buyer → buyer pays both legs, or only the return leg if the item shipped
//! free (包邮); unclear → seller pays the outbound leg, buyer the return leg.

use std::fmt;

use chrono::{DateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use crate::domain::kind::{Grade, Party, ReturnKind};

/// The time zone a station uses when it has not configured one.
pub const DEFAULT_TZ: Tz = chrono_tz::Asia::Shanghai;

/// Length of the no-reason window: "满168小时为7天" (168 full hours make the 7 days).
pub const NO_REASON_WINDOW: TimeDelta = TimeDelta::hours(168);

/// The after-sales deadline for shipping an exchange and for paying a refund.
pub const AFTER_SALES_DEADLINE: TimeDelta = TimeDelta::hours(24);

// ---------------------------------------------------------------------------------------
// 7-day no-reason window
// ---------------------------------------------------------------------------------------

/// The 7-day no-reason return window of one delivery (seed 002 §1(1)).
///
/// `starts` is the first instant of the local day after signing; `ends` is `starts` plus
/// exactly 168 elapsed hours and is **exclusive**: at `ends` the 168 hours are complete
/// (满168小时) and the window is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NoReasonWindow {
    /// The first instant that counts (00:00 of the day after signing, local time).
    pub starts: DateTime<Utc>,
    /// The first instant outside the window (exclusive).
    pub ends: DateTime<Utc>,
}

impl NoReasonWindow {
    /// Whether a return request made at `at` is within the window: `at < ends`.
    ///
    /// Instants before `starts` (the rest of the signing day) count as inside: the seed only
    /// delays the start of the count, and a customer on the signing day is obviously within
    /// 7 days of signing. The window does not know when signing happened, so it does not
    /// reject instants before it; a request cannot precede delivery, and callers that hold
    /// such data should treat it as a data error, not as a policy question.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        at < self.ends
    }
}

/// Computes the no-reason window for goods signed for at `signed_at`, counting days in the
/// station's time zone `tz` (normally [`DEFAULT_TZ`]).
///
/// The count starts at 00:00 local of the day after the local signing date ("签收当日第二天
/// 零时起计算时间"). If that midnight occurs twice (clocks set back across midnight) the
/// earlier one is used; if it does not exist (clocks set forward across midnight) the first
/// instant of that day is used. The window then lasts 168 *elapsed* hours, so in a zone with
/// daylight saving time its local end can be 23:00 or 01:00 rather than midnight.
pub fn no_reason_window(signed_at: DateTime<Utc>, tz: Tz) -> NoReasonWindow {
    let starts = start_of_next_local_day(signed_at, tz);
    NoReasonWindow {
        starts,
        ends: saturating_add(starts, NO_REASON_WINDOW),
    }
}

/// The first instant of the local calendar day after the one `at` falls on in `tz`.
fn start_of_next_local_day(at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let Some(next_day) = at.with_timezone(&tz).date_naive().succ_opt() else {
        return DateTime::<Utc>::MAX_UTC;
    };
    let midnight = next_day.and_time(NaiveTime::MIN);
    if let Some(local) = tz.from_local_datetime(&midnight).earliest() {
        return local.with_timezone(&Utc);
    }
    // Local midnight falls in a gap. Find the first whole second whose local date is
    // `next_day` by bisection: at `lo` the local date is still the signing day, 48 hours
    // later it has certainly reached `next_day`, and in between the only transition that
    // matters is the gap itself.
    let lo_base = at - TimeDelta::nanoseconds(i64::from(at.timestamp_subsec_nanos()));
    let on_next_day = |secs: i64| {
        lo_base
            .checked_add_signed(TimeDelta::seconds(secs))
            .is_none_or(|t| t.with_timezone(&tz).date_naive() >= next_day)
    };
    let (mut lo, mut hi) = (0_i64, 48 * 3600_i64);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if on_next_day(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    saturating_add(lo_base, TimeDelta::seconds(hi))
}

fn saturating_add(t: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

// ---------------------------------------------------------------------------------------
// Claimed reasons
// ---------------------------------------------------------------------------------------

/// The reason the customer gave for the return, as published in the manifest or written on
/// the after-sales card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimedReason {
    /// 质量问题: a quality problem (seller's fault if confirmed).
    Quality,
    /// 描述不符: not as described, wrong or missing item (seller's fault if confirmed).
    NotAsDescribed,
    /// 七天无理由: 7-day no-reason return (buyer's reason).
    NoReason,
    /// 不喜欢: the customer does not like it (buyer's reason).
    Dislike,
    /// 不合适: does not fit (buyer's reason).
    DoesNotFit,
    /// 取消订单 / 不想要了: the customer cancelled, possibly after shipping (buyer's reason).
    CustomerCancelled,
    /// No reason given, or one we cannot read.
    Unknown,
}

impl ClaimedReason {
    pub const ALL: [ClaimedReason; 7] = [
        ClaimedReason::Quality,
        ClaimedReason::NotAsDescribed,
        ClaimedReason::NoReason,
        ClaimedReason::Dislike,
        ClaimedReason::DoesNotFit,
        ClaimedReason::CustomerCancelled,
        ClaimedReason::Unknown,
    ];

    /// The code name (`quality`, `not_as_described`, `no_reason`, `dislike`,
    /// `does_not_fit`, `customer_cancelled`, `unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimedReason::Quality => "quality",
            ClaimedReason::NotAsDescribed => "not_as_described",
            ClaimedReason::NoReason => "no_reason",
            ClaimedReason::Dislike => "dislike",
            ClaimedReason::DoesNotFit => "does_not_fit",
            ClaimedReason::CustomerCancelled => "customer_cancelled",
            ClaimedReason::Unknown => "unknown",
        }
    }

    /// Reads a code name (case-insensitive; `-` or a space may stand for `_`) or a free-text
    /// Chinese reason. Never fails: anything unrecognised is [`ClaimedReason::Unknown`].
    ///
    /// Chinese text is matched by keyword, in this order (first match wins):
    /// a negated quality claim (非质量问题, 不是质量问题, 没有质量问题, 无质量问题) → no reason
    /// (seed 003: "非质量问题由客户承担退回的单程运费", a buyer's reason);
    /// not as described (不符, 货不对板, 色差, 发错/错发, 漏发/少发/少件);
    /// quality (质量, 瑕疵, 破损, 损坏, 次品, 残次, 故障, 坏了);
    /// no reason (无理由, as in 七天无理由 / 7天无理由);
    /// cancelled (取消, 不想要, 不要了, 拍错, 拍多, 多拍, and 拒收 / 拒签: refused at delivery);
    /// does not fit (不合适, 不合身, 尺码, 尺寸, 大小);
    /// dislike (不喜欢).
    pub fn parse(s: &str) -> ClaimedReason {
        let text = s.trim();
        let code = text.to_ascii_lowercase().replace(['-', ' '], "_");
        if let Some(reason) = Self::ALL.into_iter().find(|r| r.as_str() == code) {
            return reason;
        }
        const TABLE: &[(&[&str], ClaimedReason)] = &[
            (
                &["非质量", "不是质量", "没有质量", "无质量"],
                ClaimedReason::NoReason,
            ),
            (
                &[
                    "不符",
                    "货不对板",
                    "色差",
                    "发错",
                    "错发",
                    "漏发",
                    "少发",
                    "少件",
                ],
                ClaimedReason::NotAsDescribed,
            ),
            (
                &[
                    "质量", "瑕疵", "破损", "损坏", "次品", "残次", "故障", "坏了",
                ],
                ClaimedReason::Quality,
            ),
            (&["无理由"], ClaimedReason::NoReason),
            (
                &[
                    "取消",
                    "不想要",
                    "不要了",
                    "拍错",
                    "拍多",
                    "多拍",
                    "拒收",
                    "拒签",
                ],
                ClaimedReason::CustomerCancelled,
            ),
            (
                &["不合适", "不合身", "尺码", "尺寸", "大小"],
                ClaimedReason::DoesNotFit,
            ),
            (&["不喜欢"], ClaimedReason::Dislike),
        ];
        TABLE
            .iter()
            .find(|(words, _)| words.iter().any(|w| text.contains(w)))
            .map_or(ClaimedReason::Unknown, |(_, reason)| *reason)
    }

    /// A reason that, if confirmed, puts the seller at fault (seed 002 §1(5)b).
    pub fn is_seller_claim(self) -> bool {
        matches!(self, ClaimedReason::Quality | ClaimedReason::NotAsDescribed)
    }

    /// One of the buyer's own reasons (seed 002 §1(5)c: 不喜欢/不合适等).
    pub fn is_buyer_reason(self) -> bool {
        matches!(
            self,
            ClaimedReason::NoReason
                | ClaimedReason::Dislike
                | ClaimedReason::DoesNotFit
                | ClaimedReason::CustomerCancelled
        )
    }
}

impl fmt::Display for ClaimedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------
// Freight responsibility
// ---------------------------------------------------------------------------------------

/// What inspection found in the parcel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Finding {
    /// The second inspection has not been done yet.
    NotInspected,
    /// Graded good (良品).
    Good,
    /// Graded defect (不良品); `seller_fault` says whether the tagged defect reason
    /// (不良因素) is the seller's fault (e.g. a manufacturing fault) or not (e.g. damage by
    /// the customer).
    Defect { seller_fault: bool },
}

impl Finding {
    /// The finding for one inspected item.
    pub fn from_grade(grade: Grade, seller_fault: bool) -> Finding {
        match grade {
            Grade::Good => Finding::Good,
            Grade::Defect => Finding::Defect { seller_fault },
        }
    }

    /// The worse of two findings, for folding a multi-item parcel: a seller-fault defect
    /// wins outright; otherwise an item not yet inspected keeps the parcel undecided (it
    /// could still turn out to be a seller-fault defect); otherwise any other defect; then
    /// good. The order is `Good < Defect{seller_fault: false} < NotInspected <
    /// Defect{seller_fault: true}`.
    pub fn worst(self, other: Finding) -> Finding {
        if self.severity() >= other.severity() {
            self
        } else {
            other
        }
    }

    /// The finding for a whole parcel (see [`Finding::worst`]); an empty parcel is
    /// [`Finding::NotInspected`].
    pub fn of_parcel<I: IntoIterator<Item = Finding>>(items: I) -> Finding {
        items
            .into_iter()
            .reduce(Finding::worst)
            .unwrap_or(Finding::NotInspected)
    }

    fn severity(self) -> u8 {
        match self {
            Finding::Good => 0,
            Finding::Defect {
                seller_fault: false,
            } => 1,
            Finding::NotInspected => 2,
            Finding::Defect { seller_fault: true } => 3,
        }
    }
}

/// Who is at fault for the return trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    Seller,
    Buyer,
    /// The facts do not decide it (seed 002 §1(5)d: 约定不清…无法确定是谁的责任).
    Unclear,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Seller => "seller",
            Fault::Buyer => "buyer",
            Fault::Unclear => "unclear",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The facts freight responsibility is decided from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FreightInput {
    /// The kind of parcel: a carrier return or refusal is judged differently from a
    /// customer's.
    pub kind: ReturnKind,
    /// The reason the customer gave, confirmed or not by the finding.
    pub claimed: ClaimedReason,
    /// For a multi-item parcel, the worst finding (see [`Finding::of_parcel`]).
    pub finding: Finding,
    /// The item shipped free to the customer (卖家包邮).
    pub free_shipping: bool,
}

/// Who pays each freight leg, and which rule said so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FreightDecision {
    /// Whose fault it is; who pays follows from it.
    pub fault: Fault,
    /// The leg that brought the goods to the customer (发货运费).
    pub outbound: Party,
    /// The leg that brought them back (退货运费).
    pub return_leg: Party,
    /// Stable id of the rule applied; one of the constants in [`rule`].
    pub rule: &'static str,
}

/// Stable ids of the freight rules, recorded with each decision.
pub mod rule {
    /// Seed 002 §1(5)b: inspection found a seller-fault defect → seller pays both legs,
    /// whatever the customer claimed.
    pub const SELLER_DEFECT: &str = "seed002.5b.seller_defect";
    /// Seed 002 §1(5)c: inspection found a defect that is not the seller's fault (e.g.
    /// damage by the customer) → buyer's responsibility.
    pub const BUYER_DAMAGE: &str = "seed002.5c.buyer_damage";
    /// Seed 000 4.8: a claimed quality problem that inspection graded good → the customer
    /// bears freight.
    pub const QUALITY_NOT_FOUND: &str = "seed000.4.8.quality_not_found";
    /// Seed 002 §1(5)d: not-as-described claimed, graded good: a good grade says the goods
    /// are intact, not that they match the listing → unclear.
    pub const DESCRIPTION_DISPUTED: &str = "seed002.5d.description_disputed";
    /// Seed 002 §1(5)c: a buyer's own reason (no reason, dislike, does not fit, cancelled)
    /// and no seller-fault defect → buyer.
    pub const BUYER_REASON: &str = "seed002.5c.buyer_reason";
    /// Seed 002 §1(5)d: no usable reason and graded good → unclear.
    pub const REASON_UNKNOWN: &str = "seed002.5d.reason_unknown";
    /// Seed 002 §1(5)d: inspection has not decided yet → unclear (provisional).
    pub const NOT_INSPECTED: &str = "seed002.5d.not_inspected";
    /// Seed 002 §1(5)c: a refused parcel, inspected, with no seller-fault defect → the
    /// refusal is the buyer's choice.
    pub const REFUSED_NO_SELLER_FAULT: &str = "seed002.5c.refused";
    /// Seed 003 ②: the shop recalled the parcel from the courier because the customer
    /// cancelled (客户又不想要了) → buyer's reason.
    pub const CARRIER_CUSTOMER_CANCELLED: &str = "seed003.recalled.customer_cancelled";
    /// Seed 002 §1(5)a: the courier could not deliver (or the shop recalled it for its own
    /// reasons); the buyer took no part in the failure → seller.
    pub const CARRIER_UNDELIVERED: &str = "seed002.5a.carrier_undelivered";
}

/// Decides who was at fault for a returned parcel and who pays each freight leg.
///
/// * **Customer returns** (自退件): inspection decides. A seller-fault defect makes it the
///   seller's fault even under a no-reason claim; any other defect is the buyer's. With a
///   good grade, a quality claim was not confirmed (seed 000 4.8 → buyer), a buyer's own
///   reason stays the buyer's, and a not-as-described claim or an unknown reason is unclear.
///   Before inspection the case is unclear.
/// * **Refused parcels** (拒收件): a seller-fault defect → seller; otherwise, once
///   inspected, the refusal is the buyer's reason; before inspection, unclear.
/// * **Carrier returns** (在途退件): the customer never received the goods, so inspection
///   does not bear on who caused the trip. If the claimed reason is a cancellation, the
///   buyer caused it; otherwise the courier failed to deliver and, towards the buyer, the
///   seller bears it (the seller's dispute with the courier is outside this policy).
pub fn decide_freight(input: &FreightInput) -> FreightDecision {
    let (fault, rule) = fault_of(input);
    let (outbound, return_leg) = match fault {
        Fault::Seller => (Party::Seller, Party::Seller),
        Fault::Buyer if input.free_shipping => (Party::Seller, Party::Buyer),
        Fault::Buyer => (Party::Buyer, Party::Buyer),
        Fault::Unclear => (Party::Seller, Party::Buyer),
    };
    FreightDecision {
        fault,
        outbound,
        return_leg,
        rule,
    }
}

fn fault_of(input: &FreightInput) -> (Fault, &'static str) {
    let claimed = input.claimed;
    match input.kind {
        ReturnKind::CarrierReturn => {
            if claimed == ClaimedReason::CustomerCancelled {
                (Fault::Buyer, rule::CARRIER_CUSTOMER_CANCELLED)
            } else {
                (Fault::Seller, rule::CARRIER_UNDELIVERED)
            }
        }
        ReturnKind::Refused => match input.finding {
            Finding::Defect { seller_fault: true } => (Fault::Seller, rule::SELLER_DEFECT),
            Finding::NotInspected => (Fault::Unclear, rule::NOT_INSPECTED),
            Finding::Good
            | Finding::Defect {
                seller_fault: false,
            } => (Fault::Buyer, rule::REFUSED_NO_SELLER_FAULT),
        },
        ReturnKind::CustomerReturn => match input.finding {
            Finding::Defect { seller_fault: true } => (Fault::Seller, rule::SELLER_DEFECT),
            Finding::Defect {
                seller_fault: false,
            } => (Fault::Buyer, rule::BUYER_DAMAGE),
            Finding::NotInspected => (Fault::Unclear, rule::NOT_INSPECTED),
            Finding::Good => match claimed {
                ClaimedReason::Quality => (Fault::Buyer, rule::QUALITY_NOT_FOUND),
                ClaimedReason::NotAsDescribed => (Fault::Unclear, rule::DESCRIPTION_DISPUTED),
                ClaimedReason::NoReason
                | ClaimedReason::Dislike
                | ClaimedReason::DoesNotFit
                | ClaimedReason::CustomerCancelled => (Fault::Buyer, rule::BUYER_REASON),
                ClaimedReason::Unknown => (Fault::Unclear, rule::REASON_UNKNOWN),
            },
        },
    }
}

// ---------------------------------------------------------------------------------------
// 24-hour deadlines and refunds
// ---------------------------------------------------------------------------------------

/// When the exchange must be shipped: 24 hours after the returned goods were received
/// ("在收到换货的商品后24小时内完成换货发出快递").
pub fn exchange_ship_by(received_at: DateTime<Utc>) -> DateTime<Utc> {
    saturating_add(received_at, AFTER_SALES_DEADLINE)
}

/// When the refund must be paid: 24 hours after a valid refund request
/// ("在收到客户的退款申请后…24小时内退款给客户").
pub fn refund_due_by(valid_request_at: DateTime<Utc>) -> DateTime<Utc> {
    saturating_add(valid_request_at, AFTER_SALES_DEADLINE)
}

/// How a pending deadline stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlaState {
    /// More than the warning margin is left.
    Ok,
    /// Still before the deadline, within the warning margin of it.
    DueSoon,
    /// The deadline has passed.
    Overdue,
}

impl SlaState {
    pub fn as_str(self) -> &'static str {
        match self {
            SlaState::Ok => "ok",
            SlaState::DueSoon => "due_soon",
            SlaState::Overdue => "overdue",
        }
    }
}

/// Classifies a pending deadline at `now`.
///
/// `due` is exclusive, like the no-reason window's end: at `due` the 24 hours are complete
/// and the task is [`SlaState::Overdue`]. Before that it is [`SlaState::DueSoon`] when at
/// most `warn_before` is left, else [`SlaState::Ok`]. A negative `warn_before` acts as zero.
pub fn sla_state(due: DateTime<Utc>, now: DateTime<Utc>, warn_before: TimeDelta) -> SlaState {
    let left = due.signed_duration_since(now);
    if left <= TimeDelta::zero() {
        SlaState::Overdue
    } else if left <= warn_before {
        SlaState::DueSoon
    } else {
        SlaState::Ok
    }
}

/// Whether the return leads to a refund to the customer.
///
/// Customer returns and refused parcels do (the customer sent back or never accepted what
/// they paid for; whether customer service settles a customer return as an exchange
/// instead is decided elsewhere). A carrier return does only when the customer cancelled
/// (seed 003: the recalled parcel comes back and "由售后客服处理后期退款问题"); a parcel the
/// courier simply could not deliver is not a refund: the order is re-shipped or customer
/// service contacts the customer.
pub fn refund_applies(kind: ReturnKind, claimed: ClaimedReason) -> bool {
    match kind {
        ReturnKind::CustomerReturn | ReturnKind::Refused => true,
        ReturnKind::CarrierReturn => claimed == ClaimedReason::CustomerCancelled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::{Havana, New_York, Santiago};
    use chrono_tz::Asia::Shanghai;
    use proptest::prelude::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test timestamp")
            .with_timezone(&Utc)
    }

    const WINDOW_RULE: &str = "seed 002 §1(1): 签收当日第二天零时起计算时间,满168小时为7天 \
         (count from 00:00 of the day after signing; 168 full hours make 7 days)";

    #[test]
    fn window_start_and_end() {
        // (seed rule / case, zone, signed_at, expected starts, expected ends)
        let rows: &[(&str, Tz, &str, &str, &str)] = &[
            (
                "签收当日第二天零时起 (from 00:00 the next day): signed 15:00 Shanghai",
                Shanghai,
                "2026-11-20T15:00:00+08:00",
                "2026-11-21T00:00:00+08:00",
                "2026-11-28T00:00:00+08:00",
            ),
            (
                "签收当日第二天零时起: signed at 23:59:59 local, the count starts 1 s later",
                Shanghai,
                "2026-11-20T23:59:59+08:00",
                "2026-11-21T00:00:00+08:00",
                "2026-11-28T00:00:00+08:00",
            ),
            (
                "签收当日第二天零时起: signed at 00:00:00 local, the signing day is not counted",
                Shanghai,
                "2026-11-20T00:00:00+08:00",
                "2026-11-21T00:00:00+08:00",
                "2026-11-28T00:00:00+08:00",
            ),
            (
                "签收当日 is the local date: 17:30Z on the 20th is 01:30 on the 21st in Shanghai",
                Shanghai,
                "2026-11-20T17:30:00Z",
                "2026-11-22T00:00:00+08:00",
                "2026-11-29T00:00:00+08:00",
            ),
            (
                "签收当日 is the local date: 02:00Z on the 21st is still the 20th in New York",
                New_York,
                "2026-11-21T02:00:00Z",
                "2026-11-21T00:00:00-05:00",
                "2026-11-28T00:00:00-05:00",
            ),
            (
                "满168小时 (168 elapsed hours) across a spring-forward: ends 01:00 EDT, not midnight",
                New_York,
                "2026-03-07T12:00:00-05:00",
                "2026-03-08T00:00:00-05:00",
                "2026-03-15T01:00:00-04:00",
            ),
            (
                "第二天零时 on the DST day itself: signed 2026-03-08 10:00 EDT",
                New_York,
                "2026-03-08T10:00:00-04:00",
                "2026-03-09T00:00:00-04:00",
                "2026-03-16T00:00:00-04:00",
            ),
            (
                "满168小时 across a fall-back: ends 23:00 EST the previous evening",
                New_York,
                "2026-10-30T12:00:00-04:00",
                "2026-10-31T00:00:00-04:00",
                "2026-11-06T23:00:00-05:00",
            ),
            (
                "第二天零时 does not exist (Santiago skips 00:00–01:00): first instant of that day",
                Santiago,
                "2026-09-05T12:00:00-04:00",
                "2026-09-06T01:00:00-03:00",
                "2026-09-13T01:00:00-03:00",
            ),
            (
                "第二天零时 occurs twice (Havana repeats 00:00–01:00): the earlier one",
                Havana,
                "2026-10-31T12:00:00-04:00",
                "2026-11-01T00:00:00-04:00",
                "2026-11-07T23:00:00-05:00",
            ),
        ];
        // The two special midnights really are special in the zone data.
        let midnight = |d: &str| {
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .expect("test date")
                .and_time(NaiveTime::MIN)
        };
        assert!(matches!(
            Santiago.from_local_datetime(&midnight("2026-09-06")),
            chrono::LocalResult::None
        ));
        assert!(matches!(
            Havana.from_local_datetime(&midnight("2026-11-01")),
            chrono::LocalResult::Ambiguous(..)
        ));
        for (case, tz, signed, starts, ends) in rows {
            let w = no_reason_window(utc(signed), *tz);
            assert_eq!(w.starts, utc(starts), "{WINDOW_RULE}: {case}: starts");
            assert_eq!(w.ends, utc(ends), "{WINDOW_RULE}: {case}: ends");
        }
    }

    #[test]
    fn window_contains() {
        let w = no_reason_window(utc("2026-11-20T15:00:00+08:00"), DEFAULT_TZ);
        // (seed rule, at, inside?)
        let rows: &[(&str, &str, bool)] = &[
            (
                "签收货物7天内 (within 7 days of signing): the signing day itself is inside",
                "2026-11-20T18:00:00+08:00",
                true,
            ),
            (
                "第二天零时起计算 (the count starts at 00:00 next day): the start is inside",
                "2026-11-21T00:00:00+08:00",
                true,
            ),
            (
                "满168小时为7天: one second before the 168 hours are full is inside",
                "2026-11-27T23:59:59+08:00",
                true,
            ),
            (
                "满168小时为7天: once 168 hours are full the window is closed",
                "2026-11-28T00:00:00+08:00",
                false,
            ),
            (
                "满168小时为7天: after the 7 days, no no-reason return",
                "2026-12-01T10:00:00+08:00",
                false,
            ),
        ];
        for (case, at, inside) in rows {
            assert_eq!(w.contains(utc(at)), *inside, "{case} at {at}");
        }
    }

    #[test]
    fn claimed_reason_parse() {
        // (what the seed calls it, input, expected)
        let rows: &[(&str, &str, ClaimedReason)] = &[
            ("code", "quality", ClaimedReason::Quality),
            ("code", "not_as_described", ClaimedReason::NotAsDescribed),
            ("code", "no_reason", ClaimedReason::NoReason),
            ("code", "dislike", ClaimedReason::Dislike),
            ("code", "does_not_fit", ClaimedReason::DoesNotFit),
            (
                "code",
                "customer_cancelled",
                ClaimedReason::CustomerCancelled,
            ),
            ("code", "unknown", ClaimedReason::Unknown),
            (
                "code, case and dashes",
                " Not-As-Described ",
                ClaimedReason::NotAsDescribed,
            ),
            (
                "seed 002 §1(5)b: 商品存在质量问题",
                "质量问题",
                ClaimedReason::Quality,
            ),
            (
                "seed 002 §1(5)b: 商品存在质量问题",
                "商品有质量问题",
                ClaimedReason::Quality,
            ),
            (
                "quality: damaged goods",
                "收到商品破损",
                ClaimedReason::Quality,
            ),
            (
                "seed 002 §1(5)b: 描述不符合",
                "描述不符",
                ClaimedReason::NotAsDescribed,
            ),
            (
                "not as described",
                "与描述不符合",
                ClaimedReason::NotAsDescribed,
            ),
            (
                "wrong item sent",
                "卖家发错货",
                ClaimedReason::NotAsDescribed,
            ),
            (
                "seed 002 §1(1): 七天无理由",
                "七天无理由",
                ClaimedReason::NoReason,
            ),
            (
                "seed 002 §1(1): 7天无理由退货",
                "7天无理由退货",
                ClaimedReason::NoReason,
            ),
            (
                "seed 003: 非质量问题 (not a quality problem) is a buyer's reason",
                "非质量问题",
                ClaimedReason::NoReason,
            ),
            ("seed 002 §1(5)c: 不喜欢", "不喜欢", ClaimedReason::Dislike),
            (
                "seed 002 §1(5)c: 不合适",
                "不合适",
                ClaimedReason::DoesNotFit,
            ),
            (
                "does not fit: size",
                "尺码不合适",
                ClaimedReason::DoesNotFit,
            ),
            ("cancelled", "取消订单", ClaimedReason::CustomerCancelled),
            (
                "seed 003: 客户又不想要了 (the customer no longer wants it)",
                "不想要了",
                ClaimedReason::CustomerCancelled,
            ),
            ("nothing usable", "", ClaimedReason::Unknown),
            ("nothing usable", "其他", ClaimedReason::Unknown),
            ("nothing usable", "qualityy", ClaimedReason::Unknown),
        ];
        for (case, input, expected) in rows {
            assert_eq!(ClaimedReason::parse(input), *expected, "{case}: {input:?}");
        }
        for r in ClaimedReason::ALL {
            assert_eq!(ClaimedReason::parse(r.as_str()), r, "round trip {r}");
        }
    }

    /// The freight rules as tables of (seed text, facts, decision), one per kind of parcel.
    mod freight {
        use super::*;
        use ClaimedReason as C;
        use Fault::{Buyer as FB, Seller as FS, Unclear as FU};
        use Party::{Buyer as B, Seller as S};
        use ReturnKind::{CarrierReturn as Carrier, CustomerReturn as Cust, Refused as Ref};
        const NI: Finding = Finding::NotInspected;
        const GOOD: Finding = Finding::Good;
        const SD: Finding = Finding::Defect { seller_fault: true };
        const BD: Finding = Finding::Defect {
            seller_fault: false,
        };

        type Row = (
            &'static str,
            (ReturnKind, ClaimedReason, Finding, bool),
            (Fault, Party, Party, &'static str),
        );

        /// Each row's facts decide exactly its fault, legs and rule.
        fn check(rows: &[Row]) {
            for (case, (kind, claimed, finding, free_shipping), expected) in rows {
                let input = FreightInput {
                    kind: *kind,
                    claimed: *claimed,
                    finding: *finding,
                    free_shipping: *free_shipping,
                };
                let d = decide_freight(&input);
                let (fault, outbound, return_leg, rule) = *expected;
                assert_eq!(
                    d,
                    FreightDecision {
                        fault,
                        outbound,
                        return_leg,
                        rule
                    },
                    "{case}: {input:?}"
                );
            }
        }

        /// Customer returns (自退件): the finding confirms or refutes the claimed reason.
        #[test]
        fn customer_returns() {
            check(&[
                (
                    "seed 002 §1(5)b: 卖家责任(如商品存在质量问题)…来回运费都需要由卖家承担 \
                         (seller at fault for a quality problem pays both legs): confirmed by inspection",
                    (Cust, C::Quality, SD, false),
                    (FS, S, S, rule::SELLER_DEFECT),
                ),
                (
                    "seed 002 §1(5)b: 卖家责任…来回运费由卖家承担 — a seller-fault defect wins even \
                         over a no-reason claim (seller pays both legs)",
                    (Cust, C::NoReason, SD, true),
                    (FS, S, S, rule::SELLER_DEFECT),
                ),
                (
                    "seed 002 §1(5)c: 买家责任…买家承担来回运费 (buyer at fault pays both legs): \
                         the defect is the customer's doing",
                    (Cust, C::Quality, BD, false),
                    (FB, B, B, rule::BUYER_DAMAGE),
                ),
                (
                    "seed 002 §1(5)c: 如商品为卖家包邮商品,买家只需要承担退货运费 (free shipping: \
                         buyer pays the return leg only): customer damage",
                    (Cust, C::Unknown, BD, true),
                    (FB, S, B, rule::BUYER_DAMAGE),
                ),
                (
                    "seed 000 4.8: 良品…双程运费客服部通知客户承担 (graded good: the customer bears \
                         both legs): quality claimed, not found",
                    (Cust, C::Quality, GOOD, false),
                    (FB, B, B, rule::QUALITY_NOT_FOUND),
                ),
                (
                    "seed 000 4.8 with seed 002 §1(5)c 包邮: quality not found on a free-shipping \
                         item → buyer pays the return leg only",
                    (Cust, C::Quality, GOOD, true),
                    (FB, S, B, rule::QUALITY_NOT_FOUND),
                ),
                (
                    "seed 002 §1(5)d: 约定不清…发货运费由卖家承担,退货运费由买家承担 (unclear: seller \
                         outbound, buyer return): not-as-described claimed, goods graded good",
                    (Cust, C::NotAsDescribed, GOOD, false),
                    (FU, S, B, rule::DESCRIPTION_DISPUTED),
                ),
                (
                    "seed 002 §1(5)b: 描述不符合…来回运费由卖家承担: not-as-described confirmed by a \
                         seller-fault defect",
                    (Cust, C::NotAsDescribed, SD, false),
                    (FS, S, S, rule::SELLER_DEFECT),
                ),
                (
                    "seed 002 §1(5)c: 买家责任(不喜欢/不合适等),买家承担来回运费 (dislike: buyer pays \
                         both legs)",
                    (Cust, C::Dislike, GOOD, false),
                    (FB, B, B, rule::BUYER_REASON),
                ),
                (
                    "seed 002 §1(5)c: 买家责任(不合适)…如商品为卖家包邮商品,买家只需要承担退货运费 \
                         (does not fit, free shipping: buyer pays the return leg only)",
                    (Cust, C::DoesNotFit, GOOD, true),
                    (FB, S, B, rule::BUYER_REASON),
                ),
                (
                    "seed 002 §1(1): 买家主观原因 (7-day no-reason is the buyer's own reason) → \
                         buyer pays both legs",
                    (Cust, C::NoReason, GOOD, false),
                    (FB, B, B, rule::BUYER_REASON),
                ),
                (
                    "seed 002 §1(5)c: a cancellation is the buyer's reason (buyer pays both legs)",
                    (Cust, C::CustomerCancelled, GOOD, false),
                    (FB, B, B, rule::BUYER_REASON),
                ),
                (
                    "seed 002 §1(5)d: 无法确定是谁的责任 (cannot tell whose fault): no reason given, \
                         graded good → seller outbound, buyer return",
                    (Cust, C::Unknown, GOOD, false),
                    (FU, S, B, rule::REASON_UNKNOWN),
                ),
                (
                    "seed 002 §1(5)d: 无法确定是谁的责任: not inspected yet → provisional unclear",
                    (Cust, C::Quality, NI, false),
                    (FU, S, B, rule::NOT_INSPECTED),
                ),
                (
                    "seed 002 §1(5)d: not inspected, even a buyer reason is provisional (free \
                         shipping changes nothing when unclear)",
                    (Cust, C::Dislike, NI, true),
                    (FU, S, B, rule::NOT_INSPECTED),
                ),
            ]);
        }

        /// Refused parcels (拒收件): only a seller-fault defect puts it on the seller.
        #[test]
        fn refused_parcels() {
            check(&[
                (
                    "seed 002 §1(5)b: 卖家责任…来回运费由卖家承担: refused, seller-fault defect found",
                    (Ref, C::Unknown, SD, false),
                    (FS, S, S, rule::SELLER_DEFECT),
                ),
                (
                    "seed 002 §1(5)c: 买家责任…买家承担来回运费: refused, graded good",
                    (Ref, C::Unknown, GOOD, false),
                    (FB, B, B, rule::REFUSED_NO_SELLER_FAULT),
                ),
                (
                    "seed 002 §1(5)c: 包邮,买家只需要承担退货运费: refused, graded good, free shipping",
                    (Ref, C::Dislike, GOOD, true),
                    (FB, S, B, rule::REFUSED_NO_SELLER_FAULT),
                ),
                (
                    "seed 000 4.8: 良品…运费客户承担: refused claiming quality, graded good",
                    (Ref, C::Quality, GOOD, false),
                    (FB, B, B, rule::REFUSED_NO_SELLER_FAULT),
                ),
                (
                    "seed 002 §1(5)c: refused, defect that is not the seller's fault → buyer",
                    (Ref, C::Quality, BD, false),
                    (FB, B, B, rule::REFUSED_NO_SELLER_FAULT),
                ),
                (
                    "seed 002 §1(5)d: 无法确定是谁的责任: refused, not inspected yet → unclear",
                    (Ref, C::Quality, NI, false),
                    (FU, S, B, rule::NOT_INSPECTED),
                ),
            ]);
        }

        /// Carrier returns (在途退件): undeliverable is the seller's, a recall the buyer's.
        #[test]
        fn carrier_returns() {
            check(&[
                (
                    "seed 002 §1(5)a: 谁过错,谁承担 (whoever is at fault pays): undeliverable, the \
                         buyer took no part → seller pays both legs",
                    (Carrier, C::Unknown, NI, false),
                    (FS, S, S, rule::CARRIER_UNDELIVERED),
                ),
                (
                    "seed 002 §1(5)a: 谁过错,谁承担: undeliverable; a good grade does not make it \
                         the buyer's",
                    (Carrier, C::NoReason, GOOD, false),
                    (FS, S, S, rule::CARRIER_UNDELIVERED),
                ),
                (
                    "seed 002 §1(5)a: 谁过错,谁承担: undeliverable with a non-seller defect (transit \
                         damage) is still not the buyer's",
                    (Carrier, C::Quality, BD, true),
                    (FS, S, S, rule::CARRIER_UNDELIVERED),
                ),
                (
                    "seed 003: 订单已发货,客户又不想要了…撤回包裹 (shipped, customer no longer wants \
                         it, parcel recalled) → buyer's reason, buyer pays both legs",
                    (Carrier, C::CustomerCancelled, NI, false),
                    (FB, B, B, rule::CARRIER_CUSTOMER_CANCELLED),
                ),
                (
                    "seed 003 + seed 002 §1(5)c: recalled on cancellation, 包邮 → buyer pays the \
                         return leg only",
                    (Carrier, C::CustomerCancelled, SD, true),
                    (FB, S, B, rule::CARRIER_CUSTOMER_CANCELLED),
                ),
            ]);
        }
    }

    #[test]
    fn finding_of_parcel() {
        let sd = Finding::Defect { seller_fault: true };
        let bd = Finding::Defect {
            seller_fault: false,
        };
        let ni = Finding::NotInspected;
        let good = Finding::Good;
        // (rule, items, parcel finding)
        let rows: &[(&str, &[Finding], Finding)] = &[
            (
                "seed 002 §1(5)b: 卖家责任 — any seller-fault defect decides the parcel",
                &[good, bd, sd, ni],
                sd,
            ),
            (
                "seed 002 §1(5)c: 买家责任 — otherwise a customer-damage defect",
                &[good, bd, good],
                bd,
            ),
            ("seed 000 4.8: 良品 — all items good", &[good, good], good),
            (
                "seed 002 §1(5)d: 无法确定 — an uninspected item keeps the parcel undecided",
                &[good, bd, ni],
                ni,
            ),
            ("an empty parcel has not been inspected", &[], ni),
        ];
        for (case, items, expected) in rows {
            assert_eq!(
                Finding::of_parcel(items.iter().copied()),
                *expected,
                "{case}"
            );
        }
        assert_eq!(Finding::from_grade(Grade::Good, true), good);
        assert_eq!(Finding::from_grade(Grade::Defect, true), sd);
        assert_eq!(Finding::from_grade(Grade::Defect, false), bd);
    }

    #[test]
    fn deadlines_24h() {
        // (seed rule, function, from, due)
        type Deadline = fn(DateTime<Utc>) -> DateTime<Utc>;
        let rows: &[(&str, Deadline, &str, &str)] = &[
            (
                "seed 000: 在收到换货的商品后24小时内完成换货发出快递 (ship the exchange within 24 h \
                 of receiving the returned goods)",
                exchange_ship_by,
                "2026-11-20T15:00:00+08:00",
                "2026-11-21T15:00:00+08:00",
            ),
            (
                "seed 000: 在收到客户的退款申请后…24小时内退款给客户 (refund within 24 h of the \
                 request)",
                refund_due_by,
                "2026-11-20T23:30:00+08:00",
                "2026-11-21T23:30:00+08:00",
            ),
            (
                "seed 000: 24小时内 is elapsed time, even across a DST change",
                refund_due_by,
                "2026-03-07T12:00:00-05:00",
                "2026-03-08T13:00:00-04:00",
            ),
        ];
        for (case, f, from, due) in rows {
            assert_eq!(f(utc(from)), utc(due), "{case}");
        }
    }

    #[test]
    fn sla_states() {
        let due = utc("2026-11-21T15:00:00+08:00");
        let warn = TimeDelta::hours(4);
        // (seed rule, now, warn_before, state)
        let rows: &[(&str, &str, TimeDelta, SlaState)] = &[
            (
                "24小时内 (within 24 h): plenty left",
                "2026-11-21T09:00:00+08:00",
                warn,
                SlaState::Ok,
            ),
            (
                "24小时内: exactly the warning margin left is due soon",
                "2026-11-21T11:00:00+08:00",
                warn,
                SlaState::DueSoon,
            ),
            (
                "24小时内: one second before the deadline is still due soon",
                "2026-11-21T14:59:59+08:00",
                warn,
                SlaState::DueSoon,
            ),
            (
                "24小时内: at the deadline the 24 hours are complete → overdue",
                "2026-11-21T15:00:00+08:00",
                warn,
                SlaState::Overdue,
            ),
            (
                "24小时内: past the deadline",
                "2026-11-22T09:00:00+08:00",
                warn,
                SlaState::Overdue,
            ),
            (
                "24小时内: a negative margin acts as zero",
                "2026-11-21T14:59:59+08:00",
                TimeDelta::hours(-1),
                SlaState::Ok,
            ),
        ];
        for (case, now, warn_before, expected) in rows {
            assert_eq!(sla_state(due, utc(now), *warn_before), *expected, "{case}");
        }
        assert_eq!(SlaState::DueSoon.as_str(), "due_soon");
    }

    #[test]
    fn refunds() {
        use ClaimedReason as C;
        use ReturnKind::{CarrierReturn as Carrier, CustomerReturn as Cust, Refused as Ref};
        // (seed rule, kind, claimed, refund?)
        let rows: &[(&str, ReturnKind, ClaimedReason, bool)] = &[
            (
                "seed 000: 在收到客户的退款申请后…24小时内退款给客户: a customer return is refunded",
                Cust,
                C::Dislike,
                true,
            ),
            (
                "seed 000: customer return, quality claim",
                Cust,
                C::Quality,
                true,
            ),
            (
                "refused parcel: the customer never accepted the goods",
                Ref,
                C::Unknown,
                true,
            ),
            (
                "seed 003: 客户又不想要了…撤回包裹…由售后客服处理后期退款问题 (recalled on \
                 cancellation → refund)",
                Carrier,
                C::CustomerCancelled,
                true,
            ),
            (
                "undeliverable: re-ship, not a refund",
                Carrier,
                C::Unknown,
                false,
            ),
            (
                "undeliverable: other reasons are not a cancellation",
                Carrier,
                C::NoReason,
                false,
            ),
        ];
        for (case, kind, claimed, expected) in rows {
            assert_eq!(refund_applies(*kind, *claimed), *expected, "{case}");
        }
    }

    fn non_dst_zone() -> impl Strategy<Value = Tz> {
        prop::sample::select(vec![
            chrono_tz::Asia::Shanghai,
            chrono_tz::Asia::Tokyo,
            chrono_tz::Asia::Kolkata,
            chrono_tz::Asia::Kathmandu,
            chrono_tz::UTC,
            chrono_tz::Etc::GMTPlus10,
        ])
    }

    fn freight_input() -> impl Strategy<Value = FreightInput> {
        (
            prop::sample::select(ReturnKind::ALL.to_vec()),
            prop::sample::select(ClaimedReason::ALL.to_vec()),
            prop::sample::select(vec![
                Finding::NotInspected,
                Finding::Good,
                Finding::Defect { seller_fault: true },
                Finding::Defect {
                    seller_fault: false,
                },
            ]),
            any::<bool>(),
        )
            .prop_map(|(kind, claimed, finding, free_shipping)| FreightInput {
                kind,
                claimed,
                finding,
                free_shipping,
            })
    }

    proptest! {
        #[test]
        fn window_is_168h_and_starts_within_a_day(
            secs in 946_684_800_i64..4_102_444_800_i64, // 2000-01-01 .. 2100-01-01
            nanos in 0_u32..1_000_000_000,
            tz in non_dst_zone(),
        ) {
            let signed_at = DateTime::<Utc>::from_timestamp(secs, nanos).expect("in range");
            let w = no_reason_window(signed_at, tz);
            prop_assert_eq!(w.ends - w.starts, TimeDelta::hours(168), "{}", WINDOW_RULE);
            prop_assert!(w.starts > signed_at);
            prop_assert!(w.starts - signed_at <= TimeDelta::hours(25));
            prop_assert!(w.contains(signed_at));
            prop_assert!(!w.contains(w.ends));
        }

        #[test]
        fn window_starts_at_the_first_instant_of_the_next_local_day(
            secs in 946_684_800_i64..4_102_444_800_i64, // 2000-01-01 .. 2100-01-01
            tz in prop::sample::select(vec![
                chrono_tz::America::New_York,
                chrono_tz::America::Santiago,
                chrono_tz::America::Havana,
                chrono_tz::Asia::Beirut,
                chrono_tz::Europe::London,
                chrono_tz::Australia::Lord_Howe,
                chrono_tz::Asia::Shanghai,
            ]),
        ) {
            let signed_at = DateTime::<Utc>::from_timestamp(secs, 0).expect("in range");
            let w = no_reason_window(signed_at, tz);
            let signed_day = signed_at.with_timezone(&tz).date_naive();
            let start_day = w.starts.with_timezone(&tz).date_naive();
            let before = (w.starts - TimeDelta::seconds(1)).with_timezone(&tz).date_naive();
            // 签收当日第二天零时起: the count starts on the day after the signing day, and the
            // second before it is not yet that day.
            prop_assert_eq!(Some(start_day), signed_day.succ_opt());
            prop_assert!(before < start_day);
            prop_assert_eq!(w.ends - w.starts, NO_REASON_WINDOW);
            prop_assert!(w.starts > signed_at);
            prop_assert!(w.starts - signed_at <= TimeDelta::hours(25));
        }

        #[test]
        fn buyer_pays_outbound_only_when_at_fault_without_free_shipping(input in freight_input()) {
            let d = decide_freight(&input);
            // seed 002 §1(5)b–d: only 买家责任 without 包邮 makes the buyer pay 发货运费.
            prop_assert_eq!(
                d.outbound == Party::Buyer,
                d.fault == Fault::Buyer && !input.free_shipping
            );
            // The seller never pays the return leg unless at fault.
            prop_assert_eq!(d.return_leg == Party::Seller, d.fault == Fault::Seller);
        }
    }
}
