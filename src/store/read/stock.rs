//! Stock per zone and SKU, as the ledger has it.

use super::super::reader::Sql;
use super::super::{Read, StoreError};

/// One zone's stock of one SKU: `(zone, sku, qty)`.
pub type ZoneStock = (String, String, i64);

/// Stock per zone and SKU from the ledger (sum of moves in minus moves out), without the
/// `in` source, by zone then SKU.
pub fn zone_stock(db: &dyn Read) -> Result<Vec<ZoneStock>, StoreError> {
    let mut q = db.sql().prepare(
        "SELECT zone, sku, SUM(delta) FROM (
             SELECT to_zone AS zone, sku, qty AS delta FROM ledger
             UNION ALL SELECT from_zone AS zone, sku, -qty AS delta FROM ledger)
         WHERE zone != 'in' GROUP BY zone, sku HAVING SUM(delta) != 0 ORDER BY zone, sku",
    )?;
    let rows = q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
