//! The small vocabulary every table module speaks: preparing statements, reading typed rows
//! (paged), reading the outcome of a lightweight transaction, buckets, dates, and turning
//! driver errors into [`StoreError`]s — `Unavailable` when trying again later can help.

use crate::error::{StoreError, StoreResult};
use futures_util::{StreamExt as _, TryStreamExt};
use scylla::client::session::Session;
use scylla::deserialize::row::DeserializeRow;
use scylla::errors::{DbError, ExecutionError, PagerExecutionError, RequestAttemptError};
use scylla::response::query_result::QueryResult;
use scylla::serialize::row::SerializeRow;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::{CqlDate, CqlValue, MaybeUnset, Row};

use super::schema::BUCKETS;

/// Prepares `cql`, marked idempotent only when running it twice has the effect of once
/// (plain reads and upserts of fixed values: the driver may then retry or speculate).
pub(super) async fn prepare(
    session: &Session,
    cql: String,
    idempotent: bool,
) -> Result<PreparedStatement, String> {
    let mut statement = session
        .prepare(cql.as_str())
        .await
        .map_err(|error| format!("preparing `{}`: {error}", first_words(&cql)))?;
    statement.set_is_idempotent(idempotent);
    Ok(statement)
}

/// The statement as it is, or read at LOCAL_SERIAL: such a read first completes any
/// lightweight transaction left half-way on the partition, so what it returns is final.
pub(super) fn serial_if(
    statement: &PreparedStatement,
    serial: bool,
) -> std::borrow::Cow<'_, PreparedStatement> {
    if !serial {
        return std::borrow::Cow::Borrowed(statement);
    }
    let mut serial_read = statement.clone();
    serial_read.set_consistency(scylla::statement::Consistency::LocalSerial);
    std::borrow::Cow::Owned(serial_read)
}

/// Runs a statement whose result is not read.
pub(super) async fn execute(
    session: &Session,
    statement: &PreparedStatement,
    values: impl SerializeRow,
) -> StoreResult<()> {
    session
        .execute_unpaged(statement, values)
        .await
        .map(|_| ())
        .map_err(|error| execution_error(statement, error))
}

/// Runs a conditional statement (a lightweight transaction); true when it applied.
pub(super) async fn conditional(
    session: &Session,
    statement: &PreparedStatement,
    values: impl SerializeRow,
) -> StoreResult<bool> {
    let result = session
        .execute_unpaged(statement, values)
        .await
        .map_err(|error| execution_error(statement, error))?;
    applied(result, statement.get_statement())
}

/// Whether a lightweight transaction's (or conditional batch's) result says `[applied]`.
pub(super) fn applied(result: QueryResult, what: &str) -> StoreResult<bool> {
    let rows = result
        .into_rows_result()
        .map_err(|error| corrupt(what, error))?;
    let row: Row = rows.first_row().map_err(|error| corrupt(what, error))?;
    Ok(matches!(
        row.columns.first(),
        Some(Some(CqlValue::Boolean(true)))
    ))
}

/// The first row, if any (a point read).
pub(super) async fn maybe_row<R>(
    session: &Session,
    statement: &PreparedStatement,
    values: impl SerializeRow,
) -> StoreResult<Option<R>>
where
    R: for<'frame> DeserializeRow<'frame, 'frame>,
{
    let result = session
        .execute_unpaged(statement, values)
        .await
        .map_err(|error| execution_error(statement, error))?;
    let what = statement.get_statement();
    let rows = result
        .into_rows_result()
        .map_err(|error| corrupt(what, error))?;
    rows.maybe_first_row::<R>()
        .map_err(|error| corrupt(what, error))
}

/// Every row, page by page.
pub(super) async fn all_rows<R>(
    session: &Session,
    statement: &PreparedStatement,
    values: impl SerializeRow,
) -> StoreResult<Vec<R>>
where
    R: for<'frame, 'metadata> DeserializeRow<'frame, 'metadata>,
{
    let what = statement.get_statement();
    let pager = session
        .execute_iter(statement.clone(), values)
        .await
        .map_err(|error| pager_error(what, error))?;
    pager
        .rows_stream::<R>()
        .map_err(|error| corrupt(what, error))?
        .try_collect()
        .await
        .map_err(|error| StoreError::Unavailable(format!("{}: {error}", first_words(what))))
}

/// Every row of every bucket of a bucketed partition, read a few buckets at a time.
/// `values(bucket)` gives the statement's values for one bucket.
pub(super) async fn all_buckets<R, V>(
    session: &Session,
    statement: &PreparedStatement,
    values: impl Fn(i16) -> V,
) -> StoreResult<Vec<R>>
where
    R: for<'frame, 'metadata> DeserializeRow<'frame, 'metadata> + Send,
    V: SerializeRow,
{
    let pages = each_bucket(session, statement, values).await?;
    Ok(pages.into_iter().flatten().collect())
}

