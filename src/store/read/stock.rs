//! Stock per zone and SKU, as the ledger has it.

use super::super::reader::Sql;
use super::super::{Read, StoreError};

/// One zone's stock of one SKU: `(zone, sku, qty)`.
pub type ZoneStock = (String, String, i64);

/// Stock per zone and SKU as the ledger has it (the `stock` table, kept with every ledger
/// entry: as many rows as zones × SKUs, whatever the ledger's length), without the `in`
/// source, by zone then SKU.
pub fn zone_stock(db: &dyn Read) -> Result<Vec<ZoneStock>, StoreError> {
    let mut q = db
        .sql()
        .prepare_cached("SELECT zone, sku, qty FROM stock WHERE qty != 0 ORDER BY zone, sku")?;
    let rows = q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
