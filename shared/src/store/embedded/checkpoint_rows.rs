//! A checkpoint as rows (`checkpoints`, `checkpoint_heads`) and its append, which the writer
//! runs in its transaction.

use rusqlite::{Connection, OptionalExtension, params};

use super::schema;
use super::sqlite::failed;
use crate::store::StoreError;
use holdpoint_core::audit::checkpoint::CheckpointHead;

/// A checkpoint to append, encoded by the caller.
pub struct CheckpointRow {
    pub tenant: String,
    pub sequence: u64,
    pub prev_hash: String,
    pub hash: String,
    pub body: String,
    pub heads: Vec<CheckpointHead>,
}

pub fn seq(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Every check first, then the writes (the writer's rule: a refused write leaves no trace).
pub fn append(conn: &Connection, c: &CheckpointRow) -> Result<(), StoreError> {
    let taken = conn
        .prepare_cached("SELECT 1 FROM checkpoints WHERE tenant = ?1 AND sequence = ?2")
        .and_then(|mut s| s.exists(params![c.tenant, seq(c.sequence)]))
        .map_err(failed)?;
    if taken {
        return Err(StoreError::CheckpointTaken {
            tenant: c.tenant.clone(),
            sequence: c.sequence,
        });
    }
    let latest: Option<(i64, String)> = conn
        .prepare_cached(
            "SELECT sequence, hash FROM checkpoints WHERE tenant = ?1 \
             ORDER BY sequence DESC LIMIT 1",
        )
        .and_then(|mut s| {
            s.query_row([&c.tenant], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(failed)?;
    let follows = match &latest {
        None => c.sequence == 1,
        Some((n, hash)) => c.sequence == (*n as u64) + 1 && c.prev_hash == *hash,
    };
    if !follows {
        return Err(StoreError::Internal(format!(
            "checkpoint {} of tenant {} does not follow the stored chain (latest {:?})",
            c.sequence,
            c.tenant,
            latest.map(|l| l.0)
        )));
    }
    conn.prepare_cached(
        "INSERT INTO checkpoints (tenant, sequence, hash, body) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| s.execute(params![c.tenant, seq(c.sequence), c.hash, c.body]))
    .map_err(failed)?;
    let mut head = conn
        .prepare_cached(
            "INSERT INTO checkpoint_heads (tenant, approval_id, checkpoint_seq, head_seq, \
             head_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(failed)?;
    // Only a mark whose head is still the one recorded: an approval that moved again since it
    // was read stays moved for the next checkpoint.
    let mut clear = conn
        .prepare_cached(
            "UPDATE approvals SET moved = NULL \
             WHERE id = ?1 AND tenant = ?2 AND head_seq = ?3 AND moved IS NOT NULL",
        )
        .map_err(failed)?;
    for h in &c.heads {
        let id = schema::id(h.approval_id);
        head.execute(params![
            c.tenant,
            id,
            seq(c.sequence),
            seq(h.sequence),
            h.hash
        ])
        .map_err(failed)?;
        clear
            .execute(params![id, c.tenant, seq(h.sequence)])
            .map_err(failed)?;
    }
    Ok(())
}