/// The rows of each bucket, bucket by bucket, read a few buckets at a time.
pub(super) async fn each_bucket<R, V>(
    session: &Session,
    statement: &PreparedStatement,
    values: impl Fn(i16) -> V,
) -> StoreResult<Vec<Vec<R>>>
where
    R: for<'frame, 'metadata> DeserializeRow<'frame, 'metadata> + Send,
    V: SerializeRow,
{
    buckets_in(session, statement, 0..BUCKETS, values).await
}

/// Buckets read at once: enough to hide the round trips, few enough to leave the cluster
/// room for requests.
pub(super) const BUCKETS_IN_FLIGHT: i16 = 16;

/// The rows of each bucket of `buckets`, bucket by bucket, read a few buckets at a time.
pub(super) async fn buckets_in<R, V>(
    session: &Session,
    statement: &PreparedStatement,
    buckets: std::ops::Range<i16>,
    values: impl Fn(i16) -> V,
) -> StoreResult<Vec<Vec<R>>>
where
    R: for<'frame, 'metadata> DeserializeRow<'frame, 'metadata> + Send,
    V: SerializeRow,
{
    futures_util::stream::iter(buckets)
        .map(|bucket| all_rows::<R>(session, statement, values(bucket)))
        .buffered(BUCKETS_IN_FLIGHT as usize)
        .try_collect()
        .await
}

/// A value to insert that a row may lack: absent, the column is left unset rather than
/// written as null. CQL stores a null as a tombstone, which every later read of the partition
/// steps over; in a new row an unset column reads back as null all the same.
pub(super) fn unset_if_none<V>(value: Option<V>) -> MaybeUnset<V> {
    MaybeUnset::from_option(value)
}

/// The bucket of an id: FNV-1a of its bytes, modulo [`BUCKETS`]. Stable forever: it decides
/// where rows already written live.
pub(super) fn bucket(id: &str) -> i16 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % BUCKETS as u64) as i16
}

/// `YYYY-MM-DD` as a CQL `date` (days since 1970-01-01, offset by 2^31).
pub(super) fn to_cql_date(field: &str, text: &str) -> StoreResult<CqlDate> {
    let day = engine::calendar::parse_date(text.as_bytes())
        .ok_or_else(|| StoreError::Corrupt(format!("{field} {text:?} is not YYYY-MM-DD")))?;
    Ok(CqlDate((i64::from(day) + (1i64 << 31)) as u32))
}

pub(super) fn from_cql_date(date: CqlDate) -> String {
    engine::calendar::format_date((i64::from(date.0) - (1i64 << 31)) as i32)
}

/// Sequences are `u64` in the model and `bigint` in CQL; they stay far below 2^63.
pub(super) fn to_bigint(value: u64) -> i64 {
    value as i64
}

pub(super) fn corrupt(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{}: {error}", first_words(what)))
}

/// A driver error: `Unavailable` when the cluster could not answer (down, overloaded,
/// timed out: trying again later may work), `Backend` when the request itself is wrong.
pub(super) fn execution_error(statement: &PreparedStatement, error: ExecutionError) -> StoreError {
    let message = format!("{}: {error}", first_words(statement.get_statement()));
    let request_is_wrong = match &error {
        ExecutionError::BadQuery(_) | ExecutionError::PrepareError(_) => true,
        ExecutionError::LastAttemptError(RequestAttemptError::DbError(db_error, _)) => {
            request_is_wrong(db_error)
        }
        ExecutionError::LastAttemptError(RequestAttemptError::SerializationError(_)) => true,
        _ => false,
    };
    if request_is_wrong {
        StoreError::Backend(message)
    } else {
        StoreError::Unavailable(message)
    }
}

fn pager_error(what: &str, error: PagerExecutionError) -> StoreError {
    let message = format!("{}: {error}", first_words(what));
    match error {
        PagerExecutionError::SerializationError(_) | PagerExecutionError::PrepareError(_) => {
            StoreError::Backend(message)
        }
        _ => StoreError::Unavailable(message),
    }
}

fn request_is_wrong(error: &DbError) -> bool {
    matches!(
        error,
        DbError::SyntaxError
            | DbError::Invalid
            | DbError::AlreadyExists { .. }
            | DbError::Unauthorized
            | DbError::ConfigError
            | DbError::FunctionFailure { .. }
            | DbError::ProtocolError
    )
}

/// The start of a statement, for messages.
pub(super) fn first_words(cql: &str) -> String {
    let words: Vec<&str> = cql.split_whitespace().take(5).collect();
    words.join(" ")
}
