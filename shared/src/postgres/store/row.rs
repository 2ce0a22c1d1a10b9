//! An approval as a row of `approvals`: the columns beside its document, which must say what
//! the document says (a row that contradicts its document is named in `row_mismatch`, as on the
//! embedded store), and the statements that write them.

use deadpool_postgres::GenericClient;
use holdpoint_core::audit::AuditRecord;
use holdpoint_core::domain::approval::Approval;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::postgres::{decode, encode, failed, ms};
use crate::store::StoreError;

pub fn id(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// A count or sequence as a `bigint`.
pub fn seq(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The columns that make an approval, in this order, wherever one is read.
pub const APPROVAL: &str = "body, published_seq, id, tenant, created_at, status, expires_at, \
     agent_id, checkpoint_type, version, head_seq, due_at";

/// [`APPROVAL`], for a query that names the approvals table `a`.
pub const APPROVAL_AS_A: &str = "a.body, a.published_seq, a.id, a.tenant, a.created_at, \
     a.status, a.expires_at, a.agent_id, a.checkpoint_type, a.version, a.head_seq, a.due_at";

fn column<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    i: usize,
) -> Result<T, StoreError> {
    row.try_get(i)
        .map_err(|e| StoreError::Internal(format!("stored approval: {e}")))
}

/// An approval from its [`APPROVAL`] columns: marking events published updates the column
/// alone, so the column has the last word on `published_seq`. Every other column that
/// contradicts the document is named in `row_mismatch`.
pub fn approval(row: &Row) -> Result<Approval, StoreError> {
    let body: &str = column(row, 0)?;
    let published: i64 = column(row, 1)?;
    let mut a: Approval = decode("approval", body)?;
    a.published_seq = a.published_seq.max(published.max(0) as u64);
    let expected = Columns::of(&a);
    let stored = Columns {
        id: column(row, 2)?,
        tenant: column(row, 3)?,
        created_at: column(row, 4)?,
        status: column(row, 5)?,
        expires_at: column(row, 6)?,
        agent_id: column(row, 7)?,
        checkpoint_type: column(row, 8)?,
        version: column(row, 9)?,
        head_seq: column(row, 10)?,
        due_at: column(row, 11)?,
    };
    a.row_mismatch = stored.contradicting(&expected);
    if a.published_seq > a.audit_head.sequence {
        // No honest mark is ahead of the chain: one raised past it would hide events.
        a.row_mismatch.push("published_seq".into());
    }
    Ok(a)
}

/// The columns beside an approval's document, each following from the document alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Columns {
    pub id: String,
    pub tenant: String,
    pub created_at: i64,
    pub status: String,
    pub expires_at: i64,
    pub agent_id: String,
    pub checkpoint_type: Option<String>,
    pub version: i64,
    pub head_seq: i64,
    pub due_at: Option<i64>,
}

impl Columns {
    pub fn of(a: &Approval) -> Columns {
        Columns {
            id: id(a.id),
            tenant: a.tenant.clone(),
            created_at: ms(a.created_at),
            status: a.status.as_str().to_owned(),
            expires_at: ms(a.expires_at),
            agent_id: a.agent_id.clone(),
            checkpoint_type: a.checkpoint_type.clone(),
            version: seq(a.version),
            head_seq: seq(a.audit_head.sequence),
            due_at: a.next_deadline().map(ms),
        }
    }

    /// The names of the columns that differ from `expected`.
    fn contradicting(&self, expected: &Columns) -> Vec<String> {
        let e = expected;
        [
            ("id (the row's key)", self.id == e.id),
            ("tenant (the row's key)", self.tenant == e.tenant),
            ("created_at", self.created_at == e.created_at),
            ("status", self.status == e.status),
            ("expires_at", self.expires_at == e.expires_at),
            ("agent_id", self.agent_id == e.agent_id),
            ("checkpoint_type", self.checkpoint_type == e.checkpoint_type),
            ("version", self.version == e.version),
            ("head_seq", self.head_seq == e.head_seq),
            ("due_at", self.due_at == e.due_at),
        ]
        .into_iter()
        .filter(|(_, same)| !same)
        .map(|(name, _)| name.to_owned())
        .collect()
    }
}

/// An approval as one row, encoded.
#[derive(Debug, Clone)]
pub struct ApprovalRow {
    pub columns: Columns,
    pub published_seq: i64,
    pub reviewers: Vec<String>,
    pub body: String,
}

/// Who writes a row and until when its claim holds (`Pg::instance`, wall clock + lease).
#[derive(Debug, Clone)]
pub struct Claim {
    pub by: String,
    pub until: i64,
}

impl ApprovalRow {
    pub fn new(a: &Approval) -> Result<ApprovalRow, StoreError> {
        Ok(ApprovalRow {
            columns: Columns::of(a),
            published_seq: seq(a.published_seq),
            reviewers: a.reviewers.clone(),
            body: encode(a)?,
        })
    }

    /// Inserts the row unless its id is taken (answers whether it did); marked moved and claimed
    /// by its writer, which publishes its events next.
    pub async fn insert(&self, tx: &impl GenericClient, claim: &Claim) -> Result<bool, StoreError> {
        let c = &self.columns;
        let s = tx
            .prepare_cached(
                "INSERT INTO approvals (id, tenant, created_at, status, expires_at, agent_id, \
                 checkpoint_type, version, head_seq, published_seq, due_at, body, moved, \
                 claimed_by, claimed_until) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, true, $13, $14) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .await
            .map_err(failed)?;
        let n = tx
            .execute(
                &s,
                &[
                    &c.id,
                    &c.tenant,
                    &c.created_at,
                    &c.status,
                    &c.expires_at,
                    &c.agent_id,
                    &c.checkpoint_type,
                    &c.version,
                    &c.head_seq,
                    &self.published_seq,
                    &c.due_at,
                    &self.body,
                    &claim.by,
                    &claim.until,
                ],
            )
            .await
            .map_err(failed)?;
        Ok(n == 1)
    }

    /// Replaces the approval stored at `expected_version` whose chain ends at `head_seq`
    /// (compare-and-set); answers whether it did. Marked moved and claimed by its writer.
    pub async fn replace(
        &self,
        tx: &impl GenericClient,
        expected_version: i64,
        head_seq: i64,
        claim: &Claim,
    ) -> Result<bool, StoreError> {
        let c = &self.columns;
        let s = tx
            .prepare_cached(
                "UPDATE approvals SET status = $3, expires_at = $4, agent_id = $5, \
                 checkpoint_type = $6, version = $7, head_seq = $8, published_seq = $9, \
                 due_at = $10, body = $11, moved = true, claimed_by = $12, claimed_until = $13 \
                 WHERE id = $1 AND tenant = $2 AND version = $14 AND head_seq = $15",
            )
            .await
            .map_err(failed)?;
        let n = tx
            .execute(
                &s,
                &[
                    &c.id,
                    &c.tenant,
                    &c.status,
                    &c.expires_at,
                    &c.agent_id,
                    &c.checkpoint_type,
                    &c.version,
                    &c.head_seq,
                    &self.published_seq,
                    &c.due_at,
                    &self.body,
                    &claim.by,
                    &claim.until,
                    &expected_version,
                    &head_seq,
                ],
            )
            .await
            .map_err(failed)?;
        Ok(n == 1)
    }

    /// Adds its reviewers (escalation only adds: the ones listed stay).
    pub async fn add_reviewers(&self, tx: &impl GenericClient) -> Result<(), StoreError> {
        let c = &self.columns;
        let s = tx
            .prepare_cached(
                "INSERT INTO reviewers (tenant, reviewer, created_at, approval_id) \
                 SELECT $1, r, $2, $3 FROM unnest($4::text[]) AS r ON CONFLICT DO NOTHING",
            )
            .await
            .map_err(failed)?;
        tx.execute(&s, &[&c.tenant, &c.created_at, &c.id, &self.reviewers])
            .await
            .map_err(failed)?;
        Ok(())
    }
}

/// Appends `record` to its chain.
pub async fn insert_record(
    tx: &impl GenericClient,
    record: &AuditRecord,
) -> Result<(), StoreError> {
    let s = tx
        .prepare_cached("INSERT INTO audit (approval_id, sequence, body) VALUES ($1, $2, $3)")
        .await
        .map_err(failed)?;
    tx.execute(
        &s,
        &[
            &id(record.approval_id),
            &seq(record.sequence),
            &encode(record)?,
        ],
    )
    .await
    .map_err(failed)?;
    Ok(())
}

/// One approval of `tenant`, as stored.
pub async fn approval_of(
    conn: &impl GenericClient,
    tenant: &str,
    approval_id: &str,
) -> Result<Option<Approval>, StoreError> {
    let s = conn
        .prepare_cached(&format!(
            "SELECT {APPROVAL} FROM approvals WHERE id = $1 AND tenant = $2"
        ))
        .await
        .map_err(failed)?;
    let row = conn
        .query_opt(&s, &[&approval_id, &tenant])
        .await
        .map_err(failed)?;
    row.as_ref().map(approval).transpose()
}
